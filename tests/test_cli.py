"""The command line (``python -m gensim_qwem`` / ``gensim-qwem``): every command on small data, --help,
and user mistakes reported as one line on stderr with a non-zero exit status, never a traceback."""
import logging
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from gensim_qwem import QWEM
from gensim_qwem.__main__ import _gram_distance, _neighbour_overlap, _note_if_undertrained, main

COMMANDS = ("demo", "train", "evaluate", "neighbours", "features")
# small and fast: 1,762 Lee words would make the closed form of d=100 the slowest step
SMALL = ["--vector-size", "8", "--min-count", "10", "--epochs", "2", "--workers", "1", "--alpha", "0.005"]


@pytest.fixture(autouse=True)
def _restore_root_logging_level():
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def run(argv, capsys):
    """main(argv) in this process -> (exit status, stdout, stderr); SystemExit (argparse) included."""
    try:
        status = main(argv, prog="gensim-qwem")
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "lee.txt"
    shutil.copy(datapath("lee_background.cor"), path)
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_file):
    """A model and its vectors in text and binary word2vec format, trained through the CLI."""
    folder = tmp_path_factory.mktemp("trained")
    paths = dict(model=str(folder / "lee.qwem"), txt=str(folder / "lee.vectors.txt"),
                 bin=str(folder / "lee.vectors.bin"))
    for vectors in ("txt", "bin"):
        status = main(["train", corpus_file, "--output", paths["model"], "--vectors", paths[vectors]] + SMALL)
        assert status == 0
    return paths


# ------------------------------------------------------------------------------------------- help
def test_help_lists_every_command(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    status, out, _ = run([command, "--help"], capsys)
    assert status == 0
    assert out.startswith(f"usage: gensim-qwem {command}")
    assert "--verbose" in out


def test_help_states_the_defaults_each_command_uses(capsys):
    """train's --alpha default depends on --weighting; the demo has its own (DEMO_SETTINGS)."""
    _, out, _ = run(["train", "--help"], capsys)
    assert "(default: 0.0125 for weighting 'none', 0.001 for weighting 'uniform')" in " ".join(out.split())
    _, out, _ = run(["demo", "--help"], capsys)
    assert ("initial learning rate (default: 1 x 1/lambda_1 with --trainer gradient, 0.005 with --trainer sgd)"
            in " ".join(out.split()))


def test_python_dash_m_runs_the_cli_with_its_own_name():
    result = subprocess.run([sys.executable, "-m", "gensim_qwem", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m gensim_qwem")


def test_version(capsys):
    status, out, _ = run(["--version"], capsys)
    assert status == 0 and out.startswith("gensim_qwem ")


def test_no_command_prints_help_and_fails(capsys):
    status, _, err = run([], capsys)
    assert status == 2
    assert "COMMAND" in err


# ------------------------------------------------------------------------------------------- demo
def test_demo_compares_trained_and_closed_form(capsys):
    status, out, err = run(["demo", "--epochs", "3", "--words", "police", "Qantas"], capsys)
    assert status == 0, err
    assert "nearest neighbours" in out and "police" in out and "Qantas" in out
    assert "relative Frobenius distance of Gram matrices" in out
    assert "mean overlap of top-10 neighbour lists" in out
    assert "closed form" in out


@pytest.mark.slow
def test_full_demo_shows_training_close_to_the_closed_form(capsys):
    """The README's first command: with its own settings, training must visibly reach the closed form."""
    status, out, err = run(["demo"], capsys)
    assert status == 0, err
    distance, at_init = map(float, re.search(r"Gram matrices W W\^T +([\d.]+) +([\d.]+)", out).groups())
    overlap, overlap_at_init = map(int, re.search(r"neighbour lists .*? (\d+)% +(\d+)%", out).groups())
    # measured 0.179 / 85% (full-batch trainer, 0.6 s in all); SGD, 150 epochs: 0.28 / 78%; at init 1.00 / 3%
    assert distance < 0.45 and at_init > 0.9
    assert overlap >= 60 and overlap_at_init < 20


def test_demo_unknown_word_is_one_line(capsys):
    status, out, err = run(["demo", "--epochs", "1", "--words", "notaword"], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "not in the vocabulary" in err


# ------------------------------------------------------------------------------------------- train
def test_train_saves_a_loadable_model_and_vectors(trained):
    model = QWEM.load(trained["model"])
    assert model.vector_size == 8 and model.epochs == 2
    for key, binary in (("txt", False), ("bin", True)):
        kv = KeyedVectors.load_word2vec_format(trained[key], binary=binary)
        assert kv.index_to_key == model.wv.index_to_key
        np.testing.assert_allclose(kv.vectors, model.wv.vectors, rtol=1e-5, atol=1e-6)


def test_train_saves_pickle_free_npz(tmp_path, corpus_file, capsys):
    output = str(tmp_path / "lee.npz")
    status, out, err = run(["train", corpus_file, "--output", output] + SMALL, capsys)
    assert status == 0, err
    assert "QWEM.load_npz" in out
    model = QWEM.load_npz(output)
    status, out, err = run(["neighbours", output, "police", "-n", "2"], capsys)
    assert status == 0, err
    assert [line.split()[1] for line in out.splitlines()[1:]] == [w for w, _ in model.wv.most_similar("police", topn=2)]
    status, out, err = run(["features", output, "-k", "2"], capsys)
    assert status == 0, err


def test_train_closed_form_stores_the_analytic_solution(tmp_path, corpus_file, capsys):
    output = str(tmp_path / "closed.qwem")
    status, out, err = run(["train", corpus_file, "--output", output, "--closed-form"] + SMALL, capsys)
    assert status == 0, err
    assert "closed form" in out
    model = QWEM.load(output)
    expected = model.analytic_solution()
    assert _gram_distance(model.wv.vectors, expected.vectors) < 1e-4


def test_train_says_when_training_stopped_too_early(tmp_path, corpus_file, capsys):
    status, out, err = run(["train", corpus_file, "--vectors", str(tmp_path / "v.txt"), "--epochs", "1", "--weighting", "uniform",
                            "--trainer", "sgd", "--alpha", "0.0001", "--min-count", "10", "--vector-size", "8"], capsys)
    assert status == 0, err
    assert "note: training reached time t=" in out and "--closed-form" in out


class _Schedule:
    epochs = 10
    trainer = "sgd"

    def __init__(self, reached, onset):
        self.reached, self.onset = reached, onset

    def theory_time(self):
        return self.reached

    def mode_onset_times(self, k):
        return np.array([self.onset])


@pytest.mark.parametrize("reached, onset, noted", [(0.01, 0.1, True), (0.2, 0.1, False), (0.01, np.inf, False)])
def test_undertraining_note(reached, onset, noted, capsys):
    _note_if_undertrained(_Schedule(reached, onset))
    out = capsys.readouterr().out
    assert ("note:" in out) == noted
    if noted:
        assert "about 100 epochs" in out


def test_train_with_progress_bar(tmp_path, corpus_file, capsys):
    pytest.importorskip("tqdm", reason="the progress bar needs the optional package tqdm")
    status, _, err = run(["train", corpus_file, "--vectors", str(tmp_path / "v.txt"), "--progress"] + SMALL,
                         capsys)
    assert status == 0, err
    assert "2/2" in err and "epoch" in err


def test_verbose_logs_at_info_level(tmp_path, corpus_file, capsys, caplog):
    caplog.set_level(logging.NOTSET)
    status, _, _ = run(["train", corpus_file, "--vectors", str(tmp_path / "v.txt"), "--verbose"] + SMALL, capsys)
    assert status == 0
    assert any(record.levelno == logging.INFO and record.name.startswith("gensim") for record in caplog.records)


# ------------------------------------------------------------------------------------------- evaluate
@pytest.fixture(scope="module")
def evaluation_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluation")
    analogies = folder / "analogies.txt"
    analogies.write_text(": news\npolice officers government minister\nIsrael Israeli Palestinian Palestinians\n"
                         ": more\nSydney Australia Kabul Afghanistan\n")
    pairs = folder / "pairs.tsv"
    pairs.write_text("# word1\tword2\tscore\npolice\tofficers\t8\npolice\tgovernment\t3\n"
                     "Israeli\tPalestinian\t6\nfire\tfirefighters\t9\nSydney\tmatch\t1\n")
    return str(analogies), str(pairs)


@pytest.mark.parametrize("protocol", ["all-pairs", "gensim"])
def test_evaluate_given_files(trained, evaluation_files, protocol, capsys):
    analogies, pairs = evaluation_files
    status, out, err = run(["evaluate", trained["model"], "--analogies", analogies, "--pairs", pairs,
                            "--protocol", protocol, "--sections"], capsys)
    assert status == 0, err
    assert re.search(r"analogies  analogies.txt: \d+\.\d% top-1 accuracy", out)
    assert re.search(r"pairs      pairs.tsv: Spearman -?\d\.\d{3}", out)
    assert "news" in out


def test_evaluate_defaults_to_the_files_shipped_with_gensim(trained, capsys):
    status, out, err = run(["evaluate", trained["txt"], "--restrict-vocab", "300"], capsys)
    assert status == 0, err
    for name in ("questions-words.txt", "wordsim353.tsv", "simlex999.txt"):
        assert name in out


def test_evaluate_closed_form(trained, evaluation_files, capsys):
    status, out, err = run(["evaluate", trained["model"], "--closed-form", "--pairs", evaluation_files[1]],
                           capsys)
    assert status == 0, err
    assert out.startswith("closed form of")


# ------------------------------------------------------------------------------------------- neighbours
@pytest.mark.parametrize("source", ["model", "txt", "bin"])
def test_neighbours(trained, source, capsys):
    status, out, err = run(["neighbours", trained[source], "police", "fire", "--topn", "4"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "police" and lines[5] == "fire" and len(lines) == 10
    assert all(re.fullmatch(r" +-?\d\.\d{4}  \S+", line) for line in lines[1:5])


def test_neighbours_of_the_closed_form(trained, capsys):
    status, out, err = run(["neighbours", trained["model"], "police", "--closed-form", "-n", "3"], capsys)
    assert status == 0, err
    model = QWEM.load(trained["model"])
    expected = [word for word, _ in model.analytic_solution().most_similar("police", topn=3)]
    assert [line.split()[1] for line in out.splitlines()[1:]] == expected


# ------------------------------------------------------------------------------------------- features
def test_features(trained, capsys):
    status, out, err = run(["features", trained["model"], "--k", "3", "--topn", "5"], capsys)
    assert status == 0, err
    rows = out.splitlines()[1:]
    assert len(rows) == 3
    eigenvalues = [float(re.search(r"lambda=\s*(-?[\d.]+)", row).group(1)) for row in rows]
    assert eigenvalues == sorted(eigenvalues, reverse=True)
    assert all(len(row.split()) == 2 + 1 + 5 or len(row.split()) == 2 + 5 for row in rows)


def test_features_recounts_statistics_from_a_corpus(trained, corpus_file, capsys):
    status, out, err = run(["features", trained["model"], "--k", "2", "--corpus", corpus_file], capsys)
    assert status == 0, err
    assert len(out.splitlines()) == 3


# ------------------------------------------------------------------------------------------- mistakes
def _mistakes(trained, corpus_file, tmp):
    garbage = os.path.join(tmp, "garbage.model")
    with open(garbage, "wb") as handle:
        handle.write(b"\x00\x01 definitely not a model")
    binary_corpus = os.path.join(tmp, "binary.txt")
    with open(binary_corpus, "wb") as handle:
        handle.write(bytes(range(256)) * 4)
    bad_npz = os.path.join(tmp, "bad.npz")
    with open(bad_npz, "w") as handle:
        handle.write("not a zip archive")
    missing = os.path.join(tmp, "missing.txt")
    out = os.path.join(tmp, "out.qwem")
    return [
        # (argv, exit status, fragment of the message)
        (["bogus"], 2, "invalid choice"),
        (["train"], 2, "required: CORPUS"),
        (["train", corpus_file, "-o", out, "--vector-size", "0"], 2, "--vector-size: expected an integer >= 1"),
        (["train", corpus_file, "-o", out, "--alpha", "fast"], 2, "--alpha: expected a number > 0"),
        (["train", corpus_file, "-o", out, "--weighting", "psi"], 2, "invalid choice"),
        (["train", corpus_file], 1, "nothing would be saved"),
        (["train", missing, "-o", out], 1, "does not exist"),
        (["train", tmp, "-o", out], 1, "is not a file"),
        (["train", corpus_file, "-o", os.path.join(tmp, "no", "such", "dir.qwem")], 1, "does not exist"),
        (["train", corpus_file, "-o", tmp], 1, "is a directory"),
        (["train", corpus_file, "-o", out, "--min-count", "100000"], 1, "vocabulary is empty"),
        (["train", binary_corpus, "-o", out], 1, "not UTF-8 text"),
        (["train", corpus_file, "-o", out, "--closed-form", "--min-count", "60", "--vector-size", "500"], 1,
         "vector_size"),
        (["neighbours", trained["txt"], "notaword"], 1, "'notaword' is not in the vocabulary"),
        (["neighbours", trained["txt"], "POLICE"], 1, "did you mean 'police'"),
        (["neighbours", missing, "police"], 1, "does not exist"),
        (["neighbours", garbage, "police"], 1, "could not read"),
        (["neighbours", bad_npz, "police"], 1, "bad.npz"),
        (["neighbours", trained["txt"], "police", "--closed-form"], 1, "needs a QWEM model"),
        (["neighbours", trained["model"], "police", "--topn", "-1"], 2, "--topn: expected an integer >= 1"),
        (["features", trained["txt"]], 1, "needs a QWEM model"),
        (["features", trained["model"], "--k", "100000"], 1, "below the vocabulary size"),
        (["evaluate", trained["model"], "--analogies", missing], 1, "does not exist"),
        (["evaluate", trained["model"], "--pairs", corpus_file], 1, "has no line of the form"),
    ]


def test_user_mistakes_give_one_line_and_a_nonzero_status(trained, corpus_file, tmp_path, capsys):
    for argv, expected_status, fragment in _mistakes(trained, corpus_file, str(tmp_path)):
        status, out, err = run(argv, capsys)
        assert status == expected_status, (argv, err)
        assert err.count("\n") == 1, (argv, err)
        assert err.startswith("gensim-qwem"), (argv, err)
        assert fragment in err, (argv, err)
        assert "Traceback" not in err


def test_a_mistake_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gensim_qwem", "neighbours", str(tmp_path / "nope.txt"), "w"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("python -m gensim_qwem neighbours: error:")


def test_console_script_is_installed():
    script = shutil.which("gensim-qwem")
    if script is None:
        pytest.skip("the gensim-qwem console script is not on PATH (package not installed with pip)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("gensim_qwem ")


# ------------------------------------------------------------------------------------------- helpers
def test_gram_distance_matches_the_dense_formula():
    rng = np.random.default_rng(0)
    W, V = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    dense = np.linalg.norm(W @ W.T - V @ V.T) / np.linalg.norm(V @ V.T)
    assert _gram_distance(W, V) == pytest.approx(dense, rel=1e-10)
    rotation = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    assert _gram_distance(V @ rotation, V) == pytest.approx(0.0, abs=1e-6)


def test_neighbour_overlap():
    rng = np.random.default_rng(0)
    V = rng.standard_normal((50, 5))
    assert _neighbour_overlap(V, 3.0 * V, topn=10) == 1.0
    assert _neighbour_overlap(V, rng.standard_normal((50, 5)), topn=10) < 0.6
