# cython: language_level=3
"""A tiny, fast per-job random stream (xorshift64*), shared by the kernels.

The numpy twins in ``_reference.py`` reproduce it bit for bit.
"""
from libc.stdint cimport uint64_t


cdef inline uint64_t next_u64(uint64_t *state) noexcept nogil:
    """xorshift64*: advance state, return a 64-bit draw"""
    state[0] ^= state[0] >> 12
    state[0] ^= state[0] << 25
    state[0] ^= state[0] >> 27
    return state[0] * <uint64_t>2685821657736338717ULL


cdef inline double next_unit(uint64_t *state) noexcept nogil:
    """uniform draw in [0, 1) with 53 bits"""
    return (next_u64(state) >> 11) * (1.0 / 9007199254740992.0)
