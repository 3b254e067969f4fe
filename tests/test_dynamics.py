"""Closed-form training dynamics (docs/theory.rst, "The dynamics"): formulas, and SGD following them."""
import numpy as np
import pytest
from gensim.models.callbacks import CallbackAny2Vec
from scipy.integrate import solve_ivp

from gensim_qwem import QWEM
from gensim_qwem.closed_form import mode_onset_times, singular_value_trajectory


def unequal_topic_corpus(topic_probs=(0.4, 0.3, 0.2, 0.1), words_per_topic=10, n_sentences=3000, length=12,
                         seed=0):
    """Planted topics of unequal frequency: distinct eigenvalues, so modes switch on one at a time."""
    rng = np.random.default_rng(seed)
    probs = 1.0 / np.arange(1, words_per_topic + 1)
    probs /= probs.sum()
    return [[f"t{t}w{i}" for i in rng.choice(words_per_topic, size=length, p=probs)]
            for t in rng.choice(len(topic_probs), size=n_sentences, p=topic_probs)]


class SingularValueRecorder(CallbackAny2Vec):
    def __init__(self):
        self.history = []

    def record(self, model):
        self.history.append(np.linalg.svd(model.wv.vectors.astype(np.float64), compute_uv=False))

    on_train_begin = on_epoch_end = record


def crossing_time(times, values, level):
    """First time `values` reaches `level`, linearly interpolated."""
    above = np.nonzero(values >= level)[0]
    assert above.size and above[0] > 0, "never crossed, or crossed before the first record"
    i = above[0]
    return times[i - 1] + (level - values[i - 1]) / (values[i] - values[i - 1]) * (times[i] - times[i - 1])


def test_trajectory_formula_matches_numerical_gradient_flow():
    """s_k(t) against integrating dW/dt = (M - W W^T) W / 2 from an aligned start."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    eigenvalues = np.array([3.0, 1.5, 0.7, 0.2, -0.5, -1.0])
    M = basis @ np.diag(eigenvalues) @ basis.T
    s0_sq, d = 1e-3, 4
    W0 = basis[:, :d] * np.sqrt(s0_sq)
    times = np.linspace(0, 25, 11)

    def flow(_, w):
        W = w.reshape(6, d)
        return (0.5 * (M - W @ W.T) @ W).ravel()

    solution = solve_ivp(flow, (0, times[-1]), W0.ravel(), t_eval=times, rtol=1e-10, atol=1e-12)
    numeric = np.array([np.linalg.norm(basis[:, :d].T @ w.reshape(6, d), axis=0) for w in solution.y.T])
    predicted = singular_value_trajectory(eigenvalues[:d], s0_sq, times)
    np.testing.assert_allclose(predicted, numeric, rtol=1e-5, atol=1e-8)
    # onset tau_k = ln(lambda / s0^2) / lambda: the mode is at a fraction 1/(2 - s0^2/lambda) of lambda
    tau = mode_onset_times(eigenvalues, s0_sq)
    at_tau = singular_value_trajectory(eigenvalues, s0_sq, tau[:3])[np.arange(3), np.arange(3)] ** 2
    np.testing.assert_allclose(at_tau / eigenvalues[:3], 1 / (2 - s0_sq / eigenvalues[:3]), rtol=1e-9)
    assert tau[0] < tau[1] < tau[2] and np.isinf(tau[4])


def test_negative_and_zero_modes_decay():
    s = singular_value_trajectory([-1.0, 0.0], 0.5, [0.0, 10.0])
    np.testing.assert_allclose(s[0], np.sqrt(0.5))
    # lambda = -1: s^2 = -1 / (1 + (-1/0.5 - 1) e^10); lambda = 0: s^2 = s0^2 / (1 + s0^2 t)
    assert s[1, 0] == pytest.approx(np.sqrt(1 / (3 * np.exp(10) - 1)))
    assert s[1, 1] == pytest.approx(np.sqrt(0.5 / (1 + 5.0)))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
def test_sgd_singular_values_follow_the_predicted_steps(seed):
    """Small init, constant learning rate: each mode switches on when the theory says, in order.

    d = 10 > 3 planted modes, so the random initial overlap with each eigen-direction (s_0^2 ~ d sigma^2,
    a chi-square with d degrees of freedom) is concentrated; measured crossings within 1-9% of prediction.
    """
    corpus = unequal_topic_corpus()
    model = QWEM(vector_size=10, min_count=1, sample=0, workers=1, seed=seed, init_scale=1e-4, alpha=5e-5,
                 weighting="uniform", trainer="sgd",
                 min_alpha=5e-5, epochs=60)
    model.build_vocab(corpus)
    recorder = SingularValueRecorder()
    model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs, callbacks=[recorder])
    observed = np.array(recorder.history)
    times = model.theory_time(np.arange(len(observed)))
    fine = np.linspace(0, times[-1], 4000)
    predicted = model.predicted_singular_values(fine)
    eigenvalues = model.eigenvalues_
    crossings = []
    for k in range(3):  # the three planted topic modes; the fourth eigenvalue is ~0.6, not learned in time
        half = 0.5 * np.sqrt(eigenvalues[k])
        observed_time = crossing_time(times, observed[:, k], half)
        predicted_time = crossing_time(fine, predicted[:, k], half)
        assert observed_time == pytest.approx(predicted_time, rel=0.15), k
        crossings.append(observed_time)
    assert crossings[0] < crossings[1] < crossings[2]  # learned one after the other
    np.testing.assert_allclose(observed[-1, :3], np.sqrt(eigenvalues[:3]), rtol=0.05)
