"""gensim_qwem: quadratic word embeddings, a drop-in for gensim's Word2Vec with a closed-form solution."""
from gensim_qwem.cooccurrence import PairStatistics, count_statistics
from gensim_qwem.model import QWEM, TrainingDivergedError
from gensim_qwem.target import TargetOperator

__version__ = "0.1.0"
__all__ = ["QWEM", "PairStatistics", "TargetOperator", "TrainingDivergedError", "count_statistics",
           "__version__"]
