"""Closed-form count-based baselines from the same pair statistics QWEM uses (docs/theory.rst, "Baselines").

Levy & Goldberg (2014) showed that skip-gram with `k` negative samples implicitly factorises the shifted
PMI matrix ``PMI - log k``; the SVD of the (shifted) positive PMI matrix is the classic closed-form peer
of word2vec. The options follow Levy, Goldberg & Dagan (2015, "hyperwords"): context-distribution
smoothing ``P_c ** cds_alpha`` and eigenvalue weighting ``U S^p``.

Everything stays sparse: PPMI is nonzero only where the co-occurrence matrix A is, and the SVD runs on
the sparse matrix through ``scipy.sparse.linalg.svds``. No V x V dense matrix is ever built.
"""
import numbers

import numpy as np
import scipy.sparse
from gensim.models.keyedvectors import KeyedVectors
from scipy.sparse.linalg import svds

REAL = np.float32


def _cooccurrence_of(statistics):
    """A as a float64 CSR matrix, from a PairStatistics (``.cooccurrence``) or a sparse/dense matrix."""
    matrix = getattr(statistics, "cooccurrence", statistics)
    if not scipy.sparse.issparse(matrix):
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"The co-occurrence matrix must be 2-dimensional. Got shape {matrix.shape} instead.")
    matrix = scipy.sparse.csr_matrix(matrix, dtype=np.float64)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"The co-occurrence matrix must be square (V x V). Got shape {matrix.shape} instead.")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError("The co-occurrence matrix must have non-negative entries (expected pair counts).")
    return matrix


def pmi_matrix(statistics, shift=1.0, cds_alpha=0.75, positive=True):
    """Sparse (shifted, positive) PMI of a co-occurrence matrix, on the support of A only.

    ``PMI_ij = log( P(i, j) / (P(i) P_alpha(j)) )`` with ``P(i, j) = A_ij / sum(A)``, ``P(i)`` the row
    marginal of A and ``P_alpha(j) = c_j ** alpha / sum_c c ** alpha`` the smoothed column marginal
    (context-distribution smoothing; ``cds_alpha=1`` or ``None`` is no smoothing). The result is
    ``PMI - log(shift)``:

    - ``positive=True`` (SPPMI): ``max(PMI - log shift, 0)``; zero wherever A is zero, as in hyperwords.
    - ``positive=False``: ``PMI - log shift`` on the support of A and **0 where A = 0**, where the true
      PMI is ``-inf``. This is what "SVD of PMI" means in practice (Levy & Goldberg 2014 §5; Karkada et
      al. 2025 Table 1): the unclipped matrix would be dense and infinite.

    Parameters
    ----------
    statistics : PairStatistics or sparse matrix
        The pair statistics (``model.statistics``) or A itself (V x V, non-negative).
    shift : float
        k of the shift ``- log k`` (SGNS with k negatives); 1 means no shift.
    cds_alpha : float or None
        Exponent of the context-distribution smoothing (hyperwords' 0.75).
    positive : bool
        Clip negative values to zero (PPMI) or keep them (PMI, zero off the support).

    Returns
    -------
    scipy.sparse.csr_matrix
        float64, V x V, explicit zeros removed.
    """
    A = _cooccurrence_of(statistics)
    if isinstance(shift, bool) or not isinstance(shift, numbers.Real) or not shift > 0:
        raise ValueError(f"The 'shift' parameter of pmi_matrix must be a number > 0. Got {shift!r} instead.")
    alpha = 1.0 if cds_alpha is None else cds_alpha
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f"The 'cds_alpha' parameter of pmi_matrix must be a number > 0 or None. "
                         f"Got {cds_alpha!r} instead.")
    A = A.copy()
    A.eliminate_zeros()
    A.sort_indices()
    rows_sum = np.asarray(A.sum(axis=1)).ravel()
    cols_sum = np.asarray(A.sum(axis=0)).ravel()
    smoothed = cols_sum ** float(alpha)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    # log P(i,j) - log P(i) - log P_alpha(j); the sum(A) of P(i,j) and P(i) cancels
    values = (np.log(A.data) - np.log(rows_sum[rows]) - np.log(smoothed[A.indices])
              + np.log(smoothed.sum()) - np.log(float(shift)))
    if positive:
        values = np.maximum(values, 0.0)
    result = scipy.sparse.csr_matrix((values, A.indices, A.indptr), shape=A.shape)
    result.eliminate_zeros()
    return result


def keyed_vectors(index_to_key, vectors):
    """KeyedVectors over `index_to_key` (order kept) holding `vectors` as float32."""
    kv = KeyedVectors(vectors.shape[1], count=len(index_to_key), dtype=REAL)
    kv.index_to_key = list(index_to_key)
    kv.key_to_index = {key: index for index, key in enumerate(kv.index_to_key)}
    kv.vectors = np.ascontiguousarray(vectors, dtype=REAL)
    return kv


def svd_embeddings(matrix, index_to_key, dim, eig_weight=0.5, seed=0, tol=0.0):
    """Embeddings ``U_d S_d ** eig_weight`` from the top-`dim` truncated SVD of a sparse matrix.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        V x V (e.g. :func:`pmi_matrix`); never densified.
    index_to_key : sequence of str
        Word of each row, in row order (``model.wv.index_to_key``).
    dim : int
        Number of singular directions, ``1 <= dim < V``.
    eig_weight : float
        p of ``U S^p``: 1 is the plain SVD embedding, 0.5 the symmetric split (hyperwords' best), 0 drops
        the singular values.
    seed : int
        Seed of the ARPACK start vector (the result is deterministic for a given seed).
    tol : float
        ARPACK tolerance (0: machine precision).

    Returns
    -------
    gensim.models.KeyedVectors
        The vocabulary and order of `index_to_key`.
    """
    n = matrix.shape[0]
    if len(index_to_key) != n:
        raise ValueError(f"index_to_key has {len(index_to_key)} words but the matrix has {n} rows; pass the "
                         "vocabulary the statistics were counted with (model.wv.index_to_key).")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"The 'dim' parameter must be an int in [1, {n - 1}]. Got {dim!r} instead.")
    if not 1 <= dim < min(matrix.shape):
        raise ValueError(f"The 'dim' parameter must be an int in [1, {min(matrix.shape) - 1}] for a vocabulary "
                         f"of {n} words. Got {dim} instead.")
    if isinstance(eig_weight, bool) or not isinstance(eig_weight, numbers.Real) or not np.isfinite(eig_weight):
        raise ValueError(f"The 'eig_weight' parameter must be a finite number. Got {eig_weight!r} instead.")
    v0 = np.random.default_rng(seed).standard_normal(min(matrix.shape))
    u, s, _ = svds(scipy.sparse.csr_matrix(matrix, dtype=np.float64), k=dim, tol=tol, v0=v0)
    order = np.argsort(s)[::-1]
    u, s = u[:, order], s[order]
    return keyed_vectors(index_to_key, u * s ** float(eig_weight))


def ppmi_embeddings(statistics, index_to_key, dim, shift=1.0, cds_alpha=0.75, eig_weight=0.5, positive=True,
                    seed=0, tol=0.0):
    """SVD of the (shifted) positive PMI matrix: the Levy & Goldberg / hyperwords baseline.

    ``W = U_d S_d ** eig_weight`` of ``SPPMI = max(PMI - log shift, 0)`` (see :func:`pmi_matrix` for the
    PMI with context smoothing). With ``positive=False`` this is the SVD of plain shifted PMI, set to 0
    where A = 0 (:func:`pmi_embeddings`).

    Parameters
    ----------
    statistics : PairStatistics or sparse matrix
        ``model.statistics`` or the co-occurrence matrix A.
    index_to_key : sequence of str
        Word of each row (``model.wv.index_to_key``).
    dim : int
        Embedding dimension.
    shift, cds_alpha, positive
        As :func:`pmi_matrix`.
    eig_weight, seed, tol
        As :func:`svd_embeddings`.

    Returns
    -------
    gensim.models.KeyedVectors
        Same vocabulary and order as `index_to_key`.

    Examples
    --------
    >>> kv = ppmi_embeddings(model.statistics, model.wv.index_to_key, dim=200)  # doctest: +SKIP
    """
    matrix = pmi_matrix(statistics, shift=shift, cds_alpha=cds_alpha, positive=positive)
    return svd_embeddings(matrix, index_to_key, dim, eig_weight=eig_weight, seed=seed, tol=tol)


def pmi_embeddings(statistics, index_to_key, dim, shift=1.0, cds_alpha=0.75, eig_weight=0.5, seed=0, tol=0.0):
    """SVD of the unclipped (shifted) PMI matrix, with PMI set to 0 where A = 0 (where it is ``-inf``).

    The "SVD of PMI" row of Karkada et al. (2025) Table 1; see :func:`ppmi_embeddings` for the parameters.
    """
    return ppmi_embeddings(statistics, index_to_key, dim, shift=shift, cds_alpha=cds_alpha,
                           eig_weight=eig_weight, positive=False, seed=seed, tol=tol)
