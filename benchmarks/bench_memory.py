#!/usr/bin/env python
"""Peak memory and time of QWEM's closed form per phase, on nested slices of one corpus, against gensim.

For each slice (the first 2M, 4M, ... tokens of the corpus, whole lines) two subprocesses run:

``closed-form``  ``QWEM(vector_size=100, window=5, min_count=5, workers=2, seed=1)``: build_vocab (vocab),
                 ``count_statistics`` (counting), ``analytic_solution(weighting="uniform")`` (eigensolve: the
                 M* operator and the Lanczos solve), then the default ``analytic_solution()`` (weighted steps:
                 the G-weighted solution's L-BFGS steps from the cached eigenpairs; accuracy is this one's). A
                 sampler thread reads the RSS every 10 ms, so each phase gets its own peak, not only the
                 process's running maximum.
``gensim``       ``Word2Vec(sg=1, negative=5)``, 3 epochs, as ``bench_vs_gensim.py`` runs it (its helper).

Both report ``ru_maxrss`` (the process's peak) before evaluation; the ratio closed form / gensim is the
figure issue 10 asks about (target <= 3x). Analogy accuracy is measured for both.

Usage::

    python benchmarks/bench_memory.py CORPUS --sizes 2M,4M,8M,17M

See benchmarks/README.md.
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_vs_gensim import (COMMON, _jsonable, current_rss_mib, eval_paths, evaluate,  # noqa: E402
                             machine_info, peak_rss_mib, run_config, write_report)

PHASES = ("vocab", "counting", "eigensolve", "weighted steps")
RSS_TARGET = 3.0      # issue 10: peak RSS of the closed form <= 3x gensim's
logger = logging.getLogger("bench_memory")


class RssSampler(threading.Thread):
    """Samples the current RSS every `interval` s and keeps the maximum per phase label."""

    def __init__(self, interval=0.01):
        super().__init__(daemon=True)
        self.interval, self.phase, self.peaks, self.stopped = interval, None, {}, threading.Event()
        self.timeline, self.t0 = [], time.perf_counter()   # (seconds, MiB, phase) every 0.25 s

    def run(self):
        next_record = 0.0
        while not self.stopped.is_set():
            rss = current_rss_mib()
            if self.phase is not None and rss is not None:
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
                now = time.perf_counter() - self.t0
                if now >= next_record:
                    self.timeline.append((round(now, 2), round(rss, 1), self.phase))
                    next_record = now + 0.25
            time.sleep(self.interval)

    def enter(self, phase):
        rss = current_rss_mib()
        self.phase = phase
        self.peaks[phase] = max(self.peaks.get(phase, 0.0), rss or 0.0)


def run_closed_form(args):
    """The closed form in this process, phase by phase; returns a dict of measurements."""
    import numpy as np
    from gensim.models.word2vec import LineSentence
    from gensim_qwem import QWEM

    res = {"config": "closed-form", "rss_after_imports_mib": current_rss_mib(),
           "load_average_start": list(os.getloadavg())}
    sampler = RssSampler()
    sampler.start()
    corpus = LineSentence(args.corpus, limit=args.max_lines)
    model = QWEM(**dict(COMMON, epochs=3))
    timings = {}

    sampler.enter("vocab")
    start = time.perf_counter()
    model.build_vocab(corpus)
    timings["vocab"] = time.perf_counter() - start
    res["rss_after_vocab_mib"] = current_rss_mib()

    sampler.enter("counting")
    start = time.perf_counter()
    stats = model.count_statistics(corpus)
    timings["counting"] = time.perf_counter() - start
    res["rss_after_counting_mib"] = current_rss_mib()
    # the stored entries (upper triangle); never touch stats.cooccurrence here: it builds the full A
    res["pairs_stored"] = int(stats.stored_entries if hasattr(stats, "stored_entries") else stats.cooccurrence.nnz)

    sampler.enter("eigensolve")
    start = time.perf_counter()
    model.analytic_solution(weighting="uniform")      # the closed form; its eigenpairs are kept for the next call
    timings["eigensolve"] = time.perf_counter() - start
    res["rss_after_closed_form_mib"] = current_rss_mib()
    sampler.enter("weighted steps")
    start = time.perf_counter()
    wv = model.analytic_solution()                    # the default: the model's weighting ('none': L-BFGS steps)
    timings["weighted steps"] = time.perf_counter() - start
    sampler.phase = None
    res["rss_after_eigensolve_mib"] = current_rss_mib()
    res["peak_rss_mib"] = peak_rss_mib()
    sampler.stopped.set()
    res["phase_s"] = timings
    res["phase_peak_rss_mib"] = dict(sampler.peaks)
    res["rss_timeline"] = sampler.timeline
    res["closed_form_s"] = sum(timings.values())
    res["corpus_sentences"] = int(model.corpus_count)
    res["corpus_words"] = int(model.corpus_total_words)
    res["vocab_size"] = len(model.wv)
    res["eigenvalues_top5"] = [float(v) for v in np.asarray(model.eigenvalues_)[:5]]
    paths = eval_paths()
    res.update(evaluate(wv, paths))
    res["load_average_end"] = list(os.getloadavg())
    return res


def run_gensim(args):
    """gensim Word2Vec, 3 epochs, through bench_vs_gensim's own child (same measurements)."""
    child_args = argparse.Namespace(corpus=args.corpus, max_lines=args.max_lines, epochs=3, set=None,
                                    questions=None, wordsim=None, simlex=None)
    return run_config("gensim", child_args)


def slice_lines(corpus, sizes):
    """Number of whole lines whose tokens (LineSentence's whitespace split) first reach each size."""
    wanted = sorted(set(sizes))
    found, tokens, lines = {}, 0, 0
    with open(corpus, "rb") as handle:
        for line in handle:
            tokens += len(line.split())
            lines += 1
            while wanted and tokens >= wanted[0]:
                found[wanted.pop(0)] = (lines, tokens)
    for size in wanted:  # larger than the corpus: the whole of it
        found[size] = (None, tokens)
    for size, (cut, _) in found.items():
        if size >= 0.98 * tokens:   # within 2% of the end (17M of enwiki17m's 17.005M tokens): all of it
            found[size] = (None, tokens)
    return found


def parse_size(text):
    text = text.strip().upper()
    scale = {"K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def run_child(config, args, max_lines):
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), args.corpus, "--_child", config, "--_result", result]
        if max_lines:
            cmd += ["--_max-lines", str(max_lines)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.isfile(result):
            return {"config": config, "error": f"exit {proc.returncode}: " + proc.stderr.strip()[-600:]}
        with open(result) as handle:
            res = json.load(handle)
        res["process_wall_s"] = time.perf_counter() - start
        return res


def markdown(report):
    m = report["machine"]
    lines = [
        f"# Peak memory of the closed form: {os.path.basename(report['args']['corpus'])}, nested slices",
        "",
        f"- date: {m['date']}; machine: {m['cpu_model']}, {m['nproc']} usable CPUs, "
        f"{m['mem_total_gib']:.1f} GiB; {m['platform']}",
        f"- python {m['python']}, gensim {m['gensim']}, numpy {m['numpy']}, scipy {m['scipy']}, "
        f"gensim_qwem {m['gensim_qwem']} ({m['gensim_qwem_git']})",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in m['load_average_start'])}; at end: "
        f"{', '.join(f'{x:.2f}' for x in report['load_average_end'])}",
        f"- command: `{report['command']}`",
        f"- parameters: {', '.join(f'{k}={v}' for k, v in COMMON.items())}, gensim epochs=3",
        "",
        "| tokens | lines | vocab | stored pairs | vocab s | counting s | eigensolve s | weighted steps s "
        "| analytic_solution() e2e s | peak MiB vocab / counting / eigensolve / steps | QWEM peak MiB "
        "| gensim peak MiB | ratio | gensim train s | speed-up e2e | analogy % QWEM / gensim |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in report["slices"]:
        c, g = row["closed-form"], row.get("gensim")
        if "error" in c:
            lines.append(f"| {row['tokens']:,} | failed: {c['error'][-200:]} |" + " |" * 14)
            continue
        peaks = " / ".join(f"{c['phase_peak_rss_mib'].get(p, 0):.0f}" for p in PHASES)
        gpeak = ratio = gtrain = speed = ganalogy = "-"
        if g and "error" not in g:
            gpeak, ratio = f"{g['peak_rss_mib']:.0f}", f"{c['peak_rss_mib'] / g['peak_rss_mib']:.2f}x"
            gtrain = f"{g['train_s']:.1f}"
            speed = f"{(g['build_vocab_s'] + g['train_s']) / c['closed_form_s']:.1f}x"
            ganalogy = f"{100 * g['analogy']:.1f}"
        s = c["phase_s"]
        lines.append(
            f"| {c['corpus_words']:,} | {row['lines'] or 'all'} | {c['vocab_size']:,} | {c['pairs_stored']:,} "
            f"| {s['vocab']:.1f} | {s['counting']:.1f} | {s['eigensolve']:.1f} | {s.get('weighted steps', 0):.1f} "
            f"| {c['closed_form_s']:.1f} "
            f"| {peaks} | {c['peak_rss_mib']:.0f} | {gpeak} | {ratio} | {gtrain} | {speed} "
            f"| {100 * c['analogy']:.1f} / {ganalogy} |")
    first = report["slices"][0]["closed-form"] if report["slices"] else {}
    lines += [
        "",
        "Peak MiB per phase: the largest RSS the 10 ms sampler saw in that phase (a phase's own peak); "
        "closed-form / gensim peak: `ru_maxrss` of each subprocess before evaluation (RSS after imports "
        f"≈ {first.get('rss_after_imports_mib') or 0:.0f} MiB in both). ratio = closed-form peak / gensim peak "
        f"(target <= {RSS_TARGET:.0f}x). speed-up e2e = gensim (build_vocab + 3-epoch train) / closed form "
        "(vocab + counting + eigensolve + weighted steps: the default analytic_solution() from the corpus). "
        "Analogy (of the default analytic_solution()): 3CosAdd, restrict_vocab=30000. Raw numbers: the JSON "
        "beside this file.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text corpus, one sentence/paragraph per line (read with LineSentence)")
    parser.add_argument("--sizes", default="2M,4M,8M,17M",
                        help="nested slices, in tokens (whole lines up to the first line reaching each size; "
                             "a size at or past the corpus end means all of it); default 2M,4M,8M,17M")
    parser.add_argument("--configs", default="closed-form,gensim", help="closed-form,gensim (both by default)")
    parser.add_argument("--out", default=None, help="markdown results file; the JSON goes beside it "
                                                    "(default benchmarks/results/memory_DATE_CORPUS.md)")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_max-lines", dest="max_lines", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.WARNING)
    if args._child:
        res = run_closed_form(args) if args._child == "closed-form" else run_gensim(args)
        with open(args._result, "w") as handle:
            json.dump(res, handle, default=_jsonable)
        return 0

    logger.setLevel(logging.INFO)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    machine = machine_info()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    cuts = slice_lines(args.corpus, sizes)
    slices = []
    for size in sizes:
        lines, tokens = cuts[size]
        row = {"size": size, "lines": lines, "tokens": tokens}
        for config in configs:
            logger.info("%s on %s tokens (%s lines)", config, f"{size:,}", lines or "all")
            row[config] = run_child(config, args, lines)
            if "error" in row[config]:
                logger.warning("%s failed: %s", config, row[config]["error"])
            else:
                logger.info("%s: peak %.0f MiB in %.1fs", config, row[config]["peak_rss_mib"],
                            row[config]["process_wall_s"])
        slices.append(row)
    report = {"command": " ".join(["python", os.path.relpath(os.path.abspath(__file__))] + sys.argv[1:]),
              "args": {"corpus": os.path.abspath(args.corpus), "sizes": sizes, "configs": configs},
              "machine": machine, "load_average_end": list(os.getloadavg()), "common_params": COMMON,
              "slices": slices}
    text = markdown(report)
    print(text)
    out = args.out or os.path.join(HERE, "results", f"memory_{machine['date'][:10]}_"
                                   f"{os.path.splitext(os.path.basename(args.corpus))[0]}.md")
    write_report(out, text, report)
    logger.info("wrote %s", out)
    return 0 if all("error" not in r.get(c, {}) for r in slices for c in configs) else 1


if __name__ == "__main__":
    sys.exit(main())
