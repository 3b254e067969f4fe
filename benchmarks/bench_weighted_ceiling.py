#!/usr/bin/env python
"""How far the G-weighted solution goes: accuracy of the QWEM objective's minimiser against corpus size.

The default ``analytic_solution()`` stops after ``solve_steps`` L-BFGS steps (one pair kept) from the closed form
(docs/theory.rst, "The G-weighted solution"). This benchmark runs the same solver much further, with more pairs
(``--memory``, ``--steps``), on nested slices of a corpus (bench_scaling's slices: the first N tokens, cut at a
line end), and evaluates the iterate at checkpoints (Google analogies restrict_vocab=30000, semantic / syntactic,
WS-353, SimLex-999; bench_vs_gensim's ``evaluate``). Once the loss stops moving, the scores are those of the
objective's minimiser itself: what any solver of the objective that training minimises (``weighting="none"``,
psi = 1) can reach on that slice. gensim's Word2Vec(sg=1), ``--epochs`` epochs, runs on the same slices in the
same run (bench_vs_gensim's child), for the gap. ``--vector-size`` sets d for both (100: bench_vs_gensim's COMMON).

Usage::

    python benchmarks/bench_weighted_ceiling.py CORPUS --sizes 2M,4M,8M,17M --memory 10 --steps 200
    python benchmarks/bench_weighted_ceiling.py CORPUS --vector-size 200 --memory 1 --steps 10   # the default at d=200
"""
import argparse
import json
import logging
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_scaling import parse_size, slice_lines  # noqa: E402
from bench_vs_gensim import COMMON, _slug, eval_paths, evaluate, machine_info, run_child, write_report  # noqa: E402
from gensim_qwem.weighted import LBFGS_MEMORY, SOLVE_STEPS  # noqa: E402

logger = logging.getLogger("bench_weighted_ceiling")
CHECKPOINTS = (0, 10, 20, 40, 80, 120, 160, 200, 300, 400)


def ceiling_of_slice(corpus, lines, memory, steps, checkpoints, settings=COMMON):
    """build_vocab + count on the first `lines` lines (QWEM(**settings)), the closed form, then `steps` L-BFGS steps
    with `memory` pairs; a row of scores at each checkpoint (step 0: the closed form)."""
    import numpy as np
    from gensim.models.word2vec import LineSentence
    from gensim_qwem import QWEM
    from gensim_qwem.weighted import WeightedLoss, minimise

    paths = eval_paths()
    sentences = LineSentence(corpus, limit=lines)
    model = QWEM(**settings)
    model.build_vocab(sentences)
    model.count_statistics(sentences)
    start = np.ascontiguousarray(model.analytic_solution(weighting="uniform").vectors, dtype=np.float32)
    loss = WeightedLoss(model.target_operator())
    rows, started, evaluating = [], time.perf_counter(), [0.0]     # seconds spent on checkpoints, not solving

    def record(step, W):
        if step not in checkpoints:
            return
        checkpoint = time.perf_counter()
        row = {"step": step, "solve_s": checkpoint - started - evaluating[0],
               "loss": float(loss.value_and_gradient(W)[0])}
        row.update(evaluate(model._keyed_vectors(W.copy()), paths))
        rows.append(row)
        evaluating[0] += time.perf_counter() - checkpoint
        logger.info("step %d: loss %.6f, analogy %.2f%% (syntactic %.2f%%), WS-353 %.3f", step, row["loss"],
                    100 * row["analogy"], 100 * row["analogy_syntactic"], row["wordsim353"])

    record(0, start)
    minimise(loss, start, steps, memory=memory, callback=record, overwrite=True)
    return {"vocab_size": len(model.wv), "corpus_words": int(model.corpus_total_words),
            "stored_pairs": int(model.statistics.stored_entries), "checkpoints": rows}


def markdown(report):
    lines = [f"# How far the G-weighted solution goes: {report['corpus_name']}, nested slices", "",
             f"- date: {report['machine']['date']}; machine: {report['machine']['cpu_model']}, "
             f"{report['machine']['nproc']} usable CPUs, {report['machine']['mem_total_gib']:.1f} GiB",
             f"- gensim_qwem {report['machine']['gensim_qwem']} ({report['machine']['gensim_qwem_git']}), "
             f"gensim {report['machine']['gensim']}",
             f"- command: `{report['command']}`",
             f"- QWEM: {', '.join(f'{k}={v}' for k, v in report['settings'].items())}; closed form "
             f"(`weighting=\"uniform\"`), then {report['steps']} L-BFGS steps of `gensim_qwem.weighted.minimise` with "
             f"{report['memory']} pairs (the default `analytic_solution()` keeps {LBFGS_MEMORY} and takes "
             f"{SOLVE_STEPS} steps)",
             f"- gensim: Word2Vec(sg=1), {report['epochs']} epochs, same parameters, same run", "",
             "Google analogies (restrict_vocab=30000) %, syntactic % in brackets; gap = QWEM - gensim.", "",
             "| slice | tokens | vocab | gensim | step 0 (closed form) | step 10 | step 40 | last step | loss change, "
             "last 40 steps | best % (step) | gap at last step | syntactic gap at last step | WS-353 last |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for label, entry in report["slices"].items():
        rows = {row["step"]: row for row in entry["qwem"]["checkpoints"]}
        last = rows[max(rows)]
        earlier = rows.get(max(rows) - 40)
        gensim = entry.get("gensim", {})

        def cell(row):
            return f"{100 * row['analogy']:.1f} ({100 * row['analogy_syntactic']:.1f})" if row else ""
        best = max(rows.values(), key=lambda row: row["analogy"])
        if gensim.get("analogy") is not None:
            gap = f"{100 * (last['analogy'] - gensim['analogy']):+.1f}"
            syntactic_gap = f"{100 * (last['analogy_syntactic'] - gensim['analogy_syntactic']):+.1f}"
        else:
            gap = syntactic_gap = "n/a"
        change = f"{last['loss'] - earlier['loss']:.1e}" if earlier else "n/a"
        lines.append(f"| {label} | {entry['tokens']:,} | {entry['qwem']['vocab_size']:,} | "
                     f"{cell(gensim) if gensim.get('analogy') is not None else 'n/a'} | {cell(rows.get(0))} | "
                     f"{cell(rows.get(10))} | {cell(rows.get(40))} | {cell(last)} (step {last['step']}) | {change} | "
                     f"{100 * best['analogy']:.1f} ({best['step']}) | {gap} | {syntactic_gap} | "
                     f"{last['wordsim353']:.3f} |")
    lines += ["", "Every checkpoint (analogy % / syntactic % / WS-353 / loss):", ""]
    for label, entry in report["slices"].items():
        cells = [f"{row['step']}: {100 * row['analogy']:.2f} / {100 * row['analogy_syntactic']:.2f} / "
                 f"{row['wordsim353']:.3f} / {row['loss']:.6f}" for row in entry["qwem"]["checkpoints"]]
        lines.append(f"- {label}: " + "; ".join(cells))
    lines += ["", "Raw numbers: the JSON beside this file.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text corpus, one sentence/paragraph per line (read with LineSentence)")
    parser.add_argument("--sizes", default="2M,4M,8M,17M", help="slice sizes in tokens (%(default)s)")
    parser.add_argument("--memory", type=int, default=10, help="L-BFGS pairs kept (%(default)s)")
    parser.add_argument("--steps", type=int, default=200, help="L-BFGS steps (%(default)s)")
    parser.add_argument("--vector-size", type=int, default=COMMON["vector_size"],
                        help="d of QWEM and gensim (%(default)s)")
    parser.add_argument("--epochs", type=int, default=3, help="gensim's epochs (%(default)s); 0: no gensim run")
    parser.add_argument("--out", default=None, help="markdown file, JSON beside it "
                        "(default benchmarks/results/weighted_ceiling_DATE_CORPUS.md)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        level=logging.INFO if args.verbose else logging.WARNING)
    logger.setLevel(logging.INFO)
    if not os.path.isfile(args.corpus):
        parser.error(f"corpus {args.corpus!r} is not a file")
    if args.memory < 1 or args.steps < 1 or args.vector_size < 1:
        parser.error("--memory, --steps and --vector-size must be at least 1")
    settings = dict(COMMON, vector_size=args.vector_size)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    try:
        sizes = [parse_size(label) for label in labels]
    except ValueError as error:
        parser.error(str(error))
    machine = machine_info()
    corpus_name = _slug(os.path.splitext(os.path.basename(args.corpus))[0])
    out_md = args.out or os.path.join(HERE, "results", f"weighted_ceiling_{machine['date'][:10]}_{corpus_name}.md")
    checkpoints = set(CHECKPOINTS) | {args.steps}
    cuts = slice_lines(args.corpus, sizes)
    report = {"command": " ".join(["python", os.path.relpath(os.path.abspath(__file__))] + sys.argv[1:]),
              "corpus": os.path.abspath(args.corpus), "corpus_name": corpus_name, "memory": args.memory,
              "steps": args.steps, "epochs": args.epochs, "settings": settings, "machine": machine, "slices": {}}
    for size, label in zip(sizes, labels):
        lines, tokens = cuts[size]
        entry = report["slices"][label] = {"lines": lines, "tokens": tokens}
        logger.info("slice %s (%i tokens, %i lines): QWEM", label, tokens, lines)
        entry["qwem"] = ceiling_of_slice(args.corpus, lines, args.memory, args.steps, checkpoints, settings)
        if args.epochs:
            logger.info("slice %s: gensim", label)
            child_args = types.SimpleNamespace(corpus=args.corpus, epochs=args.epochs, max_lines=lines,
                                               questions=None, wordsim=None, simlex=None,
                                               set=[f"gensim.vector_size={args.vector_size}"],
                                               verbose=args.verbose, timeout=None)
            entry["gensim"] = run_child("gensim", child_args)
    report["load_average_end"] = list(os.getloadavg())
    write_report(out_md, markdown(report), report)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
