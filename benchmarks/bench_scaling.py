#!/usr/bin/env python
"""Accuracy against corpus size: gensim's skip-gram, QWEM trained and QWEM's closed form on nested slices.

Slice N is the first N tokens of the corpus, cut at the end of the line that reaches N (so every slice
holds the one before it). On each slice, each in its own subprocess so that its peak memory is its own:

``gensim``       ``Word2Vec(sg=1, negative=5, ...)``, ``epochs`` epochs (bench_vs_gensim's child).
``qwem-none``    ``QWEM(weighting="none")`` trained ``epochs`` epochs (bench_vs_gensim's child).
``closed-form``  ``QWEM(...)``: build_vocab, one ``count_statistics``, then every closed-form variant in
                 `--variants` from the same statistics: ``analytic_solution(word_weights=..., weight_power=...,
                 eig_power=...)``. Variants with the same word weights share one eigensolve.

All share ``vector_size=100, window=5, min_count=5, workers=2, negative=5, seed=1`` (bench_vs_gensim's
COMMON) and are evaluated with bench_vs_gensim's ``evaluate``: Google analogies (gensim protocol,
restrict_vocab=30000; semantic = the 5 non-``gram`` sections, syntactic = the 9 ``gram`` sections),
WordSim-353 and SimLex-999 Spearman.

A variant is ``WEIGHTS[:POWER][@EIG_POWER]``: ``uniform@0.5`` is the paper's Setting 3.1
(docs/theory.rst, "The closed form"),
``pair-rate:0.5@0.5`` weights pair (i, j) by ``sqrt(a_i a_j)``, ``geometric:1@0.25`` by ``sqrt(a_i Q_i a_j Q_j)``
with eigenvalues to the power 0.25; ``none:20`` is the G-weighted solution with 20 L-BFGS steps
(``analytic_solution(weighting="none", solve_steps=20)``); ``default`` is ``analytic_solution()`` with no arguments.

Usage::

    python benchmarks/bench_scaling.py CORPUS --sizes 2M,4M,8M,17M
"""
import argparse
import inspect
import json
import logging
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_vs_gensim import (COMMON, _jsonable, _slug, cpu_seconds, eval_paths, evaluate,  # noqa: E402
                             machine_info, peak_rss_mib, run_child, write_report)

logger = logging.getLogger("bench_scaling")
CONFIGS = ("gensim", "qwem-none", "closed-form")
DEFAULT_VARIANTS = "default,uniform@0.5,uniform@0.25,uniform@0,pair-rate:0.5@0.5,pair-rate:1@0.5,geometric:1@0.5"


def parse_size(text):
    """'2M' -> 2_000_000, '500k' -> 500_000, '17000000' -> 17_000_000."""
    text = text.strip()
    scale = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}.get(text[-1:].lower())
    value = float(text[:-1]) * scale if scale else float(text)
    if value < 1:
        raise ValueError(f"a slice size must be >= 1 token, got {text!r}")
    return int(value)


def parse_variant(text):
    """'pair-rate:0.5@0.25' -> dict(weighting='uniform', word_weights='pair-rate', weight_power=0.5, eig_power=0.25);
    'none:20' -> dict(weighting='none', solve_steps=20) (the G-weighted solution)."""
    if text == "default":
        return {}
    if text.partition(":")[0] == "none":
        steps = text.partition(":")[2]
        return dict(weighting="none", **({"solve_steps": int(steps)} if steps else {}))
    weights, _, eig = text.partition("@")
    kind, _, power = weights.partition(":")
    spec = dict(weighting="uniform", word_weights=kind, eig_power=float(eig) if eig else 0.5)
    if kind != "uniform":
        spec["weight_power"] = float(power) if power else 1.0
    return spec


def slice_lines(path, sizes):
    """For each size N, (lines, tokens) of the shortest prefix of whole lines with >= N tokens (or the file)."""
    wanted = sorted(set(sizes))
    found, lines, tokens = {}, 0, 0
    with open(path, "rb") as handle:
        for raw in handle:
            lines += 1
            tokens += len(raw.split())
            while wanted and tokens >= wanted[0]:
                found[wanted.pop(0)] = (lines, tokens)
            if not wanted:
                break
    for size in wanted:   # the corpus is shorter: the whole file
        found[size] = (lines, tokens)
    return found


# ---------------------------------------------------------------------------------------------- child
def run_closed_form(args):
    """build_vocab, one count, then every variant from the same statistics; returns the measurements."""
    from gensim.models.word2vec import LineSentence
    from gensim_qwem import QWEM

    paths = eval_paths()
    corpus = LineSentence(args.corpus, limit=args.max_lines)
    model = QWEM(**COMMON)
    res = {"config": "closed-form", "params": {name: _jsonable(getattr(model, name, None)) for name in (
        "window", "min_count", "workers", "negative", "sample", "ns_exponent", "seed", "shrink_windows")}}
    start = time.perf_counter()
    model.build_vocab(corpus)
    res["scan_s"] = time.perf_counter() - start
    res["corpus_words"], res["vocab_size"] = int(model.corpus_total_words), len(model.wv)
    start, cpu = time.perf_counter(), cpu_seconds()
    stats = model.count_statistics(corpus)
    res["count_s"], res["count_cpu_s"] = time.perf_counter() - start, cpu_seconds() - cpu
    res["pairs_nnz"] = int(stats.cooccurrence.nnz)
    res["peak_rss_after_count_mib"] = peak_rss_mib()
    res["variants"] = {}
    solved = {}
    defaults = {name: p.default for name, p in inspect.signature(QWEM.analytic_solution).parameters.items()
                if name in ("word_weights", "weight_power", "eig_power", "weighting", "solve_steps")}
    defaults["weighting"] = defaults["weighting"] or model.weighting     # None: the model's own
    res["analytic_solution_defaults"] = defaults
    for name in args.variants.split(","):
        spec = parse_variant(name)
        full = dict(defaults, **spec)
        if full["weighting"] == "none":
            solve_key = ("none", full["solve_steps"])
        else:
            solve_key = (full["word_weights"], None if full["word_weights"] == "uniform" else full["weight_power"])
        start, cpu = time.perf_counter(), cpu_seconds()
        wv = model.analytic_solution(**spec)
        elapsed = time.perf_counter() - start
        if full["weighting"] == "none" and ("uniform", None) in solved:
            elapsed += solved[("uniform", None)]    # it started from the cached closed form: charge its eigensolve
        # a variant that reuses an earlier solve of the same weights is charged that solve's time
        solve_s = solved.setdefault(solve_key, elapsed)
        out = {"spec": spec, "solve_s": solve_s, "this_call_s": elapsed, "this_call_cpu_s": cpu_seconds() - cpu,
               "closed_form_s": res["count_s"] + solve_s, "end_to_end_s": res["scan_s"] + res["count_s"] + solve_s,
               "peak_rss_mib": peak_rss_mib()}
        start = time.perf_counter()
        out.update(evaluate(wv, paths))
        out["eval_s"] = time.perf_counter() - start
        res["variants"][name] = out
        logger.info("%s: analogy %.1f%% (syn %.1f%%), WS353 %.3f, solve %.1fs", name, 100 * out["analogy"],
                    100 * out["analogy_syntactic"], out["wordsim353"], solve_s)
    res["peak_rss_mib"] = peak_rss_mib()
    return res


# ---------------------------------------------------------------------------------------------- parent
def run_own_child(args, max_lines):
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), args.corpus, "--_child", "--_result", result,
               "--_max-lines", str(max_lines), "--variants", args.variants] + (["--verbose"] if args.verbose else [])
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"config": "closed-form", "error": f"timed out after {args.timeout}s"}
        if args.verbose and proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0 or not os.path.isfile(result):
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            return {"config": "closed-form", "error": f"exit status {proc.returncode}: {tail}"}
        with open(result) as fh:
            res = json.load(fh)
        res["process_wall_s"] = time.perf_counter() - start
        return res


def rows_of(slice_result):
    """(label, measurements, seconds end to end) per trained config and closed-form variant of one slice."""
    rows = []
    for config in ("gensim", "qwem-none"):
        r = slice_result.get(config)
        if r and "error" not in r:
            rows.append((config, r, r["build_vocab_s"] + r["train_s"]))
    cf = slice_result.get("closed-form")
    if cf and "error" not in cf:
        for name, v in cf["variants"].items():
            rows.append((f"closed form {name}", dict(v, peak_rss_mib=v["peak_rss_mib"]), v["end_to_end_s"]))
    return rows


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}"


def markdown(report):
    m, slices = report["machine"], report["slices"]
    lines = [
        f"# Accuracy against corpus size: {os.path.basename(report['args']['corpus'])}",
        "",
        f"- date: {m['date']}; machine: {m['cpu_model']}, {m['nproc']} usable CPUs, "
        f"{m['mem_total_gib']:.1f} GiB; {m['platform']}",
        f"- python {m['python']}, gensim {m['gensim']}, numpy {m['numpy']}, scipy {m['scipy']}, "
        f"gensim_qwem {m['gensim_qwem']} ({m['gensim_qwem_git']}); load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in report['load_average_end'])}",
        f"- command: `{report['command']}`",
        f"- common: {', '.join(f'{k}={v}' for k, v in report['common_params'].items())}; configs run: "
        f"{', '.join(report['args']['configs'])} (gensim = Word2Vec(sg=1), qwem-none = QWEM(weighting='none') "
        "trained; closed form from one count per slice)",
        "- analogy: gensim's evaluate_word_analogies, restrict_vocab=30000 (sem: 5 semantic sections, syn: the 9 "
        "gram sections); WS353 / SimLex: Spearman. Seconds: build_vocab + train, or vocabulary scan + count + "
        "eigensolve (variants of one weighting share one eigensolve). Peak RSS: the config's own subprocess "
        "(closed form: after that variant, so it includes earlier variants).",
        "",
    ]
    for label, s in slices.items():
        lines += [f"## {label}: {s['tokens']:,} tokens ({s['lines']:,} lines), vocabulary "
                  f"{s.get('closed-form', {}).get('vocab_size', '?')}", "",
                  "| config | analogy % (n) | sem % | syn % | WS353 ρ | SimLex ρ | seconds | peak RSS MiB |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|"]
        for config in CONFIGS:
            if config in s and "error" in s[config]:
                lines.append(f"| {config} | failed: {s[config]['error'].splitlines()[-1][:160]} | | | | | | |")
        for name, r, seconds in rows_of(s):
            lines.append(f"| {name} | {_pct(r['analogy'])} ({r['analogy_questions']}) | {_pct(r['analogy_semantic'])} "
                         f"| {_pct(r['analogy_syntactic'])} | {r['wordsim353']:.3f} | {r['simlex999']:.3f} "
                         f"| {seconds:.1f} | {r['peak_rss_mib']:.0f} |")
        lines.append("")
    lines += ["## Closed form minus gensim, by slice (analogy / syntactic points)", "",
              "| variant | " + " | ".join(slices) + " |", "|---|" + "--:|" * len(slices)]
    names = []
    for s in slices.values():
        for name, _, _ in rows_of(s):
            if name.startswith("closed form") and name not in names:
                names.append(name)
    for name in names:
        cells = []
        for s in slices.values():
            rows = {n: r for n, r, _ in rows_of(s)}
            g, r = rows.get("gensim"), rows.get(name)
            cells.append("-" if not g or not r else
                         f"{100 * (r['analogy'] - g['analogy']):+.1f} / "
                         f"{100 * (r['analogy_syntactic'] - g['analogy_syntactic']):+.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if report.get("figure"):
        lines += ["", f"Figure: [{os.path.basename(report['figure'])}](figures/{os.path.basename(report['figure'])})"]
    lines += ["", "Raw numbers: the JSON beside this file.", ""]
    return "\n".join(lines)


def plot(report, path, variants=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    slices = list(report["slices"].values())
    tokens = [s["tokens"] / 1e6 for s in slices]
    series = {}
    for s in slices:
        for name, r, _ in rows_of(s):
            if variants is None or name in variants or not name.startswith("closed form"):
                series.setdefault(name, {})[s["tokens"] / 1e6] = r
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (key, title) in zip(axes, (("analogy", "Google analogies (30k), %"),
                                       ("analogy_syntactic", "syntactic sections, %"),
                                       ("wordsim353", "WordSim-353 Spearman"))):
        for name, points in series.items():
            xs = [x for x in tokens if x in points]
            scale = 1 if key == "wordsim353" else 100
            style = "-o" if not name.startswith("closed form") else "--s"
            ax.plot(xs, [scale * points[x][key] for x in xs], style, label=name, markersize=4)
        ax.set_xscale("log")
        ax.set_xticks(tokens, [f"{x:.3g}M" for x in tokens])
        ax.minorticks_off()
        ax.set_xlabel("corpus tokens (millions)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text corpus, one sentence/paragraph per line (read with LineSentence)")
    parser.add_argument("--sizes", default="2M,4M,8M,17M", help="slice sizes in tokens (2M,4M,8M,17M)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {','.join(CONFIGS)}")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="closed-form variants, WEIGHTS[:POWER][@EIG_POWER] or 'default' (%(default)s)")
    parser.add_argument("--plot-variants", default=None,
                        help="closed-form variants drawn in the figure (default: all)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the trained configs (3)")
    parser.add_argument("--out", default=None, help="markdown file; JSON beside it, figure in figures/ beside it "
                        "(default benchmarks/results/scaling_DATE_CORPUS.md)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per subprocess")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_max-lines", dest="max_lines", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        level=logging.INFO if args.verbose else logging.WARNING)
    logger.setLevel(logging.INFO)
    if args._child:
        res = run_closed_form(args)
        with open(args._result, "w") as fh:
            json.dump(res, fh)
        return 0

    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        for name in args.variants.split(","):
            parse_variant(name)
    except ValueError as error:
        parser.error(str(error))
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if set(configs) - set(CONFIGS):
        parser.error(f"unknown configs {sorted(set(configs) - set(CONFIGS))}; choose from {','.join(CONFIGS)}")
    if not os.path.isfile(args.corpus):
        parser.error(f"corpus {args.corpus!r} is not a file")
    machine = machine_info()
    corpus_name = _slug(os.path.splitext(os.path.basename(args.corpus))[0])
    out_md = args.out or os.path.join(HERE, "results", f"scaling_{machine['date'][:10]}_{corpus_name}.md")
    cuts = slice_lines(args.corpus, sizes)
    slices = {}
    for size, label in zip(sizes, [s.strip() for s in args.sizes.split(",") if s.strip()]):
        lines, tokens = cuts[size]
        entry = slices[label] = {"lines": lines, "tokens": tokens}
        child_args = types.SimpleNamespace(corpus=args.corpus, epochs=args.epochs, max_lines=lines, questions=None,
                                           wordsim=None, simlex=None, set=None, verbose=args.verbose,
                                           timeout=args.timeout)
        for config in configs:
            logger.info("slice %s (%i tokens, %i lines): %s", label, tokens, lines, config)
            res = run_own_child(args, lines) if config == "closed-form" else run_child(config, child_args)
            if "error" in res:
                logger.warning("%s failed: %s", config, res["error"])
            entry[config] = res
        # what is done so far survives an interrupted run
        os.makedirs(os.path.dirname(os.path.abspath(out_md)), exist_ok=True)
        with open(os.path.splitext(out_md)[0] + ".json", "w") as fh:
            json.dump({"partial": True, "slices": slices}, fh, indent=1, default=_jsonable)
    report = {
        "command": " ".join(["python", os.path.relpath(os.path.abspath(__file__))] + sys.argv[1:]),
        "args": {"corpus": os.path.abspath(args.corpus), "sizes": args.sizes, "configs": configs,
                 "variants": args.variants, "epochs": args.epochs},
        "machine": machine, "load_average_end": list(os.getloadavg()),
        "common_params": dict(COMMON, epochs=args.epochs), "slices": slices,
    }
    stem = os.path.splitext(os.path.basename(out_md))[0]
    figure = os.path.join(os.path.dirname(os.path.abspath(out_md)), "figures", stem + ".png")
    try:
        chosen = None if args.plot_variants is None else {f"closed form {v}" for v in args.plot_variants.split(",")}
        plot(report, figure, chosen)
        report["figure"] = figure
    except ImportError as error:
        logger.warning("no figure (%s); install the [plot] extra", error)
    text = markdown(report)
    print(text)
    write_report(out_md, text, report)
    logger.info("wrote %s", out_md)
    return 0 if all("error" not in r for s in slices.values() for k, r in s.items() if isinstance(r, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
