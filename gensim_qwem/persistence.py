"""Saving models safely: atomic saves, and a pickle-free ``.npz`` format for :class:`~gensim_qwem.QWEM`.

Two ways to store a model:

* :func:`atomic_save` (what ``QWEM.save`` does): gensim's format (a pickle, plus ``.npy`` side files for
  large arrays), written to temporary names in the destination folder and moved into place with
  :func:`os.replace`, so a crash or a full disk in the middle of a save leaves the previous save loadable.
  **Loading a pickle executes code chosen by whoever wrote the file**: load such files
  (``QWEM.load``, ``Word2Vec.load``, :func:`pickle.load`) only from sources you trust.
* :func:`save_npz` / :func:`load_npz`: numpy arrays plus a JSON header in one ``.npz`` file, read with
  ``allow_pickle=False``. Loading one runs no code from the file, so it is the format to exchange models
  in. It stores everything needed to evaluate and to continue training (vectors, vocabulary and counts,
  subsampling thresholds, pair statistics, hyper-parameters, random state), but not callbacks, the
  ``hashfxn`` (reset to :func:`hash`), or a ``trim_rule``.

This module handles files only: it imports no model. QWEM passes what it writes (the object to pickle and
a way to record its side-file name; the header and arrays that ``gensim_qwem._npz_state`` maps it to) and
registers itself (:func:`register_npz_class`) as what :func:`save_npz` / :func:`load_npz` take and build.
"""
import contextlib
import json
import logging
import os
import pickle
import re
import secrets
import shutil
import tempfile
import traceback
import zipfile

import numpy as np
from gensim import utils

logger = logging.getLogger(__name__)

NPZ_FORMAT = "gensim_qwem.npz"
NPZ_VERSION = 1
_COMPRESSED = (".gz", ".bz2")  # suffixes for which gensim compresses the pickle and writes .npz side files
_GENERATION = re.compile(r"\.gen-[0-9a-f]{12}")


class ModelFileError(ValueError):
    """A file is not a model this library wrote, or it is truncated or corrupted."""


# classes save_npz stores and load_npz builds, by name (QWEM registers itself: this module imports no model)
_NPZ_CLASSES = {}


def register_npz_class(cls):
    """Let :func:`save_npz` store models of `cls` (and its subclasses) and :func:`load_npz` build them; the
    first class registered is what :func:`load_npz` builds by default. Returns `cls` (usable as a decorator)."""
    _NPZ_CLASSES.setdefault(cls.__name__, cls)
    return cls


def _is_corrupt_pickle_error(error):
    """Whether an error from gensim's load comes from a damaged file rather than from this machine.

    Garbage bytes make pickle fail in many ways: bad opcodes, lengths beyond any size (OverflowError, or a
    MemoryError while unpickling the small main file), or an object that is not a model at all. A
    MemoryError while loading the large side arrays is a real shortage of memory and is left alone.
    """
    if isinstance(error, MemoryError):
        return any(frame.name == "unpickle" for frame in traceback.extract_tb(error.__traceback__))
    if isinstance(error, AttributeError):
        return "_load_specials" in str(error)
    return True


@contextlib.contextmanager
def damaged_file_errors(fname):
    """Errors from loading `fname` with gensim's ``load`` that come from a truncated or corrupted file (or
    side file) become a :class:`ModelFileError` that says so."""
    try:
        yield
    except (pickle.UnpicklingError, EOFError, ValueError, OverflowError, MemoryError, AttributeError) as error:
        if not _is_corrupt_pickle_error(error):
            raise
        raise ModelFileError(
            f"Could not load {fname!r}: the file or one of its side files is truncated or corrupted "
            f"({type(error).__name__}: {error}). Load an earlier copy or retrain.") from error


# ---------------------------------------------------------------------------------------------- atomic saves
def atomic_save(model, fname, in_generation=None, **kwargs):
    """Save `model` with gensim's :meth:`~gensim.utils.SaveLoad.save` so that `fname` is replaced atomically.

    Everything is first written under temporary names in the folder of `fname` and flushed to disk;
    only then is it moved into place with :func:`os.replace`. If writing fails (an exception, a full disk,
    a killed process), the previous file at `fname` and its side files are left as they were, the
    temporary files are removed (except after a hard kill), and the in-memory model is unchanged.

    gensim stores large arrays (or those named in ``separately``) in ``.npy`` side files named after
    the file (``fname.wv.vectors.npy``...). Several files cannot be swapped in one atomic step, so for an
    object that can record where its side files are (`in_generation`, as ``QWEM.save`` passes) each save
    writes its side files under a new generation name (``fname.gen-<12 hex digits>.wv.vectors.npy``), the
    object records that name in its pickle, and the single ``os.replace`` of `fname` switches from the old
    complete set to the new one; the old generation is deleted afterwards. For other objects the side files
    are swapped one by one before `fname` (rolled back if a step fails); only a power cut in that short
    window can mix sets.

    Parameters
    ----------
    model : gensim.utils.SaveLoad
        The object to save.
    fname : str or os.PathLike or file-like
        Destination. An open file object is written to directly (gensim then pickles everything into it;
        nothing to swap).
    in_generation : callable, optional
        ``in_generation(stem)``: a context manager during which the object's pickled state records `stem`,
        the file name its side files are written under; its ``_load_specials`` then reads them from
        :func:`side_files_base` ``(fname, stem)``. None: side files are swapped one by one.
    **kwargs
        ``separately``, ``sep_limit``, ``ignore``, ``pickle_protocol``, as for gensim's ``save``.

    Notes
    -----
    gensim's format is a pickle: loading it executes code from the file. Use :func:`save_npz` to give a
    model to someone who should not have to trust you. Two processes saving to the same `fname` at the
    same time are not supported (as with gensim).
    """
    if not isinstance(fname, (str, os.PathLike)):
        utils.SaveLoad.save(model, fname, **kwargs)
        return
    fname = os.fspath(fname)
    snapshot = _snapshot_saveloads(model)
    try:
        if in_generation is not None:
            _save_generation(model, fname, in_generation, kwargs)
        else:
            _save_swap(model, fname, kwargs)
    except BaseException:
        # gensim's _save_specials removes array attributes while it writes them and loses track of
        # nested objects' arrays when a write fails: put every attribute back as it was
        _restore_saveloads(snapshot)
        raise


def _snapshot_saveloads(obj, seen=None):
    """(object, shallow copy of its __dict__) for `obj` and every nested object gensim saves recursively."""
    seen = set() if seen is None else seen
    if id(obj) in seen or not hasattr(obj, "__dict__"):
        return []
    seen.add(id(obj))
    snapshot = [(obj, dict(obj.__dict__))]
    for value in list(obj.__dict__.values()):
        if hasattr(value, "_save_specials"):
            snapshot.extend(_snapshot_saveloads(value, seen))
    return snapshot


def _restore_saveloads(snapshot):
    for obj, state in snapshot:
        obj.__dict__.clear()
        obj.__dict__.update(state)


def _split_compression(name):
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            return name[:-len(suffix)], suffix
    return name, ""


def _fsync_file(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder):
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _written_files(folder, stem):
    """`stem` and the side files gensim wrote for it (``stem.<attribute>...``)."""
    return [name for name in os.listdir(folder) if name == stem or name.startswith(stem + ".")]


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as error:  # e.g. still memory-mapped on Windows: leave it, it is only stale
        logger.warning("could not remove %s: %s", path, error)


def _save_generation(model, fname, in_generation, kwargs):
    folder, base = os.path.split(os.path.abspath(fname))
    root, suffix = _split_compression(base)
    token = secrets.token_hex(6)
    stem = f"{root}.gen-{token}{suffix}"
    staged = os.path.join(folder, stem)
    replacing = False
    try:
        with in_generation(stem):
            utils.SaveLoad.save(model, staged, **kwargs)
        for name in _written_files(folder, stem):
            _fsync_file(os.path.join(folder, name))
        replacing = True
        os.replace(staged, fname)  # the commit: from here on `fname` names the new generation
    except BaseException:
        if not (replacing and not os.path.exists(staged)):  # not committed: drop the new generation
            for name in _written_files(folder, stem):
                _remove_quietly(os.path.join(folder, name))
        raise
    _fsync_dir(folder)
    # drop side files of earlier generations of this name (ours only: `root.gen-<hex>...`)
    previous = re.compile(re.escape(root) + _GENERATION.pattern + re.escape(suffix) + r"\.")
    for name in os.listdir(folder):
        if previous.match(name) and not name.startswith(stem + "."):
            _remove_quietly(os.path.join(folder, name))


def _save_swap(model, fname, kwargs):
    folder, base = os.path.split(os.path.abspath(fname))
    staging = tempfile.mkdtemp(prefix=f".{base}.saving-", dir=folder)
    try:
        model.save(os.path.join(staging, base), **kwargs)
        side_files = [name for name in _written_files(staging, base) if name != base]
        for name in side_files + [base]:
            _fsync_file(os.path.join(staging, name))
        backup = os.path.join(staging, "previous")
        os.mkdir(backup)
        moved = []
        try:
            for name in side_files:
                target = os.path.join(folder, name)
                if os.path.exists(target):
                    os.replace(target, os.path.join(backup, name))
                moved.append(name)
                os.replace(os.path.join(staging, name), target)
            os.replace(os.path.join(staging, base), fname)
        except BaseException:
            for name in moved:  # roll back: the previous side files return beside the previous fname
                if os.path.exists(os.path.join(backup, name)):
                    os.replace(os.path.join(backup, name), os.path.join(folder, name))
                else:
                    _remove_quietly(os.path.join(folder, name))
            raise
        _fsync_dir(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def side_files_base(fname, stem):
    """The name gensim's ``_load_specials`` must read side files under, for the file `fname` saved by
    :func:`atomic_save` with `in_generation`, whose pickle recorded `stem` (None: gensim's own naming)."""
    if stem is None:
        return fname
    return os.path.join(os.path.dirname(fname), stem)


def _atomic_write(path, write):
    """Call ``write(file object)`` on a temporary file beside `path`, then move it over `path`."""
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    fd, staged = tempfile.mkstemp(prefix=f".{base}.saving-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staged, 0o666 & ~_umask())
        os.replace(staged, path)
    except BaseException:
        _remove_quietly(staged)
        raise
    _fsync_dir(folder)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------- .npz format
def save_npz(model, path, compress=False):
    """Store a QWEM model in one ``.npz`` file without pickle (atomically, like :func:`atomic_save`).

    The file holds the vectors, the vocabulary (UTF-8) with its per-word attributes (``count``,
    ``sample_int``), the pair statistics, and a JSON ``header`` with a format marker and version, the
    hyper-parameters, the training counters and the random state, so training continues exactly as it
    would have. Read it back with :func:`load_npz`; no code from the file is executed. The same as
    ``model.save_npz(path, compress)``, which says what of the model the file holds.

    Parameters
    ----------
    model : gensim_qwem.QWEM
        The model; every vocabulary key must be a str.
    path : str or os.PathLike
        Destination, used as given (no ``.npz`` is appended).
    compress : bool
        Deflate the arrays (smaller, slower).
    """
    if not isinstance(model, tuple(_NPZ_CLASSES.values())):
        raise TypeError(f"save_npz stores QWEM models; got {type(model).__name__}. "
                        "Use model.save(...) for other gensim objects.")
    model.save_npz(path, compress=compress)


def load_npz(path, cls=None):
    """Load a model written by :func:`save_npz` (``allow_pickle=False``: no code from the file runs).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    cls : type, optional
        Class to build (default :class:`~gensim_qwem.QWEM`, the first class given to :func:`register_npz_class`);
        the same as ``cls.load_npz(path)``.

    Raises
    ------
    ModelFileError
        (a ValueError) when the file is not one :func:`save_npz` wrote, is from a newer format version, or
        is truncated or corrupted.
    """
    cls = next(iter(_NPZ_CLASSES.values())) if cls is None else cls
    return cls.load_npz(path)


def write_npz(path, header, arrays, compress=False):
    """Write `arrays` (name -> numpy array) and the JSON-able dict `header`, with this format's marker and
    version added, to the ``.npz`` file `path`, atomically. Read it back with :func:`read_npz`."""
    header = {"format": NPZ_FORMAT, "version": NPZ_VERSION, **header}
    arrays = dict(arrays, header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8))
    writer = np.savez_compressed if compress else np.savez
    _atomic_write(path, lambda handle: writer(handle, **arrays))


def not_a_model_file(path, why):
    """The :class:`ModelFileError` for a file :func:`write_npz` did not write, saying `why`."""
    return ModelFileError(f"{os.fspath(path)!r} is not a model file written by gensim_qwem.save_npz: {why}")


def read_npz(path):
    """(header, arrays) of a file written by :func:`write_npz`, read with ``allow_pickle=False``.

    Raises :class:`ModelFileError` when the file is not one :func:`write_npz` wrote, is from a newer format
    version, or is truncated or corrupted.
    """
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if not magic:
        raise not_a_model_file(path, "it is empty")
    if magic[:1] == b"\x80":
        raise not_a_model_file(path, "it is a pickle (e.g. written by model.save; load that with QWEM.load, and "
                                     "only if you trust where it came from)")
    if magic == b"\x93NUMPY":
        raise not_a_model_file(path, "it is a single .npy array, not an .npz archive")
    if magic[:4] != b"PK\x03\x04":
        raise not_a_model_file(path, "it is not a numpy .npz (zip) archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise not_a_model_file(path, f"it is truncated or not a numpy .npz archive ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise not_a_model_file(path, "it is a single .npy array, not an .npz archive")
    try:
        with archive:
            if "header" not in archive.files:
                raise not_a_model_file(path, "it has no 'header' entry")
            try:
                header = json.loads(archive["header"].tobytes().decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as error:
                raise not_a_model_file(path, f"its header is not valid JSON ({error})") from error
            if not isinstance(header, dict) or header.get("format") != NPZ_FORMAT:
                raise not_a_model_file(path, f"its header has no format marker {NPZ_FORMAT!r}")
            if not isinstance(header.get("version"), int) or isinstance(header["version"], bool):
                raise not_a_model_file(path, "its header has no integer format version")
            if header["version"] > NPZ_VERSION:
                raise ModelFileError(
                    f"{os.fspath(path)!r} uses .npz format version {header.get('version')!r}, newer than the "
                    f"{NPZ_VERSION} this gensim_qwem reads; upgrade gensim_qwem to load it.")
            arrays = {name: archive[name] for name in archive.files if name != "header"}
    except ModelFileError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise not_a_model_file(path, f"it is truncated or corrupted ({type(error).__name__}: {error})") from error
    return header, arrays


__all__ = ["ModelFileError", "atomic_save", "damaged_file_errors", "load_npz", "not_a_model_file", "read_npz",
           "register_npz_class", "save_npz", "side_files_base", "write_npz",
           "NPZ_FORMAT", "NPZ_VERSION"]
