"""trainer='gradient': full-batch gradient descent on the expected uniform loss (gensim_qwem.gradient)."""
import pickle

import numpy as np
import pytest
from gensim.models.callbacks import CallbackAny2Vec
from scipy.integrate import solve_ivp

from conftest import planted_topic_corpus
from gensim_qwem import QWEM, TrainingDivergedError
from gensim_qwem.gradient import (ONSET_STEP, FullBatchDescent, Refinement, modes_learned, preconditioned_step,
                                  settled, step_size, top_eigenvalue_estimate)
from test_convergence import gram_relative_error
from test_dynamics import crossing_time, unequal_topic_corpus

SETTINGS = dict(min_count=1, sample=0, workers=1, seed=1, weighting="uniform")


class ModeRecorder(CallbackAny2Vec):
    """||u_k^T W|| along given eigenvectors and the model's flow time, at the start and after each step."""

    def __init__(self, eigenvectors):
        self.eigenvectors, self.times, self.modes, self.epochs = eigenvectors, [], [], 0

    def record(self, model):
        self.times.append(model.flow_time)
        self.modes.append(np.linalg.norm(self.eigenvectors.T @ model.wv.vectors.astype(np.float64), axis=1))

    def on_epoch_end(self, model):
        self.epochs += 1
        self.record(model)

    on_train_begin = record


def small_target(seed=0):
    """A dense M* of a tiny real corpus, as the model's operator (the step's numpy oracle reads it dense)."""
    model = QWEM(vector_size=3, **SETTINGS)
    model.build_vocab(planted_topic_corpus(n_topics=3, words_per_topic=6, n_sentences=300, seed=seed))
    return model.target_operator()


def test_step_matches_the_dense_formula():
    """W' = W + eta (S W - W W^T W) / 2, then implicit Euler along 1: (I + eta V P_1)^-1 W'."""
    operator = small_target()
    M = operator.to_dense()
    n = M.shape[0]
    W = np.random.default_rng(1).standard_normal((n, 3)) * 0.3
    eta = 0.01
    explicit = W + 0.5 * eta * ((M + 2.0) @ W - W @ W.T @ W)
    ones = np.ones((n, 1)) / np.sqrt(n)
    expected = np.linalg.solve(np.eye(n) + eta * n * (ones @ ones.T), explicit)
    stepped, loss, gram, relative_gradient = FullBatchDescent(operator).step(W, eta)
    np.testing.assert_allclose(stepped, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gram, W.T @ W)
    # loss without its constant: ||W W^T - M*||^2 / 4 - ||M*||^2 / 4
    assert loss == pytest.approx(0.25 * (np.linalg.norm(W @ W.T - M) ** 2 - np.linalg.norm(M) ** 2), rel=1e-10)
    gradient = M @ W - W @ W.T @ W
    assert relative_gradient == pytest.approx(np.linalg.norm(gradient) / np.linalg.norm(W @ W.T @ W))


def test_small_steps_follow_the_gradient_flow():
    """Many small steps land where the ODE dW/dt = (M* W - W W^T W) / 2 goes (solve_ivp, dense M*)."""
    operator = small_target(seed=2)
    M = operator.to_dense()
    n = M.shape[0]
    W0 = np.random.default_rng(3).standard_normal((n, 3)) * 0.05
    T, steps = 0.05, 2000
    descent, W = FullBatchDescent(operator), W0.copy()
    for _ in range(steps):
        W = descent.step(W, T / steps)[0]
    flow = solve_ivp(lambda _, w: (0.5 * (M @ w.reshape(n, 3) - w.reshape(n, 3) @ (w.reshape(n, 3).T
                                                                                    @ w.reshape(n, 3)))).ravel(),
                     (0, T), W0.ravel(), rtol=1e-10, atol=1e-12, method="LSODA")
    exact = flow.y[:, -1].reshape(n, 3)
    assert np.linalg.norm(W - exact) / np.linalg.norm(exact) < 2e-3


def test_top_eigenvalue_estimate_matches_the_dense_spectrum():
    operator = small_target()
    assert top_eigenvalue_estimate(operator) == pytest.approx(np.linalg.eigvalsh(operator.to_dense())[-1],
                                                              rel=1e-2)


def test_step_size_grows_with_time_up_to_the_stable_maximum():
    log_ratio = 10.0
    assert step_size(0.0, 1.0, log_ratio) == 0.25                      # a quarter of the maximum at the start
    assert step_size(10.0, 1.0, log_ratio) == pytest.approx(ONSET_STEP * 10.0 / log_ratio)
    assert step_size(1e3, 1.0, log_ratio) == 1.0
    # at the onset of a mode with lambda, tau = log_ratio / lambda: eta lambda <= ONSET_STEP (or eta_max / 4)
    for lam in (0.5, 2.0, 8.0):
        assert step_size(log_ratio / lam, 1.0, log_ratio) * lam <= max(ONSET_STEP, 0.25 * lam) + 1e-12


def test_settled_tells_a_saddle_from_the_minimum():
    learned = np.array([9.0, 4.0])
    assert settled(learned, learned * (1 + 1e-5), alpha=1.0, tol=1e-3, floor=1e-6)
    # a mode growing out of its small start (2% a step) is not settled, however small it is
    assert not settled(np.array([9.0, 1e-8]), np.array([9.0, 1.02e-8]), alpha=1.0, tol=1e-3, floor=1e-6)
    # a decaying mode below the floor is
    assert settled(np.array([9.0, 1e-8]), np.array([9.0, 0.98e-8]), alpha=1.0, tol=1e-3, floor=1e-6)


def test_preconditioned_step_solves_its_implicit_equation():
    """W_next = W + eta (S W - W P) P^-1 / 2 + beta v - eta 1 (1^T W_next) P^-1, P = W^T W (dense oracle)."""
    operator = small_target()
    M = operator.to_dense()
    n = M.shape[0]
    rng = np.random.default_rng(4)
    W, velocity = rng.standard_normal((n, 3)), 0.1 * rng.standard_normal((n, 3))
    eta, beta = 0.5, 0.9
    stepped = preconditioned_step(W, FullBatchDescent(operator).evaluate(W), velocity, eta, beta)
    inverse = np.linalg.inv(W.T @ W)
    ones = np.ones((n, n))
    expected = W + 0.5 * eta * ((M + 2.0) @ W - W @ W.T @ W) @ inverse + beta * velocity \
        - eta * ones @ stepped @ inverse
    np.testing.assert_allclose(stepped, expected, rtol=1e-10, atol=1e-10)


def test_preconditioned_step_stays_at_the_minimum():
    operator = small_target(seed=1)
    eigenvalues, eigenvectors = np.linalg.eigh(operator.to_dense())
    W_star = eigenvectors[:, -3:] * np.sqrt(eigenvalues[-3:])
    assert np.all(eigenvalues[-3:] > 0)
    stepped = preconditioned_step(W_star, FullBatchDescent(operator).evaluate(W_star), None, 0.5, 0.9)
    np.testing.assert_allclose(stepped, W_star, atol=1e-9 * np.abs(W_star).max())


def test_modes_learned_waits_for_every_onset():
    # flow: d ln s^2 / dt = lambda - s^2, here lambda = (9, 4) and one step of dt = 0.01
    def after(squares, lam, dt=0.01):
        return squares * np.exp((lam - squares) * dt)
    lam = np.array([9.0, 4.0])
    near = np.array([8.0, 3.0])                     # both within a factor 1.5 of lambda
    assert modes_learned(near, after(near, lam), 0.01, 1e-6, 0.01)
    saddle = np.array([8.0, 1e-4])                  # mode 2 still at its saddle
    assert not modes_learned(saddle, after(saddle, lam), 0.01, 1e-6, 0.01)
    halfway = np.array([8.0, 2.0])                  # s^2 = lambda / 2: still growing fast
    assert not modes_learned(halfway, after(halfway, lam), 0.01, 1e-6, 0.01)
    decaying = np.array([8.0, 1e-8])                # lambda_2 <= 0: below the floor, never learned
    assert not modes_learned(decaying, after(decaying, np.array([9.0, -1.0])), 0.01, 1e-6, 0.01)
    # a random start's component along lambda <= 0, still far above the floor, is decaying, not learned
    # (gensim's default init; this switched the default setting to refinement at step 2 before)
    random_start = np.array([2.3, 2.2])
    assert not modes_learned(random_start, after(random_start, np.array([-0.5, 0.0])), 0.01, 1e-6, 0.01)
    above = np.array([8.0, 6.0])                    # s^2 = 1.5 lambda, settling down onto it
    assert modes_learned(above, after(above, lam), 0.01, 1e-6, 0.01)
    # a singular value standing still while its growing and decaying parts cancel: the gradient is large
    assert not modes_learned(near, near, 0.01, 1e-6, relative_gradient=0.5)


def test_refinement_only_takes_steps_that_lower_the_loss():
    """A step far too long is rejected (momentum dropped, step halved) until one lowers the loss."""
    operator = small_target(seed=1)
    eigenvalues, eigenvectors = np.linalg.eigh(operator.to_dense())
    W = eigenvectors[:, -3:] * np.sqrt(eigenvalues[-3:]) + 0.05 * np.random.default_rng(5).standard_normal(
        (operator.shape[0], 3))
    descent = FullBatchDescent(operator)
    refinement = Refinement(descent, W, eta=40.0, attempts=10)
    W_next, loss, gram, _ = refinement.step()
    assert refinement.rejected > 0
    assert descent.evaluate(W_next).loss < loss == pytest.approx(descent.evaluate(W).loss)
    np.testing.assert_allclose(gram, W.T @ W)
    assert Refinement(descent, W, eta=1e6, attempts=2).step() is None   # gives up: the caller steps plainly


@pytest.mark.parametrize("init_scale", [None, 1e-4])
def test_refinement_starts_only_once_every_mode_is_learned(lee_corpus, init_scale):
    """From gensim's default init (None) too, whose random W decays along lambda <= 0 far above any floor."""
    model = QWEM(vector_size=4, max_final_vocab=200, init_scale=init_scale, **SETTINGS)
    model.build_vocab(lee_corpus)
    eigenvalues = model.spectrum(4)[0]
    seen = []

    class AtSwitch(CallbackAny2Vec):
        def on_epoch_end(self, m):
            if m.refined_steps == 1:   # W after the first refinement step
                seen.append(np.linalg.svd(m.wv.vectors.astype(float), compute_uv=False) ** 2)

    model.train(lee_corpus, total_examples=model.corpus_count, epochs=1, callbacks=[AtSwitch()])
    assert len(seen) == 1 and model.refined_steps > 0
    assert np.all(seen[0] >= eigenvalues / 1.6) and np.all(seen[0] <= 2.1 * eigenvalues)


@pytest.mark.slow
@pytest.mark.parametrize("sample", [0, 1e-3])
def test_refinement_reaches_the_closed_form_sooner(lee_corpus, sample):
    """Lee, top 200 words, d = 4: measured 49 / 48 steps to Gram distance 0.003 / 0.006 with refinement,
    129 / 162 steps to 0.015 / 0.023 without."""
    results = {}
    for refine in (False, True):
        model = QWEM(lee_corpus, vector_size=4, max_final_vocab=200, gradient_refinement=refine,
                     **dict(SETTINGS, sample=sample))
        closed = model.analytic_solution(word_weights="uniform")
        results[refine] = (len(model.epoch_losses), gram_relative_error(model.wv.vectors, closed.vectors))
        assert (model.refined_steps > 0) == refine and model.refined_steps < len(model.epoch_losses)
        assert np.all(np.diff(model.epoch_losses) <= 1e-9 * np.abs(model.epoch_losses[:-1]))
    assert results[True][0] < 0.6 * results[False][0]
    assert results[True][1] < 0.5 * results[False][1] and results[True][1] < 0.01


def test_planted_topics_reach_the_closed_form(planted_corpus):
    model = QWEM(planted_corpus, vector_size=4, **SETTINGS)
    closed = model.analytic_solution(word_weights="uniform")
    assert model.trainer == "gradient" and model.alpha == 1.0
    # measured 0.020 in 96 steps (the four topic modes are nearly degenerate: 19.5-19.7, slow to
    # rotate into place); uniform SGD's test needs 60 epochs for 0.029
    assert gram_relative_error(model.wv.vectors, closed.vectors) < 0.05
    assert 1 < len(model.epoch_losses) < 2000   # stopped by convergence, not by the cap
    for word in ("t0w0", "t1w3", "t2w5", "t3w1"):
        assert model.wv.most_similar(word, topn=1)[0][0][:2] == word[:2]


@pytest.mark.slow
@pytest.mark.parametrize("sample", [0, 1e-3])
def test_lee_corpus_reaches_the_closed_form(lee_corpus, sample):
    """gensim's Lee corpus, top 200 words, d = 4 (the SGD test's setting): measured 0.015 (sample 0) and
    0.023 (sample 1e-3) in 129 and 162 steps, squared singular values within 2e-4 of the eigenvalues;
    uniform SGD reaches 0.17-0.21 in 60 epochs."""
    model = QWEM(lee_corpus, vector_size=4, max_final_vocab=200, **dict(SETTINGS, sample=sample))
    closed = model.analytic_solution(word_weights="uniform")
    assert gram_relative_error(model.wv.vectors, closed.vectors) < 0.1
    learned = np.linalg.svd(model.wv.vectors.astype(float), compute_uv=False) ** 2
    np.testing.assert_allclose(learned, model.eigenvalues_[:4], rtol=0.05)


def test_losses_decrease_to_the_closed_form_loss(planted_corpus):
    model = QWEM(planted_corpus, vector_size=4, **SETTINGS)
    losses = np.array(model.epoch_losses)
    assert np.all(np.diff(losses) <= 1e-9 * np.abs(losses[:-1]))   # descent: never up
    # at W*: ||W* W*^T - M*||^2 - ||M*||^2 = -sum_k lambda_k^2 over the learned (positive) modes
    eigenvalues = np.maximum(model.spectrum(4)[0], 0.0)
    assert losses[-1] == pytest.approx(-0.25 * np.sum(eigenvalues ** 2), rel=1e-3)


@pytest.mark.parametrize("seed", [2, 3])
def test_steps_follow_the_predicted_singular_values(seed):
    """Small init and small steps: each planted mode switches on at the predicted time, in order."""
    corpus = unequal_topic_corpus()
    model = QWEM(vector_size=10, init_scale=1e-4, alpha=0.1, **dict(SETTINGS, seed=seed))
    model.build_vocab(corpus)
    eigenvalues, eigenvectors = model.spectrum(10)
    recorder = ModeRecorder(eigenvectors)
    model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs, callbacks=[recorder])
    times, observed = np.array(recorder.times), np.array(recorder.modes)
    assert recorder.epochs == len(model.epoch_losses) == len(times) - 1   # one "epoch" per step
    eta_max = model.alpha / top_eigenvalue_estimate(model.target_operator(), seed=seed)
    assert np.all(np.diff(times) > 0) and np.all(np.diff(times) <= eta_max * (1 + 1e-9))
    fine = np.linspace(0, times[-1], 4000)
    predicted = model.predicted_singular_values(fine, k=10)
    crossings = []
    for k in range(3):
        half = 0.5 * np.sqrt(eigenvalues[k])
        observed_time = crossing_time(times, observed[:, k], half)
        assert observed_time == pytest.approx(crossing_time(fine, predicted[:, k], half), rel=0.05), k
        crossings.append(observed_time)
    assert crossings[0] < crossings[1] < crossings[2]
    np.testing.assert_allclose(observed[-1, :3], np.sqrt(eigenvalues[:3]), rtol=0.01)


def test_fixed_number_of_steps_and_continued_training(planted_corpus):
    model = QWEM(vector_size=4, gradient_steps=5, **SETTINGS)
    model.build_vocab(planted_corpus)
    model.train(planted_corpus, total_examples=model.corpus_count, epochs=model.epochs)
    first_time = model.flow_time
    assert len(model.epoch_losses) == 5 and model.theory_time() == first_time > 0
    model.train(planted_corpus, total_examples=model.corpus_count, epochs=model.epochs)   # goes on from there
    assert model.flow_time == pytest.approx(2 * first_time)
    with pytest.raises(ValueError, match="model.flow_time"):
        model.theory_time(epochs_done=1)


def test_divergence_keeps_the_last_finite_weights(planted_corpus, monkeypatch):
    model = QWEM(vector_size=4, gradient_steps=3, **SETTINGS)
    model.build_vocab(planted_corpus)
    calls = []
    original = FullBatchDescent.step

    def failing_step(self, W, eta):
        calls.append(1)
        W_next, *rest = original(self, W, eta)
        if len(calls) == 2:
            W_next[0, 0] = np.nan
        return (W_next, *rest)

    monkeypatch.setattr(FullBatchDescent, "step", failing_step)
    before = []

    class Keep(CallbackAny2Vec):
        def on_epoch_end(self, m):
            before.append(m.wv.vectors.copy())

    with pytest.raises(TrainingDivergedError, match="at step 2"):
        model.train(planted_corpus, total_examples=model.corpus_count, epochs=1, callbacks=[Keep()])
    np.testing.assert_array_equal(model.wv.vectors, before[-1])
    assert np.all(np.isfinite(model.wv.vectors))


@pytest.mark.parametrize("params, message", [
    (dict(trainer="gradient", weighting="none"), "trainer='gradient' descends the uniform loss"),
    (dict(trainer="adam"), "The 'trainer' parameter of QWEM must be one of"),
    (dict(weighting="uniform", alpha=2.0), "a number > 0 and < 2 with trainer='gradient'"),
    (dict(weighting="uniform", gradient_steps=0), "The 'gradient_steps' parameter of QWEM must be an int >= 1"),
    (dict(weighting="uniform", gradient_tol=0.0), "The 'gradient_tol' parameter of QWEM must be a number > 0"),
])
def test_bad_trainer_parameters(planted_corpus, params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        QWEM(planted_corpus, vector_size=4, min_count=1, workers=1, **params)


def test_gradient_refinement_must_be_a_bool(planted_corpus):
    with pytest.raises(TypeError, match="The 'gradient_refinement' parameter of QWEM must be True or False"):
        QWEM(planted_corpus, vector_size=4, gradient_refinement="yes", **SETTINGS)


def test_pickles_from_before_the_trainer_keep_training_by_sgd(planted_corpus):
    model = QWEM(planted_corpus, vector_size=4, **dict(SETTINGS, trainer="sgd", alpha=0.003, epochs=1))
    state = model.__dict__.copy()
    for name in ("trainer", "gradient_steps", "gradient_tol", "gradient_refinement", "flow_time"):
        del state[name]
    old = QWEM.__new__(QWEM)
    old.__setstate__(state)
    assert old.trainer == "sgd" and old.flow_time == 0.0 and old.gradient_refinement is False
    copied = pickle.loads(pickle.dumps(QWEM(planted_corpus, vector_size=4, **SETTINGS)))
    assert copied.trainer == "gradient" and copied.flow_time > 0
