#!/usr/bin/env python
"""Reproduce the setting of Karkada et al. (2025), Table 1 and Fig. 1, on one corpus, in one run.

Paper setting (Karkada et al. 2025): vocabulary = the `--vocab` most frequent words (``max_final_vocab``), d = 200,
window 16 per side with linear weights (``shrink_windows=True`` gives offset delta the weight
``(L + 1 - delta) / L``), no subsampling (``sample=0``), k = ``negative`` = 1, ``ns_exponent=1``.

From the same vocabulary and the same pair statistics (``model.statistics``) it builds:

- ``word2vec``: gensim ``Word2Vec(sg=1)`` with the settings above (alpha 0.025 -> 0.0001, `--epochs`).
- ``QWEM trained``: ``QWEM(weighting='uniform')`` from small initialisation (`--init-scale`, default
  ``1e-3 / sqrt(d)``) at a constant learning rate, trained in `--records-per-epoch` slices per epoch;
  after each slice the singular values of W are recorded against theory time ``t = model.theory_time``.
- ``QWEM closed form``: ``model.analytic_solution(weighting="uniform")``, the top-d eigenpairs of M*: the
  paper's Setting 3.1, the end point of the uniform training above.
- ``QWEM closed form, pair-rate weights``: ``model.analytic_solution(word_weights="pair-rate")`` (rank-one
  pair weights g_i = a_i^0.25, see docs/theory.rst), from the same statistics.
- ``SVD(PPMI)`` / ``SVD(PMI)``: :mod:`gensim_qwem.baselines` (context smoothing 0.75, ``U S^0.5``; PMI
  is 0 where there is no co-occurrence).

Each is evaluated on both analogy protocols (:func:`gensim_qwem.evaluation.evaluate_analogies`:
the paper's all-pairs set and gensim's questions), WordSim-353 and SimLex-999. Writes
``benchmarks/results/paper_reproduction_<date>[_<N>lines].md`` (+ ``.json`` with the raw numbers) and
the figures ``benchmarks/results/figures/<same stem>_{singular_values,loss,spectrum,eigen_features}.png``.

Usage::

    python benchmarks/reproduce_paper.py CORPUS --max-lines 20000   # development slice
    python benchmarks/reproduce_paper.py CORPUS                     # full corpus
"""
import argparse
import datetime
import itertools
import json
import logging
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_vs_gensim import eval_paths, machine_info, write_report  # noqa: E402

logger = logging.getLogger("reproduce_paper")

# Karkada et al. (2025), Table 1: 2.0B tokens of Wikipedia, V = 10,000, d = 200, window 16, k = 1
PAPER = {
    "word2vec": dict(analogy=0.680, men=0.744, wordsim353=0.698),
    "QWEM trained": dict(analogy=0.651, men=0.755, wordsim353=0.682),
    "QWEM closed form": dict(analogy=0.663, men=0.755, wordsim353=0.683),
    "SVD(PPMI)": dict(analogy=0.506, men=0.740, wordsim353=0.690),
    "SVD(PMI)": dict(analogy=0.084, men=0.448, wordsim353=0.221),
}
PAPER_QUESTIONS = 7614
METHODS = tuple(PAPER)
CONSTANT_PHASE = "QWEM trained, before the learning-rate decay"
DEFAULT_CLOSED_FORM = "QWEM closed form, pair-rate weights"


class LineRange:
    """Re-iterable whitespace-tokenised lines ``[start, stop)`` of a text file, found by byte offset.

    Equivalent to that slice of ``gensim.models.word2vec.LineSentence`` for lines under 10,000 tokens.
    """

    def __init__(self, path, offset, lines):
        self.path, self.offset, self.lines = path, offset, lines

    def __iter__(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            for raw in itertools.islice(handle, self.lines):
                yield raw.decode("utf8").split()

    def __len__(self):
        return self.lines


def line_offsets(path, max_lines=None):
    """Byte offset of every line start (plus the end), for at most `max_lines` lines."""
    offsets = [0]
    with open(path, "rb") as handle:
        for raw in itertools.islice(handle, max_lines):
            offsets.append(offsets[-1] + len(raw))
    return offsets


def split_corpus(path, offsets, parts):
    """The corpus as `parts` contiguous LineRanges of (nearly) equal line counts."""
    n = len(offsets) - 1
    bounds = np.linspace(0, n, parts + 1).round().astype(int)
    return [LineRange(path, offsets[lo], hi - lo) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


# ---------------------------------------------------------------------------------------------- measurements
def timed(label, timings, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    timings[label] = time.perf_counter() - start
    logger.info("%s: %.1fs", label, timings[label])
    return result


def target_norm_sq(operator):
    """||M*||_F^2 = sum over the support of (S - 2)^2 + 4 * (cells off the support)."""
    size = operator.shape[0]
    data = operator.sparse_part.data
    return float(np.sum((data - 2.0) ** 2) + 4.0 * (size * size - len(data)))


def factorisation_error(operator, vectors, norm_sq):
    """||W W^T - M*||_F^2 without forming a V x V matrix: ||W^T W||^2 - 2 tr(W^T M* W) + ||M*||^2."""
    w = np.asarray(vectors, dtype=np.float64)
    gram = w.T @ w
    return float(np.sum(gram * gram) - 2.0 * np.sum(w * (operator @ w)) + norm_sq)


def predicted_error(eigenvalues, singular_values, norm_sq):
    """||W(t) W(t)^T - M*||^2 for W(t) = U diag(s(t)) on the eigenvectors: ||M*||^2 - sum(2 lambda s^2 - s^4)."""
    sq = np.asarray(singular_values) ** 2
    return norm_sq - np.sum(2.0 * eigenvalues * sq - sq * sq, axis=-1)


def gram_distance(first, second):
    """||X X^T - Y Y^T||_F / ||Y Y^T||_F through d x d products (rotation-invariant comparison)."""
    x, y = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    xx, yy, xy = x.T @ x, y.T @ y, x.T @ y
    return math.sqrt(max(np.sum(xx * xx) - 2.0 * np.sum(xy * xy) + np.sum(yy * yy), 0.0) / np.sum(yy * yy))


def evaluate_all(kv, paths, vocab_size):
    from gensim_qwem.evaluation import evaluate_analogies, evaluate_similarity

    out = {}
    for protocol in ("all-pairs", "gensim"):
        result = evaluate_analogies(kv, paths["questions"], protocol=protocol, restrict_vocab=vocab_size)
        semantic = [s for s in result.sections if not s["section"].startswith("gram")]
        syntactic = [s for s in result.sections if s["section"].startswith("gram")]
        out[protocol] = dict(
            accuracy=result.accuracy, correct=result.correct, questions=result.questions,
            unanswerable=result.unanswerable, sections=result.sections,
            semantic=_accuracy(semantic), syntactic=_accuracy(syntactic))
    for name in ("wordsim353", "simlex999"):
        result = evaluate_similarity(kv, paths[name], restrict_vocab=vocab_size)
        out[name] = dict(spearman=result.spearman, pearson=result.pearson, coverage=result.coverage,
                         pairs=result.pairs)
    return out


def _accuracy(sections):
    questions = sum(s["questions"] for s in sections)
    return sum(s["correct"] for s in sections) / questions if questions else None


# ---------------------------------------------------------------------------------------------- training
def train_qwem(model, parts, schedule, operator, eigenvectors, norm_sq, total_words):
    """Train slice by slice along `schedule`, recording after each slice.

    `schedule` is a list of (start_alpha, end_alpha) per epoch; within an epoch the learning rate moves
    linearly from start to end across the slices (each slice is one ``model.train`` call). Theory time
    advances by ``model.theory_time`` of each slice (``2 c * mean alpha * fraction of an epoch``).

    Recorded after each slice: theory time; the singular values of W; W's singular value along each
    eigen-direction u_k of M* (``||u_k^T W||``, the s_k(t) of docs/theory.rst, "The dynamics"; from small
    init the singular values of W first sit at the random bulk ``sigma sqrt(V)`` and show each step once
    s_k(t) rises above it); the SGD running loss of the slice mapped to ||W W^T - M*||^2. The exact objective
    at epoch ends.
    """
    from gensim_qwem import TrainingDivergedError

    c = model.pair_weight_scale()
    trace = dict(times=[], singular_values=[], mode_singular_values=[], sgd_times=[], sgd_error=[],
                 exact_times=[], exact_error=[], diverged=None, seconds=[], epochs_done=0.0)
    now = 0.0

    def record():
        w = np.asarray(model.wv.vectors, dtype=np.float64)
        trace["times"].append(now)
        trace["singular_values"].append(np.linalg.svd(w, compute_uv=False).tolist())
        trace["mode_singular_values"].append(np.linalg.norm(eigenvectors.T @ w, axis=1).tolist())

    def record_exact():
        trace["exact_times"].append(now)
        trace["exact_error"].append(factorisation_error(operator, model.wv.vectors, norm_sq))

    record()
    record_exact()
    for epoch, (first, last) in enumerate(schedule):
        start = time.perf_counter()
        rates = np.linspace(first, last, len(parts) + 1)
        for part, alpha, end_alpha in zip(parts, rates[:-1], rates[1:]):
            try:
                trained, _ = model.train(part, total_examples=len(part), epochs=1, start_alpha=float(alpha),
                                         end_alpha=float(end_alpha), compute_loss=True)
            except TrainingDivergedError as error:
                trace["diverged"] = f"epoch {epoch + 1}, after {trace['epochs_done']:.3f} epochs: {error}"
                logger.error("%s", trace["diverged"])
                return trace
            fraction = trained / total_words
            step = float(model.theory_time(epochs_done=fraction, alpha=alpha, min_alpha=end_alpha, epochs=fraction))
            # E[SGD loss over a fraction f of an epoch] = f (c / 4) (||W W^T - M*||^2 - ||M*||^2)
            # (docs/theory.rst, "The target matrix M*")
            trace["sgd_times"].append(now + step / 2)
            trace["sgd_error"].append(4.0 * model.epoch_losses[-1] / (c * fraction) + norm_sq)
            now += step
            trace["epochs_done"] += fraction
            record()
        record_exact()
        trace["seconds"].append(time.perf_counter() - start)
        logger.info("QWEM epoch %i/%i (alpha %g -> %g): %.1fs, t = %.4f, ||u_k^T W|| k=1..3: %s, "
                    "||WW^T - M*||^2 / V^2 = %.5f", epoch + 1, len(schedule), first, last, trace["seconds"][-1],
                    now, np.round(trace["mode_singular_values"][-1][:3], 4),
                    trace["exact_error"][-1] / operator.shape[0] ** 2)
    return trace


# ---------------------------------------------------------------------------------------------- figures
def write_figures(stem, figures_dir, eigenvalues, init_sq, vocab_size, trace, norm_sq, features, modes,
                  anneal_from=None):
    """The figures of the report; returns {name: path}. Needs only numbers stored in the JSON report."""
    from gensim_qwem.closed_form import singular_value_trajectory
    from gensim_qwem.plots import (plot_eigen_features, plot_loss_curve, plot_singular_value_trajectory,
                                   plot_spectrum)

    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    os.makedirs(figures_dir, exist_ok=True)
    paths = {}
    fig = plot_spectrum(eigenvalues, title=f"Top {len(eigenvalues)} eigenvalues of M* (V = {vocab_size})")
    paths["spectrum"] = _save(fig, figures_dir, stem, "spectrum")
    fig = plot_eigen_features(features, eigenvalues=eigenvalues[:len(features)])
    paths["eigen_features"] = _save(fig, figures_dir, stem, "eigen_features")
    if len(trace["times"]) < 2:  # QWEM training skipped or diverged at once: no trajectory to draw
        return paths

    size = len(eigenvalues)
    vocab_sq = float(vocab_size) ** 2
    times = np.array(trace["times"])
    fine = np.linspace(0.0, times[-1], 600)
    predicted = singular_value_trajectory(eigenvalues, init_sq, fine)

    def mark_anneal(fig):
        if anneal_from is not None and anneal_from < times[-1]:
            fig.axes[0].axvline(anneal_from, color="grey", linewidth=0.8, linestyle="-.")
            fig.axes[0].text(anneal_from, 0.02, " learning rate decays", transform=fig.axes[0].get_xaxis_transform(),
                             fontsize=8, color="grey", ha="right")

    fig = plot_singular_value_trajectory(
        times, np.array(trace["mode_singular_values"]), predicted, predicted_times=fine, modes=modes,
        title=r"$\|u_k^T W\|$ along the eigenvectors of M* vs $s_k(t)$")
    mark_anneal(fig)
    paths["mode_singular_values"] = _save(fig, figures_dir, stem, "mode_singular_values")

    fig = plot_singular_value_trajectory(
        times, np.array(trace["singular_values"]), predicted, predicted_times=fine, modes=modes,
        title="Singular values of W vs predicted s_k(t)")
    bulk = math.sqrt(init_sq / size) * (math.sqrt(vocab_size) + math.sqrt(size))  # sigma (sqrt V + sqrt d)
    fig.axes[0].axhline(bulk, color="grey", linestyle=":", linewidth=1.0,
                        label=r"random init bulk $\sigma(\sqrt{V} + \sqrt{d})$")
    fig.axes[0].legend()
    mark_anneal(fig)
    paths["singular_values"] = _save(fig, figures_dir, stem, "singular_values")

    # the SGD loss weighs each pair by psi = min(c / G, max_weight): cells at the cap count less than
    # in ||W W^T - M*||^2, so the two measured curves part where the error sits in capped (rare-rare) cells
    sgd = {"SGD running loss, capped weights (slice average)": np.array(trace["sgd_error"]) / vocab_sq}
    fig = plot_loss_curve(trace["sgd_times"], sgd,
                          predicted=predicted_error(eigenvalues, predicted, norm_sq) / vocab_sq, predicted_times=fine,
                          xlabel="theory time t", ylabel=r"$\|W W^T - M^*\|_F^2 / V^2$",
                          title="QWEM loss from small initialisation")
    ax = fig.axes[0]
    ax.plot(trace["exact_times"], np.array(trace["exact_error"]) / vocab_sq, "ko", markersize=4,
            label=r"exact $\|W W^T - M^*\|_F^2 / V^2$ (epoch ends)")
    ax.legend()
    mark_anneal(fig)
    paths["loss"] = _save(fig, figures_dir, stem, "loss")
    return paths


def _save(fig, figures_dir, stem, name):
    path = os.path.join(figures_dir, f"{stem}_{name}.png")
    fig.savefig(path, dpi=130)
    logger.info("wrote %s", path)
    return path


# ---------------------------------------------------------------------------------------------- report
def _pct(value):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _rho(value):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def markdown(report):
    m, s, r = report["machine"], report["setting"], report["results"]
    rel = lambda path: os.path.relpath(path, os.path.dirname(report["out"]))  # noqa: E731
    q = report["qwem_training"]
    lines = [
        f"# Karkada et al. (2025) Table 1 setting on {os.path.basename(s['corpus'])}"
        + (f", first {s['max_lines']:,} lines" if s["max_lines"] else " (full corpus)"),
        "",
        f"- date: {m['date']}; machine: {m['cpu_model']}, {m['nproc']} usable CPUs, "
        f"{m['mem_total_gib']:.1f} GiB; {m['platform']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in report['load_average_end'])}",
        f"- python {m['python']}, gensim {m['gensim']}, numpy {m['numpy']}, scipy {m['scipy']}, "
        f"gensim_qwem {m['gensim_qwem']} ({m['gensim_qwem_git']})",
        f"- command: `{report['command']}`",
        f"- corpus: {s['lines']:,} lines" + (" (shuffled with seed %d)" % s["seed"] if s["shuffle"] else "")
        + f", {s['tokens']:,} tokens; vocabulary {s['vocab_size']:,} words "
        f"(max_final_vocab={s['vocab']}, effective min_count {s['effective_min_count']}), "
        f"{s['in_vocab_tokens']:,} in-vocabulary tokens; {s['nnz']:,} nonzero pair entries in A "
        f"({100 * s['nnz'] / s['vocab_size'] ** 2:.1f}% of V^2)",
        f"- setting: d = {s['dim']}, window {s['window']} with linear weights (shrink_windows=True), sample=0, "
        f"negative=1, ns_exponent=1, workers={s['workers']}, seed={s['seed']}",
        f"- word2vec: gensim Word2Vec(sg=1), alpha 0.025 -> 0.0001 over {s['epochs']} epochs",
        ("- QWEM trained: not run (--skip)" if "QWEM trained" not in r else
         f"- QWEM trained: weighting='uniform', negative_share={s['negative_share']}, "
        f"init_scale={s['init_scale']:.3g} (s0^2 = {q['init_sq']:.2e}); {s['qwem_epochs']} epochs at constant "
        f"alpha={s['qwem_alpha']:g} (theory time {q['t_per_epoch']:.4f} per epoch; onset of mode 1 "
        f"tau_1 = {q['tau'][0]:.4f}, of mode d tau_d = {q['tau_d']:.4f}), then {s['anneal_epochs']} epochs with "
        f"alpha decaying linearly to {s['qwem_alpha'] / 100:g}; {s['records_per_epoch']} slices per epoch; "
        f"{q['epochs_done']:.2f} epochs run, theory time reached t = {q['t_end']:.4f}"
        + (f"; **diverged**: {q['diverged']}" if q["diverged"] else "")),
        "- SVD baselines: context smoothing P_c^0.75, eigenvalue weighting U S^0.5, no shift (k = 1); "
        "SVD(PMI) sets PMI to 0 where the pair never co-occurs",
        "",
        "| method | analogy, paper protocol % (n) | paper | sem / syn % | analogy, gensim % (n) "
        "| WS353 ρ | paper | SimLex ρ | paper MEN ρ (not measured) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for method in METHODS + (DEFAULT_CLOSED_FORM, CONSTANT_PHASE):
        if method not in r:
            if method in PAPER:
                lines.append(f"| {method} | not run |" + " |" * 7)
            continue
        e, p = r[method], PAPER.get(method, {})
        ap, ag = e["all-pairs"], e["gensim"]
        lines.append(
            f"| {method} | {_pct(ap['accuracy'])} ({ap['questions']:,}) | {_pct(p.get('analogy'))} "
            f"| {_pct(ap['semantic'])} / {_pct(ap['syntactic'])} | {_pct(ag['accuracy'])} ({ag['questions']:,}) "
            f"| {_rho(e['wordsim353']['spearman'])} | {_rho(p.get('wordsim353'))} "
            f"| {_rho(e['simlex999']['spearman'])} | {_rho(p.get('men'))} |")
    any_result = next(iter(r.values()), None)
    if any_result:
        lines += [
            "",
            f"Paper: 2.0B tokens, {PAPER_QUESTIONS:,} all-pairs questions. Here: "
            f"{any_result['all-pairs']['questions']:,} all-pairs questions "
            f"({any_result['all-pairs']['unanswerable']} of them have an answer equal to a query word, which is "
            f"excluded, so they always count as wrong, as in the paper's code); WordSim-353 coverage "
            f"{100 * any_result['wordsim353']['coverage']:.0f}%, SimLex-999 coverage "
            f"{100 * any_result['simlex999']['coverage']:.0f}% (Spearman over covered pairs).",
        ]
    if report["agreement"]:
        lines += ["", "Agreement between trained, closed-form and predicted embeddings "
                  "(rotation-invariant: ||XX^T - YY^T||_F / ||YY^T||_F):", ""]
        for label, value in report["agreement"].items():
            lines.append(f"- {label}: {value:.4f}")
    lines += ["", "Timings (wall seconds, shared 2-core machine):", ""]
    for label, value in report["timings"].items():
        lines.append(f"- {label}: {value:.1f}")
    lines += ["", "Top words of the leading eigen-directions of M* (largest positive loadings):", ""]
    for k, (value, words) in enumerate(zip(report["eigenvalues"], report["eigen_features"]), start=1):
        lines.append(f"- k={k} (lambda = {value:.1f}): " + ", ".join(word for word, _ in words))
    lines += ["", "Figures:", ""]
    for name, path in report["figures"].items():
        lines.append(f"- {name}: [{os.path.basename(path)}]({rel(path)})")
    lines += ["", "Raw numbers, per-section accuracies and the training trace: the JSON beside this file.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?",
                        help="text corpus, one sentence/paragraph per line, tokens separated by spaces")
    parser.add_argument("--vocab", type=int, default=10000, help="vocabulary size (max_final_vocab; 10000)")
    parser.add_argument("--dim", type=int, default=200, help="embedding dimension d (200)")
    parser.add_argument("--window", type=int, default=16, help="window per side (16)")
    parser.add_argument("--epochs", type=int, default=5, help="word2vec epochs (5)")
    parser.add_argument("--qwem-epochs", type=int, default=None,
                        help="QWEM epochs at constant alpha (default: enough to reach theory time "
                             "tau_d + 5 / lambda_d, i.e. mode d learned)")
    parser.add_argument("--anneal-epochs", type=int, default=4,
                        help="QWEM epochs afterwards with alpha decaying linearly to alpha / 100 (4); "
                             "they average out the SGD noise of the constant-rate phase")
    parser.add_argument("--qwem-alpha", type=float, default=2.5e-4,
                        help="QWEM constant learning rate (0.00025); in the paper setting on enwiki17m 0.001 "
                             "diverged after 5.6 epochs")
    parser.add_argument("--init-scale", type=float, default=None, help="QWEM init scale (1e-3 / sqrt(d))")
    parser.add_argument("--negative-share", type=int, default=1,
                        help="QWEM negative_share (1: k fresh negatives per pair, as word2vec and the paper; "
                             "r > 1 shares each draw between r contexts with weight r: fewer updates, more noise)")
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                        help="keep the corpus line order (default: one seeded shuffle of the lines into "
                             "benchmarks/work/; SGD theory assumes i.i.d. pairs, and Wikipedia in article order "
                             "drifts from topic to topic at a constant learning rate)")
    parser.add_argument("--work", default=os.path.join(HERE, "work"),
                        help="folder for the shuffled copy of the corpus (benchmarks/work/, git-ignored)")
    parser.add_argument("--records-per-epoch", type=int, default=8,
                        help="QWEM slices per epoch, the singular values are recorded after each (8)")
    parser.add_argument("--modes", type=int, default=12, help="modes drawn in the singular-value figures (12)")
    parser.add_argument("--max-lines", type=int, default=None, help="use only the first N lines of the corpus")
    parser.add_argument("--workers", type=int, default=2, help="training and counting threads (2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="markdown report (default benchmarks/results/"
                                                    "paper_reproduction_DATE[_Nlines].md; JSON beside it)")
    parser.add_argument("--figures", default=None, help="figure folder (default: figures/ beside --out)")
    parser.add_argument("--questions", default=None, help="analogy file (questions-words.txt)")
    parser.add_argument("--wordsim", default=None, help="WordSim-353 file")
    parser.add_argument("--simlex", default=None, help="SimLex-999 file")
    parser.add_argument("--skip", default="", help="comma-separated methods to skip: word2vec,qwem-trained")
    parser.add_argument("--verbose", action="store_true", help="the libraries' INFO logging too")
    parser.add_argument("--replot", metavar="REPORT.json", default=None,
                        help="only redraw the figures (and rewrite the report) of an earlier run from its JSON")
    args = parser.parse_args(argv)
    if args.replot:
        if not os.path.isfile(args.replot):
            parser.error(f"--replot {args.replot!r} is not a file")
        return args
    if args.corpus is None or not os.path.isfile(args.corpus):
        parser.error(f"corpus {args.corpus!r} is not a file")
    for name in ("vocab", "dim", "window", "epochs", "records_per_epoch", "workers", "modes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.anneal_epochs < 0 or (args.qwem_epochs is not None and args.qwem_epochs < 1):
        parser.error("--anneal-epochs must be >= 0 and --qwem-epochs >= 1")
    return args


def shuffled_copy(path, max_lines, seed, work):
    """The first `max_lines` lines of `path` in a seeded random order, written once into the folder `work`."""
    os.makedirs(work, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    target = os.path.join(work, f"{stem}_{max_lines or 'all'}lines_shuffled_seed{seed}.txt")
    if not os.path.isfile(target):
        with open(path, "rb") as handle:
            lines = list(itertools.islice(handle, max_lines))
        order = np.random.default_rng(seed).permutation(len(lines))
        with open(target + ".tmp", "wb") as handle:
            handle.writelines(lines[i] if lines[i].endswith(b"\n") else lines[i] + b"\n" for i in order)
        os.replace(target + ".tmp", target)
    return target


def replot(path):
    """Redraw the figures of an earlier run from its JSON report and rewrite the report beside it."""
    with open(path) as handle:
        report = json.load(handle)
    q = report["qwem_training"]
    out = os.path.splitext(os.path.abspath(path))[0] + ".md"
    stem = os.path.splitext(os.path.basename(out))[0]
    report["figures"] = write_figures(
        stem, os.path.join(os.path.dirname(out), "figures"), report["all_eigenvalues"], q["init_sq"],
        report["setting"]["vocab_size"], q, report["target_norm_sq"], report["eigen_features"], report["modes"],
        q.get("anneal_from"))
    report["out"] = out
    with open(path, "w") as handle:
        json.dump(report, handle, indent=1, default=float)
    with open(out, "w") as handle:
        handle.write(markdown(report))
    logger.info("rewrote %s", out)
    return 0


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        level=logging.INFO if args.verbose else logging.WARNING)
    logger.setLevel(logging.INFO)
    if args.replot:
        return replot(args.replot)

    from gensim.models import Word2Vec

    from gensim_qwem import QWEM
    from gensim_qwem.baselines import pmi_embeddings, ppmi_embeddings

    machine = machine_info()
    date = machine["date"][:10]
    stem = f"paper_reproduction_{date}" + (f"_{args.max_lines}lines" if args.max_lines else "")
    out = args.out or os.path.join(HERE, "results", stem + ".md")
    stem = os.path.splitext(os.path.basename(out))[0]
    figures_dir = args.figures or os.path.join(os.path.dirname(os.path.abspath(out)), "figures")
    paths = eval_paths(args.questions, args.wordsim, args.simlex)
    skip = {item.strip() for item in args.skip.split(",") if item.strip()}
    timings, results = {}, {}

    source = shuffled_copy(args.corpus, args.max_lines, args.seed, args.work) if args.shuffle else args.corpus
    offsets = line_offsets(source, args.max_lines)
    corpus = LineRange(source, 0, len(offsets) - 1)
    init_scale = args.init_scale if args.init_scale is not None else 1e-3 / math.sqrt(args.dim)
    common = dict(vector_size=args.dim, window=args.window, shrink_windows=True, sample=0, negative=1,
                  ns_exponent=1.0, max_final_vocab=args.vocab, workers=args.workers, seed=args.seed)
    # per-pair SGD, slice by slice (benchmarks/bench_full_batch.py runs the full-batch trainer on this setting)
    model = QWEM(weighting="uniform", trainer="sgd", init_scale=init_scale, alpha=args.qwem_alpha,
                 min_alpha=args.qwem_alpha, negative_share=args.negative_share, **common)
    timed("QWEM build_vocab (vocabulary scan + pair counting)", timings, model.build_vocab, corpus)
    stats = model.statistics
    vocab_size, keys = len(model.wv), model.wv.index_to_key
    setting = dict(corpus=os.path.abspath(args.corpus), max_lines=args.max_lines, shuffle=args.shuffle,
                   lines=len(corpus), tokens=int(model.corpus_total_words), vocab=args.vocab, vocab_size=vocab_size,
                   effective_min_count=int(model.effective_min_count), in_vocab_tokens=int(stats.word_counts.sum()),
                   nnz=int(stats.nnz), dim=args.dim, window=args.window, epochs=args.epochs,
                   qwem_alpha=args.qwem_alpha, anneal_epochs=args.anneal_epochs, init_scale=init_scale,
                   negative_share=args.negative_share, records_per_epoch=args.records_per_epoch,
                   workers=args.workers, seed=args.seed)
    logger.info("corpus: %s", setting)

    # closed form and the spectrum of M* (one eigensolve, cached by the model)
    eigenvalues, eigenvectors = timed("eigensolve of M* (top d, Lanczos)", timings, model.spectrum, args.dim)
    closed = model.analytic_solution(weighting="uniform")   # Setting 3.1, served from the solve above
    results["QWEM closed form"] = timed("evaluate closed form (4 benchmarks)", timings, evaluate_all, closed, paths,
                                        vocab_size)
    logger.info("closed form: %s", _summary(results["QWEM closed form"]))
    default_closed = timed("closed form with pair-rate weights (eigensolve)", timings, model.analytic_solution,
                           word_weights="pair-rate")
    results[DEFAULT_CLOSED_FORM] = evaluate_all(default_closed, paths, vocab_size)
    logger.info("closed form, pair-rate weights: %s", _summary(results[DEFAULT_CLOSED_FORM]))
    features = model.eigen_features(k=min(10, args.dim), topn=10)

    for method, build in (("SVD(PPMI)", ppmi_embeddings), ("SVD(PMI)", pmi_embeddings)):
        kv = timed(f"{method} (PMI matrix + sparse SVD)", timings, build, stats, keys, args.dim, seed=args.seed)
        results[method] = evaluate_all(kv, paths, vocab_size)
        logger.info("%s: %s", method, _summary(results[method]))

    # QWEM trained from small initialisation, slice by slice
    operator = model.target_operator()
    norm_sq = target_norm_sq(operator)
    t_per_epoch = float(model.theory_time(epochs_done=1, alpha=args.qwem_alpha, min_alpha=args.qwem_alpha,
                                          epochs=1))
    tau = model.mode_onset_times(args.dim)
    learnable = eigenvalues > model.init_sq
    lam_d, tau_d = float(eigenvalues[learnable][-1]), float(tau[learnable][-1])
    qwem_epochs = args.qwem_epochs or max(1, math.ceil((tau_d + 5.0 / lam_d) / t_per_epoch))
    setting["qwem_epochs"] = qwem_epochs
    trace = dict(times=[0.0], diverged=None, epochs_done=0.0)
    agreement = {}
    anneal_from = None
    if "qwem-trained" not in skip:
        logger.info("QWEM: %i epochs at alpha=%g + %i annealing, %.4f theory time per epoch, tau_1=%.4f, "
                    "tau_d=%.4f", qwem_epochs, args.qwem_alpha, args.anneal_epochs, t_per_epoch, tau[0], tau_d)
        parts = split_corpus(source, offsets, args.records_per_epoch)
        start = time.perf_counter()
        schedule = [(args.qwem_alpha, args.qwem_alpha)] * qwem_epochs
        trace = train_qwem(model, parts, schedule, operator, eigenvectors, norm_sq, float(stats.word_counts.sum()))
        timings["QWEM training, constant alpha (incl. recording)"] = time.perf_counter() - start
        anneal_from = trace["times"][-1]
        if not trace["diverged"]:
            results[CONSTANT_PHASE] = evaluate_all(model.wv, paths, vocab_size)
            agreement[f"{CONSTANT_PHASE} vs closed form"] = gram_distance(model.wv.vectors, closed.vectors)
            logger.info("%s: %s", CONSTANT_PHASE, _summary(results[CONSTANT_PHASE]))
            if args.anneal_epochs:
                start = time.perf_counter()
                edges = np.linspace(args.qwem_alpha, args.qwem_alpha / 100, args.anneal_epochs + 1)
                annealed = train_qwem(model, parts, list(zip(edges[:-1], edges[1:])), operator, eigenvectors,
                                      norm_sq, float(stats.word_counts.sum()))
                timings["QWEM training, decaying alpha (incl. recording)"] = time.perf_counter() - start
                trace = _concatenate(trace, annealed)
        results["QWEM trained"] = evaluate_all(model.wv, paths, vocab_size)
        logger.info("QWEM trained: %s", _summary(results["QWEM trained"]))
        t_end = trace["times"][-1]
        agreement["QWEM trained vs closed form"] = gram_distance(model.wv.vectors, closed.vectors)
        agreement[f"QWEM trained vs predicted W(t = {t_end:.4f})"] = gram_distance(
            model.wv.vectors, model.predicted_embeddings(t_end, args.dim).vectors)
        observed = np.array(trace["mode_singular_values"][-1])
        predicted = model.predicted_singular_values([t_end], args.dim)[0]
        agreement["||u_k^T W|| at the end: max over k of |observed - predicted| / sqrt(lambda_1)"] = float(
            np.max(np.abs(observed - predicted)) / math.sqrt(eigenvalues[0]))
        agreement["fraction of ||W||_F^2 in the top-d eigenspace of M* at the end"] = float(
            np.sum(observed ** 2) / np.sum(np.array(trace["singular_values"][-1]) ** 2))

    if "word2vec" not in skip:
        w2v = Word2Vec(sg=1, hs=0, epochs=args.epochs, **common)
        timed("word2vec build_vocab", timings, w2v.build_vocab, corpus)
        if w2v.wv.index_to_key != keys:
            logger.warning("word2vec's vocabulary differs from QWEM's (%i vs %i words)", len(w2v.wv), vocab_size)
        timed(f"word2vec training ({args.epochs} epochs)", timings, w2v.train, corpus,
              total_examples=w2v.corpus_count, epochs=w2v.epochs)
        results["word2vec"] = evaluate_all(w2v.wv, paths, len(w2v.wv))
        logger.info("word2vec: %s", _summary(results["word2vec"]))

    figures = write_figures(stem, figures_dir, eigenvalues, model.init_sq, vocab_size, trace, norm_sq, features,
                            args.modes, anneal_from)

    report = {
        "command": " ".join(["python", os.path.relpath(os.path.abspath(__file__))]
                            + (sys.argv[1:] if argv is None else list(argv))),
        "out": os.path.abspath(out), "machine": machine, "load_average_end": list(os.getloadavg()),
        "setting": setting, "paper": PAPER, "results": results, "timings": timings, "agreement": agreement,
        "eigenvalues": [float(v) for v in eigenvalues[:10]], "all_eigenvalues": [float(v) for v in eigenvalues],
        "eigen_features": features, "figures": figures,
        "target_norm_sq": norm_sq, "modes": args.modes,
        "qwem_training": dict(trace, init_sq=model.init_sq, t_end=trace["times"][-1], t_per_epoch=t_per_epoch,
                              tau_d=tau_d, tau=[float(v) for v in tau], anneal_from=anneal_from),
    }
    text = markdown(report)
    write_report(out, text, report, default=float)
    logger.info("wrote %s", out)
    print(text)
    return 0


def _concatenate(first, second):
    """One trace from two consecutive ones (the second's times shifted to start where the first ended)."""
    offset = first["times"][-1]
    joined = dict(first, diverged=second["diverged"], epochs_done=first["epochs_done"] + second["epochs_done"],
                  seconds=first["seconds"] + second["seconds"])
    for key in ("times", "sgd_times", "exact_times"):
        joined[key] = first[key] + [offset + t for t in second[key][1 if key != "sgd_times" else 0:]]
    for key in ("singular_values", "mode_singular_values", "exact_error"):
        joined[key] = first[key] + second[key][1:]
    joined["sgd_error"] = first["sgd_error"] + second["sgd_error"]
    return joined


def _summary(result):
    return (f"analogy all-pairs {_pct(result['all-pairs']['accuracy'])}% of {result['all-pairs']['questions']}, "
            f"gensim {_pct(result['gensim']['accuracy'])}% of {result['gensim']['questions']}, "
            f"WS353 {_rho(result['wordsim353']['spearman'])}, SimLex {_rho(result['simlex999']['spearman'])}")


if __name__ == "__main__":
    sys.exit(main())
