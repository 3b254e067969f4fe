"""The G-weighted loss (weighting='none', psi = 1) and its minimiser, against dense numpy twins.

Known answers: the loss is ``1/4 sum_ij G_ij (w_i . w_j - M*_ij)^2`` (up to a constant) with G = A + B, written out
densely from the definition; its gradient is ``(G o (W W^T - M*)) W``; the minimiser found by L-BFGS is compared
with scipy's L-BFGS-B on the dense loss.
"""
import numpy as np
import pytest
import scipy.optimize

from gensim_qwem import QWEM
from gensim_qwem._reference import pair_gradient
from gensim_qwem._symmetric import pair_gradient_rows
from gensim_qwem.target import negative_rate_on
from gensim_qwem.weighted import WeightedLoss, minimise
from test_eigensolver import target_of_random_corpus


def dense_loss(operator, M):
    """(L(W), grad L(W)) straight from the definition, with A and a divided by sum(a) as WeightedLoss does."""
    upper = operator.pair_upper.toarray().astype(np.float64)
    A = upper + upper.T - np.diag(np.diag(upper))
    total = A.sum()
    words = np.arange(len(A))
    G = (A + negative_rate_on(words[:, None], words[None, :], A.sum(axis=1), operator.noise, operator.negative)) / total

    def loss(W):
        R = W @ W.T - M
        return 0.25 * float(np.sum(G * R * R)), (G * R) @ W
    return loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", [1, 7, 1024])
def test_pair_gradient_kernel_equals_the_dense_twin(dtype, tile):
    operator, _ = target_of_random_corpus(0, 50)
    upper = operator.pair_upper
    W = np.random.default_rng(1).standard_normal((50, 12)).astype(np.float32) * 0.3
    indptr, indices = upper.indptr.astype(np.int64), upper.indices.astype(np.int32)
    data = upper.data.astype(dtype)
    out = np.zeros_like(W)
    sums = np.zeros(2)
    for lo, hi in [(0, 9), (9, 31), (31, 50)]:      # disjoint row ranges add up to the whole product
        part = np.zeros_like(W)
        sums += pair_gradient_rows(indptr, indices, data, W, part, lo, hi, 2.0, tile)
        out += part
    expected, squares, products = pair_gradient(upper, W, 2.0)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(sums, [squares, products], rtol=1e-5)


def test_pair_gradient_kernel_rejects_mismatched_shapes():
    operator, _ = target_of_random_corpus(0, 20)
    upper = operator.pair_upper
    W = np.zeros((20, 4), np.float32)
    with pytest.raises(ValueError, match="one row per row of A"):
        pair_gradient_rows(upper.indptr.astype(np.int64), upper.indices, upper.data, W, np.zeros((19, 4), np.float32),
                           0, 20, 2.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_loss_value_and_gradient_equal_the_definition(seed):
    operator, M = target_of_random_corpus(seed, 40)
    loss = WeightedLoss(operator, threads=2)
    reference = dense_loss(operator, M)
    rng = np.random.default_rng(seed)
    W1, W2 = (rng.standard_normal((40, 6)).astype(np.float32) * 0.4 for _ in range(2))
    v1, g1 = loss.value_and_gradient(W1)
    g1 = g1.copy()                          # the gradient is a buffer of the loss, reused by the next call
    v2, g2 = loss.value_and_gradient(W2)
    (r1, e1), (r2, e2) = reference(W1.astype(np.float64)), reference(W2.astype(np.float64))
    # the value is the loss up to one constant (1/4 sum G M*^2)
    np.testing.assert_allclose(v1 - v2, r1 - r2, rtol=1e-4, atol=1e-6 * abs(r1))
    np.testing.assert_allclose(g1, e1, rtol=1e-4, atol=1e-5 * np.abs(e1).max())
    np.testing.assert_allclose(g2, e2, rtol=1e-4, atol=1e-5 * np.abs(e2).max())


def test_row_curvature_is_the_mean_gauss_newton_eigenvalue():
    operator, M = target_of_random_corpus(3, 30)
    loss = WeightedLoss(operator)
    W = np.random.default_rng(0).standard_normal((30, 5)).astype(np.float32)
    upper = operator.pair_upper.toarray().astype(np.float64)
    A = upper + upper.T - np.diag(np.diag(upper))
    words = np.arange(30)
    G = (A + negative_rate_on(words[:, None], words[None, :], A.sum(axis=1), operator.noise, operator.negative)) / A.sum()
    W64 = W.astype(np.float64)
    expected = [np.trace((G[i][:, None] * W64).T @ W64) / 5 for i in range(30)]
    np.testing.assert_allclose(loss.row_curvature(W), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_minimise_reaches_the_dense_minimum(seed):
    """From the same start, 300 preconditioned L-BFGS steps reach scipy's L-BFGS-B minimum of the dense loss."""
    operator, M = target_of_random_corpus(seed, 40)
    reference = dense_loss(operator, M)
    rng = np.random.default_rng(seed)
    W0 = rng.standard_normal((40, 4)) * 0.5
    W, losses = minimise(WeightedLoss(operator), W0, 300)
    assert all(b <= a + 1e-9 * abs(a) for a, b in zip(losses, losses[1:])), "the loss must never rise"
    best = scipy.optimize.minimize(lambda w: (lambda v, g: (v, g.ravel()))(*reference(w.reshape(40, 4))),
                                   W0.ravel(), jac=True, method="L-BFGS-B",
                                   options=dict(maxiter=5000, gtol=1e-12, ftol=1e-15))
    ours = reference(W.astype(np.float64))[0]
    assert ours <= best.fun + 1e-4 * abs(best.fun)
    # and it is a minimum: the gradient has (nearly) vanished against its size at the start
    assert np.linalg.norm(reference(W.astype(np.float64))[1]) < 1e-2 * np.linalg.norm(reference(W0)[1])


def test_minimise_does_not_depend_on_the_memory_order_of_the_start():
    """The closed form's vectors come in Fortran order (eigenvectors times eigenvalues): the same steps as from C order."""
    operator, M = target_of_random_corpus(4, 40)
    W0 = np.asfortranarray(np.random.default_rng(0).standard_normal((40, 4)) * 0.5)
    from_fortran, losses_f = minimise(WeightedLoss(operator), W0, 15)
    from_c, losses_c = minimise(WeightedLoss(operator), np.ascontiguousarray(W0), 15)
    np.testing.assert_array_equal(from_fortran, from_c)
    assert losses_f == losses_c


# ---------------------------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def lee_model():
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath
    model = QWEM(vector_size=10, window=3, min_count=5, workers=2, seed=1)      # weighting='none', the default
    model.build_vocab(LineSentence(datapath("lee_background.cor")))
    model.count_statistics(LineSentence(datapath("lee_background.cor")))
    return model


def test_analytic_solution_follows_the_model_weighting(lee_model):
    """weighting='none' (the default model's): the closed form refined by L-BFGS, lower in the G-weighted loss;
    0 steps or weighting='uniform': the closed form itself."""
    model = lee_model
    loss = WeightedLoss(model.target_operator())
    closed = model.analytic_solution(weighting="uniform").vectors
    np.testing.assert_array_equal(model.analytic_solution(solve_steps=0).vectors, closed)
    default = model.analytic_solution().vectors
    np.testing.assert_array_equal(default, model.analytic_solution(weighting="none").vectors)   # deterministic
    longer = model.analytic_solution(solve_steps=40).vectors
    values = [loss.value_and_gradient(W)[0] for W in (closed, default, longer)]
    assert values[0] > values[1] > values[2]
    assert not np.allclose(default, closed)


def test_analytic_solution_replace_writes_the_g_weighted_vectors():
    from gensim.test.utils import common_texts
    model = QWEM(common_texts, vector_size=4, min_count=1, workers=1, seed=1, epochs=1)
    kv = model.analytic_solution(replace=True, solve_steps=5)
    np.testing.assert_array_equal(model.wv.vectors, kv.vectors)
    assert model.wv.vectors.dtype == np.float32


@pytest.mark.parametrize("kwargs,word", [(dict(word_weights="pair-rate"), "word_weights"),
                                         (dict(eig_power=0.25), "eig_power"), (dict(saturation=2.0), "saturation")])
def test_closed_form_options_with_weighting_none_are_refused_with_the_fix(lee_model, kwargs, word):
    with pytest.raises(ValueError, match=f"{word} apply to weighting='uniform'.*Pass weighting='uniform'"):
        lee_model.analytic_solution(weighting="none", **kwargs)
    lee_model.analytic_solution(weighting="uniform", **kwargs)     # the closed form takes them


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(weighting="sgns"), ValueError, "'weighting' parameter of QWEM must be one of"),
    (dict(solve_steps=-1), ValueError, "'solve_steps' parameter of QWEM must be an int >= 0"),
    (dict(solve_steps=2.5), TypeError, "'solve_steps' parameter of QWEM must be an int")])
def test_bad_solve_arguments_are_refused(lee_model, kwargs, error, message):
    with pytest.raises(error, match=message):
        lee_model.analytic_solution(**kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_row_sums_are_the_symmetric_product(dtype):
    from gensim_qwem._symmetric import upper_weighted_row_sums
    operator, _ = target_of_random_corpus(5, 30)
    upper = operator.pair_upper
    weights = np.random.default_rng(0).uniform(0.1, 2.0, 30)
    dense = upper.toarray().astype(np.float64)
    expected = (dense + dense.T - np.diag(np.diag(dense))) @ weights
    got = upper_weighted_row_sums(upper.indptr.astype(np.int64), upper.indices, upper.data.astype(dtype), weights)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="one entry per row"):
        upper_weighted_row_sums(upper.indptr.astype(np.int64), upper.indices, upper.data, weights[:-1])


def test_value_and_gradient_into_a_given_array():
    operator, _ = target_of_random_corpus(2, 30)
    loss = WeightedLoss(operator, threads=2)
    W = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    value, gradient = loss.value_and_gradient(W)
    out = np.full_like(W, np.nan)
    assert loss.value_and_gradient(W, out=out)[0] == value
    np.testing.assert_array_equal(out, gradient)
    with pytest.raises(ValueError, match="float32 C-ordered array of W's shape"):
        loss.value_and_gradient(W, out=np.zeros((30, 4)))
