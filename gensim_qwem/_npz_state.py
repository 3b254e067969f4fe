"""What of a QWEM model a pickle-free ``.npz`` file holds, and how the model is built back from it.

:mod:`gensim_qwem.persistence` writes and reads the file (:func:`~gensim_qwem.persistence.write_npz`,
:func:`~gensim_qwem.persistence.read_npz`); this module maps the model's state to its header and arrays:
the vectors, the vocabulary (UTF-8) with its per-word attributes, the pair statistics, the hyper-parameters
(the constructor's arguments), the training counters and the random state.
"""
import inspect
import logging

import numpy as np
import scipy.sparse

from gensim_qwem.cooccurrence import PairStatistics

logger = logging.getLogger(__name__)

# constructor arguments that are not hyper-parameters stored under their own name
_NOT_PARAMETERS = {"self", "sentences", "corpus_file", "hashfxn", "trim_rule", "callbacks"}
_STATE = (
    "corpus_count", "corpus_total_words", "train_count", "total_train_time", "running_training_loss",
    "min_alpha_yet_reached", "effective_min_count", "layer1_size",
)


def _parameter_names(cls):
    """The hyper-parameters of `cls`: its constructor's arguments, each kept as an attribute of that name."""
    return [name for name in inspect.signature(cls.__init__).parameters if name not in _NOT_PARAMETERS]


def _plain(value):
    """numpy scalars -> Python scalars, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def contents(model, statistics):
    """(header, arrays) of `model` and its pair `statistics` (or None) for
    :func:`~gensim_qwem.persistence.write_npz`; every vocabulary key must be a str."""
    keys = model.wv.index_to_key
    if any(not isinstance(key, str) for key in keys):
        bad = next(key for key in keys if not isinstance(key, str))
        raise TypeError(f"save_npz stores str vocabulary keys only; found {type(bad).__name__} {bad!r}. "
                        "Rebuild the vocabulary from str tokens.")
    encoded = [key.encode("utf-8") for key in keys]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(key) for key in encoded], out=offsets[1:])
    arrays = {
        "vectors": np.ascontiguousarray(model.wv.vectors, dtype=np.float32),
        "vocab_utf8": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "vocab_offsets": offsets,
        "vectors_lockf": np.asarray(getattr(model.wv, "vectors_lockf", np.ones(1, dtype=np.float32))),
    }
    for name, values in model.wv.expandos.items():
        values = np.asarray(values)
        if values.dtype.hasobject:
            raise TypeError(f"save_npz cannot store the object-typed word attribute {name!r}.")
        arrays[f"expando/{name}"] = values
    if statistics is not None:
        A = statistics.cooccurrence.tocsr()   # the full A, as files of earlier versions hold it (readable by them)
        arrays.update({
            "statistics/data": A.data, "statistics/indices": A.indices, "statistics/indptr": A.indptr,
            "statistics/word_counts": statistics.word_counts, "statistics/keep_prob": statistics.keep_prob,
        })
    random = getattr(model, "random", None)
    header = {
        "class": type(model).__name__,
        "parameters": {name: _plain(getattr(model, name)) for name in _parameter_names(type(model))
                       if hasattr(model, name)},
        "state": {name: _plain(getattr(model, name, None)) for name in _STATE},
        "vocab_size": len(keys),
        "epoch_losses": [float(loss) for loss in getattr(model, "epoch_losses", [])],
        "statistics": None if statistics is None else {
            "shape": [statistics.vocab_size] * 2, "window": statistics.window,
            "shrink_windows": statistics.shrink_windows, "sentences": statistics.sentences},
        "random_state": random.bit_generator.state if isinstance(random, np.random.Generator) else None,
    }
    return header, arrays


def build(cls, header, arrays):
    """A model of class `cls` from the (header, arrays) of :func:`~gensim_qwem.persistence.read_npz`. Raises
    KeyError, TypeError, ValueError, IndexError or UnicodeDecodeError for contents that do not fit together."""
    vocab_size = int(header["vocab_size"])
    offsets = arrays["vocab_offsets"]
    vectors = arrays["vectors"]
    if offsets.shape != (vocab_size + 1,) or vectors.ndim != 2 or vectors.shape[0] != vocab_size:
        raise ValueError(f"{vocab_size} words, but {offsets.shape[0] - 1} keys and {vectors.shape[0]} vectors")
    raw = arrays["vocab_utf8"].tobytes()
    if int(offsets[-1]) != len(raw) or np.any(np.diff(offsets) < 0):
        raise ValueError("vocabulary offsets do not match the stored keys")
    keys = [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(vocab_size)]

    known = set(_parameter_names(cls))
    unknown = sorted(set(header["parameters"]) - known)
    if unknown:
        logger.warning("ignoring parameters this version of %s does not know: %s", cls.__name__, unknown)
    model = cls(**{name: value for name, value in header["parameters"].items() if name in known})
    wv = model.wv
    wv.index_to_key = keys
    wv.key_to_index = {key: index for index, key in enumerate(keys)}
    if len(wv.key_to_index) != vocab_size:
        raise ValueError("the vocabulary has duplicate keys")
    wv.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    wv.vectors_lockf = arrays.get("vectors_lockf", np.ones(1, dtype=np.float32))
    wv.norms = None
    wv.expandos = {}
    for name, values in arrays.items():
        if name.startswith("expando/"):
            if values.shape[0] != vocab_size:
                raise ValueError(f"word attribute {name[8:]!r} has {values.shape[0]} entries for {vocab_size} words")
            wv.expandos[name[8:]] = values
    for name, value in header["state"].items():
        if name in _STATE:
            setattr(model, name, value)
    model.epoch_losses = list(header.get("epoch_losses", []))
    model.statistics = None
    if header.get("statistics") is not None:
        info = header["statistics"]
        A = scipy.sparse.csr_matrix(
            (arrays["statistics/data"], arrays["statistics/indices"], arrays["statistics/indptr"]),
            shape=tuple(info["shape"]))
        if A.shape != (vocab_size, vocab_size):
            raise ValueError(f"pair statistics of shape {A.shape} for {vocab_size} words")
        A.check_format(full_check=True)
        model.statistics = PairStatistics(A, arrays["statistics/word_counts"], info["window"],
                                          info["shrink_windows"], arrays["statistics/keep_prob"], info["sentences"])
    if vocab_size and model.negative and "count" in wv.expandos:
        model.make_cum_table()
    model.random = np.random.default_rng(model.seed)
    if header.get("random_state") is not None:
        model.random.bit_generator.state = header["random_state"]
    model.add_lifecycle_event("loaded", fname="npz")
    return model
