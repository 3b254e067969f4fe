"""scikit-learn interface: :class:`QWEMVectorizer`, documents -> mean QWEM word vector, for Pipelines and
GridSearchCV over QWEM's parameters (gensim 3 had ``W2VTransformer``; gensim 4 dropped its sklearn_api).
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from gensim_qwem.model import QWEM


class QWEMVectorizer(TransformerMixin, BaseEstimator):
    """Documents (lists of str tokens) -> the mean of their words' QWEM vectors, ``(n_documents, vector_size)``.

    ``fit(X)`` trains a :class:`~gensim_qwem.QWEM` on the documents X (``closed_form=True``: computes
    :meth:`~gensim_qwem.QWEM.analytic_solution` instead of training); ``transform(X)`` averages the vectors
    of each document's in-vocabulary words (zeros for a document with none). The parameters are QWEM's,
    so a :class:`~sklearn.model_selection.GridSearchCV` over a Pipeline ending in a classifier can tune them::

        pipe = Pipeline([("qwem", QWEMVectorizer(min_count=1)), ("clf", LogisticRegression())])
        GridSearchCV(pipe, {"qwem__window": [2, 5], "qwem__closed_form": [False, True]}).fit(docs, labels)

    The fitted model is ``model_`` (e.g. ``model_.wv.most_similar``).
    """

    def __init__(self, vector_size=100, window=5, min_count=5, sample=1e-4, negative=5, ns_exponent=0.75,
                 epochs=5, alpha=None, weighting="none", trainer=None, closed_form=False, seed=1, workers=3):
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sample = sample
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.epochs = epochs
        self.alpha = alpha
        self.weighting = weighting
        self.trainer = trainer
        self.closed_form = closed_form
        self.seed = seed
        self.workers = workers

    def fit(self, X, y=None):
        """Train QWEM on the documents `X` (or solve its closed form); `y` is ignored."""
        documents = _documents(X)
        params = {name: value for name, value in self.get_params().items() if name != "closed_form"}
        model = QWEM(**params)
        model.build_vocab(documents)
        if self.closed_form:
            model.analytic_solution(replace=True)
        else:
            model.train(documents, total_examples=model.corpus_count, epochs=model.epochs)
        self.model_ = model
        return self

    def transform(self, X):
        """Mean word vector of each document: an array of shape (len(X), vector_size)."""
        check_is_fitted(self, "model_")
        wv = self.model_.wv
        out = np.zeros((len(X), wv.vector_size), dtype=np.float32)
        for row, document in enumerate(_documents(X)):
            known = [wv.key_to_index[word] for word in document if word in wv.key_to_index]
            if known:
                out[row] = wv.vectors[known].mean(axis=0)
        return out


def _documents(X):
    """`X` as a list of token lists, with a clear error for raw strings (scikit-learn's text estimators take those)."""
    documents = list(X)
    for number, document in enumerate(documents):
        if isinstance(document, (str, bytes)):
            raise TypeError(f"QWEMVectorizer takes documents as lists of str tokens; document #{number} is a "
                            f"{type(document).__name__} {document[:40]!r}. Split the text first, e.g. "
                            "[text.split() for text in texts].")
    return documents
