"""Smoke test of benchmarks/reproduce_paper.py end to end on gensim's small Lee corpus."""
import json
import os
import sys

import pytest
from gensim.test.utils import datapath

pytest.importorskip("matplotlib")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import reproduce_paper  # noqa: E402


@pytest.mark.slow
def test_reproduce_paper_writes_report_and_figures(tmp_path):
    out = tmp_path / "report.md"
    reproduce_paper.main([
        datapath("lee_background.cor"), "--vocab", "300", "--dim", "8", "--window", "4", "--epochs", "1",
        "--qwem-epochs", "2", "--anneal-epochs", "1", "--records-per-epoch", "2", "--qwem-alpha", "0.002",
        "--init-scale", "0.001", "--modes", "3", "--workers", "1", "--out", str(out), "--work", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["results"]) == {"word2vec", "QWEM trained", "QWEM closed form", "SVD(PPMI)", "SVD(PMI)",
                                      reproduce_paper.CONSTANT_PHASE, reproduce_paper.DEFAULT_CLOSED_FORM}
    trace = report["qwem_training"]
    assert trace["diverged"] is None
    assert len(trace["times"]) == 1 + 2 * (2 + 1)             # start + 2 slices per epoch, 3 epochs
    assert trace["times"] == sorted(trace["times"]) and trace["times"][-1] == pytest.approx(trace["t_end"])
    assert len(trace["mode_singular_values"][0]) == 8
    for name in ("mode_singular_values", "singular_values", "loss", "spectrum", "eigen_features"):
        path = report["figures"][name]
        assert os.path.dirname(path) == str(tmp_path / "figures") and os.path.getsize(path) > 1000
    text = out.read_text()
    assert "| QWEM closed form |" in text and "68.0" in text   # our row beside the paper's figure
    assert f"| {reproduce_paper.DEFAULT_CLOSED_FORM} |" in text     # and the library's default weights
    assert any(name.endswith("shuffled_seed1.txt") for name in os.listdir(tmp_path))
