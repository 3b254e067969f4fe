"""benchmarks/bench_scaling.py: slicing, variant parsing, and one tiny end-to-end run on gensim's Lee corpus."""
import json
import os
import sys

import pytest
from gensim.test.utils import datapath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench_scaling  # noqa: E402


def test_sizes_and_variants_parse():
    assert bench_scaling.parse_size("2M") == 2_000_000
    assert bench_scaling.parse_size("500k") == 500_000
    assert bench_scaling.parse_size("1234") == 1234
    with pytest.raises(ValueError):
        bench_scaling.parse_size("0")
    assert bench_scaling.parse_variant("default") == {}
    assert bench_scaling.parse_variant("uniform@0.25") == dict(weighting="uniform", word_weights="uniform",
                                                                eig_power=0.25)
    assert bench_scaling.parse_variant("pair-rate:0.5") == dict(weighting="uniform", word_weights="pair-rate",
                                                                 eig_power=0.5, weight_power=0.5)
    assert bench_scaling.parse_variant("none") == dict(weighting="none")
    assert bench_scaling.parse_variant("none:20") == dict(weighting="none", solve_steps=20)


def test_slices_are_nested_prefixes_cut_at_line_ends(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("a b c\nd e\nf g h i\nj\n")
    cuts = bench_scaling.slice_lines(str(path), [1, 3, 4, 6, 100])
    assert cuts == {1: (1, 3), 3: (1, 3), 4: (2, 5), 6: (3, 9), 100: (4, 10)}


@pytest.mark.slow
def test_bench_scaling_end_to_end_on_the_lee_corpus(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "scaling.md"
    status = bench_scaling.main([datapath("lee_background.cor"), "--sizes", "20k,40k", "--configs", "closed-form",
                                 "--variants", "default,uniform@0.5,uniform@0.25", "--out", str(out)])
    assert status == 0
    report = json.loads((tmp_path / "scaling.json").read_text())
    slices = list(report["slices"].values())
    assert [s["tokens"] >= size for s, size in zip(slices, (20_000, 40_000))] == [True, True]
    variants = slices[1]["closed-form"]["variants"]
    assert set(variants) == {"default", "uniform@0.5", "uniform@0.25"}
    # uniform@0.25 reuses uniform@0.5's eigensolve and is charged its time
    assert variants["uniform@0.25"]["solve_s"] == variants["uniform@0.5"]["solve_s"]
    assert os.path.getsize(report["figure"]) > 1000
    assert "| closed form default |" in out.read_text()
