"""Rank-one weighted closed form (Karkada et al. Prop. 2) against a dense numpy twin, on small synthetic data.

Known answer: ``W = D^{-1/2} U' sqrt(max(lambda', 0))`` with (lambda', U') the top eigenpairs of
``D^{1/2} M* D^{1/2}`` minimises ``sum_ij g_i g_j (w_i . w_j - M*_ij)^2`` over every V x d matrix.
"""
import re

import numpy as np
import pytest

from gensim_qwem import QWEM
from gensim_qwem.closed_form import (ScaledOperator, embeddings_from_eigenpairs, rank_one_weighted_embeddings,
                                     top_eigenpairs, word_weights)
from gensim_qwem.target import dense_target
from test_eigensolver import target_of_random_corpus


def random_target(seed, vocab_size=60):
    """(TargetOperator, dense M*) of a random Zipf corpus (the eigensolver tests' helper)."""
    return target_of_random_corpus(seed, vocab_size)


def dense_weighted_solution(M, g, d):
    """The numpy twin: eigh of the dense D^{1/2} M D^{1/2}, top d by signed value, then D^{-1/2}."""
    root = np.sqrt(g)
    values, vectors = np.linalg.eigh(root[:, None] * M * root[None, :])
    values, vectors = values[::-1][:d], vectors[:, ::-1][:, :d]
    return vectors * np.sqrt(np.maximum(values, 0.0)) / root[:, None]


def weighted_loss(W, M, g):
    return float(np.sum(np.outer(g, g) * (W @ W.T - M) ** 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scaled_operator_is_the_dense_product(seed):
    operator, M = random_target(seed)
    g = np.random.default_rng(seed).uniform(0.1, 3.0, len(M))
    scaled = ScaledOperator(operator, g)
    dense = np.sqrt(g)[:, None] * M * np.sqrt(g)[None, :]
    X = np.random.default_rng(seed + 10).standard_normal((len(M), 11))
    np.testing.assert_allclose(scaled.matmat(X), dense @ X, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(scaled.matvec(X[:, 0]), dense @ X[:, 0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind,power", [("pair-rate", 1.0), ("pair-rate", 0.5), ("geometric", 1.0)])
def test_rank_one_weighted_solution_equals_the_dense_computation(seed, kind, power):
    operator, M = random_target(seed)
    g = word_weights(kind, operator.pair_rate, operator.noise, power)
    W, _, _ = rank_one_weighted_embeddings(operator, g, 5, tol=1e-10)
    expected = dense_weighted_solution(M, g, 5)
    # W is fixed up to a rotation W O: compare the Gram matrices
    np.testing.assert_allclose(W @ W.T, expected @ expected.T, rtol=1e-6, atol=1e-8 * np.abs(expected).max() ** 2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rank_one_weighted_solution_minimises_the_weighted_loss(seed):
    """Better than every other rank-d W tried: random, the unweighted solution, perturbations, and a
    gradient-descent run from random initialisation."""
    operator, M = random_target(seed, vocab_size=40)
    g = word_weights("pair-rate", operator.pair_rate, operator.noise, 1.0)
    d = 4
    W, _, _ = rank_one_weighted_embeddings(operator, g, d, tol=1e-12)
    best = weighted_loss(W, M, g)
    rng = np.random.default_rng(seed)
    values, vectors = np.linalg.eigh(M)
    unweighted = vectors[:, ::-1][:, :d] * np.sqrt(np.maximum(values[::-1][:d], 0))
    assert best < weighted_loss(unweighted, M, g)
    for _ in range(20):
        assert best < weighted_loss(rng.standard_normal(W.shape) * W.std(), M, g)
        assert best <= weighted_loss(W + 1e-3 * W.std() * rng.standard_normal(W.shape), M, g)
    # gradient descent on the weighted loss from a random start does not get lower
    G = np.outer(g, g)
    V = rng.standard_normal(W.shape) * 0.1
    step = 0.5 / (np.abs(G).sum(axis=1).max() * max(1.0, np.abs(M).max()) * 4)
    for _ in range(3000):
        V -= step * 4 * (G * (V @ V.T - M)) @ V
    assert best <= weighted_loss(V, M, g) * (1 + 1e-9)


def test_uniform_weights_are_the_unweighted_solution():
    operator, M = random_target(0)
    W, _, _ = rank_one_weighted_embeddings(operator, word_weights("uniform", operator.pair_rate, operator.noise),
                                           5, tol=1e-10)
    values, vectors = top_eigenpairs(operator, 5, tol=1e-10)
    plain = embeddings_from_eigenpairs(values, vectors)
    np.testing.assert_allclose(W @ W.T, plain @ plain.T, rtol=1e-8, atol=1e-10)


def test_word_weights_formulas():
    rate = np.array([4.0, 1.0, 0.25, 0.0])
    noise = np.array([0.4, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(word_weights("uniform", rate, noise), np.ones(4))
    # scale-free: largest weight 1; a word never in a window gets the smallest positive weight
    np.testing.assert_allclose(word_weights("pair-rate", rate, noise, 0.5), [1.0, 0.5, 0.25, 0.25])
    geometric = np.sqrt(rate * noise)
    geometric[3] = geometric[2]
    np.testing.assert_allclose(word_weights("geometric", rate, noise, 1.0), geometric / geometric.max())
    with pytest.raises(ValueError, match="word weights must be one of"):
        word_weights("frequency", rate, noise)


def test_scaled_operator_rejects_bad_weights():
    operator, _ = random_target(0, vocab_size=20)
    with pytest.raises(ValueError, match="one weight per word"):
        ScaledOperator(operator, np.ones(3))
    with pytest.raises(ValueError, match="finite and > 0"):
        ScaledOperator(operator, np.zeros(20))


def test_eig_power_rescales_columns_and_keeps_negative_modes_zero():
    values = np.array([4.0, 1.0, -2.0])
    vectors = np.eye(4)[:, :3]
    for power, expected in ((0.5, [2.0, 1.0, 0.0]), (0.25, [np.sqrt(2.0), 1.0, 0.0]), (0.0, [1.0, 1.0, 0.0])):
        np.testing.assert_allclose(np.diag(embeddings_from_eigenpairs(values, vectors, power)[:3]), expected)


# ---------------------------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def small_model(planted_corpus):
    model = QWEM(vector_size=4, min_count=1, sample=0, workers=1, seed=1, weighting="uniform")   # the closed form's own
    model.build_vocab(planted_corpus)
    return model


def test_model_uniform_option_is_the_exact_setting_3_1(small_model):
    """word_weights='uniform', eig_power=0.5 keeps today's exact answer: the top eigenpairs of dense M*."""
    stats = small_model.statistics
    M = dense_target(stats.cooccurrence, small_model.wv.expandos["count"], small_model.negative,
                     small_model.ns_exponent)
    kv = small_model.analytic_solution(word_weights="uniform", eig_power=0.5, tol=1e-10)
    values, vectors = np.linalg.eigh(M)
    expected = vectors[:, ::-1][:, :4] * np.sqrt(np.maximum(values[::-1][:4], 0))
    W = kv.vectors.astype(np.float64)
    np.testing.assert_allclose(W @ W.T, expected @ expected.T, atol=1e-5)


@pytest.mark.parametrize("kind,power", [("pair-rate", 0.5), ("geometric", 1.0)])
def test_model_weighted_option_equals_the_dense_twin(small_model, kind, power):
    stats = small_model.statistics
    M = dense_target(stats.cooccurrence, small_model.wv.expandos["count"], small_model.negative,
                     small_model.ns_exponent)
    operator = small_model.target_operator()
    g = word_weights(kind, operator.pair_rate, operator.noise, power)
    W = small_model.analytic_solution(word_weights=kind, weight_power=power, tol=1e-10).vectors.astype(np.float64)
    expected = dense_weighted_solution(M, g, 4)
    np.testing.assert_allclose(W @ W.T, expected @ expected.T, rtol=1e-4, atol=1e-4 * np.abs(expected).max() ** 2)


def test_model_caches_one_weighted_solve_across_eig_powers(small_model, monkeypatch):
    import gensim_qwem.target as target_module
    solves = []
    real = target_module.top_eigenpairs
    monkeypatch.setattr(target_module, "top_eigenpairs", lambda op, k, **kw: solves.append(k) or real(op, k, **kw))
    small_model._targets = None   # no solve cached yet
    first = small_model.analytic_solution(word_weights="pair-rate", weight_power=0.75, eig_power=0.5)
    second = small_model.analytic_solution(word_weights="pair-rate", weight_power=0.75, eig_power=0.25)
    assert len(solves) == 1
    assert not np.allclose(first.vectors, second.vectors)
    small_model.analytic_solution(word_weights="pair-rate", weight_power=0.5)
    assert len(solves) == 2


@pytest.mark.parametrize("kind", ["uniform", "pair-rate"])
def test_closed_form_negative_sampling_setting_equals_the_dense_twin(small_model, kind):
    """analytic_solution(negative=k, ns_exponent=e) is the closed form of dense M* built with k and e."""
    stats = small_model.statistics
    M = dense_target(stats.cooccurrence, small_model.wv.expandos["count"], 2.5, 0.5)
    g = np.ones(len(M))
    if kind != "uniform":
        g = word_weights(kind, small_model.target_operator(2.5, 0.5).pair_rate,
                         small_model.target_operator(2.5, 0.5).noise, 0.25)
    W = small_model.analytic_solution(word_weights=kind, negative=2.5, ns_exponent=0.5, tol=1e-10).vectors
    expected = dense_weighted_solution(M, g, 4)
    W = W.astype(np.float64)
    np.testing.assert_allclose(W @ W.T, expected @ expected.T, rtol=1e-4, atol=1e-4 * np.abs(expected).max() ** 2)
    # and it differs from the model's own setting (k 5, 0.75), which spectrum() keeps serving
    own = small_model.analytic_solution(tol=1e-10).vectors.astype(np.float64)
    assert not np.allclose(own @ own.T, W @ W.T, atol=1e-3)
    M_own = dense_target(stats.cooccurrence, small_model.wv.expandos["count"], small_model.negative,
                         small_model.ns_exponent)
    np.testing.assert_allclose(small_model.spectrum(4)[0], np.linalg.eigvalsh(M_own)[::-1][:4], rtol=1e-6)


def test_closed_form_setting_equal_to_the_models_is_the_default(small_model):
    default = small_model.analytic_solution(tol=1e-10).vectors
    explicit = small_model.analytic_solution(negative=small_model.negative, ns_exponent=small_model.ns_exponent,
                                             tol=1e-10).vectors
    np.testing.assert_array_equal(default, explicit)


@pytest.mark.parametrize("kwargs,error,text", [
    (dict(negative=0), ValueError, "The 'negative' parameter of QWEM must be a number > 0.0. Got 0 instead."),
    (dict(negative="3"), TypeError, "The 'negative' parameter of QWEM must be a number > 0.0"),
    (dict(ns_exponent=float("inf")), ValueError, "The 'ns_exponent' parameter of QWEM must be a number"),
    (dict(word_weights="frequency"), ValueError,
     "The 'word_weights' parameter of QWEM must be one of ('uniform', 'pair-rate', 'geometric'). "
     "Got 'frequency' instead."),
    (dict(weight_power=True), TypeError, "The 'weight_power' parameter of QWEM must be a number"),
    (dict(eig_power=float("nan")), ValueError, "The 'eig_power' parameter of QWEM must be a number"),
    (dict(eig_power="0.5"), TypeError, "The 'eig_power' parameter of QWEM must be a number"),
])
def test_model_rejects_bad_closed_form_options(small_model, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        small_model.analytic_solution(**kwargs)


# ---------------------------------------------------------------------------------------------- saturation
def saturated_twin(operator, c):
    """Dense M*_c = 2c tanh(log(A / B) / (2c)) (-2c where A = 0) of the operator's own A, k and Q."""
    A = operator.pair_upper.toarray()
    A = A + A.T - np.diag(np.diag(A))
    B = 0.5 * operator.negative * (np.outer(operator.pair_rate, operator.noise) + np.outer(operator.noise,
                                                                                         operator.pair_rate))
    with np.errstate(divide="ignore"):
        return 2.0 * c * np.tanh(np.log(A / B) / (2.0 * c))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("c", [0.5, 1.5, 2.0, 7.0])
def test_saturated_operator_is_the_dense_saturated_target(seed, c):
    from gensim_qwem.target import TargetOperator
    operator, M = random_target(seed)
    saturated = TargetOperator(None, np.zeros(1), operator.negative, 0.75, _upper=operator.pair_upper,
                               noise=operator.noise, saturation=c)
    expected = saturated_twin(operator, c)
    assert not np.allclose(expected, M)
    np.testing.assert_allclose(saturated.to_dense(), expected, rtol=1e-9, atol=1e-12)
    X = np.random.default_rng(seed).standard_normal((len(M), 11))
    np.testing.assert_allclose(saturated.matmat(X), expected @ X, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(saturated.matvec(X[:, 0]), expected @ X[:, 0], rtol=1e-9, atol=1e-9)
    # c = 1 is M* = 2 (A - B) / (A + B) itself
    np.testing.assert_allclose(saturated_twin(operator, 1.0), M, rtol=1e-12, atol=1e-12)


def test_dense_target_saturation_matches_the_twin():
    """dense_target's M*_c (A = 0 cells at -2c) against the twin, from a corpus's A and other counts."""
    from gensim_qwem.target import TargetOperator
    upper = random_target(3)[0].pair_upper.toarray()
    A = upper + upper.T - np.diag(np.diag(upper))
    counts = np.arange(len(A), 0, -1) ** 2.0       # any counts: Q comes from them for both
    expected = saturated_twin(TargetOperator(A, counts, 5, 0.75), 2.5)
    np.testing.assert_allclose(dense_target(A, counts, 5, 0.75, saturation=2.5), expected, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def lee_model():
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath
    model = QWEM(vector_size=20, window=3, min_count=5, workers=2, seed=1, weighting="uniform")
    model.build_vocab(LineSentence(datapath("lee_background.cor")))
    model.count_statistics(LineSentence(datapath("lee_background.cor")))
    return model


@pytest.mark.parametrize("c", [1.5, 3.0])
def test_analytic_solution_with_saturation_is_the_best_rank_d_fit_of_the_saturated_target(lee_model, c):
    model = lee_model
    operator = model.target_operator()
    M = saturated_twin(operator, c)
    values, vectors = np.linalg.eigh(M)
    expected = vectors[:, ::-1][:, :20] * np.sqrt(np.maximum(values[::-1][:20], 0.0))
    W = model.analytic_solution(saturation=c, tol=1e-8).vectors.astype(np.float64)
    np.testing.assert_allclose(W @ W.T, expected @ expected.T, rtol=1e-4, atol=1e-4 * np.abs(expected).max() ** 2)
    # and it differs from the unsaturated closed form, which stays the end point of training
    plain = model.analytic_solution(tol=1e-8).vectors.astype(np.float64)
    assert np.abs(plain @ plain.T - W @ W.T).max() > 0.1
    values1, _ = np.linalg.eigh(saturated_twin(operator, 1.0))
    np.testing.assert_allclose(np.sort(np.linalg.norm(plain, axis=0) ** 2)[::-1],
                               np.maximum(values1[::-1][:20], 0.0), rtol=1e-5)


def test_saturated_and_plain_solves_are_cached_apart(lee_model):
    model = lee_model
    target = model._target()
    model.analytic_solution(saturation=2.0)
    model.analytic_solution()
    saturated = target._spectra["other"]
    assert target._spectra["uniform"][0] == 1e-3 and saturated[0][-1] == 2.0
    assert not np.allclose(target._spectra["uniform"][1], saturated[1])
    np.testing.assert_allclose(model.analytic_solution(saturation=2.0, vector_size=10).vectors,
                               model.analytic_solution(saturation=2.0).vectors[:, :10])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_bad_saturation_is_refused(lee_model, bad):
    with pytest.raises((ValueError, TypeError), match="'saturation' parameter of QWEM must be a number > 0"):
        lee_model.analytic_solution(saturation=bad)


@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
def test_saturated_rates_in_chunks_are_the_formula(chunk):
    """A' = A^(1/c) B^(1 - 1/c) entry by entry, whatever the chunks (rows found per chunk)."""
    from gensim_qwem.target import negative_rate_on, saturated_rates
    operator, _ = random_target(4)
    upper = operator.pair_upper
    rows = np.repeat(np.arange(upper.shape[0]), np.diff(upper.indptr))
    B = negative_rate_on(rows, upper.indices, operator.pair_rate, operator.noise, operator.negative)
    expected = upper.data ** (1 / 2.5) * B ** (1 - 1 / 2.5)
    got = saturated_rates(upper, operator.pair_rate, operator.noise, operator.negative, 2.5, chunk=chunk)
    assert got.dtype == upper.data.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12)
