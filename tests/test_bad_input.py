"""Bad input gets a clear error that says what to change, and an existing model survives it unchanged.

Each test pins the exact message the user sees (the part that says what to do) and then checks that
a model trained before the bad call has the same vocabulary, counts, weights and pair statistics.
"""
import logging
import re

import numpy as np
import pytest
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

from conftest import planted_topic_corpus
from gensim_qwem import QWEM

SMALL = dict(vector_size=6, min_count=1, workers=1, seed=2, epochs=2)


@pytest.fixture(scope="module")
def corpus():
    return planted_topic_corpus(n_sentences=200, length=10, seed=4)


@pytest.fixture
def model(corpus):
    return QWEM(corpus, **SMALL)


def snapshot(model):
    return dict(keys=list(model.wv.index_to_key), index=dict(model.wv.key_to_index),
                vectors=model.wv.vectors.copy(), counts=model.wv.expandos["count"].copy(),
                sample_int=model.wv.expandos["sample_int"].copy(), statistics=model.statistics,
                cooccurrence=model.statistics.cooccurrence.copy(), wv=model.wv,
                corpus=(model.corpus_count, model.corpus_total_words), cum_table=model.cum_table.copy())


def assert_intact(model, before, corpus):
    assert model.wv is before["wv"]
    assert model.wv.index_to_key == before["keys"] and model.wv.key_to_index == before["index"]
    np.testing.assert_array_equal(model.wv.vectors, before["vectors"])
    np.testing.assert_array_equal(model.wv.expandos["count"], before["counts"])
    np.testing.assert_array_equal(model.wv.expandos["sample_int"], before["sample_int"])
    np.testing.assert_array_equal(model.cum_table, before["cum_table"])
    assert model.statistics is before["statistics"]
    assert (model.statistics.cooccurrence != before["cooccurrence"]).nnz == 0
    assert (model.corpus_count, model.corpus_total_words) == before["corpus"]
    # and it still works
    assert model.wv.most_similar(before["keys"][0], topn=2)
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert np.all(np.isfinite(model.wv.vectors))


def message(text):
    """Regex matching `text` literally."""
    return re.escape(text)


# ---------------------------------------------------------------------------------------------- corpora
EMPTY_VOCAB = "so the vocabulary is empty. Lower min_count or give a larger corpus."
NOT_A_STRING = "corpus_iterable must be an iterable of token lists, not a string."
NO_WORDS = ("The training corpus gave no words in epoch 1: it is empty, or a one-shot iterator (generator, "
            "iter(...), open file) that was already consumed, e.g. by build_vocab. Pass a non-empty re-iterable "
            "corpus (a list, LineSentence or corpus_file).")


def test_empty_corpus(model, corpus):
    with pytest.raises(ValueError, match=message("No word occurs at least min_count=1 times (corpus of 0 words in "
                                                 "0 sentences), " + EMPTY_VOCAB)):
        QWEM([], **SMALL)
    before = snapshot(model)
    with pytest.raises(ValueError, match=message(EMPTY_VOCAB)):
        model.build_vocab([])
    with pytest.raises(ValueError, match=message(NO_WORDS)):
        model.train([], total_examples=1, epochs=1)
    with pytest.raises(ValueError, match=message(NO_WORDS)):
        model.train([[], []], total_examples=2, epochs=1)
    with pytest.raises(ValueError, match=message("No word occurs at least min_count=1 times (word_freq of 0 "
                                                 "words), " + EMPTY_VOCAB)):
        model.build_vocab_from_freq({})
    assert_intact(model, before, corpus)


def test_corpus_is_a_string(model, corpus):
    with pytest.raises(TypeError, match=message(NOT_A_STRING + " For a file on disk pass corpus_file='hello world' "
                                                "or LineSentence('hello world'); for raw text pass [text.split()].")):
        QWEM("hello world", **SMALL)
    before = snapshot(model)
    for call in (lambda: model.build_vocab("some/file.txt"), lambda: model.train("x", total_examples=1),
                 lambda: model.count_statistics("x")):
        with pytest.raises(TypeError, match=message(NOT_A_STRING)):
            call()
    assert_intact(model, before, corpus)


def test_one_shot_generator_for_vocabulary_and_training(corpus, caplog):
    # in the constructor, gensim refuses generators (several passes) and QWEM does the same ...
    for cls in (Word2Vec, QWEM):
        with pytest.raises(TypeError, match=message("Using a generator as corpus_iterable can't support 3 passes. "
                                                    "Try a re-iterable sequence.")):
            cls((s for s in corpus), **SMALL)
    # ... and QWEM also refuses other one-shot iterators, which gensim would train on as empty epochs
    with pytest.raises(TypeError, match=message("Using a one-shot iterator (list_iterator) as corpus_iterable "
                                                "can't support 3 passes. Try a re-iterable sequence (a list, or "
                                                "LineSentence for a file).")):
        QWEM(iter(corpus), **SMALL)
    # one generator for build_vocab and then train: gensim trains on nothing with a logged warning,
    # QWEM warns at build_vocab and, with uniform SGD (which needs the statistics first), raises at train
    model = QWEM(weighting="uniform", trainer="sgd", **SMALL)
    generator = (s for s in corpus)
    with caplog.at_level(logging.WARNING, logger="gensim_qwem.model"):
        model.build_vocab(generator)
    assert "the corpus is a one-shot iterator" in caplog.text
    vectors = model.wv.vectors.copy()
    with pytest.raises(ValueError, match=message(
            "weighting='uniform' needs the pair statistics of the corpus before training, which takes an extra "
            "pass over it, and this corpus is a one-shot iterator. Pass a re-iterable corpus (a list, "
            "LineSentence or corpus_file), call model.count_statistics(corpus) first, or use trainer='gradient' "
            "(one pass) or weighting='none'.")):
        model.train(generator, total_examples=model.corpus_count, epochs=1)
    np.testing.assert_array_equal(model.wv.vectors, vectors)
    # the full-batch trainer needs one pass only: a consumed generator is an error, a fresh one is fine
    full_batch = QWEM(weighting="uniform", **SMALL)
    generator = (s for s in corpus)
    full_batch.build_vocab(generator)
    vectors = full_batch.wv.vectors.copy()
    with pytest.raises(ValueError, match=message(
            "The training corpus gave no words: it is empty, or a one-shot iterator (generator, iter(...), open "
            "file) that was already consumed, e.g. by build_vocab.")):
        full_batch.train(generator, total_examples=full_batch.corpus_count, epochs=1)
    np.testing.assert_array_equal(full_batch.wv.vectors, vectors)
    assert full_batch.statistics is None
    full_batch.train((s for s in corpus), total_examples=full_batch.corpus_count, epochs=1)
    assert full_batch.statistics is not None and not np.array_equal(full_batch.wv.vectors, vectors)
    plain = QWEM(weighting="none", **SMALL)
    generator = (s for s in corpus)
    plain.build_vocab(generator)
    vectors = plain.wv.vectors.copy()
    with pytest.raises(ValueError, match=message(NO_WORDS)):
        plain.train(generator, total_examples=plain.corpus_count, epochs=1)
    np.testing.assert_array_equal(plain.wv.vectors, vectors)
    # a fresh generator for a single pass is fine, as in gensim
    plain.train((s for s in corpus), total_examples=plain.corpus_count, epochs=1)
    assert not np.array_equal(plain.wv.vectors, vectors)


def test_sentences_that_are_strings(model, corpus):
    expected = ("Sentence #1 of the corpus is a str 'the cat sat'; every sentence must be a list of str tokens. "
                "Split text into words first, e.g. [line.split() for line in lines], use "
                "gensim.models.word2vec.LineSentence, and give an empty sentence as [] rather than None.")
    with pytest.raises(TypeError, match=message(expected)):
        QWEM([["fine"], "the cat sat"], **SMALL)
    before = snapshot(model)
    with pytest.raises(TypeError, match=message(expected)):
        model.build_vocab([["fine"], "the cat sat"])
    with pytest.raises(TypeError, match=message(expected)):
        model.train([["fine"], "the cat sat"], total_examples=2, epochs=1)
    with pytest.raises(TypeError, match=message("Sentence #0 of the corpus is a bytes b'raw bytes'")):
        model.build_vocab([b"raw bytes"])
    assert_intact(model, before, corpus)


@pytest.mark.parametrize("token", [1, 2.5, ("a", "b"), b"bytes"])
def test_non_string_tokens(model, corpus, token):
    expected = (f"The corpus contains the {type(token).__name__} token {token!r}; every token must be a str. "
                "Convert the tokens first, e.g. [[str(token) for token in sentence] for sentence in corpus], "
                "and drop None tokens.")
    with pytest.raises(TypeError, match=message(expected)):
        QWEM([["word", token]] * 3, **SMALL)
    before = snapshot(model)
    with pytest.raises(TypeError, match=message(expected)):
        model.build_vocab([["word", token]] * 3)
    with pytest.raises(TypeError, match=message(expected)):
        model.build_vocab_from_freq({"word": 3, token: 3})
    assert_intact(model, before, corpus)


def test_none_entries(model, corpus):
    none_sentence = ("Sentence #1 of the corpus is None; every sentence must be a list of str tokens. Split text "
                     "into words first, e.g. [line.split() for line in lines], use "
                     "gensim.models.word2vec.LineSentence, and give an empty sentence as [] rather than None.")
    with pytest.raises(TypeError, match=message(none_sentence)):
        QWEM([["a", "b"], None], **SMALL)
    before = snapshot(model)
    with pytest.raises(TypeError, match=message(none_sentence)):
        model.build_vocab([["a", "b"], None])
    with pytest.raises(TypeError, match=message(none_sentence)):  # reaches the caller from the producer thread
        model.train([corpus[0], None], total_examples=2, epochs=1)
    with pytest.raises(TypeError, match=message("The corpus contains the NoneType token None; every token must be "
                                                "a str.")):
        model.build_vocab([["a", None, "b"]])
    assert_intact(model, before, corpus)


def test_every_word_under_min_count(model, corpus):
    with pytest.raises(ValueError, match=message("No word occurs at least min_count=10 times (corpus of 6 words in "
                                                 "2 sentences), " + EMPTY_VOCAB)):
        QWEM([["a", "b", "c"], ["a", "b", "d"]], **dict(SMALL, min_count=10))
    before = snapshot(model)
    model.min_count = 10 ** 6
    with pytest.raises(ValueError, match=message("No word occurs at least min_count=1000000 times (corpus of 2000 "
                                                 "words in 200 sentences), " + EMPTY_VOCAB)):
        model.build_vocab(corpus)
    model.min_count = 1
    assert_intact(model, before, corpus)


# ---------------------------------------------------------------------------------------------- parameters
BAD_PARAMETERS = [
    ("vector_size", 0, ValueError, "an int >= 1"), ("vector_size", -3, ValueError, "an int >= 1"),
    ("vector_size", 2.0, TypeError, "an int >= 1"), ("vector_size", "100", TypeError, "an int >= 1"),
    ("window", 0, ValueError, "an int >= 1"), ("window", 2.5, TypeError, "an int >= 1"),
    ("window", True, TypeError, "an int >= 1"),
    ("negative", 0, ValueError, "an int >= 1"), ("negative", -1, ValueError, "an int >= 1"),
    ("negative", None, TypeError, "an int >= 1"),
    ("epochs", 0, ValueError, "an int >= 1"), ("epochs", "5", TypeError, "an int >= 1"),
    ("workers", 0, ValueError, "an int >= 1"), ("workers", 1.5, TypeError, "an int >= 1"),
    ("alpha", 0.0, ValueError, "a number > 0.0"), ("alpha", -0.1, ValueError, "a number > 0.0"),
    ("alpha", float("nan"), ValueError, "a number > 0.0"), ("alpha", float("inf"), ValueError, "a number > 0.0"),
    ("alpha", "0.1", TypeError, "a number > 0.0"),
    ("negative_draws", 0.5, ValueError, "a number >= 1.0"), ("negative_draws", "2", TypeError, "a number >= 1.0"),
]


@pytest.mark.parametrize("name, value, error, requirement", BAD_PARAMETERS)
def test_bad_parameter_in_constructor(corpus, name, value, error, requirement):
    expected = f"The '{name}' parameter of QWEM must be {requirement}. Got {value!r} instead."
    with pytest.raises(error, match=message(expected)):
        QWEM(corpus, **dict(SMALL, **{name: value}))
    with pytest.raises(error, match=message(expected)):  # without a corpus too: checked before anything is built
        QWEM(**dict(SMALL, **{name: value}))


@pytest.mark.parametrize("name, value, error, requirement",
                         [case for case in BAD_PARAMETERS if case[0] != "vector_size"])
def test_bad_parameter_set_between_calls(model, corpus, name, value, error, requirement):
    """gensim users change attributes between calls; they are checked where they are used."""
    before = snapshot(model)
    good = getattr(model, name)
    setattr(model, name, value)
    expected = f"The '{name}' parameter of QWEM must be {requirement}. Got {value!r} instead."
    with pytest.raises(error, match=message(expected)):
        model.train(corpus, total_examples=len(corpus), epochs=1 if name != "epochs" else None)
    with pytest.raises(error, match=message(expected)):
        model.build_vocab(corpus)
    setattr(model, name, good)
    assert_intact(model, before, corpus)


@pytest.mark.parametrize("keyword, value, error, expected", [
    ("epochs", 0, ValueError, "The 'epochs' parameter of QWEM must be an int >= 1. Got 0 instead."),
    ("start_alpha", -1.0, ValueError, "The 'start_alpha' parameter of QWEM must be a number > 0.0. Got -1.0 instead."),
    ("start_alpha", "big", TypeError, "The 'start_alpha' parameter of QWEM must be a number > 0.0. Got 'big' instead."),
    ("end_alpha", -1e-4, ValueError, "The 'end_alpha' parameter of QWEM must be a number >= 0.0. Got -0.0001 instead."),
])
def test_bad_train_arguments(model, corpus, keyword, value, error, expected):
    before = snapshot(model)
    arguments = dict(total_examples=len(corpus), epochs=1)
    arguments[keyword] = value
    with pytest.raises(error, match=message(expected)):
        model.train(corpus, **arguments)
    assert_intact(model, before, corpus)


# ---------------------------------------------------------------------------------------------- call order
def test_train_before_build_vocab(corpus):
    model = QWEM(**SMALL)
    with pytest.raises(RuntimeError, match=message("You must first build the vocabulary (build_vocab) before "
                                                   "training the model.")):
        model.train(corpus, total_examples=len(corpus), epochs=1)
    with pytest.raises(RuntimeError, match=message("You must build the vocabulary (build_vocab) before counting "
                                                   "pair statistics.")):
        model.count_statistics(corpus)


def test_analytic_solution_larger_than_vocabulary(model, corpus):
    before = snapshot(model)
    with pytest.raises(ValueError, match=message("analytic_solution needs vector_size < vocabulary size (48 words). "
                                                 "Got vector_size=500; ask for fewer dimensions or use a larger "
                                                 "vocabulary.")):
        model.analytic_solution(vector_size=500)
    with pytest.raises(ValueError, match=message("Got vector_size=48")):
        model.analytic_solution(vector_size=48)
    with pytest.raises(ValueError, match=message("The 'vector_size' parameter of QWEM must be an int >= 1. "
                                                 "Got 0 instead.")):
        model.analytic_solution(vector_size=0)
    assert_intact(model, before, corpus)
    assert model.analytic_solution(vector_size=4).vectors.shape == (48, 4)


# ---------------------------------------------------------------------------------------------- corpus files
def test_corpus_file_that_does_not_exist(model, corpus, tmp_path):
    missing = str(tmp_path / "missing.txt")
    expected = f"corpus_file {missing!r} does not exist or is not a file or folder."
    with pytest.raises(FileNotFoundError, match=message(expected)):
        QWEM(corpus_file=missing, **SMALL)
    before = snapshot(model)
    with pytest.raises(FileNotFoundError, match=message(expected)):
        model.build_vocab(corpus_file=missing)
    with pytest.raises(FileNotFoundError, match=message(expected)):
        model.train(corpus_file=missing, total_words=10, epochs=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=message(f"corpus_file {str(empty)!r} names no file: give a text file, a "
                                                 "folder of them, or a list of them.")):
        model.build_vocab(corpus_file=str(empty))  # a folder without files
    assert_intact(model, before, corpus)


def test_corpus_file_not_utf8(model, corpus, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("un caf\xe9 tr\xe8s fran\xe7ais\n".encode("latin-1") * 20)
    expected = ("'utf-8' codec can't decode byte 0xe9 in position 6: invalid continuation byte. The corpus must be "
                "UTF-8 text: re-encode the file (e.g. iconv -f latin1 -t utf-8 old.txt > new.txt) or decode it "
                "yourself and pass lists of str tokens")
    with pytest.raises(UnicodeDecodeError, match=message(expected)):
        QWEM(corpus_file=str(path), **SMALL)
    before = snapshot(model)
    with pytest.raises(UnicodeDecodeError, match=message(expected)):
        model.build_vocab(corpus_file=str(path))
    with pytest.raises(UnicodeDecodeError, match=message(expected)):
        model.build_vocab(LineSentence(str(path)))
    assert_intact(model, before, corpus)


@pytest.mark.slow
def test_corpus_file_with_one_ten_million_token_line(tmp_path):
    """LineSentence (and so corpus_file) splits a long line into 10,000-token sentences: nothing is cut.

    gensim's own Cython trainer silently truncates *sentences* longer than 10,000 tokens
    (MAX_SENTENCE_LEN); QWEM's kernel has no such limit, and LineSentence never hands it one.
    Single-character tokens keep memory modest (CPython caches one-character strings).
    """
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
    path = tmp_path / "one_line.txt"
    with open(path, "wb") as handle:
        for _ in range(10):  # 10 x 1M tokens, one line
            chunk = np.full((1_000_000, 2), ord(" "), dtype=np.uint8)
            chunk[:, 0] = alphabet[rng.integers(0, len(alphabet), 1_000_000)]
            handle.write(chunk.tobytes())
        handle.write(b"\n")
    model = QWEM(vector_size=4, window=2, negative=1, min_count=1, sample=0, workers=2, epochs=1)
    model.build_vocab(corpus_file=str(path))
    assert model.corpus_total_words == 10_000_000
    assert model.corpus_count == 1_000  # 10,000-token pieces
    assert len(model.wv) == 36
    assert model.statistics.word_counts.sum() == 10_000_000
    trained, raw = model.train(corpus_file=str(path), total_words=model.corpus_total_words, epochs=1)
    assert trained == raw == 10_000_000
    assert np.all(np.isfinite(model.wv.vectors))
