"""Corpus -> pair statistics: the expected positive-pair counts A and the unigram counts.

See docs/theory.rst, "Pair statistics".

Statistics of independent chunks of a corpus add up (``PairStatistics.__add__``), so counting can be
spread over shards (threads here, or Dask workers over files) as long as every shard uses the same
vocabulary and subsampling probabilities.
"""
import ctypes
import logging
import os
import queue
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from timeit import default_timer

import numpy as np
import scipy.sparse
from gensim import utils

from gensim_qwem._cooccurrence import (FIXED_POINT_UNITS, count_pairs_job, fixed_to_float32, sum_scratch,
                                       sum_sorted_parts, sum_triples_fixed, upper_nonzeros)
from gensim_qwem._corpus_reader import index_lines
from gensim_qwem._parallel import RowSplit
from gensim_qwem.corpus import CorpusFiles, table_for
from gensim_qwem._symmetric import upper_row_sums as _upper_row_sums
from gensim_qwem._encoding import sentences_to_indices

logger = logging.getLogger(__name__)


class PairStatistics(utils.SaveLoad):
    """Expected pair counts of one pass over a corpus under the trainer's sampling scheme.

    A is symmetric, so only its upper triangle is stored (:attr:`upper`, float32): half the entries of
    the full matrix, at 8 bytes each instead of 12. The values are accumulated in float64 within a
    counting job and rounded to float32 (relative error <= 6e-8 per sum) when stored; that moves the
    eigenvalues of M* by about as much, far below the eigensolver's tolerance (1e-3).

    Attributes
    ----------
    upper : scipy.sparse.csr_matrix, float32, V x V
        The upper triangle (j >= i) of A, sorted indices.
    cooccurrence : scipy.sparse.csr_matrix, float64, V x V, symmetric (property)
        ``A[i, j]``: expected number of (centre i, context j) positive pairs per epoch, with the window
        shrinking, OOV removal and subsampling rules of the trainer. Built from :attr:`upper` on each
        access (about 3x the memory of :attr:`upper`): the solver and the statistics never need it.
    word_counts : numpy.ndarray, int64, V
        In-vocabulary token counts of the counted text (before subsampling). A tally of what was counted:
        the noise distribution Q of M* always comes from the vocabulary's counts
        (:class:`~gensim_qwem.target.Target`).
    window, shrink_windows : int, bool
        The windowing the counts were made with.
    keep_prob : numpy.ndarray, float64, V
        Subsampling keep probabilities used (all ones without subsampling).
    """

    def __init__(self, cooccurrence, word_counts, window, shrink_windows, keep_prob, sentences=0):
        # from the full symmetric A (as before the upper-triangle storage); from_upper() skips this copy
        self._set_upper(scipy.sparse.triu(scipy.sparse.csr_matrix(cooccurrence), format="csr"))
        self.word_counts = np.asarray(word_counts, dtype=np.int64)
        self.window = int(window)
        self.shrink_windows = bool(shrink_windows)
        self.keep_prob = np.asarray(keep_prob, dtype=np.float64)
        self.sentences = int(sentences)

    @classmethod
    def from_upper(cls, upper, word_counts, window, shrink_windows, keep_prob, sentences=0):
        """Statistics from the upper triangle (j >= i) of A, stored as given where it is float32 CSR."""
        stats = cls.__new__(cls)
        stats._set_upper(upper)
        stats.word_counts = np.asarray(word_counts, dtype=np.int64)
        stats.window, stats.shrink_windows = int(window), bool(shrink_windows)
        stats.keep_prob = np.asarray(keep_prob, dtype=np.float64)
        stats.sentences = int(sentences)
        return stats

    def _set_upper(self, upper):
        upper = scipy.sparse.csr_matrix(upper, dtype=np.float32)
        if upper.shape[0] != upper.shape[1]:
            raise ValueError(f"pair statistics must be square, got shape {upper.shape}")
        upper.sum_duplicates()    # also sorts the indices
        self.upper = upper

    def __setstate__(self, state):
        # pickles of older versions hold the full symmetric float64 A as "cooccurrence"
        full = state.pop("cooccurrence", None)
        self.__dict__.update(state)
        if full is not None:
            self._set_upper(scipy.sparse.triu(scipy.sparse.csr_matrix(full), format="csr"))

    @property
    def cooccurrence(self):
        """The full symmetric A (float64 CSR), built from :attr:`upper` on request."""
        upper = self.upper.astype(np.float64)
        strict = scipy.sparse.triu(upper, k=1, format="csr")
        full = (upper + strict.T).tocsr()
        full.sort_indices()
        return full

    @property
    def vocab_size(self):
        return self.upper.shape[0]

    @property
    def nnz(self):
        """Non-zero entries of the full symmetric A (counted from :attr:`upper`, without building A)."""
        return 2 * self.upper.nnz - int(np.count_nonzero(self.upper.diagonal()))

    @property
    def stored_entries(self):
        """Entries stored (the upper triangle's); the full A has 2 x this minus its diagonal."""
        return self.upper.nnz

    @property
    def pair_rate(self):
        """a_i = sum_j A_ij: expected positive pairs with centre i per epoch."""
        return upper_row_sums(self.upper)

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
        return PairStatistics.from_upper(self.upper + other.upper, self.word_counts + other.word_counts,
                                         self.window, self.shrink_windows, self.keep_prob,
                                         self.sentences + other.sentences)

    def __repr__(self):
        return (f"PairStatistics(vocab_size={self.vocab_size}, stored_entries={self.stored_entries}, "
                f"window={self.window}, shrink_windows={self.shrink_windows}, sentences={self.sentences})")


def upper_row_sums(upper):
    """Row sums (float64) of the symmetric matrix whose upper triangle (CSR, j >= i) is `upper`.

    Kernel: ``_symmetric.upper_row_sums`` (no temporaries of the matrix's size); numpy twin:
    ``_reference.upper_row_sums``.
    """
    data = upper.data if upper.data.dtype in (np.float32, np.float64) else upper.data.astype(np.float64)
    return _upper_row_sums(upper.indptr.astype(np.int64), upper.indices.astype(np.int32, copy=False), data)


# row ranges summed apart while counting (_RowShardedSum): the last merges then need 1/16 of A at a time
SUM_SHARDS = 16

# partial sums held in memory while counting; past this, each row range's are summed into one run and
# written to a temporary folder (GloVe-style), to be merged range by range at the end. The int64 partial
# sums take 12 bytes an entry plus their overlaps, against 8 for the float32 result: without spilling,
# counting peaked at 1.5-1.9 x the final statistics (638 MiB at 17M tokens, 3.0 x gensim's training).
SPILL_BYTES = 128 << 20

# raw words in a counting job: its triples (room for window + 1 a word, 16 bytes each) and their sort's scratch
# (12 bytes a triple) are each thread's working memory, 67 MiB at window 5 (the pages written: less). 400k words
# count enwiki17m 8-12% faster than 200k (alternating pairs, benchmarks/README.md) for a peak of 537 MiB instead of
# 491-503 (570 if the sorted sums had arrays of their own instead of the triples').
CHUNK_WORDS = 400_000

# pairs among this many most frequent words are summed in a dense block per counting thread (32 MiB)
DENSE_COUNT_WORDS = 2048

# the other pairs of this many most frequent words (with any word) are summed in a dense band of rows per
# counting thread (BAND_COUNT_ROWS x V int64: 17 MiB for V = 68k): on enwiki17m, 43% of what would otherwise be
# triples to sort and merge. Fewer rows where that would pass BAND_COUNT_BYTES (a vocabulary of millions).
BAND_COUNT_ROWS = 32
BAND_COUNT_BYTES = 32 << 20


def band_rows(vocab_size):
    """Rows of each counting thread's exact band: BAND_COUNT_ROWS, fewer for a vocabulary too large for
    BAND_COUNT_BYTES."""
    return int(min(vocab_size, BAND_COUNT_ROWS, BAND_COUNT_BYTES // (8 * max(vocab_size, 1))))


def release_free_memory():
    """Return freed heap memory to the OS (glibc's ``malloc_trim``; a no-op where there is none).

    Counting frees many arrays of a few MiB, which glibc keeps in its heaps for reuse; without this
    the process would carry them (~150 MiB at 17M tokens) into the eigensolve, whose basis needs new memory.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)


# blocks of at least this many bytes get a memory mapping of their own from glibc (M_MMAP_THRESHOLD)
MMAP_THRESHOLD_BYTES = 128 << 10
_M_MMAP_THRESHOLD = -3    # mallopt's parameter number in glibc's malloc.h


def map_large_blocks(threshold=MMAP_THRESHOLD_BYTES):
    """Have glibc serve every block of >= `threshold` bytes by a mapping of its own, unmapped when freed.

    glibc starts at 128 KiB but raises its threshold to the size of each mapped block freed (up to
    32 MiB): after the first few counting jobs, the arrays of a few MiB (job triples, partial sums)
    come from the heaps of the counting and merging threads, which keep what is freed. At 17M tokens
    counting then peaked at 618-682 MiB, against 488-496 MiB with the threshold held at 128 KiB
    (malloc_trim after every job did not close that gap). Returns whether it was set.

    mallopt applies to the whole process and glibc has no way back to the moving threshold: counting
    sets it for its own duration and then :func:`serve_blocks_from_the_heap`. A no-op without glibc, and where
    the user set the threshold through the environment (``MALLOC_MMAP_THRESHOLD_`` or
    ``glibc.malloc.mmap_threshold`` in ``GLIBC_TUNABLES``).
    """
    mallopt = _mallopt()
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, int(threshold)) == 1


def _mallopt():
    """glibc's mallopt, or None without glibc or where the user set the mmap threshold in the environment
    (``MALLOC_MMAP_THRESHOLD_``, or ``glibc.malloc.mmap_threshold`` in ``GLIBC_TUNABLES``)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "malloc.mmap_threshold" in tunables:
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


_M_TRIM_THRESHOLD = -1
# where glibc's moving thresholds stop on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX, and twice that for trimming)
HEAP_MMAP_THRESHOLD_BYTES, HEAP_TRIM_THRESHOLD_BYTES = 32 << 20, 64 << 20


def serve_blocks_from_the_heap():
    """After counting: blocks under 32 MiB from the heap again, which keeps up to 64 MiB free at its top.

    glibc has no way back to its moving thresholds; these are where they end up. Held at 128 KiB
    (:func:`map_large_blocks`), the eigensolve's per-step arrays of a few MiB were each mapped, zero-filled
    and unmapped: enwiki17m's solve took 15.3-16.3 s, against 13.1-13.8 s in a process that never set it
    (peak 489-491 against 517 MiB). Returns whether it was set (as :func:`map_large_blocks`).
    """
    mallopt = _mallopt()
    return (mallopt is not None and mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD_BYTES) == 1
            and mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD_BYTES) == 1)


def keep_probabilities(sample_int):
    """Subsampling keep probability of each word, exactly as the trainer draws it: (sample_int + 1) / 2**32."""
    return np.minimum(1.0, (np.asarray(sample_int, dtype=np.float64) + 1.0) / 2.0 ** 32)


def count_chunk(indices, offsets, keep_prob, window, shrink_windows, vocab_size, dense=None):
    """Counts of one chunk of indexed sentences -> symmetric CSR A (float64). Releases the GIL in the kernel.

    With `dense` (D x D float64), the (left, right) counts among the D most frequent words are added into
    it instead, and left out of the result: add :func:`symmetrised` ``(dense)`` once after the last chunk.
    (The counting itself uses :func:`count_chunk_upper`, which stores half of this.)
    """
    subsample = bool(np.any(keep_prob < 1.0))
    rows, cols, vals = count_pairs_job(indices, offsets, keep_prob, subsample, window, shrink_windows, dense=dense)
    return symmetrised(scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(vocab_size, vocab_size)))


def count_chunk_upper(indices, offsets, keep_prob, window, shrink_windows, vocab_size, dense=None, buffers=None):
    """Upper triangle (j >= i) of :func:`count_chunk`'s A as float32 CSR, summed in float64 first.

    With `dense`, pairs among the D most frequent words go into its upper triangle instead: add
    :func:`dense_upper` ``(dense)`` once after the last chunk. `buffers` (:func:`triple_buffers`) hold the
    kernel's triples, so that a thread reuses them from chunk to chunk.
    """
    subsample = bool(np.any(keep_prob < 1.0))
    rows, cols, vals = count_pairs_job(indices, offsets, keep_prob, subsample, window, shrink_windows,
                                       dense=dense, upper=True, buffers=buffers)
    summed = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(vocab_size, vocab_size))
    del rows, cols, vals
    summed.sum_duplicates()
    return scipy.sparse.csr_matrix((summed.data.astype(np.float32), summed.indices, summed.indptr),
                                   shape=summed.shape)


def count_chunk_fixed(indices, offsets, keep_prob, window, shrink_windows, vocab_size, dense_fixed=None,
                      buffers=None, scratch=None, band_fixed=None):
    """Upper triangle (j >= i) of :func:`count_chunk`'s A as int64 CSR in units of 2**-32 (exact sums: each
    pair's weight rounded to those units once, then added as integers, so that the counts of any split of
    a corpus add up to the very same numbers).

    With `dense_fixed` (D x D int64), pairs among the D most frequent words go into its upper triangle
    instead, and with `band_fixed` (R x V int64) the other pairs of the R most frequent words: add
    :func:`upper_csr` ``([dense_fixed], size)`` (and the same of `band_fixed`) once after the last chunk.
    `buffers` (:func:`triple_buffers`) and `scratch` (``_cooccurrence.sum_scratch``) are a thread's
    working arrays, reused from job to job; the matrix's indices and data are views of the triple arrays (the
    thread's buffers, or the kernel's own new arrays), to be copied out before the next job
    (``_RowShardedSum.add(..., copy=True)``).
    """
    subsample = bool(np.any(keep_prob < 1.0))
    rows, cols, vals = count_pairs_job(indices, offsets, keep_prob, subsample, window, shrink_windows,
                                       dense_fixed=dense_fixed, upper=True, buffers=buffers, band_fixed=band_fixed)
    # the triples are this call's to overwrite (the thread's buffers, or the kernel's own new arrays); the sums
    # are built in them and returned as views
    indptr, columns, data = sum_triples_fixed(rows, cols, vals, vocab_size, scratch, overwrite=True)
    matrix = scipy.sparse.csr_matrix((data, columns, indptr), shape=(vocab_size, vocab_size))
    matrix.has_sorted_indices = True
    return matrix


OVERFLOW_MESSAGE = ("A pair count exceeded 2**31 expected pairs, beyond what the exact int64 sums hold; count with "
                    "subsampling (sample > 0) or count shards apart and add them in float.")


def from_fixed(upper):
    """float32 CSR of int64 counts in units of 2**-32 (:func:`count_chunk_fixed`)."""
    data, overflow = fixed_to_float32(np.ascontiguousarray(upper.data, dtype=np.int64), 1.0 / FIXED_POINT_UNITS)
    if overflow:
        raise OverflowError(OVERFLOW_MESSAGE)
    matrix = scipy.sparse.csr_matrix((data, upper.indices, upper.indptr), shape=upper.shape)
    matrix.has_sorted_indices = upper.has_sorted_indices
    return matrix


def float32_sum(parts, shape, scale=1.0 / FIXED_POINT_UNITS, first_rows=None):
    """The sum of int64 counts in units of `scale` (``parts``: (indptr, indices, data) of CSR matrices of `shape`
    with sorted indices, or of blocks of its rows from `first_rows` on) as float32 CSR: one k-way merge
    (``_cooccurrence.sum_sorted_parts``) that converts each exact sum as it writes it, the same numbers as
    :func:`from_fixed` of the int64 sum, which is never stored."""
    indptr, indices, data, overflow = sum_sorted_parts(parts, shape[0], scale=scale, first_rows=first_rows)
    if overflow:
        raise OverflowError(OVERFLOW_MESSAGE)
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
    matrix.has_sorted_indices = True
    return matrix


def triple_buffers(capacity, previous=None):
    """(rows, cols, vals) arrays for at least `capacity` of the counting kernel's triples: `previous` when
    it holds that many, else new ones.

    Each counting thread keeps one set for all its chunks: fresh arrays per chunk, 16 bytes a triple,
    would each be mapped, zero-filled by the OS as they are written, and unmapped again (glibc maps
    blocks of >= 128 KiB once :func:`map_large_blocks` is in force).
    """
    if previous is not None and len(previous[0]) >= capacity:
        return previous
    return np.empty(capacity, dtype=np.int32), np.empty(capacity, dtype=np.int32), np.empty(capacity)


def dense_upper(block, size, band=128, dtype=np.float32):
    """The upper triangle of a dense top-left block of upper-triangle counts, as float32 CSR (size x size).

    Converted `band` rows at a time (to `dtype`), so the temporaries are a band's, not the block's (np.triu or a
    COO of the whole block would double its memory). The counting's int64 blocks go through :func:`upper_csr`
    (one kernel, several blocks summed); this is its numpy twin in the tests.
    """
    rows = block.shape[0]
    counts = np.zeros(size + 1, dtype=np.int64)
    for lo in range(0, rows, band):
        counts[lo + 1:min(rows, lo + band) + 1] = np.count_nonzero(np.triu(block[lo:lo + band], lo), axis=1)
    indptr = np.cumsum(counts)
    indices = np.empty(indptr[-1], dtype=np.int32)
    data = np.empty(indptr[-1], dtype=dtype)
    for lo in range(0, rows, band):
        part = np.triu(block[lo:lo + band], lo)
        band_rows, band_cols = np.nonzero(part)       # row-major order: sorted columns within each row
        start = indptr[lo]
        indices[start:start + len(band_cols)] = band_cols
        data[start:start + len(band_cols)] = part[band_rows, band_cols]
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(size, size))
    matrix.has_sorted_indices = True
    return matrix


def upper_csr(blocks, size):
    """The upper triangle of the sum of int64 top-left `blocks` of a size x size matrix (the counting threads'
    exact blocks, or bands), as int64 CSR with sorted indices (``_cooccurrence.upper_nonzeros``)."""
    indptr, indices, data = upper_nonzeros(blocks, size)
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(size, size))
    matrix.has_sorted_indices = True
    return matrix


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
                     chunk_words=CHUNK_WORDS, progress_per=5.0, total_words=None):
    """Count :class:`PairStatistics` of a corpus with `workers` threads over chunks of `chunk_words` tokens.

    The counts are exact sums (see :func:`count_exact`), rounded to float32 once at the end.

    Parameters
    ----------
    corpus_iterable : iterable of list of str, or :class:`~gensim_qwem.corpus.CorpusFiles`
        The sentences, as given to ``Word2Vec.train``. Files (CorpusFiles) are read in blocks of whole
        lines that the counting threads tokenise and index themselves, GIL released (same counts).
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

    Notes
    -----
    Under glibc this holds the process's mmap threshold at 128 KiB while counting (:func:`map_large_blocks`),
    so that the arrays freed while counting go back to the OS, then sets glibc's usual maxima
    (:func:`serve_blocks_from_the_heap`).
    """
    keep_prob = np.ascontiguousarray(keep_prob, dtype=np.float64)
    upper, word_counts, _, sentences = count_exact(corpus_iterable, key_to_index, keep_prob, window, shrink_windows,
                                                   workers, chunk_words, progress_per, total_words, as_float32=True)
    return PairStatistics.from_upper(upper, word_counts, window, shrink_windows, keep_prob, sentences)


def count_exact(corpus_iterable, key_to_index, keep_prob, window, shrink_windows=True, workers=1,
                chunk_words=CHUNK_WORDS, progress_per=5.0, total_words=None, as_float32=False, spill_bytes=-1,
                merged=True):
    """The counting behind :func:`count_statistics` -> (upper, word_counts, raw words, sentences).

    `upper` is the upper triangle of A as int64 CSR in units of 2**-32 (:func:`count_chunk_fixed`): exact
    sums, so the counts of the shards of a corpus add up to the count of the whole bit for bit, in any order
    (:mod:`gensim_qwem.distributed`). With `as_float32`, converted to float32 (:func:`from_fixed`); without
    `merged`, the partial sums not yet added up (:class:`PartialSums`), for a Dask shard's rows to be merged where
    they are needed. `spill_bytes`: where the partial sums go to disk (None: never; -1: SPILL_BYTES); the same
    counts either way.
    """
    vocab_size = len(keep_prob)
    keep_prob = np.ascontiguousarray(keep_prob, dtype=np.float64)
    mapped = map_large_blocks()
    spill_bytes = SPILL_BYTES if spill_bytes == -1 else spill_bytes
    partial_sums, errors = _RowShardedSum(vocab_size, SUM_SHARDS, spill_bytes=spill_bytes), []
    try:
        return _count_into(partial_sums, errors, corpus_iterable, key_to_index, keep_prob, window, shrink_windows,
                           workers, chunk_words, progress_per, total_words, as_float32, merged)
    finally:
        partial_sums.close()
        if mapped:
            serve_blocks_from_the_heap()


def _count_into(partial_sums, errors, corpus_iterable, key_to_index, keep_prob, window, shrink_windows, workers,
                chunk_words, progress_per, total_words, as_float32, merged):
    vocab_size = len(keep_prob)
    jobs = queue.Queue(maxsize=2 * workers)
    if isinstance(corpus_iterable, CorpusFiles):
        # raw blocks of whole lines (about 6 bytes a token in English text), indexed by the counting threads
        table, max_length = table_for(key_to_index), corpus_iterable.max_sentence_length
        source = ((block, None, None) for block in corpus_iterable.blocks(block_bytes=6 * chunk_words))
    else:
        source = (chunk[:3] for chunk in _chunks(corpus_iterable, key_to_index, chunk_words))
    tallies = []        # per thread: [in-vocabulary word counts, raw words, sentences]
    exact_blocks = []

    def worker():
        # pairs of the most frequent words accumulate in a per-thread dense block and band across chunks
        dense = np.zeros((min(vocab_size, DENSE_COUNT_WORDS),) * 2, dtype=np.int64)
        band = np.zeros((band_rows(vocab_size), vocab_size), dtype=np.int64)
        tally = [np.zeros(vocab_size, dtype=np.int64), 0, 0]
        tallies.append(tally)
        buffers = scratch = None
        while True:
            job = jobs.get()
            if job is None:
                break
            if errors:
                continue
            try:
                indices, offsets, raw = job
                if offsets is None:     # a block of text: tokenise, index and tally it here (GIL released)
                    indices, offsets, _, raw = index_lines(indices, table, max_length, tally[0])
                else:
                    tally[0] += np.bincount(indices, minlength=vocab_size)
                tally[1] += raw
                tally[2] += len(offsets) - 1
                # room for the kernel's first guess (window + 1 triples a token); more grows in the kernel
                buffers = triple_buffers(len(indices) * (window + 1), buffers)
                scratch = sum_scratch(len(buffers[0]), vocab_size, scratch, outputs=False)
                partial_sums.add(count_chunk_fixed(indices, offsets, keep_prob, window, shrink_windows, vocab_size,
                                                   dense, buffers, scratch, band), copy=True)
            except BaseException as error:  # reported to the caller below
                errors.append(error)
        buffers = scratch = None
        if not errors:      # the threads' blocks and bands (exact int64 sums), summed and converted after the join
            exact_blocks.append((dense, band))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    start = default_timer()
    next_report = start + progress_per
    try:
        for job in source:
            jobs.put(job)
            if errors:
                break
            if default_timer() >= next_report:
                raw_words = sum(tally[1] for tally in tallies)
                rate = raw_words / max(default_timer() - start, 1e-9)
                if total_words:
                    logger.info("PAIR COUNTING: %.1f%% of %i words, %.0f words/s, ETA %.0fs",
                                100.0 * raw_words / total_words, total_words, rate,
                                max(total_words - raw_words, 0) / max(rate, 1e-9))
                else:
                    logger.info("PAIR COUNTING: %i words, %.0f words/s", raw_words, rate)
                next_report = default_timer() + progress_per
    finally:
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    # the threads' blocks summed into CSR, then their bands (_cooccurrence.upper_nonzeros), the blocks freed first
    blocks, bands = [pair[0] for pair in exact_blocks], [pair[1] for pair in exact_blocks]
    del exact_blocks[:]
    partial_sums.add(upper_csr(blocks, vocab_size))
    del blocks
    partial_sums.add(upper_csr(bands, vocab_size))
    del bands
    word_counts = sum(tally[0] for tally in tallies)
    raw_words, sentences = sum(tally[1] for tally in tallies), sum(tally[2] for tally in tallies)
    if not merged:
        upper = partial_sums.partial_sums()
    elif as_float32:
        upper = partial_sums.total(dtype=np.float32, scale=1.0 / FIXED_POINT_UNITS, threads=workers)
    else:
        upper = partial_sums.total(dtype=np.int64, threads=workers)
    release_free_memory()
    if partial_sums.spills:
        logger.info("partial sums went to a temporary folder %i times (%.0f MiB written, now removed)",
                    partial_sums.spills, partial_sums.spilled_bytes / 2 ** 20)
    logger.info("counted pair statistics of %i sentences, %i words in %.1fs: %i %s (upper triangle)",
                sentences, raw_words, default_timer() - start, upper.nnz,
                "stored pairs" if merged else "entries in partial sums")
    return upper, word_counts, raw_words, sentences


class RowStack:
    """The rows of a `size` x `size` CSR matrix appended block after block (in row order) into arrays allocated at a
    bound of their entries, of which only the pages written take memory; :meth:`matrix` shrinks them in place
    (realloc, nothing copied)."""

    def __init__(self, size, bound, dtype):
        self.shape = (size, size)
        self.indptr = np.zeros(size + 1, dtype=np.int64)
        self.indices = np.empty(bound, dtype=np.int32)
        self.data = np.empty(bound, dtype=dtype)
        self.row = self.start = 0

    def append(self, indptr, indices, data):
        """The next len(indptr) - 1 rows, sorted indices (their arrays may be freed after the call)."""
        rows, nnz = len(indptr) - 1, len(indices)
        self.indptr[self.row + 1:self.row + rows + 1] = indptr[1:] + self.start
        self.indices[self.start:self.start + nnz] = indices
        self.data[self.start:self.start + nnz] = data
        self.row, self.start = self.row + rows, self.start + nnz

    def matrix(self):
        """The rows appended, as CSR with sorted indices (the stack's arrays, shrunk to them)."""
        self.indices.resize(self.start, refcheck=False)
        self.data.resize(self.start, refcheck=False)
        matrix = scipy.sparse.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
        matrix.has_sorted_indices = True
        return matrix


class PartialSums:
    """A count's exact int64 partial sums, not added up yet: ``blocks`` of (first row, CSR of rows from there on,
    sorted indices) in units of 2**-32, of a `size` x `size` matrix. A Dask shard's count
    (``count_exact(..., merged=False)``): its rows are merged where they are needed (:func:`rows_of`), each entry
    once, so the shard's own sum is never built."""

    def __init__(self, size, blocks):
        self.size, self.blocks = size, blocks

    @property
    def nnz(self):
        """Entries held (an entry of the sum may be held by several blocks)."""
        return sum(block.nnz for _, block in self.blocks)

    def row_entries(self):
        """The entries held in each row (at least the sum's)."""
        entries = np.zeros(self.size, dtype=np.int64)
        for first, block in self.blocks:
            entries[first:first + block.shape[0]] += np.diff(block.indptr)
        return entries


def rows_of(sums, lo, hi, columns, extra=(), as_float32=False):
    """Rows lo:hi (of `columns` columns) of the sum of :class:`PartialSums` `sums` and of the `extra` pieces
    ((indptr, indices, data) of int64 rows lo:hi), in one k-way merge: int64 CSR, or with `as_float32` float32
    CSR (:func:`float32_sum`)."""
    arrays, first_rows = [], []
    for partial in sums:
        for first, block in partial.blocks:
            a, b = max(lo, first), min(hi, first + block.shape[0])
            if a < b:
                piece = _row_range(block, a - first, b - first)
                arrays.append((piece.indptr, piece.indices, piece.data))
                first_rows.append(a - lo)
    arrays.extend(extra)
    first_rows.extend([0] * len(extra))
    shape = (hi - lo, columns)
    if as_float32:
        return float32_sum(arrays, shape, first_rows=first_rows)
    indptr, indices, data = sum_sorted_parts(arrays, hi - lo, first_rows=first_rows)
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
    matrix.has_sorted_indices = True
    return matrix


class _RunningSum:
    """Sum of sparse matrices added one by one, merged FAN_IN at a time as they arrive.

    ``partials[level]`` holds up to FAN_IN - 1 partial sums of FAN_IN ** level matrices each; the
    FAN_IN-th at a level is merged with the others in one pass (:func:`summed_parts`) into a sum for
    the next level. So memory stays near the size of the result instead of growing with the number of
    chunks, and each entry is copied log_FAN_IN(n) times (adding two at a time copied it log_2(n) times:
    at 17M tokens, 2.2 GB of fresh pages and about a third of the counting's CPU).
    """

    FAN_IN = 8

    def __init__(self):
        self.partials = {}   # level -> list of partial sums of FAN_IN ** level matrices
        self.lock = threading.Lock()

    def parts(self):
        """The partial sums held now (a snapshot)."""
        with self.lock:
            return [part for level in self.partials.values() for part in level]

    def take_all(self):
        """The partial sums held now, removed from this sum."""
        with self.lock:
            parts = [part for level in self.partials.values() for part in level]
            self.partials.clear()
        return parts

    def add(self, matrix):
        level = 0
        while True:
            with self.lock:
                waiting = self.partials.setdefault(level, [])
                waiting.append(matrix)
                if len(waiting) < self.FAN_IN:
                    return
                parts = waiting[:]
                waiting.clear()
            # merged outside the lock (GIL released), by whichever thread brought the last one
            matrix, level = summed_parts(parts, matrix.shape), level + 1

    def total(self, size, dtype=np.float64, columns=None):
        parts = self.take_all()
        if not parts:
            return scipy.sparse.csr_matrix((size, size if columns is None else columns), dtype=dtype)
        return self.summed(parts, size, columns, dtype)

    @staticmethod
    def summed(parts, size, columns=None, dtype=None):
        """The sum of `parts` as CSR with sorted indices (the list is emptied)."""
        shape = (size, size if columns is None else columns)
        total = summed_parts(parts, shape)
        parts.clear()
        return scipy.sparse.csr_matrix(total, dtype=dtype, shape=shape)


def summed_parts(parts, shape):
    """The sum of CSR matrices of one `shape`, sorted indices: int64 ones in one k-way merge
    (``_cooccurrence.sum_sorted_parts``: exact, each entry copied once), others added by scipy."""
    if len(parts) == 1:
        total = scipy.sparse.csr_matrix(parts[0])
    elif all(part.dtype == np.int64 for part in parts):
        arrays = []
        for part in parts:
            part.sort_indices()      # a no-op for the counting's parts, which come sorted
            arrays.append((part.indptr, part.indices, part.data))
        indptr, indices, data = sum_sorted_parts(arrays, shape[0])
        total = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
        total.has_sorted_indices = True
    else:
        parts = sorted(parts, key=lambda part: part.nnz, reverse=True)
        total = parts.pop()
        while parts:         # smallest first: the largest is added once
            total = total + parts.pop()
    total.sort_indices()
    return total


def _row_range(matrix, lo, hi, copy=False):
    """Rows lo:hi of a CSR matrix, sharing its index and data arrays (with `copy`, in arrays of their own).

    Neither scipy's slicing nor its constructor would share them: the constructor's format check copies any
    view of under half its array (``prune``). For the counting's jobs that was a second copy of every job's
    sums, cut into SUM_SHARDS ranges (a fifth of the counting's page faults at 17M tokens). So the arrays
    are set into an empty matrix of the right shape."""
    a, b = matrix.indptr[lo], matrix.indptr[hi]
    part = scipy.sparse.csr_matrix((hi - lo, matrix.shape[1]), dtype=matrix.dtype)
    part.indptr = (matrix.indptr[lo:hi + 1] - a).astype(matrix.indices.dtype, copy=False)
    part.indices, part.data = matrix.indices[a:b], matrix.data[a:b]
    if copy:
        part.indices, part.data = part.indices.copy(), part.data.copy()
    part.has_sorted_indices = matrix.has_sorted_indices
    return part


def _write_run(path, run):
    """A CSR matrix's indptr, indices and data, raw, one after the other (np.savez's zip would compute a
    CRC of every byte: 3% of the counting's time at 17M tokens)."""
    with open(path, "wb") as stored:
        for array in (run.indptr, run.indices, run.data):
            array.tofile(stored)


def _read_run(path, rows, columns, nnz, dtypes):
    """The CSR matrix (sorted indices) that :func:`_write_run` wrote, given its shape, entries and the
    (indptr, indices, data) types."""
    indptr_type, indices_type, data_type = dtypes
    with open(path, "rb") as stored:
        indptr = np.fromfile(stored, dtype=indptr_type, count=rows + 1)
        indices = np.fromfile(stored, dtype=indices_type, count=nnz)
        data = np.fromfile(stored, dtype=data_type, count=nnz)
    if len(indptr) != rows + 1 or len(indices) != nnz or len(data) != nnz:
        raise OSError(f"The partial sums in {path} were cut short (was the temporary folder cleaned while "
                      "counting?); count again.")
    run = scipy.sparse.csr_matrix((data, indices, indptr), shape=(rows, columns))
    run.has_sorted_indices = True
    return run


class _RowShardedSum:
    """Sum of V x V sparse matrices, each cut into `shards` row ranges that are summed apart (a
    :class:`_RunningSum` each) and joined once at the end.

    Merging whole matrices needs both operands and the result in memory at once, up to twice the final
    size; per row range that transient is 1/shards of it. The ranges hold about equal numbers of entries
    of the first matrix added.

    With `spill_bytes`, once the partial sums in memory take more than that, each range's are summed into
    one run that is written to a temporary folder (``tempfile.gettempdir()``, e.g. ``TMPDIR``) and dropped
    from memory; :meth:`total` adds a range's runs back one range at a time. Integer sums (int64 counts)
    come out the same bits either way. :meth:`close` removes the folder.
    """

    def __init__(self, size, shards, spill_bytes=None):
        self.size, self.shards = size, max(1, int(shards))
        self.bounds, self.sums = None, None
        self.lock = threading.Lock()
        self.spill_bytes, self.spill_lock = spill_bytes, threading.Lock()
        self.folder, self.runs, self.spills = None, None, 0     # runs[r]: files of range r's spilled sums
        self.spilled_bytes = 0

    def add(self, matrix, copy=False):
        """Add `matrix`, cut into the row ranges: views of its arrays, or with `copy` arrays of their own (for a
        matrix whose arrays are reused after this call, as the counting's jobs are)."""
        matrix = scipy.sparse.csr_matrix(matrix)
        with self.lock:
            if self.bounds is None:
                ranges = RowSplit.balanced(matrix.indptr, self.shards).ranges or [(0, self.size)]
                self.bounds = [lo for lo, _ in ranges] + [ranges[-1][1]]
                self.sums = [_RunningSum() for _ in self.bounds[1:]]
                self.runs = [[] for _ in self.sums]
        for index, (lo, hi) in enumerate(zip(self.bounds[:-1], self.bounds[1:])):
            self.sums[index].add(_row_range(matrix, lo, hi, copy))
        del matrix
        if self.spill_bytes is not None and self.memory_bytes() > self.spill_bytes:
            self.spill()

    def memory_bytes(self):
        """Bytes of the partial sums held in memory now (indices and values; merges in flight not included)."""
        total = 0
        for running in self.sums or ():
            parts = running.parts()
            total += sum(part.indices.nbytes + part.data.nbytes + part.indptr.nbytes for part in parts)
        return total

    def spill(self):
        """Each range's partial sums in memory, summed into one run and written to the temporary folder.

        One thread spills at a time (the others go on counting); a range's merge in flight on another thread
        keeps its operands and gives its result back to memory, for a later spill or :meth:`total`."""
        if not self.spill_lock.acquire(blocking=False):
            return
        try:
            if self.folder is None:
                self.folder = tempfile.mkdtemp(prefix="gensim_qwem_counts_")
            for index, running in enumerate(self.sums):
                parts = running.take_all()
                if not parts:
                    continue
                lo, hi = self.bounds[index], self.bounds[index + 1]
                run = _RunningSum.summed(parts, hi - lo, self.size)
                del parts
                path = os.path.join(self.folder, f"range{index}_run{len(self.runs[index])}.bin")
                try:
                    _write_run(path, run)
                except OSError as error:
                    raise OSError(f"Counting writes partial sums to {self.folder} when they pass "
                                  f"{self.spill_bytes / 2 ** 20:.0f} MiB, and that failed ({error}). Point TMPDIR "
                                  "to a folder with room for about twice the statistics, or raise "
                                  "gensim_qwem.cooccurrence.SPILL_BYTES (None: never write).") from error
                self.runs[index].append((path, run.nnz, (run.indptr.dtype, run.indices.dtype, run.data.dtype)))
                self.spilled_bytes += run.indices.nbytes + run.data.nbytes + run.indptr.nbytes
                del run
            self.spills += 1
            release_free_memory()
        finally:
            self.spill_lock.release()

    def _spilled(self, index, columns):
        """Range `index`'s runs read back from the folder, as CSR matrices."""
        rows = self.bounds[index + 1] - self.bounds[index]
        for path, nnz, dtypes in self.runs[index] if self.runs else ():
            run = _read_run(path, rows, columns, nnz, dtypes)
            os.remove(path)
            yield run

    def partial_sums(self):
        """What was added, not summed: :class:`PartialSums` of the ranges' partial sums in memory and their
        spilled runs, read back (the folder is then empty)."""
        blocks = []
        for index, running in enumerate(self.sums or ()):
            blocks.extend((self.bounds[index], part) for part in self._range_parts(index, running))
        self.sums = None
        return PartialSums(self.size, blocks)

    def _range_parts(self, index, running):
        """Range `index`'s partial sums: those in memory (taken from `running`), then its spilled runs, read back."""
        return running.take_all() + list(self._spilled(index, self.size))

    def close(self):
        """Remove the temporary folder of spilled runs, if any (also after a failure)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def total(self, dtype=np.float64, scale=None, threads=1):
        """The sum as one CSR matrix with sorted indices, summed and copied range by range.

        With `scale`, the sums are int64 counts in units of `scale` (:func:`count_chunk_fixed`), converted
        range by range; an overflow raises OverflowError. The result's arrays are allocated at an upper
        bound of their size (the partial sums' entries), of which only the pages written take memory, and
        shrunk in place at the end. `threads` ranges are summed at once (each range's merge releases the GIL)
        and copied in order as they are done, so only about that many ranges' sums exist at a time.
        """
        if self.sums is None:
            return scipy.sparse.csr_matrix((self.size, self.size), dtype=dtype)
        ranges = list(zip(self.bounds[:-1], self.bounds[1:]))
        sums, self.sums = self.sums, None
        bound = sum(part.nnz for running in sums for part in running.parts())
        bound += sum(nnz for runs in self.runs for _, nnz, _ in runs)    # and the spilled runs' entries
        stack = RowStack(self.size, bound, dtype)

        def range_sum(index):
            """Range `index`'s sum: (indptr, indices, data in `dtype`)."""
            lo, hi = ranges[index]
            running, sums[index] = sums[index], None
            if scale is not None and dtype == np.float32:   # all of them in one merge, converted as it writes them
                parts = self._range_parts(index, running)
                for part in parts:
                    part.sort_indices()      # a no-op for the counting's parts, which come sorted
                part = float32_sum([(part.indptr, part.indices, part.data) for part in parts], (hi - lo, self.size),
                                   scale)
                del parts, running
                return part.indptr, part.indices, part.data
            for run in self._spilled(index, self.size):
                running.add(run)
            part = running.total(hi - lo, dtype if scale is None else np.int64, columns=self.size)
            del running
            if scale is None:
                return part.indptr, part.indices, part.data
            data = (part.data * scale).astype(dtype, copy=False)
            if part.nnz and part.data.min() < 0:
                raise OverflowError(OVERFLOW_MESSAGE)
            return part.indptr, part.indices, data

        threads = max(1, int(threads))
        with ThreadPoolExecutor(threads) as pool:
            pending = [pool.submit(range_sum, index) for index in range(min(threads, len(ranges)))]
            for index in range(len(ranges)):
                stack.append(*pending.pop(0).result())
                if index + threads < len(ranges):
                    pending.append(pool.submit(range_sum, index + threads))
                release_free_memory()   # the range's arrays sit in the heap; give them back before the next fills
        return stack.matrix()
