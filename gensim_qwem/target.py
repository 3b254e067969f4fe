"""The target matrix M* = 2 (A - B) / (A + B) as a sparse-minus-rank-one operator (THEORY §2).

Wherever A is zero, M* is exactly -2, so ``M* = S - 2 * 1 1^T`` with ``S = 4 A / (A + B)`` on the
support of A. Products cost O(nnz(A)) per column; M* is never built densely.
"""
import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator


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


class TargetOperator(LinearOperator):
    """M* as a symmetric ``LinearOperator``: ``M* x = S x - 2 * 1 (1^T x)``.

    Parameters
    ----------
    cooccurrence : scipy.sparse matrix
        A, expected positive-pair counts (symmetric).
    word_counts : array
        Unigram counts, for the noise distribution Q.
    negative : int
        k, negatives drawn per positive pair.
    ns_exponent : float
        Exponent of the noise distribution.
    """

    def __init__(self, cooccurrence, word_counts, negative, ns_exponent):
        A = scipy.sparse.csr_matrix(cooccurrence, dtype=np.float64)
        A.sort_indices()
        self.pair_rate = np.asarray(A.sum(axis=1)).ravel()
        self.noise = noise_distribution(word_counts, ns_exponent)
        self.negative = negative
        rows = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
        B = negative_rate_on(rows, A.indices, self.pair_rate, self.noise, negative)
        self.sparse_part = scipy.sparse.csr_matrix((4.0 * A.data / (A.data + B), A.indices, A.indptr),
                                                   shape=A.shape)
        super().__init__(dtype=np.float64, shape=A.shape)

    def _matmat(self, X):
        return self.sparse_part @ X - 2.0 * X.sum(axis=0, keepdims=True)

    def _matvec(self, x):
        x = np.ravel(x)
        return self.sparse_part @ x - 2.0 * x.sum()

    def _adjoint(self):
        return self

    def weight_sum(self):
        """sum_ij G_ij = sum(A) + k sum(a) sum(Q) = (1 + k) sum(A): expected pair updates per epoch."""
        return (1.0 + self.negative) * self.pair_rate.sum()

    def to_dense(self):
        """Dense M* (V x V) for small vocabularies in tests; never call it for a real vocabulary."""
        return self.sparse_part.toarray() - 2.0


def uniform_weight_block(cooccurrence, pair_rate, noise, negative, scale, max_weight, size):
    """psi_ij = min(c / G_ij, max_weight) for i, j < size, as a dense float32 block for the SGD kernel."""
    A = scipy.sparse.csr_matrix(cooccurrence)[:size, :size].toarray()
    G = A + 0.5 * negative * (np.outer(pair_rate[:size], noise[:size]) + np.outer(noise[:size], pair_rate[:size]))
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
