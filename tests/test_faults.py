"""Failures in the middle of things: saves that break, training that diverges or is interrupted,
corrupted files, corpora that raise, and many threads under load.
"""
import errno
import os
import pickle
import signal
import subprocess
import sys
import threading

import gensim.utils
import numpy as np
import pytest
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from conftest import planted_topic_corpus
from gensim_qwem import QWEM, TrainingDivergedError
from gensim_qwem.persistence import ModelFileError, atomic_save, load_npz

SMALL = dict(vector_size=8, min_count=1, workers=1, seed=5, epochs=2)
TIMEOUT = 60  # seconds; every call that could hang runs in a thread joined with this timeout


@pytest.fixture(scope="module")
def corpus():
    return planted_topic_corpus(n_sentences=300, length=10, seed=2)


def run_with_timeout(function, timeout=TIMEOUT):
    """Run `function` in a thread; return what it returned or raised, failing the test if it hangs."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{function} did not finish within {timeout}s (deadlock?)"
    return outcome


def training_threads():
    return [t for t in threading.enumerate() if "_worker_loop" in t.name or "_job_producer" in t.name]


class EpochWeights(CallbackAny2Vec):
    """Records the weights at the start of every epoch."""

    def __init__(self):
        self.starts = []

    def on_epoch_begin(self, model):
        self.starts.append(model.wv.vectors.copy())


# ---------------------------------------------------------------------------------------------- saving
def failing_after(calls, real, fraction=0.5):
    """A replacement for np.save(file, array) that fails, after writing part of the file, on call `calls`."""
    count = {"n": 0}

    def save(file, arr, *args, **kwargs):
        count["n"] += 1
        if count["n"] < calls:
            return real(file, arr, *args, **kwargs)
        name = file if str(file).endswith(".npy") else f"{file}.npy"
        data = np.ascontiguousarray(arr).tobytes()
        with open(name, "wb") as handle:
            handle.write(data[:int(len(data) * fraction)])
        raise OSError(errno.ENOSPC, "No space left on device", name)

    return save


def half_pickle(obj, fname, protocol=pickle.HIGHEST_PROTOCOL):
    """A replacement for gensim.utils.pickle that fails half-way through the model's main file."""
    data = pickle.dumps(obj, protocol=protocol)
    if not isinstance(obj, Word2Vec):  # e.g. the array-less shell of a sparse matrix: written normally
        with open(fname, "wb") as handle:
            handle.write(data)
        return
    with open(fname, "wb") as handle:
        handle.write(data[:len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device", fname)


@pytest.mark.parametrize("cls", [QWEM, Word2Vec], ids=["qwem", "word2vec"])
@pytest.mark.parametrize("fault", ["side file", "main file"])
def test_failed_save_keeps_the_previous_file(cls, fault, tmp_path, corpus, monkeypatch):
    model = QWEM(corpus, **SMALL) if cls is QWEM else Word2Vec(corpus, sg=1, **SMALL)
    path = str(tmp_path / "model")
    save = model.save if cls is QWEM else (lambda fname, **kw: atomic_save(model, fname, **kw))
    save(path, sep_limit=0)  # every array in a side file: several files to keep consistent
    old = model.wv.vectors.copy()
    files_before = sorted(os.listdir(tmp_path))
    model.train(corpus, total_examples=len(corpus), epochs=1)
    new = model.wv.vectors.copy()
    assert not np.array_equal(old, new)

    with monkeypatch.context() as patch:
        if fault == "side file":
            patch.setattr(np, "save", failing_after(3, np.save))
        else:
            patch.setattr(gensim.utils, "pickle", half_pickle)
        with pytest.raises(OSError, match="No space left on device"):
            save(path, sep_limit=0)

    assert sorted(os.listdir(tmp_path)) == files_before  # no partial files left behind
    loaded = cls.load(path)
    np.testing.assert_array_equal(loaded.wv.vectors, old)
    np.testing.assert_array_equal(cls.load(path, mmap="r").wv.vectors, old)
    # the model in memory is untouched (gensim's save removes arrays while writing them) and saves fine
    np.testing.assert_array_equal(model.wv.vectors, new)
    if cls is QWEM:
        assert model.syn1neg is model.wv.vectors and model.statistics.cooccurrence.nnz > 0
    save(path, sep_limit=0)
    np.testing.assert_array_equal(cls.load(path).wv.vectors, new)


def test_failed_commit_keeps_the_previous_file(tmp_path, corpus, monkeypatch):
    model = QWEM(corpus, **SMALL)
    path = str(tmp_path / "model")
    model.save(path, sep_limit=0)
    old = model.wv.vectors.copy()
    files_before = sorted(os.listdir(tmp_path))
    model.train(corpus, total_examples=len(corpus), epochs=1)
    real_replace = os.replace

    def refuse(src, dst, *args, **kwargs):
        if os.fspath(dst) == path:
            raise PermissionError(errno.EACCES, "Permission denied", dst)
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        model.save(path, sep_limit=0)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == files_before
    np.testing.assert_array_equal(QWEM.load(path).wv.vectors, old)


def generations(folder):
    """Distinct side-file generations of `model` in `folder` (``model.gen-<hex>.<attribute>.npy``)."""
    return {name.split(".")[1] for name in os.listdir(folder) if name.startswith("model.gen-")}


def test_killed_save_keeps_the_previous_file(tmp_path, corpus):
    """A process killed mid-save (no Python cleanup at all) leaves the previous save loadable."""
    model = QWEM(corpus, **SMALL)
    path = str(tmp_path / "model")
    model.save(path, sep_limit=0)
    old = model.wv.vectors.copy()
    model.train(corpus, total_examples=len(corpus), epochs=1)
    model.save(str(tmp_path / "newer"))
    script = (
        "import os, sys, numpy as np\n"
        "from gensim_qwem import QWEM\n"
        "real = np.save\n"
        "calls = []\n"
        "def dying(file, arr, *a, **k):\n"
        "    calls.append(file)\n"
        "    if len(calls) == 3:\n"
        "        open(str(file) + '.npy', 'wb').write(b'\\x93NUMPY partial')\n"
        "        os._exit(9)\n"
        "    return real(file, arr, *a, **k)\n"
        "np.save = dying\n"
        "QWEM.load(sys.argv[1]).save(sys.argv[2], sep_limit=0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "newer"), path], timeout=TIMEOUT)
    assert result.returncode == 9
    assert len(generations(tmp_path)) == 2  # the saved one, and the debris of the killed save
    np.testing.assert_array_equal(QWEM.load(path).wv.vectors, old)
    np.testing.assert_array_equal(QWEM.load(path, mmap="r").wv.vectors, old)
    # the next save clears the debris of the killed one
    model.save(path, sep_limit=0)
    assert len(generations(tmp_path)) == 1
    np.testing.assert_array_equal(QWEM.load(path).wv.vectors, model.wv.vectors)


def test_failed_save_npz_keeps_the_previous_file(tmp_path, corpus, monkeypatch):
    model = QWEM(corpus, **SMALL)
    path = tmp_path / "model.npz"
    model.save_npz(path)
    old = model.wv.vectors.copy()
    model.train(corpus, total_examples=len(corpus), epochs=1)
    real_write = np.lib.format.write_array
    calls = {"n": 0}

    def failing_write_array(fp, array, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the third array: write part of it, then the disk is full
            fp.write(np.ascontiguousarray(array).tobytes()[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fp, array, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(np.lib.format, "write_array", failing_write_array)
        with pytest.raises(OSError, match="No space left on device"):
            model.save_npz(path)
    assert calls["n"] == 3
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(QWEM.load_npz(path).wv.vectors, old)


# ---------------------------------------------------------------------------------------------- divergence
def test_divergence_raises_and_keeps_the_last_finite_weights(tmp_path, corpus):
    model = QWEM(**SMALL)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=2)
    finite = model.wv.vectors.copy()
    recorder = EpochWeights()
    with pytest.raises(TrainingDivergedError, match=r"QWEM training diverged in epoch 1 of 2 .*the weights became "
                                                    r"non-finite\. The model keeps the weights from before that "
                                                    r"epoch\. Try a smaller alpha, e\.g\. alpha="):
        model.train(corpus, total_examples=len(corpus), epochs=2, start_alpha=50.0, callbacks=[recorder])
    assert issubclass(TrainingDivergedError, FloatingPointError)
    np.testing.assert_array_equal(model.wv.vectors, finite)
    np.testing.assert_array_equal(model.wv.vectors, recorder.starts[-1])
    assert model.wv.most_similar(model.wv.index_to_key[0], topn=3)
    model.save(str(tmp_path / "model"))
    np.testing.assert_array_equal(QWEM.load(str(tmp_path / "model")).wv.vectors, finite)
    # train(start_alpha=...) sets model.alpha, as in gensim: name a sane one to train on
    model.train(corpus, total_examples=len(corpus), epochs=1, start_alpha=0.025)
    assert np.all(np.isfinite(model.wv.vectors))


# ---------------------------------------------------------------------------------------------- interrupts
def assert_usable(model, corpus, tmp_path):
    assert not training_threads()
    assert np.all(np.isfinite(model.wv.vectors))
    assert model.wv.most_similar(model.wv.index_to_key[0], topn=3)
    model.save(str(tmp_path / "after_interrupt"))
    loaded = QWEM.load(str(tmp_path / "after_interrupt"))
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    model.save_npz(tmp_path / "after_interrupt.npz")
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert np.all(np.isfinite(model.wv.vectors))


class InterruptAtEpochEnd(CallbackAny2Vec):
    def __init__(self, epoch):
        self.epoch, self.seen = epoch, 0

    def on_epoch_end(self, model):
        self.seen += 1
        if self.seen == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_from_a_callback(tmp_path, corpus):
    model = QWEM(**dict(SMALL, epochs=4, workers=2))
    model.build_vocab(corpus)
    recorder = EpochWeights()
    with pytest.raises(KeyboardInterrupt):
        model.train(corpus, total_examples=len(corpus), epochs=4, callbacks=[recorder, InterruptAtEpochEnd(2)])
    assert len(recorder.starts) == 2
    assert not np.array_equal(model.wv.vectors, recorder.starts[-1])  # epoch 2 completed and was kept
    assert_usable(model, corpus, tmp_path)


class RaisingCorpus:
    """Re-iterable corpus whose `fail_on`-th pass raises `error` after `after` sentences."""

    def __init__(self, sentences, error, after, fail_on=1, action=None):
        self.sentences, self.error, self.after, self.fail_on, self.action = sentences, error, after, fail_on, action
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for number, sentence in enumerate(self.sentences):
            if self.passes == self.fail_on and number == self.after:
                if self.action is not None:
                    self.action()
                else:
                    raise self.error
            yield sentence


def test_keyboard_interrupt_from_the_corpus_iterator(tmp_path, corpus):
    model = QWEM(**dict(SMALL, workers=2, batch_words=200))
    model.build_vocab(corpus)
    recorder = EpochWeights()
    interrupting = RaisingCorpus(corpus, KeyboardInterrupt(), after=150, fail_on=2)
    outcome = run_with_timeout(lambda: model.train(interrupting, total_examples=len(corpus), epochs=3,
                                                   callbacks=[recorder]))
    assert isinstance(outcome.get("error"), KeyboardInterrupt)
    assert len(recorder.starts) == 2
    np.testing.assert_array_equal(model.wv.vectors, recorder.starts[-1])  # back to the start of epoch 2
    assert_usable(model, corpus, tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_real_ctrl_c_stops_the_training_threads(tmp_path):
    """SIGINT lands in the main thread while it waits for progress reports; the worker threads must be
    stopped before train() returns, not go on changing the weights behind the caller's back."""
    corpus = planted_topic_corpus(n_sentences=3000, length=10, seed=3)
    model = QWEM(**dict(SMALL, workers=3, batch_words=500))
    model.build_vocab(corpus)
    recorder = EpochWeights()
    main_thread = threading.main_thread().ident
    # to the main thread itself, where a terminal's Ctrl-C usually lands: os.kill let the kernel pick any
    # thread, and one CI run saw train() return without the KeyboardInterrupt
    ctrl_c = RaisingCorpus(corpus, None, after=1500, action=lambda: signal.pthread_kill(main_thread, signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        model.train(ctrl_c, total_examples=len(corpus), epochs=1, callbacks=[recorder])
    assert not training_threads()
    np.testing.assert_array_equal(model.wv.vectors, recorder.starts[-1])
    assert_usable(model, corpus, tmp_path)


class CorpusBroke(RuntimeError):
    pass


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_corpus_error_mid_epoch_reaches_the_caller(tmp_path, workers):
    corpus = planted_topic_corpus(n_sentences=2000, length=10, seed=workers)
    model = QWEM(**dict(SMALL, workers=workers, batch_words=300))
    model.build_vocab(corpus)
    recorder = EpochWeights()
    broken = RaisingCorpus(corpus, CorpusBroke("disk went away"), after=1200, fail_on=1)
    outcome = run_with_timeout(lambda: model.train(broken, total_examples=len(corpus), epochs=2,
                                                   callbacks=[recorder]))
    assert isinstance(outcome.get("error"), CorpusBroke), outcome
    assert str(outcome["error"]) == "disk went away"
    assert not training_threads()
    np.testing.assert_array_equal(model.wv.vectors, recorder.starts[-1])
    assert_usable(model, corpus, tmp_path)


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_job_error_in_a_worker_reaches_the_caller(tmp_path, workers, monkeypatch):
    """A job that raises in a worker thread (gensim's own worker loop runs it) stops the epoch: the error
    reaches the caller, no thread is left, and the weights are those from before the epoch."""
    corpus = planted_topic_corpus(n_sentences=2000, length=10, seed=workers)
    model = QWEM(**dict(SMALL, workers=workers, batch_words=300))
    model.build_vocab(corpus)
    recorder = EpochWeights()
    real, calls = QWEM._train_job, []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 25:   # in the second epoch (about 20 jobs an epoch)
            raise CorpusBroke("kernel went away")
        return real(self, *args)

    monkeypatch.setattr(QWEM, "_train_job", failing)
    outcome = run_with_timeout(lambda: model.train(corpus, total_examples=len(corpus), epochs=2,
                                                   callbacks=[recorder]))
    assert isinstance(outcome.get("error"), CorpusBroke), outcome
    assert not training_threads()
    np.testing.assert_array_equal(model.wv.vectors, recorder.starts[-1])
    monkeypatch.undo()
    assert_usable(model, corpus, tmp_path)


# ---------------------------------------------------------------------------------------------- corrupted files
def expect_model_file_error(load, match):
    outcome = run_with_timeout(load)
    assert isinstance(outcome.get("error"), ModelFileError), outcome
    assert isinstance(outcome["error"], ValueError)
    assert match in str(outcome["error"]), str(outcome["error"])
    return outcome["error"]


def test_truncated_or_corrupted_gensim_format(tmp_path, corpus):
    model = QWEM(corpus, **SMALL)
    path = tmp_path / "model"
    model.save(str(path), sep_limit=0)
    data = path.read_bytes()
    cases = {"truncated": data[:len(data) // 2], "empty": b""}
    # random bytes fail inside pickle in many ways (bad opcode, absurd lengths -> OverflowError or
    # MemoryError, an object that is no model); a few in a hundred hit the rarer ones
    rng = np.random.default_rng(0)
    cases.update({f"garbage{i}": rng.bytes(2000) for i in range(300)})
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        error = expect_model_file_error(lambda: QWEM.load(str(tmp_path / name)), "is truncated or corrupted")
        assert str(error).startswith(f"Could not load {str(tmp_path / name)!r}: the file or one of its side files")
    side = next(tmp_path / n for n in os.listdir(tmp_path) if n.endswith(".wv.vectors.npy"))
    side.write_bytes(side.read_bytes()[:-40])
    for mmap in (None, "r"):
        expect_model_file_error(lambda: QWEM.load(str(path), mmap=mmap), "is truncated or corrupted")
    side.unlink()
    outcome = run_with_timeout(lambda: QWEM.load(str(path)))
    assert isinstance(outcome.get("error"), FileNotFoundError) and side.name in str(outcome["error"])


def test_load_npz_refuses_files_it_did_not_write(tmp_path, corpus):
    model = QWEM(corpus, **SMALL)
    model.save(str(tmp_path / "pickled"))
    expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "pickled"), "it is a pickle")
    np.savez(tmp_path / "plain.npz", vectors=np.zeros((3, 2)))
    expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "plain.npz"), "it has no 'header' entry")
    np.savez(tmp_path / "other.npz", header=np.frombuffer(b'{"format": "something else"}', dtype=np.uint8))
    expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "other.npz"),
                            "its header has no format marker 'gensim_qwem.npz'")
    np.savez(tmp_path / "future.npz", header=np.frombuffer(b'{"format": "gensim_qwem.npz", "version": 99}',
                                                           dtype=np.uint8))
    expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "future.npz"), "upgrade gensim_qwem to load it")
    np.save(tmp_path / "array.npy", np.zeros(3))
    expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "array.npy"), "not an .npz archive")
    for name, content in {"empty": b"", "garbage": os.urandom(3000)}.items():
        (tmp_path / name).write_bytes(content)
        expect_model_file_error(lambda: QWEM.load_npz(tmp_path / name), "is not a model file written by")
    outcome = run_with_timeout(lambda: load_npz(tmp_path / "missing.npz"))
    assert isinstance(outcome.get("error"), FileNotFoundError)


def test_truncated_or_corrupted_npz(tmp_path, corpus):
    model = QWEM(corpus, **SMALL)
    path = tmp_path / "model.npz"
    model.save_npz(path)
    data = path.read_bytes()
    for keep in (0.1, 0.5, 0.9, 0.99):
        (tmp_path / "cut.npz").write_bytes(data[:int(len(data) * keep)])
        expect_model_file_error(lambda: QWEM.load_npz(tmp_path / "cut.npz"), "is not a model file written by")
    # flip bytes anywhere: either a clear ModelFileError, or (a flip in zip metadata nobody checks) the same model
    rng = np.random.default_rng(0)
    outcomes = []
    for position in rng.choice(len(data), size=40, replace=False):
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        (tmp_path / "flipped.npz").write_bytes(bytes(corrupted))
        outcome = run_with_timeout(lambda: QWEM.load_npz(tmp_path / "flipped.npz"))
        if "error" in outcome:
            assert isinstance(outcome["error"], ModelFileError), (position, outcome["error"])
        else:
            np.testing.assert_array_equal(outcome["value"].wv.vectors, model.wv.vectors)
            assert outcome["value"].wv.index_to_key == model.wv.index_to_key
        outcomes.append("error" in outcome)
    assert sum(outcomes) > 30  # nearly every flip is detected (zip CRC-32 over every member)


# ---------------------------------------------------------------------------------------------- threads under load
def planted_million(n_topics=8, words=25, sentences=50_000, length=20, seed=0):
    """1M tokens: each sentence draws Zipf-distributed words from one of `n_topics` disjoint topics."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(n_topics, size=sentences)
    probs = 1.0 / np.arange(1, words + 1)
    probs /= probs.sum()
    indices = rng.choice(words, size=(sentences, length), p=probs) + topics[:, None] * words
    vocab = np.array([f"t{t}w{i}" for t in range(n_topics) for i in range(words)])
    return [list(sentence) for sentence in vocab[indices].tolist()]


def topic_accuracy(wv, topn=5):
    """Mean over words of the fraction of its `topn` nearest neighbours from its own planted topic."""
    hits = [np.mean([n.split("w")[0] == word.split("w")[0] for n, _ in wv.most_similar(word, topn=topn)])
            for word in wv.index_to_key]
    return float(np.mean(hits))


@pytest.mark.slow
def test_one_to_eight_workers_on_a_million_tokens():
    """Hogwild training with 1..8 threads (on however many cores) finishes, stays finite, and learns the
    planted topics equally well: for every worker count, >= 95% of each word's 5 nearest neighbours are
    from its own topic (8 topics x 25 words, 1M tokens, one epoch)."""
    corpus = planted_million()
    assert sum(len(s) for s in corpus) == 1_000_000
    accuracies = {}
    for workers in range(1, 9):
        model = QWEM(vector_size=16, window=3, negative=2, min_count=1, workers=workers, epochs=1, seed=1)
        model.build_vocab(corpus)
        outcome = run_with_timeout(lambda: model.train(corpus, total_examples=len(corpus), epochs=1), timeout=60)
        assert "error" not in outcome, outcome
        assert outcome["value"][1] == 1_000_000  # raw words trained
        assert np.all(np.isfinite(model.wv.vectors))
        accuracies[workers] = topic_accuracy(model.wv)
    assert min(accuracies.values()) >= 0.95, accuracies
    assert max(accuracies.values()) - min(accuracies.values()) <= 0.05, accuracies
