"""benchmarks/bench_weighted_ceiling.py: one tiny run on gensim's Lee corpus, checked against analytic_solution()."""
import json
import os
import sys

import numpy as np
import pytest
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench_weighted_ceiling  # noqa: E402
from bench_vs_gensim import COMMON  # noqa: E402


@pytest.mark.slow
def test_checkpoints_are_the_library_solutions_and_the_loss_only_falls(tmp_path):
    out = tmp_path / "ceiling.md"
    corpus = datapath("lee_background.cor")
    assert bench_weighted_ceiling.main([corpus, "--sizes", "40k", "--memory", "1", "--steps", "12", "--epochs", "0",
                                        "--out", str(out)]) == 0
    report = json.loads((tmp_path / "ceiling.json").read_text())
    entry = report["slices"]["40k"]
    rows = entry["qwem"]["checkpoints"]
    assert [row["step"] for row in rows] == [0, 10, 12]
    losses = [row["loss"] for row in rows]
    assert losses[0] > losses[1] >= losses[2]          # Armijo steps never raise the loss
    # step 0 is the closed form and step 10 with one pair is the default analytic_solution(), scored the same way
    from gensim_qwem import QWEM
    sentences = LineSentence(corpus, limit=entry["lines"])
    model = QWEM(**COMMON)
    model.build_vocab(sentences)
    model.count_statistics(sentences)
    for step, kwargs in ((0, dict(weighting="uniform")), (10, dict(weighting="none", solve_steps=10))):
        wv = model.analytic_solution(**kwargs)
        row = rows[[r["step"] for r in rows].index(step)]
        pearson, spearman, _ = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
        np.testing.assert_allclose(row["wordsim353"], spearman[0], atol=1e-6)
    text = out.read_text()
    assert "| 40k |" in text and "n/a" in text        # no gensim run: no gap
