"""The pair statistics' lifecycle: none, pending, counted (docs/theory.rst, "Pair statistics").

``build_vocab`` does not count them, since training with ``weighting='none'`` never needs them: it keeps a
:class:`PendingCount`, what is needed to read its corpus again (for files, their paths). The model counts
them explicitly where they are first needed: the closed form and spectrum, ``weighting='uniform'`` training,
and before a save or a copy, so that they travel with the model and the corpus never does. From then on
the model holds the :class:`~gensim_qwem.cooccurrence.PairStatistics` and no longer the corpus.

Functions here take what they need (vocabulary, sampling scheme, corpus) and return statistics; the model
decides where they are kept.
"""
import logging

import numpy as np

from gensim_qwem import online
from gensim_qwem._validation import is_one_shot
from gensim_qwem.cooccurrence import count_statistics, keep_probabilities
from gensim_qwem.corpus import CorpusFiles

logger = logging.getLogger(__name__)


class PendingCount:
    """A corpus to count the pair statistics of when first needed: the corpus as training reads it (a
    :class:`~gensim_qwem.corpus.CorpusFiles` for files: their paths, and the dask client to count on)."""

    def __init__(self, corpus):
        self.corpus = corpus

    @classmethod
    def of(cls, corpus):
        """The pending count of a build_vocab corpus; None for a one-shot iterator, which cannot be read again."""
        if is_one_shot(corpus):
            logger.warning("the corpus is a one-shot iterator: pair statistics will be counted from the "
                           "training corpus when first needed")
            return None
        return cls(corpus)

    def then(self, corpus):
        """Pending statistics of this corpus followed by `corpus` (``build_vocab(corpus, update=True)``)."""
        return PendingCount(online.Concatenated(self.corpus, corpus))

    def count(self, count):
        """``count(corpus)``, with what to do when the corpus can no longer be read."""
        logger.info("counting the pair statistics of the build_vocab corpus, first needed now")
        try:
            return count(self.corpus)
        except OSError as error:
            raise OSError(
                f"The pair statistics are counted from the build_vocab corpus when first needed, and it can "
                f"no longer be read ({error}). Call model.count_statistics(corpus) with the same corpus."
            ) from error


def sampling_scheme(wv, sample, window, shrink_windows):
    """(keep probabilities, window, shrink_windows) exactly as the trainer samples pairs."""
    keep = keep_probabilities(wv.expandos["sample_int"]) if sample else np.ones(len(wv))
    return keep, window, shrink_windows


def count(corpus, wv, scheme, workers, total_words=None, client=None):
    """The :class:`~gensim_qwem.cooccurrence.PairStatistics` of `corpus` under the vocabulary `wv` and the
    sampling `scheme`, on `workers` threads, or shard by shard on a dask `client` (the same, bit for bit)."""
    keep, window, shrink = scheme
    if client is not None:
        from gensim_qwem.distributed import count_statistics_on
        return count_statistics_on(client, corpus, wv.index_to_key, keep, window, shrink)
    return count_statistics(corpus, wv.key_to_index, keep, window, shrink, workers=workers, total_words=total_words)


def grown(old, pending, corpus, count_new, vocab_size, scheme):
    """(statistics, pending count) after ``build_vocab(corpus, update=True)`` (:mod:`gensim_qwem.online`).

    `old`: statistics counted before the update, or None; `pending`: the :class:`PendingCount` before it, or
    None; `count_new(corpus)`: the statistics of `corpus` under the grown vocabulary."""
    if old is None and pending is None:
        return None, None
    if is_one_shot(corpus):
        logger.warning("build_vocab(update=True) with a one-shot iterator: the pair statistics cannot count "
                       "it, so they are dropped; call model.count_statistics(corpus) on the whole corpus")
        return None, None
    if old is None:  # not counted yet: count every corpus when first needed, exactly
        return None, pending.then(corpus)
    keep, window, shrink = scheme
    if not old.matches(old.keep_prob, window, shrink):
        raise RuntimeError("The pair statistics were counted with another window/shrink_windows than the "
                           "model has now; call model.count_statistics(corpus) before the update.")
    return online.grown_statistics(old, vocab_size, keep) + count_new(corpus), None


def checked(statistics, scheme):
    """`statistics`, if there are any and they were counted with the sampling `scheme`; else what to do."""
    if statistics is None:
        raise RuntimeError(
            "This model has no pair statistics yet. Build the vocabulary from a re-iterable corpus "
            "(a list, LineSentence or corpus_file), or call model.count_statistics(corpus).")
    if not statistics.matches(*scheme):
        raise RuntimeError(
            "The pair statistics were counted with other window/shrink_windows/sample settings than the "
            "model has now; call model.count_statistics(corpus) to recount them.")
    return statistics


def training_source(corpus_iterable, corpus_file, passes_after):
    """The training corpus to count weighting='uniform''s statistics from, before `passes_after` more passes."""
    source = CorpusFiles(corpus_file) if corpus_file is not None else corpus_iterable
    if source is None or (passes_after and is_one_shot(source)):
        raise ValueError(
            "weighting='uniform' needs the pair statistics of the corpus before training, which takes "
            "an extra pass over it, and this corpus is a one-shot iterator. Pass a re-iterable corpus "
            "(a list, LineSentence or corpus_file), call model.count_statistics(corpus) first, or use "
            "trainer='gradient' (one pass) or weighting='none'.")
    return source


def check_not_empty(statistics):
    if statistics.word_counts.sum() == 0:
        raise ValueError(
            "The training corpus gave no words: it is empty, or a one-shot iterator (generator, iter(...), "
            "open file) that was already consumed, e.g. by build_vocab. Pass a non-empty re-iterable corpus "
            "(a list, LineSentence or corpus_file), or the same corpus again as a new iterator.")
