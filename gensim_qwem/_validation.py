"""Every check of user input, with one message shape each: what is wrong, what was given, what to do.

Parameters: ``The '<name>' parameter of QWEM must be <requirement>. Got <value> instead.`` (ValueError for a
value out of range, TypeError for a value of the wrong type). Corpora: the sentence or token at fault, the
rule, and how to convert the input. Used by :mod:`gensim_qwem.model` and the encoding kernel.
"""
import numbers
from collections.abc import Iterable
from types import GeneratorType

import numpy as np

from gensim_qwem.corpus import CorpusFiles
from gensim_qwem.sources import check_corpus_file, is_remote

WEIGHTINGS = ("uniform", "none")
TRAINERS = ("sgd", "gradient")
# gensim's words, for build_vocab(update=True) before any vocabulary
NO_PRIOR_VOCABULARY = ("You cannot do an online vocabulary-update of a model which has no prior vocabulary. "
                       "First build the vocabulary of your model with a corpus before doing an online update.")


# ---------------------------------------------------------------------------------------------- parameters
def param_error(name, requirement, value, exc=ValueError):
    """The one shape of a bad-parameter error."""
    return exc(f"The '{name}' parameter of QWEM must be {requirement}. Got {value!r} instead.")


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise param_error(name, f"an int >= {minimum}", value, TypeError)
    if value < minimum:
        raise param_error(name, f"an int >= {minimum}", value)


def check_real(name, value, minimum, strict=True, maximum=None):
    bound = f"> {minimum}" if strict else f">= {minimum}"
    if maximum is not None:
        bound += f" and <= {maximum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise param_error(name, f"a number {bound}", value, TypeError)
    if not np.isfinite(value) or (value <= minimum if strict else value < minimum) or (
            maximum is not None and value > maximum):
        raise param_error(name, f"a number {bound}", value)


def check_choice(name, value, choices):
    if value not in choices:
        raise param_error(name, f"one of {choices}", value)


def check_model_parameters(model, **overrides):
    """Validate a model's hyper-parameters where they are used (users change attributes between calls);
    `overrides` are values not yet set on the model (constructor and ``train`` arguments)."""
    get = lambda name: overrides[name] if name in overrides else getattr(model, name)  # noqa: E731
    if get("sg") != 1:
        raise ValueError("QWEM is a skip-gram model: the 'sg' parameter of QWEM must be 1. "
                         f"Got {get('sg')!r} instead (CBOW, sg=0, is not supported).")
    if get("hs") != 0:
        raise ValueError("QWEM trains with negative sampling only: the 'hs' parameter of QWEM must be 0. "
                         f"Got {get('hs')!r} instead (hierarchical softmax has no quadratic form).")
    check_int("vector_size", get("vector_size") if "vector_size" in overrides else model.wv.vector_size, 1)
    for name, minimum in (("window", 1), ("negative", 1), ("epochs", 1), ("workers", 1), ("min_count", 0)):
        check_int(name, get(name), minimum)
    check_real("alpha", get("alpha"), 0.0)
    check_real("min_alpha", get("min_alpha"), 0.0, strict=False)
    check_real("sample", get("sample") or 0, 0.0, strict=False)
    check_real("ns_exponent", get("ns_exponent"), -np.inf)
    check_choice("weighting", model.weighting, WEIGHTINGS)
    if model.init_scale is not None:
        check_real("init_scale", model.init_scale, 0.0)
    check_real("max_weight", model.max_weight, 0.0)
    check_int("negative_share", model.negative_share, 1)
    if model.negative_draws is not None:
        check_real("negative_draws", model.negative_draws, 1.0, strict=False)
    check_choice("trainer", model.trainer, TRAINERS)
    if model.trainer == "gradient":
        if model.weighting != "uniform":
            raise ValueError(
                "trainer='gradient' descends the uniform loss ||W W^T - M*||^2, so it needs "
                f"weighting='uniform'. Got weighting={model.weighting!r}; use trainer='sgd' with it.")
        if not get("alpha") < 2.0:
            raise param_error("alpha", "a number > 0 and < 2 with trainer='gradient' (the step is "
                              "alpha / lambda_1, unstable from 2 on)", get("alpha"))
        if model.gradient_steps is not None:
            check_int("gradient_steps", model.gradient_steps, 1)
        check_real("gradient_tol", model.gradient_tol, 0.0)
        if not isinstance(model.gradient_refinement, (bool, np.bool_)):
            raise param_error("gradient_refinement", "True or False", model.gradient_refinement, TypeError)


def check_closed_form_arguments(dim, vocab_size, model_dim, replace, word_weights, kinds, weight_power, eig_power,
                                saturation=1.0, weighting="uniform", solve_steps=0):
    """The arguments of ``QWEM.analytic_solution``: `dim` eigen-directions of a `vocab_size`-word vocabulary,
    word weights of one of the `kinds`; the closed form's own options only with ``weighting='uniform'``."""
    check_int("vector_size", dim, 1)
    if dim >= vocab_size:
        raise ValueError(f"analytic_solution needs vector_size < vocabulary size ({vocab_size} words). "
                         f"Got vector_size={dim}; ask for fewer dimensions or use a larger vocabulary.")
    if replace and dim != model_dim:
        raise ValueError(f"replace=True needs vector_size == model.vector_size ({model_dim}). Got {dim} instead.")
    check_choice("word_weights", word_weights, kinds)
    check_real("weight_power", weight_power, -np.inf)
    check_real("eig_power", eig_power, -np.inf)
    check_real("saturation", saturation, 0.0)
    check_choice("weighting", weighting, WEIGHTINGS)
    check_int("solve_steps", solve_steps, 0)
    if weighting == "none":
        changed = [name for name, value, default in [("word_weights", word_weights, "uniform"),
                                                     ("eig_power", eig_power, 0.5), ("saturation", saturation, 1.0)]
                   if value != default]
        if changed:
            raise ValueError(f"{', '.join(changed)} apply to weighting='uniform' (the closed form) only; "
                             "weighting='none' solves the G-weighted loss from the plain closed form. Pass "
                             "weighting='uniform' with them, or leave them at their defaults.")


def negative_sampling_setting(model, negative=None, ns_exponent=None):
    """(k, ns_exponent) behind M*: the model's, or the closed form's own where given (validated)."""
    if negative is not None:
        check_real("negative", negative, 0.0)
    if ns_exponent is not None:
        check_real("ns_exponent", ns_exponent, -np.inf)
    return (model.negative if negative is None else negative,
            model.ns_exponent if ns_exponent is None else ns_exponent)


# ---------------------------------------------------------------------------------------------- corpora
def sentence_error(sentence, number=None):
    """The one TypeError for a sentence that is not a list of tokens (`number`: its place in the corpus)."""
    shown = "None" if sentence is None else f"a {type(sentence).__name__} {repr(sentence)[:40]}"
    which = "A sentence" if number is None else f"Sentence #{number}"
    return TypeError(
        f"{which} of the corpus is {shown}; every sentence must be a list of str tokens. "
        "Split text into words first, e.g. [line.split() for line in lines], use "
        "gensim.models.word2vec.LineSentence, and give an empty sentence as [] rather than None. "
        "(A corpus is an iterable of sentences, each a list of tokens.)")


def is_sentence(sentence):
    return not (sentence is None or isinstance(sentence, (str, bytes)) or not hasattr(sentence, "__len__"))


def checked_sentences(corpus):
    """Yield the sentences of `corpus`, raising :func:`sentence_error` for any that is not a list of tokens."""
    for number, sentence in enumerate(corpus):
        if not is_sentence(sentence):
            raise sentence_error(sentence, number)
        yield sentence


def check_tokens(tokens):
    """TypeError naming the first non-str token among `tokens` (vocabulary keys), if any."""
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError(
                f"The corpus contains the {type(token).__name__} token {token!r}; every token must be a str. "
                "Convert the tokens first, e.g. [[str(token) for token in sentence] for sentence in corpus], "
                "and drop None tokens.")


def not_utf8(error):
    """The same UnicodeDecodeError, with what to do about it."""
    return UnicodeDecodeError(
        error.encoding, error.object, error.start, error.end,
        f"{error.reason}. The corpus must be UTF-8 text: re-encode the file (e.g. iconv -f latin1 -t utf-8 "
        "old.txt > new.txt) or decode it yourself and pass lists of str tokens")


def is_one_shot(corpus):
    """True for iterators (generators, file objects...) that cannot be iterated twice."""
    return isinstance(corpus, GeneratorType) or iter(corpus) is corpus


def check_corpus(corpus_iterable, corpus_file):
    """Clear errors for corpora gensim would silently misread."""
    if isinstance(corpus_iterable, (str, bytes)):
        raise TypeError(
            "corpus_iterable must be an iterable of token lists, not a string. For a file on disk pass "
            f"corpus_file={corpus_iterable!r} or LineSentence({corpus_iterable!r}); for raw text "
            "pass [text.split()].")
    if corpus_file is not None:
        if is_remote(corpus_file):
            check_corpus_file(corpus_file)   # a URL, read through smart_open: opened once to fail early
        else:
            CorpusFiles(corpus_file)   # a file, a folder or a list of them: a clear error if not


def check_corpus_sanity(corpus_iterable, passes):
    """gensim's own checks of a training corpus, less its refusal of compressed corpus_file; `corpus_iterable`
    is the corpus as training will read it (files as :class:`~gensim_qwem.corpus.CorpusFiles`)."""
    if isinstance(corpus_iterable, GeneratorType) and passes > 1:
        raise TypeError(
            f"Using a generator as corpus_iterable can't support {passes} passes. Try a re-iterable sequence.")
    # gensim rejects generators for several passes; other one-shot iterators (iter(list), open files)
    # would silently give empty epochs after the first
    if passes > 1 and corpus_iterable is not None and is_one_shot(corpus_iterable):
        raise TypeError(
            f"Using a one-shot iterator ({type(corpus_iterable).__name__}) as corpus_iterable can't support "
            f"{passes} passes. Try a re-iterable sequence (a list, or LineSentence for a file).")


def check_one_corpus(corpus_iterable, corpus_file):
    """gensim's: exactly one of corpus_iterable and corpus_file, and an iterable one."""
    if corpus_file is None and corpus_iterable is None:
        raise TypeError("Either one of corpus_file or corpus_iterable value must be provided")
    if corpus_file is not None and corpus_iterable is not None:
        raise TypeError("Both corpus_file and corpus_iterable must not be provided at the same time")
    check_corpus(corpus_iterable, corpus_file)
    if corpus_iterable is not None and not isinstance(corpus_iterable, Iterable):
        raise TypeError(
            f"The corpus_iterable must be an iterable of lists of strings, got {corpus_iterable!r} instead")


def vocabulary_empty_error(min_count, source):
    return ValueError(
        f"No word occurs at least min_count={min_count} times ({source}), so the vocabulary "
        "is empty. Lower min_count or give a larger corpus.")
