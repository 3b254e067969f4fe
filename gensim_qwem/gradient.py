"""Full-batch gradient descent on the expected uniform loss: training straight from the pair statistics.

Uniform-weighted SGD (``psi_ij = c / G_ij``) moves W, in expectation, along the gradient of the
factorisation loss ``L(W) = ||W W^T - M*||_F^2 / 4`` (docs/theory.rst, "The loss is a matrix
factorisation"). Its gradient flow is

    dW/dt = -grad L = (M* W - W (W^T W)) / 2,    M* W = S W - 2 1 (1^T W),

so one step of this trainer is the exact expected update, computed from the statistics instead of
sampled pair by pair: no variance, whatever the spread of the weights c / G_ij. The only term that
needs data, S W, is one pass of the sparse kernel over S (cheaper than an epoch over the corpus); the
others are dense d x d algebra. The step is explicit Euler in t, except for the stiff rank-one part
``-1 (1^T W)`` (rate V along the all-ones direction), which is taken implicitly:

    W' = W + eta (S W - W (W^T W)) / 2,    W_next = W' - eta V / (1 + eta V) * 1 (1^T W') / V.

The fixed points are those of the flow. The step is stable for ``eta < 2 / lambda_1`` (lambda_1 the top
eigenvalue of M*, estimated to 1% by a few Lanczos products before the first step, only for this). Explicit
Euler grows mode k by ``1 + eta lambda_k / 2`` per step instead of ``exp(eta lambda_k / 2)``, so a mode that
switches on while ``eta lambda_k`` is large does so late (about 20% for ``eta lambda_k = 1``).
:func:`step_size` therefore starts small and grows with t: mode k switches on near
``tau_k = ln(lambda_k / s0^2) / lambda_k``, so a step ``eta(t) <= ONSET_STEP t / ln(lambda_1 / s0^2)`` keeps
``eta lambda_k <= ONSET_STEP`` at every onset, up to the stable maximum ``alpha / lambda_1``.
"""
import logging

import numpy as np
from scipy.sparse.linalg import eigsh

logger = logging.getLogger(__name__)


# eta lambda_k at the onset of mode k, at most: Euler then grows it within ~10% of the flow's rate
ONSET_STEP = 0.4


def step_size(flow_time, eta_max, log_ratio):
    """eta(t) = min(eta_max, max(eta_max / 4, ONSET_STEP t / log_ratio)), log_ratio = ln(lambda_1 / s0^2).

    Small while the top modes switch on (t < log_ratio / (ONSET_STEP lambda_1)), then the stable maximum.
    """
    return min(eta_max, max(0.25 * eta_max, ONSET_STEP * flow_time / max(log_ratio, 1.0)))


def top_eigenvalue_estimate(operator, seed=0, tol=1e-2):
    """lambda_1 of M*, to relative accuracy `tol`: sets the step size (the stiffest learned mode)."""
    v0 = np.random.default_rng(seed).standard_normal(operator.shape[0])
    return float(eigsh(operator, k=1, which="LA", tol=tol, v0=v0)[0][0])


class FullBatchDescent:
    """Gradient steps on ``||W W^T - M*||_F^2 / 4`` for a target operator with ``M* = S - 2 1 1^T``.

    Parameters
    ----------
    operator : LinearOperator
        M* (:class:`gensim_qwem.target.TargetOperator`): only ``matmat`` is used.
    """

    def __init__(self, operator):
        self.operator = operator

    def step(self, W, eta):
        """One step of `eta` in flow time from W (float64, V x d).

        Returns (next W, loss at W, W^T W, relative gradient at W).

        The loss is ``(||W^T W||_F^2 - 2 tr(W^T M* W)) / 4 = L(W) - ||M*||_F^2 / 4`` (the constant left
        out); the relative gradient ``||M* W - W W^T W||_F / ||W W^T W||_F`` is 0 at a stationary point.
        """
        gram = W.T @ W
        descent = np.ascontiguousarray(self.operator.matmat(W))   # M* W = S W - 2 1 (1^T W)
        loss = 0.25 * (np.vdot(gram, gram) - 2.0 * np.vdot(W, descent))
        cubic = W @ gram
        descent -= cubic                                          # -2 grad L
        relative_gradient = np.linalg.norm(descent) / max(np.linalg.norm(cubic), np.finfo(float).tiny)
        descent += 2.0 * W.sum(axis=0)                            # S W - W W^T W: 1 (1^T W) is implicit
        descent *= 0.5 * eta
        W_next = np.add(W, descent, out=descent)
        size = W.shape[0]
        W_next -= (eta / (1.0 + eta * size)) * W_next.sum(axis=0)   # implicit Euler along 1: (I + eta V P_1)^-1
        return W_next, loss, gram, relative_gradient


def settled(previous_sq, current_sq, alpha, tol, floor):
    """Whether no squared singular value of W moves by more than `tol` of itself per unit of
    lambda_1-time (per step: alpha): then every mode has either been learned or is decaying.

    A mode still growing from its small start grows by about alpha lambda_k / lambda_1 of itself per step,
    however small it is, so it keeps training going; a mode below `floor` that is shrinking
    (lambda_k <= 0) does not, and neither does one below 1e-12 `floor` (round-off). This is what tells a
    saddle (a mode not learned yet, where the gradient is tiny too) from the minimum.
    """
    tiny = 1e-12 * floor
    change = (current_sq - previous_sq) / (alpha * np.maximum(previous_sq, tiny))
    ignored = (current_sq < tiny) | ((current_sq < floor) & (change <= 0))
    return bool(np.all((np.abs(change) <= tol) | ignored))
