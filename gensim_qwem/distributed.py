"""Counting on a Dask cluster: the vocabulary scan and the pair statistics of corpus files, shard by shard.

Needs the optional extra ``pip install "gensim_qwem[distributed]"`` (``dask[distributed]``). Used through
``model.build_vocab(corpus_file=..., client=client)`` and ``model.count_statistics(corpus_file=...,
client=client)``.

The files are cut into shards of whole lines (:meth:`CorpusFiles.shards`: byte ranges, a compressed file
whole); each worker reads and counts its shard with the native reader. The vocabulary scans are merged pairwise
in a tree on the workers. The pair counts are summed by ranges of rows, each range on a worker of its own and
turned into float32 there, so that every worker adds and sends a part of the result at once (one tree of whole
sums ended on one worker, which then sent all of it in int64). A shard's partial sums are not added up on their
own: each range merges the rows it needs, once (:func:`_sum_by_rows`). Pair counts are exact integer sums
(``cooccurrence.count_exact``), so the result is the single-process count bit for bit, whatever the shards and
the order in which they finish. Word counts merge in shard order, which keeps the words in order of first
occurrence, as the local scan has them.

Dask retries a task whose worker died (``retries``; a task that kills workers repeatedly ends as
``KilledWorker``); any shard that still fails stops the count with a RuntimeError naming it, and nothing
is summed or stored.
"""
import functools
import ipaddress
import logging
from timeit import default_timer

import numpy as np

from gensim_qwem import cooccurrence
from gensim_qwem._cooccurrence import sum_sorted_parts
from gensim_qwem._parallel import RowSplit
from gensim_qwem.cooccurrence import CHUNK_WORDS, PairStatistics, RowStack, count_exact, rows_of
from gensim_qwem.corpus import CorpusFiles, merge_vocabularies, scan_vocabulary

logger = logging.getLogger(__name__)

# times Dask reruns a shard's task after its worker died or it failed
RETRIES = 2
# shards' pieces of a row range merged by one task (one k-way merge: each entry copied once per level)
SUM_FAN_IN = 8


def _distributed():
    try:
        import distributed
    except ImportError as error:
        raise ImportError("Counting on a Dask cluster needs dask.distributed: pip install \"gensim_qwem[distributed]\" "
                          "(or pip install \"dask[distributed]\").") from error
    return distributed


def _check(client, corpus):
    distributed = _distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}.")
    if not isinstance(corpus, CorpusFiles):
        raise TypeError("Counting on a Dask client reads files: pass corpus_file (a file, folder or list of them), "
                        f"not a {type(corpus).__name__} corpus_iterable.")
    return distributed


def default_shards(client):
    """One shard per worker thread of the cluster (at least 1)."""
    return max(1, sum(client.nthreads().values()))


class _Shared:
    """What every shard's counting task needs beside its shard."""

    def __init__(self, **values):
        self.__dict__.update(values)


def _scan_shard(shard):
    return scan_vocabulary(shard.blocks(), shard.max_sentence_length)


def _merge_scans(first, second):
    return merge_vocabularies(first[0], second[0]), first[1] + second[1], first[2] + second[2]


def _spill_bytes():
    """Where a shard's partial sums go to disk on this worker: a quarter of its memory limit shared by the tasks
    it runs at once, and at least cooccurrence.SPILL_BYTES (the in-process count's budget, which keeps a laptop's
    closed form near gensim's memory); that (None: never) outside a worker or one without a limit. At 17M tokens
    on two 12 GB workers a shard's partials then stay in memory, and the count is 3-7% faster."""
    default = cooccurrence.SPILL_BYTES
    try:
        worker = _distributed().get_worker()
    except ValueError:      # not on a worker
        return default
    limit = worker.memory_manager.memory_limit
    if not limit or default is None:
        return default
    return max(default, int(limit) // (4 * max(1, worker.state.nthreads)))


def _count_shard(shard, shared):
    key_to_index = {word: index for index, word in enumerate(shared.words)}
    return count_exact(shard, key_to_index, shared.keep_prob, shared.window, shared.shrink_windows,
                       workers=shared.threads, chunk_words=shared.chunk_words, spill_bytes=_spill_bytes(),
                       merged=False)


def _tallies(count):
    """a shard's count without its pairs: (word counts, raw words, sentences)"""
    return count[1:]


def _add_tallies(first, second):
    return first[0] + second[0], first[1] + second[1], first[2] + second[2]


def _row_ranges(count, parts):
    """up to `parts` row ranges [(lo, hi), ...] of about equal entries of a shard's partial sums"""
    return RowSplit.balanced(np.concatenate([[0], np.cumsum(count[0].row_entries())]), parts).ranges


def _rows(count, lo, hi, columns):
    """rows lo:hi of a shard's pair counts, merged from its partial sums: (indptr, indices, data) int64"""
    rows = rows_of([count[0]], lo, hi, columns)
    return rows.indptr, rows.indices, rows.data


def _sum_pieces(rows, *pieces):
    """the exact int64 sum of pieces of `rows` rows (as :func:`_rows` gives them), in one k-way merge"""
    return sum_sorted_parts(list(pieces), rows)


def _float32_rows(lo, hi, columns, counts, *pieces):
    """rows lo:hi of the sum of the shards' `counts` (partial sums) and of the other shards' `pieces` (as
    :func:`_rows` gives them), as float32 CSR, converted as it is merged"""
    return rows_of([count[0] for count in counts], lo, hi, columns, extra=pieces, as_float32=True)


def _tree_sum(client, futures, combine, **placement):
    """Pairwise sums of `futures` in order, as a tree of tasks on the workers (`placement`: where, as for
    ``client.submit``): the future of the total."""
    while len(futures) > 1:
        futures = [client.submit(combine, futures[i], futures[i + 1], retries=RETRIES, pure=False, **placement)
                   if i + 1 < len(futures) else futures[i] for i in range(0, len(futures), 2)]
    return futures[0]


def _sum_by_rows(client, futures, columns):
    """The shards' pair counts summed by ranges of rows, each range summed and turned into float32 on a worker of
    its own, so that all workers add and send a part at once (a single tree of whole sums ends on one worker);
    and the shards' tallies summed (`columns`: the vocabulary's size). Returns their futures (:class:`_RowRanges`).
    The ranges hold about equal entries of the first shard. A shard's partial sums are merged once: its rows of
    another worker's range where it was counted (then moved), its rows of its own worker's range together with the
    pieces moved there (and converted to float32 in the same merge); more than SUM_FAN_IN moved pieces are merged
    in levels first. Exact int64 sums: the same bits whichever worker adds which."""
    workers = sorted(client.scheduler_info()["workers"]) or [None]
    held_by = client.who_has(futures)
    ranges = []
    for index, (lo, hi) in enumerate(client.submit(_row_ranges, futures[0], len(workers), retries=RETRIES,
                                                   pure=False).result()):
        # on a worker of its own, or any other if that one is gone
        worker = workers[index % len(workers)]
        where = dict(workers=[worker], allow_other_workers=True) if worker else {}
        local = [future for future in futures if worker in held_by.get(future.key, ())]
        pieces = [client.submit(_rows, future, lo, hi, columns, retries=RETRIES, pure=False)
                  for future in futures if future not in local]
        while len(pieces) > SUM_FAN_IN:
            pieces = [client.submit(_sum_pieces, hi - lo, *pieces[i:i + SUM_FAN_IN], retries=RETRIES, pure=False,
                                    **where) for i in range(0, len(pieces), SUM_FAN_IN)]
        ranges.append(client.submit(_float32_rows, lo, hi, columns, local, *pieces, retries=RETRIES, pure=False,
                                    **where))
    tallies = _tree_sum(client, [client.submit(_tallies, future, retries=RETRIES, pure=False) for future in futures],
                        _add_tallies)
    return _RowRanges(ranges, tallies, [client.submit(_entries, future, pure=False) for future in futures], columns)


def _entries(count):
    """the entries held in a shard's partial sums: at least its share of the total's"""
    return count[0].nnz


class _RowRanges:
    """The futures of the pair counts' float32 row ranges (in row order), of the tallies and of each shard's
    entries; :meth:`fetch` stacks the ranges as they are done."""

    def __init__(self, ranges, tallies, entries, columns):
        self.ranges, self.tallies, self.entries, self.columns = ranges, tallies, entries, columns
        self.futures = [*ranges, tallies, *entries]

    def fetch(self, client):
        """(the upper triangle as float32 CSR, the tallies): each range is copied into place as soon as it and
        those above it are here, so that copying overlaps the merges still running (scipy's vstack of them all
        waited for the last), in a :class:`RowStack` as large as the shards' entries."""
        direct = _direct(client)
        stack = RowStack(self.columns, int(sum(client.gather(self.entries, direct=direct))), np.float32)
        position = {future.key: index for index, future in enumerate(self.ranges)}
        fetched, placed = {}, 0
        for future in _distributed().as_completed(self.ranges):
            fetched[position[future.key]] = client.gather(future, direct=direct)
            while placed in fetched:        # the next range down, then any below it already here
                part = fetched.pop(placed)
                stack.append(part.indptr, part.indices, part.data)
                placed += 1
        return stack.matrix(), client.gather(self.tallies, direct=direct)


def _direct(client):
    """Whether to fetch results straight from the workers rather than through the scheduler (which receives every
    byte and sends it on: 0.3 s more for enwiki17m's 190 MB of statistics on one machine). As the client is set
    (``Client(direct_to_workers=...)``), else only where every worker is on this machine (loopback or in-process
    addresses), which the client surely reaches."""
    if client.direct_to_workers is not None:
        return bool(client.direct_to_workers)
    distributed = _distributed()
    workers = list(client.scheduler_info()["workers"])
    for address in workers:
        if distributed.comm.parse_address(address)[0] == "inproc":
            continue
        host = distributed.comm.get_address_host(address)
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return False
        except ValueError:      # a name, not an address
            if host != "localhost":
                return False
    return bool(workers)


def _run(client, what, function, shards, *args, combine=None, reduce=None):
    """Map `function` over the shards and sum them, logging each finished shard. Either `combine` (a function of
    two results) tree-sums them on the workers: the total; or `reduce(client, futures)`, called once every shard
    is done (and so where each is held known), gives an object with the `futures` that sum them and a
    `fetch(client)` of the result."""
    distributed = _distributed()
    start = default_timer()
    logger.info("%s: %i shards on %s; dashboard: %s", what, len(shards), client, client.dashboard_link)
    futures = [client.submit(function, shard, *args, retries=RETRIES, pure=False) for shard in shards]
    names = {future.key: repr(shard) for future, shard in zip(futures, shards)}
    totals = [] if reduce is not None else [_tree_sum(client, futures, combine)]
    failed = None
    try:
        for done, future in enumerate(distributed.as_completed(futures), 1):
            if future.status != "finished":
                failed = names[future.key]
                future.result()     # raises the shard's error
            logger.info("%s: shard %i of %i done after %.1fs: %s", what, done, len(shards),
                        default_timer() - start, names[future.key])
        if reduce is not None:
            summing = reduce(client, futures)
            totals = summing.futures
        result = summing.fetch(client) if reduce is not None else totals[0].result()
    except Exception as error:
        client.cancel(futures + totals)
        raise RuntimeError(
            f"{what} on the Dask cluster failed ({type(error).__name__}: {str(error) or repr(error.args)})"
            + (f" on shard {failed}" if failed else "")
            + ". Nothing was summed or stored: fix the cause (e.g. the files must be readable at the same path "
            "on every worker) and count again.") from error
    logger.info("%s: %i shards summed in %.1fs", what, len(shards), default_timer() - start)
    return result


def scan_vocabulary_on(client, corpus, shards=None):
    """The vocabulary scan of `corpus` (CorpusFiles) on a Dask cluster -> (dict word -> count in order of
    first occurrence, raw words, sentences), as :func:`gensim_qwem.corpus.scan_vocabulary` gives locally."""
    _check(client, corpus)
    parts = corpus.shards(shards or default_shards(client))
    return _run(client, "VOCABULARY SCAN", _scan_shard, parts, combine=_merge_scans)


def count_statistics_on(client, corpus, words, keep_prob, window, shrink_windows=True, shards=None,
                        threads_per_shard=1, chunk_words=CHUNK_WORDS):
    """:class:`PairStatistics` of `corpus` (CorpusFiles) counted on a Dask cluster, shard by shard.

    Parameters
    ----------
    client : dask.distributed.Client
    corpus : CorpusFiles
        The files; every worker must be able to read them at the same paths.
    words : list of str
        The vocabulary in index order (``model.wv.index_to_key``).
    keep_prob, window, shrink_windows
        The sampling scheme, as for :func:`gensim_qwem.cooccurrence.count_statistics`.
    shards : int, optional
        How many shards to cut the files into (default: one per worker thread).
    threads_per_shard : int
        Counting threads within a shard's task.
    """
    _check(client, corpus)
    keep_prob = np.ascontiguousarray(keep_prob, dtype=np.float64)
    if len(words) != len(keep_prob):
        raise ValueError(f"words ({len(words)}) and keep_prob ({len(keep_prob)}) must have one entry per word.")
    # given with each task, not scattered: a task rerun after its worker died needs no data that died with it
    shared = _Shared(words=list(words), keep_prob=keep_prob, window=int(window), shrink_windows=bool(shrink_windows),
                     threads=int(threads_per_shard), chunk_words=int(chunk_words))
    parts = corpus.shards(shards or default_shards(client))
    upper, (word_counts, _, sentences) = _run(client, "PAIR COUNTING", _count_shard, parts, shared,
                                              reduce=functools.partial(_sum_by_rows, columns=len(words)))
    return PairStatistics.from_upper(upper, word_counts, window, shrink_windows, keep_prob, sentences)
