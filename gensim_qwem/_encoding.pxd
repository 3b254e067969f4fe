# cython: language_level=3
"""The layout of :func:`gensim_qwem._encoding.pair_table`'s hash tables, shared with the SGD kernel that reads them."""
from libc.stdint cimport uint64_t, uint32_t, int32_t


cdef packed struct PairSlot:
    int32_t key                 # column, -1 for an empty slot
    float value                 # A[row, column]


cdef inline uint64_t slot_hash(int32_t col, uint64_t mask) noexcept nogil:
    """odd multiplier: a bijection on the low bits, so a row's nearby columns land in distinct slots"""
    return (<uint64_t><uint32_t>col * 0x9E3779B1ULL) & mask
