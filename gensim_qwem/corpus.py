"""``corpus_file`` read natively: files of one sentence per line -> vocabulary indices, in blocks of whole lines.

:class:`CorpusFiles` stands for one file, several files or a folder of them. Iterated, it gives the sentences
of gensim's LineSentence / PathLineSentences (lists of str); the vocabulary scan, the pair counting and
training instead read it in blocks of whole lines that the kernel ``_corpus_reader`` tokenises and indexes
with the GIL released, with no Python object per token, and with the same tokens and sentences.
"""
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import smart_open.compression
from gensim import utils
from gensim.models.word2vec import MAX_WORDS_IN_BATCH, LineSentence, PathLineSentences

from gensim_qwem._corpus_reader import TokenTable, index_lines, job_cuts, scan_lines

logger = logging.getLogger(__name__)

# bytes read at a time; a block handed on holds whole lines only (about 180k tokens of enwiki17m)
BLOCK_BYTES = 1 << 20


class CorpusFiles:
    """One or more text files of one sentence per line (UTF-8, tokens separated by whitespace).

    Parameters
    ----------
    source : str or os.PathLike, or a list of them
        A file, a folder (its files in name order, as PathLineSentences; sub-folders are skipped), or a
        list of files and folders, read in that order. ``.gz`` and ``.bz2`` files are decompressed.
    max_sentence_length : int
        Longer lines are cut into sentences of this many tokens, as LineSentence does.
    """

    def __init__(self, source, max_sentence_length=MAX_WORDS_IN_BATCH):
        if isinstance(source, CorpusFiles):
            source, max_sentence_length = source.paths, source.max_sentence_length
        items = [source] if isinstance(source, (str, bytes, os.PathLike)) else source
        try:
            items = list(items)
        except TypeError:
            raise TypeError("corpus_file must be a path to a text file or folder, or a list of them; got "
                            f"{type(source).__name__}.") from None
        paths = []
        for item in items:
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError("corpus_file must be a path to a text file or folder, or a list of them; got "
                                f"a {type(item).__name__} {item!r} in it.")
            item = os.fspath(item)
            if os.path.isdir(item):
                paths.extend(sorted(os.path.join(item, name) for name in os.listdir(item)
                                    if os.path.isfile(os.path.join(item, name))))
            elif os.path.isfile(item):
                paths.append(item)
            else:
                raise FileNotFoundError(f"corpus_file {item!r} does not exist or is not a file or folder.")
        if not paths:
            raise ValueError(f"corpus_file {source!r} names no file: give a text file, a folder of them, or a list "
                             "of them.")
        if isinstance(max_sentence_length, bool) or not isinstance(max_sentence_length, int) \
                or max_sentence_length < 1:
            raise ValueError(f"max_sentence_length must be an int >= 1. Got {max_sentence_length!r} instead.")
        self.paths = paths
        self.max_sentence_length = max_sentence_length
        self.ranges = [(path, 0, None) for path in paths]   # (path, start, end): whole lines starting in [start, end)
        self.client = None   # a dask.distributed.Client to count on (build_vocab(..., client=...)), never pickled

    def __getstate__(self):
        return dict(self.__dict__, client=None)

    @classmethod
    def byte_range(cls, path, start, end, max_sentence_length=MAX_WORDS_IN_BATCH):
        """The lines of `path` that start at a byte offset in [start, end) (end None: the end of the file)."""
        corpus = cls(path, max_sentence_length)
        corpus.ranges = [(corpus.paths[0], int(start), None if end is None else int(end))]
        return corpus

    def __iter__(self):
        """The sentences (lists of str), exactly as LineSentence gives them file after file."""
        if any(start or end is not None for _, start, end in self.ranges):
            for block in self.blocks():   # a byte range: LineSentence's split of its lines
                for line in block.split(b"\n"):
                    tokens = line.decode("utf-8").split()
                    for i in range(0, len(tokens), self.max_sentence_length):
                        yield tokens[i:i + self.max_sentence_length]
            return
        for path in self.paths:
            yield from LineSentence(path, max_sentence_length=self.max_sentence_length)

    def __repr__(self):
        if len(self.ranges) == 1 and (self.ranges[0][1] or self.ranges[0][2] is not None):
            return "CorpusFiles.byte_range(%r, %i, %r)" % self.ranges[0]
        return f"CorpusFiles({self.paths!r})"

    @property
    def total_bytes(self):
        return sum(os.path.getsize(path) for path in self.paths)

    def blocks(self, block_bytes=BLOCK_BYTES):
        """Yield bytes of whole lines (never across two files), about `block_bytes` at a time."""
        for path, start, end in self.ranges:
            yield from file_blocks(path, start, end, block_bytes=block_bytes)

    def shards(self, parts):
        """About `parts` pieces of about equal size, as :meth:`byte_range` corpora (whole lines, each once);
        a compressed file is one piece, and every file at least one."""
        sizes = [os.path.getsize(path) for path in self.paths]
        target = max(1, sum(sizes) // max(1, parts))
        pieces = []
        for path, size in zip(self.paths, sizes):
            count = 1 if _compressed(path) else max(1, round(size / target))
            cuts = [size * k // count for k in range(count + 1)]
            pieces.extend(type(self).byte_range(path, lo, hi if hi < size else None, self.max_sentence_length)
                          for lo, hi in zip(cuts[:-1], cuts[1:]))
        return pieces


def _compressed(path):
    """Whether gensim's ``utils.open`` (smart_open) decompresses `path`, by its extension (lower-cased)."""
    return os.path.splitext(path)[1].lower() in smart_open.compression.get_supported_extensions()


def native_line_sentences(corpus):
    """A :class:`CorpusFiles` over the files of a gensim ``LineSentence`` or ``PathLineSentences`` of local
    files, which gives the very same sentences (tests/test_corpus_file.py) with no Python object per token;
    None for anything else, which stays with its own iterator: a file object or URL as source, a `limit`,
    a subclass (it may change the sentences), a folder holding a sub-folder (gensim fails on it).
    """
    if type(corpus) is LineSentence:
        if not isinstance(corpus.source, (str, os.PathLike)) or corpus.limit is not None:
            return None
        paths = [os.fspath(corpus.source)]
    elif type(corpus) is PathLineSentences:
        if corpus.limit is not None:
            return None
        paths = [os.fspath(path) for path in corpus.input_files]
    else:
        return None
    if not paths or not all(isinstance(path, str) and os.path.isfile(path) for path in paths):
        return None
    if isinstance(corpus.max_sentence_length, bool) or not isinstance(corpus.max_sentence_length, int) \
            or corpus.max_sentence_length < 1:
        return None
    return CorpusFiles(paths, max_sentence_length=corpus.max_sentence_length)


def file_blocks(path, start=0, end=None, block_bytes=BLOCK_BYTES):
    """Yield bytes of the whole lines of `path` that start at a byte offset in [start, end), a block at a time.

    A line starts at offset 0 or just after a b"\\n". So the ranges [0, c1), [c1, c2), ..., [ck, None) of a
    file together give each of its lines exactly once, wherever the cuts c fall.
    """
    compressed = _compressed(path)
    if compressed and (start or end is not None):
        raise ValueError(f"{path} is compressed: it can only be read whole (start=0, end=None).")
    with (utils.open(path, "rb") if compressed else open(path, "rb", buffering=0)) as stream:
        position = 0
        if start > 0:      # skip the line that starts before `start` (it belongs to the previous range)
            stream.seek(start - 1)
            position = start - 1
            rest = b""
            while True:
                piece = stream.read(block_bytes)
                if not piece:
                    return
                newline = piece.find(b"\n")
                if newline >= 0:
                    rest = piece[newline + 1:]
                    position += newline + 1
                    break
                position += len(piece)
        else:
            rest = b""
        # `position`: offset of the first byte of `rest`, which starts a line
        while True:
            if end is not None and position >= end:
                return
            piece = stream.read(block_bytes)
            data = rest + piece if rest else piece
            if not piece:              # the end of the file; its last line may have no b"\n"
                if end is not None and position + len(data) > end:
                    cut = data.find(b"\n", end - 1 - position) + 1
                    data = data[:cut] if cut else data
                if data:
                    yield data
                return
            cut = data.rfind(b"\n") + 1
            if end is not None and position + cut > end:
                # the last line to give starts before `end`: cut after the first b"\n" at or past end - 1
                cut = data.find(b"\n", end - 1 - position) + 1
                if cut == 0:       # that line goes on beyond this piece
                    rest = data
                    continue
                yield data[:cut]
                return
            if cut == 0:
                rest = data        # no line end yet: read on
                continue
            yield data[:cut] if cut < len(data) else data
            rest = data[cut:]
            position += cut


def table_for(key_to_index):
    """A :class:`TokenTable` whose ids are the indices of `key_to_index` (a dict of word -> 0..V-1)."""
    words = [None] * len(key_to_index)
    for word, index in key_to_index.items():
        words[index] = word
    return TokenTable(words)


def scan_vocabulary(blocks, max_sentence_length=MAX_WORDS_IN_BATCH, progress=None):
    """Count the tokens of `blocks` (bytes of whole lines) -> (dict word -> count in order of first
    occurrence, raw words, sentences). `progress(raw_words, sentences, distinct)` is called after each block."""
    counter = TokenTable()
    raw_words = sentences = 0
    for block in blocks:
        raw, count = scan_lines(block, counter, max_sentence_length)
        raw_words, sentences = raw_words + raw, sentences + count
        if progress is not None:
            progress(raw_words, sentences, len(counter))
    return dict(zip(counter.words(), counter.counts_array().tolist())), raw_words, sentences


def scan_corpus(corpus, workers=1, progress=None):
    """The vocabulary scan of :class:`CorpusFiles` (as :func:`scan_vocabulary` of its blocks) on `workers` threads:
    consecutive pieces of it (:meth:`CorpusFiles.shards`) counted apart, GIL released, and merged in order,
    which keeps the words in order of first occurrence. `progress(raw_words, sentences, distinct)` is called
    from the threads after each block, with the totals so far (distinct: the most any piece has seen)."""
    pieces = corpus.shards(workers) if workers > 1 else []
    if len(pieces) < 2:
        return scan_vocabulary(corpus.blocks(), corpus.max_sentence_length, progress)
    tallies = [[0, 0, 0] for _ in pieces]      # raw words, sentences, distinct words of each piece so far

    def scan(index):
        counter, tally = TokenTable(), tallies[index]
        for block in pieces[index].blocks():
            raw, count = scan_lines(block, counter, corpus.max_sentence_length)
            tally[0], tally[1], tally[2] = tally[0] + raw, tally[1] + count, len(counter)
            if progress is not None:
                progress(sum(t[0] for t in tallies), sum(t[1] for t in tallies), max(t[2] for t in tallies))
        return counter

    counter = None
    with ThreadPoolExecutor(workers) as pool:
        for first in range(0, len(pieces), workers):    # `workers` pieces at a time: as many tables at most
            for other in pool.map(scan, range(first, min(first + workers, len(pieces)))):
                if counter is None:
                    counter = other
                else:               # in piece order
                    counter.absorb(other)
    raw_words, sentences = sum(t[0] for t in tallies), sum(t[1] for t in tallies)
    return dict(zip(counter.words(), counter.counts_array().tolist())), raw_words, sentences


def merge_vocabularies(first, second):
    """Word counts of two consecutive parts of a corpus: `first`'s words in its order, then `second`'s new ones
    (the order of first occurrence in the whole)."""
    merged = dict(first)
    for word, count in second.items():
        merged[word] = merged.get(word, 0) + count
    return merged


class IndexedJob:
    """A training job already indexed by the native reader: sentences as (indices, offsets) and raw words."""

    __slots__ = ("indices", "offsets", "raw_words", "sentences")

    def __init__(self, indices, offsets, raw_words):
        self.indices, self.offsets, self.raw_words = indices, offsets, int(raw_words)
        self.sentences = len(offsets) - 1

    def __len__(self):
        return self.sentences


def indexed_jobs(blocks, table, batch_words, max_sentence_length=MAX_WORDS_IN_BATCH):
    """Yield :class:`IndexedJob` s cut exactly where gensim's job producer cuts a LineSentence corpus (a job
    takes sentences while its raw words stay <= batch_words), so training follows the same random stream."""
    parts, size = [], 0          # pieces (indices, offsets, raw_lengths) of the open job; its raw words
    for block in blocks:
        indices, offsets, raw_lengths, _ = index_lines(block, table, max_sentence_length)
        cuts, end_size = job_cuts(raw_lengths, batch_words, size)
        lo = 0
        for cut in list(cuts) + [None]:
            hi = len(raw_lengths) if cut is None else int(cut)
            if hi > lo:
                parts.append((indices[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo], raw_lengths[lo:hi]))
            if cut is not None:
                yield _join(parts)
                parts = []
            lo = hi
        size = end_size
    if parts:
        yield _join(parts)


def _join(parts):
    """One IndexedJob from consecutive pieces (indices, sentence offsets from 0, raw lengths)."""
    if not parts:
        return IndexedJob(np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64), 0)
    if len(parts) == 1:
        indices, offsets, raw = parts[0]
        return IndexedJob(indices, offsets, raw.sum(dtype=np.int64))
    shifts = np.cumsum([0] + [len(part[0]) for part in parts[:-1]])
    offsets = np.concatenate([parts[0][1][:1]] + [part[1][1:] + shift for part, shift in zip(parts, shifts)])
    return IndexedJob(np.concatenate([part[0] for part in parts]), offsets,
                      sum(int(part[2].sum(dtype=np.int64)) for part in parts))
