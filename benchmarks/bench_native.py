#!/usr/bin/env python
"""Issue 13: counting, closed form and training from ``corpus_file`` with the native reader, and on Dask.

Every measurement runs in a subprocess with ``PYTHONPATH`` set to the checkout it measures, so that an old
commit (``--old``, e.g. a worktree of the commit before the native reader, built in place) and this one
run in the same session, alternating, ``--repeats`` times (``count`` and ``dask``, and ``closed``, which takes
under half a minute; ``gensim`` and ``trained`` once each):

``count``       ``QWEM(vector_size=100, window=5, min_count=5, workers=2)``: ``build_vocab(corpus_file=...)``
                and ``count_statistics(corpus_file=...)``, timed apart (old and new checkout).
``closed``      build_vocab + count + ``analytic_solution(weighting="uniform")`` (the closed form itself, without the
                G-weighted steps of the default) end to end (new), with Google analogies.
``dask``        ``count_statistics(corpus_file=..., client=...)`` on a ``LocalCluster`` of 2 worker
                processes (1 thread each; started, and gensim_qwem imported on them, before the clock
                starts) against the in-process count in the same subprocess; the SHA-256
                of the statistics' arrays says whether they are bit-identical.
``gensim``      ``Word2Vec(corpus_file=..., sg=1, negative=5, epochs=3, workers=2)``: gensim's own
                corpus_file mode (C++ reader); its training time is the reference for both ratios below.
``trained``     ``QWEM(corpus_file=..., epochs=3, workers=2)`` (weighting='none'), training words/s.

Usage::

    python benchmarks/bench_native.py CORPUS --old /path/to/old/checkout --repeats 3

The machine's load averages are recorded before and after each measurement: on a shared machine only the
ratios of the same run mean anything.
"""
import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_vs_gensim import COMMON, machine_info, write_report  # noqa: E402

TARGETS = {"counting_speedup": 3.0, "closed_form_vs_gensim": 10.0, "trained_vs_gensim_throughput": 1.5,
           "dask_over_in_process": 1.3}


def child(task, corpus, eval_dir):
    """Run one measurement in this process; print one JSON line."""
    import logging
    logging.basicConfig(level=logging.WARNING)
    from gensim_qwem import QWEM
    settings = {key: COMMON[key] for key in ("vector_size", "window", "min_count", "workers", "seed")}
    out = {"task": task}
    if task in ("count", "closed", "dask"):
        model = QWEM(**settings)
        start = time.perf_counter()
        model.build_vocab(corpus_file=corpus)
        out["build_vocab_s"] = time.perf_counter() - start
        out["vocabulary"] = len(model.wv)
        start = time.perf_counter()
        cpu = time.process_time()
        stats = model.count_statistics(corpus_file=corpus)
        out["count_s"], out["count_cpu_s"] = time.perf_counter() - start, time.process_time() - cpu
        out["stored_pairs"] = stats.stored_entries
        import resource
        out["peak_rss_mib_after_count"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        out["statistics_sha256"] = statistics_digest(stats)
        if task == "closed":
            start = time.perf_counter()
            kv = model.analytic_solution(weighting="uniform")     # the closed form itself (Setting 3.1)
            out["eigensolve_s"] = time.perf_counter() - start
            out["end_to_end_s"] = out["build_vocab_s"] + out["count_s"] + out["eigensolve_s"]
            from bench_vs_gensim import eval_data_path
            score, _ = kv.evaluate_word_analogies(eval_data_path("questions-words.txt", None), restrict_vocab=30000)
            out["analogy"] = float(score)
        if task == "dask":
            from distributed import Client, LocalCluster
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                              silence_logs=40) as cluster, Client(cluster) as client:
                # workers up, with the package imported (once per worker in any real use), before the clock starts
                client.run(__import__, "gensim_qwem.distributed")
                start = time.perf_counter()
                remote = model.count_statistics(corpus_file=corpus, client=client)
                out["dask_count_s"] = time.perf_counter() - start
            out["dask_statistics_sha256"] = statistics_digest(remote)
            out["bit_identical"] = out["dask_statistics_sha256"] == out["statistics_sha256"]
    elif task == "gensim":
        from gensim.models import Word2Vec
        train_timed(Word2Vec(sg=1, hs=0, negative=5, epochs=3, **settings), corpus, out)
    elif task == "trained":
        train_timed(QWEM(epochs=3, **settings), corpus, out)
    print("RESULT " + json.dumps(out), flush=True)


def train_timed(model, corpus, out):
    """build_vocab and 3 epochs of training from corpus_file, timed apart, into `out`."""
    start = time.perf_counter()
    model.build_vocab(corpus_file=corpus)
    out["build_vocab_s"] = time.perf_counter() - start
    start = time.perf_counter()
    model.train(corpus_file=corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                epochs=3)
    out["train_s"] = time.perf_counter() - start
    out["words_per_s"] = 3 * model.corpus_total_words / out["train_s"]


def statistics_digest(stats):
    digest = hashlib.sha256()
    for array in (stats.upper.indptr, stats.upper.indices, stats.upper.data, stats.word_counts):
        digest.update(array.tobytes())
    return digest.hexdigest()


def run(task, checkout, corpus):
    env = dict(os.environ, PYTHONPATH=checkout)
    before = os.getloadavg()
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", task, corpus], env=env,
                            capture_output=True, text=True, cwd=HERE)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode or not lines:
        raise RuntimeError(f"{task} in {checkout} failed:\n{result.stderr[-3000:]}")
    out = json.loads(lines[-1][7:])
    out.update(checkout=checkout, load_before=before, load_after=os.getloadavg())
    print(json.dumps(out), flush=True)
    return out


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def markdown(report):
    r = report["ratios"]
    lines = [f"# Issue 13: native corpus_file reader and Dask counting ({report['date']})", "",
             f"Corpus `{report['corpus']}`; new checkout `{report['new']}` ({report['new_commit']}), old "
             f"`{report['old']}` ({report['old_commit']}); {report['repeats']} alternating repeats; medians.",
             f"Machine: {report['machine'].get('cpu_model')}, {report['machine'].get('nproc')} usable CPUs, "
             f"{report['machine'].get('mem_total_gib', 0):.0f} GiB. "
             f"Load averages (1/5/15 min) at start {report['load_start']}, at end {report['load_end']}: "
             "shared and loaded, so only ratios of this run mean anything.", "",
             "| measurement | old | new | ratio | target |", "|---|---|---|---|---|"]
    m = report["medians"]
    if "old_count_s" in m:       # --tasks without count: no old/new rows
        lines.append(f"| count_statistics (s) | {m['old_count_s']:.2f} | {m['new_count_s']:.2f} | "
                     f"{r['counting_speedup']:.2f}x faster | >= {TARGETS['counting_speedup']}x |")
        lines.append(f"| build_vocab (s) | {m['old_build_vocab_s']:.2f} | {m['new_build_vocab_s']:.2f} | "
                     f"{m['old_build_vocab_s'] / m['new_build_vocab_s']:.2f}x faster | |")
    if "closed_end_to_end_s" in m:
        lines.append(f"| closed form end to end (s) vs gensim 3-epoch training {m['gensim_train_s']:.1f} s | | "
                     f"{m['closed_end_to_end_s']:.2f} (median of "
                     f"{', '.join(f'{t:.2f}' for t in m.get('closed_end_to_end_runs_s', []))}) | "
                     f"{r['closed_form_vs_gensim']:.2f}x faster | "
                     f">= {TARGETS['closed_form_vs_gensim']}x |")
    if "trained_words_per_s" in m:
        lines.append(f"| trained weighting='none' from corpus_file (words/s) vs gensim corpus_file "
                     f"{m['gensim_words_per_s']:.0f} | | {m['trained_words_per_s']:.0f} | "
                     f"{r['trained_vs_gensim_throughput']:.2f}x | >= {TARGETS['trained_vs_gensim_throughput']}x |")
    if "dask_count_s" in m:
        lines.append(f"| Dask LocalCluster(2 processes) count (s) vs in-process {m['dask_in_process_count_s']:.2f} | | "
                     f"{m['dask_count_s']:.2f} | {r['dask_over_in_process']:.2f}x the time, bit-identical: "
                     f"{report['dask_bit_identical']} | <= {TARGETS['dask_over_in_process']}x |")
    lines += ["", "Raw runs: the JSON file beside this one.", ""]
    return "\n".join(lines)


def git_commit(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--old", required=True, help="checkout of the commit to compare with (built in place)")
    parser.add_argument("--new", default=REPO)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="count,closed,dask,gensim,trained")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    tasks = args.tasks.split(",")
    runs = {"old_count": [], "new_count": [], "closed": [], "dask": [], "gensim": [], "trained": []}
    load_start = os.getloadavg()
    for _ in range(args.repeats):
        if "count" in tasks:
            runs["old_count"].append(run("count", args.old, args.corpus))
            runs["new_count"].append(run("count", args.new, args.corpus))
        if "dask" in tasks:
            runs["dask"].append(run("dask", args.new, args.corpus))
        if "closed" in tasks:
            runs["closed"].append(run("closed", args.new, args.corpus))
    if "gensim" in tasks:
        runs["gensim"].append(run("gensim", args.new, args.corpus))
    if "trained" in tasks:
        runs["trained"].append(run("trained", args.new, args.corpus))
    med = lambda key, field: median([run_[field] for run_ in runs[key]])  # noqa: E731
    medians, ratios = {}, {}
    if runs["old_count"]:
        for side in ("old", "new"):
            medians[f"{side}_count_s"] = med(f"{side}_count", "count_s")
            medians[f"{side}_build_vocab_s"] = med(f"{side}_count", "build_vocab_s")
        ratios["counting_speedup"] = medians["old_count_s"] / medians["new_count_s"]
    if runs["gensim"]:
        medians["gensim_train_s"] = med("gensim", "train_s")
        medians["gensim_words_per_s"] = med("gensim", "words_per_s")
    if runs["closed"] and runs["gensim"]:
        medians["closed_end_to_end_s"] = med("closed", "end_to_end_s")
        medians["closed_end_to_end_runs_s"] = [run_["end_to_end_s"] for run_ in runs["closed"]]
        ratios["closed_form_vs_gensim"] = medians["gensim_train_s"] / medians["closed_end_to_end_s"]
    if runs["trained"] and runs["gensim"]:
        medians["trained_words_per_s"] = med("trained", "words_per_s")
        ratios["trained_vs_gensim_throughput"] = medians["trained_words_per_s"] / medians["gensim_words_per_s"]
    if runs["dask"]:
        medians["dask_count_s"] = med("dask", "dask_count_s")
        medians["dask_in_process_count_s"] = med("dask", "count_s")
        ratios["dask_over_in_process"] = medians["dask_count_s"] / medians["dask_in_process_count_s"]
    report = dict(corpus=args.corpus, date=datetime.date.today().isoformat(), new=args.new, old=args.old,
                  new_commit=git_commit(args.new), old_commit=git_commit(args.old), repeats=args.repeats,
                  machine=machine_info(), load_start=[round(x, 2) for x in load_start],
                  load_end=[round(x, 2) for x in os.getloadavg()], runs=runs, medians=medians, ratios=ratios,
                  targets=TARGETS, dask_bit_identical=all(run_["bit_identical"] for run_ in runs["dask"]) or None)
    out = args.out or os.path.join(HERE, "results", f"native_{report['date']}_{os.path.basename(args.corpus)}.md")
    write_report(out, markdown(report), report)
    print(markdown(report))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], None)
    else:
        main()
