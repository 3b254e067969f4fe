"""SVD(PPMI) / SVD(PMI) baselines against a dense numpy computation straight from the definitions."""
import time

import numpy as np
import pytest
import scipy.sparse
from gensim.models.keyedvectors import KeyedVectors
from threadpoolctl import threadpool_limits

from gensim_qwem import QWEM
from gensim_qwem.baselines import pmi_embeddings, pmi_matrix, ppmi_embeddings, svd_embeddings


@pytest.fixture(scope="module")
def small_model(lee_corpus):
    model = QWEM(vector_size=8, window=3, min_count=20, sample=0, negative=1, ns_exponent=1.0, workers=1, seed=3)
    model.build_vocab(lee_corpus[:300])  # 342 words
    return model


def dense_pmi(A, shift, cds_alpha, positive):
    """The obvious dense oracle: log(P_ij / (P_i P_alpha(j))) - log k, -inf where A = 0."""
    A = np.asarray(A, dtype=np.float64)
    joint = A / A.sum()
    word = A.sum(axis=1) / A.sum()
    context = A.sum(axis=0) ** cds_alpha
    context = context / context.sum()
    with np.errstate(divide="ignore"):
        pmi = np.log(joint) - np.log(word)[:, None] - np.log(context)[None, :] - np.log(shift)
    if positive:
        return np.maximum(pmi, 0.0)
    return np.where(A > 0, pmi, 0.0)


def dense_gram(matrix, dim, eig_weight):
    """(U S^p)(U S^p)^T of the top-`dim` SVD: unique up to nothing when s_dim > s_dim+1."""
    with threadpool_limits(1):  # a small LAPACK call: threads only contend on a busy machine
        u, s, _ = np.linalg.svd(matrix)
    assert s[dim - 1] - s[dim] > 1e-6 * s[0], "test matrix needs a spectral gap at dim"
    w = u[:, :dim] * s[:dim] ** eig_weight
    return w @ w.T


@pytest.mark.parametrize("shift, cds_alpha, positive", [
    (1.0, 0.75, True), (5.0, 0.75, True), (1.0, 1.0, True), (1.0, 0.75, False), (5.0, None, False)])
def test_pmi_matrix_matches_dense_definition(small_model, shift, cds_alpha, positive):
    A = small_model.statistics.cooccurrence
    sparse = pmi_matrix(small_model.statistics, shift=shift, cds_alpha=cds_alpha, positive=positive)
    expected = dense_pmi(A.toarray(), shift, 1.0 if cds_alpha is None else cds_alpha, positive)
    np.testing.assert_allclose(sparse.toarray(), expected, rtol=1e-10, atol=1e-12)
    # stays sparse: nothing outside the support of A
    assert set(zip(*sparse.nonzero())) <= set(zip(*A.nonzero()))
    assert sparse.nnz < A.shape[0] ** 2


@pytest.mark.parametrize("positive, eig_weight", [(True, 0.5), (False, 0.5), (True, 1.0), (True, 0.0)])
def test_svd_embeddings_match_dense_svd_gram(small_model, positive, eig_weight):
    stats, keys, dim = small_model.statistics, small_model.wv.index_to_key, 6
    kv = ppmi_embeddings(stats, keys, dim, shift=2.0, eig_weight=eig_weight, positive=positive)
    expected = dense_gram(dense_pmi(stats.cooccurrence.toarray(), 2.0, 0.75, positive), dim, eig_weight)
    w = kv.vectors.astype(np.float64)
    np.testing.assert_allclose(w @ w.T, expected, atol=1e-5 * np.abs(expected).max())


def test_embeddings_keep_the_model_vocabulary(small_model):
    keys = small_model.wv.index_to_key
    for kv in (ppmi_embeddings(small_model.statistics, keys, 5), pmi_embeddings(small_model.statistics, keys, 5)):
        assert isinstance(kv, KeyedVectors)
        assert kv.index_to_key == keys
        assert kv.key_to_index == small_model.wv.key_to_index
        assert kv.vectors.shape == (len(keys), 5) and kv.vectors.dtype == np.float32


def test_pmi_embeddings_is_unclipped_ppmi(small_model):
    keys = small_model.wv.index_to_key
    a = pmi_embeddings(small_model.statistics, keys, 5, cds_alpha=None)
    b = ppmi_embeddings(small_model.statistics, keys, 5, cds_alpha=None, positive=False)
    np.testing.assert_allclose(a.vectors @ a.vectors.T, b.vectors @ b.vectors.T, atol=1e-6)


def test_deterministic_for_a_seed(small_model):
    keys = small_model.wv.index_to_key
    first = ppmi_embeddings(small_model.statistics, keys, 5, seed=4)
    second = ppmi_embeddings(small_model.statistics, keys, 5, seed=4)
    np.testing.assert_array_equal(first.vectors, second.vectors)


def test_large_sparse_vocabulary_never_densified():
    """V = 100,000 would need 80 GB as a dense float64 matrix; the sparse path takes well under a second."""
    rng = np.random.default_rng(0)
    n, nnz = 100_000, 200_000
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, n, nnz)
    A = scipy.sparse.coo_matrix((rng.random(nnz) + 0.1, (rows, cols)), shape=(n, n)).tocsr()
    A = A + A.T
    start = time.perf_counter()
    matrix = pmi_matrix(A, positive=False)
    assert scipy.sparse.issparse(matrix) and matrix.nnz <= A.nnz
    kv = svd_embeddings(matrix, [f"w{i}" for i in range(n)], 2, tol=1e-3)
    assert kv.vectors.shape == (n, 2) and np.all(np.isfinite(kv.vectors))
    assert time.perf_counter() - start < 30


def test_invalid_arguments(small_model):
    stats, keys = small_model.statistics, small_model.wv.index_to_key
    with pytest.raises(ValueError, match="'shift'"):
        pmi_matrix(stats, shift=0)
    with pytest.raises(ValueError, match="'cds_alpha'"):
        pmi_matrix(stats, cds_alpha=-1)
    with pytest.raises(ValueError, match="square"):
        pmi_matrix(scipy.sparse.random(3, 4, density=0.5))
    with pytest.raises(ValueError, match="non-negative"):
        pmi_matrix(-np.eye(3))
    with pytest.raises(ValueError, match="'dim'"):
        ppmi_embeddings(stats, keys, len(keys))
    with pytest.raises(TypeError, match="'dim'"):
        ppmi_embeddings(stats, keys, 2.5)
    with pytest.raises(ValueError, match="index_to_key"):
        ppmi_embeddings(stats, keys[:-1], 3)
