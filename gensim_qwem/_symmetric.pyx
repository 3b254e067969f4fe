# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Products with a symmetric sparse matrix stored as its upper triangle (CSR, j >= i); GIL released.

Half the entries of full CSR, so half the memory traffic per product, which is what bounds the eigensolve.
``upper_matvec`` takes one vector, ``upper_matmat`` panels of 8 (one pass over the matrix for all 8);
numpy twin of both: ``(U + U.T - diag(U)) @ X`` with scipy. ``upper_target`` builds that upper triangle
for M*'s sparse part S from A (twin: ``_reference.upper_target``). ``target_matvec`` / ``target_matmat``
are the same products with that S computed entry by entry from A's upper triangle (float32 or float64) instead of
stored (twin: ``_reference.target_products``): the operator then holds no copy of the matrix at all.
``pair_gradient_rows`` is the sparse half of the gradient of the G-weighted loss (twin:
``_reference.pair_gradient``).
"""
from libc.stdint cimport int64_t, int32_t
from libc.string cimport memset

from gensim_qwem._blas cimport axpy, dot

import numpy as np


def upper_matvec(const int64_t[::1] indptr, const int32_t[::1] indices, const double[::1] data,
                 const double[::1] x, double[::1] out, int64_t row_start, int64_t row_stop):
    """out = (U + U^T - diag U) x restricted to the entries of rows [row_start, row_stop) of U.

    Row i contributes out_i += U_ij x_j (gather) and, off the diagonal, out_j += U_ij x_i (scatter),
    so `out` must be private to the caller's thread; summing the outputs of disjoint row ranges gives
    the full product.
    """
    cdef int64_t i, p
    cdef int32_t j
    cdef double x_i, acc, u
    with nogil:
        memset(&out[0], 0, out.shape[0] * sizeof(double))
        for i in range(row_start, row_stop):
            x_i = x[i]
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                u = data[p]
                acc = acc + u * x[j]
                if j != i:
                    out[j] += u * x_i
            out[i] += acc


cdef extern from "_panel.h" nogil:
    enum: QWEM_PANEL
    enum: QWEM_WIDE_PANEL
    void qwem_panel_rows(const int64_t *indptr, const int32_t *indices, const double *data,
                         const double *x, double *out, int64_t stride, int64_t row_start, int64_t row_stop)
    double qwem_target_entry(double a, double half_k, double ri, double qi, const double *rq_j)
    # A's values float (a_float) or double, x and out float (x_float) or double
    void qwem_panel_rows_target_tiled(int a_float, int x_float, int64_t width, const int64_t *indptr,
                                      const int32_t *indices, const void *a, const double *rq, double half_k,
                                      const void *x, void *out, int64_t stride, int64_t row_start,
                                      int64_t row_stop, int64_t n, int64_t tile, int64_t *cursor)

ctypedef fused real:
    float
    double

ctypedef fused real_x:      # the block X and its product (target_matmat), apart from A's type
    float
    double

PANEL = QWEM_PANEL   # columns per pass over the matrix (upper_matmat takes multiples of it)
WIDE_PANEL = QWEM_WIDE_PANEL   # target_matmat's widest pass (16): each entry of A read once for 16 columns
# rows of X and out per column tile of target_matmat (a panel row is 64 or 128 bytes): V = 68k on one thread
# of a 2-core EPYC, 8 columns, best of 7 (AVX-512 clone): 146 ms untiled, 115-134 ms at 16384, 128-133 ms at
# 8192, 157 ms at 4096; 16 columns: 181-184 ms at 16384, 183-203 ms at 8192, 343 ms untiled
PRODUCT_TILE = 8192
# the same for a float32 X (rows of half the bytes): on 2 threads, enwiki17m's eigensolve (600 products, k = 100)
# took 8.4 s at 8192, 7.1-7.8 s at 16384, 5.8-7.4 s at 32768, 6.5 s at 65536, 7.5 s untiled (one run each, noisy)
PRODUCT_TILE_FLOAT32 = 32768


def upper_matmat(const int64_t[::1] indptr, const int32_t[::1] indices, const double[::1] data,
                 const double[:, ::1] x, double[:, ::1] out, int64_t row_start, int64_t row_stop):
    """out = (U + U^T - diag U) X over rows [row_start, row_stop) of U, for a block X of b columns.

    As :func:`upper_matvec`, with each entry read once per QWEM_PANEL (8) columns: out[i, :] += U_ij X[j, :]
    and, off the diagonal, out[j, :] += U_ij X[i, :]. b must be a multiple of 8.
    """
    cdef int64_t b = x.shape[1]
    cdef int64_t first
    if b % QWEM_PANEL or out.shape[1] != b or out.shape[0] != x.shape[0]:
        raise ValueError(f"X and out must have the same shape with a multiple of 8 columns")
    with nogil:
        memset(&out[0, 0], 0, out.shape[0] * b * sizeof(double))
        first = 0
        while first < b:
            qwem_panel_rows(&indptr[0], &indices[0], &data[0], &x[0, first], &out[0, first], b,
                        row_start, row_stop)
            first += QWEM_PANEL


def upper_target(const int64_t[::1] indptr, const int32_t[::1] indices, const double[::1] data,
                 const double[::1] pair_rate, const double[::1] noise, double negative):
    """Upper triangle (j >= i) of S = 4 A / (A + B), B_ij = k (a_i Q_j + a_j Q_i) / 2, from A in CSR.

    One pass to count each row's entries j >= i, one to fill; the order within a row is A's.
    Returns (indptr int64, indices int32, data float64). Numpy twin: ``_reference.upper_target``.
    """
    cdef int64_t n = indptr.shape[0] - 1
    cdef int64_t i, p, q
    cdef int32_t j
    cdef double a, half_k = 0.5 * negative
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    cdef int64_t[::1] starts = out_indptr
    with nogil:
        for i in range(n):
            q = 0
            for p in range(indptr[i], indptr[i + 1]):
                if indices[p] >= i:
                    q += 1
            starts[i + 1] = starts[i] + q
    out_indices = np.empty(starts[n], dtype=np.int32)
    out_data = np.empty(starts[n], dtype=np.float64)
    cdef int32_t[::1] columns = out_indices
    cdef double[::1] values = out_data
    with nogil:
        for i in range(n):
            q = starts[i]
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if j >= i:
                    a = data[p]
                    columns[q] = j
                    values[q] = 4.0 * a / (a + half_k * (pair_rate[i] * noise[j] + pair_rate[j] * noise[i]))
                    q += 1
    return out_indptr, out_indices, out_data


def target_matvec(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] a,
                  const double[:, ::1] rq, double negative, const double[::1] x, double[::1] out,
                  int64_t row_start, int64_t row_stop):
    """out = S x over rows [row_start, row_stop) of A's upper triangle, S_ij = 4 A_ij / (A_ij + B_ij)
    computed per entry with B_ij = k (r_i q_j + r_j q_i) / 2 (rq[j] = (r_j, q_j)); as :func:`upper_matvec`."""
    cdef int64_t i, p
    cdef int32_t j
    cdef double x_i, acc, u, r_i, q_i, half_k = 0.5 * negative
    if rq.shape[1] != 2 or rq.shape[0] != x.shape[0]:
        raise ValueError("rq must hold (pair rate, noise) for every row of x")
    with nogil:
        memset(&out[0], 0, out.shape[0] * sizeof(double))
        for i in range(row_start, row_stop):
            x_i = x[i]
            r_i = rq[i, 0]
            q_i = rq[i, 1]
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                u = qwem_target_entry(a[p], half_k, r_i, q_i, &rq[j, 0])
                acc = acc + u * x[j]
                if j != i:
                    out[j] += u * x_i
            out[i] += acc


def target_matmat(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] a,
                  const double[:, ::1] rq, double negative, const real_x[:, ::1] x, real_x[:, ::1] out,
                  int64_t row_start, int64_t row_stop, int64_t tile=0):
    """out = S X over rows [row_start, row_stop), S computed per entry as in :func:`target_matvec`, for a
    block X of a multiple of 8 columns (each entry of A read, and its S computed, once per 16 columns, and
    once for the last 8 where 16 do not divide b).

    X and out are float64, or float32: half the bytes gathered and scattered per entry, with S_ij rounded to
    float32 and the sums kept in float32 (relative error ~1e-6). The columns are visited in tiles of `tile`
    rows of X (cache blocking; ``tile >= n`` is one pass; 0: PRODUCT_TILE, or PRODUCT_TILE_FLOAT32 for a
    float32 X)."""
    cdef int64_t b = x.shape[1]
    cdef int64_t n = x.shape[0]
    cdef int64_t first, width
    if b % QWEM_PANEL or out.shape[1] != b or out.shape[0] != x.shape[0]:
        raise ValueError(f"X and out must have the same shape with a multiple of 8 columns")
    if rq.shape[1] != 2 or rq.shape[0] != x.shape[0]:
        raise ValueError("rq must hold (pair rate, noise) for every row of x")
    if tile == 0:
        tile = PRODUCT_TILE_FLOAT32 if real_x is float else PRODUCT_TILE
    if tile < 1:
        raise ValueError(f"tile must be >= 1 (or 0 for the default), got {tile}")
    cursor_array = np.empty(max(row_stop - row_start, 1), dtype=np.int64)
    cdef int64_t[::1] cursor = cursor_array
    with nogil:
        memset(&out[0, 0], 0, out.shape[0] * b * sizeof(real_x))
        first = 0
        while first < b:
            # 16 columns a pass where there are (each entry of A read once for 16), else 8
            width = QWEM_WIDE_PANEL if b - first >= QWEM_WIDE_PANEL else QWEM_PANEL
            qwem_panel_rows_target_tiled(real is float, real_x is float, width, &indptr[0], &indices[0], &a[0],
                                         &rq[0, 0], 0.5 * negative, &x[0, first], &out[0, first], b, row_start,
                                         row_stop, n, tile, &cursor[0])
            first += width


def upper_row_sums(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] data):
    """Row sums (float64) of the symmetric matrix whose upper triangle (CSR, j >= i) is given:
    sum_i += U_ij and, off the diagonal, sum_j += U_ij (:func:`upper_weighted_row_sums` with weights 1)."""
    return upper_weighted_row_sums(indptr, indices, data, np.ones(indptr.shape[0] - 1))


# rows of W per column tile of pair_gradient_rows (a row of W is 4 d bytes): enwiki17m (V = 68k, d = 100), the
# first 11.9M entries on one thread of a 2-core EPYC: 1.67 s untiled, 0.78 s at 16384, 0.59 s at 4096, 0.55 s at
# 2048, 0.47 s at 1024 and at 512; all 23.8M on two threads (weighted.GRADIENT_ROW_COST 30 / 60): 0.85 / 0.71 s
# at 1024, 0.66 / 0.66 s at 2048, 0.63 / 0.69 s at 4096
GRADIENT_TILE = 2048


def pair_gradient_rows(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] a,
                       const float[:, ::1] W, float[:, ::1] out, int64_t row_start, int64_t row_stop,
                       double shift, int64_t tile=GRADIENT_TILE):
    """out += (A o (W W^T - shift)) W over rows [row_start, row_stop) of A's upper triangle (A symmetric).

    For each stored entry (i, j >= i): x_ij = w_i . w_j, out_i += A_ij (x_ij - shift) w_j and, off the
    diagonal, out_j += A_ij (x_ij - shift) w_i (so `out` is the caller's thread's own, as in
    :func:`upper_matvec`). Returns (sum_ij A_ij x_ij^2, sum_ij A_ij x_ij) over both triangles of these rows,
    in float64. The columns j are visited in tiles of `tile` rows of W (cache blocking).
    """
    cdef int64_t n = W.shape[0], i, p, first, last
    cdef int size = W.shape[1]
    cdef int32_t j
    cdef float x, step
    cdef double value, both, squares = 0.0, products = 0.0
    if out.shape[0] != n or out.shape[1] != size or indptr.shape[0] != n + 1:
        raise ValueError("W and out must have one row per row of A and the same columns")
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    cursor_array = np.array(indptr[row_start:row_stop], dtype=np.int64)
    cdef int64_t[::1] cursor = cursor_array
    with nogil:
        first = row_start
        while first < n:
            last = min(first + tile, n)
            for i in range(row_start, row_stop):
                p = cursor[i - row_start]
                while p < indptr[i + 1] and indices[p] < last:
                    j = indices[p]
                    x = dot(size, &W[i, 0], &W[j, 0])
                    value = a[p]
                    both = value if j == i else 2.0 * value
                    squares += both * x * x
                    products += both * x
                    step = <float>(value * (x - shift))
                    axpy(size, step, &W[j, 0], &out[i, 0])
                    if j != i:
                        axpy(size, step, &W[i, 0], &out[j, 0])
                    p += 1
                cursor[i - row_start] = p
            first = last
    return squares, products


def upper_weighted_row_sums(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] data,
                            const double[::1] weights):
    """(U + U^T - diag U) weights (float64) for the symmetric matrix whose upper triangle is given: sum_i +=
    U_ij weights_j and, off the diagonal, sum_j += U_ij weights_i. No temporaries beyond the result."""
    cdef int64_t n = indptr.shape[0] - 1
    cdef int64_t i, p
    cdef int32_t j
    if weights.shape[0] != n:
        raise ValueError(f"weights must have one entry per row ({n}), got {weights.shape[0]}")
    sums = np.zeros(n, dtype=np.float64)
    cdef double[::1] out = sums
    cdef double u
    with nogil:
        for i in range(n):
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                u = data[p]
                out[i] += u * weights[j]
                if j != i:
                    out[j] += u * weights[i]
    return sums
