"""Command line interface: ``python -m gensim_qwem COMMAND`` or ``gensim-qwem COMMAND``.

Commands, each with ``--help``:

``demo``
    Train on gensim's shipped Lee corpus, compute the closed form, compare them (no download).
``train CORPUS --output MODEL [--vectors FILE]``
    Train QWEM (or compute only the closed form with ``--closed-form``) on a text file with one
    sentence per line, tokens separated by whitespace (read with gensim's ``LineSentence``).
``evaluate MODEL_OR_VECTORS``
    Word analogies and word-pair similarity correlations.
``neighbours MODEL_OR_VECTORS WORD...``
    Nearest neighbours by cosine similarity.
``features MODEL``
    Top eigen-features of the target matrix M*: the words with the largest loadings on each of its
    top eigenvectors, which are the directions training learns first.

User mistakes (a missing file, a bad value, an unknown word) are reported as one line on standard
error with a non-zero exit status: 2 for command-line usage errors, 1 for everything else.
"""
import argparse
import inspect
import logging
import os
import sys
from timeit import default_timer

import numpy as np

__all__ = ["main", "build_parser"]

logger = logging.getLogger("gensim_qwem.cli")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

#: Settings of ``demo``: small enough to finish in seconds on two cores; weighting='uniform' trains with
#: the full-batch trainer to the closed form (alpha None: its default step; epochs apply to --trainer sgd).
DEMO_SETTINGS = dict(vector_size=20, window=5, min_count=20, epochs=150, alpha=None, workers=2, seed=1,
                     weighting="uniform", trainer="gradient")
DEMO_SGD_ALPHA = 0.005   # demo --trainer sgd: 150 epochs at this rate get close to the closed form
DEMO_WORDS = ("police", "Taliban", "Qantas", "fire", "match")


class CLIError(Exception):
    """A user mistake, reported as one line on standard error (exit status 1)."""


# ---------------------------------------------------------------------------------- argument types
def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    parse.__name__ = "integer"
    return parse


def _float_above(minimum, strict=True):
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}") from None
        if not np.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value
    parse.__name__ = "number"
    return parse


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (no usage dump) and a pointer to --help."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.HelpFormatter):
    """Appends "(default: X)" to options that have a meaningful default not already described."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.option_strings and "default" not in text and action.default not in (None, False)
                and action.default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


# ---------------------------------------------------------------------------------- parser
# QWEM constructor parameters as options: key -> (flag, type, help); 'train' takes all, 'demo' a few
MODEL_OPTIONS = {
    "vector_size": ("--vector-size", _int_at_least(1), "dimensionality d of the word vectors"),
    "window": ("--window", _int_at_least(1), "maximum distance between centre and context word"),
    "min_count": ("--min-count", _int_at_least(1), "ignore words with a lower total count"),
    "max_final_vocab": ("--max-final-vocab", _int_at_least(1),
                        "keep at most this many words, raising min_count as needed"),
    "negative": ("--negative", _int_at_least(1), "negative samples per positive pair"),
    "ns_exponent": ("--ns-exponent", _finite_float, "exponent of the negative-sampling distribution"),
    "sample": ("--sample", _float_above(0.0, strict=False),
               "subsampling threshold for frequent words (0 turns it off)"),
    "epochs": ("--epochs", _int_at_least(1), "passes over the corpus"),
    "alpha": ("--alpha", _float_above(0.0), "initial learning rate"),
    "min_alpha": ("--min-alpha", _float_above(0.0, strict=False), "final learning rate"),
    "workers": ("--workers", _int_at_least(1), "worker threads"),
    "seed": ("--seed", int, "random seed"),
    "init_scale": ("--init-scale", _float_above(0.0),
                   "standard deviation of the initial weights (default: as gensim's init spread)"),
    "max_weight": ("--max-weight", _float_above(0.0), "cap on the uniform pair weight c / G_ij"),
    "negative_share": ("--negative-share", _int_at_least(1),
                       "consecutive context words of a centre that share one set of negative draws"),
    "negative_draws": ("--negative-draws", _float_above(1.0, strict=False),
                       "draws per negative, each weighted 1/draws: same objective, less noise"),
    "gradient_steps": ("--gradient-steps", _int_at_least(1),
                       "--trainer gradient: full-batch steps (default: until converged)"),
}


def _qwem_defaults():
    """QWEM's own defaults, so the command line can never drift from the library."""
    from gensim_qwem.model import QWEM
    return {name: p.default for name, p in inspect.signature(QWEM.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def build_parser(prog="gensim-qwem"):
    """The ``argparse`` parser of the command line (exposed for documentation and tests)."""
    from gensim_qwem import __version__
    defaults = _qwem_defaults()
    from gensim_qwem.model import GRADIENT_ALPHA, WEIGHTING_DEFAULTS as per_weighting
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="log progress at INFO level (gensim-style logging) on standard error")

    parser = _Parser(prog=prog, formatter_class=_Formatter, parents=[common],
                     description="Quadratic word embeddings (QWEM): train, compute the closed form, "
                                 "evaluate and inspect word vectors.",
                     epilog=f"Run '{prog} COMMAND --help' for the options of a command. "
                            f"Start with '{prog} demo'.")
    parser.add_argument("--version", action="version", version=f"gensim_qwem {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name, help_text, description):
        return commands.add_parser(name, help=help_text, description=description, parents=[common],
                                   formatter_class=_Formatter)

    # demo ---------------------------------------------------------------------------------------
    demo = add("demo", "train on gensim's Lee corpus and compare with the closed form (seconds, no download)",
               "Train QWEM on gensim's shipped Lee corpus (lee_background.cor, 60,000 words), compute the "
               "closed-form embeddings with model.analytic_solution(), and show how close the two are: "
               "nearest neighbours side by side, the relative Frobenius distance of the Gram matrices W W^T, "
               "and the mean overlap of the top-10 neighbour lists.")
    for key in ("vector_size", "min_count", "epochs", "alpha", "workers", "seed"):
        flag, kind, text = MODEL_OPTIONS[key]
        if key == "alpha":
            text += (f" (default: {GRADIENT_ALPHA:g} x 1/lambda_1 with --trainer gradient, {DEMO_SGD_ALPHA:g} "
                     "with --trainer sgd)")
        demo.add_argument(flag, type=kind, default=DEMO_SETTINGS[key], metavar=_metavar(kind), help=text)
    demo.add_argument("--gradient-steps", type=_int_at_least(1), default=None, metavar="INT",
                      help=MODEL_OPTIONS["gradient_steps"][2])
    _add_trainer_arguments(demo, DEMO_SETTINGS["trainer"])
    demo.add_argument("--words", nargs="+", metavar="WORD", default=None,
                      help=f"words whose neighbours to show (default: those of {', '.join(DEMO_WORDS)} in "
                           "the vocabulary)")
    demo.add_argument("--progress", action="store_true", help="show a progress bar over epochs (needs tqdm)")
    demo.set_defaults(handler=_cmd_demo)

    # train --------------------------------------------------------------------------------------
    train = add("train", "train QWEM on a text corpus, or compute its closed form",
                "Train QWEM on CORPUS, a text file with one sentence per line and tokens separated by "
                "whitespace (read with gensim's LineSentence through smart_open: .gz, .bz2 and .xz files are "
                "decompressed, and CORPUS may be a URL such as https://... or s3://...). "
                "Saves the full model (--output, load it with gensim_qwem.QWEM.load) and/or the word "
                "vectors in word2vec format (--vectors: binary for .bin, text otherwise). Options have "
                "the meaning of gensim's Word2Vec parameters of the same name.")
    train.add_argument("corpus", metavar="CORPUS", help="text file or URL, one sentence per line")
    train.add_argument("-o", "--output", metavar="MODEL",
                       help="save the model here: with QWEM.save (gensim's format, a pickle), or with "
                            "QWEM.save_npz (pickle-free, safe to share) when MODEL ends in .npz")
    train.add_argument("--vectors", metavar="FILE",
                       help="save word vectors in word2vec format: binary if FILE ends in .bin, text otherwise")
    train.add_argument("--closed-form", action="store_true",
                       help="do not train: count the corpus statistics and use the closed-form embeddings "
                            "(model.analytic_solution) as the model's vectors")
    hp = train.add_argument_group("model parameters (as gensim's Word2Vec)")
    for key, (flag, kind, text) in MODEL_OPTIONS.items():
        if key in per_weighting:
            text += " (default: " + ", ".join(f"{value:g} for weighting '{weighting}'"
                                              for weighting, value in per_weighting[key].items()) + ")"
        if key == "alpha":
            text += f"; with --trainer gradient, the step in units of 1/lambda_1 (default {GRADIENT_ALPHA:g})"
        hp.add_argument(flag, dest=key, type=kind, default=defaults[key], metavar=_metavar(kind), help=text)
    hp.add_argument("--weighting", choices=("uniform", "none"), default=defaults["weighting"],
                    help="'uniform' converges to the closed form; 'none' weights all pairs 1 (closer to "
                         "word2vec, no closed form)")
    _add_trainer_arguments(hp, None)
    train.add_argument("--progress", action="store_true", help="show a progress bar over epochs (needs tqdm)")
    train.set_defaults(handler=_cmd_train)

    # evaluate -----------------------------------------------------------------------------------
    evaluate = add("evaluate", "word analogies and word-pair similarity correlations",
                   "Evaluate word vectors with gensim's KeyedVectors.evaluate_word_analogies (3CosAdd, top-1) "
                   "and evaluate_word_pairs (Spearman and Pearson correlation). Without --analogies and "
                   "--pairs, uses the Google analogies, WordSim-353 and SimLex-999 files shipped with gensim; "
                   "with either, only the files given.")
    _add_source_arguments(evaluate)
    evaluate.add_argument("--analogies", metavar="FILE",
                          help="analogy questions, ': section' headers then 'a b c d' lines")
    evaluate.add_argument("--pairs", metavar="FILE", action="extend", nargs="+",
                          help="word pairs with a human score, 'word1<TAB>word2<TAB>score' lines (one or "
                               "more files)")
    evaluate.add_argument("--protocol", choices=("all-pairs", "gensim"), default="all-pairs",
                          help="'all-pairs': every combination of two in-vocabulary word pairs of a section "
                               "(Karkada et al. 2025); 'gensim': the file's questions as written")
    evaluate.add_argument("--restrict-vocab", type=_int_at_least(1), default=30000, metavar="N",
                          help="use only the N most frequent words")
    evaluate.add_argument("--case-sensitive", action="store_true",
                          help="match words exactly (default: case-insensitive, as gensim)")
    evaluate.add_argument("--sections", action="store_true", help="also print the accuracy of each analogy section")
    evaluate.set_defaults(handler=_cmd_evaluate)

    # neighbours ---------------------------------------------------------------------------------
    neighbours = add("neighbours", "nearest neighbours of words by cosine similarity",
                     "Print the nearest neighbours of each WORD by cosine similarity.")
    _add_source_arguments(neighbours)
    neighbours.add_argument("words", nargs="+", metavar="WORD", help="words to look up (case-sensitive)")
    neighbours.add_argument("-n", "--topn", type=_int_at_least(1), default=10, metavar="N", help="neighbours per word")
    neighbours.set_defaults(handler=_cmd_neighbours)

    # features -----------------------------------------------------------------------------------
    features = add("features", "top eigen-features of the target matrix M* of a saved model",
                   "Print the top eigen-features of M*: for each of its top-k eigenvectors (largest "
                   "eigenvalue first, the order in which training learns them), the words with the largest "
                   "loadings. Needs a model saved by 'train --output' with its pair statistics.")
    features.add_argument("model", metavar="MODEL",
                          help="a model saved by 'gensim-qwem train --output' (.npz or gensim's format)")
    features.add_argument("-k", "--k", type=_int_at_least(1), default=10, metavar="K", help="number of eigen-features")
    features.add_argument("-n", "--topn", type=_int_at_least(1), default=10, metavar="N", help="words shown per feature")
    features.add_argument("--corpus", metavar="CORPUS",
                          help="recount the pair statistics from this corpus first (for a model saved "
                               "without them)")
    features.set_defaults(handler=_cmd_features)
    return parser


def _metavar(kind):
    return "N" if kind is int or getattr(kind, "__name__", "") == "integer" else "X"


def _add_source_arguments(subparser):
    subparser.add_argument("source", metavar="MODEL_OR_VECTORS",
                           help="a saved model (.npz from QWEM.save_npz, or gensim's format), saved "
                                "KeyedVectors, or word2vec-format vectors (.bin binary; .txt/.vec text)")
    subparser.add_argument("--closed-form", action="store_true",
                           help="use the closed-form embeddings of a saved QWEM model instead of its trained "
                                "vectors (an eigendecomposition on every run: for a large vocabulary, save "
                                "them once with 'train --closed-form')")


# ---------------------------------------------------------------------------------- helpers
def _check_input_file(path, what="file"):
    if "://" in path:   # a URL, read through smart_open: opened once now to check it
        from gensim_qwem.sources import check_corpus_file
        try:
            check_corpus_file(path, what)
        except OSError as error:
            raise CLIError(str(error)) from None
        return
    if not os.path.exists(path):
        raise CLIError(f"{what} {path!r} does not exist")
    if not os.path.isfile(path):
        raise CLIError(f"{what} {path!r} is not a file")
    if not os.access(path, os.R_OK):
        raise CLIError(f"{what} {path!r} is not readable")


def _check_output_file(path, what):
    """Fail before hours of training, not after, when the output cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"{what} {path!r} is a directory; give a file name")
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {what} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"cannot write {what} {path!r}: folder {folder!r} is not writable")


def _vector_format(path):
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(".bin"):
        return "binary"
    if name.endswith((".txt", ".vec")):
        return "text"
    return None


def _load(path):
    """-> (model or None, KeyedVectors) from a saved model, saved KeyedVectors or word2vec-format file."""
    from gensim import utils
    from gensim.models import KeyedVectors, Word2Vec

    _check_input_file(path, "model or vectors file")
    if path.lower().endswith(".npz"):
        from gensim_qwem.model import QWEM
        model = QWEM.load_npz(path)  # runs no code from the file
        return model, model.wv
    fmt = _vector_format(path)
    if fmt is not None:
        try:
            return None, KeyedVectors.load_word2vec_format(path, binary=fmt == "binary")
        except Exception as error:  # gensim raises many types on malformed files
            raise CLIError(f"could not read {path!r} as word2vec {fmt} vectors ({_one_line(error)})") from None
    try:
        obj = utils.SaveLoad.load(path)
    except Exception as load_error:
        for binary in (False, True):
            try:
                return None, KeyedVectors.load_word2vec_format(path, binary=binary)
            except Exception:
                pass
        raise CLIError(f"could not read {path!r} as a saved model, KeyedVectors or word2vec-format vectors "
                       f"({_one_line(load_error)})") from None
    if isinstance(obj, Word2Vec):
        return obj, obj.wv
    if isinstance(obj, KeyedVectors):
        return None, obj
    raise CLIError(f"{path!r} holds a {type(obj).__name__}, not a model or word vectors")


def _load_qwem(path, purpose):
    from gensim_qwem.model import QWEM
    model, _ = _load(path)
    if not isinstance(model, QWEM):
        raise CLIError(f"{purpose} needs a QWEM model saved by 'gensim-qwem train --output' (or QWEM.save); "
                       f"{path!r} holds {'word vectors only' if model is None else type(model).__name__}")
    return model


def _source_vectors(args):
    if args.closed_form:
        model = _load_qwem(args.source, "--closed-form")
        return model.analytic_solution()
    return _load(args.source)[1]


def _check_words(kv, words, source):
    for word in words:
        if word in kv.key_to_index:
            continue
        hint = ""
        variants = [key for key in kv.index_to_key if isinstance(key, str) and key.lower() == word.lower()]
        if variants:
            hint = f"; did you mean {variants[0]!r}? (words are case-sensitive)"
        elif len(kv) <= 50_000:
            import difflib
            close = difflib.get_close_matches(word, kv.index_to_key, n=3)
            if close:
                hint = "; close words: " + ", ".join(close)
        raise CLIError(f"word {word!r} is not in the vocabulary of {source} ({len(kv):,} words){hint}")


def _one_line(error):
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def _format_seconds(seconds):
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _progress_callbacks(args):
    if not getattr(args, "progress", False):
        return []
    from gensim_qwem.progress import ProgressBar
    return [ProgressBar(enabled=True)]


def _train_with_callbacks(model, corpus, callbacks):
    try:
        model.train(corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                    epochs=model.epochs, callbacks=callbacks)
    finally:  # a failed epoch skips on_train_end: close the bar before the error is printed
        for callback in callbacks:
            getattr(callback, "close", lambda: None)()


def _gram_distance(W, V):
    """||W W^T - V V^T||_F / ||V V^T||_F without forming the V x V Gram matrices.

    Uses ``||W W^T - V V^T||^2 = ||W^T W||^2 + ||V^T V||^2 - 2 ||W^T V||^2`` (costs O(n d^2)).
    """
    W = np.asarray(W, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    ww, vv, wv = (np.linalg.norm(W.T @ W) ** 2, np.linalg.norm(V.T @ V) ** 2, np.linalg.norm(W.T @ V) ** 2)
    return float(np.sqrt(max(ww + vv - 2.0 * wv, 0.0) / vv))


def _top_neighbours(vectors, topn, chunk=2048):
    """Indices of the `topn` nearest neighbours (cosine, excluding the word itself) of every row."""
    X = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)
    topn = min(topn, len(X) - 1)
    result = np.empty((len(X), topn), dtype=np.int64)
    for start in range(0, len(X), chunk):
        sims = X[start:start + chunk] @ X.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf
        best = np.argpartition(-sims, topn - 1, axis=1)[:, :topn]
        order = np.argsort(-np.take_along_axis(sims, best, axis=1), axis=1)
        result[start:start + chunk] = np.take_along_axis(best, order, axis=1)
    return result


def _neighbour_overlap(vectors_a, vectors_b, topn=10):
    """Mean fraction of shared words in the top-`topn` neighbour lists of the two embeddings (same rows)."""
    a, b = _top_neighbours(vectors_a, topn), _top_neighbours(vectors_b, topn)
    shared = [len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(a, b)]
    return float(np.mean(shared)) / a.shape[1]


# ---------------------------------------------------------------------------------- commands
def _cmd_demo(args):
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    from gensim_qwem.model import QWEM

    out = sys.stdout
    start = default_timer()
    path = datapath("lee_background.cor")
    _check_input_file(path, "gensim's Lee corpus")
    corpus = LineSentence(path)
    alpha = DEMO_SGD_ALPHA if args.alpha is None and args.trainer == "sgd" else args.alpha   # None: the trainer's
    model = QWEM(vector_size=args.vector_size, window=DEMO_SETTINGS["window"], min_count=args.min_count,
                 epochs=args.epochs, alpha=alpha, workers=args.workers, seed=args.seed, weighting=DEMO_SETTINGS["weighting"], trainer=args.trainer,
                 gradient_steps=args.gradient_steps)
    tic = default_timer()
    model.build_vocab(corpus)
    statistics = model.statistics  # counted here (first needed), so the line below times both passes
    vocab_time = default_timer() - tic
    if args.vector_size >= len(model.wv):
        raise CLIError(f"--vector-size must be below the vocabulary size ({len(model.wv)} words with "
                       f"min_count={args.min_count}); lower --vector-size or --min-count")
    initial = model.wv.vectors.copy()
    tic = default_timer()
    _train_with_callbacks(model, corpus, _progress_callbacks(args))
    train_time = default_timer() - tic
    tic = default_timer()
    closed = model.analytic_solution(weighting="uniform")   # the end point of weighting="uniform" training
    closed_time = default_timer() - tic

    print(f"QWEM demo on gensim's Lee corpus ({model.corpus_count} lines, {model.corpus_total_words:,} words; "
          f"{path})", file=out)
    print(f"  vocabulary and pair statistics  {len(model.wv)} words with count >= {model.min_count}, "
          f"{statistics.nnz:,} co-occurring pairs   {_format_seconds(vocab_time)}", file=out)
    print(f"  training                        vector_size={model.vector_size}, window={model.window}, "
          f"negative={model.negative}, alpha={model.alpha:g}, {_training_length(model)}   "
          f"{_format_seconds(train_time)}", file=out)
    print(f"  closed form                     model.analytic_solution(weighting='uniform'): top "
          f"{model.vector_size} eigenpairs "
          f"of M*   {_format_seconds(closed_time)}", file=out)

    words = args.words or [w for w in DEMO_WORDS if w in model.wv.key_to_index]
    if not words:
        words = [w for w in model.wv.index_to_key if len(w) > 4][:5]
    _check_words(model.wv, words, "the demo model")
    shown = 6
    print(f"\nnearest neighbours (top {shown} by cosine similarity)", file=out)
    for word in words:
        print(f"  {word}", file=out)
        for label, kv in (("trained", model.wv), ("closed form", closed)):
            print(f"    {label:<12} " + ", ".join(w for w, _ in kv.most_similar(word, topn=shown)), file=out)

    trained, exact = model.wv.vectors, closed.vectors
    rows = [("relative Frobenius distance of Gram matrices W W^T",
             f"{_gram_distance(trained, exact):.3f}", f"{_gram_distance(initial, exact):.3f}"),
            (f"mean overlap of top-10 neighbour lists ({len(model.wv)} words)",
             f"{_neighbour_overlap(trained, exact):.0%}", f"{_neighbour_overlap(initial, exact):.0%}")]
    print("\nhow close trained and closed-form embeddings are", file=out)
    print(f"  {'':<58}{'trained':>9}{'at init':>9}", file=out)
    for label, now, before in rows:
        print(f"  {label:<58}{now:>9}{before:>9}", file=out)
    learned = np.linalg.svd(trained.astype(np.float64), compute_uv=False) ** 2
    print("  top squared singular values of trained W   " + " ".join(f"{x:6.1f}" for x in learned[:6]),
          file=out)
    print("  top eigenvalues of M* (closed form)        "
          + " ".join(f"{x:6.1f}" for x in model.eigenvalues_[:6]), file=out)
    print(f"\ntotal {_format_seconds(default_timer() - start)}. Next: '{args.prog} train --help' to train on "
          "your own corpus.", file=out)
    return EXIT_OK


def _cmd_train(args):
    from gensim.models.word2vec import LineSentence

    from gensim_qwem.model import QWEM

    if not args.output and not args.vectors:
        raise CLIError("nothing would be saved: give --output MODEL, --vectors FILE, or both")
    _check_input_file(args.corpus, "corpus")
    if args.output:
        _check_output_file(args.output, "model")
    if args.vectors:
        _check_output_file(args.vectors, "vectors")
    params = {key: getattr(args, key) for key in (*MODEL_OPTIONS, "weighting", "trainer")}
    corpus = LineSentence(args.corpus)
    model = QWEM(**params)
    tic = default_timer()
    try:
        model.build_vocab(corpus)
    except UnicodeDecodeError as error:
        raise CLIError(f"corpus {args.corpus!r} is not UTF-8 text ({_one_line(error)})") from None
    vocab_time = default_timer() - tic
    print(f"read {args.corpus}: {model.corpus_count:,} sentences, {model.corpus_total_words:,} words; "
          f"vocabulary {len(model.wv):,} words with count >= {model.effective_min_count}   "
          f"{_format_seconds(vocab_time)}")
    tic = default_timer()
    if args.closed_form:
        model.analytic_solution(replace=True)
        from gensim_qwem.weighted import SOLVE_STEPS
        steps = f" + {SOLVE_STEPS} G-weighted steps" if model.weighting == "none" else ""
        print(f"closed form (analytic_solution()): top {model.vector_size} eigenpairs{steps}   "
              f"{_format_seconds(default_timer() - tic)}")
    else:
        _train_with_callbacks(model, corpus, _progress_callbacks(args))
        print(f"trained {_training_length(model)} (weighting={model.weighting!r})   "
              f"{_format_seconds(default_timer() - tic)}")
        if model.weighting == "uniform":
            _note_if_undertrained(model)
    if args.output:
        if args.output.lower().endswith(".npz"):
            model.save_npz(args.output)
            print(f"saved model to {args.output} (load with gensim_qwem.QWEM.load_npz)")
        else:
            model.save(args.output)
            print(f"saved model to {args.output} (load with gensim_qwem.QWEM.load)")
    if args.vectors:
        binary = _vector_format(args.vectors) == "binary"
        model.wv.save_word2vec_format(args.vectors, binary=binary)
        print(f"saved {len(model.wv):,} x {model.vector_size} vectors to {args.vectors} "
              f"(word2vec {'binary' if binary else 'text'} format)")
    return EXIT_OK


def _cmd_evaluate(args):
    from gensim.test.utils import datapath

    from gensim_qwem.evaluation import evaluate_analogies, evaluate_similarity

    analogies, pairs = args.analogies, args.pairs or []
    if analogies is None and not pairs:
        analogies = datapath("questions-words.txt")
        pairs = [datapath("wordsim353.tsv"), datapath("simlex999.txt")]
    for path in ([analogies] if analogies else []) + pairs:
        _check_input_file(path, "evaluation file")
    kv = _source_vectors(args)
    case_insensitive = not args.case_sensitive
    restrict = min(args.restrict_vocab, len(kv))
    label = "closed form of " + args.source if args.closed_form else args.source
    print(f"{label}: {len(kv):,} words x {kv.vector_size} dimensions; evaluating the {restrict:,} most "
          "frequent words")
    if analogies:
        name = os.path.basename(analogies)
        try:
            result = evaluate_analogies(kv, analogies, protocol=args.protocol, restrict_vocab=restrict,
                                        case_insensitive=case_insensitive)
        except (ValueError, UnicodeDecodeError) as error:
            raise CLIError(f"could not read analogy file {analogies!r}: {_one_line(error)}") from None
        if result.questions == 0:
            print(f"analogies  {name}: no question has all four words among the evaluated words")
        else:
            print(f"analogies  {name}: {result.accuracy:.1%} top-1 accuracy (3CosAdd, {result.protocol} "
                  f"protocol) on {result.questions:,} questions")
        if args.sections:
            for section in result.sections:
                print(f"    {section['section']:<32} {section['accuracy']:6.1%}  ({section['questions']:,} "
                      "questions)")
    for path in pairs:
        name = os.path.basename(path)
        _check_pairs_file(path)
        try:
            result = evaluate_similarity(kv, path, restrict_vocab=restrict, case_insensitive=case_insensitive)
        except ValueError as error:
            if "No valid similarity judgements" in str(error):
                print(f"pairs      {name}: no pair has both words among the evaluated words")
                continue
            raise CLIError(f"could not read word-pair file {path!r}: {_one_line(error)}") from None
        print(f"pairs      {name}: Spearman {result.spearman:.3f}, Pearson {result.pearson:.3f} "
              f"({result.coverage:.0%} of {result.pairs:,} pairs in the vocabulary)")
    return EXIT_OK


def _training_length(model):
    """'150 epochs', or for the full-batch trainer '212 full-batch steps to t = 0.05'."""
    if model.trainer == "gradient":
        return f"{len(model.epoch_losses)} full-batch steps to t = {model.flow_time:.3g}"
    return f"{model.epochs} epoch{'s' if model.epochs != 1 else ''}"


def _add_trainer_arguments(parser, default):
    from gensim_qwem.model import TRAINERS
    parser.add_argument("--trainer", choices=TRAINERS, default=default,
                        help="'gradient': full-batch gradient descent on the pair statistics (weighting "
                             "'uniform' only; reaches the closed form); 'sgd': word2vec-style passes over the "
                             "corpus (default: 'gradient' for weighting 'uniform', 'sgd' for 'none')")


def _note_if_undertrained(model):
    """Say so when training stopped before even the strongest eigen-direction of M* was learned.

    The theory (see the docs' Theory page) gives the gradient-flow time that the schedule reached,
    ``model.theory_time()``, and the time at which direction 1 switches on, ``model.mode_onset_times(1)``;
    one eigenpair costs little next to training.
    """
    reached = float(model.theory_time())
    onset = float(model.mode_onset_times(1)[0])
    if not np.isfinite(onset) or reached >= onset:
        return
    unit = "full-batch steps" if model.trainer == "gradient" else "epochs at this alpha"
    done = len(model.epoch_losses) if model.trainer == "gradient" else model.epochs
    needed = int(np.ceil(done * onset / max(reached, 1e-300)))
    print(f"note: training reached time t={reached:.3g} of the theory, but even the strongest direction of M* is "
          f"learned only near t={onset:.3g}: the vectors are still close to their random start. Train longer "
          f"(about {needed:,} {unit} for that first direction), or use --closed-form for the end "
          "point of training.")


def _check_pairs_file(path):
    """A word-pair file must have at least one 'word1<TAB>word2<TAB>score' line (gensim skips the others)."""
    from gensim import utils
    try:
        with utils.open(path, "rb") as handle:
            for raw in handle:
                fields = utils.to_unicode(raw).strip("\r\n").split("\t")
                if len(fields) == 3 and not fields[0].startswith("#"):
                    try:
                        float(fields[2])
                        return
                    except ValueError:
                        pass
    except UnicodeDecodeError:
        raise CLIError(f"word-pair file {path!r} is not UTF-8 text") from None
    raise CLIError(f"word-pair file {path!r} has no line of the form 'word1<TAB>word2<TAB>score'")


def _cmd_neighbours(args):
    kv = _source_vectors(args)
    _check_words(kv, args.words, args.source)
    for word in args.words:
        print(word)
        for neighbour, similarity in kv.most_similar(word, topn=args.topn):
            print(f"  {similarity:7.4f}  {neighbour}")
    return EXIT_OK


def _eigen_features(model, k, topn):
    """[(eigenvalue, [(word, loading), ...]), ...] for the top-k eigenvectors of M*, largest first."""
    eigenvalues, _ = model.spectrum(k)
    return list(zip(eigenvalues, model.eigen_features(k, topn)))


def _cmd_features(args):
    from gensim.models.word2vec import LineSentence

    model = _load_qwem(args.model, "features")
    if args.corpus:
        _check_input_file(args.corpus, "corpus")
        model.count_statistics(LineSentence(args.corpus))
    if args.k >= len(model.wv):
        raise CLIError(f"--k must be below the vocabulary size ({len(model.wv):,} words), got {args.k}")
    print(f"top {args.k} eigen-features of M* for {args.model} (words with the largest loadings)")
    for number, (value, loadings) in enumerate(_eigen_features(model, args.k, args.topn), start=1):
        print(f"{number:3d}  lambda={value:8.3f}  " + " ".join(word for word, _ in loadings))
    return EXIT_OK


# ---------------------------------------------------------------------------------- entry point
_USER_ERRORS = (CLIError, OSError, ValueError, KeyError, RuntimeError, FloatingPointError, ImportError,
                MemoryError)


def _setup_logging(verbose):
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(format="%(asctime)s : %(levelname)s : %(message)s", level=level)
    logging.getLogger().setLevel(level)


def main(argv=None, prog=None):
    """Run the command line with `argv` (default ``sys.argv[1:]``); returns the exit status.

    Usage errors raise ``SystemExit(2)`` from argparse after one line on standard error; other user
    mistakes print one line ``PROG: error: ...`` and return 1.
    """
    if prog is None:
        prog = "python -m gensim_qwem" if os.path.basename(sys.argv[0]) == "__main__.py" else "gensim-qwem"
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.prog = prog
    _setup_logging(args.verbose)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error to report
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_ERROR
    except _USER_ERRORS as error:
        print(f"{prog} {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # a bug: still one line, the traceback only with --verbose
        if args.verbose:
            logger.exception("unexpected error")
        print(f"{prog} {args.command}: internal error: {type(error).__name__}: {_one_line(error)} "
              "(run with --verbose for the traceback and please report it)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
