#!/usr/bin/env python
"""Benchmark QWEM against gensim's skip-gram Word2Vec on one corpus, in one run.

Each configuration runs in its own subprocess so that its peak memory (``ru_maxrss``) is its own:

``gensim``        ``Word2Vec(sg=1, negative=5)``: build_vocab, then ``epochs`` epochs of training.
``qwem-uniform``  ``QWEM(weighting="uniform", trainer="sgd")``, per-pair streaming: build_vocab (vocabulary scan, then the pair counting its
                  weights need, timed with it), training.
``qwem-none``     ``QWEM(weighting="none")``: build_vocab (vocabulary scan only: the statistics are never
                  needed), training with unweighted updates.
``closed-form``   ``QWEM``: build_vocab (vocabulary scan), a timed ``count_statistics``, ``analytic_solution()``.

All share ``vector_size=100, window=5, min_count=5, workers=2, seed=1`` and ``epochs``; everything else
is each library's default and is recorded in the results. Throughput is measured as gensim logs it:
effective (trained) words summed over epochs / ``model.total_train_time``.

Usage::

    python benchmarks/bench_vs_gensim.py CORPUS --max-lines 20000

See benchmarks/README.md for how to read the results.
"""
import argparse
import ast
import datetime
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CONFIGS = ("gensim", "qwem-uniform", "qwem-none", "closed-form")
SHARED_DATA = "/work/shared/data"
# parameters the comparison fixes; everything else is each model's default (recorded in the results)
COMMON = dict(vector_size=100, window=5, min_count=5, workers=2, negative=5, seed=1)
TARGETS = {"qwem-uniform": 1.0, "qwem-none": 1.3, "closed-form": 5.0}
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "BLIS_NUM_THREADS", "PYTHONHASHSEED")

logger = logging.getLogger("bench_vs_gensim")


# ---------------------------------------------------------------------------------------------- helpers
def peak_rss_mib():
    """Peak resident set size of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds():
    """User + system CPU time of this process (all threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mib():
    """Current resident set size of this process, MiB (from /proc/self/status; None elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def eval_data_path(name, override):
    """An evaluation file: the command-line override, else /work/shared/data, else gensim's test data."""
    if override:
        return override
    shared = os.path.join(SHARED_DATA, name)
    if os.path.isfile(shared):
        return shared
    from gensim.test.utils import datapath
    return datapath(name)


def eval_paths(questions=None, wordsim=None, simlex=None):
    """The files :func:`evaluate` reads (:func:`eval_data_path` of each, with its command-line override)."""
    return {"questions": eval_data_path("questions-words.txt", questions),
            "wordsim353": eval_data_path("wordsim353.tsv", wordsim),
            "simlex999": eval_data_path("simlex999.txt", simlex)}


# ---------------------------------------------------------------------------------------------- child
def evaluate(wv, paths):
    """Google analogies (3CosAdd, restrict_vocab=30000) and WordSim-353 / SimLex-999 Spearman."""
    out = {}
    score, sections = wv.evaluate_word_analogies(paths["questions"], restrict_vocab=30000)
    total = sections[-1]
    semantic = [s for s in sections[:-1] if not s["section"].startswith("gram")]
    syntactic = [s for s in sections[:-1] if s["section"].startswith("gram")]

    def accuracy(parts):
        correct = sum(len(s["correct"]) for s in parts)
        seen = correct + sum(len(s["incorrect"]) for s in parts)
        return correct / seen if seen else None

    out["analogy"] = float(score)
    out["analogy_semantic"] = accuracy(semantic)
    out["analogy_syntactic"] = accuracy(syntactic)
    out["analogy_questions"] = len(total["correct"]) + len(total["incorrect"])
    for name in ("wordsim353", "simlex999"):
        pearson, spearman, oov = wv.evaluate_word_pairs(paths[name])
        out[name] = float(spearman[0])
        out[name + "_pearson"] = float(pearson[0])
        out[name + "_oov_percent"] = float(oov)
    return out


def run_config(config, args):
    """Run one configuration in this process; returns a dict of measurements."""
    # import everything in every configuration so that the baseline memory is the same for all
    import numpy as np
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    from gensim_qwem import QWEM

    paths = eval_paths(args.questions, args.wordsim, args.simlex)
    res = {"config": config, "load_average_start": list(os.getloadavg()),
           "rss_after_imports_mib": current_rss_mib(), "peak_rss_after_imports_mib": peak_rss_mib()}
    corpus = LineSentence(args.corpus, limit=args.max_lines)
    params = dict(COMMON, epochs=args.epochs)
    params.update(overrides_for(config, args.set))
    if config == "gensim":
        model = Word2Vec(sg=1, **params)
    else:
        # qwem-uniform measures per-pair streaming (trainer='sgd'); the full-batch trainer, weighting='uniform''s
        # default, is measured by bench_full_batch.py (its steps are not epochs over the corpus)
        weighting, trainer = ("none", "sgd") if config == "qwem-none" else ("uniform", "sgd")
        model = QWEM(weighting=weighting, trainer=trainer, **params)
    res["params"] = {name: _jsonable(getattr(model, name, None)) for name in (
        "vector_size", "window", "min_count", "workers", "negative", "sg", "hs", "epochs", "alpha", "min_alpha",
        "sample", "ns_exponent", "seed", "shrink_windows", "batch_words", "weighting", "init_scale",
        "max_weight", "trainer")}
    res["params"]["vector_size"] = model.vector_size

    # build_vocab: vocabulary scan; for qwem-uniform also the pair counting its weights need (QWEM counts
    # the statistics when first needed, which would otherwise happen at the start of train())
    start = time.perf_counter()
    model.build_vocab(corpus)
    if config == "qwem-uniform":
        model.statistics  # noqa: B018
    res["build_vocab_s"] = time.perf_counter() - start
    res["peak_rss_after_build_vocab_mib"] = peak_rss_mib()
    res["corpus_sentences"] = int(model.corpus_count)
    res["corpus_words"] = int(model.corpus_total_words)
    res["vocab_size"] = len(model.wv)

    if config == "closed-form":
        # count alone, timed separately from the vocabulary scan (build_vocab leaves it for first need)
        start, cpu_start = time.perf_counter(), cpu_seconds()
        stats = model.count_statistics(corpus)
        res["count_s"] = time.perf_counter() - start
        res["count_cpu_s"] = cpu_seconds() - cpu_start
        res["scan_s"] = res["build_vocab_s"]
        res["pairs_nnz"] = int(stats.nnz)  # of the full A; stats.cooccurrence would build it (3x the memory)
        res["peak_rss_after_count_mib"] = peak_rss_mib()
        start, cpu_start = time.perf_counter(), cpu_seconds()
        wv = model.analytic_solution()
        res["solve_s"] = time.perf_counter() - start
        res["solve_cpu_s"] = cpu_seconds() - cpu_start
        res["closed_form_s"] = res["count_s"] + res["solve_s"]
        eigenvalues = np.asarray(model.eigenvalues_, dtype=float)
        res["eigenvalues_top5"] = [float(v) for v in eigenvalues[:5]]
        res["eigenvalue_min"] = float(eigenvalues.min())
        res["positive_modes"] = int((eigenvalues > 0).sum())
    else:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        trained, raw = model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs)
        res["train_wall_s"] = time.perf_counter() - start
        res["train_cpu_s"] = cpu_seconds() - cpu_start
        res["train_s"] = float(model.total_train_time)
        res["effective_words"] = int(trained)
        res["raw_words"] = int(raw)
        res["words_per_s"] = trained / model.total_train_time
        res["words_per_cpu_s"] = trained / res["train_cpu_s"]
        wv = model.wv
        if not np.all(np.isfinite(wv.vectors)):
            raise FloatingPointError(f"{config}: the trained vectors are not finite")
    res["peak_rss_mib"] = peak_rss_mib()  # the figure reported: peak before evaluation

    start = time.perf_counter()
    res.update(evaluate(wv, paths))
    res["eval_s"] = time.perf_counter() - start
    res["peak_rss_with_eval_mib"] = peak_rss_mib()
    res["threadpools"] = _threadpools()
    res["load_average_end"] = list(os.getloadavg())
    return res


def parse_overrides(items):
    """['qwem.alpha=0.01', ...] -> [(scope, name, value)]; scope is a config, 'qwem' or 'all'."""
    parsed = []
    for item in items or ():
        match = re.fullmatch(r"([\w-]+)\.(\w+)=(.*)", item)
        if not match or match.group(1) not in CONFIGS + ("qwem", "all"):
            raise ValueError(f"--set takes SCOPE.NAME=VALUE with SCOPE one of {CONFIGS + ('qwem', 'all')}; "
                             f"got {item!r}")
        try:
            value = ast.literal_eval(match.group(3))
        except (ValueError, SyntaxError):
            value = match.group(3)
        parsed.append((match.group(1), match.group(2), value))
    return parsed


def overrides_for(config, items):
    """Constructor overrides that apply to `config`, later ones winning."""
    return {name: value for scope, name, value in parse_overrides(items)
            if scope in (config, "all") or (scope == "qwem" and config != "gensim")}


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return value.item()
    except AttributeError:
        return repr(value)


def write_report(out_md, text, report, default=_jsonable):
    """Write the markdown `text` to `out_md` and the raw `report` as JSON beside it; returns the JSON path."""
    os.makedirs(os.path.dirname(os.path.abspath(out_md)), exist_ok=True)
    with open(out_md, "w") as handle:
        handle.write(text)
    out_json = os.path.splitext(out_md)[0] + ".json"
    with open(out_json, "w") as handle:
        json.dump(report, handle, indent=1, default=default)
    return out_json


def _threadpools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return threadpool_info()


# ---------------------------------------------------------------------------------------------- machine info
def machine_info():
    import gensim
    import numpy
    import scipy
    import gensim_qwem
    from gensim.models.word2vec_inner import FAST_VERSION

    cpu = None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        with open("/proc/meminfo") as meminfo:
            mem_total = int(meminfo.readline().split()[1]) / 1024.0 ** 2
    except (OSError, ValueError, IndexError):
        mem_total = None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu,
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem_total,
        "load_average_start": list(os.getloadavg()),
        "gensim": gensim.__version__,
        "gensim_fast_version": FAST_VERSION,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "gensim_qwem": gensim_qwem.__version__,
        "gensim_qwem_git": _git_state(),
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        "threadpools": _threadpools(),
    }


def _git_state():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gensim_qwem", "setup.py"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", (text or "unknown").lower()).strip("-")


def default_out(args, machine):
    cpu = re.sub(r"-(processor|cpu)$", "", _slug(machine["cpu_model"]))
    stem = os.path.splitext(os.path.basename(args.corpus))[0]
    size = f"_{args.max_lines}lines" if args.max_lines else ""
    name = f"{machine['date'][:10]}_{cpu}-{machine['nproc']}cpu_{_slug(stem)}{size}_e{args.epochs}.md"
    return os.path.join(HERE, "results", name)


# ---------------------------------------------------------------------------------------------- parent
def run_child(config, args):
    """Run one configuration in a fresh interpreter; returns its measurements or {'error': ...}."""
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), args.corpus, "--epochs", str(args.epochs),
               "--_child", config, "--_result", result_path]
        for flag, value in (("--max-lines", args.max_lines), ("--questions", args.questions),
                            ("--wordsim", args.wordsim), ("--simlex", args.simlex)):
            if value:
                cmd += [flag, str(value)]
        for item in args.set or ():
            cmd += ["--set", item]
        if args.verbose:
            cmd.append("--verbose")
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"config": config, "error": f"timed out after {args.timeout}s"}
        if args.verbose and proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0 or not os.path.isfile(result_path):
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            return {"config": config, "error": f"exit status {proc.returncode}: {tail}"}
        with open(result_path) as fh:
            res = json.load(fh)
        res["process_wall_s"] = time.perf_counter() - start
        return res


def aggregate(runs):
    """Median of every numeric field over the repeats of one configuration (all runs kept in the JSON)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"config": runs[0]["config"], "error": runs[-1]["error"]}
    out = dict(ok[0])
    for key, value in ok[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
            out[key] = statistics.median_low(values) if isinstance(value, int) else statistics.median(values)
    out["repeats_ok"] = len(ok)
    out["repeats_failed"] = len(runs) - len(ok)
    return out


def derive(results):
    """Ratios against gensim measured in this run, and the issue's targets."""
    g = results.get("gensim")
    derived = {}
    if not g or "error" in g:
        return derived
    for config in ("qwem-uniform", "qwem-none"):
        r = results.get(config)
        if r and "error" not in r:
            ratio = r["words_per_s"] / g["words_per_s"]
            derived[config] = {"throughput_ratio": ratio, "target": TARGETS[config],
                               "meets_target": ratio >= TARGETS[config],
                               "cpu_throughput_ratio": r["words_per_cpu_s"] / g["words_per_cpu_s"]}
    r = results.get("closed-form")
    if r and "error" not in r:
        speedup = g["train_s"] / r["closed_form_s"]
        derived["closed-form"] = {
            "speedup_vs_gensim_train": speedup,
            "speedup_end_to_end": (g["build_vocab_s"] + g["train_s"]) / (r["scan_s"] + r["closed_form_s"]),
            "target": TARGETS["closed-form"],
            "analogy_delta": r["analogy"] - g["analogy"],
            "meets_target": speedup >= TARGETS["closed-form"] and r["analogy"] >= g["analogy"],
        }
    return derived


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.1f}"


def markdown(report):
    m, a, results, derived = report["machine"], report["args"], report["results"], report["derived"]
    g = results.get("gensim", {})
    first = next((r for r in results.values() if "error" not in r), {})
    lines = [
        f"# QWEM vs gensim Word2Vec: {os.path.basename(a['corpus'])}"
        + (f", first {a['max_lines']} lines" if a["max_lines"] else ""),
        "",
        f"- date: {m['date']}; machine: {m['cpu_model']}, {m['nproc']} usable CPUs, "
        f"{_fmt(m['mem_total_gib'], '.1f')} GiB; {m['platform']}",
        f"- python {m['python']}, gensim {m['gensim']} (FAST_VERSION {m['gensim_fast_version']}), "
        f"numpy {m['numpy']}, scipy {m['scipy']}, gensim_qwem {m['gensim_qwem']} ({m['gensim_qwem_git']})",
        "- env: " + ", ".join(f"{k}={v}" for k, v in m["env"].items() if v is not None),
        "- BLAS: " + "; ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('num_threads')} threads"
                               f" ({p.get('threading_layer')}, {p.get('architecture')})"
                               for p in (m["threadpools"] if isinstance(m["threadpools"], list) else [])),
        f"- load average at start: {', '.join(f'{x:.2f}' for x in m['load_average_start'])}; "
        f"at end: {', '.join(f'{x:.2f}' for x in report['load_average_end'])}",
        f"- corpus: {first.get('corpus_sentences', '?')} sentences, {first.get('corpus_words', '?')} words, "
        f"vocabulary {first.get('vocab_size', '?')} (min_count=5); epochs={a['epochs']}; "
        f"repeats={a['repeat']} (medians shown)"
        + (f"; overrides: {', '.join(a['set'])}" if a["set"] else ""),
        f"- command: `{report['command']}`",
        "",
        "| config | build_vocab s | train s | effective words/s | vs gensim | words/CPU-s | analogy % (n) "
        "| sem % | syn % | WS353 ρ | SimLex ρ | peak RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for config in report["configs"]:
        r = results[config]
        if "error" in r:
            lines.append(f"| {config} | failed: {r['error'].splitlines()[-1][:160]} |" + " |" * 10)
            continue
        if config == "closed-form":
            train = f"{r['closed_form_s']:.1f} (count {r['count_s']:.1f} + solve {r['solve_s']:.1f})"
            wps, ratio, cpu = "-", "-", "-"
        else:
            train = f"{r['train_s']:.1f}"
            wps = f"{r['words_per_s']:,.0f}"
            cpu = f"{r['words_per_cpu_s']:,.0f}"
            ratio = "1.00x" if config == "gensim" else (
                f"{derived[config]['throughput_ratio']:.2f}x" if config in derived else "-")
        lines.append(
            f"| {config} | {r['build_vocab_s']:.1f} | {train} | {wps} | {ratio} | {cpu} "
            f"| {100 * r['analogy']:.1f} ({r['analogy_questions']}) | {_percent(r['analogy_semantic'])} "
            f"| {_percent(r['analogy_syntactic'])} "
            f"| {r['wordsim353']:.3f} | {r['simlex999']:.3f} | {r['peak_rss_mib']:.0f} |")
    lines += ["", "Targets (issue 2), ratios against gensim measured in this run:", ""]
    if not derived:
        lines.append("- no successful gensim run in this invocation, so no ratios")
    for config in ("qwem-uniform", "qwem-none"):
        if config in derived:
            d = derived[config]
            lines.append(f"- {config} throughput {d['throughput_ratio']:.2f}x gensim "
                         f"(target >= {d['target']:.1f}x): {'met' if d['meets_target'] else 'NOT met'} "
                         f"(per CPU-second: {d['cpu_throughput_ratio']:.2f}x)")
    if "closed-form" in derived:
        d, r = derived["closed-form"], results["closed-form"]
        lines.append(
            f"- closed form (count {r['count_s']:.1f}s + eigensolve {r['solve_s']:.1f}s = {r['closed_form_s']:.1f}s) "
            f"is {d['speedup_vs_gensim_train']:.1f}x faster than gensim's {a['epochs']}-epoch training "
            f"({g['train_s']:.1f}s), analogy {100 * d['analogy_delta']:+.1f} points vs gensim "
            f"(target >= {d['target']:.0f}x at equal or better analogy accuracy): "
            f"{'met' if d['meets_target'] else 'NOT met'}")
        lines.append(
            f"- end to end incl. vocabulary scan: QWEM build_vocab + counting + analytic_solution "
            f"{r['scan_s'] + r['closed_form_s']:.1f}s vs gensim build_vocab + train "
            f"{g['build_vocab_s'] + g['train_s']:.1f}s: {d['speedup_end_to_end']:.1f}x "
            f"(closed form's vocabulary scan {r['scan_s']:.1f}s; {r['pairs_nnz']:,} stored pair entries, "
            f"{r['positive_modes']} of {r['params']['vector_size']} eigenvalues positive)")
    lines += [
        "",
        "Notes: throughput = effective (trained, after subsampling) words summed over epochs / "
        "`model.total_train_time`, as gensim logs it. QWEM's build_vocab s includes pair counting for "
        "qwem-uniform only (qwem-none never counts them; the closed form's count is shown apart). "
        "Peak RSS = `getrusage(RUSAGE_SELF).ru_maxrss` of the configuration's own subprocess, read after "
        "training / analytic_solution and before evaluation; every subprocess imports the same modules "
        f"(RSS after imports ≈ {_fmt(first.get('rss_after_imports_mib'), '.0f')} MiB). "
        "Raw numbers: the JSON beside this file.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text corpus, one sentence/paragraph per line (read with LineSentence)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs for the trained configs (3)")
    parser.add_argument("--max-lines", type=int, default=None, help="use only the first N lines of the corpus")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated subset of {','.join(CONFIGS)} (all by default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every config this many times, interleaved; report medians (1)")
    parser.add_argument("--out", default=None,
                        help="markdown results file; the JSON goes beside it (default: "
                             "benchmarks/results/DATE_CPU-NCPU_CORPUS[_Nlines]_eE.md)")
    parser.add_argument("--questions", default=None, help="analogy questions file (questions-words.txt)")
    parser.add_argument("--wordsim", default=None, help="WordSim-353 file (wordsim353.tsv)")
    parser.add_argument("--simlex", default=None, help="SimLex-999 file (simlex999.txt)")
    parser.add_argument("--set", action="append", metavar="SCOPE.NAME=VALUE",
                        help="override a constructor parameter, e.g. --set qwem-uniform.alpha=0.005; SCOPE is a "
                             "config name, 'qwem' (all QWEM configs) or 'all'; repeatable; recorded in the results")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per configuration run")
    parser.add_argument("--verbose", action="store_true", help="INFO logging, including the libraries' own")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        level=logging.INFO if args.verbose else logging.WARNING)
    if args._child:
        res = run_config(args._child, args)
        with open(args._result, "w") as fh:
            json.dump(res, fh)
        return 0

    logger.setLevel(logging.INFO)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {','.join(CONFIGS)}")
    if not os.path.isfile(args.corpus):
        parser.error(f"corpus {args.corpus!r} is not a file")
    if args.epochs < 1 or args.repeat < 1:
        parser.error("--epochs and --repeat must be >= 1")
    try:
        parse_overrides(args.set)
    except ValueError as error:
        parser.error(str(error))

    machine = machine_info()
    out_md = args.out or default_out(args, machine)
    runs = {config: [] for config in configs}
    for round_ in range(args.repeat):
        for config in configs:
            logger.info("running %s (round %i of %i)", config, round_ + 1, args.repeat)
            res = run_child(config, args)
            if "error" in res:
                logger.warning("%s failed: %s", config, res["error"])
            else:
                logger.info("%s done in %.1fs", config, res["process_wall_s"])
            runs[config].append(res)
    results = {config: aggregate(runs[config]) for config in configs}
    report = {
        "command": " ".join(["python", os.path.relpath(os.path.abspath(__file__))] + sys.argv[1:]),
        "args": {"corpus": os.path.abspath(args.corpus), "max_lines": args.max_lines, "epochs": args.epochs,
                 "configs": configs, "repeat": args.repeat, "set": args.set or []},
        "configs": configs,
        "machine": machine,
        "load_average_end": list(os.getloadavg()),
        "common_params": dict(COMMON, epochs=args.epochs),
        "results": results,
        "derived": derive(results),
        "runs": runs,
    }
    text = markdown(report)
    print(text)
    out_json = write_report(out_md, text, report)
    logger.info("wrote %s and %s", out_md, out_json)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
