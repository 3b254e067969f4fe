"""Time the closed form's eigensolve: block Lanczos against ARPACK on the same M*, for several k.

Usage: python benchmarks/bench_eigensolver.py CORPUS [--k 100,200] [--methods block,arpack] [--max-lines N]
       [--out benchmarks/results/eigensolver_DATE.md]

Builds QWEM's vocabulary and pair statistics with its defaults (vector_size is irrelevant here;
window=5, min_count=5, workers=2), builds M* once, then runs ``top_eigenpairs(M*, k, method=...)`` for
each k and method, and checks every returned pair by an independent product: the largest
``||M* u - lambda u|| / |lambda|`` (the solvers promise <= tol = 1e-3) and how far the eigenvalues of
the two methods are apart.
"""
import argparse
import datetime
import itertools
import platform
import time

import numpy as np
from gensim.models.word2vec import LineSentence

from gensim_qwem import QWEM
from gensim_qwem.closed_form import top_eigenpairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--k", default="100,200")
    parser.add_argument("--methods", default="block,arpack")
    parser.add_argument("--max-lines", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    corpus = LineSentence(args.corpus, limit=args.max_lines)
    model = QWEM(window=5, min_count=5, workers=2, seed=1)
    start = time.perf_counter()
    model.build_vocab(corpus)
    operator = model.target_operator()   # counts the statistics on first use
    setup = time.perf_counter() - start
    rows = []
    for k, method in itertools.product([int(k) for k in args.k.split(",")], args.methods.split(",")):
        start = time.perf_counter()
        values, vectors = top_eigenpairs(operator, k, method=method)
        seconds = time.perf_counter() - start
        residual = np.linalg.norm(operator.matmat(vectors) - vectors * values, axis=0) / np.abs(values)
        rows.append(dict(k=k, method=method, seconds=seconds, residual=residual.max(), values=values))
        print(f"k={k} {method}: {seconds:.1f} s, max relative residual {residual.max():.1e}", flush=True)
    lines = [f"# Eigensolve of M*: block Lanczos vs ARPACK, {datetime.date.today()}", "",
             f"- machine: {platform.platform()}, {platform.machine()}",
             f"- corpus: {args.corpus} ({model.corpus_total_words} words, vocabulary {len(model.wv)}), "
             f"{operator.upper_part.nnz} stored entries of S's upper triangle; "
             f"vocabulary + statistics + operator {setup:.1f} s",
             f"- command: `python benchmarks/bench_eigensolver.py {args.corpus} --k {args.k} "
             f"--methods {args.methods}" + (f" --max-lines {args.max_lines}" if args.max_lines else "") + "`",
             "", "| k | method | seconds | max residual / abs(lambda) | lambda_k | max rel. eigenvalue gap to the first method |",
             "|--:|---|--:|--:|--:|--:|"]
    for row in rows:
        first = next(r for r in rows if r["k"] == row["k"])
        gap = np.max(np.abs(row["values"] - first["values"]) / np.abs(first["values"]))
        lines.append(f"| {row['k']} | {row['method']} | {row['seconds']:.1f} | {row['residual']:.1e} | "
                     f"{row['values'][-1]:.2f} | {gap:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
