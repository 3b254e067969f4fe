"""Each Cython kernel against its numpy twin (gensim_qwem._reference)."""
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse

from gensim_qwem import _cooccurrence, _reference, cooccurrence
from gensim_qwem._cooccurrence import count_pairs_job, sum_sorted_parts
from gensim_qwem._encoding import pair_table, sentences_to_indices
from gensim_qwem._sgd import JobSettings, UniformWeights, train_job
from gensim_qwem._symmetric import PANEL, upper_matmat, upper_matvec, upper_target
from gensim_qwem.cooccurrence import count_chunk, keep_probabilities, symmetrised
from gensim_qwem.target import (TargetOperator, alias_probabilities, alias_table, dense_target,
                                noise_distribution, uniform_weight_block)


def random_corpus(rng, vocab_size, n_sentences, max_len):
    lengths = rng.integers(0, max_len + 1, n_sentences)
    indices = rng.integers(0, vocab_size, lengths.sum()).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return indices, offsets


def random_target(seed, vocab_size, n_sentences, max_len, window, negative, threads=None):
    """(rng, TargetOperator, dense M*) for the counts of a random corpus."""
    rng = np.random.default_rng(seed)
    indices, offsets = random_corpus(rng, vocab_size, n_sentences, max_len)
    counts = np.bincount(indices, minlength=vocab_size) + 1
    A = count_chunk(indices, offsets, np.ones(vocab_size), window, True, vocab_size)
    return rng, TargetOperator(A, counts, negative, 0.75, threads=threads), dense_target(A, counts, negative, 0.75)


def random_symmetric(seed, size=30):
    """(rng, dense symmetric matrix with an empty row and column, its upper triangle as sorted CSR)."""
    rng = np.random.default_rng(seed)
    full = scipy.sparse.random(size, size, density=0.2, random_state=seed + 1).toarray()
    full = full + full.T + np.diag(rng.random(size))
    full[5], full[:, 5] = 0.0, 0.0
    upper = scipy.sparse.csr_matrix(np.triu(full))
    upper.sort_indices()
    return rng, full, upper


def noise_table_for(counts, exponent=0.75):
    return alias_table(noise_distribution(counts, exponent))


def test_sentences_to_indices_drops_oov_and_keeps_long_sentences_whole():
    vocab = {"a": 0, "b": 1}
    long_sentence = ["a", "x", "b"] * 5000  # 15,000 tokens: gensim's kernel would cut at 10,000
    indices, offsets, raw = sentences_to_indices([["a", "zz", "b"], [], long_sentence], vocab)
    assert raw == 3 + 15000
    assert offsets.tolist() == [0, 2, 2, 2 + 10000]
    assert indices[:2].tolist() == [0, 1]


@pytest.mark.parametrize("sentence", ["a plain string", None])
def test_sentences_to_indices_rejects_non_token_lists(sentence):
    with pytest.raises(TypeError, match="list of tokens"):
        sentences_to_indices([["a"], sentence], {"a": 0})


@pytest.mark.parametrize("shrink", [True, False])
@pytest.mark.parametrize("subsample", [True, False])
@pytest.mark.parametrize("uniform,dense_words", [(False, 0), (True, 0), (True, 5), (True, 12)])
@pytest.mark.parametrize("shared,draws", [(1, 0), (2, 0), (100, 0), (1, 3), (1, 7), (2, 5)])
def test_sgd_kernel_matches_numpy_twin(shrink, subsample, uniform, dense_words, shared, draws):
    rng = np.random.default_rng(0)
    vocab_size, dim, window, negative = 12, 8, 3, 3
    indices, offsets = random_corpus(rng, vocab_size, 6, 9)
    counts = np.bincount(indices, minlength=vocab_size) + 1
    sample_int = (rng.random(vocab_size) * 2 ** 32).astype(np.uint32)
    noise_table = noise_table_for(counts)
    vectors = (rng.standard_normal((vocab_size, dim)) * 0.3).astype(np.float32)
    A = count_chunk(indices, offsets, np.ones(vocab_size), window, shrink, vocab_size)
    op = TargetOperator(A, counts, negative, 0.75)
    scale = op.weight_sum() / vocab_size ** 2
    weighting = dict(A=A.toarray(), negative=negative, pair_rate=op.pair_rate, noise=op.noise, scale=scale,
                     max_weight=5.0) if uniform else None
    expected = vectors.copy()
    loss_ref, kept_ref, pairs_ref = _reference.train_job(
        expected, indices, offsets, sample_int, subsample, noise_table, window, shrink, negative, 0.05, 12345,
        weighting, shared, draws)
    got = vectors.copy()
    A.sort_indices()
    weights = UniformWeights(
        pair_table(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data), op.pair_rate, op.noise,
        scale, 5.0, uniform_weight_block(A, op.pair_rate, op.noise, negative, scale, 5.0, dense_words)
    ) if uniform else None
    settings = JobSettings(sample_int, subsample, noise_table, window, shrink, negative, shared, draws, weights)
    loss, kept, pairs = train_job(settings, got, indices, offsets, 0.05, 12345, np.zeros(dim, dtype=np.float32))
    assert (kept, pairs) == (kept_ref, pairs_ref)
    assert pairs > 0
    assert not np.allclose(got, vectors)  # the job did update
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert loss == pytest.approx(loss_ref, rel=1e-4, abs=1e-6)


def test_pair_table_finds_every_stored_pair_and_nothing_else():
    """The kernel's per-row hash tables (read back here from their slots) hold exactly A's lower triangle."""
    size = 40
    dense = scipy.sparse.random(size, size, density=0.3, random_state=2).toarray()
    dense = dense + dense.T
    dense[7], dense[:, 7] = 0.0, 0.0  # an empty row: a zero-width table
    A = scipy.sparse.csr_matrix(dense)
    offsets, slots = pair_table(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data)
    assert offsets[8] == offsets[7]
    for row in range(size):
        table = slots[offsets[row]:offsets[row + 1]]
        width = len(table)
        stored = table[table[:, 0] >= 0]
        expected = {col: dense[row, col] for col in range(row + 1) if dense[row, col]}
        assert width == 0 or (width & (width - 1) == 0 and width >= 2 * len(expected))  # power of 2, load <= 1/2
        assert dict(zip(stored[:, 0].tolist(), stored[:, 1].view(np.float32).tolist())) == pytest.approx(expected)
    # lookups through the table (hits, misses, probing) are checked by the SGD kernel against its twin above


def test_one_job_follows_the_update_formula_by_hand():
    """Two tokens, window 1, one negative that is always word 2: docs/theory.rst, "The loss", step by step."""
    vectors = np.array([[0.5, 0.0], [0.2, 0.4], [0.1, -0.3]], dtype=np.float32)
    indices = np.array([0, 1], dtype=np.int32)
    offsets = np.array([0, 2], dtype=np.int64)
    noise_table = alias_table([0.0, 0.0, 1.0])  # every negative draw is word 2
    alpha = 0.1
    w = {k: v.astype(float) for k, v in enumerate(vectors)}
    train_job(JobSettings(np.zeros(3, np.uint32), False, noise_table, 1, False, 1), vectors, indices, offsets,
              alpha, 7, np.zeros(2, dtype=np.float32))
    for center, context in ((0, 1), (1, 0)):
        work = np.zeros(2)
        g = alpha * (1 - w[center] @ w[context] / 2)        # positive: g = alpha (1 - x/2)
        work += g * w[context]
        w[context] = w[context] + g * w[center]
        g = -alpha * (1 + w[center] @ w[2] / 2)              # negative: g = -alpha (1 + x/2)
        work += g * w[2]
        w[2] = w[2] + g * w[center]
        w[center] = w[center] + work
    np.testing.assert_allclose(vectors, np.array([w[0], w[1], w[2]]), rtol=1e-6)


def test_more_negative_draws_keep_the_expected_update_and_cut_its_variance():
    """20 noise draws at weight 5/20 instead of k = 5 at weight 1. Over 4,000 seeds the mean update matches
    (largest |z| 2.9 of 240 entries when written) and the variance drops to ~1/4 (measured 0.25)."""
    rng = np.random.default_rng(0)
    vocab_size, dim, trials = 30, 8, 4000
    start = (rng.standard_normal((vocab_size, dim)) * 0.3).astype(np.float32)
    indices = rng.integers(0, vocab_size, 20).astype(np.int32)
    offsets = np.array([0, 20], dtype=np.int64)
    noise_table = noise_table_for(np.arange(1, vocab_size + 1))

    def updated(draws, seed):  # no subsampling or window shrinking: only the negatives are random
        vectors = start.copy()
        train_job(JobSettings(np.zeros(vocab_size, np.uint32), False, noise_table, 3, False, 5, 1, draws),
                  vectors, indices, offsets, 0.02, seed, np.zeros(dim, dtype=np.float32))
        return vectors.astype(np.float64).ravel()

    one = np.array([updated(0, seed) for seed in range(1, trials + 1)])   # 0: k draws
    four = np.array([updated(20, seed) for seed in range(1, trials + 1)])
    standard_error = np.sqrt((one.var(axis=0) + four.var(axis=0)) / trials)
    assert np.max(np.abs(one.mean(axis=0) - four.mean(axis=0)) / standard_error) < 5.0
    assert four.var(axis=0).sum() < 0.4 * one.var(axis=0).sum()


@pytest.mark.parametrize("shrink", [True, False])
@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 8, 9, 12])   # one compiled walk per window <= 8, a loop past 8
def test_counting_kernel_matches_numpy_twin(shrink, window):
    rng = np.random.default_rng(window)
    vocab_size = 9
    indices, offsets = random_corpus(rng, vocab_size, 12, 15)
    keep = rng.uniform(0.2, 1.0, vocab_size)
    keep[0] = 1.0
    for keep_prob in (None, keep):
        expected = _reference.count_pairs(indices, offsets, keep_prob, window, shrink, vocab_size)
        probs = np.ones(vocab_size) if keep_prob is None else keep_prob
        got = count_chunk(indices, offsets, probs, window, shrink, vocab_size).toarray()
        # the kernel stops walking once < 1e-9 of the probability mass is left; the twin walks to the end
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
        # the same counts with the pairs of the 4 most frequent words summed in a dense block, over two jobs
        dense = np.zeros((4, 4))
        half = len(offsets) // 2
        parts = [count_chunk(indices[:offsets[half]], offsets[:half + 1], probs, window, shrink, vocab_size, dense),
                 count_chunk(indices[offsets[half]:], offsets[half:] - offsets[half], probs, window, shrink,
                             vocab_size, dense)]
        assert dense.any() and parts[0].nnz and parts[0][:4, :4].nnz == 0
        split = (parts[0] + parts[1] + symmetrised(dense, vocab_size)).toarray()
        np.testing.assert_allclose(split, expected, rtol=1e-6, atol=1e-9)
        # the counting's own path: the upper triangle of A, the 4 most frequent words' pairs in an exact block
        # and the other pairs of the 2 most frequent words in an exact band of rows
        upper = np.triu(expected)     # expected is A = C + C^T itself
        for block_size, band_rows in ((0, 0), (4, 0), (0, 2), (4, 2), (2, 4)):
            block = np.zeros((block_size, block_size), dtype=np.int64)
            band = np.zeros((band_rows, vocab_size), dtype=np.int64)
            rows, cols, vals = count_pairs_job(indices, offsets, probs, keep_prob is not None, window, shrink,
                                               upper=True, dense_fixed=block, band_fixed=band)
            assert np.all(rows <= cols) and not np.any((rows < block_size) & (cols < block_size))
            assert not np.any(rows < band_rows)
            assert not band[:, :block_size].any() and not np.tril(band, -1).any()    # the block's, the lower's
            got = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=upper.shape).toarray()
            got[:block_size, :block_size] += block / cooccurrence.FIXED_POINT_UNITS
            got[:band_rows] += band / cooccurrence.FIXED_POINT_UNITS
            np.testing.assert_allclose(got, upper, rtol=1e-6, atol=1e-9)


def test_counting_matches_the_trainers_sampling_by_monte_carlo():
    """The expected counts equal the average of real subsampling + shrunk windows (docs/theory.rst,
    "Pair statistics")."""
    rng = np.random.default_rng(3)
    vocab_size, window = 5, 3
    indices, offsets = random_corpus(rng, vocab_size, 4, 12)
    keep = np.array([0.3, 0.6, 1.0, 0.8, 0.5])
    expected = count_chunk(indices, offsets, keep, window, True, vocab_size).toarray()
    sampled = _reference.count_pairs_by_sampling(indices, offsets, keep, window, True, vocab_size,
                                                 trials=3000, seed=1)
    # p_i p_j (the paper's approximation) would be visibly off: the effective window widens
    assert np.abs(sampled - expected).max() < 0.06 * expected.max()
    naive = count_chunk(indices, offsets, np.ones(vocab_size), window, True, vocab_size).toarray()
    naive *= np.outer(keep, keep)
    assert np.abs(sampled - naive).max() > 2 * np.abs(sampled - expected).max()


def test_counting_kernel_rejects_bad_window():
    with pytest.raises(ValueError, match="window"):
        count_pairs_job(np.zeros(1, np.int32), np.array([0, 1], np.int64), np.ones(1), False, 0, True)


def test_counting_kernel_rejects_a_band_it_cannot_fill():
    indices, offsets = np.array([0, 3, 1], np.int32), np.array([0, 3], np.int64)
    with pytest.raises(ValueError, match="columns"):    # index 3 has no column in a band of 3
        count_pairs_job(indices, offsets, np.ones(4), False, 2, True, upper=True, band_fixed=np.zeros((1, 3), np.int64))
    with pytest.raises(ValueError, match="upper=True"):
        count_pairs_job(indices, offsets, np.ones(4), False, 2, True, band_fixed=np.zeros((1, 4), np.int64))
    with pytest.raises(ValueError, match="not both"):
        count_pairs_job(indices, offsets, np.ones(4), False, 2, True, upper=True, dense=np.zeros((2, 2)),
                        band_fixed=np.zeros((1, 4), np.int64))


@pytest.mark.parametrize("subsample", [False, True])
@pytest.mark.parametrize("capacity", [0, 1, 7, 10_000])
def test_counting_kernel_writes_into_given_buffers_or_grows_out_of_them(capacity, subsample):
    """Given buffers, the kernel returns the same triples as without (the numpy twin's, see above): as views
    of the buffers when they hold them all, else in new arrays after moving out of the buffers."""
    rng = np.random.default_rng(capacity)
    vocab_size, window = 9, 3
    indices, offsets = random_corpus(rng, vocab_size, 12, 15)
    keep = rng.uniform(0.2, 1.0, vocab_size) if subsample else np.ones(vocab_size)
    expected = count_pairs_job(indices, offsets, keep, subsample, window, True, upper=True)
    assert 7 < len(expected[0]) < 10_000
    buffers = cooccurrence.triple_buffers(capacity)
    for _ in range(2):      # the same buffers twice, as a counting thread reuses them
        got = count_pairs_job(indices, offsets, keep, subsample, window, True, upper=True, buffers=buffers)
        for array, reference, buffer in zip(got, expected, buffers):
            assert array.dtype == reference.dtype
            np.testing.assert_array_equal(array, reference)
            assert np.shares_memory(array, buffer) == (capacity == 10_000)
    with pytest.raises(ValueError, match="same length"):
        count_pairs_job(indices, offsets, keep, subsample, window, True,
                        buffers=(np.empty(5, np.int32), np.empty(4, np.int32), np.empty(5)))


def test_keep_probabilities_match_trainer_draw():
    assert keep_probabilities(np.array([2 ** 32 - 1], np.uint32))[0] == 1.0
    assert keep_probabilities(np.array([2 ** 31 - 1], np.uint32))[0] == pytest.approx(0.5)


def test_target_operator_equals_dense_definition():
    vocab_size = 10
    rng, op, M = random_target(5, vocab_size, 8, 10, window=2, negative=3)
    assert np.all(M <= 2) and np.all(M >= -2)
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-12)
    X = rng.standard_normal((vocab_size, 4))
    np.testing.assert_allclose(op @ X, M @ X, atol=1e-10)
    np.testing.assert_allclose(op.matvec(X[:, 0]), M @ X[:, 0], atol=1e-10)
    assert noise_distribution(rng.integers(1, 50, vocab_size), 0.75).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("row_start,row_stop", [(0, 30), (0, 11), (11, 30), (29, 30), (7, 7)])
def test_upper_triangle_product_matches_full_symmetric_product(row_start, row_stop):
    rng, full, upper = random_symmetric(3)
    x = rng.standard_normal(len(full))
    out = np.full(len(full), np.nan)  # the kernel must overwrite, not accumulate into, its output
    upper_matvec(upper.indptr.astype(np.int64), upper.indices.astype(np.int32), upper.data, x, out,
                 row_start, row_stop)
    # rows [start, stop) of U, mirrored below the diagonal
    part = np.zeros_like(full)
    part[row_start:row_stop] = np.triu(full)[row_start:row_stop]
    expected = (part + part.T - np.diag(np.diag(part))) @ x
    np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("columns", [PANEL, 2 * PANEL])
@pytest.mark.parametrize("row_start,row_stop", [(0, 30), (0, 11), (11, 30), (7, 7)])
def test_upper_triangle_block_product_matches_full_symmetric_product(row_start, row_stop, columns):
    rng, full, upper = random_symmetric(13)
    X = rng.standard_normal((len(full), columns))
    out = np.full(X.shape, np.nan)
    upper_matmat(upper.indptr.astype(np.int64), upper.indices.astype(np.int32), upper.data, X, out,
                 row_start, row_stop)
    part = np.zeros_like(full)
    part[row_start:row_stop] = np.triu(full)[row_start:row_stop]
    np.testing.assert_allclose(out, (part + part.T - np.diag(np.diag(part))) @ X, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_upper_target_kernel_matches_numpy_twin(seed):
    """S's upper triangle from A, including an empty row, a diagonal entry and unsorted columns."""
    rng = np.random.default_rng(seed)
    size = 40
    A = scipy.sparse.random(size, size, density=0.15, random_state=seed) * 10
    A = (A + A.T + scipy.sparse.diags(rng.random(size) * (rng.random(size) < 0.5))).toarray()
    A[7, :] = A[:, 7] = 0.0
    A = scipy.sparse.csr_matrix(A)
    A.indices = A.indices.copy()
    for i in range(size):  # the kernel must not rely on sorted columns
        lo, hi = A.indptr[i], A.indptr[i + 1]
        order = rng.permutation(hi - lo)
        A.indices[lo:hi], A.data[lo:hi] = A.indices[lo:hi][order], A.data[lo:hi][order]
    A.has_sorted_indices = False
    pair_rate = np.asarray(A.sum(axis=1)).ravel()
    noise = noise_distribution(rng.integers(1, 100, size), 0.75)
    indptr, indices, values = upper_target(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data,
                                           pair_rate, noise, 5.0)
    got = scipy.sparse.csr_matrix((values, indices, indptr), shape=A.shape).toarray()
    np.testing.assert_allclose(got, _reference.upper_target(A, pair_rate, noise, 5.0), rtol=1e-14)
    assert np.all(indices >= np.repeat(np.arange(size), np.diff(indptr)))


def test_block_product_kernel_rejects_a_partial_panel():
    upper = scipy.sparse.csr_matrix(np.eye(4))
    args = (upper.indptr.astype(np.int64), upper.indices.astype(np.int32), upper.data)
    with pytest.raises(ValueError, match="multiple of 8"):
        upper_matmat(*args, np.ones((4, PANEL - 3)), np.empty((4, PANEL - 3)), 0, 4)
    with pytest.raises(ValueError, match="same shape"):
        upper_matmat(*args, np.ones((4, PANEL)), np.empty((3, PANEL)), 0, 4)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("columns", [1, 5, 8, 19])
def test_target_operator_block_products_match_dense(threads, columns):
    """Any number of columns (padded to panels of 8 inside) and threads; the same buffers twice."""
    vocab_size = 37
    rng, op, M = random_target(15, vocab_size, 30, 12, window=3, negative=2, threads=threads)
    for _ in range(2):
        X = rng.standard_normal((vocab_size, columns))
        np.testing.assert_allclose(op.matmat(X), M @ X, atol=1e-10)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_target_operator_products_do_not_depend_on_threads(threads):
    vocab_size = 25
    rng, op, M = random_target(6, vocab_size, 20, 12, window=3, negative=2, threads=threads)
    x = rng.standard_normal(vocab_size)
    np.testing.assert_allclose(op.matvec(x), M @ x, atol=1e-10)
    np.testing.assert_allclose(op.matvec(x), M @ x, atol=1e-10)  # buffers are reused across products
    np.testing.assert_allclose(op @ x[:, None], (M @ x)[:, None], atol=1e-10)
    clone = pickle.loads(pickle.dumps(op))
    np.testing.assert_allclose(clone.matvec(x), M @ x, atol=1e-10)


def test_statistics_of_chunks_add_up():
    rng = np.random.default_rng(8)
    vocab_size = 7
    indices, offsets = random_corpus(rng, vocab_size, 10, 10)
    keep = rng.uniform(0.3, 1, vocab_size)
    whole = count_chunk(indices, offsets, keep, 3, True, vocab_size)
    half = 5
    first = count_chunk(indices[:offsets[half]], offsets[:half + 1], keep, 3, True, vocab_size)
    second = count_chunk(indices[offsets[half]:], offsets[half:] - offsets[half], keep, 3, True, vocab_size)
    assert scipy.sparse.issparse(whole)
    np.testing.assert_allclose((first + second).toarray(), whole.toarray(), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alias_table_draws_exactly_the_noise_distribution(seed):
    rng = np.random.default_rng(seed)
    counts = rng.zipf(1.5, 500).astype(float)
    q = noise_distribution(counts, 0.75)
    threshold, alias = alias_table(q)
    np.testing.assert_allclose(alias_probabilities(threshold, alias), q, rtol=1e-6, atol=1e-12)
    # and the kernel's draw formula, by sampling through the numpy twin's random stream
    stream = _reference.XorShift64Star(seed + 1)
    draws = np.bincount([_reference.draw_noise(stream, threshold, alias) for _ in range(20000)], minlength=500)
    assert np.abs(draws / 20000 - q).max() < 5 * np.sqrt(q.max() / 20000)


@pytest.mark.parametrize("dense_words", [0, 3, 50])
def test_threaded_chunked_counting_matches_numpy_twin(dense_words, monkeypatch):
    """count_statistics over many small chunks on 2 threads, each with its own dense block of frequent pairs."""
    monkeypatch.setattr(cooccurrence, "DENSE_COUNT_WORDS", dense_words)
    rng = np.random.default_rng(11)
    vocab_size, window = 10, 3
    indices, offsets = random_corpus(rng, vocab_size, 40, 12)
    sentences = [[f"w{i}" for i in indices[a:b]] for a, b in zip(offsets[:-1], offsets[1:])]
    key_to_index = {f"w{i}": i for i in range(vocab_size)}
    keep = rng.uniform(0.3, 1.0, vocab_size)
    stats = cooccurrence.count_statistics(sentences, key_to_index, keep, window, True, workers=2, chunk_words=30)
    expected = _reference.count_pairs(indices, offsets, keep, window, True, vocab_size)
    np.testing.assert_allclose(stats.cooccurrence.toarray(), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(stats.word_counts, np.bincount(indices, minlength=vocab_size))


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
@pytest.mark.parametrize("n_matrices", [1, 7, 38, 70])
def test_running_sum_from_several_threads_is_the_sum_in_log_many_partials(n_matrices, dtype):
    rng = np.random.default_rng(n_matrices)
    matrices = [scipy.sparse.random(30, 30, density=0.1, random_state=seed, format="csr",
                                    data_rvs=lambda n: rng.integers(1, 2 ** 40, n)).astype(dtype)
                for seed in range(n_matrices)]
    running = cooccurrence._RunningSum()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(running.add, matrices))
    fan_in = running.FAN_IN
    held = {level: len(parts) for level, parts in running.partials.items() if parts}
    # n in base FAN_IN: the digits are the partial sums held at each level
    assert sum(count * fan_in ** level for level, count in held.items()) == n_matrices
    assert all(count < fan_in for count in held.values())
    expected = sum(m.toarray() for m in matrices)
    total = running.total(30, dtype=dtype)
    assert total.dtype == dtype and total.has_sorted_indices
    if dtype == np.int64:
        np.testing.assert_array_equal(total.toarray(), expected)
    else:
        np.testing.assert_allclose(total.toarray(), expected, rtol=1e-12)


def test_sum_of_sorted_parts_equals_scipy_exactly():
    """The k-way merge of int64 CSR parts: any number of parts, empty rows and empty parts."""
    rng = np.random.default_rng(5)
    for k in (1, 2, 3, 9):
        parts = [scipy.sparse.random(40, 300, density=density, random_state=k * 10 + t, format="csr",
                                     data_rvs=lambda n: rng.integers(-2 ** 50, 2 ** 50, n)).astype(np.int64)
                 for t, density in enumerate([0.0, 0.02, 0.2, 0.5][:k] + [0.1] * max(0, k - 4))]
        parts[0][5:9] = 0   # empty rows
        for part in parts:
            part.eliminate_zeros()
            part.sort_indices()
        indptr, indices, data = sum_sorted_parts([(p.indptr, p.indices, p.data) for p in parts], 40)
        got = scipy.sparse.csr_matrix((data, indices, indptr), shape=(40, 300))
        expected = sum(parts[1:], parts[0])
        np.testing.assert_array_equal(got.toarray(), expected.toarray())
        assert got.has_sorted_indices and data.dtype == np.int64 and indptr.dtype == np.int64
        # converted as they are written: the bits of fixed_to_float32 of the int64 sums, none of them negative
        indptr32, indices32, data32, overflow = sum_sorted_parts([(p.indptr, p.indices, p.data) for p in parts], 40,
                                                                 scale=2.0 ** -32)
        assert data32.dtype == np.float32 and overflow == bool((data < 0).any())
        np.testing.assert_array_equal(indptr32, indptr)
        np.testing.assert_array_equal(indices32, indices)
        np.testing.assert_array_equal(data32.view(np.int32), _cooccurrence.fixed_to_float32(data, 2.0 ** -32)[0]
                                      .view(np.int32))
    # parts holding blocks of rows (first_rows): the sum of the same parts placed in their rows
    blocks = [(0, parts[1][:10]), (10, parts[2][10:40]), (3, parts[-1][3:12]), (40, parts[0][40:40]),
              (0, parts[-1][:40])]
    placed = [scipy.sparse.vstack([scipy.sparse.csr_matrix((first, 300), dtype=np.int64), block,
                                   scipy.sparse.csr_matrix((40 - first - block.shape[0], 300), dtype=np.int64)])
              for first, block in blocks]
    indptr, indices, data = sum_sorted_parts([(b.indptr, b.indices, b.data) for _, b in blocks], 40,
                                             first_rows=[first for first, _ in blocks])
    got = scipy.sparse.csr_matrix((data, indices, indptr), shape=(40, 300))
    np.testing.assert_array_equal(got.toarray(), sum(placed[1:], placed[0]).toarray())
    assert got.has_sorted_indices
    with pytest.raises(ValueError, match="rows within the 40"):
        sum_sorted_parts([(b.indptr, b.indices, b.data) for _, b in blocks], 40, first_rows=[0, 10, 3, 41, 0])
    with pytest.raises(ValueError, match="one row per part"):
        sum_sorted_parts([(b.indptr, b.indices, b.data) for _, b in blocks], 40, first_rows=[0])
    # sums of 0 are left out, as scipy leaves them out (a pair weight that rounds to 0 units)
    part = parts[-1]
    indptr, indices, data = sum_sorted_parts([(part.indptr, part.indices, part.data),
                                              (part.indptr, part.indices, -part.data)], 40)
    assert len(data) == len(indices) == 0 and not indptr.any()
    with pytest.raises(ValueError, match="40 rows"):
        sum_sorted_parts([(np.zeros(5, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))], 40)
    positive = abs(part)
    assert not sum_sorted_parts([(part.indptr, part.indices, positive.data)] * 2, 40, scale=1.0)[3]
    with pytest.raises(OverflowError, match="2\\*\\*31 expected pairs"):
        cooccurrence.float32_sum([(part.indptr, part.indices, -positive.data)] * 2, (40, 300))


@pytest.mark.parametrize("shape", [(7, 7), (3, 11), (11, 11), (0, 5)])
def test_upper_nonzeros_of_summed_blocks_match_their_twin(shape):
    """The threads' exact blocks (square) and bands (wide) -> CSR of the upper triangle of their sum, against
    dense_upper of the sum; what lies below the diagonal is never read, and sums of 0 are left out."""
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for k in (1, 2, 3):
        blocks = [np.where(rng.random(shape) < 0.5, rng.integers(-2 ** 40, 2 ** 40, shape), 0) for _ in range(k)]
        if shape[0] > 2 and k > 1:
            blocks[1][2, 2:] = -blocks[0][2, 2:]       # a row summing to 0
        total = sum(blocks[1:], blocks[0])
        expected = cooccurrence.dense_upper(total, 13, dtype=np.int64)
        for block in blocks:        # garbage below the diagonal, which only a wrong kernel would read
            block[np.tril_indices(shape[0], -1, shape[1])] = 7
        indptr, indices, data = _cooccurrence.upper_nonzeros(blocks, 13)
        np.testing.assert_array_equal(indptr, expected.indptr)
        np.testing.assert_array_equal(indices, expected.indices)
        np.testing.assert_array_equal(data, expected.data)
        assert not (data == 0).any() and data.dtype == np.int64
    with pytest.raises(ValueError, match="one shape"):
        _cooccurrence.upper_nonzeros([np.zeros((3, 3), np.int64), np.zeros((3, 4), np.int64)], 13)
    with pytest.raises(ValueError, match="at least one"):
        _cooccurrence.upper_nonzeros([], 13)


def test_target_operator_products_from_several_threads_at_once():
    """The operator reuses its output buffers; concurrent callers must still get their own products."""
    vocab_size = 40
    rng, op, M = random_target(12, vocab_size, 60, 15, window=3, negative=2, threads=2)
    xs = rng.standard_normal((64, vocab_size))
    with ThreadPoolExecutor(4) as pool:
        products = list(pool.map(op.matvec, xs))
    np.testing.assert_allclose(np.array(products), xs @ M.T, atol=1e-10)


def test_fixed_point_sums_of_triples_match_their_twin():
    rng = np.random.default_rng(5)
    size = 40
    rows = rng.integers(0, size, 3000).astype(np.int32)
    cols = rng.integers(0, size, 3000).astype(np.int32)
    vals = rng.random(3000) * rng.choice([1e-9, 1e-3, 1.0, 2.0], 3000)
    indptr, indices, data = _cooccurrence.sum_triples_fixed(rows, cols, vals, size)
    got = scipy.sparse.csr_matrix((data, indices, indptr), shape=(size, size))
    assert got.has_sorted_indices and data.dtype == np.int64
    np.testing.assert_array_equal(got.toarray(), _reference.sum_triples_fixed(rows, cols, vals, size))
    # exact integer sums: any order and any split of the triples gives the same numbers
    order = rng.permutation(3000)
    again = _cooccurrence.sum_triples_fixed(rows[order], cols[order], vals[order], size)
    assert all(np.array_equal(a, b) for a, b in zip(again, (indptr, indices, data)))
    with pytest.raises(ValueError, match="outside a 40 x 40 matrix"):
        _cooccurrence.sum_triples_fixed(rows, cols + 1, vals, size)
    # built in the triples' own arrays (the counting's way): the same sums, with scratch of no output arrays
    own_cols, own_vals = cols.copy(), vals.copy()
    scratch = _cooccurrence.sum_scratch(3000, size, outputs=False)
    in_place = _cooccurrence.sum_triples_fixed(rows, own_cols, own_vals, size, scratch, overwrite=True)
    assert all(np.array_equal(a, b) for a, b in zip(in_place, (indptr, indices, data)))
    assert len(scratch[2]) == len(scratch[3]) == 0 and not np.array_equal(own_vals, vals)    # overwritten
    assert np.shares_memory(in_place[1], own_cols) and np.shares_memory(in_place[2], own_vals)   # views, no copy
    frozen = vals.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _cooccurrence.sum_triples_fixed(rows, cols.copy(), frozen, size, overwrite=True)


def test_fixed_point_sums_to_float32_are_numpys_conversion():
    rng = np.random.default_rng(8)
    data = np.concatenate([rng.integers(0, 2 ** 62, 5000), rng.integers(0, 2 ** 33, 5000), [0, 1, 2 ** 63 - 1]])
    scale = 1.0 / cooccurrence.FIXED_POINT_UNITS
    got, overflow = _cooccurrence.fixed_to_float32(data, scale)
    assert got.dtype == np.float32 and not overflow
    np.testing.assert_array_equal(got.view(np.int32), (data * scale).astype(np.float32).view(np.int32))   # same bits
    data[77] = -5       # a sum past 2**63 wraps to a negative number
    assert _cooccurrence.fixed_to_float32(data, scale)[1]
    with pytest.raises(OverflowError, match="2\\*\\*31 expected pairs"):
        cooccurrence.from_fixed(scipy.sparse.csr_matrix(data.reshape(1, -1)))


def test_exact_counts_do_not_depend_on_chunking_or_threads():
    # regression: with float32 partial sums, counting threads and chunk sizes moved the last bits of A
    rng = np.random.default_rng(2)
    corpus = [[f"w{int(i)}" for i in rng.zipf(1.3, size=rng.integers(1, 40)) % 300] for _ in range(400)]
    vocab = {f"w{i}": i for i in range(300)}
    keep = rng.uniform(0.05, 1.0, 300)
    results = [cooccurrence.count_statistics(corpus, vocab, keep, 4, workers=workers, chunk_words=chunk)
               for workers, chunk in ((1, 10 ** 6), (2, 97), (3, 1000))]
    for other in results[1:]:
        assert (other.upper != results[0].upper).nnz == 0
        np.testing.assert_array_equal(other.upper.data, results[0].upper.data)
    expected = _reference.count_pairs(*sentences_to_indices(corpus, vocab)[:2], keep, 4, True, 300)
    np.testing.assert_allclose(results[0].upper.toarray(), np.triu(expected), rtol=1e-6, atol=1e-8)
