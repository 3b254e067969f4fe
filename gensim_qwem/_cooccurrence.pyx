# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Expected windowed pair counts for one job of sentences, GIL released for the whole job
(docs/theory.rst, "Pair statistics").

Numpy twin: ``gensim_qwem._reference.count_pairs``.
"""
import numpy as np

from libc.stdint cimport int64_t, int32_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

DEF MAX_WINDOW = 1024

cdef extern from *:
    """
    /* windows up to 8: the running distribution q over kept in-between tokens in fixed 8-wide loops the
       compiler unrolls; w[m] = 0 and mask[m] = 0 from the window on, so the sums are the generic loop's */
    static inline double qwem_total8(const double *q, const double *w) {
        double t = 0.0;
        for (int m = 0; m < 8; m++) t += q[m] * w[m];
        return t;
    }
    static inline double qwem_step8(double *q, double p, const double *mask) {
        double keep = 1.0 - p, next[8], mass = 0.0;
        next[0] = q[0] * keep;
        for (int m = 1; m < 8; m++) next[m] = q[m] * keep + q[m - 1] * p;
        for (int m = 0; m < 8; m++) { q[m] = next[m] * mask[m]; mass += q[m]; }
        return mass;
    }
    """
    double total8 "qwem_total8" (const double *q, const double *w) noexcept nogil
    double step8 "qwem_step8" (double *q, double p, const double *mask) noexcept nogil


cdef struct Triples:
    int32_t *rows
    int32_t *cols
    double *vals
    int64_t size
    int64_t capacity
    bint owned      # the buffers are this job's (malloc); else the caller's arrays, never freed here


cdef int move_to_own_buffers(Triples *out) noexcept nogil:
    """copy the triples out of the caller's arrays into malloc'd buffers of the same capacity; -1 when out
    of memory (nothing changed)"""
    cdef int32_t *rows = <int32_t *>malloc(out.capacity * sizeof(int32_t))
    cdef int32_t *cols = <int32_t *>malloc(out.capacity * sizeof(int32_t))
    cdef double *vals = <double *>malloc(out.capacity * sizeof(double))
    if rows == NULL or cols == NULL or vals == NULL:
        free(rows); free(cols); free(vals)
        return -1
    memcpy(rows, out.rows, out.size * sizeof(int32_t))
    memcpy(cols, out.cols, out.size * sizeof(int32_t))
    memcpy(vals, out.vals, out.size * sizeof(double))
    out.rows, out.cols, out.vals, out.owned = rows, cols, vals, 1
    return 0


cdef int push(Triples *out, int32_t row, int32_t col, double val) noexcept nogil:
    """append (row, col, val), growing the buffers by half when full (into buffers of its own when they
    were the caller's); -1 when out of memory"""
    cdef int64_t capacity
    cdef void *p
    if out.size == out.capacity:
        if not out.owned and move_to_own_buffers(out) < 0:
            return -1
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


cdef inline int add_pair(Triples *out, double *dense, int64_t *dense_fixed, int32_t dense_size, int32_t row,
                         int32_t col, double val, bint upper) noexcept nogil:
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
        if dense_fixed != NULL:     # in units of 2**-32, each increment rounded (see sum_triples_fixed)
            dense_fixed[<int64_t>row * dense_size + col] += <int64_t>(val * 4294967296.0 + 0.5)
        else:
            dense[<int64_t>row * dense_size + col] += val
        return 0
    return push(out, row, col, val)


def count_pairs_job(const int32_t[::1] indices, const int64_t[::1] offsets, const double[::1] keep_prob,
                    bint subsample, int window, bint shrink_windows, double tolerance=1e-9,
                    double[:, ::1] dense=None, bint upper=False, buffers=None, int64_t[:, ::1] dense_fixed=None):
    """Expected counts of (left word, right word) pairs within one job; returns COO (rows, cols, vals).

    With `buffers` (rows int32, cols int32, vals float64 arrays of one length), the triples are written
    into them and returned as views of their first entries (overwritten by the next job given the same
    buffers), so a counting thread reuses its memory across jobs; a job with more triples than they
    hold continues in buffers of its own and returns new arrays, as without `buffers`.

    With `upper`, each pair is returned as (min, max) and a diagonal pair with twice its weight: the
    triples then sum to the upper triangle (j >= i) of the symmetric A = C + C^T itself, so the caller
    needs no transpose and stores half the entries (and `dense` fills only its upper triangle).

    With `dense` (D x D), pairs of two words with index < D (the most frequent, which make up about half
    of all pairs) are added into it instead of being returned: fewer triples to sort and merge.
    `dense_fixed` (int64, D x D, instead of `dense`) takes them as exact sums in units of 2**-32, each pair's
    weight rounded to those units first (as :func:`sum_triples_fixed` sums the triples).

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
    cdef double mask8[8]
    cdef double p_i, p_j, total, mass
    cdef Triples out
    cdef int failed = 0
    cdef int32_t[::1] rows_view, cols_view
    cdef double[::1] vals_view
    cdef int32_t dense_size = 0
    cdef double *dense_ptr = NULL
    cdef int64_t *fixed_ptr = NULL
    if dense_fixed is not None and dense_fixed.shape[0] > 0:
        if dense is not None:
            raise ValueError("give dense or dense_fixed, not both")
        if dense_fixed.shape[0] != dense_fixed.shape[1]:
            raise ValueError(f"dense_fixed must be square, got {dense_fixed.shape[0]} x {dense_fixed.shape[1]}")
        dense_size = dense_fixed.shape[0]
        fixed_ptr = &dense_fixed[0, 0]
    if dense is not None and dense.shape[0] > 0:
        if dense.shape[0] != dense.shape[1]:
            raise ValueError(f"dense must be square, got {dense.shape[0]} x {dense.shape[1]}")
        dense_size = dense.shape[0]
        dense_ptr = &dense[0, 0]
    for m in range(MAX_WINDOW):
        offset_weight[m] = 0.0
        kept_between[m] = 0.0
    for m in range(window):
        offset_weight[m] = (window - m) / <double>window if shrink_windows else 1.0  # delta = m + 1
    for m in range(8):
        mask8[m] = 1.0 if m < window else 0.0
    cdef int32_t[::1] given_rows, given_cols
    cdef double[::1] given_vals
    out.size = 0
    if buffers is not None:
        given_rows, given_cols, given_vals = buffers
        if not given_rows.shape[0] == given_cols.shape[0] == given_vals.shape[0]:
            raise ValueError("buffers must be three arrays (rows, cols, vals) of the same length")
    if buffers is not None and given_rows.shape[0] > 0:
        out.capacity, out.owned = given_rows.shape[0], 0
        out.rows, out.cols, out.vals = &given_rows[0], &given_cols[0], &given_vals[0]
    else:
        out.capacity, out.owned = max(1024, indices.shape[0] * (window + 1)), 1
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
                        if add_pair(&out, dense_ptr, fixed_ptr, dense_size, indices[i], indices[j], offset_weight[j - i - 1],
                                    upper) < 0:
                            failed = 1
                    continue
                p_i = keep_prob[indices[i]]
                if p_i <= 0.0:
                    continue
                kept_between[0] = 1.0
                for m in range(1, window):
                    kept_between[m] = 0.0
                if window <= 8:
                    for m in range(1, 8):
                        kept_between[m] = 0.0
                for j in range(i + 1, hi):
                    p_j = keep_prob[indices[j]]
                    if window <= 8:     # the same sums as below, in loops of constant length
                        total = total8(kept_between, offset_weight)
                        if p_j > 0.0 and total > 0.0:
                            if add_pair(&out, dense_ptr, fixed_ptr, dense_size, indices[i], indices[j],
                                        p_i * p_j * total, upper) < 0:
                                failed = 1
                        if step8(kept_between, p_j, mask8) < tolerance:
                            break
                        continue
                    total = 0.0
                    for m in range(window):
                        total += kept_between[m] * offset_weight[m]
                    if p_j > 0.0 and total > 0.0:
                        if add_pair(&out, dense_ptr, fixed_ptr, dense_size, indices[i], indices[j], p_i * p_j * total,
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
        if not out.owned:
            return (np.asarray(buffers[0])[:out.size], np.asarray(buffers[1])[:out.size],
                    np.asarray(buffers[2])[:out.size])
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
        if out.owned:
            free(out.rows); free(out.cols); free(out.vals)
    return rows, cols, vals


# pair counts are summed exactly, as int64 multiples of 2**-32 (FIXED_POINT_UNITS per 1.0): each increment is
# rounded once, so every order and grouping of the same increments gives the very same sums
DEF UNITS = 4294967296.0
FIXED_POINT_UNITS = UNITS


cdef inline int64_t units(double val) noexcept nogil:
    """val >= 0 rounded to the nearest multiple of 2**-32, in those units"""
    return <int64_t>(val * UNITS + 0.5)


def sum_triples_fixed(const int32_t[::1] rows, const int32_t[::1] cols, const double[::1] vals, int32_t size):
    """COO triples (duplicates allowed) -> CSR (indptr int64, indices int32 sorted in each row, data int64) of
    their sums in units of 2**-32, each value rounded to those units before it is added.

    Two stable counting sorts (by column, then by row) leave each row's triples in column order, so equal
    columns are neighbours and are summed in one pass: O(n + V), no comparison sort.
    Numpy twin: ``_reference.sum_triples_fixed``.
    """
    cdef int64_t n = rows.shape[0], k, p, q, w, start, stop
    cdef int32_t r, c
    if cols.shape[0] != n or vals.shape[0] != n:
        raise ValueError("rows, cols and vals must have the same length")
    for k in range(n):
        if rows[k] < 0 or rows[k] >= size or cols[k] < 0 or cols[k] >= size:
            raise ValueError(f"triple {k} = ({rows[k]}, {cols[k]}) lies outside a {size} x {size} matrix")
    by_col_rows_arr = np.empty(n, dtype=np.int32)
    by_col_vals_arr = np.empty(n, dtype=np.int64)
    out_cols_arr = np.empty(n, dtype=np.int32)
    out_vals_arr = np.empty(n, dtype=np.int64)
    col_ptr_arr = np.zeros(size + 1, dtype=np.int64)
    indptr_arr = np.zeros(size + 1, dtype=np.int64)
    cdef int32_t[::1] by_col_rows = by_col_rows_arr, out_cols = out_cols_arr
    cdef int64_t[::1] by_col_vals = by_col_vals_arr, out_vals = out_vals_arr
    cdef int64_t[::1] col_ptr = col_ptr_arr, indptr = indptr_arr
    with nogil:
        for k in range(n):
            col_ptr[cols[k] + 1] += 1
            indptr[rows[k] + 1] += 1
        for c in range(size):
            col_ptr[c + 1] += col_ptr[c]
            indptr[c + 1] += indptr[c]
        for k in range(n):                          # by column (col_ptr[c] moves to the end of column c)
            p = col_ptr[cols[k]]
            by_col_rows[p] = rows[k]
            by_col_vals[p] = units(vals[k])
            col_ptr[cols[k]] = p + 1
        p = 0
        for c in range(size):                       # then by row, columns ascending within each row
            stop = col_ptr[c]
            while p < stop:
                r = by_col_rows[p]
                q = indptr[r]
                out_cols[q] = c
                out_vals[q] = by_col_vals[p]
                indptr[r] = q + 1
                p += 1
        # indptr[r] is now the end of row r; sum neighbours with equal columns, compacting to w
        w = 0
        start = 0
        for r in range(size):
            stop = indptr[r]
            indptr[r] = w
            p = start
            while p < stop:
                c = out_cols[p]
                out_cols[w] = c
                out_vals[w] = out_vals[p]
                p += 1
                while p < stop and out_cols[p] == c:
                    out_vals[w] += out_vals[p]
                    p += 1
                w += 1
            start = stop
        indptr[size] = w
    return indptr_arr, out_cols_arr[:w].copy(), out_vals_arr[:w].copy()
