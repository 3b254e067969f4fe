# cython: language_level=3
"""Inline wrappers over scipy's single-precision BLAS (``scipy.linalg.cython_blas``).

All wrappers take contiguous vectors (``inc = 1``); callers guarantee that by typing
their arrays ``float[:, ::1]``.
"""
cimport scipy.linalg.cython_blas as blas


cdef inline float dot(int n, float *x, float *y) noexcept nogil:
    """return x . y"""
    cdef int one = 1
    return blas.sdot(&n, x, &one, y, &one)


cdef inline void axpy(int n, float alpha, float *x, float *y) noexcept nogil:
    """y := alpha * x + y"""
    cdef int one = 1
    blas.saxpy(&n, &alpha, x, &one, y, &one)


cdef inline void scal(int n, float alpha, float *x) noexcept nogil:
    """x := alpha * x"""
    cdef int one = 1
    blas.sscal(&n, &alpha, x, &one)
