"""The memory-lean layout of the closed form (issue 10): A stored once as its float32 upper triangle,
S computed inside the product kernels, row-sharded partial sums, a basis sized to the problem."""
import os
import pickle
import platform
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse

from gensim_qwem import _reference, closed_form, cooccurrence
from gensim_qwem._cooccurrence import count_pairs_job
from gensim_qwem._symmetric import PANEL, target_matmat, target_matvec
from gensim_qwem.cooccurrence import (PairStatistics, count_chunk, count_chunk_upper, dense_upper,
                                      upper_row_sums)
from gensim_qwem.target import TargetOperator, dense_target, noise_distribution


def random_corpus(rng, vocab_size, n_sentences, max_len):
    lengths = rng.integers(0, max_len + 1, n_sentences)
    indices = rng.integers(0, vocab_size, lengths.sum()).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return indices, offsets


def random_upper(seed, size=40, dtype=np.float64, empty_row=True):
    rng = np.random.default_rng(seed)
    full = scipy.sparse.random(size, size, density=0.2, random_state=seed).toarray() * 10
    full = full + full.T + np.diag(rng.random(size) * (rng.random(size) < 0.5))
    if empty_row:
        full[3], full[:, 3] = 0.0, 0.0
    upper = scipy.sparse.csr_matrix(np.triu(full).astype(dtype))
    upper.sort_indices()
    return rng, full, upper


@pytest.mark.parametrize("columns", [PANEL, 2 * PANEL, 3 * PANEL])   # the 8-wide pass, the 16-wide, both
@pytest.mark.parametrize("x_dtype", [np.float64, np.float32])         # X and its product
@pytest.mark.parametrize("dtype", [np.float32, np.float64])           # A
@pytest.mark.parametrize("seed", [0, 1])
def test_target_product_kernels_match_numpy_twin(seed, dtype, x_dtype, columns):
    rng, _, upper = random_upper(seed, dtype=dtype)
    size = upper.shape[0]
    pair_rate = upper_row_sums(upper)
    noise = noise_distribution(rng.integers(1, 50, size), 0.75)
    rq = np.ascontiguousarray(np.column_stack([pair_rate, noise]))
    args = (upper.indptr.astype(np.int64), upper.indices.astype(np.int32), upper.data, rq, 5.0)
    X = rng.standard_normal((size, columns)).astype(x_dtype)
    expected = _reference.target_products(upper, pair_rate, noise, 5.0, X.astype(np.float64))
    # float32 products: S_ij rounded to float32 and sums of ~10 terms of size <= 4 |x| in float32
    atol = 1e-12 if x_dtype == np.float64 else 1e-5 * np.abs(expected).max()

    def check(got):
        assert got.dtype == x_dtype
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)

    out = np.empty_like(X)
    target_matmat(*args, X, out, 0, size)
    check(out)
    if x_dtype == np.float32:
        assert np.abs(out - expected).max() > 0     # summed in float32, not in float64
    if x_dtype == np.float64:
        vec = np.empty(size)
        target_matvec(*args, np.ascontiguousarray(X[:, 0]), vec, 0, size)
        np.testing.assert_allclose(vec, expected[:, 0], atol=1e-12)
    # row ranges add up to the whole product (each thread's share)
    parts = np.zeros_like(X)
    for lo, hi in ((0, 11), (11, 30), (30, size)):
        target_matmat(*args, X, out, lo, hi)
        parts += out
    check(parts)
    # column tiles of any width, down to one row, and over row ranges: the same product
    for tile in (1, 3, 7, 16, size - 1):
        target_matmat(*args, X, out, 0, size, tile)
        check(out)
        parts[:] = 0.0
        for lo, hi in ((0, 11), (11, 30), (30, size)):
            target_matmat(*args, X, out, lo, hi, tile)
            parts += out
        check(parts)
    with pytest.raises(ValueError, match="tile"):
        target_matmat(*args, X, out, 0, size, -1)
    with pytest.raises((ValueError, TypeError)):      # X and out of different types
        target_matmat(*args, X, np.empty(X.shape, dtype=np.float64 if x_dtype == np.float32 else np.float32),
                      0, size)


def test_upper_row_sums_kernel_matches_numpy_twin():
    for dtype in (np.float32, np.float64):
        _, full, upper = random_upper(4, dtype=dtype)
        np.testing.assert_allclose(upper_row_sums(upper), _reference.upper_row_sums(upper), rtol=1e-12)
        np.testing.assert_allclose(upper_row_sums(upper), full.sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("subsample", [False, True])
def test_upper_counting_is_the_upper_triangle_of_the_symmetric_counts(subsample):
    rng = np.random.default_rng(7)
    vocab_size, window = 12, 3
    indices, offsets = random_corpus(rng, vocab_size, 30, 12)
    keep = rng.uniform(0.3, 1.0, vocab_size) if subsample else np.ones(vocab_size)
    expected = np.triu(_reference.count_pairs(indices, offsets, keep, window, True, vocab_size))
    got = count_chunk_upper(indices, offsets, keep, window, True, vocab_size)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-6)
    np.testing.assert_allclose(got.toarray(), np.triu(count_chunk(indices, offsets, keep, window, True,
                                                                  vocab_size).toarray()), rtol=1e-6)
    # with a dense block of the 5 most frequent words: its upper triangle plus the triples
    dense = np.zeros((5, 5))
    sparse_part = count_chunk_upper(indices, offsets, keep, window, True, vocab_size, dense)
    assert np.all(np.tril(dense, -1) == 0.0)
    np.testing.assert_allclose((sparse_part + dense_upper(dense, vocab_size)).toarray(), expected, rtol=1e-6)


def test_upper_counting_doubles_the_diagonal():
    indices = np.array([2, 2], dtype=np.int32)
    offsets = np.array([0, 2], dtype=np.int64)
    rows, cols, vals = count_pairs_job(indices, offsets, np.ones(3), False, 1, False, upper=True)
    assert (rows.tolist(), cols.tolist(), vals.tolist()) == ([2], [2], [2.0])   # A = C + C^T on the diagonal


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("n_matrices", [1, 5, 17])
def test_row_sharded_sum_from_several_threads_is_the_sum(n_matrices, threads):
    """Added from 3 threads, and summed at the end by `threads` (row ranges summed at once, copied in order)."""
    size = 50
    matrices = [scipy.sparse.triu(scipy.sparse.random(size, size, density=0.1, random_state=seed, format="csr"),
                                  format="csr") for seed in range(n_matrices)]
    summed = cooccurrence._RowShardedSum(size, 4)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(summed.add, matrices))
    total = summed.total(dtype=np.float32, threads=threads)
    assert total.dtype == np.float32 and total.has_sorted_indices and total.shape == (size, size)
    np.testing.assert_allclose(total.toarray(), sum(m.toarray() for m in matrices), rtol=1e-6)
    assert cooccurrence._RowShardedSum(size, 4).total().nnz == 0


def test_a_row_range_of_a_job_shares_its_arrays():
    """The running sums take each job's sums cut into row ranges: views, not the copies scipy's constructor
    makes of any view under half its array."""
    matrix = scipy.sparse.random(200, 50, density=0.2, random_state=4, format="csr",
                                 data_rvs=lambda n: np.arange(1, n + 1)).astype(np.int64)
    for lo, hi in ((0, 200), (10, 30), (199, 200), (50, 50)):
        part = cooccurrence._row_range(matrix, lo, hi)
        assert part.shape == (hi - lo, 50) and part.indptr.dtype == part.indices.dtype
        np.testing.assert_array_equal(part.toarray(), matrix[lo:hi].toarray())
        if part.nnz:
            assert np.shares_memory(part.data, matrix.data) and np.shares_memory(part.indices, matrix.indices)
        own = cooccurrence._row_range(matrix, lo, hi, copy=True)
        np.testing.assert_array_equal(own.toarray(), matrix[lo:hi].toarray())
        assert not np.shares_memory(own.data, matrix.data) and not np.shares_memory(own.indices, matrix.indices)


def test_count_statistics_stores_only_the_float32_upper_triangle():
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(15)]
    sentences = [[vocab[i] for i in rng.integers(0, 15, rng.integers(0, 10))] for _ in range(60)]
    key_to_index = {w: i for i, w in enumerate(vocab)}
    stats = cooccurrence.count_statistics(sentences, key_to_index, np.ones(15), 3, True, workers=2,
                                          chunk_words=40)
    assert stats.upper.dtype == np.float32 and scipy.sparse.tril(stats.upper, -1).nnz == 0
    assert stats.stored_entries == stats.upper.nnz
    full = stats.cooccurrence
    assert full.dtype == np.float64 and (full != full.T).nnz == 0
    np.testing.assert_allclose(stats.pair_rate, full.sum(axis=1).A1, rtol=1e-12)


@pytest.mark.parametrize("dense_words, band_rows", [(0, 0), (6, 0), (15, 0), (0, 3), (6, 3), (3, 6)])
def test_counts_are_the_same_bits_for_any_number_of_threads(monkeypatch, dense_words, band_rows):
    """Each thread's dense block of frequent pairs and band of the most frequent words' other pairs are added
    into one each (exact int64), as are the triples: the float32 statistics do not depend on how many
    threads counted, nor on which counted what."""
    monkeypatch.setattr(cooccurrence, "DENSE_COUNT_WORDS", dense_words)
    monkeypatch.setattr(cooccurrence, "BAND_COUNT_ROWS", band_rows)
    rng = np.random.default_rng(8)
    vocab = [f"w{i}" for i in range(15)]
    sentences = [[vocab[i] for i in rng.zipf(1.3, rng.integers(0, 12)) % 15] for _ in range(300)]
    key_to_index = {w: i for i, w in enumerate(vocab)}
    keep = np.linspace(0.3, 1.0, 15)
    counted = [cooccurrence.count_statistics(sentences, key_to_index, keep, 3, True, workers=workers,
                                             chunk_words=37) for workers in (1, 2, 3)]
    for stats in counted[1:]:
        assert (stats.upper != counted[0].upper).nnz == 0
    lengths = [len(sentence) for sentence in sentences]
    indices = np.array([key_to_index[w] for sentence in sentences for w in sentence], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    expected = _reference.count_pairs(indices, offsets, keep, 3, True, 15)
    np.testing.assert_allclose(counted[0].cooccurrence.toarray(), expected, rtol=1e-6, atol=1e-9)


def zipf_sentences(seed, vocab_size=40, n=400):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(vocab_size)]
    return [[vocab[i] for i in rng.zipf(1.3, rng.integers(0, 14)) % vocab_size] for _ in range(n)], \
        {w: i for i, w in enumerate(vocab)}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_spilled_partial_sums_give_the_same_bits(monkeypatch, tmp_path, workers):
    """Partial sums written to a temporary folder (GloVe-style) once they pass SPILL_BYTES, and merged back
    range by range at the end: the same statistics, bit for bit, and the folder is gone afterwards."""
    sentences, key_to_index = zipf_sentences(9)
    keep = np.linspace(0.2, 1.0, 40)
    monkeypatch.setattr(cooccurrence, "SPILL_BYTES", None)
    kept = cooccurrence.count_exact(sentences, key_to_index, keep, 4, True, workers=workers, chunk_words=50)
    monkeypatch.setattr(cooccurrence, "SPILL_BYTES", 1)        # spill after every chunk
    monkeypatch.setattr(cooccurrence, "DENSE_COUNT_WORDS", 5)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(cooccurrence.tempfile, "tempdir", None)     # tempfile reads TMPDIR again
    spills = []
    spill = cooccurrence._RowShardedSum.spill
    monkeypatch.setattr(cooccurrence._RowShardedSum, "spill", lambda self: spills.append(1) or spill(self))
    spilled = cooccurrence.count_exact(sentences, key_to_index, keep, 4, True, workers=workers, chunk_words=50)
    assert len(spills) > 5 and list(tmp_path.iterdir()) == []
    assert (spilled[0] != kept[0]).nnz == 0 and spilled[0].dtype == np.int64
    np.testing.assert_array_equal(spilled[1], kept[1])
    # the threshold given to count_exact wins over SPILL_BYTES (a Dask shard's, from its worker's memory limit)
    del spills[:]
    unspilled = cooccurrence.count_exact(sentences, key_to_index, keep, 4, True, workers=workers, chunk_words=50,
                                         spill_bytes=None)
    assert not spills and (unspilled[0] != kept[0]).nnz == 0
    # not merged (a Dask shard's count): partial sums, spilled runs read back, whose rows add up to the same bits
    for spill_bytes in (None, 1):
        partial = cooccurrence.count_exact(sentences, key_to_index, keep, 4, True, workers=workers, chunk_words=50,
                                           spill_bytes=spill_bytes, merged=False)[0]
        assert list(tmp_path.iterdir()) == [] and len(partial.blocks) > 1
        assert (cooccurrence.rows_of([partial], 0, 40, 40) != kept[0]).nnz == 0
        assert np.all(partial.row_entries() >= np.diff(kept[0].indptr)) and partial.nnz > kept[0].nnz
        halves = [cooccurrence.rows_of([partial], lo, hi, 40) for lo, hi in ((0, 13), (13, 40))]
        assert (scipy.sparse.vstack(halves) != kept[0]).nnz == 0
        # and the rows of two counts with the pieces of a third, as float32: from_fixed of the int64 sum
        piece = (kept[0][13:40].indptr, kept[0][13:40].indices, kept[0][13:40].data)
        float_rows = cooccurrence.rows_of([partial, partial], 13, 40, 40, extra=[piece], as_float32=True)
        np.testing.assert_array_equal(float_rows.toarray(), cooccurrence.from_fixed(3 * kept[0][13:40]).toarray())
    as_float = cooccurrence.count_statistics(sentences, key_to_index, keep, 4, True, workers=workers,
                                             chunk_words=50)
    monkeypatch.setattr(cooccurrence, "SPILL_BYTES", None)
    in_memory = cooccurrence.count_statistics(sentences, key_to_index, keep, 4, True, workers=workers,
                                              chunk_words=50)
    assert (as_float.upper != in_memory.upper).nnz == 0 and as_float.upper.has_sorted_indices


def test_a_spilled_run_cut_short_is_a_clear_error(tmp_path):
    matrix = scipy.sparse.random(30, 40, density=0.2, format="csr", random_state=1, dtype=np.float64)
    matrix.data = (matrix.data * 2 ** 32).astype(np.int64)
    path = str(tmp_path / "run.bin")
    cooccurrence._write_run(path, matrix)
    dtypes = (matrix.indptr.dtype, matrix.indices.dtype, matrix.data.dtype)
    back = cooccurrence._read_run(path, 30, 40, matrix.nnz, dtypes)
    assert (back != matrix).nnz == 0 and back.dtype == np.int64 and back.has_sorted_indices
    with open(path, "r+b") as stored:
        stored.truncate(os.path.getsize(path) - 8)
    with pytest.raises(OSError, match="cut short"):
        cooccurrence._read_run(path, 30, 40, matrix.nnz, dtypes)


def test_a_failed_spill_is_a_clear_error_and_leaves_no_files(monkeypatch, tmp_path):
    sentences, key_to_index = zipf_sentences(10)
    monkeypatch.setattr(cooccurrence, "SPILL_BYTES", 1)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(cooccurrence.tempfile, "tempdir", None)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cooccurrence, "_write_run", disk_full)
    with pytest.raises(OSError, match="Point TMPDIR to a folder with room"):
        cooccurrence.count_statistics(sentences, key_to_index, np.ones(40), 4, True, workers=2, chunk_words=50)
    assert list(tmp_path.iterdir()) == []


def test_statistics_from_the_full_matrix_and_sums_of_shards():
    _, full, _ = random_upper(5)
    common = (np.arange(1, 41), 3, True, np.ones(40))
    stats = PairStatistics(scipy.sparse.csr_matrix(full), *common, sentences=2)
    np.testing.assert_allclose(stats.cooccurrence.toarray(), full, rtol=1e-6)
    twice = stats + stats
    assert isinstance(twice, PairStatistics) and twice.sentences == 4
    np.testing.assert_allclose(twice.cooccurrence.toarray(), 2 * full, rtol=1e-6)


def test_pickles_of_the_full_matrix_layout_still_load():
    """Pickles written before the upper-triangle layout hold the full symmetric A as 'cooccurrence'."""
    _, full, _ = random_upper(6)
    stats = PairStatistics(scipy.sparse.csr_matrix(full), np.arange(1, 41), 3, True, np.ones(40))
    old_state = {k: v for k, v in stats.__dict__.items() if k != "upper"}
    old_state["cooccurrence"] = scipy.sparse.csr_matrix(full)
    old = PairStatistics.__new__(PairStatistics)
    old.__setstate__(old_state)
    np.testing.assert_allclose(old.cooccurrence.toarray(), full, rtol=1e-6)
    again = pickle.loads(pickle.dumps(old))
    assert (again.upper != old.upper).nnz == 0 and "cooccurrence" not in again.__dict__


def test_operator_from_statistics_shares_their_array_and_equals_the_dense_target():
    rng, full, _ = random_upper(8, empty_row=False)   # an empty row makes the dense oracle's M*_33 0/0
    counts = rng.integers(1, 100, 40)
    stats = PairStatistics(scipy.sparse.csr_matrix(full), counts, 3, True, np.ones(40))
    op = TargetOperator.from_statistics(stats, counts, 5, 0.75, threads=2)
    assert np.shares_memory(op.pair_upper.data, stats.upper.data)
    assert op.stored_bytes == sum(a.nbytes for a in (stats.upper.indptr.astype(np.int64), stats.upper.indices,
                                                      stats.upper.data))
    M = dense_target(stats.cooccurrence, counts, 5, 0.75)
    X = rng.standard_normal((40, 3))
    np.testing.assert_allclose(op.matmat(X), M @ X, atol=1e-9)
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-12)
    np.testing.assert_allclose(op.upper_part.toarray(), np.triu(op.sparse_part.toarray()), atol=1e-15)


def test_basis_budget_follows_what_the_operator_stores(monkeypatch):
    class Stored:
        stored_bytes = 190 * 2 ** 20
    assert closed_form.basis_budget(object()) == closed_form.BASIS_BYTES
    assert closed_form.basis_budget(Stored()) == int(0.8 * 190 * 2 ** 20)    # BASIS_RELATIVE = 0.8
    assert closed_form._basis_size(100, 68_004, 190 * 2 ** 20) == 368     # 366 vectors fit, in blocks of 8
    assert closed_form._basis_size(100, 68_004, 1) == closed_form._basis_size(100, 68_004, 0) == 160  # the least
    Stored.stored_bytes = 1
    assert closed_form.basis_budget(Stored()) == closed_form.BASIS_MIN_BYTES
    monkeypatch.setattr(closed_form, "BASIS_RELATIVE", 2.0)
    Stored.stored_bytes = 100 * 2 ** 20
    assert closed_form.basis_budget(Stored()) == 200 * 2 ** 20


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_operator_block_products_read_an_8_column_block_in_place_with_the_same_result(threads):
    """The eigensolver's n x 8 C-contiguous blocks go to the kernel as they are and the range sums are
    written straight into the result: the same bits as the padded copy that other blocks take."""
    rng, full, _ = random_upper(9, empty_row=False)
    counts = rng.integers(1, 100, 40)
    op = TargetOperator(scipy.sparse.csr_matrix(full), counts, 5, 0.75, threads=threads)
    M = dense_target(scipy.sparse.csr_matrix(full), counts, 5, 0.75)
    X = rng.standard_normal((40, PANEL))
    np.testing.assert_allclose(op.matmat(np.ascontiguousarray(X)), M @ X, atol=1e-9)
    np.testing.assert_allclose(op.matmat(np.asfortranarray(X)), M @ X, atol=1e-9)   # the padded copy
    wide = rng.standard_normal((40, 2 * PANEL + 3))                                  # padded panels
    np.testing.assert_allclose(op.matmat(wide), M @ wide, atol=1e-9)
    np.testing.assert_array_equal(op.matmat(np.ascontiguousarray(wide[:, :PANEL])), op.matmat(wide)[:, :PANEL])


def test_map_large_blocks_leaves_a_threshold_the_user_set(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert cooccurrence.map_large_blocks() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert cooccurrence.map_large_blocks() is False
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")    # other tunables: still set here
    set_here = cooccurrence.map_large_blocks()
    assert set_here is (platform.libc_ver()[0] == "glibc")


def test_counting_hands_blocks_back_to_the_heap_when_it_is_done(monkeypatch):
    """The 128 KiB mmap threshold is for counting only: afterwards glibc's usual maxima (a solve's per-step
    arrays would otherwise each be mapped and zero-filled), also after a failure; never over the user's."""
    calls = []
    monkeypatch.setattr(cooccurrence, "map_large_blocks", lambda: calls.append("map") or True)
    monkeypatch.setattr(cooccurrence, "serve_blocks_from_the_heap", lambda: calls.append("heap") or True)
    sentences, key_to_index = zipf_sentences(11)
    cooccurrence.count_statistics(sentences, key_to_index, np.ones(40), 3, True, workers=2, chunk_words=50)
    assert calls == ["map", "heap"]
    def broken():
        yield ["w1", "w2"]
        raise RuntimeError("the corpus broke")
    with pytest.raises(RuntimeError, match="the corpus broke"):
        cooccurrence.count_statistics(broken(), key_to_index, np.ones(40), 3, True)
    assert calls[-2:] == ["map", "heap"]
    monkeypatch.undo()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert cooccurrence.serve_blocks_from_the_heap() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert cooccurrence.serve_blocks_from_the_heap() is (platform.libc_ver()[0] == "glibc")


def test_row_ranges_balance_entries_plus_a_cost_per_row():
    from gensim_qwem._parallel import RowSplit
    # one long row of 100 entries, then 100 rows of 1 entry
    indptr = np.concatenate([[0], 100 + np.arange(101)])
    assert RowSplit.balanced(indptr, 2).ranges == [(0, 1), (1, 101)]        # 100 entries each
    # a row's fixed work of 9 entries: the first row costs 109, each other 10, 1109 in all; rows 0..45 cost
    # 109 + 45 * 10 = 559, rows 46..100 cost 550
    assert RowSplit.balanced(indptr, 2, row_cost=9).ranges == [(0, 46), (46, 101)]
    assert RowSplit.balanced(indptr, 1, row_cost=9).ranges == [(0, 101)]


def test_the_exact_band_stays_within_its_bytes(monkeypatch):
    """32 rows for enwiki17m's 68k words; fewer for a vocabulary of millions, so its band stays <= 32 MiB."""
    assert cooccurrence.band_rows(68_004) == 32 and cooccurrence.band_rows(10) == 10
    assert cooccurrence.band_rows(3_000_000) == 1 and cooccurrence.band_rows(20_000_000) == 0
    for vocab_size in (145_588, 1_000_000):
        assert 8 * vocab_size * cooccurrence.band_rows(vocab_size) <= cooccurrence.BAND_COUNT_BYTES
    monkeypatch.setattr(cooccurrence, "BAND_COUNT_BYTES", 8 * 15 * 2)   # 2 rows of 15 words
    assert cooccurrence.band_rows(15) == 2

