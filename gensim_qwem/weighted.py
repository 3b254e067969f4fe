"""The G-weighted loss of ``weighting='none'`` training and its minimiser (docs/theory.rst, "The G-weighted solution").

With per-pair weights psi = 1 (the default trainer) the expected loss is the G-weighted factorisation

    L(W) = 1/4 sum_ij G_ij (w_i . w_j - M*_ij)^2 = 1/4 sum_ij G_ij x_ij^2 - sum_ij (A_ij - B_ij) x_ij + const,

with G = A + B, x_ij = w_i . w_j and G M* = 2 (A - B). It has no closed form; :func:`minimise` finds it by
L-BFGS from the closed form of the uniform loss. Gradient, with X = W W^T, C_a = W^T D_a W, C_Q = W^T D_Q W:

    grad = (A o (X - 2)) W                          the sparse part (kernel ``pair_gradient_rows``)
         + k/2 (D_a W C_Q + D_Q W C_a)               (B o X) W, B = k (a Q^T + Q a^T) / 2 of rank 2
         + k (a (Q^T W) + Q (a^T W))                 + 2 B W

A and a are divided by sum(a) (sum_ij A_ij = 1), so L does not grow with the corpus.
"""
import logging
import time

import numpy as np
from scipy.linalg.blas import saxpy

from gensim_qwem._parallel import RowSplit, usable_cpus
from gensim_qwem._symmetric import pair_gradient_rows, upper_weighted_row_sums

logger = logging.getLogger(__name__)

LBFGS_MEMORY = 1   # pairs (s, y) kept, two V x d float32 arrays each. enwiki17m, 10 / 20 steps: 39.2 / 43.0% at 1, 40.3 / 43.2% at 2 (54 MB more), 40.8 / 43.2% at 3
SOLVE_STEPS = 10   # analytic_solution's default steps
# a row's fixed work in the gradient kernel, in entries' worth, for cutting the rows between threads (the rare words'
# short rows revisit w_i and the output row once per column tile): enwiki17m on 2 threads, 0.82-0.99 s a gradient
# split by entries alone, 0.63-0.85 at 30, 0.66-0.71 at 60, 0.67-0.85 at 100 (pair_gradient_rows' GRADIENT_TILE)
GRADIENT_ROW_COST = 50
ARMIJO = 1e-4      # sufficient decrease of the backtracking line search


class WeightedLoss:
    """L(W) and its gradient for the statistics behind a :class:`~gensim_qwem.target.TargetOperator`.

    Uses the operator's upper triangle of A, a and Q (no copy of A); `negative` k as the operator's.
    """

    def __init__(self, operator, threads=None):
        upper = operator.pair_upper
        self.total = float(operator.pair_rate.sum())
        self._pair_arrays = (upper.indptr.astype(np.int64), upper.indices.astype(np.int32, copy=False), upper.data)
        self.pair_rate = operator.pair_rate / self.total
        self.noise = np.asarray(operator.noise, dtype=np.float64)
        self.negative = float(operator.negative)
        self._weights32 = (self.pair_rate.astype(np.float32), self.noise.astype(np.float32))
        self._rows = RowSplit.balanced(upper.indptr, usable_cpus() if threads is None else threads,
                                       GRADIENT_ROW_COST)
        self._buffers = self._dense_buffer = self._shape = self._own_gradient = None

    def _sparse_part(self, W, first):
        """(A o (X - 2)) W and (sum A x^2, sum A x): the first row range's part in `first` (float32 V x d), the
        others in buffers of this loss, summed into `first` in range order."""
        if self._buffers is None or self._shape != W.shape:
            self._buffers, self._shape, self._dense_buffer = {}, W.shape, None
        scale = np.float32(1.0 / self.total)
        indptr, indices, data = self._pair_arrays

        def part(lo, hi):
            if lo == self._rows.ranges[0][0]:
                out = first
            else:
                out = self._buffers.get(lo)
                if out is None:
                    out = self._buffers[lo] = np.empty(W.shape, dtype=np.float32)
            out[...] = 0.0
            sums = pair_gradient_rows(indptr, indices, data, W, out, lo, hi, 2.0)
            return out, sums
        parts = self._rows.map(part)
        gradient = parts[0][0]
        for out, _ in parts[1:]:
            gradient += out
        gradient *= scale
        squares = sum(s[0] for _, s in parts) / self.total
        products = sum(s[1] for _, s in parts) / self.total
        return gradient, squares, products

    def _work_buffer(self):
        """A V x d float32 scratch array: the second row range's buffer (already summed into the gradient), or
        one of its own with a single range."""
        if len(self._rows.ranges) > 1:
            return self._buffers[self._rows.ranges[1][0]]
        if self._dense_buffer is None:
            self._dense_buffer = np.empty(self._shape, dtype=np.float32)
        return self._dense_buffer

    def value_and_gradient(self, W, out=None):
        """(L(W) + const, grad L(W)) for a float32 V x d W; the gradient (float32) is written into `out` where given
        (a float32 C-ordered V x d array), else into a buffer of this loss (valid until the next call)."""
        W = np.ascontiguousarray(W, dtype=np.float32)
        if out is None:
            if self._own_gradient is None or self._own_gradient.shape != W.shape:
                self._own_gradient = np.empty(W.shape, dtype=np.float32)
            out = self._own_gradient
        elif out.shape != W.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError("out must be a float32 C-ordered array of W's shape")
        gradient, squares, products = self._sparse_part(W, out)
        a, q = self._weights32
        k = self.negative
        work = self._work_buffer()
        C_a = W.T @ np.multiply(W, a[:, None], out=work)        # d x d, float32 products
        C_q = W.T @ np.multiply(W, q[:, None], out=work)
        a_W, q_W = a @ W, q @ W
        for weights, C in ((a, C_q), (q, C_a)):                 # (B o X) W = k/2 (D_a W C_Q + D_Q W C_a)
            np.matmul(W, np.float32(0.5 * k) * C, out=work)
            work *= weights[:, None]
            gradient += work
        for weights, W_sums in ((a, q_W), (q, a_W)):            # 2 B W = k (a (Q^T W) + Q (a^T W))
            np.multiply(weights[:, None], np.float32(k) * W_sums[None, :], out=work)
            gradient += work
        value = (0.25 * (squares + k * np.sum(C_a.astype(np.float64) * C_q))
                 - (products - k * float(a_W.astype(np.float64) @ q_W)))
        return float(value), gradient

    def row_curvature(self, W):
        """``h_i = sum_j G_ij ||w_j||^2 / d``: the mean eigenvalue of row i's Gauss-Newton block ``sum_j G_ij w_j w_j^T``
        (the preconditioner of :func:`minimise`)."""
        norms = np.einsum("ij,ij->i", W, W, dtype=np.float64)
        indptr, indices, data = self._pair_arrays
        A_norms = upper_weighted_row_sums(indptr, indices, data, norms)
        A_norms /= self.total
        a, q, k = self.pair_rate, self.noise, self.negative
        return (A_norms + 0.5 * k * (a * (q @ norms) + q * (a @ norms))) / W.shape[1]


def minimise(loss, W, steps, memory=LBFGS_MEMORY, callback=None, overwrite=False):
    """Minimise `loss` (:class:`WeightedLoss`) from W by `steps` L-BFGS steps, in float32.

    Preconditioned by ``P = diag(h)`` (:meth:`WeightedLoss.row_curvature` at the start): frequent and rare words'
    rows, whose curvatures differ by orders of magnitude, then take steps of comparable size. (A shared d x d shape
    ``h_i W^T diag(sum_i G_ij) W`` converged more slowly on enwiki17m: loss -0.2127 against -0.2147 after 20 steps.)
    Backtracking (Armijo) line search from a unit step (then the minimum of the interpolating parabola). With
    `overwrite`, a float32 C-ordered W is used as workspace (its contents are lost) instead of copied. Returns
    (W, losses): the last W and L after each step; ``callback(step, W)`` after each step.
    """
    if not (overwrite and isinstance(W, np.ndarray) and W.dtype == np.float32 and W.flags.c_contiguous):
        W = np.array(W, dtype=np.float32, order="C")      # C order: _axpy works on flat views
    h = loss.row_curvature(W)
    inverse_rows = (1.0 / np.maximum(h, 1e-12 * h.max())).astype(np.float32)[:, None]    # P^{-1} = diag(1 / h)

    G = np.empty_like(W)
    value, _ = loss.value_and_gradient(W, out=G)
    D = np.empty_like(W)
    history = []      # pairs (s, y), oldest first; at most `memory`, and one more pair of arrays for the trial point
    spare = None
    losses = [value]
    started = time.perf_counter()
    for step in range(steps):
        _two_loop(G, history, inverse_rows, D)
        slope = float(np.vdot(G, D))
        if not slope < 0:      # not a descent direction (round-off): restart from the preconditioned gradient
            spare = spare or (history[0] if history else None)
            history.clear()
            _two_loop(G, history, inverse_rows, D)
            slope = float(np.vdot(G, D))
        if len(history) == memory:            # the oldest pair's arrays take the trial point and the new pair
            spare = history.pop(0)
        trial, y = spare if spare is not None else (np.empty_like(W), np.empty_like(W))
        spare = None
        alpha = 1.0
        while True:
            np.multiply(D, np.float32(alpha), out=trial)
            trial += W
            new_value, _ = loss.value_and_gradient(trial, out=y)     # y holds the new gradient for now
            if new_value <= value + ARMIJO * alpha * slope or alpha < 1e-8:
                break
            # the minimum of the parabola through L(0), L'(0) = slope and L(alpha), kept within [alpha/10, alpha/2]
            curvature = 2.0 * (new_value - value - slope * alpha) / alpha ** 2
            alpha = min(0.5 * alpha, max(0.1 * alpha, -slope / curvature))
        W, s = trial, W
        np.subtract(W, s, out=s)              # s = W_new - W_old, in the old point's array
        y -= G                                # y = G_new - G_old; then G += y is G_new
        G += y
        if float(np.vdot(s, y)) > 0:
            history.append((s, y))
        else:
            spare = (s, y)
        value = new_value
        losses.append(value)
        if callback is not None:
            callback(step + 1, W)
        logger.info("G-weighted solution: step %d of %d, loss %.6g, step length %g, %.1f s", step + 1, steps, value,
                    alpha, time.perf_counter() - started)
    return W, losses


def _two_loop(G, history, inverse_rows, out):
    """out = -H G by the L-BFGS two-loop recursion over the pairs (s, y), with H_0 = gamma P^{-1}, P^{-1} =
    diag(inverse_rows) (gamma = s'y / y'P^{-1}y of the newest pair, 1 without pairs). In place in `out` (BLAS
    axpy): no V x d temporary."""
    np.negative(G, out=out)
    alphas = []
    for s, y in reversed(history):
        rho = 1.0 / float(np.vdot(y, s))
        alpha = rho * float(np.vdot(s, out))
        _axpy(-alpha, y, out)
        alphas.append((rho, alpha))
    out *= inverse_rows
    if history:
        s, y = history[-1]
        scaled = float(np.einsum("ij,ij,i->", y, y, inverse_rows[:, 0], dtype=np.float64))   # y' P^{-1} y
        out *= np.float32(float(np.vdot(s, y)) / scaled)
    for (s, y), (rho, alpha) in zip(history, reversed(alphas)):
        beta = rho * float(np.vdot(y, out))
        _axpy(alpha - beta, s, out)
    return out


def _axpy(alpha, x, y):
    """y += alpha x in place (float32, C-contiguous: a flat view of y, never a copy)."""
    if not (x.flags.c_contiguous and y.flags.c_contiguous):
        raise ValueError("_axpy needs C-contiguous arrays")
    saxpy(x.reshape(-1), y.reshape(-1), a=alpha)
