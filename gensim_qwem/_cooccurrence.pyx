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
    /* Where exact sums (int64, units of 2**-32) go instead of triples, for a pair (lo, hi), lo <= hi:
       the block `dense` (D x D) when hi < D (pairs of two of the D most frequent words), else the band
       `band` (R x V, rows `V` apart) when lo < R (a pair of one of the R most frequent words with any word). */
    typedef struct { int64_t *dense; int32_t D; int64_t *band; int32_t R; int64_t V; } qwem_exact_t;

    /* the cell of (lo, hi) in the exact sums, or `other` for a pair that goes to the triples; branch-free */
    static inline void *qwem_exact_cell(const qwem_exact_t *e, int32_t lo, int32_t hi, void *other) {
        void *cell = hi < e->D ? (void *)(e->dense + (int64_t)lo * e->D + hi) : other;
        return (hi >= e->D) & (lo < e->R) ? (void *)(e->band + (int64_t)lo * e->V + hi) : cell;
    }

    /* The subsampled walk right of one centre i, for a window L <= 8 known at compile time (one function
       per L, picked by qwem_walk): q[m] = P(exactly m kept tokens strictly between i and j) lives in
       registers, the weight of the pair (i, j) is p_i p_j sum_m q[m] w[m], and token j then becomes an
       in-between token, q'[m] = q[m] (1 - p_j) + q[m - 1] p_j. The walk stops when the mass sum_m q[m] is
       under `tol` or at the sentence end `hi`. Pairs of weight > 0 go to
       (js, ws), at most hi - i - 1 of them; returns how many. Each pair's cell of the exact sums `e`
       (qwem_exact_cell) is prefetched as it is found, for qwem_emit_upper to find it in cache. */
    #define QWEM_WALK(L)                                                                                  \\
    static inline int64_t qwem_walk_##L(const int32_t *idx, int64_t i, int64_t hi, const double *keep,    \\
                                        double p_i, const double *w, double tol, int64_t *js, double *ws, \\
                                        const qwem_exact_t *e)                                            \\
    {                                                                                                     \\
        double q[L], mass;                                                                                \\
        int64_t n = 0;                                                                                    \\
        const int32_t a = idx[i];                                                                         \\
        q[0] = 1.0;                                                                                       \\
        for (int m = 1; m < L; m++) q[m] = 0.0;                                                           \\
        for (int64_t j = i + 1; j < hi; j++) {                                                            \\
            const int32_t b = idx[j];                                                                     \\
            const double p = keep[b];                                                                     \\
            __builtin_prefetch(qwem_exact_cell(e, a < b ? a : b, a < b ? b : a, &mass), 1);               \\
            double total = 0.0;                                                                           \\
            for (int m = 0; m < L; m++) total += q[m] * w[m];                                             \\
            js[n] = j; ws[n] = p_i * p * total; n += (p > 0.0) & (total > 0.0);  /* kept: no branch */      \\
            for (int m = L - 1; m > 0; m--) q[m] = q[m] * (1.0 - p) + q[m - 1] * p;                       \\
            q[0] *= 1.0 - p;                                                                              \\
            mass = 0.0;                                                                                   \\
            for (int m = 0; m < L; m++) mass += q[m];                                                     \\
            if (mass < tol) break;                                                                        \\
        }                                                                                                 \\
        return n;                                                                                         \\
    }
    QWEM_WALK(1) QWEM_WALK(2) QWEM_WALK(3) QWEM_WALK(4) QWEM_WALK(5) QWEM_WALK(6) QWEM_WALK(7) QWEM_WALK(8)
    static inline int64_t qwem_walk(int L, const int32_t *idx, int64_t i, int64_t hi, const double *keep,
                                    double p_i, const double *w, double tol, int64_t *js, double *ws,
                                    const qwem_exact_t *e) {
        switch (L) {
            case 1: return qwem_walk_1(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 2: return qwem_walk_2(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 3: return qwem_walk_3(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 4: return qwem_walk_4(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 5: return qwem_walk_5(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 6: return qwem_walk_6(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            case 7: return qwem_walk_7(idx, i, hi, keep, p_i, w, tol, js, ws, e);
            default: return qwem_walk_8(idx, i, hi, keep, p_i, w, tol, js, ws, e);
        }
    }

    /* a pair weight v >= 0 in the exact sums' units: rounded to the nearest multiple of 2**-32 (the one
       rounding every path uses, so that any split of a corpus gives the same sums) */
    static inline int64_t qwem_units(double v) { return (int64_t)(v * 4294967296.0 + 0.5); }

    /* One centre's pairs (a, idx[js[t]]) of weight ws[t], as the upper triangle of A = C + C^T: (min, max),
       a diagonal pair twice. Pairs with a cell in the exact sums `e` (qwem_exact_cell) are added there, each
       increment rounded to units of 2**-32; the others are written as triples from rows/cols/vals on (room
       for n needed). Branch-free: which word is the smaller and where the pair goes depend on the text and
       would be mispredicted half the time; a pair for the triples adds 0 to `*sink` instead and one with a
       cell leaves its triple to be overwritten. Returns the triples written. */
    static inline int64_t qwem_emit_upper(int32_t a, const int32_t *idx, const int64_t *js, const double *ws,
                                          int64_t n, const qwem_exact_t *e, int64_t *sink,
                                          int32_t *rows, int32_t *cols, double *vals) {
        int64_t w = 0;
        for (int64_t t = 0; t < n; t++) {
            const int32_t b = idx[js[t]];
            const int32_t lo = a < b ? a : b, hi = a < b ? b : a;
            const double v = a == b ? 2.0 * ws[t] : ws[t];
            int64_t *cell = (int64_t *)qwem_exact_cell(e, lo, hi, sink);
            const int exact = cell != sink;
            *cell += exact ? qwem_units(v) : 0;   /* the sink stays 0 */
            rows[w] = lo; cols[w] = hi; vals[w] = v;
            w += !exact;
        }
        return w;
    }
    """
    ctypedef struct qwem_exact_t:
        int64_t *dense
        int32_t D
        int64_t *band
        int32_t R
        int64_t V
    void *qwem_exact_cell(const qwem_exact_t *e, int32_t lo, int32_t hi, void *other) noexcept nogil
    int64_t qwem_walk(int L, const int32_t *idx, int64_t i, int64_t hi, const double *keep, double p_i,
                      const double *w, double tol, int64_t *js, double *ws, const qwem_exact_t *e) noexcept nogil
    int64_t qwem_units(double v) noexcept nogil
    int64_t qwem_emit_upper(int32_t a, const int32_t *idx, const int64_t *js, const double *ws, int64_t n,
                            const qwem_exact_t *e, int64_t *sink, int32_t *rows, int32_t *cols,
                            double *vals) noexcept nogil


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


cdef int reserve(Triples *out, int64_t extra) noexcept nogil:
    """room for `extra` more triples, growing the buffers by half (or to fit) when needed (into buffers of
    its own when they were the caller's); -1 when out of memory"""
    cdef int64_t capacity
    cdef void *p
    if out.size + extra <= out.capacity:
        return 0
    if not out.owned and move_to_own_buffers(out) < 0:
        return -1
    capacity = max(out.capacity + out.capacity // 2 + 1024, out.size + extra)
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
    return 0


cdef int push(Triples *out, int32_t row, int32_t col, double val) noexcept nogil:
    """append (row, col, val) (see reserve); -1 when out of memory"""
    if reserve(out, 1) < 0:
        return -1
    out.rows[out.size] = row
    out.cols[out.size] = col
    out.vals[out.size] = val
    out.size += 1
    return 0


cdef inline int emit_centre(Triples *out, int32_t word, const int32_t *idx, const int64_t *js, const double *ws,
                            int64_t n, const qwem_exact_t *exact, int64_t *sink) noexcept nogil:
    """one centre's n walked pairs into the exact sums or the triples (qwem_emit_upper); -1 when out of memory"""
    if reserve(out, n) < 0:
        return -1
    out.size += qwem_emit_upper(word, idx, js, ws, n, exact, sink, out.rows + out.size, out.cols + out.size,
                                out.vals + out.size)
    return 0


cdef inline int add_pair(Triples *out, double *dense, int32_t dense_size, const qwem_exact_t *exact, int32_t row,
                         int32_t col, double val, bint upper) noexcept nogil:
    """dense[row, col] += val for two of the `dense_size` most frequent words, else append a triple; with
    exact sums (`exact`: a block or band given), their cell takes the pair instead of `dense`.

    With `upper`, the pair goes to (min, max) instead: the upper triangle of A = C + C^T directly, where a
    diagonal pair counts twice (A_ii = 2 C_ii)."""
    cdef int32_t swap
    cdef int64_t *cell = NULL
    if upper:
        if row > col:
            swap = row
            row = col
            col = swap
        elif row == col:
            val = 2.0 * val
    if exact.D > 0 or exact.R > 0:  # in units of 2**-32, each increment rounded (see sum_triples_fixed)
        if upper:
            cell = <int64_t *>qwem_exact_cell(exact, row, col, NULL)
        elif row < exact.D and col < exact.D:
            cell = exact.dense + <int64_t>row * exact.D + col
        if cell != NULL:
            cell[0] += qwem_units(val)
            return 0
    elif row < dense_size and col < dense_size:
        dense[<int64_t>row * dense_size + col] += val
        return 0
    return push(out, row, col, val)


def count_pairs_job(const int32_t[::1] indices, const int64_t[::1] offsets, const double[::1] keep_prob,
                    bint subsample, int window, bint shrink_windows, double tolerance=1e-9,
                    double[:, ::1] dense=None, bint upper=False, buffers=None, int64_t[:, ::1] dense_fixed=None,
                    int64_t[:, ::1] band_fixed=None):
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
    `band_fixed` (int64, R x V, with `upper`) likewise takes the pairs (i, j), i <= j, of the R most frequent
    words with any other that are not in `dense_fixed` (j >= D): a third to half of the rest of the pairs.

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
    cdef qwem_exact_t exact
    exact.dense, exact.D, exact.band, exact.R, exact.V = NULL, 0, NULL, 0, 0
    if (dense_fixed is not None and dense_fixed.shape[0] > 0 or band_fixed is not None and band_fixed.shape[0] > 0) \
            and dense is not None:
        raise ValueError("give dense or dense_fixed / band_fixed, not both")
    if dense_fixed is not None and dense_fixed.shape[0] > 0:
        if dense_fixed.shape[0] != dense_fixed.shape[1]:
            raise ValueError(f"dense_fixed must be square, got {dense_fixed.shape[0]} x {dense_fixed.shape[1]}")
        exact.dense, exact.D = &dense_fixed[0, 0], dense_fixed.shape[0]
    if band_fixed is not None and band_fixed.shape[0] > 0:
        if not upper:
            raise ValueError("band_fixed takes pairs (i, j), i <= j: count with upper=True")
        if indices.shape[0] and np.asarray(indices).max() >= band_fixed.shape[1]:
            raise ValueError(f"band_fixed has {band_fixed.shape[1]} columns, fewer than the vocabulary indexed")
        exact.band, exact.R, exact.V = &band_fixed[0, 0], band_fixed.shape[0], band_fixed.shape[1]
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
    cdef int64_t longest = 0, emitted, t, sink = 0, pending = 0
    cdef int32_t pending_word = 0
    cdef int64_t *walk_js = NULL
    cdef double *walk_ws = NULL
    cdef int64_t *pending_js = NULL
    cdef double *pending_ws = NULL
    if subsample and window <= 8:     # room for two centres' pairs: at most their sentences' length each
        for s in range(n_sentences):
            longest = max(longest, offsets[s + 1] - offsets[s])
        longest = max(longest, 1)
        walk_js = <int64_t *>malloc(2 * longest * sizeof(int64_t))
        walk_ws = <double *>malloc(2 * longest * sizeof(double))
        pending_js, pending_ws = walk_js + longest, walk_ws + longest
        if walk_js == NULL or walk_ws == NULL:
            free(walk_js); free(walk_ws)
            if out.owned:
                free(out.rows); free(out.cols); free(out.vals)
            raise MemoryError("could not allocate the walk buffer for one counting job")
    with nogil:
        for s in range(n_sentences):
            lo = offsets[s]
            hi = offsets[s + 1]
            for i in range(lo, hi):
                if not subsample:
                    stop = min(hi, i + window + 1)
                    for j in range(i + 1, stop):
                        if add_pair(&out, dense_ptr, dense_size, &exact, indices[i], indices[j],
                                    offset_weight[j - i - 1], upper) < 0:
                            failed = 1
                    continue
                p_i = keep_prob[indices[i]]
                if p_i <= 0.0:
                    continue
                if window <= 8:     # the walk below with the window a compile-time constant (qwem_walk)
                    emitted = qwem_walk(window, &indices[0], i, hi, &keep_prob[0], p_i, offset_weight, tolerance,
                                        walk_js, walk_ws, &exact)
                    if upper and dense_ptr == NULL:     # the counting's case: exact sums or none, no branches
                        # the previous centre's pairs are emitted now, a walk after the walk prefetched their
                        # cells of the exact sums; this centre's wait in the other half of the buffers
                        if emit_centre(&out, pending_word, &indices[0], pending_js, pending_ws, pending, &exact,
                                       &sink) < 0:
                            failed = 1
                            break
                        pending, pending_word = emitted, indices[i]
                        walk_js, pending_js = pending_js, walk_js
                        walk_ws, pending_ws = pending_ws, walk_ws
                        continue
                    for t in range(emitted):
                        if add_pair(&out, dense_ptr, dense_size, &exact, indices[i], indices[walk_js[t]],
                                    walk_ws[t], upper) < 0:
                            failed = 1
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
                        if add_pair(&out, dense_ptr, dense_size, &exact, indices[i], indices[j], p_i * p_j * total,
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
        if pending and not failed:      # the last centre's pairs
            failed = emit_centre(&out, pending_word, &indices[0], pending_js, pending_ws, pending, &exact, &sink) < 0
    free(walk_js if walk_js < pending_js else pending_js)     # the start of the two halves
    free(walk_ws if walk_ws < pending_ws else pending_ws)
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


def sum_scratch(int64_t capacity, int32_t size, previous=None, outputs=True):
    """Working arrays of :func:`sum_triples_fixed` for up to `capacity` triples of a `size` x `size` matrix:
    `previous` when it is large enough, else new ones (a counting thread keeps one set for all its jobs, so
    its 24 bytes a triple are not mapped and zero-filled anew for each job). Without `outputs`, 12 bytes a
    triple, for sums that go into the triples' own arrays (``sum_triples_fixed(..., overwrite=True)``)."""
    if previous is not None and len(previous[0]) >= capacity and len(previous[4]) == size + 1 \
            and (not outputs or len(previous[2]) >= capacity):
        return previous
    room = capacity if outputs else 0
    return (np.empty(capacity, dtype=np.int32), np.empty(capacity, dtype=np.int64),
            np.empty(room, dtype=np.int32), np.empty(room, dtype=np.int64), np.empty(size + 1, dtype=np.int64))


def sum_triples_fixed(const int32_t[::1] rows, const int32_t[::1] cols, const double[::1] vals, int32_t size,
                      scratch=None, bint overwrite=False):
    """COO triples (duplicates allowed) -> CSR (indptr int64, indices int32 sorted in each row, data int64) of
    their sums in units of 2**-32, each value rounded to those units before it is added.

    Two stable counting sorts (by column, then by row) leave each row's triples in column order, so equal
    columns are neighbours and are summed in one pass: O(n + V), no comparison sort. `scratch`
    (:func:`sum_scratch`) holds the working arrays; only the result is allocated. With `overwrite`, the
    sorted sums are built in `cols` and `vals` themselves (read before they are written; their contents are
    lost), so the scratch needs no output arrays, and the indices and data returned are views of them:
    copy what is kept before they are reused.
    Numpy twin: ``_reference.sum_triples_fixed``.
    """
    cdef int64_t n = rows.shape[0], k, p, q, w, start, stop, outside = -1
    cdef int32_t r, c
    if cols.shape[0] != n or vals.shape[0] != n:
        raise ValueError("rows, cols and vals must have the same length")
    with nogil:
        for k in range(n):
            if rows[k] < 0 or rows[k] >= size or cols[k] < 0 or cols[k] >= size:
                outside = k
                break
    if outside >= 0:
        raise ValueError(f"triple {outside} = ({rows[outside]}, {cols[outside]}) lies outside a {size} x {size} matrix")
    by_col_rows_arr, by_col_vals_arr, out_cols_arr, out_vals_arr, col_ptr_arr = sum_scratch(n, size, scratch,
                                                                                            not overwrite)
    if overwrite:       # the triples' own arrays (writable), vals' bytes as int64 sums
        out_cols_arr, out_vals_arr = np.asarray(cols), np.asarray(vals).view(np.int64)
        if not (out_cols_arr.flags.writeable and out_vals_arr.flags.writeable):
            raise ValueError("overwrite=True needs writable cols and vals")
    col_ptr_arr[:] = 0
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
            by_col_vals[p] = qwem_units(vals[k])
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
    if overwrite:
        return indptr_arr, out_cols_arr[:w], out_vals_arr[:w]
    return indptr_arr, out_cols_arr[:w].copy(), out_vals_arr[:w].copy()


def fixed_to_float32(const int64_t[::1] data, double scale):
    """int64 sums in units of `scale` -> (float32 array of data * scale, whether any sum is negative: an
    overflow), in one pass: float32(float64(data) * scale), the same numbers as numpy's
    ``(data * scale).astype(np.float32)`` without its float64 temporary."""
    cdef int64_t n = data.shape[0], k
    cdef bint negative = False
    out_arr = np.empty(n, dtype=np.float32)
    cdef float[::1] out = out_arr
    with nogil:
        for k in range(n):
            negative |= data[k] < 0
            out[k] = <float>(<double>data[k] * scale)
    return out_arr, bool(negative)


def upper_nonzeros(blocks, int64_t size):
    """The upper triangle (j >= i) of the sum of int64 `blocks` (each rows x columns, the same shape: the top-left
    corner of a size x size matrix) -> CSR (indptr int64 of size + 1, indices int32, data int64) of its non-zero
    entries, sorted. Reads no cell below the diagonal (those pages of a np.zeros block stay unmapped).
    Numpy twin: ``cooccurrence.dense_upper`` of the blocks' sum."""
    cdef int64_t k = len(blocks), rows, columns, i, j, t
    cdef int64_t total
    if k == 0:
        raise ValueError("give at least one block")
    views = [np.ascontiguousarray(block, dtype=np.int64) for block in blocks]
    rows, columns = views[0].shape
    if any(view.shape != (rows, columns) for view in views) or rows > size or columns > size:
        raise ValueError(f"the blocks must have one shape, within {size} x {size}")
    cdef int64_t **cells = <int64_t **>malloc(k * sizeof(int64_t *))
    cdef int64_t[:, ::1] view
    if cells == NULL:
        raise MemoryError("could not allocate the blocks' table")
    indptr_arr = np.zeros(size + 1, dtype=np.int64)
    cdef int64_t[::1] indptr = indptr_arr
    try:
        for t in range(k):
            view = views[t]
            cells[t] = &view[0, 0] if rows and columns else NULL
        with nogil:
            for i in range(min(rows, columns)):     # entries per row, then their places
                for j in range(i, columns):
                    total = 0
                    for t in range(k):
                        total += cells[t][i * columns + j]
                    indptr[i + 1] += total != 0
        np.cumsum(indptr_arr, out=indptr_arr)
        indices_arr = np.empty(indptr[size], dtype=np.int32)
        data_arr = np.empty(indptr[size], dtype=np.int64)
        if indptr[size]:
            fill_upper_nonzeros(cells, k, min(rows, columns), columns, indices_arr, data_arr)
    finally:
        free(cells)
    return indptr_arr, indices_arr, data_arr


cdef void fill_upper_nonzeros(int64_t **cells, int64_t k, int64_t rows, int64_t columns, int32_t[::1] indices,
                              int64_t[::1] data) noexcept:
    """upper_nonzeros' second pass: the non-zero sums of rows [0, rows), j >= i, in order into indices / data"""
    cdef int64_t i, j, t, w = 0, total
    with nogil:
        for i in range(rows):
            for j in range(i, columns):
                total = 0
                for t in range(k):
                    total += cells[t][i * columns + j]
                if total != 0:
                    indices[w] = <int32_t>j
                    data[w] = total
                    w += 1


def sum_sorted_parts(parts, int64_t n_rows, scale=None, first_rows=None):
    """The sum of CSR matrices with int64 data and sorted column indices in every row (``parts``: a list of
    (indptr, indices, data) with n_rows + 1 index pointers each) -> (indptr int64, indices int32, data
    int64), sorted, in one pass: each row is a k-way merge of the parts' rows (equal columns added; sums
    of 0 left out).

    With `scale`, each sum is written as float32(float64(sum) * scale) instead, as :func:`fixed_to_float32`
    converts it, and the result is (indptr, indices, data float32, whether any sum is negative: an overflow);
    the int64 sums are never stored.

    With `first_rows` (one per part), part t holds only rows first_rows[t] .. first_rows[t] + m_t - 1 of the
    n_rows (its indptr has m_t + 1 pointers): blocks of rows, e.g. the row ranges of several running sums,
    merged into one result without first being stacked. Each row merges only the parts that hold it.

    One copy of every entry however many parts, where adding them two at a time copies the earlier ones
    again at each addition. Numpy twin: the sum with scipy (integer sums: the same numbers in any order).
    """
    cdef int64_t k = len(parts), t, r, rr, a, w = 0, bound = 0, best
    cdef int64_t total
    cdef bint to_float = scale is not None, negative = False
    cdef double factor = scale if to_float else 1.0
    firsts = np.zeros(max(k, 1), dtype=np.int64)
    counts = np.full(max(k, 1), n_rows, dtype=np.int64)
    if first_rows is not None:
        if len(first_rows) != k:
            raise ValueError(f"first_rows must give one row per part ({k}), got {len(first_rows)}")
        firsts[:k] = first_rows
    keep_alive = []
    for t, (indptr, indices, data) in enumerate(parts):
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        data = np.ascontiguousarray(data, dtype=np.int64)
        if first_rows is not None:
            counts[t] = len(indptr) - 1
        if (counts[t] < 0 or firsts[t] < 0 or firsts[t] + counts[t] > n_rows or len(indptr) != counts[t] + 1
                or len(indices) != len(data) or len(indices) < indptr[counts[t]]):
            raise ValueError(f"each part must be CSR with {n_rows} rows" if first_rows is None else
                             f"each part must be CSR of rows within the {n_rows} from its first row on")
        keep_alive.append((indptr, indices, data))
        bound += indptr[counts[t]] - indptr[0]
    cdef int64_t[::1] first = firsts, rows_held = counts
    cdef int64_t **starts = <int64_t **>malloc(max(k, 1) * sizeof(int64_t *))
    cdef int32_t **columns = <int32_t **>malloc(max(k, 1) * sizeof(int32_t *))
    cdef int64_t **values = <int64_t **>malloc(max(k, 1) * sizeof(int64_t *))
    cdef const int32_t **active_columns = <const int32_t **>malloc(max(k, 1) * sizeof(int32_t *))
    cdef const int64_t **active_values = <const int64_t **>malloc(max(k, 1) * sizeof(int64_t *))
    cdef int64_t *head = <int64_t *>malloc(max(k, 1) * sizeof(int64_t))
    cdef int64_t *end = <int64_t *>malloc(max(k, 1) * sizeof(int64_t))
    cdef int64_t *cur = <int64_t *>malloc(max(k, 1) * sizeof(int64_t))
    cdef int64_t NO_COLUMN = 1 << 40
    cdef int64_t[::1] ip_view
    cdef int32_t[::1] ix_view
    cdef int64_t[::1] val_view
    out_indptr_arr = np.zeros(n_rows + 1, dtype=np.int64)
    out_indices_arr = np.empty(max(bound, 1), dtype=np.int32)
    out_data_arr = np.empty(max(bound, 1) if not to_float else 1, dtype=np.int64)
    out_float_arr = np.empty(max(bound, 1) if to_float else 1, dtype=np.float32)
    cdef int64_t[::1] out_indptr = out_indptr_arr, out_data = out_data_arr
    cdef float[::1] out_float = out_float_arr
    cdef int32_t[::1] out_indices = out_indices_arr
    try:
        if (starts == NULL or columns == NULL or values == NULL or active_columns == NULL or active_values == NULL
                or head == NULL or end == NULL or cur == NULL):
            raise MemoryError("could not allocate the merge's part tables")
        for t in range(k):
            ip_view, ix_view, val_view = keep_alive[t]
            starts[t] = &ip_view[0]
            columns[t] = &ix_view[0] if ix_view.shape[0] else NULL
            values[t] = &val_view[0] if val_view.shape[0] else NULL
        with nogil:
            for r in range(n_rows):
                a = 0       # the parts with entries in row r, their heads first: cur[a] its column at the head
                for t in range(k):
                    rr = r - first[t]
                    if 0 <= rr < rows_held[t] and starts[t][rr] < starts[t][rr + 1]:
                        active_columns[a], active_values[a] = columns[t], values[t]
                        head[a], end[a] = starts[t][rr], starts[t][rr + 1]
                        cur[a] = columns[t][head[a]]
                        a += 1
                while True:
                    best = NO_COLUMN    # the smallest column at any head (compiled branch-free)
                    for t in range(a):
                        best = cur[t] if cur[t] < best else best
                    if best == NO_COLUMN:
                        break
                    total = 0
                    for t in range(a):
                        if cur[t] == best:
                            total += active_values[t][head[t]]
                            head[t] += 1
                            cur[t] = active_columns[t][head[t]] if head[t] < end[t] else NO_COLUMN
                    if total != 0:      # as scipy's sums, which drop zeros (a weight under 2**-33 rounds to 0)
                        out_indices[w] = <int32_t>best
                        if to_float:
                            negative |= total < 0
                            out_float[w] = <float>(<double>total * factor)
                        else:
                            out_data[w] = total
                        w += 1
                out_indptr[r + 1] = w
    finally:
        free(starts); free(columns); free(values); free(active_columns); free(active_values)
        free(head); free(end); free(cur)
    out_indices_arr.resize(w, refcheck=False)   # realloc: the unwritten tail is given back, nothing copied
    if to_float:
        out_float_arr.resize(w, refcheck=False)
        return out_indptr_arr, out_indices_arr, out_float_arr, bool(negative)
    out_data_arr.resize(w, refcheck=False)
    return out_indptr_arr, out_indices_arr, out_data_arr
