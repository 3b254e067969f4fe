# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Tied-weight QWEM SGD for one job of sentences (THEORY §1); GIL released for the whole job.

Numpy twin: ``gensim_qwem._reference.train_job``.
"""
import numpy as np

from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t
from libc.string cimport memset

from gensim_qwem._blas cimport dot, axpy
from gensim_qwem._random cimport next_u64


def sentences_to_indices(sentences, dict key_to_index):
    """Tokens -> (int32 vocabulary indices with OOV words removed, int64 sentence offsets, raw word count)."""
    cdef Py_ssize_t n_raw = 0, n_kept = 0, n_sent = 0
    cdef list kept = []
    cdef list offsets = [0]
    for sentence in sentences:
        if isinstance(sentence, (str, bytes)):
            raise TypeError(
                "Each sentence of the corpus must be a list of tokens (str), got a plain "
                f"{type(sentence).__name__} {sentence[:40]!r}. Split your text into words first, "
                "e.g. [line.split() for line in lines], or use gensim.models.word2vec.LineSentence.")
        if sentence is None:
            raise TypeError("The corpus contains a None sentence; every sentence must be a list of tokens.")
        for token in sentence:
            index = key_to_index.get(token)
            if index is not None:
                kept.append(index)
        n_raw += len(sentence)
        offsets.append(len(kept))
    return (np.asarray(kept, dtype=np.int32), np.asarray(offsets, dtype=np.int64), n_raw)


cdef inline int32_t draw_noise(uint64_t *state, const uint32_t *threshold, const int32_t *alias,
                               uint64_t size) noexcept nogil:
    """n ~ Q in O(1) by the alias method: column j = high 32 bits scaled to [0, V), coin = low 32 bits"""
    cdef uint64_t r = next_u64(state)
    cdef uint64_t j = ((r >> 32) * size) >> 32
    if (r & 0xFFFFFFFFULL) < threshold[j]:
        return <int32_t>j
    return alias[j]


cdef inline double lookup_sparse(const int64_t *indptr, const int32_t *indices, const double *data,
                                 int64_t row, int32_t col) noexcept nogil:
    """A[row, col] of a CSR matrix with sorted column indices (0 when absent).

    Galloping search from the row start: with the vocabulary sorted by frequency, the frequent words
    that most pairs involve sit near the start of each row.
    """
    cdef int64_t lo = indptr[row], end = indptr[row + 1], step = 1, hi, mid
    while lo + step < end and indices[lo + step] < col:
        lo += step
        step <<= 1
    hi = min(lo + step + 1, end)
    while hi > lo:
        mid = (lo + hi) >> 1
        if indices[mid] < col:
            lo = mid + 1
        else:
            hi = mid
    if lo < indptr[row + 1] and indices[lo] == col:
        return data[lo]
    return 0.0


cdef struct Weighting:
    bint uniform
    const float *dense_psi      # psi for pairs of the `dense_size` most frequent words, row-major
    int64_t dense_size
    const int64_t *indptr
    const int32_t *indices
    const double *data          # A, expected positive-pair counts per epoch
    const double *pair_rate     # a_i = sum_j A_ij
    const double *noise         # Q_i = count_i ** ns_exponent / Z
    double half_k               # k / 2
    double scale                # c = mean of G over all V^2 entries
    double max_weight


cdef inline double pair_weight(Weighting *wt, int32_t i, int32_t j) noexcept nogil:
    """psi_ij = min(c / G_ij, max_weight), G_ij = A_ij + k (a_i Q_j + a_j Q_i) / 2; 1 without weighting"""
    cdef double g
    if not wt.uniform:
        return 1.0
    if i < wt.dense_size and j < wt.dense_size:
        return wt.dense_psi[i * wt.dense_size + j]
    # A is symmetric: search the row of the rarer word (larger index: shorter row), where the more
    # frequent word's column sits near the start
    if i > j:
        g = lookup_sparse(wt.indptr, wt.indices, wt.data, i, j)
    else:
        g = lookup_sparse(wt.indptr, wt.indices, wt.data, j, i)
    g += wt.half_k * (wt.pair_rate[i] * wt.noise[j] + wt.pair_rate[j] * wt.noise[i])
    if g * wt.max_weight <= wt.scale:
        return wt.max_weight
    return wt.scale / g


cdef inline double update_pair(float *w_center, float *w_target, float *work, int size,
                               double alpha, double psi, bint positive) noexcept nogil:
    """One QWEM pair step from pre-update vectors; the centre's share goes to `work`. Returns the pair loss.

    positive: g = alpha psi (1 - x/2), loss psi (-x + x^2/4)
    negative: g = -alpha psi (1 + x/2), loss psi (x + x^2/4)
    work += g w_target;  w_target += g w_center
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
    axpy(size, <float>g, w_center, w_target)
    return loss


def train_job(
        float[:, ::1] vectors, const int32_t[::1] indices, const int64_t[::1] offsets,
        const uint32_t[::1] sample_int, bint subsample,
        const uint32_t[::1] noise_threshold, const int32_t[::1] noise_alias,
        int window, bint shrink_windows, int negative, double alpha, uint64_t seed,
        bint uniform, const int64_t[::1] a_indptr, const int32_t[::1] a_indices, const double[::1] a_data,
        const double[::1] pair_rate, const double[::1] noise, double scale, double max_weight,
        const float[:, ::1] dense_psi, float[::1] work, int share=1):
    """Train on one job (sentences already mapped to indices). Returns (loss, effective words, pair updates).

    With `uniform`, psi_ij comes from `dense_psi` for i, j < len(dense_psi) (precomputed, the most
    frequent words) and from the CSR arrays of A otherwise.

    For each kept centre i and each context j in its (shrunk) window: a positive pair (i, j) and
    `negative` pairs (i, n), n ~ Q (alias table, ``target.alias_table``); the centre's update is applied after its group.
    With `share` = r > 1, consecutive contexts of a centre form groups of up to r that draw `negative`
    noise words once, each weighted by the group size: the expected update (and so the closed form)
    is unchanged, with about m (1 + k / r) instead of m (1 + k) vector updates per centre.
    """
    cdef int size = vectors.shape[1]
    cdef int64_t n_tokens = indices.shape[0]
    cdef int64_t n_sentences = offsets.shape[0] - 1
    cdef uint64_t vocab_size = noise_threshold.shape[0]
    cdef uint64_t state = seed if seed != 0 else 0x9E3779B97F4A7C15ULL
    cdef int32_t[::1] kept = np.empty(n_tokens, dtype=np.int32)
    cdef int64_t[::1] kept_offsets = np.empty(n_sentences + 1, dtype=np.int64)
    cdef int64_t s, p, i, j, lo, hi, start, stop, n_kept = 0, pairs = 0
    cdef int run
    cdef int reduced, t
    cdef int32_t center, target
    cdef double loss = 0.0
    cdef float *w
    cdef float *w_center
    cdef Weighting wt

    wt.uniform = uniform
    if uniform:
        wt.indptr = &a_indptr[0]
        wt.indices = &a_indices[0] if a_indices.shape[0] else NULL
        wt.data = &a_data[0] if a_data.shape[0] else NULL
        wt.pair_rate = &pair_rate[0]
        wt.noise = &noise[0]
        wt.half_k = 0.5 * negative
        wt.scale = scale
        wt.max_weight = max_weight
        wt.dense_size = dense_psi.shape[0]
        wt.dense_psi = &dense_psi[0, 0] if wt.dense_size else NULL

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
                center = kept[i]
                w_center = w + <int64_t>center * size
                start = max(lo, i - window + reduced)
                stop = min(hi, i + window + 1 - reduced)
                # groups of up to `share` consecutive contexts; each group draws `negative` noise words
                # weighted by its size: the same expected rates B with fewer vector updates
                run = 0
                for j in range(start, stop):
                    if j == i:
                        continue
                    if run == 0:
                        memset(&work[0], 0, size * sizeof(float))
                    target = kept[j]
                    loss += update_pair(w_center, w + <int64_t>target * size, &work[0], size, alpha,
                                        pair_weight(&wt, center, target), True)
                    run += 1
                    if run < share and j + 1 < stop and not (j + 1 == i and j + 2 >= stop):
                        continue
                    for t in range(negative):
                        target = draw_noise(&state, &noise_threshold[0], &noise_alias[0], vocab_size)
                        loss += update_pair(w_center, w + <int64_t>target * size, &work[0], size, alpha,
                                            run * pair_weight(&wt, center, target), False)
                    axpy(size, 1.0, &work[0], w_center)  # w_center += sum of its group's steps
                    pairs += run + negative
                    run = 0
    return loss, n_kept, pairs
