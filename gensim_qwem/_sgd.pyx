# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Tied-weight QWEM SGD for one job of sentences (docs/theory.rst, "The loss"); GIL released for the whole job.

Numpy twin: ``gensim_qwem._reference.train_job``.
"""
import numpy as np

from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from gensim_qwem._blas cimport dot, axpy
from gensim_qwem._encoding cimport PairSlot, slot_hash
from gensim_qwem._random cimport next_u64


cdef inline int32_t draw_noise(uint64_t *state, const uint32_t *threshold, const int32_t *alias,
                               uint64_t size) noexcept nogil:
    """n ~ Q in O(1) by the alias method: column j = high 32 bits scaled to [0, V), coin = low 32 bits"""
    cdef uint64_t r = next_u64(state)
    cdef uint64_t j = ((r >> 32) * size) >> 32
    if (r & 0xFFFFFFFFULL) < threshold[j]:
        return <int32_t>j
    return alias[j]


cdef extern from *:
    """
    static inline void qwem_prefetch(const void *p) { __builtin_prefetch(p); }
    """
    void prefetch "qwem_prefetch" (const void *p) noexcept nogil


cdef inline double lookup_pair(const int64_t *offsets, const PairSlot *slots, int32_t row,
                               int32_t col) noexcept nogil:
    """A[row, col] from row's hash table (0 when absent); needs col <= row"""
    cdef int64_t lo = offsets[row]
    cdef uint64_t mask = <uint64_t>(offsets[row + 1] - lo) - 1
    cdef uint64_t h
    if offsets[row + 1] == lo:
        return 0.0
    h = slot_hash(col, mask)
    while True:
        if slots[lo + h].key == col:
            return slots[lo + h].value
        if slots[lo + h].key < 0:
            return 0.0
        h = (h + 1) & mask


cdef struct Weighting:
    bint uniform
    const float *dense_psi      # psi for pairs of the `dense_size` most frequent words, row-major
    int64_t dense_size
    const int64_t *offsets      # _encoding.pair_table of A, expected positive-pair counts per epoch
    const PairSlot *slots
    const double *pair_rate     # a_i = sum_j A_ij
    const double *noise         # Q_i = count_i ** ns_exponent / Z
    double half_k               # k / 2
    double scale                # c = mean of G over all V^2 entries
    double max_weight


cdef inline void prefetch_weight(Weighting *wt, int32_t i, int32_t j) noexcept nogil:
    """start loading the slot (or dense entry) that pair_weight(i, j) will read"""
    cdef int32_t row = i if i > j else j
    cdef int32_t col = j if i > j else i
    cdef int64_t lo
    if i < wt.dense_size and j < wt.dense_size:
        prefetch(&wt.dense_psi[i * wt.dense_size + j])
        return
    lo = wt.offsets[row]
    if wt.offsets[row + 1] > lo:
        prefetch(&wt.slots[lo + slot_hash(col, <uint64_t>(wt.offsets[row + 1] - lo) - 1)])


cdef inline double pair_weight(Weighting *wt, int32_t i, int32_t j) noexcept nogil:
    """psi_ij = min(c / G_ij, max_weight), G_ij = A_ij + k (a_i Q_j + a_j Q_i) / 2; 1 without weighting"""
    cdef double g
    if not wt.uniform:
        return 1.0
    if i < wt.dense_size and j < wt.dense_size:
        return wt.dense_psi[i * wt.dense_size + j]
    # A is symmetric: look in the row of the rarer word (larger index)
    if i > j:
        g = lookup_pair(wt.offsets, wt.slots, i, j)
    else:
        g = lookup_pair(wt.offsets, wt.slots, j, i)
    g += wt.half_k * (wt.pair_rate[i] * wt.noise[j] + wt.pair_rate[j] * wt.noise[i])
    if g * wt.max_weight <= wt.scale:
        return wt.max_weight
    return wt.scale / g


DEF PREFETCH_AHEAD = 6   # steps whose target vectors are in flight while one runs


cdef inline void prefetch_vector(const float *v, int size) noexcept nogil:
    """start loading a vector of `size` floats, one 64-byte cache line (16 floats) at a time"""
    cdef int line
    for line in range(0, size, 16):
        prefetch(v + line)


cdef struct Step:
    int32_t target
    bint positive
    bint last_of_group          # the centre's accumulated update is applied after this step
    double psi                  # weight, times the group size for negatives


cdef inline double update_pair(float *w_center, float *w_target, float *work, int size,
                               double alpha, double psi, bint positive, float target_lock) noexcept nogil:
    """One QWEM pair step from pre-update vectors; the centre's share goes to `work`. Returns the pair loss.

    positive: g = alpha psi (1 - x/2), loss psi (-x + x^2/4)
    negative: g = -alpha psi (1 + x/2), loss psi (x + x^2/4)
    work += g w_target;  w_target += lockf_target g w_center
    """
    cdef double x = dot(size, w_center, w_target)
    cdef double g
    cdef double loss
    if positive:
        g = alpha * psi * (1.0 - 0.5 * x)
        loss = psi * (-x + 0.25 * x * x)
    else:
        g = -alpha * psi * (1.0 + 0.5 * x)
        loss = psi * (x + 0.25 * x * x)
    axpy(size, <float>g, w_target, work)
    axpy(size, <float>(g * target_lock), w_center, w_target)
    return loss


cdef inline float lock_factor(const float *lockf, int64_t lock_len, int32_t word) noexcept nogil:
    """gensim's vectors_lockf[word % len]: 0 freezes the word's vector, 1 (no array) trains it fully"""
    return lockf[word % lock_len] if lockf != NULL else 1.0


cdef class UniformWeights:
    """What the kernel reads for psi_ij = min(c / G_ij, max_weight) (weighting='uniform'), built once per train().

    `table`: ``_encoding.pair_table`` of A; `pair_rate`, `noise`: a and Q; `scale`: c; `dense_psi`: psi for the
    pairs of the most frequent words (``target.uniform_weight_block``), read instead of the table.
    """
    cdef const int64_t[::1] table_offsets
    cdef const int32_t[:, ::1] table_slots
    cdef const double[::1] pair_rate
    cdef const double[::1] noise
    cdef const float[:, ::1] dense_psi
    cdef double scale, max_weight

    def __init__(self, table, pair_rate, noise, double scale, double max_weight, dense_psi):
        self.table_offsets, self.table_slots = table
        self.pair_rate, self.noise = pair_rate, noise
        self.scale, self.max_weight = scale, max_weight
        self.dense_psi = dense_psi


cdef class JobSettings:
    """Everything of a job but its sentences, learning rate and seed: the same for all jobs of a train() call.

    `noise_table`: (threshold, alias) of ``target.alias_table``; `weights`: :class:`UniformWeights`, or None
    for weight 1; `lockf`: gensim's ``wv.vectors_lockf`` (float32), or None when all 1.
    """
    cdef const uint32_t[::1] sample_int
    cdef bint subsample
    cdef const uint32_t[::1] noise_threshold
    cdef const int32_t[::1] noise_alias
    cdef int window, negative, share, noise_draws
    cdef bint shrink_windows
    cdef UniformWeights weights
    cdef const float[::1] lockf

    def __init__(self, sample_int, bint subsample, noise_table, int window, bint shrink_windows, int negative,
                 int share=1, int noise_draws=0, UniformWeights weights=None, lockf=None):
        self.sample_int, self.subsample = sample_int, subsample
        self.noise_threshold, self.noise_alias = noise_table
        self.window, self.shrink_windows, self.negative = window, shrink_windows, negative
        self.share, self.noise_draws = share, noise_draws
        self.weights = weights
        if lockf is not None:
            self.lockf = lockf


def train_job(JobSettings settings, float[:, ::1] vectors, const int32_t[::1] indices, const int64_t[::1] offsets,
              double alpha, uint64_t seed, float[::1] work):
    """Train on one job (sentences already mapped to indices, ``_encoding.sentences_to_indices``).
    Returns (loss, effective words, pair updates).

    With ``settings.weights``, psi_ij comes from its `dense_psi` for i, j < len(dense_psi) (precomputed, the
    most frequent words) and from A's pair table otherwise.

    For each kept centre i and each context j in its (shrunk) window: a positive pair (i, j) and
    `negative` pairs (i, n), n ~ Q (alias table, ``target.alias_table``); the centre's update is applied after its group.
    With `share` = r > 1, consecutive contexts of a centre form groups of up to r that draw `negative`
    noise words once, each weighted by the group size: the expected update (and so the closed form)
    is unchanged, with about m (1 + k / r) instead of m (1 + k) vector updates per centre.
    With `noise_draws` = n > `negative` = k, each group draws n noise words, each weighted k / n: the
    same expected update with less variance, for about m (1 + n) vector updates per centre (0: n = k).
    With `lockf` (gensim's ``wv.vectors_lockf``), every update of word n's vector is scaled by
    ``lockf[n % len(lockf)]``.

    Each centre's steps are planned first (same random draws, same order), so that the weights and
    vectors they read can be prefetched: the lookups are independent, their cache misses overlap.
    """
    cdef const uint32_t[::1] sample_int = settings.sample_int
    cdef bint subsample = settings.subsample
    cdef const uint32_t[::1] noise_threshold = settings.noise_threshold
    cdef const int32_t[::1] noise_alias = settings.noise_alias
    cdef int window = settings.window, negative = settings.negative, share = settings.share
    cdef int noise_draws = settings.noise_draws
    cdef bint shrink_windows = settings.shrink_windows
    cdef UniformWeights weights = settings.weights
    cdef bint uniform = weights is not None
    cdef int size = vectors.shape[1]
    cdef int64_t n_tokens = indices.shape[0]
    cdef int64_t n_sentences = offsets.shape[0] - 1
    cdef uint64_t vocab_size = noise_threshold.shape[0]
    cdef uint64_t state = seed if seed != 0 else 0x9E3779B97F4A7C15ULL
    cdef int32_t[::1] kept = np.empty(n_tokens, dtype=np.int32)
    cdef int64_t[::1] kept_offsets = np.empty(n_sentences + 1, dtype=np.int64)
    cdef int64_t s, p, i, j, lo, hi, start, stop, n_kept = 0, pairs = 0
    cdef int run, reduced, t, n_steps, e
    cdef double loss = 0.0
    cdef float *w
    cdef float *w_center
    cdef Weighting wt
    cdef const float *lock = NULL
    cdef int64_t lock_len = 0
    if settings.lockf is not None and settings.lockf.shape[0] > 0:
        lock, lock_len = &settings.lockf[0], settings.lockf.shape[0]
    if noise_draws <= 0:
        noise_draws = negative
    cdef double noise_weight = negative / <double>max(noise_draws, 1)   # each draw's share of the k negatives
    # at most 2 window contexts, each its own group in the worst case
    cdef Step *steps = <Step *>malloc((2 * window * (1 + max(noise_draws, 0)) + 1) * sizeof(Step))
    if steps == NULL:
        raise MemoryError("no memory for a centre's plan of SGD steps")

    memset(&wt, 0, sizeof(Weighting))   # only read when uniform; zeroed so no field is ever undefined
    wt.uniform = uniform
    if uniform:
        wt.offsets = &weights.table_offsets[0]
        wt.slots = <const PairSlot *>&weights.table_slots[0, 0] if weights.table_slots.shape[0] else NULL
        wt.pair_rate = &weights.pair_rate[0]
        wt.noise = &weights.noise[0]
        wt.half_k = 0.5 * negative
        wt.scale = weights.scale
        wt.max_weight = weights.max_weight
        wt.dense_size = weights.dense_psi.shape[0]
        wt.dense_psi = &weights.dense_psi[0, 0] if wt.dense_size else NULL

    try:
        with nogil:
            w = &vectors[0, 0]
            # subsampling: keep word n with probability (sample_int[n] + 1) / 2**32
            for s in range(n_sentences):
                kept_offsets[s] = n_kept
                for p in range(offsets[s], offsets[s + 1]):
                    if subsample and sample_int[indices[p]] < (next_u64(&state) >> 32):
                        continue
                    kept[n_kept] = indices[p]
                    n_kept += 1
            kept_offsets[n_sentences] = n_kept

            for s in range(n_sentences):
                lo = kept_offsets[s]
                hi = kept_offsets[s + 1]
                for i in range(lo, hi):
                    reduced = <int>(next_u64(&state) % <uint64_t>window) if shrink_windows else 0
                    w_center = w + <int64_t>kept[i] * size
                    start = max(lo, i - window + reduced)
                    stop = min(hi, i + window + 1 - reduced)
                    # plan: groups of up to `share` consecutive contexts; each group draws `noise_draws` noise
                    # words, each weighted by its size * negative / noise_draws: the same expected rates B
                    n_steps = 0
                    run = 0
                    for j in range(start, stop):
                        if j == i:
                            continue
                        steps[n_steps].target = kept[j]
                        steps[n_steps].positive = True
                        steps[n_steps].last_of_group = False
                        steps[n_steps].psi = 1.0
                        n_steps += 1
                        run += 1
                        if run < share and j + 1 < stop and not (j + 1 == i and j + 2 >= stop):
                            continue
                        for t in range(noise_draws):
                            steps[n_steps].target = draw_noise(&state, &noise_threshold[0], &noise_alias[0],
                                                               vocab_size)
                            steps[n_steps].positive = False
                            steps[n_steps].last_of_group = False
                            steps[n_steps].psi = run * noise_weight
                            n_steps += 1
                        steps[n_steps - 1].last_of_group = True
                        run = 0
                    if uniform:
                        for e in range(n_steps):
                            prefetch_weight(&wt, kept[i], steps[e].target)
                        for e in range(n_steps):
                            steps[e].psi *= pair_weight(&wt, kept[i], steps[e].target)
                    for e in range(min(n_steps, PREFETCH_AHEAD)):
                        prefetch_vector(w + <int64_t>steps[e].target * size, size)
                    # run the plan: work accumulates the centre's steps within a group
                    memset(&work[0], 0, size * sizeof(float))
                    for e in range(n_steps):
                        if e + PREFETCH_AHEAD < n_steps:
                            prefetch_vector(w + <int64_t>steps[e + PREFETCH_AHEAD].target * size, size)
                        loss += update_pair(w_center, w + <int64_t>steps[e].target * size, &work[0], size, alpha,
                                            steps[e].psi, steps[e].positive,
                                            lock_factor(lock, lock_len, steps[e].target))
                        if steps[e].last_of_group:  # w_center += lockf_center * sum of its group's steps
                            axpy(size, lock_factor(lock, lock_len, kept[i]), &work[0], w_center)
                            memset(&work[0], 0, size * sizeof(float))
                    pairs += n_steps
    finally:
        free(steps)
    return loss, n_kept, pairs
