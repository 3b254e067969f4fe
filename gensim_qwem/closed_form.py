"""Closed-form QWEM: eigen-solver, converged embeddings and the training trajectory (THEORY §4-§5)."""
import logging
from timeit import default_timer

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)


class _LoggedProducts(LinearOperator):
    """Wraps a symmetric operator to log, every `every` seconds, how many products ARPACK has asked for."""

    def __init__(self, operator, every=5.0):
        super().__init__(dtype=operator.dtype, shape=operator.shape)
        self.operator, self.every = operator, every
        self.products, self.start = 0, default_timer()
        self.next_report = self.start + every

    def _matvec(self, x):
        self.products += 1
        if default_timer() >= self.next_report:
            logger.info("EIGENSOLVE: %i operator products in %.0fs (Lanczos; the number needed depends on the "
                        "spectrum, so no ETA)", self.products, default_timer() - self.start)
            self.next_report = default_timer() + self.every
        return self.operator.matvec(x)

    def _adjoint(self):
        return self


def top_eigenpairs(operator, k, tol=1e-3, seed=0, maxiter=None, ncv=None):
    """Top-`k` eigenpairs of a symmetric operator by *signed* value, in decreasing order.

    Uses implicitly restarted Lanczos (``eigsh(which="LA")``) through matrix products only, in float64.
    ``which="LM"`` would return the large negative eigenvalue of the ``-2 * 1 1^T`` part first.
    The default Krylov space of ``max(k + 50, 1.5 k)`` vectors and relative tolerance 1e-3 gave the
    same analogy accuracy as tol=1e-6 at a fraction of the time (V = 22k, k = 100: 9 s vs 40+ s;
    benchmarks/results). At V = 68k, k = 100 about 45% of the time is the ~530 products, the rest ARPACK's
    orthogonalisation.
    """
    n = operator.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"The number of eigenpairs must be in [1, {n - 1}] for a vocabulary of {n} words. "
                         f"Got {k} instead.")
    v0 = np.random.default_rng(seed).standard_normal(n)
    if ncv is None:
        ncv = max(k + 50, (3 * k) // 2)
    logger.info("EIGENSOLVE: top %i eigenpairs of a %i x %i operator (tol %g)", k, n, n, tol)
    logged = _LoggedProducts(operator)
    # ARPACK's own BLAS calls on one thread: the operator's products run on their own threads, and BLAS
    # threads spinning beside them made the solve slower (V = 68k, k = 100: 17.3 s with 2 BLAS threads, 14.7 s with 1)
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = eigsh(logged, k=k, which="LA", tol=tol, v0=v0, maxiter=maxiter, ncv=min(n, ncv))
    logger.info("EIGENSOLVE: done in %.1fs, %i operator products", default_timer() - logged.start, logged.products)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def embeddings_from_eigenpairs(eigenvalues, eigenvectors):
    """W* = U_d diag(sqrt(max(lambda, 0))): negative modes are never learned and give zero columns."""
    return eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))


def singular_value_trajectory(eigenvalues, init_sq, times):
    """s_k(t)^2 = lambda_k / (1 + (lambda_k / s_0^2 - 1) exp(-lambda_k t)), returned as s_k(t).

    Shape (len(times), len(eigenvalues)). This solves d(s^2)/dt = s^2 (lambda - s^2), the aligned gradient
    flow dW/dt = (M* - W W^T) W / 2, for any sign of lambda (modes with lambda <= 0 decay; lambda = 0 is
    the limit s^2 = s_0^2 / (1 + s_0^2 t)).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)[None, :]
    t = np.asarray(times, dtype=np.float64)[:, None]
    s0 = float(init_sq)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        nonzero = lam / (1.0 + (lam / s0 - 1.0) * np.exp(-lam * t))
        zero = s0 / (1.0 + s0 * t)   # limit lambda -> 0
    sq = np.where(np.abs(lam) > 1e-12, nonzero, zero)
    return np.sqrt(np.maximum(sq, 0.0))


def mode_onset_times(eigenvalues, init_sq):
    """tau_k = ln(lambda_k / s_0^2) / lambda_k: when mode k switches on (inf for lambda_k <= s_0^2)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lam > init_sq, np.log(lam / init_sq) / lam, np.inf)
