"""Stepwise learning on a planted-topic corpus: observed singular values of W against s_k(t).

Usage: python benchmarks/dynamics_figure.py [--out benchmarks/results/figures/planted_dynamics.png]

A synthetic corpus whose topics have unequal frequencies has distinct top eigenvalues, so with small
initialisation and a constant learning rate the modes switch on one after the other, each when
``QWEM.predicted_singular_values`` says (the same setting as tests/test_dynamics.py, more epochs).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from gensim_qwem import QWEM
from gensim_qwem.plots import plot_loss_curve, plot_singular_value_trajectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_dynamics import SingularValueRecorder, unequal_topic_corpus  # noqa: E402  (the tests' own)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/figures/planted_dynamics.png")
    parser.add_argument("--loss-out", default="benchmarks/results/figures/planted_loss.png")
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args()
    corpus = unequal_topic_corpus(topic_probs=(0.35, 0.25, 0.2, 0.12, 0.08))
    model = QWEM(vector_size=10, min_count=1, sample=0, workers=1, seed=2, init_scale=1e-4, alpha=5e-5,
                 min_alpha=5e-5, epochs=args.epochs, weighting="uniform", compute_loss=True)
    model.build_vocab(corpus)
    recorder = SingularValueRecorder()
    model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs, callbacks=[recorder],
                compute_loss=True)
    observed = np.array(recorder.history)
    times = model.theory_time(np.arange(len(observed)))
    fine = np.linspace(0, times[-1], 2000)
    figure = plot_singular_value_trajectory(times, observed, model.predicted_singular_values(fine),
                                            predicted_times=fine, modes=5,
                                            title="Planted topics: observed singular values of W vs s_k(t)")
    figure.savefig(args.out, dpi=100)
    # per-epoch QWEM loss (sum over the epoch's pair updates of psi (-/+ x + x^2 / 4)), at epoch midpoints
    middle = model.theory_time(np.arange(len(model.epoch_losses)) + 0.5)
    loss = plot_loss_curve(middle, model.epoch_losses, xlabel="theory time t", ylabel="QWEM loss per epoch",
                           title="Planted topics: loss per epoch; dashed: predicted onsets tau_k")
    for tau in model.mode_onset_times()[:4]:  # the four planted modes
        loss.axes[0].axvline(tau, linestyle="--", color="grey", linewidth=0.8)
    loss.savefig(args.loss_out, dpi=100)
    print("eigenvalues", np.round(model.eigenvalues_[:6], 2))
    print("wrote", args.out, "and", args.loss_out)


if __name__ == "__main__":
    main()
