"""Property tests of the pair-statistics kernel on random small corpora (hypothesis).

Sentences are int32 vocabulary indices with int64 offsets, as the kernel receives them. Without
subsampling the kernel is exact windowed counting, so its total has a closed form; with subsampling it
computes an expectation, which the numpy twin (``_reference.count_pairs``) computes another way.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gensim_qwem._reference import count_pairs
from gensim_qwem.cooccurrence import count_chunk

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def corpora(draw, max_vocab=8, max_sentences=6, max_length=25):
    """(indices, offsets, vocab_size, window, shrink_windows, sentences as lists)."""
    vocab_size = draw(st.integers(1, max_vocab))
    sentences = draw(st.lists(st.lists(st.integers(0, vocab_size - 1), max_size=max_length),
                              max_size=max_sentences))
    indices = np.array([token for sentence in sentences for token in sentence], dtype=np.int32)
    offsets = np.cumsum([0] + [len(sentence) for sentence in sentences]).astype(np.int64)
    window = draw(st.integers(1, 10))
    shrink_windows = draw(st.booleans())
    return indices, offsets, vocab_size, window, shrink_windows, sentences


def keep_probabilities(draw, vocab_size):
    """Per-word keep probabilities in (0, 1], some exactly 1 (frequent words are subsampled, rare are not)."""
    values = draw(st.lists(st.one_of(st.just(1.0), st.floats(0.01, 1.0)), min_size=vocab_size,
                           max_size=vocab_size))
    return np.array(values, dtype=np.float64)


def offset_weight(delta, window, shrink_windows):
    """Expected weight of a pair `delta` kept positions apart: (L + 1 - delta) / L when windows shrink."""
    return (window + 1 - delta) / window if shrink_windows else 1.0


def closed_form_total(sentences, window, shrink_windows):
    """sum over sentences of sum_{delta=1..L} 2 * max(0, n - delta) * weight(delta)."""
    return sum(2 * max(0, len(sentence) - delta) * offset_weight(delta, window, shrink_windows)
               for sentence in sentences for delta in range(1, window + 1))


def dense(A):
    return A.toarray()


@PROPERTY_SETTINGS
@given(corpora(), st.data())
def test_counts_are_symmetric_and_non_negative(corpus, data):
    indices, offsets, vocab_size, window, shrink, _ = corpus
    for keep in (np.ones(vocab_size), keep_probabilities(data.draw, vocab_size)):
        A = dense(count_chunk(indices, offsets, keep, window, shrink, vocab_size))
        assert A.shape == (vocab_size, vocab_size)
        np.testing.assert_array_equal(A, A.T)
        assert np.all(A >= 0)
        assert np.all(np.isfinite(A))


@PROPERTY_SETTINGS
@given(corpora())
def test_total_without_subsampling_matches_the_window_weights(corpus):
    indices, offsets, vocab_size, window, shrink, sentences = corpus
    A = count_chunk(indices, offsets, np.ones(vocab_size), window, shrink, vocab_size)
    assert A.sum() == pytest.approx(closed_form_total(sentences, window, shrink), rel=1e-12, abs=1e-12)
    if not shrink:  # plain windowed counting: whole numbers
        np.testing.assert_array_equal(A.data, np.round(A.data))


@PROPERTY_SETTINGS
@given(corpora(), st.data())
def test_kernel_equals_the_numpy_twin(corpus, data):
    indices, offsets, vocab_size, window, shrink, _ = corpus
    native = dense(count_chunk(indices, offsets, np.ones(vocab_size), window, shrink, vocab_size))
    np.testing.assert_allclose(native, count_pairs(indices, offsets, None, window, shrink, vocab_size),
                               rtol=1e-12, atol=1e-12)
    keep = keep_probabilities(data.draw, vocab_size)
    native = dense(count_chunk(indices, offsets, keep, window, shrink, vocab_size))
    # the kernel stops following a pair once the chance that it is still in the window falls below 1e-9
    np.testing.assert_allclose(native, count_pairs(indices, offsets, keep, window, shrink, vocab_size),
                               rtol=1e-7, atol=1e-8)


@PROPERTY_SETTINGS
@given(corpora(), corpora(), st.data())
def test_counts_of_two_chunks_add_up(first, second, data):
    """What makes sharding work: counting a corpus in two chunks gives the sum of the two counts."""
    vocab_size = max(first[2], second[2])
    window, shrink = first[3], first[4]
    keep = keep_probabilities(data.draw, vocab_size)
    both_indices = np.concatenate([first[0], second[0]]).astype(np.int32)
    both_offsets = np.concatenate([first[1], second[1][1:] + first[1][-1]]).astype(np.int64)
    together = dense(count_chunk(both_indices, both_offsets, keep, window, shrink, vocab_size))
    apart = sum(dense(count_chunk(part[0], part[1], keep, window, shrink, vocab_size)) for part in (first, second))
    np.testing.assert_allclose(together, apart, rtol=1e-12, atol=1e-12)


@PROPERTY_SETTINGS
@given(corpora(), st.data())
def test_subsampling_never_adds_pairs(corpus, data):
    """In total, subsampling never adds pairs: with m of n tokens kept a sentence has
    2 sum_delta max(0, m - delta) weight(delta) pairs, which grows with m. (Pair by pair it can add:
    dropping the tokens between two words brings them into each other's window.)
    """
    indices, offsets, vocab_size, window, shrink, _ = corpus
    keep = keep_probabilities(data.draw, vocab_size)
    full = count_chunk(indices, offsets, np.ones(vocab_size), window, shrink, vocab_size).sum()
    sampled = count_chunk(indices, offsets, keep, window, shrink, vocab_size).sum()
    assert sampled <= full * (1 + 1e-12) + 1e-12
