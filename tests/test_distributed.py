"""Counting on a Dask LocalCluster of 2 worker processes equals the single-process count bit for bit."""
import os
import sys

import numpy as np
import pytest
from gensim.test.utils import datapath

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (a dependency of distributed)

import gensim_qwem.distributed  # noqa: E402
from gensim_qwem import QWEM, cooccurrence  # noqa: E402
from gensim_qwem.corpus import CorpusFiles  # noqa: E402
from gensim_qwem.distributed import count_statistics_on  # noqa: E402

pytestmark = pytest.mark.slow
cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import this test module

SETTINGS = dict(min_count=2, vector_size=8, workers=2, window=4)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """gensim's Lee corpus as one file, and cut into three files in a folder."""
    lines = open(datapath("lee_background.cor"), "rb").read().split(b"\n")
    folder = tmp_path_factory.mktemp("lee")
    for name, part in (("a.txt", lines[:90]), ("b.txt", lines[90:200]), ("c.txt", lines[200:])):
        (folder / name).write_bytes(b"\n".join(part) + b"\n")
    return datapath("lee_background.cor"), str(folder)


def assert_same_statistics(got, expected):
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got.upper, name), getattr(expected.upper, name))
    np.testing.assert_array_equal(got.word_counts, expected.word_counts)
    assert got.sentences == expected.sentences
    assert got.matches(expected.keep_prob, expected.window, expected.shrink_windows)


@pytest.mark.parametrize("source", [0, 1])
def test_vocabulary_and_statistics_on_the_cluster_are_the_local_ones(client, files, source, caplog):
    local = QWEM(**SETTINGS)
    local.build_vocab(corpus_file=files[source])
    model = QWEM(**SETTINGS)
    with caplog.at_level("INFO", logger="gensim_qwem.distributed"):
        model.build_vocab(corpus_file=files[source], client=client)
    assert model.wv.index_to_key == local.wv.index_to_key
    np.testing.assert_array_equal(model.wv.expandos["count"], local.wv.expandos["count"])
    assert (model.corpus_count, model.corpus_total_words) == (local.corpus_count, local.corpus_total_words)
    assert "dashboard" in caplog.text and "shard 1 of" in caplog.text
    # counted on the cluster when first needed, as the local model counts locally
    assert_same_statistics(model.statistics, local.statistics)
    np.testing.assert_allclose(model.analytic_solution().vectors, local.analytic_solution().vectors, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("shards, fan_in", [(1, 8), (3, 8), (7, 8), (7, 2), (5, 3)])
def test_any_cut_into_shards_gives_the_same_counts(client, files, shards, fan_in, monkeypatch):
    # fan_in: the shards' pieces of a row range merged that many at a time, in levels when there are more
    monkeypatch.setattr(gensim_qwem.distributed, "SUM_FAN_IN", fan_in)
    model = QWEM(**SETTINGS)
    model.build_vocab(corpus_file=files[0])
    expected = model.count_statistics(corpus_file=files[0], workers=1)
    keep, window, shrink = model._sampling_scheme()
    got = count_statistics_on(client, CorpusFiles(files[0]), model.wv.index_to_key, keep, window, shrink,
                              shards=shards)
    assert_same_statistics(got, expected)
    assert_same_statistics(model.count_statistics(corpus_file=files[1], client=client), expected)


class DiesOnce(CorpusFiles):
    """A corpus whose first reader kills its worker process (the marker file says it happened)."""

    def shards(self, parts):
        return [self]

    def blocks(self, *args, **kwargs):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        yield from super().blocks(*args, **kwargs)


class Unreadable(CorpusFiles):
    def blocks(self, *args, **kwargs):
        raise OSError("disk on fire")


def test_a_dead_worker_is_retried_and_a_failing_shard_is_a_clear_error(client, files, tmp_path):
    model = QWEM(**SETTINGS)
    model.build_vocab(corpus_file=files[0])
    keep, window, shrink = model._sampling_scheme()
    expected = model.count_statistics(corpus_file=files[0])
    dying = DiesOnce(files[0])
    dying.marker = str(tmp_path / "died")
    got = count_statistics_on(client, dying, model.wv.index_to_key, keep, window, shrink)
    assert os.path.exists(dying.marker)
    assert_same_statistics(got, expected)
    with pytest.raises(RuntimeError, match=r"disk on fire\).* on shard .*Nothing was summed or stored"):
        count_statistics_on(client, Unreadable(files[1]), model.wv.index_to_key, keep, window, shrink)


def test_results_come_straight_from_workers_on_this_machine_unless_the_client_says_otherwise(client):
    assert gensim_qwem.distributed._direct(client)     # the LocalCluster's workers listen on 127.0.0.1
    for setting in (False, True):
        with distributed.Client(client.scheduler.address, direct_to_workers=setting) as other:
            assert gensim_qwem.distributed._direct(other) is setting

    class Elsewhere:    # what _direct reads of a client whose workers are on other machines
        direct_to_workers = None

        def __init__(self, *addresses):
            self.addresses = addresses

        def scheduler_info(self):
            return {"workers": {address: {} for address in self.addresses}}

    assert gensim_qwem.distributed._direct(Elsewhere("tcp://127.0.0.1:1", "tcp://localhost:2", "tcp://[::1]:3"))
    assert not gensim_qwem.distributed._direct(Elsewhere("tcp://127.0.0.1:1", "tcp://10.0.0.7:2"))
    assert not gensim_qwem.distributed._direct(Elsewhere("tcp://node12:2"))
    assert not gensim_qwem.distributed._direct(Elsewhere())


def test_row_ranges_are_stacked_in_row_order_whatever_finishes_first(client):
    import time
    import scipy.sparse
    matrix = scipy.sparse.random(30, 30, density=0.2, format="csr", random_state=2, dtype=np.float32)
    matrix.sort_indices()

    def rows(lo, hi, wait):
        time.sleep(wait)
        return matrix[lo:hi]
    ranges = [client.submit(rows, lo, hi, wait, pure=False) for lo, hi, wait in ((0, 10, 1.0), (10, 25, 0.0),
                                                                                  (25, 30, 0.5))]
    entries = [client.submit(lambda: matrix.nnz + 7, pure=False)]     # a bound, not the count itself
    tallies = client.submit(lambda: "tallies", pure=False)
    upper, got = gensim_qwem.distributed._RowRanges(ranges, tallies, entries, 30).fetch(client)
    assert (upper != matrix).nnz == 0 and upper.nnz == matrix.nnz and got == "tallies"
    assert upper.has_sorted_indices and upper.dtype == np.float32 and len(upper.data) == matrix.nnz


def test_shards_spill_within_the_workers_memory_limit(client, monkeypatch):
    spill_bytes = gensim_qwem.distributed._spill_bytes
    limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
    assert client.submit(spill_bytes, pure=False).result() == max(cooccurrence.SPILL_BYTES, limit // 4)
    assert spill_bytes() == cooccurrence.SPILL_BYTES         # not on a worker: the in-process budget
    monkeypatch.setattr(cooccurrence, "SPILL_BYTES", None)
    assert spill_bytes() is None


def test_bad_arguments_are_clear_errors(client, files):
    model = QWEM(**SETTINGS)
    with pytest.raises(TypeError, match="pass corpus_file, not corpus_iterable"):
        model.build_vocab([["a", "b"]] * 3, client=client)
    with pytest.raises(ValueError, match="max_vocab_size prunes"):
        QWEM(max_vocab_size=100, **SETTINGS).build_vocab(corpus_file=files[0], client=client)
    model.build_vocab(corpus_file=files[0])
    with pytest.raises(TypeError, match="must be a dask.distributed.Client"):
        count_statistics_on("tcp://nowhere", CorpusFiles(files[0]), model.wv.index_to_key, np.ones(len(model.wv)), 4)
    with pytest.raises(TypeError, match="reads files: pass corpus_file"):
        model.count_statistics([["a"]], client=client)
