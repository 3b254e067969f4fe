#!/usr/bin/env python
"""The closed form under other negative-sampling settings in M*: ``negative`` (k), ``ns_exponent``, and the
saturation c of ``M*_c = 2c tanh(log(A / B) / (2c))``.

M* = 2 (A - B) / (A + B) with ``B_ij = k (a_i Q_j + a_j Q_i) / 2`` and ``Q ∝ count ** ns_exponent``
(docs/theory.rst, "The target matrix M*"): k and ns_exponent change B only (c the squashing of log(A / B)),
so one count of A serves every variant. For each slice
(the first N lines of the corpus, or all of it) this counts the statistics once with QWEM's defaults
(``vector_size=100, window=5, min_count=5``, sample 1e-4 unless ``--sample``), then for each variant
scores ``analytic_solution(negative=..., ns_exponent=..., word_weights=..., saturation=...)``
as bench_vs_gensim.py scores (Google analogies restrict_vocab=30000 with the semantic and syntactic
sections, WS-353, SimLex-999).

A variant is ``K:NS[:WEIGHTS[:C]]``, e.g. ``5:0.75`` (QWEM's defaults), ``3:0.5``, ``3:0.5:pair-rate``,
``5:0.75:uniform:2``, scored as ``analytic_solution(negative=K, ns_exponent=NS, word_weights=WEIGHTS,
saturation=C)``: a k other than the model's is the closed form of a model trained with that k, from the same
count.

Usage::

    python benchmarks/bench_target_knobs.py CORPUS --lines 27807,all --variants 5:0.75,3:0.5
"""
import argparse
import json
import logging
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_vs_gensim import eval_paths, evaluate, machine_info, write_report  # noqa: E402


def parse_variant(text):
    """'3:0.5:pair-rate:2' -> (3.0, 0.5, 'pair-rate', 2.0); the weights default to 'uniform', c to 1."""
    parts = text.split(":")
    if len(parts) not in (2, 3, 4):
        raise ValueError(f"a variant is K:NS[:WEIGHTS[:C]], got {text!r}")
    return (float(parts[0]), float(parts[1]), parts[2] if len(parts) >= 3 else "uniform",
            float(parts[3]) if len(parts) == 4 else 1.0)


def run_slice(corpus_path, lines, variants, sample, paths):
    from gensim.models.word2vec import LineSentence
    from gensim_qwem import QWEM

    corpus = LineSentence(corpus_path, limit=lines)
    model = QWEM(vector_size=100, window=5, min_count=5, workers=2, negative=5, seed=1, sample=sample)
    model.build_vocab(corpus)
    model.count_statistics(corpus)
    rows = []
    for negative, ns_exponent, weights, saturation in variants:
        start = time.perf_counter()
        kv = model.analytic_solution(weighting="uniform", word_weights=weights, negative=negative,
                                     ns_exponent=ns_exponent, saturation=saturation)
        rows.append(dict(negative=negative, ns_exponent=ns_exponent, word_weights=weights, saturation=saturation,
                         solve_s=time.perf_counter() - start, **evaluate(kv, paths)))
        logging.info("%s", json.dumps(rows[-1]))
    return dict(lines=lines, tokens=int(model.corpus_total_words), vocab_size=len(model.wv), rows=rows)


def markdown(report):
    m = report["machine"]
    out = [f"# Closed form against k, ns_exponent and saturation in M*: {os.path.basename(report['corpus'])}", "",
           f"- date {m['date']}; {m['cpu_model']}, {m['nproc']} usable CPUs; gensim_qwem {m['gensim_qwem_git']}",
           f"- command: `{report['command']}`",
           f"- QWEM(vector_size=100, window=5, min_count=5, sample={report['sample']:g}, seed=1); "
           "Google analogies restrict_vocab=30000 (sem / syn sections), Spearman for WS-353 and SimLex-999", ""]
    for result in report["slices"]:
        size = f"{result['tokens']:,} tokens ({result['lines'] or 'all'} lines)"
        out += [f"## {size}, vocabulary {result['vocab_size']:,}",
                "", "| k | ns_exponent | word weights | saturation | analogy % | sem % | syn % | WS353 | SimLex "
                "| solve s |", "|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|"]
        for r in result["rows"]:
            out.append(f"| {r['negative']:g} | {r['ns_exponent']:g} | {r['word_weights']} "
                       f"| {r.get('saturation', 1.0):g} | {100 * r['analogy']:.2f} "
                       f"| {100 * r['analogy_semantic']:.2f} | {100 * r['analogy_syntactic']:.2f} "
                       f"| {r['wordsim353']:.3f} | {r['simlex999']:.3f} | {r['solve_s']:.1f} |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="text corpus, one sentence/paragraph per line")
    parser.add_argument("--lines", default="all", help="comma-separated line counts, 'all' for the whole file")
    parser.add_argument("--variants", default="5:0.75,3:0.5,2:0.5,1:0.5,5:0.5", help="K:NS[:WEIGHTS[:C]],...")
    parser.add_argument("--sample", type=float, default=1e-4)
    parser.add_argument("--out", default=None, help="markdown file (JSON beside it)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO)
    try:
        variants = [parse_variant(v) for v in args.variants.split(",") if v.strip()]
        slices = [None if s.strip() == "all" else int(s) for s in args.lines.split(",") if s.strip()]
    except ValueError as error:
        parser.error(str(error))
    paths = eval_paths()
    machine = machine_info()
    report = dict(command="python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else argv)),
                  corpus=os.path.abspath(args.corpus), sample=args.sample, machine=machine,
                  slices=[run_slice(args.corpus, lines, variants, args.sample, paths) for lines in slices])
    text = markdown(report)
    out = args.out or os.path.join(HERE, "results", f"target_knobs_{machine['date'][:10]}.md")
    write_report(out, text, report)
    print(text)


if __name__ == "__main__":
    main()
