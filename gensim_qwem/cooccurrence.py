"""Corpus -> pair statistics (THEORY §2): the expected positive-pair counts A and the unigram counts.

Statistics of independent chunks of a corpus add up (``PairStatistics.__add__``), so counting can be
spread over shards (threads here, or Dask workers over files) as long as every shard uses the same
vocabulary and subsampling probabilities.
"""
import logging
import queue
import threading
from timeit import default_timer

import numpy as np
import scipy.sparse
from gensim import utils

from gensim_qwem._cooccurrence import count_pairs_job
from gensim_qwem._sgd import sentences_to_indices

logger = logging.getLogger(__name__)


class PairStatistics(utils.SaveLoad):
    """Expected pair counts of one pass over a corpus under the trainer's sampling scheme.

    Attributes
    ----------
    cooccurrence : scipy.sparse.csr_matrix, float64, V x V, symmetric
        ``A[i, j]``: expected number of (centre i, context j) positive pairs per epoch, with the window
        shrinking, OOV removal and subsampling rules of the trainer.
    word_counts : numpy.ndarray, int64, V
        In-vocabulary token counts of the counted text (before subsampling).
    window, shrink_windows : int, bool
        The windowing the counts were made with.
    keep_prob : numpy.ndarray, float64, V
        Subsampling keep probabilities used (all ones without subsampling).
    """

    def __init__(self, cooccurrence, word_counts, window, shrink_windows, keep_prob, sentences=0):
        self.cooccurrence = scipy.sparse.csr_matrix(cooccurrence, dtype=np.float64)
        self.word_counts = np.asarray(word_counts, dtype=np.int64)
        self.window = int(window)
        self.shrink_windows = bool(shrink_windows)
        self.keep_prob = np.asarray(keep_prob, dtype=np.float64)
        self.sentences = int(sentences)

    @property
    def vocab_size(self):
        return self.cooccurrence.shape[0]

    @property
    def pair_rate(self):
        """a_i = sum_j A_ij: expected positive pairs with centre i per epoch."""
        return np.asarray(self.cooccurrence.sum(axis=1)).ravel()

    def matches(self, keep_prob, window, shrink_windows):
        """Whether these counts were made with the given sampling scheme."""
        return (self.window == window and self.shrink_windows == bool(shrink_windows)
                and self.keep_prob.shape == np.shape(keep_prob) and np.allclose(self.keep_prob, keep_prob))

    def __add__(self, other):
        if not isinstance(other, PairStatistics):
            return NotImplemented
        if other.vocab_size != self.vocab_size or not self.matches(other.keep_prob, other.window,
                                                                   other.shrink_windows):
            raise ValueError(
                "Pair statistics add up only when counted with the same vocabulary, window, shrink_windows "
                "and subsampling; count every shard with the same model settings.")
        return PairStatistics(self.cooccurrence + other.cooccurrence, self.word_counts + other.word_counts,
                              self.window, self.shrink_windows, self.keep_prob, self.sentences + other.sentences)

    def __repr__(self):
        return (f"PairStatistics(vocab_size={self.vocab_size}, nnz={self.cooccurrence.nnz}, "
                f"window={self.window}, shrink_windows={self.shrink_windows}, sentences={self.sentences})")


# pairs among this many most frequent words are summed in a dense block per counting thread (32 MiB)
DENSE_COUNT_WORDS = 2048


def keep_probabilities(sample_int):
    """Subsampling keep probability of each word, exactly as the trainer draws it: (sample_int + 1) / 2**32."""
    return np.minimum(1.0, (np.asarray(sample_int, dtype=np.float64) + 1.0) / 2.0 ** 32)


def count_chunk(indices, offsets, keep_prob, window, shrink_windows, vocab_size, dense=None):
    """Counts of one chunk of indexed sentences -> symmetric CSR A (float64). Releases the GIL in the kernel.

    With `dense` (D x D float64), the (left, right) counts among the D most frequent words are added into
    it instead, and left out of the result: add :func:`symmetrised` ``(dense)`` once after the last chunk.
    """
    subsample = bool(np.any(keep_prob < 1.0))
    rows, cols, vals = count_pairs_job(indices, offsets, keep_prob, subsample, window, shrink_windows, dense=dense)
    return symmetrised(scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(vocab_size, vocab_size)))


def symmetrised(left_right, size=None):
    """A = C + C^T from counts C of (left word, right word) pairs (sparse, or a dense top-left block)."""
    size = size or left_right.shape[0]
    if not scipy.sparse.issparse(left_right):
        block = scipy.sparse.coo_matrix(left_right)
        left_right = scipy.sparse.csr_matrix((block.data, (block.row, block.col)), shape=(size, size))
    left_right.sum_duplicates()
    return left_right + left_right.T.tocsr()


def _chunks(corpus_iterable, key_to_index, chunk_words):
    """Yield (indices, offsets, raw_words, sentences) for chunks of about `chunk_words` raw tokens."""
    batch, size = [], 0
    for sentence in corpus_iterable:
        batch.append(sentence)
        size += len(sentence)
        if size >= chunk_words:
            yield sentences_to_indices(batch, key_to_index) + (len(batch),)
            batch, size = [], 0
    if batch:
        yield sentences_to_indices(batch, key_to_index) + (len(batch),)


def count_statistics(corpus_iterable, key_to_index, keep_prob, window, shrink_windows=True, workers=1,
                     chunk_words=500_000, progress_per=5.0, total_words=None):
    """Count :class:`PairStatistics` of a corpus with `workers` threads over chunks of `chunk_words` tokens.

    Parameters
    ----------
    corpus_iterable : iterable of list of str
        The sentences, as given to ``Word2Vec.train``.
    key_to_index : dict
        Vocabulary (``model.wv.key_to_index``); other tokens are removed before windowing.
    keep_prob : numpy.ndarray
        Subsampling keep probability per word (:func:`keep_probabilities`).
    window : int
        Maximum distance between centre and context, as gensim's ``window``.
    shrink_windows : bool
        Whether the trainer draws a reduced window per centre (gensim's ``shrink_windows``).
    workers : int
        Counting threads.
    total_words : int, optional
        Raw words in the corpus (``model.corpus_total_words``), for percentages and ETA in the log.
    """
    vocab_size = len(keep_prob)
    keep_prob = np.ascontiguousarray(keep_prob, dtype=np.float64)
    partial_sums, errors = _RunningSum(), []
    word_counts = np.zeros(vocab_size, dtype=np.int64)
    jobs = queue.Queue(maxsize=2 * workers)

    def worker():
        # pairs of the most frequent words accumulate in a per-thread dense block across chunks
        dense = np.zeros((min(vocab_size, DENSE_COUNT_WORDS),) * 2)
        while True:
            job = jobs.get()
            if job is None:
                break
            if errors:
                continue
            try:
                partial_sums.add(count_chunk(job[0], job[1], keep_prob, window, shrink_windows, vocab_size, dense))
            except BaseException as error:  # reported to the caller below
                errors.append(error)
        if not errors:
            try:
                partial_sums.add(symmetrised(dense, vocab_size))
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    start = next_report = default_timer()
    raw_words = sentences = 0
    try:
        for indices, offsets, raw, n_sentences in _chunks(corpus_iterable, key_to_index, chunk_words):
            word_counts += np.bincount(indices, minlength=vocab_size)
            raw_words += raw
            sentences += n_sentences
            jobs.put((indices, offsets))
            if errors:
                break
            if default_timer() >= next_report:
                rate = raw_words / max(default_timer() - start, 1e-9)
                if total_words:
                    logger.info("PAIR COUNTING: %.1f%% of %i words, %.0f words/s, ETA %.0fs",
                                100.0 * raw_words / total_words, total_words, rate,
                                max(total_words - raw_words, 0) / max(rate, 1e-9))
                else:
                    logger.info("PAIR COUNTING: %i sentences, %i words, %.0f words/s", sentences, raw_words, rate)
                next_report = default_timer() + progress_per
    finally:
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    cooccurrence = partial_sums.total(vocab_size)
    logger.info("counted pair statistics of %i sentences, %i words in %.1fs: %i distinct pairs",
                sentences, raw_words, default_timer() - start, cooccurrence.nnz)
    return PairStatistics(cooccurrence, word_counts, window, shrink_windows, keep_prob, sentences)


class _RunningSum:
    """Sum of sparse matrices added one by one, merged as they arrive (binary-counter order).

    Keeps O(log n) partial sums, each entry copied O(log n) times, so memory stays near the size of
    the result instead of growing with the number of chunks.
    """

    def __init__(self):
        self.partials = {}   # number of chunks summed -> matrix; at most one partial sum per count
        self.lock = threading.Lock()

    def add(self, matrix):
        count = 1
        while True:
            with self.lock:
                other = self.partials.pop(count, None)
                if other is None:
                    self.partials[count] = matrix
                    return
            # summed outside the lock (GIL released), by whichever thread brought the second one;
            # keyed by count, not stack order, so concurrent merges still pair equal sizes
            matrix, count = matrix + other, 2 * count

    def total(self, size):
        if not self.partials:
            return scipy.sparse.csr_matrix((size, size), dtype=np.float64)
        # smallest first: each addition costs the size of both operands, so the largest is added once
        counts = sorted(self.partials)
        total = self.partials[counts[0]]
        for count in counts[1:]:
            total = total + self.partials[count]
        total = total.tocsr()
        total.sort_indices()
        return total
