"""A progress bar for training, as a gensim callback (needs the optional ``tqdm`` package).

gensim already logs training progress at INFO level (``logging.basicConfig(level=logging.INFO)``);
this module adds a bar for interactive sessions::

    from gensim_qwem import QWEM
    from gensim_qwem.progress import ProgressBar

    model = QWEM(sentences, epochs=20, callbacks=[ProgressBar()])

The bar shows epochs and is shown only when standard error is a terminal, so that logs of batch jobs
and CI runs stay free of control characters; pass ``enabled=True`` to force it. tqdm is imported only
when a bar is actually shown: install it with ``pip install "gensim_qwem[progress]"``.
"""
import sys

from gensim.models.callbacks import CallbackAny2Vec

__all__ = ["ProgressBar", "require_tqdm"]

_INSTALL_HINT = ('The progress bar needs the optional package tqdm: pip install "gensim_qwem[progress]" '
                 "(or pip install tqdm).")


def require_tqdm():
    """Return the ``tqdm`` class, or raise an ``ImportError`` that names the ``progress`` extra."""
    try:
        from tqdm.auto import tqdm
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return tqdm


class ProgressBar(CallbackAny2Vec):
    """Training callback that shows a tqdm bar over epochs, with the epoch loss when it is computed.

    Parameters
    ----------
    enabled : bool or None
        ``None`` (default): show the bar only when ``file`` is an interactive terminal
        (``isatty()``), so non-interactive runs stay quiet. ``True``: always show it.
        ``False``: never.
    file : file-like, optional
        Where the bar is drawn (default: ``sys.stderr`` at the time training starts).
    desc : str
        Label in front of the bar.
    **tqdm_kwargs
        Passed to ``tqdm`` (e.g. ``leave=False``, ``ncols=80``).

    Raises
    ------
    ImportError
        When training starts with the bar enabled and tqdm is not installed.

    Notes
    -----
    gensim calls the callback at the start and end of every epoch; progress within an epoch is in the
    INFO log. gensim does not save callbacks with the model; pickling the callback keeps its settings
    and drops the bar and its stream.
    """

    def __init__(self, enabled=None, file=None, desc="training", **tqdm_kwargs):
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError(f"The 'enabled' parameter of ProgressBar must be None, True or False. "
                            f"Got {enabled!r} instead.")
        self.enabled = enabled
        self.file = file
        self.desc = desc
        self.tqdm_kwargs = tqdm_kwargs
        self.bar = None
        if enabled:
            require_tqdm()  # fail early, at construction, when the bar is forced on

    def _stream(self):
        return self.file if self.file is not None else sys.stderr

    def is_shown(self):
        """Whether the bar will be drawn: forced on or off, or else when the output is a terminal."""
        if self.enabled is not None:
            return self.enabled
        isatty = getattr(self._stream(), "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed stream
            return False

    def on_train_begin(self, model):
        self.close()
        if not self.is_shown():
            return
        tqdm = require_tqdm()
        self.bar = tqdm(total=model.epochs, desc=self.desc, unit="epoch", file=self._stream(),
                        **self.tqdm_kwargs)

    def on_epoch_end(self, model):
        if self.bar is None:
            return
        losses = getattr(model, "epoch_losses", None)
        if model.compute_loss and losses:
            self.bar.set_postfix(loss=f"{losses[-1]:.4g}", refresh=False)
        self.bar.update(1)

    def on_train_end(self, model):
        self.close()

    def close(self):
        """Close the bar if one is open (also called when training starts again)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __getstate__(self):
        # the bar and its stream cannot be pickled with the model; keep the settings only
        state = self.__dict__.copy()
        state["bar"] = None
        state["file"] = None
        return state

    def __str__(self):
        return f"ProgressBar(enabled={self.enabled!r})"
