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

Once every mode has switched on (:func:`modes_learned`), :class:`Refinement` takes over with
preconditioned heavy-ball steps (:func:`preconditioned_step`), each kept only if it lowers the loss: they
bring the nearly equal modes at the cut d into place at a rate set by their own size, not ``lambda_1``.
"""
import logging
from collections import namedtuple

import numpy as np
from scipy.sparse.linalg import eigsh

logger = logging.getLogger(__name__)


# eta lambda_k at the onset of mode k, at most: Euler then grows it within ~10% of the flow's rate
ONSET_STEP = 0.4
# refinement (once every mode has switched on): preconditioned step and heavy-ball momentum. Paper setting,
# Gram distance to the closed form over steps 300 -> 390: 0.29 -> 0.09 (plain steps: 0.30 -> 0.16 over steps
# 300 -> 1000; benchmarks/results/full_batch_paper_2026-12-02_enwiki17m_refined.md, ..._1000steps.md). Without
# momentum (eta 0.5) 0.30 -> 0.23 in 40 steps; eta 1 diverged (an eigenvalue of M* at -512 against lambda_200 = 193)
REFINE_STEP = 0.5
REFINE_MOMENTUM = 0.9
# a mode counts as switched on when s^2 moves by at most this much of s^2 per unit of flow time (lambda/1.5..2 lambda)
LEARNED_GROWTH = 0.5
# ... and the relative gradient is at most this (paper setting: 0.067 with mode 200 still growing, 0.015 after)
LEARNED_GRADIENT = 0.05


def step_size(flow_time, eta_max, log_ratio):
    """eta(t) = min(eta_max, max(eta_max / 4, ONSET_STEP t / log_ratio)), log_ratio = ln(lambda_1 / s0^2).

    Small while the top modes switch on (t < log_ratio / (ONSET_STEP lambda_1)), then the stable maximum.
    """
    return min(eta_max, max(0.25 * eta_max, ONSET_STEP * flow_time / max(log_ratio, 1.0)))


def top_eigenvalue_estimate(operator, seed=0, tol=1e-2):
    """lambda_1 of M*, to relative accuracy `tol`: sets the step size (the stiffest learned mode)."""
    v0 = np.random.default_rng(seed).standard_normal(operator.shape[0])
    return float(eigsh(operator, k=1, which="LA", tol=tol, v0=v0)[0][0])


# what one product M* W tells about W (FullBatchDescent.evaluate); gradient = M* W - W W^T W = -2 grad L
AtPoint = namedtuple("AtPoint", "gradient gram loss relative_gradient")


class FullBatchDescent:
    """Gradient steps on ``||W W^T - M*||_F^2 / 4`` for a target operator with ``M* = S - 2 1 1^T``.

    Parameters
    ----------
    operator : LinearOperator
        M* (:class:`gensim_qwem.target.TargetOperator`): only ``matmat`` is used.
    """

    def __init__(self, operator):
        self.operator = operator

    def evaluate(self, W):
        """What one product tells about W: :class:`AtPoint` (M* W - W W^T W, W^T W, loss, relative gradient).

        The loss is ``(||W^T W||_F^2 - 2 tr(W^T M* W)) / 4 = L(W) - ||M*||_F^2 / 4`` (the constant left
        out); the relative gradient ``||M* W - W W^T W||_F / ||W W^T W||_F`` is 0 at a stationary point.
        """
        gram = W.T @ W
        gradient = np.ascontiguousarray(self.operator.matmat(W))   # M* W = S W - 2 1 (1^T W)
        loss = 0.25 * (np.vdot(gram, gram) - 2.0 * np.vdot(W, gradient))
        cubic = W @ gram
        gradient -= cubic                                          # M* W - W W^T W = -2 grad L
        relative_gradient = np.linalg.norm(gradient) / max(np.linalg.norm(cubic), np.finfo(float).tiny)
        return AtPoint(gradient, gram, loss, relative_gradient)

    def step(self, W, eta):
        """One step of `eta` in flow time from W (float64, V x d).

        Returns (next W, loss at W, W^T W, relative gradient at W), as :meth:`evaluate` defines them.
        """
        descent, gram, loss, relative_gradient = self.evaluate(W)
        descent += 2.0 * W.sum(axis=0)                            # S W - W W^T W: 1 (1^T W) is implicit
        descent *= 0.5 * eta
        W_next = np.add(W, descent, out=descent)
        size = W.shape[0]
        W_next -= (eta / (1.0 + eta * size)) * W_next.sum(axis=0)   # implicit Euler along 1: (I + eta V P_1)^-1
        return W_next, loss, gram, relative_gradient


def preconditioned_step(W, at_W, velocity, eta, momentum):
    """Heavy-ball step on L(W) with the gradient scaled by ``P^-1 = (W^T W)^-1`` on the right:

        W' = W + eta (S W - W P) P^-1 / 2 + momentum velocity,    W_next = W' - eta 1 (1^T W_next) P^-1,

    the stiff ``-1 (1^T W)`` part again implicit (solved for 1^T W_next, a d x d system). `at_W` is
    :meth:`FullBatchDescent.evaluate` at W. Near the minimum a mode pair (i learned, j not) then
    contracts by ``eta (lambda_i - lambda_j) / (2 lambda_i)`` per step instead of plain steps'
    ``(lambda_i - lambda_j) / (2 lambda_1)`` per unit of alpha: the near-degenerate modes at the cut d,
    which plain steps rotate into place at a rate set by ``lambda_1``, converge at a rate set by their
    own size, and momentum shortens that again.
    """
    inverse = np.linalg.inv(at_W.gram)
    explicit = at_W.gradient + 2.0 * W.sum(axis=0)              # S W - W W^T W
    W_next = W + (0.5 * eta) * (explicit @ inverse)
    if velocity is not None:
        W_next += momentum * velocity
    # 1^T W_next (I + eta V P^-1) = 1^T W'
    ones_row = np.linalg.solve(np.eye(len(inverse)) + eta * W.shape[0] * inverse, W_next.sum(axis=0))
    W_next -= eta * (ones_row @ inverse)
    return W_next


class Refinement:
    """Preconditioned heavy-ball steps (:func:`preconditioned_step`) once every mode of W has switched on.

    A step is taken only if it lowers the loss, so the losses stay monotone: each candidate's product
    ``M* W_next`` is computed first (and serves as the next step's gradient when the step is taken). A
    rejected candidate is tried again without the momentum, and then with half the step (kept for the
    steps after). After `attempts` rejections in a row :meth:`step` returns None and the caller goes back
    to plain steps.
    """

    def __init__(self, descent, W, eta=REFINE_STEP, momentum=REFINE_MOMENTUM, attempts=4):
        self.descent, self.eta, self.momentum, self.attempts = descent, eta, momentum, attempts
        self.W, self.at_W, self.velocity = W, descent.evaluate(W), None
        self.rejected = 0

    def step(self):
        """(next W, loss at W, W^T W, relative gradient at W) as FullBatchDescent.step returns, or None."""
        at_W, eta = self.at_W, self.eta
        for _ in range(self.attempts):
            candidate = preconditioned_step(self.W, at_W, self.velocity, eta, self.momentum)
            at_candidate = self.descent.evaluate(candidate) if np.all(np.isfinite(candidate)) else None
            if at_candidate is not None and at_candidate.loss <= at_W.loss:
                self.velocity, self.W, self.at_W = candidate - self.W, candidate, at_candidate
                return candidate, at_W.loss, at_W.gram, at_W.relative_gradient
            self.rejected += 1
            if self.velocity is not None:   # first without the momentum, then shorter steps from here on
                self.velocity = None
            else:
                eta = self.eta = 0.5 * eta
        return None


def modes_learned(previous_sq, current_sq, dt, floor, relative_gradient):
    """Whether every squared singular value of W has (nearly) reached its eigenvalue: none below `floor`
    and none moving by more than ``LEARNED_GROWTH`` of itself per unit of flow time.

    Along the flow a mode moves as ``d ln s^2 / dt = lambda - s^2``, so ``|rate| / s^2 = |lambda / s^2 - 1|``:
    at most LEARNED_GROWTH means ``lambda / 1.5 <= s^2 <= 2 lambda``. A mode at its saddle (s^2 tiny, still
    to grow) is far from it, and so is a random start's component along a direction with lambda <= 0,
    which decays at ``|rate| >= s^2`` (gensim's default init puts ``s^2 ~ V / (3 d^2)`` there, above any
    floor); decayed ones fall below `floor`. A singular value of W can still mix a growing mode with a
    decaying random part and stand still for a while, so the relative gradient
    ``||M* W - W W^T W|| / ||W W^T W||`` must be at most LEARNED_GRADIENT too (it is about 1 on a random
    start; 0.015 in the paper setting once every mode is learned).
    """
    if dt <= 0 or relative_gradient > LEARNED_GRADIENT:
        return False
    if np.any(current_sq <= floor) or np.any(previous_sq <= 0):
        return False
    rate = np.log(current_sq / previous_sq) / dt
    return bool(np.all(np.abs(rate) <= LEARNED_GROWTH * current_sq))


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
