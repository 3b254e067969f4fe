"""Pair statistics are counted when first needed, not in build_vocab: weighting='none' never pays for them.

Whatever the order of calls, the statistics a model ends up with are those of its build_vocab corpus,
and they travel with every copy of the model (save, save_npz, pickle, deepcopy). The spectrum computed
from them is likewise solved once and reused.
"""
import copy
import pickle

import numpy as np
import pytest

from conftest import planted_topic_corpus
from gensim_qwem import QWEM, _lifecycle as lifecycle_module, target as target_module
from gensim_qwem.cooccurrence import PairStatistics, count_statistics

SETTINGS = dict(vector_size=4, min_count=1, workers=1, seed=2, epochs=1)


@pytest.fixture
def corpus():
    return planted_topic_corpus(n_sentences=200, seed=4)


@pytest.fixture
def counting_calls(monkeypatch):
    """How many times the model counts pair statistics."""
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return count_statistics(*args, **kwargs)

    monkeypatch.setattr(lifecycle_module, "count_statistics", counting)
    return calls


def expected_statistics(model, corpus):
    keep, window, shrink = model._sampling_scheme()
    return count_statistics(corpus, model.wv.key_to_index, keep, window, shrink).cooccurrence


def assert_same_statistics(statistics, expected):
    assert statistics is not None
    assert (statistics.cooccurrence != expected).nnz == 0


def test_build_vocab_and_unweighted_training_never_count(corpus, counting_calls):
    model = QWEM(corpus, weighting="none", **SETTINGS)
    model.train(corpus, total_examples=model.corpus_count, epochs=1)
    assert counting_calls == []
    model.analytic_solution()      # first need: counted once, from the build_vocab corpus
    model.spectrum(2)
    assert len(counting_calls) == 1
    assert_same_statistics(model.statistics, expected_statistics(model, corpus))


def test_uniform_training_counts_once_before_its_first_epoch(corpus, counting_calls):
    model = QWEM(corpus, weighting="uniform", trainer="sgd", alpha=0.001, **SETTINGS)
    assert len(counting_calls) == 1
    model.train(corpus, total_examples=model.corpus_count, epochs=1)
    assert len(counting_calls) == 1


@pytest.mark.parametrize("round_trip", ["save", "save_npz", "pickle", "deepcopy"])
def test_copies_carry_statistics_counted_from_the_build_vocab_corpus(corpus, tmp_path, round_trip):
    model = QWEM(**SETTINGS)
    model.build_vocab(corpus)
    if round_trip == "save":
        model.save(str(tmp_path / "m.model"))
        copied = QWEM.load(str(tmp_path / "m.model"))
    elif round_trip == "save_npz":
        model.save_npz(tmp_path / "m.npz")
        copied = QWEM.load_npz(tmp_path / "m.npz")
    elif round_trip == "pickle":
        copied = pickle.loads(pickle.dumps(model))
    else:
        copied = copy.deepcopy(model)
    expected = expected_statistics(model, corpus)
    assert_same_statistics(copied.statistics, expected)
    np.testing.assert_allclose(copied.analytic_solution().vectors, model.analytic_solution().vectors,
                               atol=1e-6)


def test_statistics_come_from_the_build_vocab_corpus_not_a_later_training_corpus(corpus):
    other = planted_topic_corpus(n_sentences=200, seed=5)
    model = QWEM(weighting="uniform", trainer="sgd", alpha=0.001, **SETTINGS)
    model.build_vocab(corpus)
    model.train(other, total_examples=len(other), epochs=1)
    assert_same_statistics(model.statistics, expected_statistics(model, corpus))


def test_dropping_statistics_drops_the_pending_count(corpus):
    model = QWEM(corpus, **SETTINGS)
    model.statistics = None
    with pytest.raises(RuntimeError, match="no pair statistics yet"):
        model.analytic_solution()
    model.count_statistics(corpus)
    assert_same_statistics(model.statistics, expected_statistics(model, corpus))


def test_a_new_vocabulary_replaces_pending_statistics(corpus):
    model = QWEM(**SETTINGS)
    model.build_vocab(corpus)
    smaller = [sentence[:3] for sentence in corpus]
    model.build_vocab(smaller)
    assert_same_statistics(model.statistics, expected_statistics(model, smaller))


def test_a_corpus_file_gone_before_first_need_says_what_to_do(corpus, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(sentence) for sentence in corpus))
    model = QWEM(corpus_file=str(path), **SETTINGS)
    path.unlink()
    with pytest.raises(OSError, match="count_statistics"):
        model.analytic_solution()
    model.count_statistics(corpus)
    assert_same_statistics(model.statistics, expected_statistics(model, corpus))


def test_smaller_spectra_are_sliced_from_a_larger_cached_solve(corpus, monkeypatch):
    model = QWEM(corpus, **SETTINGS)
    solves = []
    real = target_module.top_eigenpairs
    monkeypatch.setattr(target_module, "top_eigenpairs", lambda op, k, **kw: solves.append(k) or real(op, k, **kw))
    values5, vectors5 = model.spectrum(5)
    values3, vectors3 = model.spectrum(3)
    assert len(model.eigenvalues_) == 3
    model.eigen_features(2)
    assert solves == [5]
    np.testing.assert_array_equal(values3, values5[:3])
    np.testing.assert_array_equal(vectors3, vectors5[:, :3])
    model.spectrum(6)                       # larger than the cache: solved again
    model.negative += 1                     # other settings: solved again
    model.spectrum(2)
    assert solves == [5, 6, 2]


def test_state_from_before_statistics_became_a_property_still_loads(corpus):
    """Pickles of earlier versions hold a plain 'statistics' attribute; it becomes the property's value."""
    model = QWEM(corpus, **SETTINGS)
    state = model.__getstate__()
    state["statistics"] = state.pop("_statistics")
    restored = QWEM.__new__(QWEM)
    restored.__setstate__(state)
    assert_same_statistics(restored.statistics, expected_statistics(model, corpus))
    assert "statistics" not in restored.__dict__


def test_state_from_before_negative_draws_trains_on_with_one_draw(corpus):
    """Models saved before negative_draws existed trained with one draw per negative; they keep it."""
    model = QWEM(corpus, **SETTINGS)
    assert model._noise_draws() == (round(1.6 * model.negative) if model.weighting == "none" else model.negative)
    state = model.__getstate__()
    del state["negative_draws"]
    restored = QWEM.__new__(QWEM)
    restored.__setstate__(state)
    assert restored.negative_draws == 1 and restored._noise_draws() == model.negative


def test_new_statistics_are_never_served_a_cached_spectrum(corpus, monkeypatch):
    """The cache follows the statistics object itself, not its id(), which a new object often reuses."""
    model = QWEM(corpus, **SETTINGS)
    model.spectrum(3)
    solves = []
    real = target_module.top_eigenpairs
    monkeypatch.setattr(target_module, "top_eigenpairs", lambda op, k, **kw: solves.append(k) or real(op, k, **kw))
    old = model.statistics
    parts = (old.cooccurrence.copy(), old.word_counts, old.window, old.shrink_windows, old.keep_prob, old.sentences)
    del old
    model.statistics = None           # frees the old object: CPython usually hands its address to the next one
    model.statistics = PairStatistics(*parts)
    model.spectrum(3)
    assert solves == [3]


def test_one_target_serves_uniform_training_the_spectrum_and_the_closed_form(corpus, monkeypatch):
    """M* is built once per statistics and setting: training, spectrum and closed form share it."""
    built = []
    real = target_module.TargetOperator.from_statistics
    monkeypatch.setattr(target_module.TargetOperator, "from_statistics",
                        classmethod(lambda cls, *args, **kwargs: built.append(1) or real(*args, **kwargs)))
    model = QWEM(corpus, weighting="uniform", trainer="sgd", alpha=0.001, **SETTINGS)
    model.spectrum(3)
    model.analytic_solution()
    assert model.target_operator() is model.target_operator()
    assert len(built) == 1
    model.analytic_solution(negative=3)      # another setting: its own M*, the model's is kept
    model.spectrum(3)
    assert len(built) == 2
