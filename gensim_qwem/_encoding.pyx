# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Encoding for the kernels: sentences of tokens as vocabulary indices, and A as per-row hash tables.

Used by the counter (:mod:`gensim_qwem.cooccurrence`) and the trainer alike, so neither imports the other's
kernel. The hash tables' layout (``PairSlot``, ``slot_hash``) is declared in ``_encoding.pxd``.
"""
import numpy as np

from libc.stdint cimport uint64_t, int64_t, int32_t

from gensim_qwem._validation import sentence_error


def sentences_to_indices(sentences, dict key_to_index):
    """Tokens -> (int32 vocabulary indices with OOV words removed, int64 sentence offsets, raw word count)."""
    cdef Py_ssize_t n_raw = 0
    cdef list kept = []
    cdef list offsets = [0]
    for sentence in sentences:
        if isinstance(sentence, (str, bytes)) or sentence is None:
            raise sentence_error(sentence)
        for token in sentence:
            index = key_to_index.get(token)
            if index is not None:
                kept.append(index)
        n_raw += len(sentence)
        offsets.append(len(kept))
    return (np.asarray(kept, dtype=np.int32), np.asarray(offsets, dtype=np.int64), n_raw)


def pair_table(const int64_t[::1] indptr, const int32_t[::1] indices, const double[::1] data):
    """Per-row open-addressing hash tables of the lower triangle of a symmetric CSR matrix.

    Row r's table holds its entries A[r, c] with c <= r in a power-of-two number of slots >= 2 n_r (load at
    most 1/2, so a search for an absent column ends within a few probes), at slots[offsets[r]:offsets[r + 1]].
    Look up A[i, j] in the row of max(i, j): with the vocabulary sorted by frequency that is the rarer word.
    Returns (offsets int64[V + 1], slots int32[n_slots, 2] holding (column, float32 bits of the value)).
    """
    cdef int64_t size = indptr.shape[0] - 1, r, p, n, lo, total = 0
    cdef uint64_t width, h
    offsets_arr = np.zeros(size + 1, dtype=np.int64)
    cdef int64_t[::1] offsets = offsets_arr
    for r in range(size):
        n = 0
        for p in range(indptr[r], indptr[r + 1]):
            if indices[p] <= r:
                n += 1
        width = 0
        if n:
            width = 2
            while width < <uint64_t>(2 * n):
                width <<= 1
        total += width
        offsets[r + 1] = total
    slots_arr = np.empty((total, 2), dtype=np.int32)
    slots_arr[:, 0] = -1
    cdef int32_t[:, ::1] slot_view = slots_arr
    cdef PairSlot *slots = <PairSlot *>&slot_view[0, 0] if total else NULL
    with nogil:
        for r in range(size):
            lo = offsets[r]
            width = offsets[r + 1] - lo
            for p in range(indptr[r], indptr[r + 1]):
                if indices[p] > r:
                    continue
                h = slot_hash(indices[p], width - 1)
                while slots[lo + h].key >= 0:
                    h = (h + 1) & (width - 1)
                slots[lo + h].key = indices[p]
                slots[lo + h].value = <float>data[p]
    return offsets_arr, slots_arr
