import numpy as np
import pytest
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath


def planted_topic_corpus(n_topics=4, words_per_topic=12, n_sentences=2000, length=15, seed=0):
    """Sentences that each draw Zipf-distributed words from one of `n_topics` disjoint topics.

    Known answer: words of different topics never co-occur (M* = -2 between topics), so the top
    eigen-directions of M* separate the topics.
    """
    rng = np.random.default_rng(seed)
    probs = 1.0 / np.arange(1, words_per_topic + 1)
    probs /= probs.sum()
    corpus = []
    for _ in range(n_sentences):
        topic = rng.integers(n_topics)
        corpus.append([f"t{topic}w{i}" for i in rng.choice(words_per_topic, size=length, p=probs)])
    return corpus


@pytest.fixture(scope="session")
def planted_corpus():
    return planted_topic_corpus()


@pytest.fixture(scope="session")
def lee_corpus():
    return list(LineSentence(datapath("lee_background.cor")))
