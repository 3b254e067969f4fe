"""Word-embedding benchmarks: two analogy protocols and word-pair similarity, for any KeyedVectors.

Two analogy protocols answer different questions, so both are offered:

- ``protocol="gensim"``: gensim's :meth:`~gensim.models.KeyedVectors.evaluate_word_analogies`, the
  questions of ``questions-words.txt`` as written, those with all four words in the vocabulary.
- ``protocol="all-pairs"``: the protocol of Karkada et al. (2025). Each section of the file is reduced
  to its set of word pairs (a, b); every ordered combination of two distinct in-vocabulary pairs
  (a, b), (c, d) is a question ``a : b :: c : ?`` with answer d. This uses every in-vocabulary pair,
  not only those that happen to be combined in the file, and gives 7,614 questions on the paper's
  10,000-word vocabulary.

Both use 3CosAdd on unit vectors (``argmax_x cos(x, b - a + c)``), exclude the three query words from
the answers, search only the (restricted) vocabulary and score top-1 accuracy.
"""
import dataclasses
import logging
import os
from typing import List

import numpy as np
from gensim import utils
from gensim.test.utils import datapath

logger = logging.getLogger(__name__)

PROTOCOLS = ("all-pairs", "gensim")


@dataclasses.dataclass
class AnalogyResult:
    """Outcome of an analogy evaluation.

    Attributes
    ----------
    accuracy : float
        Correct / questions over all sections (nan when there are no questions).
    correct, questions : int
        Totals over all sections.
    sections : list of dict
        One dict per section with questions: ``section``, ``correct``, ``questions``, ``accuracy``.
    protocol : str
        ``"all-pairs"`` or ``"gensim"``.
    unanswerable : int
        Questions whose answer d is one of the excluded query words (a section where two pairs share a
        word, e.g. two cities of one state); they count as wrong, as in the paper's code.
    """

    accuracy: float
    correct: int
    questions: int
    sections: List[dict]
    protocol: str
    unanswerable: int = 0


@dataclasses.dataclass
class SimilarityResult:
    """Outcome of a word-pair similarity evaluation.

    Attributes
    ----------
    spearman, pearson : float
        Rank and linear correlation of cosine similarity with the human scores, over covered pairs.
    coverage : float
        Fraction of the file's pairs with both words in the (restricted) vocabulary.
    pairs : int
        Number of pairs in the file.
    """

    spearman: float
    pearson: float
    coverage: float
    pairs: int


def _default_questions():
    return datapath("questions-words.txt")


def read_analogy_sections(path=None):
    """The questions of an analogy file (``questions-words.txt`` format) by section, in file order.

    Returns
    -------
    dict
        Section name -> list of (a, b, c, d) tuples of words as written in the file.
    """
    path = _default_questions() if path is None else path
    sections = {}
    current = None
    with utils.open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = utils.to_unicode(raw).strip()
            if not line:
                continue
            if line.startswith(":"):
                current = line.lstrip(":").strip()
                sections.setdefault(current, [])
                continue
            if current is None:
                raise ValueError(f"{path}, line {number}: a question before the first ': section' header.")
            words = line.split()
            if len(words) != 4:
                raise ValueError(f"{path}, line {number}: an analogy needs 4 words, got {len(words)}: {line!r}.")
            sections[current].append(tuple(words))
    return sections


def analogy_pairs(path=None):
    """Set of word pairs of each section: every (a, b) and (c, d) of its questions, in first-seen order.

    Returns
    -------
    dict
        Section name -> list of distinct (first, second) word pairs, as written in the file.
    """
    pairs = {}
    for section, questions in read_analogy_sections(path).items():
        seen = {}  # ordered set
        for a, b, c, d in questions:
            seen.setdefault((a, b), None)
            seen.setdefault((c, d), None)
        pairs[section] = list(seen)
    return pairs


def _restricted_index(kv, restrict_vocab, case_insensitive):
    """(word -> row) over the first `restrict_vocab` words; with case folding the first match wins."""
    keys = kv.index_to_key[:restrict_vocab] if restrict_vocab else kv.index_to_key
    index = {}
    for row, key in enumerate(keys):
        index.setdefault(key.lower() if case_insensitive else key, row)
    return index, len(keys)


def _unit_rows(vectors):
    """Rows scaled to unit length; all-zero rows stay zero (cosine 0 with everything)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def all_pairs_questions(kv, path=None, restrict_vocab=None, case_insensitive=True):
    """The all-pairs analogy questions of `kv`'s vocabulary as row indices.

    Returns
    -------
    questions : numpy.ndarray, int64, (n, 4)
        Rows of a, b, c, d for every ordered combination of two distinct in-vocabulary pairs of a section.
    section_of : numpy.ndarray, int64, (n,)
        Position of each question's section in `names`.
    names : list of str
        Section names, in file order (sections with fewer than two pairs give no questions).
    """
    index, _ = _restricted_index(kv, restrict_vocab, case_insensitive)
    fold = str.lower if case_insensitive else (lambda word: word)
    blocks, owners, names = [], [], []
    for section, pairs in analogy_pairs(path).items():
        rows = {}  # ordered set: case folding can map two written pairs to one
        for first, second in pairs:
            i, j = index.get(fold(first)), index.get(fold(second))
            if i is not None and j is not None:
                rows.setdefault((i, j), None)
        names.append(section)
        n = len(rows)
        if n < 2:
            continue
        rows = np.asarray(list(rows), dtype=np.int64)
        left, right = np.nonzero(~np.eye(n, dtype=bool))   # ordered combinations of distinct pairs
        blocks.append(np.hstack([rows[left], rows[right]]))
        owners.append(np.full(len(left), len(names) - 1, dtype=np.int64))
    if not blocks:
        return np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64), names
    return np.vstack(blocks), np.concatenate(owners), names


def solve_analogies(vectors, questions, chunk_size=1024):
    """3CosAdd answers: for each (a, b, c) row, ``argmax_x cos(x, b - a + c)`` over all rows of `vectors`
    except a, b and c themselves. Batched as chunks of matrix products.

    Parameters
    ----------
    vectors : numpy.ndarray, (V, d)
        The searchable embeddings (normalised here).
    questions : numpy.ndarray, int, (n, 3) or (n, 4)
        Query rows (a, b, c[, d]); a fourth column is ignored.
    chunk_size : int
        Questions scored per matrix product (memory ~ chunk_size * V floats).

    Returns
    -------
    numpy.ndarray, int64, (n,)
        The predicted row of each question.
    """
    unit = _unit_rows(vectors)
    questions = np.asarray(questions, dtype=np.int64)
    answers = np.empty(len(questions), dtype=np.int64)
    for start in range(0, len(questions), chunk_size):
        block = questions[start:start + chunk_size]
        # argmax is unchanged by rescaling the query, so b - a + c needs no normalisation
        scores = (unit[block[:, 1]] - unit[block[:, 0]] + unit[block[:, 2]]) @ unit.T
        positions = np.arange(len(block))
        for column in range(3):
            scores[positions, block[:, column]] = -np.inf
        answers[start:start + len(block)] = scores.argmax(axis=1)
    return answers


def _section_table(correct, section_of, names):
    sections = []
    for position, name in enumerate(names):
        mask = section_of == position
        total = int(mask.sum())
        if total:
            right = int(correct[mask].sum())
            sections.append(dict(section=name, correct=right, questions=total, accuracy=right / total))
    return sections


def _gensim_analogies(kv, path, restrict_vocab, case_insensitive):
    restrict = restrict_vocab or len(kv)
    _, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict, case_insensitive=case_insensitive)
    table = []
    for section in sections:
        if section["section"] == "Total accuracy":
            continue
        right, total = len(section["correct"]), len(section["correct"]) + len(section["incorrect"])
        if total:
            table.append(dict(section=section["section"], correct=right, questions=total, accuracy=right / total))
    correct = sum(row["correct"] for row in table)
    questions = sum(row["questions"] for row in table)
    return AnalogyResult(correct / questions if questions else float("nan"), correct, questions, table, "gensim")


def evaluate_analogies(kv, path=None, protocol="all-pairs", restrict_vocab=None, case_insensitive=True,
                       chunk_size=1024):
    """Top-1 3CosAdd analogy accuracy of `kv` under one of two protocols (see the module docstring).

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
        The embeddings, e.g. ``model.wv`` or ``model.analytic_solution()``.
    path : str, optional
        Analogy file in ``questions-words.txt`` format (default: the copy in gensim's test data).
    protocol : {'all-pairs', 'gensim'}
        ``'all-pairs'``: Karkada et al.'s set rebuilt from all in-vocabulary pairs of each section;
        ``'gensim'``: the file's questions through ``kv.evaluate_word_analogies``.
    restrict_vocab : int, optional
        Use only the first `restrict_vocab` words (the most frequent, for a frequency-sorted vocabulary)
        for both the questions and the candidate answers; default all words.
    case_insensitive : bool
        Match the file's words to the vocabulary ignoring case (the file capitalises names; the first
        matching vocabulary word wins, as in gensim).
    chunk_size : int
        Questions per batched matrix product (all-pairs protocol).

    Returns
    -------
    AnalogyResult
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"The 'protocol' parameter of evaluate_analogies must be one of {PROTOCOLS}. "
                         f"Got {protocol!r} instead.")
    if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int)
                                       or restrict_vocab < 1):
        raise ValueError(f"The 'restrict_vocab' parameter of evaluate_analogies must be an int >= 1 or None. "
                         f"Got {restrict_vocab!r} instead.")
    path = _default_questions() if path is None else os.fspath(path)
    if protocol == "gensim":
        return _gensim_analogies(kv, path, restrict_vocab, case_insensitive)
    questions, section_of, names = all_pairs_questions(kv, path, restrict_vocab, case_insensitive)
    _, size = _restricted_index(kv, restrict_vocab, case_insensitive)
    answers = solve_analogies(kv.vectors[:size], questions, chunk_size=chunk_size)
    correct = answers == questions[:, 3]
    unanswerable = int(np.sum((questions[:, 3:4] == questions[:, :3]).any(axis=1)))
    total = len(questions)
    logger.info("all-pairs analogies: %i questions, %i correct", total, int(correct.sum()))
    return AnalogyResult(float(correct.mean()) if total else float("nan"), int(correct.sum()), total,
                         _section_table(correct, section_of, names), "all-pairs", unanswerable)


def evaluate_similarity(kv, path, restrict_vocab=None, case_insensitive=True):
    """Spearman / Pearson correlation of cosine similarity with human scores (gensim's
    :meth:`~gensim.models.KeyedVectors.evaluate_word_pairs`), with the coverage of the file.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
    path : str
        Tab-separated ``word1 word2 score`` file (WordSim-353, SimLex-999 in gensim's format); lines
        starting with ``#`` are comments.
    restrict_vocab : int, optional
        Only the first `restrict_vocab` words count as known (default all).
    case_insensitive : bool
        Match words ignoring case.

    Returns
    -------
    SimilarityResult
    """
    with utils.open(path, "rb") as handle:
        pairs = sum(1 for raw in handle if (line := utils.to_unicode(raw).strip()) and not line.startswith("#"))
    pearson, spearman, oov_percent = kv.evaluate_word_pairs(
        path, restrict_vocab=restrict_vocab or len(kv), case_insensitive=case_insensitive)
    return SimilarityResult(float(spearman[0]), float(pearson[0]), 1.0 - oov_percent / 100.0, pairs)
