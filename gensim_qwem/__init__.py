"""gensim_qwem: quadratic word embeddings, a drop-in for gensim's Word2Vec with a closed-form solution."""
try:
    from gensim_qwem.cooccurrence import PairStatistics, count_statistics
except ModuleNotFoundError as error:  # pragma: no cover - depends on how the package was installed
    if error.name and error.name.startswith("gensim_qwem._"):
        raise ImportError(
            f"gensim_qwem's compiled kernels are missing ({error.name}). Either build them in place with "
            "`pip install -e .`, or, after `pip install .`, run from another folder than the source "
            "checkout (its gensim_qwem/ folder shadows the installed package).") from error
    raise
from gensim_qwem.model import QWEM, TrainingDivergedError
from gensim_qwem.target import TargetOperator

__version__ = "0.1.0"
__all__ = ["QWEM", "PairStatistics", "TargetOperator", "TrainingDivergedError", "count_statistics",
           "__version__"]
