"""Online vocabulary growth, ``build_vocab(more_sentences, update=True)``: statistics and weights over the
grown vocabulary.

gensim's online update keeps the old words at their indices and appends the new ones (those that reach
``min_count`` in the new corpus alone); word counts add up; each word seen in the new corpus gets its
subsampling keep probability p recomputed from the new corpus' counts. The pair statistics follow:

    A' = R A R + A_new,    R = diag(p' / p) on the old words, A's new rows and columns zero,

with A_new counted from the new corpus under the grown vocabulary. That is exact for the new corpus
and approximate for the old one in two ways (``docs/coming_from_gensim.rst``):

- pairs of the old corpus that involve a word new to the vocabulary are missing: it was under
  ``min_count`` (or absent) then, so it was removed before windowing, and the words on either side of
  it were counted as one position nearer than they are;
- subsampling moved: R rescales each pair by its two ends' new keep probabilities (A_ij is linear in
  p_i p_j), but the old windows keep the old keep probabilities of the words in between.

Statistics not counted yet (weighting='none' counts them only when first needed) have nothing to be
approximate about: they are counted when needed from all the corpora, under the grown vocabulary.
"""
import itertools
import logging

import numpy as np
import scipy.sparse

from gensim_qwem.cooccurrence import PairStatistics

logger = logging.getLogger(__name__)


def grown_statistics(old, vocab_size, keep_prob):
    """`old` statistics on a vocabulary grown to `vocab_size` words (old words first, at their indices),
    rescaled to the keep probabilities `keep_prob`: ``A'_ij = r_i r_j A_ij`` with ``r = keep_prob / old.keep_prob``.
    """
    old_size = old.vocab_size
    if vocab_size < old_size or len(keep_prob) != vocab_size:
        raise ValueError(f"a grown vocabulary has at least the old {old_size} words and one keep probability "
                         f"per word; got {vocab_size} words and {len(keep_prob)} probabilities")
    ratio = scipy.sparse.diags(np.asarray(keep_prob[:old_size], dtype=np.float64) / old.keep_prob)
    upper = (ratio @ old.upper.astype(np.float64) @ ratio).tocsr()
    upper = scipy.sparse.csr_matrix((upper.data.astype(np.float32), upper.indices, np.concatenate(
        [upper.indptr, np.full(vocab_size - old_size, upper.indptr[-1])])), shape=(vocab_size, vocab_size))
    return PairStatistics.from_upper(upper, padded_rows(old.word_counts, vocab_size), old.window,
                                     old.shrink_windows, keep_prob, old.sentences)


def padded_rows(array, rows):
    """`array` with zero rows appended up to `rows` rows (word counts, eigenvectors of the old vocabulary)."""
    array = np.asarray(array)
    padding = np.zeros((rows - len(array),) + array.shape[1:], dtype=array.dtype)
    return np.concatenate([array, padding])


def new_rows(count, vector_size, scale, seed):
    """Initial weights of `count` words new to the vocabulary: N(0, scale^2), as ``init_weights`` draws."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((count, vector_size)) * scale).astype(np.float32)


class Concatenated:
    """The sentences of several re-iterable corpora, one after the other, re-iterable itself."""

    def __init__(self, *corpora):
        self.corpora = [part for corpus in corpora
                        for part in (corpus.corpora if isinstance(corpus, Concatenated) else [corpus])]

    def __iter__(self):
        return itertools.chain.from_iterable(self.corpora)
