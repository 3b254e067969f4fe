"""The drop-in promise: everything a gensim Word2Vec(sg=1) user does works the same way on QWEM.

Every test runs on both models; where QWEM deliberately differs (tied weights) the test says so
weights) the test says so and pins the documented behaviour.
"""
import collections
import os
import pickle

import numpy as np
import pytest
from gensim import utils
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.word2vec import LineSentence, PathLineSentences
from gensim.test.utils import datapath

from conftest import planted_topic_corpus
from gensim_qwem import QWEM

SMALL = dict(vector_size=8, min_count=1, workers=1, seed=3, epochs=2)
MODELS = ["word2vec", "qwem"]


def make(kind, *args, **kwargs):
    """The model class under test, with gensim's skip-gram settings for Word2Vec."""
    if kind == "word2vec":
        return Word2Vec(*args, sg=1, **kwargs)
    return QWEM(*args, **kwargs)


def model_class(kind):
    return Word2Vec if kind == "word2vec" else QWEM


@pytest.fixture(params=MODELS)
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def corpus():
    """Small planted-topic corpus: 300 sentences, 48 words."""
    return planted_topic_corpus(n_sentences=300, length=10, seed=1)


@pytest.fixture(scope="module")
def lee():
    return list(LineSentence(datapath("lee_background.cor")))


@pytest.fixture(scope="module", params=MODELS)
def lee_model(request, lee):
    return make(request.param, lee, vector_size=24, min_count=3, workers=1, seed=1, epochs=5)


def assert_same_model(a, b):
    assert a.wv.index_to_key == b.wv.index_to_key
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    np.testing.assert_array_equal(a.wv.expandos["count"], b.wv.expandos["count"])


# ---------------------------------------------------------------------------------------------- building
def test_construct_with_corpus_equals_build_vocab_then_train(kind, corpus):
    direct = make(kind, corpus, **SMALL)
    stepwise = make(kind, **SMALL)
    stepwise.build_vocab(corpus)
    stepwise.train(corpus, total_examples=stepwise.corpus_count, epochs=stepwise.epochs)
    assert len(direct.wv) == 48
    assert np.all(np.isfinite(direct.wv.vectors))
    assert_same_model(direct, stepwise)


def test_build_vocab_update(kind, corpus):
    model = make(kind, corpus, **SMALL)
    before = model.wv.vectors.copy()
    extra = [["brand", "new", "words"]] * 3
    model.build_vocab(extra, update=True)
    assert model.wv.index_to_key[-3:] == ["brand", "new", "words"]   # appended, the old indices kept
    np.testing.assert_array_equal(model.wv.vectors[:len(before)], before)
    model.train(extra, total_examples=3, epochs=1)
    model.build_vocab_from_freq({"fresh": 3}, update=True)
    assert model.wv.index_to_key[-1] == "fresh" and len(model.wv.vectors) == len(model.wv)


def test_build_vocab_from_freq_then_train(kind, corpus):
    from_corpus = make(kind, **SMALL)
    from_corpus.build_vocab(corpus)
    model = make(kind, **SMALL)
    model.build_vocab_from_freq(collections.Counter(word for sentence in corpus for word in sentence),
                                corpus_count=len(corpus))
    assert sorted(model.wv.index_to_key) == sorted(from_corpus.wv.index_to_key)
    np.testing.assert_array_equal(model.wv.expandos["count"][[model.wv.key_to_index[w] for w in
                                                               from_corpus.wv.index_to_key]],
                                  from_corpus.wv.expandos["count"])
    before = model.wv.vectors.copy()
    model.train(corpus, total_examples=len(corpus), epochs=2)
    assert np.all(np.isfinite(model.wv.vectors))
    assert not np.array_equal(model.wv.vectors, before)


def test_corpus_file_and_corpus_iterable(kind, tmp_path, corpus):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(sentence) + "\n" for sentence in corpus), encoding="utf-8")
    from_file = make(kind, corpus_file=str(path), **SMALL)
    from_iterable = make(kind, LineSentence(str(path)), **SMALL)
    assert from_file.wv.index_to_key == from_iterable.wv.index_to_key
    assert from_file.corpus_total_words == from_iterable.corpus_total_words == 3000
    assert np.all(np.isfinite(from_file.wv.vectors))
    if kind == "qwem":  # documented: corpus_file goes through the same job queue, so results are identical
        np.testing.assert_array_equal(from_file.wv.vectors, from_iterable.wv.vectors)
    # train() with corpus_file needs total_words, as in gensim
    from_file.train(corpus_file=str(path), total_words=from_file.corpus_total_words, epochs=1)
    assert np.all(np.isfinite(from_file.wv.vectors))


@pytest.mark.parametrize("reader", ["list", "LineSentence", "PathLineSentences"])
def test_corpus_readers(kind, reader, tmp_path, corpus):
    folder = tmp_path / "parts"
    folder.mkdir()
    for part in range(3):
        (folder / f"{part}.txt").write_text(
            "".join(" ".join(s) + "\n" for s in corpus[part * 100:(part + 1) * 100]), encoding="utf-8")
    (tmp_path / "all.txt").write_text("".join(" ".join(s) + "\n" for s in corpus), encoding="utf-8")
    source = {"list": lambda: corpus, "LineSentence": lambda: LineSentence(str(tmp_path / "all.txt")),
              "PathLineSentences": lambda: PathLineSentences(str(folder))}[reader]()
    model = make(kind, source, **SMALL)
    assert model.corpus_count == 300
    assert model.corpus_total_words == 3000
    assert sorted(model.wv.index_to_key) == sorted({w for s in corpus for w in s})


def test_path_line_sentences_from_gensim_test_data(kind):
    """A folder of a plain and a .bz2 file (13 sentences, 65 words)."""
    model = make(kind, PathLineSentences(datapath("PathLineSentences")), **SMALL)
    assert (model.corpus_count, model.corpus_total_words) == (13, 65)
    assert np.all(np.isfinite(model.wv.vectors))


# ---------------------------------------------------------------------------------------------- training
class Counting(CallbackAny2Vec):
    def __init__(self):
        self.calls = collections.Counter()

    def on_train_begin(self, model):
        self.calls["train_begin"] += 1

    def on_epoch_begin(self, model):
        self.calls["epoch_begin"] += 1

    def on_epoch_end(self, model):
        self.calls["epoch_end"] += 1

    def on_train_end(self, model):
        self.calls["train_end"] += 1


def test_callbacks_fire_the_right_number_of_times(kind, corpus):
    in_constructor = Counting()
    model = make(kind, corpus, callbacks=[in_constructor], **dict(SMALL, epochs=3))
    assert in_constructor.calls == {"train_begin": 1, "epoch_begin": 3, "epoch_end": 3, "train_end": 1}
    in_train = Counting()
    model.train(corpus, total_examples=len(corpus), epochs=2, callbacks=[in_train])
    assert in_train.calls == {"train_begin": 1, "epoch_begin": 2, "epoch_end": 2, "train_end": 1}


def test_compute_loss(kind, corpus):
    model = make(kind, corpus, compute_loss=True, **SMALL)
    first = model.get_latest_training_loss()
    assert np.isfinite(first) and first != 0
    model.train(corpus, total_examples=len(corpus), epochs=4, compute_loss=True)
    second = model.get_latest_training_loss()
    assert np.isfinite(second) and second != first
    silent = make(kind, corpus, compute_loss=False, **SMALL)
    assert silent.get_latest_training_loss() == 0


def test_train_twice_continues(kind, corpus):
    model = make(kind, corpus, **SMALL)
    first = model.wv.vectors.copy()
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert model.train_count == 2
    assert np.all(np.isfinite(model.wv.vectors))
    assert not np.array_equal(model.wv.vectors, first)
    # it continued from the trained weights rather than starting over
    fresh = make(kind, **SMALL)
    fresh.build_vocab(corpus)
    fresh.train(corpus, total_examples=len(corpus), epochs=1)
    assert not np.array_equal(model.wv.vectors, fresh.wv.vectors)


def test_seeded_single_worker_is_reproducible_bit_for_bit(kind, corpus):
    a = make(kind, corpus, **SMALL)
    b = make(kind, corpus, **SMALL)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    c = make(kind, corpus, **dict(SMALL, seed=4))
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


# ---------------------------------------------------------------------------------------------- vocabulary
def test_max_final_vocab(kind, corpus):
    model = make(kind, corpus, max_final_vocab=20, **SMALL)
    assert len(model.wv) <= 20
    counts = collections.Counter(w for s in corpus for w in s)
    assert set(model.wv.index_to_key) <= {w for w, _ in counts.most_common(21)}


def test_trim_rule(kind, corpus):
    counts = collections.Counter(w for s in corpus for w in s)
    rare = min(counts, key=counts.get)
    common = max(counts, key=counts.get)

    def rule(word, count, min_count):
        if word == common:
            return utils.RULE_DISCARD
        if word == rare:
            return utils.RULE_KEEP
        return utils.RULE_DEFAULT

    model = make(kind, corpus, trim_rule=rule, **dict(SMALL, min_count=counts[rare] + 1))
    assert common not in model.wv
    assert rare in model.wv
    assert all(counts[w] > counts[rare] for w in model.wv.index_to_key if w != rare)


@pytest.mark.parametrize("sorted_vocab", [0, 1])
def test_sorted_vocab(kind, corpus, sorted_vocab):
    model = make(kind, corpus, sorted_vocab=sorted_vocab, **SMALL)
    counts = model.wv.expandos["count"]
    if sorted_vocab:
        assert np.all(np.diff(counts) <= 0)
    else:
        first_seen = list(dict.fromkeys(w for s in corpus for w in s))
        assert model.wv.index_to_key == first_seen


# ---------------------------------------------------------------------------------------------- evaluation
def test_keyed_vector_queries(lee_model):
    wv = lee_model.wv
    similar = wv.most_similar("government", topn=5)
    assert len(similar) == 5 and all(word in wv and np.isfinite(score) for word, score in similar)
    assert "government" not in dict(similar)
    cosmul = wv.most_similar_cosmul(positive=["government", "police"], negative=["fire"], topn=3)
    assert len(cosmul) == 3
    assert wv.doesnt_match(["government", "minister", "election", "fire"]) in wv
    similarity = wv.similarity("government", "minister")
    assert -1.0 <= similarity <= 1.0
    assert wv.similarity("government", "government") == pytest.approx(1.0, abs=1e-5)


def test_evaluate_word_analogies_and_pairs(lee_model):
    wv = lee_model.wv
    score, sections = wv.evaluate_word_analogies(datapath("questions-words.txt"))
    assert 0.0 <= score <= 1.0
    assert sections[-1]["section"] == "Total accuracy"
    assert len(sections[-1]["correct"]) + len(sections[-1]["incorrect"]) > 0
    (pearson, _), (spearman, _), oov = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert -1.0 <= pearson <= 1.0 and -1.0 <= spearman <= 1.0
    assert 0.0 <= oov < 100.0


# ---------------------------------------------------------------------------------------------- persistence
def assert_loaded_equal(original, loaded):
    assert type(loaded) is type(original)
    assert_same_model(original, loaded)
    for name in ("vector_size", "window", "negative", "sample", "epochs", "alpha", "min_count", "seed"):
        assert getattr(loaded, name) == getattr(original, name)
    if isinstance(original, QWEM):
        assert loaded.syn1neg is loaded.wv.vectors  # tied weights still tied
        assert loaded.weighting == original.weighting
        assert (loaded.statistics.cooccurrence != original.statistics.cooccurrence).nnz == 0
    else:
        np.testing.assert_array_equal(loaded.syn1neg, original.syn1neg)


def continue_training(model, corpus):
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert np.all(np.isfinite(model.wv.vectors))
    return model


def test_save_load(kind, tmp_path, corpus):
    model = make(kind, corpus, **SMALL)
    model.save(str(tmp_path / "model"))
    loaded = model_class(kind).load(str(tmp_path / "model"))
    assert_loaded_equal(model, loaded)
    if kind == "qwem":  # QWEM also takes pathlib paths (gensim's save/load need str)
        model.save(tmp_path / "by_path")
        assert_loaded_equal(model, QWEM.load(tmp_path / "by_path"))
    # both continue training the same way
    np.testing.assert_array_equal(continue_training(loaded, corpus).wv.vectors,
                                  continue_training(model, corpus).wv.vectors)


def test_save_load_mmap(kind, tmp_path, corpus):
    model = make(kind, corpus, **SMALL)
    model.save(str(tmp_path / "model"), sep_limit=0)  # every array in its own .npy side file
    assert any(name.endswith("wv.vectors.npy") for name in os.listdir(tmp_path))
    loaded = model_class(kind).load(str(tmp_path / "model"), mmap="r")
    assert isinstance(loaded.wv.vectors, np.memmap)
    assert_loaded_equal(model, loaded)
    assert loaded.wv.most_similar(corpus[0][0], topn=3)


def test_save_separately(kind, tmp_path, corpus):
    """gensim users write separately=['syn1neg']; with tied weights QWEM stores syn1neg once, as wv.vectors."""
    model = make(kind, corpus, **SMALL)
    model.save(str(tmp_path / "model"), separately=["syn1neg"])
    side_files = [name for name in os.listdir(tmp_path) if name != "model"]
    assert side_files == (["model.syn1neg.npy"] if kind == "word2vec" else [])
    loaded = model_class(kind).load(str(tmp_path / "model"), mmap="r")
    assert_loaded_equal(model, loaded)


def test_pickle(kind, corpus):
    model = make(kind, corpus, **SMALL)
    loaded = pickle.loads(pickle.dumps(model))
    assert_loaded_equal(model, loaded)
    np.testing.assert_array_equal(continue_training(loaded, corpus).wv.vectors,
                                  continue_training(model, corpus).wv.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format(kind, tmp_path, corpus, binary):
    model = make(kind, corpus, **SMALL)
    path = str(tmp_path / "vectors.w2v")
    model.wv.save_word2vec_format(path, binary=binary)
    kv = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert kv.index_to_key == model.wv.index_to_key
    if binary:
        np.testing.assert_array_equal(kv.vectors, model.wv.vectors)
    else:
        np.testing.assert_allclose(kv.vectors, model.wv.vectors, rtol=1e-5, atol=1e-6)


def test_qwem_tied_weights_survive_every_round_trip(tmp_path, corpus):
    model = QWEM(corpus, **SMALL)
    assert model.syn1neg is model.wv.vectors
    model.save(str(tmp_path / "a"))
    model.save_npz(str(tmp_path / "b.npz"))
    for loaded in (QWEM.load(str(tmp_path / "a")), QWEM.load(str(tmp_path / "a"), mmap="r"),
                   Word2Vec.load(str(tmp_path / "a")), pickle.loads(pickle.dumps(model)),
                   QWEM.load_npz(str(tmp_path / "b.npz"))):
        assert isinstance(loaded, QWEM)
        assert loaded.syn1neg is loaded.wv.vectors
        continue_training(loaded, corpus)
        assert loaded.syn1neg is loaded.wv.vectors


def test_qwem_npz_round_trip_continues_training_identically(tmp_path, corpus):
    model = QWEM(corpus, compute_loss=True, **SMALL)
    model.save_npz(tmp_path / "model.npz")
    loaded = QWEM.load_npz(tmp_path / "model.npz")
    assert_loaded_equal(model, loaded)
    np.testing.assert_array_equal(loaded.wv.expandos["sample_int"], model.wv.expandos["sample_int"])
    np.testing.assert_array_equal(loaded.cum_table, model.cum_table)
    assert loaded.corpus_count == model.corpus_count and loaded.epoch_losses == model.epoch_losses
    np.testing.assert_array_equal(continue_training(loaded, corpus).wv.vectors,
                                  continue_training(model, corpus).wv.vectors)
    np.testing.assert_allclose(loaded.analytic_solution(4).vectors, model.analytic_solution(4).vectors,
                               rtol=1e-4, atol=1e-6)


def test_qwem_npz_keeps_every_hyper_parameter_and_a_missing_statistics(tmp_path, corpus):
    model = QWEM(**dict(SMALL, window=3, negative=2, sample=0, weighting="none", init_scale=0.05, max_weight=7.0,
                        comment="npz", max_final_vocab=40, negative_draws=3))
    model.build_vocab_from_freq(collections.Counter(w for s in corpus for w in s), corpus_count=len(corpus))
    assert model.statistics is None
    model.save_npz(tmp_path / "model.npz", compress=True)
    loaded = QWEM.load_npz(tmp_path / "model.npz")
    assert loaded.statistics is None
    assert_same_model(model, loaded)
    for name in ("window", "negative", "sample", "weighting", "init_scale", "max_weight", "comment",
                 "max_final_vocab", "negative_draws", "ns_exponent", "shrink_windows", "min_alpha", "batch_words"):
        assert getattr(loaded, name) == getattr(model, name), name
    np.testing.assert_array_equal(continue_training(loaded, corpus).wv.vectors,
                                  continue_training(model, corpus).wv.vectors)


@pytest.mark.parametrize("weighting, alpha", [("none", 0.0125), ("uniform", 0.001)])
def test_default_learning_rate_follows_the_weighting_and_an_explicit_one_wins(weighting, alpha, corpus):
    model = QWEM(corpus, **dict(SMALL, weighting=weighting, trainer="sgd"))
    assert model.alpha == alpha and model.min_alpha_yet_reached < alpha   # trained from that rate down
    assert QWEM(**dict(SMALL, weighting=weighting, alpha=0.02)).alpha == 0.02
    assert pickle.loads(pickle.dumps(model)).alpha == alpha   # resolved once: a saved model keeps its rate
