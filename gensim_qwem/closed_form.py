"""Closed-form QWEM: eigen-solver, converged embeddings and the training trajectory.

See docs/theory.rst, "The closed form" and "The dynamics".
"""
import functools
import logging
from timeit import default_timer

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, eigsh
from threadpoolctl import threadpool_limits

from gensim_qwem._parallel import RowSplit, usable_cpus

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


def top_eigenpairs(operator, k, tol=1e-3, seed=0, maxiter=None, ncv=None, method="auto", initial=None):
    """Top-`k` eigenpairs of a symmetric operator by *signed* value, in decreasing order.

    Through matrix products only, in float64 (float32 blocks from tol 1e-5 on, where the operator takes them:
    ``FLOAT32_BASIS_TOL``); each pair satisfies ``||M u - lambda u|| <= tol |lambda|``.
    ``method="block"`` is :func:`block_lanczos` (8 vectors per product, which the sparse kernel serves for
    about a third of the cost of 8 single products); ``"arpack"`` is implicitly restarted Lanczos
    (``eigsh(which="LA")``, with `ncv` and `maxiter`); ``"auto"`` takes the block solver unless n is
    under twice its basis (about 12 k vectors), where that basis would be most of the space.
    ``which="LM"`` would return the large negative eigenvalue of the ``-2 * 1 1^T`` part first.
    The default ``tol=1e-3`` is discussed in :doc:`/benchmarks`, "Why the defaults".
    `initial` (n x c, e.g. a previous solve's eigenvectors) warm-starts the block solver
    (:func:`block_lanczos`); ARPACK starts from their sum.
    """
    n = operator.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"The number of eigenpairs must be in [1, {n - 1}] for a vocabulary of {n} words. "
                         f"Got {k} instead.")
    if method not in ("auto", "block", "arpack"):
        raise ValueError(f"method must be 'auto', 'block' or 'arpack', got {method!r}")
    if method == "auto":
        method = "block" if n >= 2 * _basis_size(k, n, basis_budget(operator)) else "arpack"
    logger.info("EIGENSOLVE: top %i eigenpairs of a %i x %i operator (tol %g, %s)", k, n, n, tol, method)
    if method == "block":
        values, vectors = block_lanczos(operator, k, tol=tol, seed=seed, initial=initial)
    else:
        values, vectors = _arpack(operator, k, tol, seed, maxiter, ncv,
                                  v0=None if initial is None else np.sum(initial, axis=1))
    order = np.argsort(values)[::-1]
    if np.array_equal(order, np.arange(len(order))):   # already in order (the block solver's): no V x k copy
        return values, vectors
    return values[order], vectors[:, order]


def _arpack(operator, k, tol, seed, maxiter, ncv, v0=None):
    n = operator.shape[0]
    if v0 is None or not np.any(v0):
        v0 = np.random.default_rng(seed).standard_normal(n)
    if ncv is None:
        ncv = max(k + 50, (3 * k) // 2)
    logged = _LoggedProducts(operator)
    # ARPACK's own BLAS calls on one thread: the operator's products run on their own threads, and BLAS
    # threads spinning beside them made the solve slower (V = 68k, k = 100: 17.3 s with 2 BLAS threads, 14.7 s with 1)
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = eigsh(logged, k=k, which="LA", tol=tol, v0=v0, maxiter=maxiter, ncv=min(n, ncv))
    logger.info("EIGENSOLVE: done in %.1fs, %i operator products", default_timer() - logged.start, logged.products)
    return values, vectors


BLOCK = 8   # vectors per product: the width of the sparse kernel's panel (_panel.h). Blocks of 16 (its wide panel)
# took 736-768 products against 600 for k = 100 on enwiki17m and no less time (9.5-10.1 s against 9.1-9.7 s)


BASIS_BYTES = 2 * 2 ** 30   # the Lanczos basis (size x n float64) stays under this unless k itself needs more
# and, for an operator that says how much it stores (``stored_bytes``), under 0.8 x that much (but at
# least BASIS_MIN_BYTES), at the price of restarts. At 17M tokens: 280 vectors, 3 restarts, 600
# products, against 352 vectors, 2 restarts, 592 products at 1.0; 37 MiB less at the peak for ~4% time
BASIS_RELATIVE = 0.8
BASIS_MIN_BYTES = 64 * 2 ** 20
# from this tolerance on, the basis is stored in float32 (half the memory of the basis sized above, which
# counts float64 vectors): its rounding (6e-8) moves the Ritz pairs by about 1e-7 ||M||, far below tol |lambda|.
# The recurrence against the last blocks and the Rayleigh quotient stay float64; the operator's products take
# the float32 block as it is where the operator says it can (``float32_products``: TargetOperator, which then
# sums in float32, relative error ~1e-6), else a float64 copy.
# enwiki17m (V = 68k, k = 100, 280 basis vectors): the solve's peak RSS 537 -> 516 MiB, the same time; with
# float32 products 9.3 -> 8.1 s, the Gram distance of W to a tol-1e-6 solve 4.7e-4 -> 3.6e-4
FLOAT32_BASIS_TOL = 1e-5


def _basis_size(k, n, budget=None):
    """Basis vectors before a thick restart: ~6 k (k = 100 converged in 600 without restarting on a
    68k vocabulary), fewer when that would not fit in `budget` bytes (default BASIS_BYTES), but always
    room for the kept Ritz vectors plus 4 blocks (more restarts, same answer)."""
    budget = BASIS_BYTES if budget is None else min(BASIS_BYTES, budget)
    wanted = max(6 * k, 2 * k + 8 * BLOCK)
    least = k + max(BLOCK, k // 4) + 4 * BLOCK
    size = max(least, min(wanted, budget // (8 * n)))
    return BLOCK * -(-size // BLOCK)


def basis_budget(operator):
    """Bytes the Lanczos basis may take for `operator`: BASIS_RELATIVE x what the operator stores (its
    ``stored_bytes``, e.g. the pair statistics' upper triangle), at least BASIS_MIN_BYTES; BASIS_BYTES
    for operators that do not say."""
    stored = getattr(operator, "stored_bytes", None)
    if stored is None:
        return BASIS_BYTES
    return min(BASIS_BYTES, max(BASIS_MIN_BYTES, int(BASIS_RELATIVE * stored)))


class _RowSplit(RowSplit):
    """Tall-skinny products ``Q^T W`` and ``W -= Q C`` computed on threads over equal row ranges.

    Each thread calls single-threaded BLAS on its own rows; BLAS threads of its own would spin beside the
    sparse kernel's threads and slow the products down (measured: 6.3 s -> 9.8 s of products).
    """

    def project(self, basis, W):
        """basis W: (m, n) @ (n, b), summed (float64) over the row ranges in a fixed order; W is taken in
        the basis's precision, so a float32 basis is never copied to float64."""
        parts = self.map(lambda lo, hi: basis[:, lo:hi] @ W[lo:hi].astype(basis.dtype, copy=False))
        return functools.reduce(np.add, parts).astype(np.float64, copy=False)

    def subtract(self, W, basis, C):
        """W -= basis^T C in place."""
        C = C.astype(basis.dtype, copy=False)
        def part(lo, hi):
            W[lo:hi] -= basis[:, lo:hi].T @ C
        self.map(part)

    def combine_in_place(self, basis, S, columns=4096):
        """basis[:c] := S^T basis (c = S's columns <= basis rows), `columns` columns of the basis at a time:
        each block of columns is read whole before it is written, so no n x c result is allocated."""
        c = S.shape[1]
        St = np.ascontiguousarray(S.T, dtype=basis.dtype)
        def part(lo, hi):
            for first in range(lo, hi, columns):
                last = min(hi, first + columns)
                basis[:c, first:last] = St @ basis[:, first:last]
        self.map(part)

    def combine(self, basis, S):
        """basis^T S: (n, m) @ (m, c), e.g. Ritz vectors from the basis."""
        out = np.empty((basis.shape[1], S.shape[1]))
        def part(lo, hi):
            np.matmul(basis[:, lo:hi].T, S, out=out[lo:hi])
        self.map(part)
        return out


def block_lanczos(operator, k, tol=1e-3, seed=0, basis_size=None, max_products=None, threads=None, initial=None):
    """Top-`k` eigenpairs (largest algebraic) of a symmetric operator by thick-restart block Lanczos.

    Blocks of ``BLOCK`` vectors: ``W = M X``, orthogonalised against the whole basis Q (classical
    Gram-Schmidt against the last two blocks, then against all of Q, repeated when that pass still
    cancels more than half of W: "twice is enough"); the projections fill the Rayleigh quotient
    ``H = Q^T M Q`` and the QR factor of what is left is the next block, ``W = X' R`` (CholeskyQR2, or QR with
    column pivoting where W has lost a direction: :func:`_orthonormal_block`). A Ritz pair
    ``(theta, Q s)`` of H then has residual ``||R s_last||`` (s_last: the rows of s for the newest block);
    pair i is converged when that is ``<= tol |theta_i|`` (ARPACK's test). A full basis restarts from the
    top Ritz vectors and the new block.

    `initial` (n x c): start from these vectors (e.g. the eigenvectors of a previous, nearby problem),
    in blocks of c rounded up to a multiple of 8 (the rest random) instead of 8 random vectors: the
    block Krylov space of a good guess holds the top eigenvectors after a few blocks.

    Returns (values, vectors) in decreasing order of value.
    """
    n = operator.shape[0]
    block = BLOCK if initial is None else BLOCK * -(-np.shape(initial)[1] // BLOCK)
    keep = k + max(BLOCK, k // 4)        # Ritz vectors kept at a restart
    if basis_size is None:
        basis_size = _basis_size(k, n, basis_budget(operator))
        if initial is not None:          # room for the kept vectors and three blocks of the guess's width
            basis_size = max(basis_size, keep + 3 * block)
    basis_size = block * -(-int(basis_size) // block)
    if keep + 2 * block > basis_size or basis_size + block > n:
        raise ValueError(f"block Lanczos needs k + max(8, k/4) + 16 <= basis size <= n - 8; got k = {k}, "
                         f"basis size {basis_size}, n = {n}. Use method='arpack' for small problems.")
    # at least enough products to hold `keep` Ritz vectors, so there are k pairs to return
    max_products = max(50 * basis_size if max_products is None else int(max_products), keep + block)
    threads = usable_cpus() if threads is None else threads
    rows = _RowSplit.equal(n, threads)
    start = default_timer()
    rng = np.random.default_rng(seed)
    # basis vectors as rows, so Q[:m] is contiguous
    Q = np.empty((basis_size + block, n), dtype=np.float32 if tol >= FLOAT32_BASIS_TOL else np.float64)
    product_dtype = Q.dtype if getattr(operator, "float32_products", False) else np.float64
    H = np.zeros((basis_size + block, basis_size + block))
    start_block = rng.standard_normal((n, block))
    if initial is not None:
        start_block[:, :np.shape(initial)[1]] = initial
    Q[:block] = np.linalg.qr(start_block)[0].T
    del start_block
    first_check = keep + block if initial is None else max(keep, 2 * block)
    check_every = 2 * BLOCK if initial is None else block
    m, products, restarts, next_check, next_report = block, 0, 0, first_check, start + 5.0
    with threadpool_limits(limits=1, user_api="blas"):
        while True:
            # the block in float64 (one copy also from a float32 basis; the operator reads it in place), or
            # as float32 where the basis is and the operator multiplies float32 blocks (float32_products)
            W = np.array(operator.matmat(np.ascontiguousarray(Q[m - block:m].T, dtype=product_dtype)),
                         dtype=np.float64, order="C")
            products += block
            scale = _column_norms(W).max()
            C = _orthogonalise(W, Q[:m], rows, local=2 * block)
            H[:m, m - block:m] = C
            H[m - block:m, :m] = C.T
            new_block, R = _orthonormal_block(W, Q[:m], rows, rng, scale)
            del W   # n x 8 each: dropped as soon as used, so the next product does not hold them too
            if m >= next_check or m + block > basis_size or products >= max_products:
                theta, S = scipy.linalg.eigh(H[:m, :m], subset_by_index=[m - keep, m - 1])
                theta, S = theta[::-1], S[:, ::-1]
                residual = np.linalg.norm(R @ S[m - block:m], axis=0)
                done = int(np.sum(residual[:k] <= tol * np.abs(theta[:k])))
                if done == k or products >= max_products:
                    if done < k:
                        logger.warning("EIGENSOLVE: stopped after %i products with %i of %i pairs converged "
                                       "to tol %g", products, done, k, tol)
                    logger.info("EIGENSOLVE: done in %.1fs, %i operator products, %i restarts",
                                default_timer() - start, products, restarts)
                    # Ritz vectors over the first k basis rows; the rest of the basis is given back
                    # (resize reallocates in place; it refuses while another array views Q) before
                    # the result is copied, so the solve never holds the basis and the vectors at once
                    rows.combine_in_place(Q[:m], S[:, :k])
                    try:
                        Q.resize((k, n))
                    except ValueError:
                        return theta[:k], np.array(Q[:k].T, dtype=np.float64, order="C")
                    return theta[:k], np.asarray(Q.T, dtype=np.float64)     # a float32 basis: one copy
                if m + block > basis_size:      # thick restart: Ritz vectors, then the new block
                    rows.combine_in_place(Q[:m], S)
                    H[:] = 0.0
                    H[np.arange(keep), np.arange(keep)] = theta
                    R = R @ S[m - block:m]      # couples the new block to every kept Ritz vector
                    m, restarts = keep, restarts + 1
                next_check = m + max(check_every, (k - done) // 2)
            Q[m:m + block] = new_block.T
            del new_block
            H[m:m + block, m - R.shape[1]:m] = R
            H[m - R.shape[1]:m, m:m + block] = R.T
            m += block
            if default_timer() >= next_report:
                logger.info("EIGENSOLVE: %i operator products in %.0fs (block Lanczos, basis %i)",
                            products, default_timer() - start, m)
                next_report = default_timer() + 5.0


def _orthogonalise(W, basis, rows, local):
    """W -= basis^T C with C = basis W (Gram-Schmidt, in place); returns C.

    The last `local` rows of the basis (the Lanczos recurrence) are removed first; the pass over the
    whole basis only removes round-off and is repeated when it still cancels more than half of a column.
    """
    C = np.zeros((basis.shape[0], W.shape[1]))
    C[-local:] = rows.project(basis[-local:], W)      # on the row ranges' threads, in the basis's precision
    rows.subtract(W, basis[-local:], C[-local:])
    for _ in range(2):
        before = _column_norms(W)
        correction = rows.project(basis, W)
        rows.subtract(W, basis, correction)
        C += correction
        if np.all(_column_norms(W) >= 0.5 * before):
            break
    return C


def _column_norms(W):
    """||W[:, j]|| for an (n, b) array: one pass over its rows (np.linalg.norm(axis=0) takes 3x longer)."""
    return np.sqrt(np.einsum("ij,ij->j", W, W))


# CholeskyQR2 serves a block whose R has no diagonal entry under this fraction of its largest: condition
# number <= ~1e4, so the first pass's error (cond^2 x 1e-16) is far inside what the second pass removes
CHOLESKY_QR_MIN_RATIO = 1e-4


def _cholesky_qr(W):
    """W = Q R by CholeskyQR2 (R = chol(W^T W), Q = W R^-1, twice): (Q, R), or None where W is too far from
    full rank for it (the caller then takes QR with column pivoting). Two (n, b) x (b, b) products instead of
    LAPACK's Householder sweep: 3 ms against 5-18 ms for n = 68k, b = 8, and orthonormal to round-off."""
    try:
        first = np.linalg.cholesky(W.T @ W).T
    except np.linalg.LinAlgError:
        return None
    diagonal = np.abs(np.diag(first))
    if diagonal.min() <= CHOLESKY_QR_MIN_RATIO * diagonal.max():
        return None
    Q = W @ scipy.linalg.solve_triangular(first, np.eye(len(first)))
    try:
        second = np.linalg.cholesky(Q.T @ Q).T
    except np.linalg.LinAlgError:
        return None
    return Q @ scipy.linalg.solve_triangular(second, np.eye(len(second))), second @ first


def _orthonormal_block(W, basis, rows, rng, scale):
    """W = block R, block orthonormal (CholeskyQR2 where W is well conditioned).

    A direction of W under 1e-10 `scale` (the size of M X) adds nothing new: the basis holds an invariant
    subspace. Then a QR with column pivoting keeps the r directions W has (block[:, :r], R's first r rows),
    and the other columns of the block are random vectors orthogonal to the basis and to the block's
    earlier columns, with zero rows in R, so the Krylov space keeps growing."""
    factors = _cholesky_qr(W)
    if factors is not None and np.all(np.abs(np.diag(factors[1])) > 1e-10 * scale):
        return factors
    Q, R_pivoted, order = scipy.linalg.qr(W, mode="economic", pivoting=True)
    kept = int(np.sum(np.abs(np.diag(R_pivoted)) > 1e-10 * scale))
    R = np.zeros_like(R_pivoted)
    R[:kept, order] = R_pivoted[:kept]          # W[:, order] = Q R_pivoted
    block = np.array(Q, order="C")
    for col in range(kept, W.shape[1]):
        v = rng.standard_normal((W.shape[0], 1))
        for _ in range(2):
            rows.subtract(v, basis, rows.project(basis, v))
            v -= block[:, :col] @ (block[:, :col].T @ v)
        block[:, col] = v[:, 0] / np.linalg.norm(v)
    return block, R


def embeddings_from_eigenpairs(eigenvalues, eigenvectors, eig_power=0.5, word_weights=None):
    """W* = D^{-1/2} U_d diag(max(lambda, 0) ** eig_power); negative modes give zero columns.

    With the defaults (``eig_power=0.5``, no `word_weights`) this is ``U_d sqrt(max(lambda, 0))``, the
    minimiser of ``||W W^T - M*||_F^2`` (docs/theory.rst, "The closed form"). With `word_weights` g
    (D = diag(g)) and the eigenpairs of ``D^{1/2} M* D^{1/2}`` (:class:`ScaledOperator`), it is the
    minimiser of the rank-one weighted loss
    ``sum_ij g_i g_j (w_i . w_j - M*_ij)^2`` (:func:`rank_one_weighted_embeddings`). Any other `eig_power`
    rescales the learned directions (hyperwords' ``U S^p``) and minimises neither.
    """
    eigenvalues = np.maximum(np.asarray(eigenvalues, dtype=np.float64), 0.0)
    # 0 ** 0 would give a negative mode a column of its own: keep its column zero for every power
    scale = np.where(eigenvalues > 0.0, eigenvalues ** float(eig_power), 0.0)
    vectors = eigenvectors * scale
    if word_weights is not None:
        vectors = vectors / np.sqrt(np.asarray(word_weights, dtype=np.float64))[:, None]
    return vectors


class ScaledOperator(LinearOperator):
    """``D^{1/2} M D^{1/2}`` for a symmetric operator M and positive word weights g, ``D = diag(g)``.

    Products only: ``x -> sqrt(g) * M (sqrt(g) * x)``. For M* = S - 2 * 1 1^T this is still sparse plus
    rank one, ``D^{1/2} S D^{1/2} - 2 (D^{1/2} 1)(D^{1/2} 1)^T``, served by M*'s own product kernels.
    """

    def __init__(self, operator, word_weights):
        weights = np.asarray(word_weights, dtype=np.float64)
        if weights.shape != (operator.shape[0],):
            raise ValueError(f"word_weights must hold one weight per word ({operator.shape[0]}). "
                             f"Got shape {weights.shape} instead.")
        if not np.all(np.isfinite(weights)) or not np.all(weights > 0):
            raise ValueError("word_weights must be finite and > 0 for every word; a word of weight 0 has no "
                             "defined embedding (D^{-1/2}). Give every word a positive weight.")
        super().__init__(dtype=np.float64, shape=operator.shape)
        self.operator, self.root = operator, np.sqrt(weights)

    def _matvec(self, x):
        return self.root * self.operator.matvec(self.root * np.ravel(x))

    def _matmat(self, X):
        return self.root[:, None] * self.operator.matmat(self.root[:, None] * np.asarray(X))

    def _adjoint(self):
        return self


WORD_WEIGHTS = ("uniform", "pair-rate", "geometric")


def word_weights(kind, pair_rate, noise, power=1.0):
    """Rank-one pair weights ``G_ij ~ g_i g_j`` from the rates the trainer sees.

    See docs/theory.rst, "Rank-one pair weights".

    ``"uniform"``: g = 1 (Setting 3.1: every pair weighted equally). ``"pair-rate"``: ``g_i = a_i ** power``,
    a_i = sum_j A_ij the rate at which word i is a centre of a positive pair. ``"geometric"``:
    ``g_i = (a_i Q_i) ** (power / 2)``; at power 1, ``g g^T = a Q^T`` when a is proportional to Q, so
    ``k g g^T`` is then the negative rate B. The scale of g does not change the embedding. Words with
    ``a_i = 0`` (never in a window) get the smallest positive weight of the others.
    """
    if kind not in WORD_WEIGHTS:
        raise ValueError(f"word weights must be one of {WORD_WEIGHTS}. Got {kind!r} instead.")
    rate = np.asarray(pair_rate, dtype=np.float64)
    if kind == "uniform":
        return np.ones(len(rate))
    base = rate if kind == "pair-rate" else rate * np.asarray(noise, dtype=np.float64)
    exponent = float(power) if kind == "pair-rate" else float(power) / 2.0
    positive = base > 0
    if not positive.any():
        return np.ones(len(rate))
    base = np.where(positive, base, base[positive].min())
    weights = np.exp(exponent * (np.log(base) - np.log(base).max()))   # largest weight 1
    return np.maximum(weights, np.finfo(np.float64).tiny)


def rank_one_weighted_embeddings(operator, weights, k, eig_power=0.5, **solver):
    """Minimiser of ``sum_ij g_i g_j (w_i . w_j - M_ij)^2`` over V x k matrices W (Karkada et al. Prop. 2).

    ``W = D^{-1/2} U' diag(sqrt(max(lambda', 0)))`` with (lambda', U') the top-k eigenpairs of
    ``D^{1/2} M D^{1/2}`` by signed value (``D = diag(g)``): substituting ``Y = D^{1/2} W`` turns the
    weighted loss into ``||Y Y^T - D^{1/2} M D^{1/2}||_F^2``. Returns (W, lambda', U'); `solver` goes to
    :func:`top_eigenpairs`.
    """
    values, vectors = top_eigenpairs(ScaledOperator(operator, weights), k, **solver)
    return embeddings_from_eigenpairs(values, vectors, eig_power, weights), values, vectors


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


def sgd_flow_time(scale, epochs_done, alpha, min_alpha, epochs):
    """Gradient-flow time t reached after `epochs_done` of `epochs` epochs of uniform-weighted SGD.

    Each epoch applies, in expectation, ``dW = alpha c (M* - W W^T) W`` (each pair update moves both of its
    words, and events arrive at rates A and B; c = `scale`), while the theory's flow is
    ``dW/dt = (M* - W W^T) W / 2``; so ``dt = 2 c alpha`` per epoch. With gensim's linear decay from `alpha`
    to `min_alpha` over `epochs` epochs, ``t(f) = 2 c E (alpha f - (alpha - min_alpha) f^2 / 2)`` at
    training fraction ``f = epochs_done / E`` (docs/theory.rst, "The dynamics").
    """
    fraction = np.clip(np.asarray(epochs_done, dtype=np.float64) / epochs, 0.0, 1.0)
    return 2.0 * scale * epochs * (alpha * fraction - (alpha - min_alpha) * fraction ** 2 / 2)


def mode_onset_times(eigenvalues, init_sq):
    """tau_k = ln(lambda_k / s_0^2) / lambda_k: when mode k switches on (inf for lambda_k <= s_0^2)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lam > init_sq, np.log(lam / init_sq) / lam, np.inf)
