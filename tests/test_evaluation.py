"""Analogy protocols and similarity wrapper on hand-made embeddings whose answers are known exactly."""
import time

import numpy as np
import pytest
from gensim.models.keyedvectors import KeyedVectors
from gensim.test.utils import datapath

from gensim_qwem.evaluation import (all_pairs_questions, analogy_pairs, evaluate_analogies, evaluate_similarity,
                                    read_analogy_sections, solve_analogies)

QUESTIONS = """\
: good
Alpha Beta Gamma Delta
Gamma Delta Epsilon Zeta
Alpha Beta Unknown Missing
: bad
p1 q1 p2 q2
p2 q2 p3 q3
p3 q3 p4 q4
: shared
x1 y1 x2 y1
: single
alpha beta alpha beta
"""
GOOD = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
BAD = ["p1", "q1", "p2", "q2", "p3", "q3", "p4", "q4"]
SHARED = ["x1", "y1", "x2"]


def hand_made_vectors():
    """Unit vectors with b - a + c = d exactly in 'good', and a decoy that beats every answer in 'bad'.

    good: a_i = (u_i + r) / sqrt 2, b_i = (u_i - r) / sqrt 2, so b_i - a_i = -sqrt 2 r for every pair.
    bad: one-hot p_i, q_i (no shared offset, the answer scores 0) and a 'decoy' along the sum of all
    of them, which scores > 0 on every bad question and 0 on every good one.
    """
    dims = 4 + len(BAD) + len(SHARED)
    eye = np.eye(dims)
    r = eye[3]
    vectors = {}
    for i, (a, b) in enumerate(zip(GOOD[::2], GOOD[1::2])):
        vectors[a] = (eye[i] + r) / np.sqrt(2)
        vectors[b] = (eye[i] - r) / np.sqrt(2)
    for i, word in enumerate(BAD + SHARED):
        vectors[word] = eye[4 + i]
    vectors["decoy"] = eye[4:4 + len(BAD)].sum(axis=0) / np.sqrt(len(BAD))
    return vectors


def keyed_vectors(vectors, order):
    kv = KeyedVectors(len(next(iter(vectors.values()))))
    kv.add_vectors(order, np.array([vectors[word] for word in order], dtype=np.float32))
    return kv


@pytest.fixture
def questions_file(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(QUESTIONS)
    return str(path)


@pytest.fixture
def hand_made():
    vectors = hand_made_vectors()
    return keyed_vectors(vectors, ["decoy"] + GOOD + BAD + SHARED)


def test_pairs_of_each_section(questions_file):
    pairs = analogy_pairs(questions_file)
    assert list(pairs) == ["good", "bad", "shared", "single"]
    assert pairs["good"] == [("Alpha", "Beta"), ("Gamma", "Delta"), ("Epsilon", "Zeta"), ("Unknown", "Missing")]
    assert pairs["bad"] == [("p1", "q1"), ("p2", "q2"), ("p3", "q3"), ("p4", "q4")]
    assert pairs["single"] == [("alpha", "beta")]
    assert len(read_analogy_sections(questions_file)["good"]) == 3


def test_all_pairs_exact_accuracy(questions_file, hand_made):
    result = evaluate_analogies(hand_made, questions_file)
    # good: 3 in-vocabulary pairs -> 6 questions, all right; bad: 4 pairs -> 12, all wrong;
    # shared: 2 questions whose answer y1 is a query word (excluded) -> wrong; single: no question
    assert result.protocol == "all-pairs"
    assert (result.questions, result.correct, result.unanswerable) == (20, 6, 2)
    assert result.accuracy == pytest.approx(6 / 20)
    assert result.sections == [
        dict(section="good", correct=6, questions=6, accuracy=1.0),
        dict(section="bad", correct=0, questions=12, accuracy=0.0),
        dict(section="shared", correct=0, questions=2, accuracy=0.0),
    ]


def test_every_ordered_combination_of_distinct_pairs(questions_file, hand_made):
    questions, section_of, names = all_pairs_questions(hand_made, questions_file)
    good = questions[section_of == names.index("good")]
    rows = {tuple(row) for row in good.tolist()}
    index = hand_made.key_to_index
    pairs = [(index[a], index[b]) for a, b in zip(GOOD[::2], GOOD[1::2])]
    assert rows == {p + q for p in pairs for q in pairs if p != q}
    assert len(good) == len(rows) == 6


def test_answers_are_the_known_words(questions_file, hand_made):
    questions, section_of, names = all_pairs_questions(hand_made, questions_file)
    answers = solve_analogies(hand_made.vectors, questions)
    bad = section_of == names.index("bad")
    assert np.all(answers[bad] == hand_made.key_to_index["decoy"])
    good = section_of == names.index("good")
    np.testing.assert_array_equal(answers[good], questions[good, 3])


def test_restrict_vocab_limits_questions_and_answers(questions_file):
    vectors = hand_made_vectors()
    kv = keyed_vectors(vectors, ["decoy"] + [w for w in GOOD if w != "zeta"] + BAD + SHARED + ["zeta"])
    result = evaluate_analogies(kv, questions_file, restrict_vocab=len(kv) - 1)
    # 'zeta' is outside the first len-1 words: good keeps 2 pairs -> 2 questions
    assert (result.questions, result.correct) == (16, 2)
    # with the whole vocabulary zeta is back, and nothing changes for the other sections
    assert evaluate_analogies(kv, questions_file).correct == 6


def test_case_sensitive_matching(questions_file, hand_made):
    result = evaluate_analogies(hand_made, questions_file, case_insensitive=False)
    # the capitalised 'good' section no longer matches; bad and shared are lowercase already
    assert (result.questions, result.correct) == (14, 0)
    empty = evaluate_analogies(keyed_vectors(hand_made_vectors(), ["decoy"]), questions_file)
    assert empty.questions == 0 and np.isnan(empty.accuracy) and empty.sections == []


def test_matches_gensim_most_similar_on_random_vectors():
    """On random vectors each answer equals gensim's most_similar(positive=[b, c], negative=[a])."""
    rng = np.random.default_rng(7)
    words = sorted({w.lower() for pairs in analogy_pairs().values() for pair in pairs for w in pair})
    kv = KeyedVectors(20)
    kv.add_vectors(words, rng.standard_normal((len(words), 20)).astype(np.float32))
    questions, _, _ = all_pairs_questions(kv)
    sample = questions[rng.choice(len(questions), 150, replace=False)]
    answers = solve_analogies(kv.vectors, sample, chunk_size=64)
    keys = kv.index_to_key
    for (a, b, c, _), answer in zip(sample, answers):
        expected = kv.most_similar(positive=[keys[b], keys[c]], negative=[keys[a]], topn=1)[0][0]
        assert keys[answer] == expected


def test_fast_on_a_paper_size_vocabulary():
    """~30,000 questions over a 10,000 x 200 vocabulary: seconds, not minutes."""
    rng = np.random.default_rng(0)
    words = sorted({w.lower() for pairs in analogy_pairs().values() for pair in pairs for w in pair})
    words += [f"filler{i}" for i in range(10_000 - len(words))]
    kv = KeyedVectors(200)
    kv.add_vectors(words, rng.standard_normal((len(words), 200)).astype(np.float32))
    start = time.perf_counter()
    result = evaluate_analogies(kv)
    assert result.questions > 30_000
    assert time.perf_counter() - start < 30


def test_gensim_protocol_agrees_with_gensim(questions_file, hand_made):
    result = evaluate_analogies(hand_made, questions_file, protocol="gensim")
    score, sections = hand_made.evaluate_word_analogies(questions_file, restrict_vocab=len(hand_made))
    assert result.protocol == "gensim"
    assert result.accuracy == pytest.approx(score)
    assert result.questions == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert result.sections[0]["section"] == "good" and result.sections[0]["accuracy"] == 1.0


def test_similarity_wrapper():
    path = datapath("wordsim353.tsv")
    rng = np.random.default_rng(1)
    kv = KeyedVectors(10)
    with open(path) as handle:
        words = sorted({w for line in handle if not line.startswith("#") for w in line.split("\t")[:2]})
    kv.add_vectors(words[::2], rng.standard_normal((len(words[::2]), 10)).astype(np.float32))
    result = evaluate_similarity(kv, path)
    pearson, spearman, oov = kv.evaluate_word_pairs(path)
    assert result.pairs == 353
    assert result.spearman == pytest.approx(spearman[0]) and result.pearson == pytest.approx(pearson[0])
    assert result.coverage == pytest.approx(1 - oov / 100) and 0 < result.coverage < 1


def test_invalid_arguments(hand_made, questions_file):
    with pytest.raises(ValueError, match="'protocol'"):
        evaluate_analogies(hand_made, questions_file, protocol="3cosmul")
    with pytest.raises(ValueError, match="'restrict_vocab'"):
        evaluate_analogies(hand_made, questions_file, restrict_vocab=0)
