"""Corpus files as gensim's LineSentence reads them, through smart_open: local files, plain or compressed
(.gz, .bz2, .xz, ... by extension), and remote URLs (http(s)://, s3://, ... as smart_open supports).

gensim's Word2Vec refuses compressed ``corpus_file`` (its native reader reads plain text only). QWEM reads
local files, compressed ones included, with its own reader (:mod:`gensim_qwem.corpus`, decompressing through
smart_open), and URLs with LineSentence, so both work.
"""
import os
import re

from gensim import utils
from gensim.models.word2vec import LineSentence

from gensim_qwem.corpus import CorpusFiles, native_line_sentences

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_remote(path):
    """Whether `path` is a URL (``scheme://...``) rather than a local path."""
    return bool(_SCHEME.match(os.fspath(path))) if isinstance(path, (str, os.PathLike)) else False


def check_corpus_file(path, what="corpus_file"):
    """TypeError / FileNotFoundError / OSError, saying what to change, for a corpus file that cannot be read.

    A URL is opened (and its first byte read) to check it, so that a typo fails now, not mid-training.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path or URL of a text file, got {type(path).__name__}.")
    if is_remote(path):
        try:
            with utils.open(os.fspath(path), "rb") as handle:
                handle.read(1)
        except Exception as error:   # smart_open raises per transport (HTTPError, ClientError, OSError, ...)
            raise OSError(f"{what} {os.fspath(path)!r} cannot be read ({type(error).__name__}: {error}). "
                          "Check the URL, or download the file and pass its local path.") from error
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {os.fspath(path)!r} does not exist or is not a file.")


def corpus_as_read(corpus_iterable, corpus_file):
    """(corpus_iterable, corpus_file) as QWEM reads them: a local `corpus_file`, and a LineSentence /
    PathLineSentences of local files (:func:`~gensim_qwem.corpus.native_line_sentences`), as a
    :class:`~gensim_qwem.corpus.CorpusFiles` corpus, read natively; a URL as a LineSentence through smart_open
    (the same sentences either way); anything else as given."""
    if corpus_file is not None and corpus_iterable is None:
        if is_remote(corpus_file):
            return LineSentence(corpus_file), None
        return CorpusFiles(corpus_file), None
    native = native_line_sentences(corpus_iterable)
    return (native, None) if native is not None else (corpus_iterable, corpus_file)
