"""The tqdm progress-bar callback: on when forced, off when not interactive, optional dependency."""
import io
import pickle
import sys

import pytest
from gensim.test.utils import common_texts

from gensim_qwem import QWEM
from gensim_qwem.progress import ProgressBar, require_tqdm

SMALL = dict(vector_size=4, min_count=1, epochs=3, workers=1, seed=1)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_forced_bar_shows_every_epoch():
    pytest.importorskip("tqdm", reason="the progress bar needs the optional package tqdm")
    stream = io.StringIO()
    bar = ProgressBar(enabled=True, file=stream)
    QWEM(common_texts, callbacks=[bar], **SMALL)
    assert "3/3" in stream.getvalue() and "epoch" in stream.getvalue()
    assert bar.bar is None  # closed at the end of training


def test_bar_shows_the_epoch_loss_when_computed():
    pytest.importorskip("tqdm", reason="the progress bar needs the optional package tqdm")
    stream = io.StringIO()
    QWEM(common_texts, callbacks=[ProgressBar(enabled=True, file=stream)], compute_loss=True, **SMALL)
    assert "loss=" in stream.getvalue()


def test_bar_is_off_when_output_is_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(file=stream)
    assert not bar.is_shown()
    QWEM(common_texts, callbacks=[bar], **SMALL)
    assert stream.getvalue() == ""


def test_bar_is_on_for_a_terminal_and_can_be_turned_off():
    pytest.importorskip("tqdm", reason="the progress bar needs the optional package tqdm")
    assert ProgressBar(file=_Terminal()).is_shown()
    assert not ProgressBar(enabled=False, file=_Terminal()).is_shown()


def test_missing_tqdm_names_the_progress_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"gensim_qwem\[progress\]"):
        require_tqdm()
    with pytest.raises(ImportError, match=r"gensim_qwem\[progress\]"):
        ProgressBar(enabled=True)
    # not needed at all when the bar stays off
    QWEM(common_texts, callbacks=[ProgressBar(file=io.StringIO())], **SMALL)


def test_bad_enabled_value():
    with pytest.raises(TypeError, match="'enabled' parameter of ProgressBar"):
        ProgressBar(enabled="yes")


def test_model_trained_with_the_callback_saves_and_loads(tmp_path):
    pytest.importorskip("tqdm", reason="the progress bar needs the optional package tqdm")
    bar = ProgressBar(enabled=True, file=io.StringIO())
    model = QWEM(common_texts, callbacks=[bar], **SMALL)
    path = str(tmp_path / "model")
    model.save(path)
    assert QWEM.load(path).wv.index_to_key == model.wv.index_to_key
    copy = pickle.loads(pickle.dumps(bar))
    assert copy.enabled is True and copy.file is None and copy.bar is None
