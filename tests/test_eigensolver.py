"""The block Lanczos eigensolver against dense eigh, and against ARPACK on the same operator."""
import logging

import numpy as np
import pytest
import scipy.sparse
from scipy.sparse.linalg import aslinearoperator

from gensim_qwem.closed_form import _basis_size, block_lanczos, top_eigenpairs
from gensim_qwem.cooccurrence import count_chunk
from gensim_qwem.target import TargetOperator, dense_target


def target_of_random_corpus(seed, vocab_size, n_tokens=40_000, window=4, negative=5):
    """(TargetOperator, dense M*) of a random corpus with Zipf-like word frequencies (M*'s real shape:
    a large negative eigenvalue from -2 * 1 1^T and a positive top of the spectrum)."""
    rng = np.random.default_rng(seed)
    probabilities = 1.0 / np.arange(1, vocab_size + 1)
    indices = rng.choice(vocab_size, n_tokens, p=probabilities / probabilities.sum()).astype(np.int32)
    offsets = np.arange(0, n_tokens + 1, 50, dtype=np.int64)
    counts = np.bincount(indices, minlength=vocab_size) + 1
    A = count_chunk(indices, offsets, np.ones(vocab_size), window, True, vocab_size)
    return TargetOperator(A, counts, negative, 0.75), dense_target(A, counts, negative, 0.75)


def dense_top(M, k):
    values, vectors = np.linalg.eigh(M)
    return values[::-1][:k], vectors[:, ::-1][:, :k]


def relative_residuals(M, values, vectors):
    return np.linalg.norm(M @ vectors - vectors * values, axis=0) / np.abs(values)


def same_subspace(U, V):
    """Largest principal-angle sine between the column spaces of two orthonormal bases."""
    return np.linalg.norm(U - V @ (V.T @ U), 2)


def test_a_float32_basis_gives_the_float64_solve_to_well_within_tol(monkeypatch):
    """From tol 1e-5 on the basis is stored in float32 (half its memory); the pairs still meet tol, are
    returned in float64, and differ from the float64 basis's by far less than tol."""
    import gensim_qwem.closed_form as closed_form
    op, M = target_of_random_corpus(3, 700)
    created = []
    empty = np.empty
    monkeypatch.setattr(closed_form.np, "empty", lambda *a, **k: created.append(k.get("dtype")) or empty(*a, **k))
    values, vectors = block_lanczos(op, 30, tol=1e-3, seed=1)
    assert np.float32 in created and vectors.dtype == np.float64
    monkeypatch.setattr(closed_form, "FLOAT32_BASIS_TOL", 1.0)
    created.clear()
    values64, vectors64 = block_lanczos(op, 30, tol=1e-3, seed=1)
    assert np.float32 not in created
    assert relative_residuals(M, values, vectors).max() <= 1e-3
    np.testing.assert_allclose(values, values64, rtol=1e-5)
    assert same_subspace(vectors[:, :10], vectors64[:, :10]) < 1e-3


def test_block_lanczos_matches_dense_eigh_on_a_target_operator():
    op, M = target_of_random_corpus(1, 500)
    expected_values, expected_vectors = dense_top(M, 20)
    values, vectors = block_lanczos(op, 20, tol=1e-10)
    np.testing.assert_allclose(values, expected_values, rtol=1e-10)
    assert np.all(np.diff(values) <= 0)
    assert relative_residuals(M, values, vectors).max() < 1e-9
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(20), atol=1e-10)
    gaps = -np.diff(np.linalg.eigvalsh(M)[::-1][:21])
    assert gaps.min() > 1e-3  # simple eigenvalues: each vector is determined up to sign
    np.testing.assert_allclose(np.abs(np.sum(vectors * expected_vectors, axis=0)), 1.0, atol=1e-8)


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-5])
def test_block_lanczos_meets_its_tolerance(tol):
    """Every returned pair satisfies ||M u - lambda u|| <= tol |lambda| (ARPACK's criterion)."""
    op, M = target_of_random_corpus(2, 600)
    values, vectors = block_lanczos(op, 30, tol=tol)
    assert relative_residuals(M, values, vectors).max() <= tol * (1 + 1e-6)
    np.testing.assert_allclose(values, dense_top(M, 30)[0], rtol=10 * tol)


def test_thick_restarts_keep_the_converged_answer(caplog):
    """A basis too small for the spectrum forces restarts from Ritz vectors; the answer stays exact."""
    op, M = target_of_random_corpus(3, 700)
    with caplog.at_level(logging.INFO, logger="gensim_qwem.closed_form"):
        values, vectors = block_lanczos(op, 12, tol=1e-8, basis_size=48)
    restarts = [int(r.getMessage().split(", ")[-1].split()[0]) for r in caplog.records if "restarts" in r.getMessage()]
    assert restarts and restarts[0] >= 2
    expected_values, _ = dense_top(M, 12)
    np.testing.assert_allclose(values, expected_values, rtol=1e-8)
    assert relative_residuals(M, values, vectors).max() < 1e-7


def test_repeated_eigenvalues_are_found_with_their_whole_eigenspace():
    """A block method sees multiplicities up to its block size (single-vector Lanczos finds one copy)."""
    n = 400
    rng = np.random.default_rng(4)
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    spectrum = np.concatenate([[10.0, 10.0, 10.0, 7.0, 5.0, 5.0], rng.uniform(-50.0, 4.0, n - 6)])
    M = (basis * spectrum) @ basis.T
    M = (M + M.T) / 2
    values, vectors = block_lanczos(aslinearoperator(M), 6, tol=1e-10)
    np.testing.assert_allclose(values, [10, 10, 10, 7, 5, 5], rtol=1e-9)
    assert same_subspace(vectors[:, :3], basis[:, :3]) < 1e-6
    assert same_subspace(vectors[:, 4:6], basis[:, 4:6]) < 1e-6


def test_an_invariant_subspace_is_not_a_failure():
    """M of rank 3: after one block the Krylov space stops growing; fresh random vectors keep it going."""
    n = 300
    rng = np.random.default_rng(5)
    U, _ = np.linalg.qr(rng.standard_normal((n, 3)))
    M = (U * [3.0, 2.0, -1.0]) @ U.T
    values, vectors = block_lanczos(aslinearoperator(M), 4, tol=1e-8)
    np.testing.assert_allclose(values, [3.0, 2.0, 0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(4), atol=1e-8)
    assert np.abs(vectors[:, 2:].T @ U).max() < 1e-6  # the zero modes are orthogonal to the range


def test_block_and_arpack_agree_and_auto_picks_by_size():
    op, M = target_of_random_corpus(6, 800)
    block = top_eigenpairs(op, 10, tol=1e-9, method="block")
    arpack = top_eigenpairs(op, 10, tol=1e-9, method="arpack")
    np.testing.assert_allclose(block[0], arpack[0], rtol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(block[1] * arpack[1], axis=0)), 1.0, atol=1e-6)
    small, _ = target_of_random_corpus(7, 90)
    with pytest.raises(ValueError, match="method='arpack'"):
        block_lanczos(small, 10)
    values, _ = top_eigenpairs(small, 10, tol=1e-9)   # auto: ARPACK at this size
    np.testing.assert_allclose(values, dense_top(small.to_dense(), 10)[0], rtol=1e-8)
    with pytest.raises(ValueError, match="'auto', 'block' or 'arpack'"):
        top_eigenpairs(op, 10, method="lobpcg")


def test_same_seed_same_answer_and_threads_do_not_change_it():
    op, _ = target_of_random_corpus(8, 500)
    first = block_lanczos(op, 8, tol=1e-10, seed=3, threads=1)
    again = block_lanczos(op, 8, tol=1e-10, seed=3, threads=1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    threaded = block_lanczos(op, 8, tol=1e-10, seed=3, threads=3)
    np.testing.assert_allclose(threaded[0], first[0], rtol=1e-9)


def test_running_out_of_products_warns_and_returns_what_it_has(caplog):
    op, M = target_of_random_corpus(9, 600)
    with caplog.at_level(logging.WARNING, logger="gensim_qwem.closed_form"):
        values, vectors = block_lanczos(op, 20, tol=1e-12, max_products=160)
    assert any("converged" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert values.shape == (20,) and vectors.shape == (600, 20)
    assert np.all(values <= dense_top(M, 1)[0][0] + 1e-9)  # Ritz values never exceed the top eigenvalue
    values, vectors = block_lanczos(op, 20, tol=1e-12, max_products=1)   # raised to the least that gives 20
    assert values.shape == (20,) and np.all(np.isfinite(values))


def test_the_target_operator_is_never_densified_by_the_solver(monkeypatch):
    op, M = target_of_random_corpus(10, 500)
    monkeypatch.setattr(TargetOperator, "to_dense", lambda self: pytest.fail("densified"))
    monkeypatch.setattr(scipy.sparse.csr_matrix, "toarray", lambda self, *a, **k: pytest.fail("densified"))
    values, _ = block_lanczos(op, 5, tol=1e-8)
    np.testing.assert_allclose(values, dense_top(M, 5)[0], rtol=1e-8)


def test_the_basis_shrinks_to_fit_its_memory_budget_but_keeps_room_to_restart(monkeypatch):
    assert _basis_size(100, 68_000) == 600                      # 6 k: 330 MB
    assert _basis_size(100, 1_000_000) == 272                  # 2 GiB / 8 MB per vector = 268, in blocks of 8
    assert _basis_size(300, 1_000_000) == 408                  # never below the kept Ritz vectors + 4 blocks (407)
    monkeypatch.setattr("gensim_qwem.closed_form.BASIS_BYTES", 40 * 8 * 700)   # room for 40 vectors of n = 700
    op, M = target_of_random_corpus(3, 700)
    values, vectors = block_lanczos(op, 12, tol=1e-8)          # basis 12 + 8 + 32 = 52: restarts
    np.testing.assert_allclose(values, dense_top(M, 12)[0], rtol=1e-8)


def test_float32_products_where_the_operator_takes_them():
    """With a float32 basis (tol >= 1e-5) the blocks go to TargetOperator as float32 (its float32 products,
    summed in float32), to any other operator as float64; the operator's float32 product is its float64 one
    to ~1e-6, and in float64."""
    from scipy.sparse.linalg import LinearOperator
    op, M = target_of_random_corpus(5, 400)
    X = np.random.default_rng(0).standard_normal((400, 24)).astype(np.float32)
    Y32, Y64 = op.matmat(X), op.matmat(X.astype(np.float64))
    assert Y32.dtype == np.float64
    np.testing.assert_allclose(Y32, Y64, rtol=0, atol=1e-5 * np.abs(Y64).max())
    assert not np.array_equal(Y32, Y64)

    def spy(operator, seen, **flags):
        wrapper = LinearOperator(operator.shape, matvec=operator.matvec,
                                 matmat=lambda B: seen.append(B.dtype) or operator.matmat(B), dtype=np.float64)
        wrapper.__dict__.update(flags)
        return wrapper

    for flags, tol, expected in (({"float32_products": True}, 1e-3, np.float32), ({}, 1e-3, np.float64),
                                 ({"float32_products": True}, 1e-8, np.float64)):
        seen = []
        values, vectors = block_lanczos(spy(op, seen, **flags), 10, tol=tol, seed=2)
        assert set(seen) == {np.dtype(expected)}
        assert relative_residuals(M, values, vectors).max() <= tol * (1 + 1e-6)


def test_cholesky_qr_and_its_fallback():
    """CholeskyQR2 gives an orthonormal Q with Q R = W for a well-conditioned block; for a block with a
    (nearly) dependent column it declines, and the block step falls back to Householder QR, replacing the
    lost column by a new direction orthogonal to the basis."""
    from gensim_qwem.closed_form import _RowSplit, _cholesky_qr, _column_norms, _orthonormal_block
    rng = np.random.default_rng(0)
    W = rng.standard_normal((500, 8)) * np.logspace(0, 3, 8)        # condition ~1e3
    Q, R = _cholesky_qr(W)
    np.testing.assert_allclose(Q.T @ Q, np.eye(8), atol=1e-13)
    np.testing.assert_allclose(Q @ R, W, atol=1e-12 * np.abs(W).max())
    assert np.allclose(R, np.triu(R))
    np.testing.assert_allclose(_column_norms(W), np.linalg.norm(W, axis=0), rtol=1e-14)
    dependent = W.copy()
    dependent[:, 5] = dependent[:, 0] + dependent[:, 1] + 1e-9 * rng.standard_normal(500)
    assert _cholesky_qr(dependent) is None
    assert _cholesky_qr(np.zeros((500, 8))) is None
    basis = np.linalg.qr(rng.standard_normal((500, 16)))[0].T
    dependent -= basis.T @ (basis @ dependent)
    dependent[:, 5] = dependent[:, 0] + dependent[:, 1]
    block, R = _orthonormal_block(dependent, basis, _RowSplit.equal(500, 2), rng, np.abs(dependent).max())
    np.testing.assert_allclose(block.T @ block, np.eye(8), atol=1e-12)
    assert np.abs(basis @ block).max() < 1e-12
    assert np.all(R[7] == 0.0) and np.all(np.abs(R[:7]).max(axis=1) > 0)   # one direction lost: a new one last
    np.testing.assert_allclose(block @ R, dependent, atol=1e-10 * np.abs(dependent).max())
    # and a well-conditioned block is CholeskyQR2's
    block, R = _orthonormal_block(W, basis, _RowSplit.equal(500, 2), rng, np.abs(W).max())
    np.testing.assert_allclose(block @ R, W, atol=1e-12 * np.abs(W).max())
    np.testing.assert_allclose(R, _cholesky_qr(W)[1])
