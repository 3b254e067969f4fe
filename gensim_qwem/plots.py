"""Figures of QWEM's theory next to measurements. Needs matplotlib (``pip install gensim_qwem[plot]``).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot's global state, so it
works headless and never opens a window; save it with ``fig.savefig(path)``.
"""
import numpy as np


def _figure(**kwargs):
    """A pyplot-free Figure (no GUI backend, nothing kept alive by pyplot)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("gensim_qwem.plots needs matplotlib. Install the optional extra: "
                          "pip install 'gensim_qwem[plot]' (or pip install matplotlib).") from error
    return Figure(**kwargs)


def plot_spectrum(eigenvalues, dim=None, log=False, title="Spectrum of M*"):
    """Eigenvalues of M* against their rank.

    Parameters
    ----------
    eigenvalues : array
        Eigenvalues, any order (shown in decreasing order).
    dim : int, optional
        Mark the embedding dimension d with a vertical line: the modes the model can learn.
    log : bool
        Logarithmic value axis (only the positive eigenvalues are shown).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One data line (plus the d marker and the zero line when shown).
    """
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())[::-1]
    ranks = np.arange(1, len(values) + 1)
    fig = _figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    if log:
        keep = values > 0
        ax.plot(ranks[keep], values[keep], marker=".", linestyle="-", label="eigenvalue")
        ax.set_yscale("log")
        ax.set_xscale("log")
    else:
        ax.plot(ranks, values, marker=".", linestyle="-", label="eigenvalue")
        if values.min() < 0:
            ax.axhline(0.0, color="grey", linewidth=0.8)
    if dim is not None:
        ax.axvline(dim, color="tab:red", linestyle=":", label=f"d = {dim}")
    ax.set_xlabel("rank k")
    ax.set_ylabel(r"$\lambda_k$")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_singular_value_trajectory(times, observed_singular_values, predicted_singular_values=None,
                                   predicted_times=None, modes=10, log_time=False, log_values=True,
                                   xlabel="theory time t", title="Singular values of W during training"):
    """Observed singular values of W over training against the predicted ``s_k(t)`` (docs/theory.rst, "The dynamics").

    Parameters
    ----------
    times : array, (T,)
        When each row of `observed_singular_values` was recorded (theory time, or epochs).
    observed_singular_values : array, (T, K)
        Singular values of the trained W at each time, in decreasing order.
    predicted_singular_values : array, (T', K'), optional
        ``closed_form.singular_value_trajectory(...)`` at `predicted_times`.
    predicted_times : array, (T',), optional
        Times of the prediction (default `times`); a finer grid draws smooth curves.
    modes : int
        How many leading modes to draw (one colour each; observed solid, predicted dashed).
    log_time, log_values : bool
        Logarithmic axes. The stepwise learning shows best with log values.
    xlabel, title : str

    Returns
    -------
    matplotlib.figure.Figure
        ``modes`` observed lines, and as many predicted lines when a prediction is given.
    """
    times = np.asarray(times, dtype=np.float64)
    observed = np.atleast_2d(np.asarray(observed_singular_values, dtype=np.float64))
    if observed.shape[0] != len(times):
        raise ValueError(f"observed_singular_values has {observed.shape[0]} rows but there are {len(times)} "
                         "times; pass one row of singular values per recorded time.")
    count = min(modes, observed.shape[1])
    fig = _figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    colors = [f"C{k % 10}" for k in range(count)]
    for k in range(count):
        ax.plot(times, observed[:, k], color=colors[k], marker="." if len(times) < 200 else None,
                linewidth=1.2, label="observed" if k == 0 else None)
    if predicted_singular_values is not None:
        predicted = np.atleast_2d(np.asarray(predicted_singular_values, dtype=np.float64))
        grid = times if predicted_times is None else np.asarray(predicted_times, dtype=np.float64)
        if predicted.shape[0] != len(grid):
            raise ValueError(f"predicted_singular_values has {predicted.shape[0]} rows but there are {len(grid)} "
                             "predicted times.")
        for k in range(min(count, predicted.shape[1])):
            ax.plot(grid, predicted[:, k], color=colors[k], linestyle="--", linewidth=1.0,
                    label=r"predicted $s_k(t)$" if k == 0 else None)
    if log_time:
        ax.set_xscale("log")
    if log_values:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("singular value")
    ax.set_title(f"{title} (top {count} modes)")
    ax.legend()
    return fig


def plot_loss_curve(times_or_epochs, losses, predicted=None, predicted_times=None, xlabel="epoch",
                    ylabel="loss", log_time=False, log_loss=False, title="Training loss"):
    """Loss over training, optionally against a predicted curve.

    Parameters
    ----------
    times_or_epochs : array, (T,)
        x positions (epochs, or theory time).
    losses : array (T,) or dict of label -> array (T,)
        One or several measured curves (e.g. the SGD running loss and the exact objective).
    predicted : array, optional
        Predicted loss at `predicted_times` (default `times_or_epochs`), drawn dashed.
    predicted_times : array, optional
    xlabel, ylabel, title : str
    log_time, log_loss : bool
        Logarithmic axes.

    Returns
    -------
    matplotlib.figure.Figure
        One line per measured curve, plus one for the prediction.
    """
    x = np.asarray(times_or_epochs, dtype=np.float64)
    series = losses if isinstance(losses, dict) else {"measured": losses}
    fig = _figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.add_subplot()
    for label, values in series.items():
        values = np.asarray(values, dtype=np.float64)
        if len(values) != len(x):
            raise ValueError(f"Loss series {label!r} has {len(values)} values for {len(x)} x positions.")
        ax.plot(x, values, marker="." if len(x) < 200 else None, label=label)
    if predicted is not None:
        grid = x if predicted_times is None else np.asarray(predicted_times, dtype=np.float64)
        ax.plot(grid, np.asarray(predicted, dtype=np.float64), linestyle="--", color="black", label="predicted")
    if log_time:
        ax.set_xscale("log")
    if log_loss:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig


def plot_eigen_features(features, eigenvalues=None, columns=5, title="Top words of the leading eigen-directions"):
    """One bar panel per eigen-direction: its top words and their loadings.

    Parameters
    ----------
    features : list of list of (word, loading)
        As returned by ``model.eigen_features(k, topn)``; one inner list per direction, in rank order.
    eigenvalues : array, optional
        Shown in each panel title.
    columns : int
        Panels per row.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        ``len(features)`` panels, one horizontal bar per word.
    """
    count = len(features)
    if count == 0:
        raise ValueError("plot_eigen_features needs at least one eigen-direction; got an empty list.")
    if eigenvalues is not None and len(eigenvalues) < count:
        raise ValueError(f"plot_eigen_features got {count} eigen-directions but only {len(eigenvalues)} "
                         "eigenvalues; pass one eigenvalue per direction.")
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    topn = max(len(words) for words in features)
    fig = _figure(figsize=(2.6 * columns, 0.28 * topn * rows + 0.9 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for position, ax in enumerate(axes.flat):
        if position >= count:
            ax.set_visible(False)
            continue
        words = [word for word, _ in features[position]]
        loadings = np.array([loading for _, loading in features[position]], dtype=np.float64)
        y = np.arange(len(words))
        ax.barh(y, loadings, color=np.where(loadings >= 0, "tab:blue", "tab:orange"))
        ax.set_yticks(y, labels=words, fontsize=8)
        ax.invert_yaxis()
        ax.tick_params(axis="x", labelsize=7)
        label = f"k = {position + 1}"
        if eigenvalues is not None:
            label += rf"  ($\lambda$ = {float(eigenvalues[position]):.4g})"
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    return fig
