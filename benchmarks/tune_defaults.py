"""Pick QWEM's default learning rate, init scale and weight cap by experiment on real text.

Usage: python benchmarks/tune_defaults.py CORPUS [--epochs 3] [--out benchmarks/results/tune_defaults_DATE.md]

Trains gensim Word2Vec(sg=1, negative=5) and QWEM variants with vector_size=100, window=5,
min_count=5, sample=1e-3, workers=2 on the same corpus and reports Google analogy accuracy
(restrict_vocab=30000), WordSim-353 and SimLex-999 Spearman, training time, and whether training
diverged. Variants share the vocabulary scan and pair statistics (counted once), except those that
set a parameter of VOCABULARY_PARAMETERS (e.g. sample), which build their own.
"""
import argparse
import copy
import datetime
import json
import logging
import platform
import time

import numpy as np
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

from gensim_qwem import QWEM, TrainingDivergedError

COMMON = dict(vector_size=100, window=5, min_count=5, sample=1e-3, workers=2, negative=5, seed=1)
# a variant that sets one of these gets its own vocabulary scan and pair statistics
VOCABULARY_PARAMETERS = {"sample", "window", "min_count", "max_final_vocab", "shrink_windows"}


def evaluate(kv):
    analogy = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)[0]
    ws = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1].correlation
    sl = kv.evaluate_word_pairs(datapath("simlex999.txt"))[1].correlation
    return analogy, ws, sl


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out")
    parser.add_argument("--variants", help="JSON list of QWEM parameter dicts to try instead of the default grid")
    parser.add_argument("--skip-gensim", action="store_true")
    parser.add_argument("--skip-closed-form", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    corpus = LineSentence(args.corpus)
    rows = []

    if not args.skip_gensim:
        start = time.perf_counter()
        w2v = Word2Vec(corpus, sg=1, epochs=args.epochs, **COMMON)
        rows.append(("gensim Word2Vec", time.perf_counter() - start, "no", *evaluate(w2v.wv)))

    base = QWEM(epochs=args.epochs, **COMMON)
    base.build_vocab(corpus)
    variants = [
        dict(weighting="none", alpha=0.025),
        dict(weighting="none", alpha=0.05),
        dict(weighting="uniform", alpha=0.025, max_weight=10.0),
        dict(weighting="uniform", alpha=0.025, max_weight=100.0),
        dict(weighting="uniform", alpha=0.05, max_weight=10.0),
        dict(weighting="uniform", alpha=0.01, max_weight=100.0),
    ]
    if args.variants:
        variants = json.loads(args.variants)
    for variant in variants:
        if VOCABULARY_PARAMETERS & set(variant):
            # these change the vocabulary's sampling table and the pair statistics: build afresh
            model = QWEM(epochs=args.epochs, **dict(COMMON, **variant))
            model.build_vocab(corpus)
        else:
            model = copy.deepcopy(base)
            for name, value in variant.items():
                setattr(model, name, value)
            model.init_weights()
        start = time.perf_counter()
        try:
            model.train(corpus, total_examples=model.corpus_count, epochs=args.epochs)
            diverged = "no"
        except TrainingDivergedError as error:
            diverged = str(error).split(":")[0]
        label = ", ".join(f"{k}={v}" for k, v in variant.items())
        rows.append((f"QWEM {label}", time.perf_counter() - start, diverged, *evaluate(model.wv)))
    if not args.skip_closed_form:
        start = time.perf_counter()
        closed = base.analytic_solution()
        rows.append(("QWEM closed form (eigensolve only)", time.perf_counter() - start, "no", *evaluate(closed)))

    lines = [f"# QWEM defaults experiment, {datetime.date.today()}",
             "", f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, 2 cores",
             f"corpus: {args.corpus} ({base.corpus_total_words} words, vocabulary {len(base.wv)}), "
             f"epochs={args.epochs}, {COMMON}", "",
             "| model | train s | diverged | analogy (restrict 30k) | WS353 | SimLex |", "|---|---|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]:.1f} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
