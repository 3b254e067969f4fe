"""Online vocabulary growth on enwiki slices: the merged statistics against a recount, and the eigensolve
warm-started from the previous eigenvectors against a cold solve.

The old corpus is the first OLD tokens (whole lines); each increment is the next NEW tokens. Per increment:
QWEM(vector_size=100, min_count=5) builds its vocabulary on the old corpus and solves the closed form;
``build_vocab(new, update=True)`` grows it (old statistics rescaled and padded, the new part counted);
then, `--repeats` times, the top-100 eigenpairs of the grown M* are solved cold (block Lanczos from a
random block, the default) and warm (:func:`gensim_qwem.closed_form.top_eigenpairs` with ``initial=`` the
previous eigenvectors, new words' rows 0), in alternating order. For the approximation, the statistics
are also recounted exactly from old + new under the grown vocabulary, and the two closed forms compared
(relative eigenvalue differences; top-100 subspace overlap, ``||U_a^T U_b||_F^2 / 100``).

    python benchmarks/bench_online_update.py CORPUS --old 2M --new 100k,2M
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scaling import parse_size  # noqa: E402
from bench_vs_gensim import machine_info, write_report  # noqa: E402

from gensim.models.word2vec import LineSentence  # noqa: E402

from gensim_qwem import QWEM  # noqa: E402
from gensim_qwem.closed_form import top_eigenpairs  # noqa: E402
from gensim_qwem.online import Concatenated, padded_rows  # noqa: E402

SETTINGS = dict(vector_size=100, window=5, min_count=5, workers=2, seed=1)


def token_lines(path, skip_tokens, tokens):
    """The whole lines holding the `tokens` tokens after the first `skip_tokens` (line-aligned)."""
    lines, seen = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            words = line.split()
            if seen >= skip_tokens:
                lines.append(words)
            seen += len(words)
            if seen >= skip_tokens + tokens:
                break
    return lines


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def one_increment(old, new, repeats):
    model = QWEM(**SETTINGS)
    model.build_vocab(old)
    old_vocab = len(model.wv)
    _, cold_first = timed(lambda: model.spectrum(100))   # counts the old statistics, then solves
    previous = model.spectrum(100)[1]
    _, update_seconds = timed(lambda: model.build_vocab(new, update=True))
    operator = model.target_operator()
    initial = padded_rows(previous, len(model.wv))
    runs = []
    for repeat in range(repeats):
        order = ("cold", "warm") if repeat % 2 == 0 else ("warm", "cold")
        for kind in order:
            (values, vectors), seconds = timed(lambda: top_eigenpairs(
                operator, 100, seed=model.seed, initial=initial if kind == "warm" else None))
            runs.append({"kind": kind, "seconds": seconds, "eigenvalues": values.tolist()})
    cold_values = np.array(runs[0 if runs[0]["kind"] == "cold" else 1]["eigenvalues"])
    approx_values, approx_vectors = top_eigenpairs(operator, 100, seed=model.seed)
    # exact: the same grown vocabulary, statistics recounted from old + new
    _, recount_seconds = timed(lambda: model.count_statistics(Concatenated(old, new)))
    exact_values, exact_vectors = top_eigenpairs(model.target_operator(), 100, seed=model.seed)
    overlap = float(np.sum((approx_vectors.T @ exact_vectors) ** 2) / 100)
    return {
        "old_vocab": old_vocab, "grown_vocab": len(model.wv),
        "old_tokens": sum(map(len, old)), "new_tokens": sum(map(len, new)),
        "first_count_and_solve_seconds": cold_first, "update_seconds": update_seconds,
        "recount_old_plus_new_seconds": recount_seconds, "runs": runs,
        "max_relative_eigenvalue_difference_warm_vs_cold": max(
            float(np.max(np.abs(np.array(r["eigenvalues"]) - cold_values) / np.abs(cold_values))) for r in runs),
        "approx_vs_exact_max_relative_eigenvalue_difference": float(
            np.max(np.abs(approx_values - exact_values) / np.abs(exact_values))),
        "approx_vs_exact_top100_subspace_overlap": overlap,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--old", default="2M", help="tokens of the old corpus (2M)")
    parser.add_argument("--new", default="100k,2M", help="tokens of each increment (100k,2M)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    machine = machine_info()
    machine["uptime_start"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    old_tokens = parse_size(args.old)
    old = token_lines(args.corpus, 0, old_tokens)
    results = []
    for size in args.new.split(","):
        new = token_lines(args.corpus, sum(map(len, old)), parse_size(size))
        results.append(one_increment(old, new, args.repeats))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "runs"}), flush=True)
    machine["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = ["# Online vocabulary growth: warm-started vs cold eigensolve, merged vs recounted statistics", "",
             f"`python benchmarks/bench_online_update.py {args.corpus} --old {args.old} --new {args.new} "
             f"--repeats {args.repeats}`", "",
             f"Machine: {machine['cpu_model']}, {machine['nproc']} usable cores; {machine['date']}; "
             f"uptime at start: `{machine['uptime_start']}`, at end: `{machine['uptime_end']}`.", "",
             "| old + new tokens | vocab old -> grown | update (count new) | cold solves (s) | warm solves (s) "
             "| warm / cold (median) | approx vs exact: max rel. eigenvalue diff. | top-100 overlap |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        cold = [run["seconds"] for run in r["runs"] if run["kind"] == "cold"]
        warm = [run["seconds"] for run in r["runs"] if run["kind"] == "warm"]
        lines.append(f"| {r['old_tokens']:,} + {r['new_tokens']:,} | {r['old_vocab']:,} -> {r['grown_vocab']:,} "
                     f"| {r['update_seconds']:.1f} s | {', '.join(f'{t:.1f}' for t in cold)} "
                     f"| {', '.join(f'{t:.1f}' for t in warm)} | {np.median(warm) / np.median(cold):.2f}x "
                     f"| {r['approx_vs_exact_max_relative_eigenvalue_difference']:.2e} "
                     f"| {r['approx_vs_exact_top100_subspace_overlap']:.4f} |")
    lines.append("")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   f"online_update_{time.strftime('%Y-%m-%d')}_"
                                   f"{os.path.splitext(os.path.basename(args.corpus))[0]}.md")
    write_report(out, "\n".join(lines), {"machine": machine, "args": vars(args), "results": results})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
