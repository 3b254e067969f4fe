# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Expected windowed pair counts for one job of sentences (THEORY §2); GIL released for the whole job.

Numpy twin: ``gensim_qwem._reference.count_pairs``.
"""
import numpy as np

from libc.stdint cimport int64_t, int32_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

DEF MAX_WINDOW = 1024


cdef struct Triples:
    int32_t *rows
    int32_t *cols
    double *vals
    int64_t size
    int64_t capacity


cdef int push(Triples *out, int32_t row, int32_t col, double val) noexcept nogil:
    """append (row, col, val), growing the buffers by half when full; -1 when out of memory"""
    cdef int64_t capacity
    cdef void *p
    if out.size == out.capacity:
        capacity = out.capacity + out.capacity // 2 + 1024
        p = realloc(out.rows, capacity * sizeof(int32_t))
        if p == NULL:
            return -1
        out.rows = <int32_t *>p
        p = realloc(out.cols, capacity * sizeof(int32_t))
        if p == NULL:
            return -1
        out.cols = <int32_t *>p
        p = realloc(out.vals, capacity * sizeof(double))
        if p == NULL:
            return -1
        out.vals = <double *>p
        out.capacity = capacity
    out.rows[out.size] = row
    out.cols[out.size] = col
    out.vals[out.size] = val
    out.size += 1
    return 0


cdef inline int add_pair(Triples *out, double *dense, int32_t dense_size, int32_t row, int32_t col,
                         double val, bint upper) noexcept nogil:
    """dense[row, col] += val for two of the `dense_size` most frequent words, else append a triple.

    With `upper`, the pair goes to (min, max) instead: the upper triangle of A = C + C^T directly, where a
    diagonal pair counts twice (A_ii = 2 C_ii)."""
    cdef int32_t swap
    if upper:
        if row > col:
            swap = row
            row = col
            col = swap
        elif row == col:
            val = 2.0 * val
    if row < dense_size and col < dense_size:
        dense[<int64_t>row * dense_size + col] += val
        return 0
    return push(out, row, col, val)


def count_pairs_job(const int32_t[::1] indices, const int64_t[::1] offsets, const double[::1] keep_prob,
                    bint subsample, int window, bint shrink_windows, double tolerance=1e-9,
                    double[:, ::1] dense=None, bint upper=False):
    """Expected counts of (left word, right word) pairs within one job; returns COO (rows, cols, vals).

    With `upper`, each pair is returned as (min, max) and a diagonal pair with twice its weight: the
    triples then sum to the upper triangle (j >= i) of the symmetric A = C + C^T itself, so the caller
    needs no transpose and stores half the entries (and `dense` fills only its upper triangle).

    With `dense` (D x D), pairs of two words with index < D (the most frequent, which make up about half
    of all pairs) are added into it instead of being returned: fewer triples to sort and merge.

    Weight of a pair whose kept positions are delta apart: (L + 1 - delta) / L with shrunk windows, else 1.
    With subsampling (keep probability p), for left word i and right word j with m in-between tokens:
    p_i p_j sum_delta P(delta - 1 of the m are kept) weight(delta), by a running distribution q over
    the number of kept in-between tokens (dropped once its mass falls below `tolerance`).
    Duplicates are not summed here; the caller sums them (scipy) and symmetrises A = C + C^T.
    """
    if not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"window must be in [1, {MAX_WINDOW}], got {window}")
    cdef int64_t n_sentences = offsets.shape[0] - 1
    cdef int64_t s, i, j, lo, hi, stop
    cdef int m
    cdef double offset_weight[MAX_WINDOW]
    cdef double kept_between[MAX_WINDOW]   # q[m] = P(exactly m kept tokens strictly between i and j)
    cdef double p_i, p_j, total, mass
    cdef Triples out
    cdef int failed = 0
    cdef int32_t[::1] rows_view, cols_view
    cdef double[::1] vals_view
    cdef int32_t dense_size = 0
    cdef double *dense_ptr = NULL
    if dense is not None and dense.shape[0] > 0:
        if dense.shape[0] != dense.shape[1]:
            raise ValueError(f"dense must be square, got {dense.shape[0]} x {dense.shape[1]}")
        dense_size = dense.shape[0]
        dense_ptr = &dense[0, 0]
    for m in range(window):
        offset_weight[m] = (window - m) / <double>window if shrink_windows else 1.0  # delta = m + 1
    out.size = 0
    out.capacity = max(1024, indices.shape[0] * (window + 1))
    out.rows = <int32_t *>malloc(out.capacity * sizeof(int32_t))
    out.cols = <int32_t *>malloc(out.capacity * sizeof(int32_t))
    out.vals = <double *>malloc(out.capacity * sizeof(double))
    if out.rows == NULL or out.cols == NULL or out.vals == NULL:
        free(out.rows); free(out.cols); free(out.vals)
        raise MemoryError("could not allocate the pair buffer for one counting job")
    with nogil:
        for s in range(n_sentences):
            lo = offsets[s]
            hi = offsets[s + 1]
            for i in range(lo, hi):
                if not subsample:
                    stop = min(hi, i + window + 1)
                    for j in range(i + 1, stop):
                        if add_pair(&out, dense_ptr, dense_size, indices[i], indices[j], offset_weight[j - i - 1],
                                    upper) < 0:
                            failed = 1
                    continue
                p_i = keep_prob[indices[i]]
                if p_i <= 0.0:
                    continue
                kept_between[0] = 1.0
                for m in range(1, window):
                    kept_between[m] = 0.0
                for j in range(i + 1, hi):
                    p_j = keep_prob[indices[j]]
                    total = 0.0
                    for m in range(window):
                        total += kept_between[m] * offset_weight[m]
                    if p_j > 0.0 and total > 0.0:
                        if add_pair(&out, dense_ptr, dense_size, indices[i], indices[j], p_i * p_j * total,
                                    upper) < 0:
                            failed = 1
                    # token j becomes an in-between token: q'[m] = q[m] (1 - p_j) + q[m - 1] p_j
                    mass = 0.0
                    for m in range(window - 1, 0, -1):
                        kept_between[m] = kept_between[m] * (1.0 - p_j) + kept_between[m - 1] * p_j
                        mass += kept_between[m]
                    kept_between[0] *= 1.0 - p_j
                    mass += kept_between[0]
                    if mass < tolerance:
                        break
            if failed:
                break
    try:
        if failed:
            raise MemoryError("ran out of memory while counting pairs; use smaller jobs (chunk_words)")
        rows = np.empty(out.size, dtype=np.int32)
        cols = np.empty(out.size, dtype=np.int32)
        vals = np.empty(out.size, dtype=np.float64)
        if out.size:
            rows_view = rows
            cols_view = cols
            vals_view = vals
            memcpy(&rows_view[0], out.rows, out.size * sizeof(int32_t))
            memcpy(&cols_view[0], out.cols, out.size * sizeof(int32_t))
            memcpy(&vals_view[0], out.vals, out.size * sizeof(double))
    finally:
        free(out.rows); free(out.cols); free(out.vals)
    return rows, cols, vals
