"""gensim's own Word2Vec test suite (gensim/test/test_word2vec.py, from the installed gensim), run against QWEM.

The test file is loaded as a module of its own whose ``word2vec`` module is a copy of gensim's in which
``Word2Vec`` is :class:`DropIn`: QWEM forced to skip-gram with negative sampling (``sg=1, hs=0``,
``negative >= 1``), the only model QWEM is. Nothing of gensim's assertions is changed; the tests that
cannot apply to such a model are listed in NOT_APPLICABLE with the reason.
"""
import importlib.util
import sys
import types

import gensim.models.word2vec
import gensim.test
import pytest

from gensim_qwem import QWEM

pytestmark = pytest.mark.slow


class DropIn(QWEM):
    """QWEM under Word2Vec's name in gensim's tests: CBOW or hierarchical softmax requests become
    skip-gram with negative sampling (5 negatives where gensim was asked for none).

    `sample` defaults to Word2Vec's 1e-3, the value gensim's tests were calibrated with. QWEM's own
    default, 1e-4, was chosen on a 17M-token corpus; on Lee's 60k words it subsamples so hard that
    test_sg_neg's "'bombings' among the 50 nearest of 'attacks'" held for seed 1 only (ranks 36-79 over
    runs; 108-469 for seeds 2 and 3), where at 1e-3 the ranks were 8-19 over seeds 1-3 (gensim: 12-24).
    """

    def __init__(self, *args, sg=1, hs=0, negative=5, sample=1e-3, **kwargs):
        super().__init__(*args, sg=1, hs=0, negative=negative if negative >= 1 else 5, sample=sample, **kwargs)


def _gensim_tests():
    path = gensim.test.__path__[0] + "/test_word2vec.py"
    spec = importlib.util.spec_from_file_location("gensim_word2vec_tests_on_qwem", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    word2vec = types.ModuleType("word2vec_on_qwem")
    word2vec.__dict__.update(vars(gensim.models.word2vec))
    word2vec.Word2Vec = DropIn
    module.word2vec = word2vec       # gensim's tests reach the model as word2vec.Word2Vec
    module.load_on_instance.__globals__["word2vec"] = word2vec
    return module


_suite = _gensim_tests()

# Tests that cannot apply to a skip-gram negative-sampling model with tied weights, and why. Every other
# test of the file runs unchanged (the online-learning tests that gensim runs with CBOW or hs run here
# as skip-gram negative sampling, and pass).
HS = "hierarchical softmax (hs=1, negative=0), which has no quadratic form: "
CBOW = "CBOW (sg=0): "
NOT_APPLICABLE = {
    "test_vocab": HS + "checks the Huffman codes (wv 'code' attribute) that only hs builds",
    "test_training": HS + "checks the shape of syn1, the hs output layer",
    "test_training_from_file": HS + "checks the shape of syn1, the hs output layer",
    "test_training_cbow": CBOW + "with hs, checks syn1",
    "test_scoring": HS + "gensim's score() exists only for hs=1, negative=0 (it refuses negative sampling too)",
    "test_persistence_backwards_compatible": HS + "loads a gensim 3.8 hs model (which works: it loads as QWEM, "
                                             "test_drop_in.py) and then calls the hs-only score()",
    "test_train_hs_and_neg": HS + "expects hs=0, negative=0 to be refused and hs=1 with negative to warn",
    "test_predict_output_word": HS + "expects an hs-only model (negative=0) to refuse, and a model given only "
                                "KeyedVectors to lack context vectors, which with tied weights are the word "
                                "vectors themselves (the first part runs in test_drop_in.py)",
    "test_sg_hs": HS + "rank threshold calibrated for hs; the negative-sampling twin is test_sg_neg",
    "test_sg_hs_fromfile": HS + "rank threshold calibrated for hs; the twin is test_sg_neg_fromfile",
    "test_cbow_hs": CBOW + "alpha 0.1, window 2, 60 epochs, calibrated for CBOW with hs",
    "test_cbow_hs_fromfile": CBOW + "alpha 0.1, window 2, 60 epochs, calibrated for CBOW with hs",
    "test_cbow_neg": CBOW + "alpha 0.05, calibrated for averaged contexts (4x QWEM's alpha)",
    "test_cbow_neg_fromfile": CBOW + "alpha 0.05, calibrated for averaged contexts (4x QWEM's alpha)",
    "test_cbow_fixedwindowsize": CBOW + "alpha 0.1 with hs, calibrated for CBOW",
    "test_cbow_fixedwindowsize_fromfile": CBOW + "alpha 0.1, calibrated for CBOW",
    # not about the model: gensim's command-line script trains gensim's own Word2Vec in a subprocess
    "test_word2vec_stand_alone_script": "runs gensim's word2vec_standalone script, which imports gensim's own "
                                        "Word2Vec in a subprocess; QWEM's command line is tested in test_cli.py",
}
# Where QWEM chooses otherwise than gensim, on purpose; its own behaviour is tested in test_drop_in.py.
DELIBERATE = {
    "test_build_vocab_warning": "gensim logs a warning for sentences given as plain strings and trains on their "
                                "characters; QWEM raises a TypeError saying how to split them "
                                "(test_bad_input.py)",
}

for _name in ("TestWord2VecModel", "TestWMD", "TestWord2VecSentenceIterators", "TestWord2VecScripts"):
    _case = getattr(_suite, _name)
    globals()[_name] = type(_name, (_case,), {"__module__": __name__})
    for _test, _reason in {**NOT_APPLICABLE, **DELIBERATE}.items():
        if hasattr(_case, _test):
            setattr(globals()[_name], _test, pytest.mark.skip(reason=_reason)(getattr(_case, _test)))
del _name, _case, _test, _reason


def test_skip_lists_name_real_tests():
    """Every listed test exists in the installed gensim's file (a renamed test must not hide silently)."""
    names = {name for case in ("TestWord2VecModel", "TestWord2VecScripts") for name in dir(getattr(_suite, case))}
    assert set(NOT_APPLICABLE) | set(DELIBERATE) <= names
