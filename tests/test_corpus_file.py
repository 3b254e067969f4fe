"""The native corpus_file reader (gensim_qwem.corpus, kernel _corpus_reader) against LineSentence."""
import os

import numpy as np
import pytest
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from hypothesis import given, settings
from hypothesis import strategies as st

from gensim_qwem import QWEM, _reference, corpus
from gensim_qwem._corpus_reader import TokenTable, index_lines, job_cuts, scan_lines
from gensim_qwem.corpus import CorpusFiles, file_blocks, scan_vocabulary

# every character Python's str.split() splits on, beside tokens with multi-byte characters
SPACES = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
TRICKY = ("\ufeffthe cat\u00a0sat\n\n   \n\u00e9t\u00e9\u3000na\u00efve \u2028 x\r\n"
          "a b c d e f g h\tthe\x1cend\x85cat \u200b zero-width-is-no-space \U0001f600\nlast line no newline")


def test_tokens_and_sentences_are_linesentences():
    data = TRICKY.encode("utf-8")
    words = list(dict.fromkeys(w for s in _reference.lines_to_sentences(data) for w in s))
    vocabulary = {w: i for i, w in enumerate(words[::2])}
    for max_length in (3, 10000):
        got = index_lines(data, corpus.table_for(vocabulary), max_length)
        expected = _reference.index_lines(data, vocabulary, max_length)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
        counter = TokenTable()
        raw, sentences = scan_lines(data, counter, max_length)
        counts, raw_ref, sentences_ref = _reference.scan_lines(data, max_length)
        assert (raw, sentences) == (raw_ref, sentences_ref)
        assert dict(zip(counter.words(), counter.counts_array().tolist())) == counts
        assert counter.words() == list(counts)       # order of first occurrence
    # the split is str.split's: every whitespace character, and nothing else
    assert _reference.lines_to_sentences(("a" + "b".join(SPACES) + "c").encode()) == [["a" + "b" * 0] + ["b"] * (
        len(SPACES) - 1) + ["c"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list(SPACES) + ["\n", "a", "b", "\u00e9", "\U0001f600"]),
                          st.text(max_size=3)), max_size=40), st.integers(1, 4))
def test_reader_matches_linesentence_on_any_text(pieces, max_length):
    data = "".join(pieces).encode("utf-8", "surrogatepass")
    try:
        expected = _reference.scan_lines(data, max_length)
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            scan_lines(data, TokenTable(), max_length)
        return
    counter = TokenTable()
    assert scan_lines(data, counter, max_length) == expected[1:]
    assert dict(zip(counter.words(), counter.counts_array().tolist())) == expected[0]
    vocabulary = {w: i for i, w in enumerate(list(expected[0])[::2])}
    counts = np.full(len(vocabulary), 3, dtype=np.int64)
    got = index_lines(data, corpus.table_for(vocabulary), max_length, counts)
    for a, b in zip(got, _reference.index_lines(data, vocabulary, max_length)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(counts - 3, np.bincount(got[0], minlength=len(vocabulary)))   # added to
    if vocabulary:
        with pytest.raises(ValueError, match="room for"):
            index_lines(data, corpus.table_for(vocabulary), max_length, counts[:-1])


def test_tokens_sharing_their_first_bytes_are_told_apart():
    """Tokens of up to 8 bytes compare by one word, longer ones also by the rest of their bytes: tokens that
    share 8 bytes, differ only past them or by a NUL byte, and tokens that end the text (fewer than 8 bytes
    readable after them) are all different words."""
    tokens = ["abcdefgh", "abcdefghi", "abcdefghj", "abcdefgh" * 3, "abcdefgh" * 3 + "k", "ab", "ab\x00", "\x00",
              "a\x00b", "\u00e9t\u00e9\u00e9t\u00e9", "\u00e9t\u00e9\u00e9t\u00e9s", "a"]
    for end in ("abcdefg", "abcdefghi", "a"):
        data = "\n".join(" ".join(tokens[k:] + tokens[:k]) for k in range(len(tokens))).encode() + b" " + end.encode()
        counts, raw, sentences = _reference.scan_lines(data)
        for hash_bits in (64, 1, 0):        # 0: every token has the same hash, so only their bytes tell them apart
            counter = TokenTable(hash_bits=hash_bits)
            assert scan_lines(data, counter) == (raw, sentences)
            assert dict(zip(counter.words(), counter.counts_array().tolist())) == counts
            for words in (list(counts), list(counts)[1::2]):
                vocabulary = {w: i for i, w in enumerate(words)}
                for a, b in zip(index_lines(data, TokenTable(words, hash_bits=hash_bits)),
                                _reference.index_lines(data, vocabulary)):
                    np.testing.assert_array_equal(a, b)


def test_scans_of_consecutive_pieces_merge_into_the_scan_of_the_whole(lee_file, tmp_path):
    lines = open(lee_file, "rb").read().split(b"\n")
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\n".join(lines[:150]) + b"\n")
    (folder / "b.txt").write_bytes(b"\n".join(lines[150:]))
    for source in (lee_file, str(folder)):
        files = CorpusFiles(source, max_sentence_length=11)
        whole = scan_vocabulary(files.blocks(), 11)
        for workers in (2, 3, 7):
            seen = []
            vocab, raw, sentences = corpus.scan_corpus(files, workers, lambda *totals: seen.append(totals))
            assert list(vocab.items()) == list(whole[0].items())      # same words in the same order
            assert (raw, sentences) == whole[1:]
            assert max(seen)[:2] == (raw, sentences)
    counter = TokenTable(["a"])
    with pytest.raises(ValueError, match="itself"):
        counter.absorb(counter)


def test_invalid_utf8_raises_as_linesentence_does(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("ok line\ncaf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        list(LineSentence(str(path)))
    with pytest.raises(UnicodeDecodeError):
        scan_vocabulary(CorpusFiles(path).blocks())
    with pytest.raises(UnicodeDecodeError, match="UTF-8"):
        QWEM(corpus_file=str(path), min_count=1, vector_size=2)


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 20])
def test_byte_ranges_give_each_line_once(tmp_path, block_bytes):
    text = "".join(f"line {i} " + "w " * (i % 9) + "\n" for i in range(200)) + "no newline at the end"
    path = tmp_path / "c.txt"
    path.write_text(text)
    rng = np.random.default_rng(block_bytes)
    for _ in range(5):
        cuts = [0, *sorted(set(rng.integers(1, len(text), 6).tolist())), None]
        pieces = [b"".join(file_blocks(str(path), lo, hi, block_bytes)) for lo, hi in zip(cuts[:-1], cuts[1:])]
        assert b"".join(pieces) == text.encode()
        assert all(piece.endswith(b"\n") for piece in pieces[:-1] if piece)
    blocks = list(CorpusFiles(path).blocks(block_bytes))
    assert all(block.endswith(b"\n") for block in blocks[:-1])


def test_job_cuts_are_gensims():
    lengths = np.array([3, 4, 3, 9, 1, 1, 12, 2], dtype=np.int32)
    cuts, size = job_cuts(lengths, 10, 0)
    # gensim: [3, 4, 3] | [9, 1] | [1] | (12 > 10: the open job [1] closes) [12] | [2]  -> cuts before 3, 5, 6, 7
    assert cuts.tolist() == [3, 5, 6, 7] and size == 2


@pytest.fixture(scope="module")
def lee_file():
    return datapath("lee_background.cor")


def python_sentences(path):
    """LineSentence's sentences through gensim's own Python reader: a plain list (a LineSentence itself
    is read natively by QWEM, see test_line_sentences_are_read_natively)."""
    return list(LineSentence(path))


def test_build_vocab_from_file_is_linesentences(lee_file):
    native, python = QWEM(min_count=2, vector_size=8), QWEM(min_count=2, vector_size=8)
    native.build_vocab(corpus_file=lee_file)
    python.build_vocab(python_sentences(lee_file))
    assert native.wv.index_to_key == python.wv.index_to_key
    np.testing.assert_array_equal(native.wv.expandos["count"], python.wv.expandos["count"])
    assert (native.corpus_count, native.corpus_total_words) == (python.corpus_count, python.corpus_total_words)


@pytest.mark.parametrize("batch_words", [10000, 97])
def test_training_from_file_is_training_from_linesentence(lee_file, monkeypatch, batch_words):
    # small blocks, so that jobs span blocks
    monkeypatch.setattr(corpus, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(CorpusFiles.blocks, "__defaults__", (4096,))
    kwargs = dict(min_count=2, vector_size=16, workers=1, epochs=2, seed=3, batch_words=batch_words)
    native = QWEM(corpus_file=lee_file, **kwargs)
    python = QWEM(python_sentences(lee_file), **kwargs)
    np.testing.assert_array_equal(native.wv.vectors, python.wv.vectors)


def test_statistics_from_file_are_linesentences(lee_file):
    model = QWEM(min_count=2, vector_size=8, workers=2)
    model.build_vocab(corpus_file=lee_file)
    native = model.count_statistics(corpus_file=lee_file)
    python = model.count_statistics(python_sentences(lee_file))
    assert (native.upper != python.upper).nnz == 0
    np.testing.assert_array_equal(native.upper.toarray(), python.upper.toarray())
    np.testing.assert_array_equal(native.word_counts, python.word_counts)
    assert native.sentences == python.sentences


def test_line_sentences_are_read_natively(lee_file, tmp_path, monkeypatch):
    """QWEM(LineSentence(path)) and PathLineSentences(folder), gensim's usual way to stream a file, go through
    the native reader, with the same vocabulary, statistics and trained vectors as the Python reader."""
    from gensim.models.word2vec import PathLineSentences
    from gensim_qwem.sources import corpus_as_read as _native_corpus
    lines = open(lee_file, "rb").read().split(b"\n")
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "b.txt").write_bytes(b"\n".join(lines[150:]))
    (folder / "a.txt").write_bytes(b"\n".join(lines[:150]) + b"\n")
    read = []
    monkeypatch.setattr(corpus, "index_lines", lambda *a, _f=corpus.index_lines: read.append(1) or _f(*a))
    kwargs = dict(min_count=2, vector_size=16, workers=1, epochs=1, seed=3)   # one thread: deterministic
    python = QWEM(python_sentences(lee_file), **kwargs)
    assert not read
    for source in (LineSentence(lee_file), LineSentence(lee_file, max_sentence_length=7),
                   PathLineSentences(str(folder))):
        assert isinstance(_native_corpus(source, None)[0], CorpusFiles)
        model = QWEM(source, **kwargs)
        reference = python if source.max_sentence_length != 7 else QWEM(list(source), **kwargs)
        assert model.wv.index_to_key == reference.wv.index_to_key
        assert (model.corpus_count, model.corpus_total_words) == (reference.corpus_count, reference.corpus_total_words)
        assert (model.statistics.upper != reference.statistics.upper).nnz == 0
        np.testing.assert_array_equal(model.wv.vectors, reference.wv.vectors)
    assert read     # the native reader's kernel did the reading


def test_other_line_sentences_stay_with_their_own_reader(lee_file):
    from gensim_qwem.sources import corpus_as_read as _native_corpus

    class Lowered(LineSentence):
        def __iter__(self):
            return ([word.lower() for word in sentence] for sentence in super().__iter__())

    with open(lee_file, "rb") as stream:
        for source in (LineSentence(lee_file, limit=10), LineSentence(stream), Lowered(lee_file),
                       python_sentences(lee_file)):
            assert _native_corpus(source, None)[0] is source


def test_several_files_and_folders_read_as_one_corpus(lee_file, tmp_path):
    lines = open(lee_file, "rb").read().split(b"\n")
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "b.txt").write_bytes(b"\n".join(lines[150:]))
    (folder / "a.txt").write_bytes(b"\n".join(lines[:150]) + b"\n")
    (folder / "sub").mkdir()        # sub-folders are skipped, as PathLineSentences' files are listed
    whole = QWEM(corpus_file=lee_file, min_count=2, vector_size=8, workers=1, epochs=1, seed=1)
    for source in (str(folder), [folder / "a.txt", str(folder / "b.txt")]):
        parts = QWEM(corpus_file=source, min_count=2, vector_size=8, workers=1, epochs=1, seed=1)
        assert parts.wv.index_to_key == whole.wv.index_to_key
        np.testing.assert_array_equal(parts.wv.vectors, whole.wv.vectors)
        assert parts.statistics.sentences == whole.statistics.sentences


@pytest.mark.parametrize("source, error, match", [
    ("/no/such/file.txt", FileNotFoundError, "does not exist or is not a file or folder"),
    ([], ValueError, "names no file"),
    (42, TypeError, "path to a text file or folder"),
    ([b"x"], TypeError, "path to a text file or folder"),
])
def test_bad_corpus_file_is_a_clear_error(source, error, match):
    with pytest.raises(error, match=match):
        QWEM(corpus_file=source, min_count=1)


def test_compressed_files_are_read_whole(lee_file, tmp_path):
    import gzip
    packed = tmp_path / "lee.txt.gz"
    packed.write_bytes(gzip.compress(open(lee_file, "rb").read()))
    native, plain = QWEM(min_count=2, vector_size=8), QWEM(min_count=2, vector_size=8)
    native.build_vocab(corpus_file=str(packed))
    plain.build_vocab(corpus_file=lee_file)
    assert native.wv.index_to_key == plain.wv.index_to_key
    assert [(shard.ranges[0][1], shard.ranges[0][2]) for shard in CorpusFiles(packed).shards(4)] == [(0, None)]
    with pytest.raises(ValueError, match="compressed: it can only be read whole"):
        list(file_blocks(str(packed), 10, None))
