# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Product with a symmetric sparse matrix stored as its upper triangle (CSR, j >= i); GIL released.

Half the entries of full CSR, so half the memory traffic per product, which is what bounds the eigensolve.
Numpy twin: ``(U + U.T - diag(U)) @ x`` with scipy.
"""
from libc.stdint cimport int64_t, int32_t
from libc.string cimport memset


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
