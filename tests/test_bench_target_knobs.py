"""benchmarks/bench_target_knobs.py: variant parsing and one run on gensim's Lee corpus."""
import os
import sys

import numpy as np
import pytest
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench_target_knobs  # noqa: E402
from bench_vs_gensim import eval_paths, evaluate  # noqa: E402
from gensim_qwem import QWEM  # noqa: E402


def test_variants_parse():
    assert bench_target_knobs.parse_variant("5:0.75") == (5.0, 0.75, "uniform", 1.0)
    assert bench_target_knobs.parse_variant("3:0.5:pair-rate") == (3.0, 0.5, "pair-rate", 1.0)
    assert bench_target_knobs.parse_variant("5:0.75:uniform:2") == (5.0, 0.75, "uniform", 2.0)
    for bad in ("3", "1:2:uniform:3:4"):
        with pytest.raises(ValueError, match="K:NS"):
            bench_target_knobs.parse_variant(bad)


@pytest.mark.slow
def test_each_variant_is_the_closed_form_of_a_model_with_that_k_and_ns_exponent():
    corpus = datapath("lee_background.cor")
    paths = eval_paths()
    result = bench_target_knobs.run_slice(corpus, None, [(5, 0.75, "uniform", 1.0), (2, 0.5, "uniform", 1.0),
                                                         (2, 0.5, "uniform", 2.0)], 1e-4, paths)
    assert [row["negative"] for row in result["rows"]] == [5, 2, 2]
    assert [row["saturation"] for row in result["rows"]] == [1.0, 1.0, 2.0]
    assert not np.isclose(result["rows"][1]["wordsim353"], result["rows"][2]["wordsim353"])
    for row in result["rows"][:2]:   # the same scores from a model built with those parameters from the start
        model = QWEM(vector_size=100, window=5, min_count=5, workers=2, seed=1,
                     negative=int(row["negative"]), ns_exponent=row["ns_exponent"])
        model.build_vocab(LineSentence(corpus))
        expected = evaluate(model.analytic_solution(weighting="uniform"), paths)
        assert row["wordsim353"] == pytest.approx(expected["wordsim353"], abs=1e-6)
        assert row["simlex999"] == pytest.approx(expected["simlex999"], abs=1e-6)
    assert not np.isclose(result["rows"][0]["wordsim353"], result["rows"][1]["wordsim353"])
