"""The target matrix M* = 2 (A - B) / (A + B) as a sparse-minus-rank-one operator (THEORY §2).

Wherever A is zero, M* is exactly -2, so ``M* = S - 2 * 1 1^T`` with ``S = 4 A / (A + B)`` on the
support of A. Products cost O(nnz(A)) per column; M* is never built densely.
"""
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator

from gensim_qwem.cooccurrence import upper_row_sums
from gensim_qwem._symmetric import PANEL, target_matmat, target_matvec, upper_target


def noise_distribution(word_counts, ns_exponent):
    """Q_n = count_n ** ns_exponent / sum: the negative-sampling distribution of the trainer."""
    weights = np.asarray(word_counts, dtype=np.float64) ** float(ns_exponent)
    return weights / weights.sum()


def alias_table(probabilities):
    """Walker/Vose alias table for O(1) draws from `probabilities` (the kernel's negative sampler).

    Returns (threshold uint32, alias int32): draw column j uniformly and a 32-bit coin u; the word is
    j if u < threshold[j], else alias[j]. Word n then comes with probability
    (threshold[n] + sum over j with alias[j] = n of (2**32 - threshold[j])) / (V 2**32), i.e. Q_n to 2**-32.
    """
    q = np.asarray(probabilities, dtype=np.float64)
    size = len(q)
    scaled = q / q.sum() * size
    keep = np.ones(size)
    alias = np.arange(size, dtype=np.int32)
    small = [i for i in range(size) if scaled[i] < 1.0]
    large = [i for i in range(size) if scaled[i] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        keep[low], alias[low] = scaled[low], high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    threshold = np.round(keep * 2.0 ** 32)
    full = threshold >= 2.0 ** 32   # leftovers (and round-off) keep their own column entirely
    alias[full] = np.nonzero(full)[0]
    return np.minimum(threshold, 2.0 ** 32 - 1).astype(np.uint32), alias


def alias_probabilities(threshold, alias):
    """The exact distribution an alias table draws from (test oracle for :func:`alias_table`)."""
    size = len(threshold)
    own = np.where(alias == np.arange(size), 1.0, threshold / 2.0 ** 32)
    probs = own.copy()
    np.add.at(probs, alias, np.where(alias == np.arange(size), 0.0, 1.0 - threshold / 2.0 ** 32))
    return probs / size


def negative_rate_on(rows, cols, pair_rate, noise, negative):
    """B_ij = k (a_i Q_j + a_j Q_i) / 2 at the given (row, col) positions."""
    return 0.5 * negative * (pair_rate[rows] * noise[cols] + pair_rate[cols] * noise[rows])


def pair_weight_total(pair_rate, negative):
    """sum_ij G_ij = sum(A) + k sum(a) sum(Q) = (1 + k) sum(A), from the pair rates a_i = sum_j A_ij."""
    return (1.0 + negative) * pair_rate.sum()


def usable_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _balanced_row_ranges(indptr, parts):
    """Split rows into `parts` contiguous ranges holding about equal numbers of entries."""
    cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], parts + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts)), len(indptr) - 1]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


class TargetOperator(LinearOperator):
    """M* as a symmetric ``LinearOperator``: ``M* x = S x - 2 * 1 (1^T x)``.

    Holds only the upper triangle of A (``pair_upper``; from :meth:`from_statistics` the statistics' own
    float32 array, not a copy) and computes each ``S_ij = 4 A_ij / (A_ij + B_ij)`` inside the product
    kernel: no copy of S is stored. A product reads half the entries of a full CSR matrix, and runs on
    `threads` threads over row ranges of equal size (the eigensolve is bound by these products; scipy's
    own CSR product is single-threaded).

    Parameters
    ----------
    cooccurrence : scipy.sparse matrix
        A, expected positive-pair counts (symmetric); its upper triangle is kept (float32 stays float32,
        anything else becomes float64).
    word_counts : array
        Unigram counts, for the noise distribution Q.
    negative : int
        k, negatives drawn per positive pair.
    ns_exponent : float
        Exponent of the noise distribution.
    threads : int, optional
        Threads per product; default: the CPUs this process may use.
    """

    def __init__(self, cooccurrence, word_counts, negative, ns_exponent, threads=None, _upper=None):
        if _upper is None:
            A = scipy.sparse.csr_matrix(cooccurrence)
            if A.dtype != np.float32:
                A = A.astype(np.float64)
            _upper = scipy.sparse.triu(A, format="csr")
            _upper.sort_indices()
        upper = self.pair_upper = _upper
        n = upper.shape[0]
        self.pair_rate = upper_row_sums(upper)
        self.noise = noise_distribution(word_counts, ns_exponent)
        self.negative = negative
        self._rq = np.ascontiguousarray(np.column_stack([self.pair_rate, self.noise]))
        self._pair_arrays = (upper.indptr.astype(np.int64), upper.indices.astype(np.int32, copy=False),
                               upper.data)
        self._ranges = _balanced_row_ranges(upper.indptr, max(1, int(usable_cpus() if threads is None else threads)))
        self._buffers = [np.empty(n) for _ in self._ranges]
        self._pool = ThreadPoolExecutor(len(self._ranges)) if len(self._ranges) > 1 else None
        self._lock = threading.Lock()  # the output buffers are reused: one product at a time
        self._block_buffers = None
        super().__init__(dtype=np.float64, shape=upper.shape)

    @classmethod
    def from_statistics(cls, statistics, word_counts, negative, ns_exponent, threads=None):
        """M* of a :class:`~gensim_qwem.cooccurrence.PairStatistics`, sharing its stored upper triangle."""
        return cls(None, word_counts, negative, ns_exponent, threads=threads, _upper=statistics.upper)

    @property
    def stored_bytes(self):
        """Bytes of the matrix the products read (A's upper triangle: index pointers, indices, values)."""
        return sum(array.nbytes for array in self._pair_arrays)

    @property
    def upper_part(self):
        """The upper triangle of S (float64 CSR), built on request: the products never need it."""
        A = self.pair_upper
        indptr, indices, values = upper_target(A.indptr.astype(np.int64), A.indices.astype(np.int32, copy=False),
                                               A.data.astype(np.float64), self.pair_rate, self.noise,
                                               float(self.negative))
        return scipy.sparse.csr_matrix((values, indices, indptr), shape=A.shape)

    @property
    def sparse_part(self):
        """S as a full CSR matrix (built on request, from the upper triangle)."""
        U = self.upper_part
        return (U + U.T - scipy.sparse.diags(U.diagonal())).tocsr()

    def _summed_over_ranges(self, kernel, x, buffers, out=None):
        """S x by `kernel` (target_matvec or target_matmat) on each row range into its own buffer, the
        buffers summed in range order (into `out` where given). The caller holds the lock (the buffers
        are reused)."""
        def part(index):
            lo, hi = self._ranges[index]
            indptr, indices, data = self._pair_arrays
            kernel(indptr, indices, data, self._rq, float(self.negative), x, buffers[index], lo, hi)
            return buffers[index]
        if self._pool is None:
            parts = [part(0)]
        else:
            parts = list(self._pool.map(part, range(len(self._ranges))))
        if out is None:
            return parts[0].copy() if len(parts) == 1 else functools.reduce(np.add, parts)
        out[...] = parts[0]
        for other in parts[1:]:
            np.add(out, other, out=out)
        return out

    def _matvec(self, x):
        x = np.ascontiguousarray(np.ravel(x), dtype=np.float64)
        with self._lock:
            y = self._summed_over_ranges(target_matvec, x, self._buffers)
        y -= 2.0 * x.sum()
        return y

    def _matmat(self, X):
        """S X - 2 * 1 (1^T X), 8 columns (one kernel panel, contiguous) at a time; a C-contiguous X of
        exactly 8 columns (the eigensolver's blocks) is read in place and the sums go straight into Y."""
        X = np.asarray(X, dtype=np.float64)
        Y = np.empty((X.shape[0], -(-X.shape[1] // PANEL) * PANEL))
        with self._lock:
            if self._block_buffers is None:
                self._block_buffers = [np.empty((X.shape[0], PANEL)) for _ in self._ranges]
            for first in range(0, X.shape[1], PANEL):
                if X.shape[1] == PANEL and X.flags.c_contiguous:
                    slab = X
                else:
                    slab = np.zeros((X.shape[0], PANEL))
                    slab[:, :min(PANEL, X.shape[1] - first)] = X[:, first:first + PANEL]
                self._summed_over_ranges(target_matmat, slab, self._block_buffers, out=Y[:, first:first + PANEL])
        Y = Y[:, :X.shape[1]]
        Y -= 2.0 * X.sum(axis=0)
        return Y

    def _adjoint(self):
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pool"] = state["_lock"] = state["_block_buffers"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if len(self._ranges) > 1:
            self._pool = ThreadPoolExecutor(len(self._ranges))

    def weight_sum(self):
        """sum_ij G_ij: expected pair updates per epoch (:func:`pair_weight_total`)."""
        return pair_weight_total(self.pair_rate, self.negative)

    def to_dense(self):
        """Dense M* (V x V) for small vocabularies in tests; never call it for a real vocabulary."""
        return self.sparse_part.toarray() - 2.0


def uniform_weight_block(cooccurrence, pair_rate, noise, negative, scale, max_weight, size):
    """psi_ij = min(c / G_ij, max_weight) for i, j < size, as a dense float32 block for the SGD kernel."""
    A = scipy.sparse.csr_matrix(cooccurrence)[:size, :size].toarray()
    words = np.arange(size)
    G = A + negative_rate_on(words[:, None], words[None, :], pair_rate, noise, negative)
    with np.errstate(divide="ignore"):
        psi = np.where(G * max_weight <= scale, max_weight, scale / G)
    return np.ascontiguousarray(psi, dtype=np.float32)


def dense_target(cooccurrence, word_counts, negative, ns_exponent):
    """Obvious dense M* = 2 (A - B) / (A + B) straight from the definition (test oracle)."""
    A = np.asarray(cooccurrence.toarray() if scipy.sparse.issparse(cooccurrence) else cooccurrence, dtype=float)
    a = A.sum(axis=1)
    Q = noise_distribution(word_counts, ns_exponent)
    B = 0.5 * negative * (np.outer(a, Q) + np.outer(Q, a))
    return 2.0 * (A - B) / (A + B)
