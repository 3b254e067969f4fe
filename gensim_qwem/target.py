"""The target matrix M* = 2 (A - B) / (A + B) as a sparse-minus-rank-one operator.

See docs/theory.rst, "The target matrix M*".

Wherever A is zero, M* is exactly -2, so ``M* = S - 2 * 1 1^T`` with ``S = 4 A / (A + B)`` on the
support of A. Products cost O(nnz(A)) per column; M* is never built densely.

M* = 2 tanh(PMI_k / 2) with PMI_k = log(A / B), word2vec's optimum (Levy & Goldberg 2014) squashed into
(-2, 2). The saturated target ``M*_c = 2c tanh(PMI_k / (2c))`` (c = `saturation`; c = 1 is M*, c -> inf is
PMI_k) keeps the same structure: ``M*_c = c (S' - 2 * 1 1^T)`` with S' the kernel's ``4 A' / (A' + B)`` of
the rates ``A' = A^(1/c) B^(1 - 1/c)`` (:func:`saturated_rates`).
"""
import functools
import threading
import weakref

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator

from gensim_qwem._encoding import pair_table
from gensim_qwem._parallel import RowSplit, usable_cpus
from gensim_qwem._sgd import UniformWeights
from gensim_qwem._symmetric import PANEL, WIDE_PANEL, target_matmat, target_matvec, upper_target
from gensim_qwem.closed_form import ScaledOperator, top_eigenpairs, word_weights
from gensim_qwem.cooccurrence import upper_row_sums

# a row's fixed work in a product, in entries' worth, for cutting the rows between threads: the frequent words'
# long rows cost ~5 ns an entry, the 67k others ~9 (enwiki17m, one thread, 8 columns). Split by entries alone
# (cut at row 923) the two threads took 73 and 123 ms; at 50 / 75 / 100 / 150 entries a row, 96 / 120,
# 100 / 91, 80 / 86 and 117 / 86 ms
PRODUCT_ROW_COST = 100


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


def saturated_rates(upper, pair_rate, noise, negative, saturation, chunk=1 << 20):
    """A' = A^(1/c) B^(1 - 1/c) on the support of `upper` (A's upper triangle, CSR), c = `saturation`, in A's dtype.

    Then ``4 A' / (A' + B) = 4 r^(1/c) / (r^(1/c) + 1)`` with r = A / B, so ``c (4 A' / (A' + B) - 2) =
    2c tanh(log(r) / (2c))``: the product kernel, given A', multiplies by M*_c / c. Computed `chunk` entries
    at a time (the temporaries stay a few MiB whatever nnz is).
    """
    out = np.empty_like(upper.data)
    inverse = 1.0 / float(saturation)
    for lo in range(0, len(out), chunk):
        part = slice(lo, lo + chunk)
        rows = np.searchsorted(upper.indptr, np.arange(lo, min(lo + chunk, len(out))), side="right") - 1
        B = negative_rate_on(rows, upper.indices[part], pair_rate, noise, negative)
        A = upper.data[part].astype(np.float64)
        out[part] = A ** inverse * B ** (1.0 - inverse)
    return out


def pair_weight_total(pair_rate, negative):
    """sum_ij G_ij = sum(A) + k sum(a) sum(Q) = (1 + k) sum(A), from the pair rates a_i = sum_j A_ij."""
    return (1.0 + negative) * pair_rate.sum()


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
    noise : array, optional
        Q itself, where the caller has it (:class:`Target`); default: from `word_counts` and `ns_exponent`.
    saturation : float
        c of the saturated target ``M*_c = 2c tanh(log(A / B) / (2c))``; 1 (default) is M* itself. Another
        value stores the rates A' of :func:`saturated_rates` (one array of nnz values) and scales the
        products by c.
    """

    float32_products = True     # matmat takes a float32 X as it is (block_lanczos's float32 basis)

    def __init__(self, cooccurrence, word_counts, negative, ns_exponent, threads=None, _upper=None, noise=None,
                 saturation=1.0):
        if _upper is None:
            A = scipy.sparse.csr_matrix(cooccurrence)
            if A.dtype != np.float32:
                A = A.astype(np.float64)
            _upper = scipy.sparse.triu(A, format="csr")
            _upper.sort_indices()
        upper = self.pair_upper = _upper
        n = upper.shape[0]
        self.pair_rate = upper_row_sums(upper)
        self.noise = noise_distribution(word_counts, ns_exponent) if noise is None else noise
        self.negative = negative
        self._rq = np.ascontiguousarray(np.column_stack([self.pair_rate, self.noise]))
        self.saturation = float(saturation)
        data = upper.data if self.saturation == 1.0 else saturated_rates(upper, self.pair_rate, self.noise,
                                                                          negative, self.saturation)
        self._pair_arrays = (upper.indptr.astype(np.int64), upper.indices.astype(np.int32, copy=False), data)
        self._rows = RowSplit.balanced(upper.indptr, usable_cpus() if threads is None else threads, PRODUCT_ROW_COST)
        self._buffers = {lo: np.empty(n) for lo, _ in self._rows.ranges}
        self._lock = threading.Lock()  # the output buffers are reused: one product at a time
        self._block_buffers = None
        super().__init__(dtype=np.float64, shape=upper.shape)

    @classmethod
    def from_statistics(cls, statistics, word_counts, negative, ns_exponent, threads=None, noise=None, saturation=1.0):
        """M* (M*_c) of a :class:`~gensim_qwem.cooccurrence.PairStatistics`, sharing its stored upper triangle
        (when `saturation` is 1)."""
        return cls(None, word_counts, negative, ns_exponent, threads=threads, _upper=statistics.upper, noise=noise,
                   saturation=saturation)

    @property
    def stored_bytes(self):
        """Bytes of the matrix the products read (A's upper triangle: index pointers, indices, values)."""
        return sum(array.nbytes for array in self._pair_arrays)

    @property
    def upper_part(self):
        """The upper triangle of S (float64 CSR; c S' when saturated), built on request: the products never need it."""
        indptr, indices, data = self._pair_arrays
        indptr, indices, values = upper_target(indptr, indices, data.astype(np.float64), self.pair_rate, self.noise,
                                               float(self.negative))
        return scipy.sparse.csr_matrix((values * self.saturation, indices, indptr), shape=self.shape)

    @property
    def sparse_part(self):
        """S as a full CSR matrix (built on request, from the upper triangle)."""
        U = self.upper_part
        return (U + U.T - scipy.sparse.diags(U.diagonal())).tocsr()

    def _summed_over_ranges(self, kernel, x, buffers, out=None):
        """S x by `kernel` (target_matvec or target_matmat) on each row range into its own buffer, the
        buffers summed in range order (into `out` where given). The caller holds the lock (the buffers
        are reused)."""
        def part(lo, hi):
            indptr, indices, data = self._pair_arrays
            kernel(indptr, indices, data, self._rq, float(self.negative), x, buffers[lo], lo, hi)
            return buffers[lo]
        parts = self._rows.map(part)
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
        return self._minus_constant_part(y, x.sum())

    def _matmat(self, X):
        """S X - 2 * 1 (1^T X) in slabs of WIDE_PANEL (16) columns (8 when X has at most 8), each contiguous,
        zero-padded where X ends mid-slab; a C-contiguous X of exactly one slab (the eigensolver's blocks)
        is read in place and the sums go straight into Y (float64).

        A float32 X (the eigensolver's float32 basis, :attr:`float32_products`) is multiplied in float32:
        each thread's part of S X is summed in float32 (relative error ~1e-6), the parts and 1^T X in
        float64; on enwiki17m a third less time per product than in float64."""
        X = np.asarray(X)
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        X = X.astype(dtype, copy=False)
        width = PANEL if X.shape[1] <= PANEL else WIDE_PANEL
        Y = np.empty((X.shape[0], -(-X.shape[1] // width) * width))
        with self._lock:
            if self._block_buffers is None or self._block_buffers[0] != (width, dtype):
                self._block_buffers = ((width, dtype), {lo: np.empty((X.shape[0], width), dtype=dtype)
                                                        for lo, _ in self._rows.ranges})
            for first in range(0, X.shape[1], width):
                if X.shape[1] == width and X.flags.c_contiguous:
                    slab = X
                else:
                    slab = np.zeros((X.shape[0], width), dtype=dtype)
                    slab[:, :min(width, X.shape[1] - first)] = X[:, first:first + width]
                self._summed_over_ranges(target_matmat, slab, self._block_buffers[1], out=Y[:, first:first + width])
        Y = Y[:, :X.shape[1]]
        return self._minus_constant_part(Y, X.sum(axis=0, dtype=np.float64))

    def _minus_constant_part(self, product, column_sums):
        """S X (in place) -> M* X = S X - 2 * 1 (1^T X), times c for the saturated M*_c."""
        product -= 2.0 * column_sums
        if self.saturation != 1.0:
            product *= self.saturation
        return product

    def _adjoint(self):
        return self

    def release_buffers(self):
        """Drop the block products' output buffers (V x 16 per thread; made again by the next block product)."""
        with self._lock:
            self._block_buffers = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_lock"] = state["_block_buffers"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def weight_sum(self):
        """sum_ij G_ij: expected pair updates per epoch (:func:`pair_weight_total`)."""
        return pair_weight_total(self.pair_rate, self.negative)

    def to_dense(self):
        """Dense M* (V x V) for small vocabularies in tests; never call it for a real vocabulary."""
        return self.sparse_part.toarray() - 2.0 * self.saturation


def uniform_weight_block(cooccurrence, pair_rate, noise, negative, scale, max_weight, size):
    """psi_ij = min(c / G_ij, max_weight) for i, j < size, as a dense float32 block for the SGD kernel."""
    A = scipy.sparse.csr_matrix(cooccurrence)[:size, :size].toarray()
    words = np.arange(size)
    G = A + negative_rate_on(words[:, None], words[None, :], pair_rate, noise, negative)
    with np.errstate(divide="ignore"):
        psi = np.where(G * max_weight <= scale, max_weight, scale / G)
    return np.ascontiguousarray(psi, dtype=np.float32)


def dense_target(cooccurrence, word_counts, negative, ns_exponent, saturation=1.0):
    """Obvious dense M* = 2 (A - B) / (A + B) straight from the definition (test oracle); with `saturation`
    c != 1, ``M*_c = 2c tanh(log(A / B) / (2c))`` (-2c where A = 0)."""
    A = np.asarray(cooccurrence.toarray() if scipy.sparse.issparse(cooccurrence) else cooccurrence, dtype=float)
    words = np.arange(len(A))
    B = negative_rate_on(words[:, None], words[None, :], A.sum(axis=1), noise_distribution(word_counts, ns_exponent),
                         negative)
    if saturation == 1.0:
        return 2.0 * (A - B) / (A + B)
    with np.errstate(divide="ignore"):
        return 2.0 * saturation * np.tanh(np.log(A / B) / (2.0 * saturation))


class Target:
    """Everything derived from one :class:`~gensim_qwem.cooccurrence.PairStatistics` and one negative-sampling
    setting ``(k, ns_exponent)``, each built once, when first asked for (docs/theory.rst,
    "The target matrix M*").

    Q (:attr:`noise`) and its alias table (:attr:`noise_table`, the SGD kernel's sampler) need only the
    vocabulary counts, so a Target without statistics (``statistics=None``) serves ``weighting='none'``
    training; a (:attr:`pair_rate`), the M* operator (:attr:`operator`), c (:attr:`scale`), the uniform
    pair weights (:meth:`uniform_weights`) and the eigenpairs (:meth:`eigenpairs`) need A.

    Q always comes from the vocabulary counts (``model.wv.expandos["count"]``, the counts gensim's noise table
    is made from): the statistics' own ``word_counts`` tally the counted text and are not used for M*.
    """

    def __init__(self, statistics, vocab_counts, negative, ns_exponent):
        # a weak reference: a Target never keeps statistics alive that the model has let go of
        self._statistics = None if statistics is None else weakref.ref(statistics)
        self.vocab_counts = np.array(vocab_counts, dtype=np.int64)
        self.negative, self.ns_exponent = negative, ns_exponent
        self.noise = noise_distribution(self.vocab_counts, ns_exponent)
        self._operator = self._noise_table = None
        self._uniform_weights = {}        # (max_weight, dense words) -> UniformWeights
        self._spectra = {}                # 'uniform' / 'other' -> (key, values, vectors, word weights)

    def matches(self, statistics, vocab_counts, negative, ns_exponent):
        """Whether this is the Target of these statistics (the very object), counts and setting."""
        own = None if self._statistics is None else self._statistics()
        return (own is statistics and (self._statistics is None) == (statistics is None)
                and (self.negative, self.ns_exponent) == (negative, ns_exponent)
                and np.array_equal(self.vocab_counts, vocab_counts))

    @property
    def statistics(self):
        statistics = None if self._statistics is None else self._statistics()
        if statistics is None:
            raise RuntimeError("This target has no pair statistics (it serves weighting='none' training only).")
        return statistics

    @property
    def noise_table(self):
        """(threshold, alias) of :func:`alias_table` for Q: the SGD kernel's negative sampler."""
        if self._noise_table is None:
            self._noise_table = alias_table(self.noise)
        return self._noise_table

    @property
    def operator(self):
        """M* as a :class:`TargetOperator` over the statistics' own upper triangle."""
        if self._operator is None:
            self._operator = TargetOperator.from_statistics(self.statistics, self.vocab_counts, self.negative,
                                                            self.ns_exponent, noise=self.noise)
        return self._operator

    def saturated_operator(self, saturation):
        """M*_c (:class:`TargetOperator` with `saturation` c); c = 1 is :attr:`operator`. Another c is built
        anew and not kept: its rates A' are one more array of nnz values, needed only while it is solved."""
        if saturation == 1.0:
            return self.operator
        return TargetOperator.from_statistics(self.statistics, self.vocab_counts, self.negative, self.ns_exponent,
                                              noise=self.noise, saturation=saturation)

    @property
    def pair_rate(self):
        """a_i = sum_j A_ij."""
        return self.operator.pair_rate

    @property
    def scale(self):
        """c = sum(G) / V^2: the uniform weights are psi_ij = c / G_ij, averaging 1 over all V^2 cells."""
        return self.operator.weight_sum() / float(len(self.noise)) ** 2

    def uniform_weights(self, max_weight, dense_words):
        """The SGD kernel's psi_ij = min(c / G_ij, max_weight): A's pair table, a, Q, c, and a dense block of psi
        for the `dense_words` most frequent words (the kernel's ``gensim_qwem._sgd.UniformWeights``)."""
        key = (float(max_weight), int(dense_words))
        if key not in self._uniform_weights:
            self._uniform_weights.clear()     # one set at a time: the table holds all of A
            A = self.statistics.cooccurrence
            A.sort_indices()
            self._uniform_weights[key] = UniformWeights(
                pair_table(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data),
                self.pair_rate, self.noise, self.scale, float(max_weight),
                uniform_weight_block(A, self.pair_rate, self.noise, self.negative, self.scale, max_weight,
                                     min(len(self.noise), int(dense_words))))
        return self._uniform_weights[key]

    def eigenpairs(self, k, tol=1e-3, seed=0, kind="uniform", weight_power=0.25, saturation=1.0):
        """Top-`k` eigenpairs of ``D^{1/2} M*_c D^{1/2}`` by signed value, and g (None when uniform), D = diag(g)
        the word weights `kind` (:func:`~gensim_qwem.closed_form.word_weights`), c the `saturation`
        (:class:`TargetOperator`; 1 is M*).

        Two solves are kept: uniform weights on M* (the end point of training), and the last other one; a
        smaller `k` is served from a larger solve. Each eigenvector's arbitrary sign is fixed: its
        largest-magnitude loading positive.
        """
        saturation = float(saturation)
        if kind == "uniform" and saturation == 1.0:
            slot, key = "uniform", tol
        else:
            slot, key = "other", (tol, kind, None if kind == "uniform" else float(weight_power), saturation)
        cached = self._spectra.get(slot)
        if cached is None or cached[0] != key or len(cached[1]) < k:   # a larger solve serves smaller k
            operator = target = self.saturated_operator(saturation)
            if kind == "uniform":
                weights = None
            else:
                weights = word_weights(kind, self.pair_rate, self.noise, weight_power)
                operator = ScaledOperator(target, weights)
            values, vectors = top_eigenpairs(operator, k, tol=tol, seed=seed)
            target.release_buffers()      # what follows (e.g. the G-weighted steps) needs the memory more
            signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)])
            cached = self._spectra[slot] = (key, values, vectors * signs, weights)
        return cached[1][:k], cached[2][:, :k], cached[3]


class TargetCache:
    """A model's :class:`Target` objects: the one of its own negative-sampling setting, and the last one of
    another setting (:meth:`~gensim_qwem.QWEM.analytic_solution` with `negative` / `ns_exponent`)."""

    def __init__(self):
        self.own = self.other = None

    def get(self, statistics, vocab_counts, negative, ns_exponent, own=True):
        slot = "own" if own else "other"
        target = getattr(self, slot)
        if target is None or not target.matches(statistics, vocab_counts, negative, ns_exponent):
            target = Target(statistics, vocab_counts, negative, ns_exponent)
            setattr(self, slot, target)
        return target

    def clear(self):
        self.own = self.other = None
