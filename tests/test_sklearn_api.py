import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from gensim_qwem.sklearn_api import QWEMVectorizer


def labelled_documents(seed=0, n=160, topics=2, words=10, length=12):
    """Documents that each draw from one of `topics` disjoint word sets; the label is the topic."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(topics, size=n)
    docs = [[f"t{t}w{i}" for i in rng.integers(words, size=length)] for t in labels]
    return docs, labels


def test_transform_is_the_mean_of_the_word_vectors():
    docs, _ = labelled_documents()
    vectorizer = QWEMVectorizer(vector_size=3, min_count=1, workers=1, epochs=2).fit(docs)
    out = vectorizer.transform([docs[0], ["unknown"], []])
    wv = vectorizer.model_.wv
    np.testing.assert_allclose(out[0], np.mean([wv[w] for w in docs[0]], axis=0), rtol=1e-6)
    np.testing.assert_array_equal(out[1:], 0)
    assert out.shape == (3, 3)


def test_grid_search_over_qwem_parameters_separates_planted_topics():
    """Topics share no word, so the closed form's top directions separate them (M* = -2 across:
    docs/theory.rst, "The target matrix M*")."""
    docs, labels = labelled_documents()
    pipe = Pipeline([("qwem", QWEMVectorizer(vector_size=2, min_count=1, sample=0, workers=1, epochs=3)),
                     ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"qwem__window": [2, 4], "qwem__closed_form": [False, True]}, cv=3)
    search.fit(docs, labels)
    assert len(search.cv_results_["params"]) == 4
    closed = [score for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])
              if params["qwem__closed_form"]]
    assert min(closed) >= 0.95


def test_clone_keeps_parameters_and_unfitted_transform_raises():
    vectorizer = QWEMVectorizer(vector_size=7, window=3, weighting="uniform", closed_form=True)
    copy = clone(vectorizer)
    assert copy.get_params() == vectorizer.get_params()
    with pytest.raises(Exception, match="not fitted"):
        copy.transform([["a"]])


def test_raw_strings_get_a_clear_error():
    with pytest.raises(TypeError, match=r"lists of str tokens; document #0 is a str 'some text'"):
        QWEMVectorizer(min_count=1).fit(["some text"])
