"""Each plot renders headless and returns a Figure with the expected lines and bars."""
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from gensim_qwem.closed_form import singular_value_trajectory  # noqa: E402
from gensim_qwem.plots import (plot_eigen_features, plot_loss_curve, plot_singular_value_trajectory,  # noqa: E402
                               plot_spectrum)


def render(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000


def data_lines(ax):
    """Lines with more than two points (axhline/axvline markers have two)."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 2]


def test_spectrum(tmp_path):
    eigenvalues = np.array([9.0, 5.0, 3.0, 1.0, 0.5, -0.2, -3.0])
    fig = plot_spectrum(eigenvalues, dim=3)
    ax = fig.axes[0]
    assert len(data_lines(ax)) == 1
    np.testing.assert_array_equal(data_lines(ax)[0].get_ydata(), np.sort(eigenvalues)[::-1])
    assert len(ax.get_lines()) == 3   # data, zero line, d marker
    render(fig, tmp_path, "spectrum")
    log_fig = plot_spectrum(eigenvalues, log=True)
    assert len(log_fig.axes[0].get_lines()) == 1
    assert len(log_fig.axes[0].get_lines()[0].get_ydata()) == 5   # positive eigenvalues only


def test_singular_value_trajectory(tmp_path):
    eigenvalues = np.array([4.0, 2.0, 1.0, 0.5])
    times = np.linspace(0.0, 30.0, 16)
    fine = np.linspace(0.0, 30.0, 300)
    observed = singular_value_trajectory(eigenvalues, 1e-4, times) * 1.02
    predicted = singular_value_trajectory(eigenvalues, 1e-4, fine)
    fig = plot_singular_value_trajectory(times, observed, predicted, predicted_times=fine, modes=3)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 6
    assert sum(line.get_linestyle() == "--" for line in ax.get_lines()) == 3
    assert ax.get_yscale() == "log"
    render(fig, tmp_path, "trajectory")
    only_observed = plot_singular_value_trajectory(times[1:], observed[1:], modes=10, log_time=True)
    assert len(only_observed.axes[0].get_lines()) == 4 and only_observed.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="rows"):
        plot_singular_value_trajectory(times[:3], observed)


def test_loss_curve(tmp_path):
    epochs = np.arange(1, 11)
    loss = 1.0 / epochs
    fig = plot_loss_curve(epochs, loss)
    assert len(fig.axes[0].get_lines()) == 1
    render(fig, tmp_path, "loss")
    both = plot_loss_curve(epochs, {"sgd": loss, "objective": loss * 1.1}, predicted=loss * 0.9, log_loss=True)
    assert len(both.axes[0].get_lines()) == 3
    with pytest.raises(ValueError, match="'sgd'"):
        plot_loss_curve(epochs, {"sgd": loss[:-1]})


def test_eigen_features(tmp_path):
    features = [[(f"word{k}_{i}", 1.0 / (i + 1)) for i in range(6)] for k in range(7)]
    features[2][5] = ("negative", -0.1)
    fig = plot_eigen_features(features, eigenvalues=np.arange(7, 0, -1.0), columns=4)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7
    assert all(len(ax.patches) == 6 for ax in visible)
    assert [t.get_text() for t in visible[0].get_yticklabels()] == [w for w, _ in features[0]]
    render(fig, tmp_path, "features")
    with pytest.raises(ValueError, match="at least one"):
        plot_eigen_features([])
    with pytest.raises(ValueError, match="one eigenvalue per direction"):
        plot_eigen_features(features, eigenvalues=[3.0, 2.0])


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)   # import of it now raises ImportError
    with pytest.raises(ImportError, match=r"gensim_qwem\[plot\]"):
        plot_spectrum([1.0, 0.5])
