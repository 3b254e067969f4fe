#!/usr/bin/env python
"""Does training really reach the closed form? The full-batch trainer (``trainer='gradient'``) on real text.

One run, one setting:

``--setting paper``    Karkada et al. (2025): the 10,000 most frequent words, d = 200, window 16 with linear
                       weights, no subsampling, k = 1, ns_exponent = 1, init scale 1e-3 / sqrt(d) (as
                       reproduce_paper.py). Scored on the paper's all-pairs analogy protocol.
``--setting default``  QWEM's defaults with ``weighting='uniform'``: vector_size=100, window=5, min_count=5.
                       Scored as bench_vs_gensim.py scores (Google analogies, restrict_vocab=30000), beside
                       gensim's ``Word2Vec(sg=1)`` 3-epoch training in the same run (``--gensim``).

Training is ``model.train()`` from the random start; the eigenvectors of M* (one eigensolve, timed apart)
are used only to *measure* it: after every step a callback records ||u_k^T W|| (the s_k(t) of the
theory) and the model's flow time. Reported: time (vocabulary scan, pair counting, training without the
recording), trained vs closed form on every benchmark, the relative Gram distance, the overlap of the
top-10 subspaces, and when each of the top modes switches on (||u_k^T W|| crossing sqrt(lambda_k) / 2)
against the prediction. Writes ``benchmarks/results/full_batch_<setting>_<date>.md`` (+ ``.json``) and the
figure ``figures/<same stem>_modes.png``.

Usage::

    python benchmarks/bench_full_batch.py CORPUS --setting paper
    python benchmarks/bench_full_batch.py CORPUS --setting default --gensim
"""
import argparse
import logging
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_vs_gensim import eval_paths, evaluate, machine_info, peak_rss_mib, write_report  # noqa: E402
from reproduce_paper import LineRange, evaluate_all, gram_distance, line_offsets  # noqa: E402

logger = logging.getLogger("bench_full_batch")

SETTINGS = {
    "paper": dict(vector_size=200, window=16, shrink_windows=True, sample=0, negative=1, ns_exponent=1.0,
                  max_final_vocab=10000),
    "default": dict(vector_size=100, window=5, min_count=5),
}


def crossing_time(times, values, level):
    """First time `values` reaches `level`, linearly interpolated (None if never)."""
    above = np.nonzero(values >= level)[0]
    if not above.size:
        return None
    i = above[0]
    if i == 0:
        return float(times[0])
    return float(times[i - 1] + (level - values[i - 1]) / (values[i] - values[i - 1]) * (times[i] - times[i - 1]))


def subspace_overlap(vectors, eigenvectors, k):
    """||U_k^T V_k||_F^2 / k for the top-k left singular vectors V_k of W: 1 when the subspaces agree."""
    left = np.linalg.svd(np.asarray(vectors, dtype=np.float64), full_matrices=False)[0][:, :k]
    return float(np.linalg.norm(eigenvectors[:, :k].T @ left) ** 2 / k)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text file, one sentence per line (e.g. enwiki17m.txt or text8 split in lines)")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="paper")
    parser.add_argument("--max-lines", type=int, default=None, help="use only the first N lines")
    parser.add_argument("--alpha", type=float, default=None, help="step in units of 1/lambda_1 (QWEM's default, 1)")
    parser.add_argument("--steps", type=int, default=None, help="gradient_steps (default: until converged)")
    parser.add_argument("--tol", type=float, default=None, help="gradient_tol (QWEM's default, 1e-3)")
    parser.add_argument("--checkpoints", default="",
                        help="comma-separated step counts at which W is kept and scored too, e.g. 100,200,400")
    parser.add_argument("--modes", type=int, default=10, help="modes whose onset is checked and drawn (10)")
    parser.add_argument("--gensim", action="store_true", help="also time gensim's Word2Vec(sg=1), 3 epochs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.INFO)

    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    from gensim_qwem import QWEM
    from gensim_qwem.plots import plot_singular_value_trajectory

    machine = machine_info()
    stem = f"full_batch_{args.setting}_{machine['date'][:10]}" + (f"_{args.max_lines}lines" if args.max_lines else "")
    out = args.out or os.path.join(HERE, "results", stem + ".md")
    stem = os.path.splitext(os.path.basename(out))[0]
    paths = eval_paths()
    corpus = LineRange(args.corpus, 0, len(line_offsets(args.corpus, args.max_lines)) - 1)
    settings = dict(SETTINGS[args.setting], workers=args.workers, seed=args.seed)
    extra = dict(init_scale=1e-3 / math.sqrt(settings["vector_size"])) if args.setting == "paper" else {}
    for name, value in (("alpha", args.alpha), ("gradient_steps", args.steps), ("gradient_tol", args.tol)):
        if value is not None:
            extra[name] = value
    model = QWEM(weighting="uniform", trainer="gradient", **settings, **extra)
    timings = {}
    start = time.perf_counter()
    model.build_vocab(corpus)
    timings["vocabulary scan"] = time.perf_counter() - start
    start = time.perf_counter()
    statistics = model.statistics
    timings["pair counting"] = time.perf_counter() - start
    start = time.perf_counter()
    eigenvalues, eigenvectors = model.spectrum()          # only to measure training
    timings["eigensolve (measurement only; also the closed form's solve)"] = time.perf_counter() - start
    closed = model.analytic_solution(weighting="uniform")

    checkpoints = {int(step) for step in args.checkpoints.split(",") if step.strip()}

    class Recorder(CallbackAny2Vec):
        def __init__(self):
            self.times, self.modes, self.seconds, self.kept, self.start = [], [], 0.0, {}, time.perf_counter()

        def record(self, trained):
            tic = time.perf_counter()
            self.times.append(trained.flow_time)
            self.modes.append(np.linalg.norm(eigenvectors.T @ trained.wv.vectors.astype(np.float64), axis=1))
            if len(self.times) - 1 in checkpoints:   # (W, t, training seconds so far without the recording)
                self.kept[len(self.times) - 1] = (trained.wv.vectors.copy(), trained.flow_time,
                                                  tic - self.start - self.seconds)
            self.seconds += time.perf_counter() - tic

        on_train_begin = on_epoch_end = record

    recorder = Recorder()
    start = recorder.start = time.perf_counter()
    model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs, callbacks=[recorder])
    timings["training (full-batch steps, recording excluded)"] = time.perf_counter() - start - recorder.seconds
    timings["recording (callback)"] = recorder.seconds
    steps = len(model.epoch_losses)

    times, modes = np.array(recorder.times), np.array(recorder.modes)
    fine = np.linspace(0.0, times[-1], 4000)
    predicted = model.predicted_singular_values(fine)
    onsets = []
    for k in range(min(args.modes, len(eigenvalues))):
        level = 0.5 * math.sqrt(max(eigenvalues[k], 0.0))
        observed, expected = crossing_time(times, modes[:, k], level), crossing_time(fine, predicted[:, k], level)
        onsets.append(dict(mode=k + 1, eigenvalue=float(eigenvalues[k]), observed=observed, predicted=expected,
                           relative_error=None if observed is None or not expected else observed / expected - 1))
    evaluations = {}
    for label, kv in (("trained", model.wv), ("closed form", closed)):
        evaluations[label] = (evaluate_all(kv, paths, len(model.wv)) if args.setting == "paper"
                              else evaluate(kv, paths))
    from gensim_qwem.baselines import keyed_vectors
    progress = []
    for step, (vectors, t, seconds) in sorted(recorder.kept.items()):
        kv = keyed_vectors(model.wv.index_to_key, vectors)
        scores = evaluate_all(kv, paths, len(model.wv)) if args.setting == "paper" else evaluate(kv, paths)
        progress.append(dict(step=step, t=t, training_seconds=seconds, scores=scores,
                             gram_relative_error=gram_distance(vectors, closed.vectors),
                             top10_subspace_overlap=subspace_overlap(vectors, eigenvectors, 10)))
    agreement = dict(gram_relative_error=gram_distance(model.wv.vectors, closed.vectors),
                     top10_subspace_overlap=subspace_overlap(model.wv.vectors, eigenvectors, 10),
                     max_onset_error=max([abs(o["relative_error"]) for o in onsets if o["relative_error"] is not None],
                                         default=None))
    gensim_result = None
    if args.gensim:
        w2v = Word2Vec(sg=1, hs=0, negative=5, epochs=3, **settings)
        start = time.perf_counter()
        w2v.build_vocab(corpus)
        w2v.train(corpus, total_examples=w2v.corpus_count, epochs=w2v.epochs)
        gensim_result = dict(seconds=time.perf_counter() - start, **evaluate(w2v.wv, paths))

    fig = plot_singular_value_trajectory(times, modes, predicted, predicted_times=fine, modes=args.modes,
                                         title=f"full-batch QWEM on {os.path.basename(args.corpus)}: "
                                               r"$\|u_k^T W\|$ vs predicted $s_k(t)$")
    figures = os.path.join(os.path.dirname(os.path.abspath(out)), "figures")
    os.makedirs(figures, exist_ok=True)
    figure = os.path.join(figures, f"{stem}_modes.png")
    fig.savefig(figure, dpi=130)

    report = dict(command="python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else argv)),
                  machine=machine, setting=args.setting, settings=dict(settings, **extra), alpha=model.alpha,
                  vocab_size=len(model.wv), tokens=int(model.corpus_total_words), nnz=int(statistics.nnz),
                  steps=steps, refined_steps=model.refined_steps, flow_time=model.flow_time, timings=timings,
                  peak_rss_mib=peak_rss_mib(),
                  evaluations=evaluations, agreement=agreement, progress=progress, onsets=onsets, gensim=gensim_result,
                  eigenvalues=[float(v) for v in eigenvalues], init_sq=model.init_sq, figure=figure,
                  trace=dict(times=times.tolist(), modes=modes[:, :args.modes].tolist(), losses=model.epoch_losses))
    text = markdown(report)
    write_report(out, text, report, default=float)
    print(text)


def _score_rows(report):
    rows = []
    for label, result in report["evaluations"].items():
        if report["setting"] == "paper":
            rows.append(f"| {label} | {100 * result['all-pairs']['accuracy']:.1f} "
                        f"| {100 * result['gensim']['accuracy']:.1f} | {result['wordsim353']['spearman']:.3f} "
                        f"| {result['simlex999']['spearman']:.3f} |")
        else:
            rows.append(f"| {label} | - | {100 * result['analogy']:.1f} | {result['wordsim353']:.3f} "
                        f"| {result['simlex999']:.3f} |")
    if report["gensim"]:
        g = report["gensim"]
        rows.append(f"| gensim Word2Vec(sg=1), 3 epochs | - | {100 * g['analogy']:.1f} | {g['wordsim353']:.3f} "
                    f"| {g['simlex999']:.3f} |")
    return rows


def markdown(report):
    m, t, a = report["machine"], report["timings"], report["agreement"]
    qwem_total = t["vocabulary scan"] + t["pair counting"] + t["training (full-batch steps, recording excluded)"]
    lines = [f"# Full-batch QWEM training vs the closed form: {report['setting']} setting", "",
             f"- date {m['date']}; {m['cpu_model']}, {m['nproc']} usable CPUs, {m['mem_total_gib']:.1f} GiB; "
             f"load average at start {', '.join(f'{x:.2f}' for x in m['load_average_start'])}; gensim_qwem "
             f"{m['gensim_qwem_git']}",
             f"- command: `{report['command']}`",
             f"- {report['tokens']:,} tokens, vocabulary {report['vocab_size']:,}, {report['nnz']:,} nonzero pair "
             f"entries; settings {report['settings']}; step alpha = {report['alpha']:g} / lambda_1",
             f"- {report['steps']} full-batch steps from the random start to flow time t = {report['flow_time']:.4g} "
             f"(s0^2 = {report['init_sq']:.3g}), {report.get('refined_steps', 0)} of them refinement steps "
             f"(gradient_refinement); peak RSS {report['peak_rss_mib']:.0f} MiB", "",
             "| time | s |", "|---|--:|"]
    lines += [f"| {name} | {value:.1f} |" for name, value in t.items()]
    lines += [f"| **QWEM trained, end to end (vocabulary + counting + training)** | **{qwem_total:.1f}** |"]
    if report["gensim"]:
        g = report["gensim"]["seconds"]
        lines += [f"| gensim Word2Vec(sg=1), build_vocab + 3 epochs | {g:.1f} |",
                  f"| ratio QWEM trained / gensim | {qwem_total / g:.2f}x |"]
    lines += ["", "| vectors | analogy, paper all-pairs % | Google analogy, gensim protocol % | WS353 ρ | SimLex ρ |",
              "|---|--:|--:|--:|--:|"] + _score_rows(report)
    if report["progress"]:
        lines += ["", "| after step | t | training s (no recording) | analogy % | Gram distance | top-10 overlap |",
                  "|--:|--:|--:|--:|--:|--:|"]
        for p in report["progress"]:
            score = p["scores"]["all-pairs"]["accuracy"] if report["setting"] == "paper" else p["scores"]["analogy"]
            lines.append(f"| {p['step']} | {p['t']:.4f} | {p['training_seconds']:.0f} | {100 * score:.1f} "
                         f"| {p['gram_relative_error']:.4f} | {p['top10_subspace_overlap']:.4f} |")
    lines += ["", f"- trained vs closed form: relative Gram distance ||W W^T - W* W*^T||_F / ||W* W*^T||_F = "
                  f"{a['gram_relative_error']:.4f}; top-10 subspace overlap {a['top10_subspace_overlap']:.4f}",
              "- mode onsets (||u_k^T W|| = sqrt(lambda_k)/2), observed vs predicted s_k(t): largest relative error "
              + ("-" if a["max_onset_error"] is None else f"{100 * a['max_onset_error']:.1f}%"), "",
              "| mode | lambda_k | observed t | predicted t | error |", "|--:|--:|--:|--:|--:|"]
    for o in report["onsets"]:
        err = "-" if o["relative_error"] is None else f"{100 * o['relative_error']:+.1f}%"
        obs = "-" if o["observed"] is None else f"{o['observed']:.5f}"
        pred = "-" if o["predicted"] is None else f"{o['predicted']:.5f}"
        lines.append(f"| {o['mode']} | {o['eigenvalue']:.2f} | {obs} | {pred} | {err} |")
    lines += ["", f"Figure: `figures/{os.path.basename(report['figure'])}`. Raw numbers and the trace: the JSON "
                  "beside this file.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
