"""Drop-in behaviour beyond gensim's own suite (test_gensim_suite.py): online vocabulary growth, lock factors,
gensim Word2Vec files loaded as QWEM, predict_output_word."""
import numpy as np
import pytest
import scipy.sparse
from gensim.models import Word2Vec
from gensim.test.utils import common_texts, datapath

from gensim_qwem import QWEM, _reference
from gensim_qwem._sgd import JobSettings, train_job
from gensim_qwem.closed_form import block_lanczos
from gensim_qwem.cooccurrence import PairStatistics, count_statistics
from gensim_qwem.online import Concatenated, grown_statistics
from gensim_qwem.target import alias_table

NEW = [["computer", "artificial", "intelligence"], ["artificial", "trees"], ["human", "intelligence"],
       ["artificial", "graph"], ["intelligence"], ["artificial", "intelligence", "system"]]
SMALL = dict(vector_size=4, min_count=1, workers=1, seed=5, epochs=2, sample=0)


def exact_statistics(model, *corpora):
    """A counted afresh from all the corpora under the model's (grown) vocabulary and sampling."""
    keep, window, shrink = model._sampling_scheme()
    return count_statistics(Concatenated(*corpora), model.wv.key_to_index, keep, window, shrink)


def test_update_keeps_old_words_and_weights_and_adds_counts():
    model = QWEM(common_texts, **SMALL)
    before, old_size = model.wv.vectors.copy(), len(model.wv)
    graph = model.wv.get_vecattr("graph", "count")
    model.build_vocab(NEW, update=True)
    assert model.wv.index_to_key[old_size:] == ["artificial", "intelligence"]
    np.testing.assert_array_equal(model.wv.vectors[:old_size], before)
    assert model.wv.get_vecattr("graph", "count") == graph + 1
    fresh = model.wv.vectors[old_size:].copy()
    assert fresh.shape == (2, 4) and np.all(np.isfinite(fresh)) and np.any(fresh != 0)
    model.train(NEW, total_examples=len(NEW), epochs=model.epochs)
    assert not np.allclose(model.wv.vectors[old_size:], fresh)


def test_pending_statistics_are_counted_exactly_from_both_corpora():
    """Statistics never counted before the update: the whole corpus under the grown vocabulary, exactly."""
    model = QWEM(common_texts, **SMALL)          # weighting='none': the statistics are still pending
    model.build_vocab(NEW, update=True)
    expected = exact_statistics(model, common_texts, NEW)
    assert abs(model.statistics.upper - expected.upper).max() == 0
    np.testing.assert_array_equal(model.statistics.word_counts, expected.word_counts)


def test_counted_statistics_merge_exactly_when_no_old_pair_is_missing():
    """Without subsampling, and with new words absent from the old corpus, R A R + A_new is the recount."""
    model = QWEM(common_texts, **SMALL)      # sample=0
    model.count_statistics(common_texts)
    model.build_vocab(NEW, update=True)
    expected = exact_statistics(model, common_texts, NEW)
    np.testing.assert_allclose(model.statistics.upper.toarray(), expected.upper.toarray(), rtol=1e-6)
    np.testing.assert_array_equal(model.statistics.word_counts, expected.word_counts)
    assert model.statistics.sentences == len(common_texts) + len(NEW)


def test_counted_statistics_miss_the_old_pairs_of_words_new_to_the_vocabulary():
    """The documented approximation: 'rare' was under min_count in the old corpus; its old pairs are missing."""
    old = [["a", "rare", "b"], ["a", "b", "c"]] * 3 + [["rare", "x"]]
    new = [["rare", "a"], ["rare", "b"]] * 5
    model = QWEM(old, vector_size=2, min_count=5, sample=0, workers=1, seed=1, epochs=1)
    model.count_statistics(old)
    assert "rare" not in model.wv     # 4 times in the old corpus
    model.build_vocab(new, update=True)   # 10 times in the new corpus alone: added
    merged, exact = model.statistics.cooccurrence.toarray(), exact_statistics(model, old, new).cooccurrence.toarray()
    rare, a = model.wv.key_to_index["rare"], model.wv.key_to_index["a"]
    only_new = exact_statistics(model, new).cooccurrence.toarray()
    assert merged[rare, a] == pytest.approx(only_new[rare, a]) and merged[rare, a] < exact[rare, a]
    b = model.wv.key_to_index["b"]
    assert merged[a, b] > exact[a, b]    # 'rare' was removed from "a rare b": a, b counted as neighbours


def test_grown_statistics_rescale_by_the_new_keep_probabilities():
    rng = np.random.default_rng(0)
    dense = np.triu(rng.random((5, 5)) * (rng.random((5, 5)) < 0.6))
    old_keep, new_keep = rng.uniform(0.2, 1.0, 5), rng.uniform(0.2, 1.0, 7)
    old = PairStatistics.from_upper(scipy.sparse.csr_matrix(dense), np.arange(5), 3, True, old_keep, sentences=4)
    grown = grown_statistics(old, 7, new_keep)
    ratio = new_keep[:5] / old_keep
    expected = np.zeros((7, 7))
    expected[:5, :5] = dense * np.outer(ratio, ratio)
    np.testing.assert_allclose(grown.upper.toarray(), expected, rtol=1e-6)
    np.testing.assert_array_equal(grown.word_counts, [0, 1, 2, 3, 4, 0, 0])
    assert grown.matches(new_keep, 3, True) and grown.sentences == 4
    with pytest.raises(ValueError, match="at least the old 5 words"):
        grown_statistics(old, 4, new_keep[:4])


@pytest.mark.parametrize("trainer", ["sgd", "gradient"])
def test_uniform_training_and_closed_form_after_an_update(planted_corpus, trainer):
    half = len(planted_corpus) // 2
    model = QWEM(planted_corpus[:half], vector_size=4, min_count=1, workers=1, seed=2, weighting="uniform",
                 trainer=trainer, epochs=2, gradient_steps=5, alpha=0.001 if trainer == "sgd" else 1.0)
    model.build_vocab(planted_corpus[half:] + [["t9w0", "t9w1"]] * 3, update=True)
    assert "t9w0" in model.wv
    model.train(planted_corpus[half:], total_examples=half, epochs=2)
    assert np.all(np.isfinite(model.wv.vectors))
    closed = model.analytic_solution()
    assert len(closed) == len(model.wv) and model.statistics.vocab_size == len(model.wv)


def test_update_from_freq_and_failed_update_leave_a_usable_model(tmp_path):
    model = QWEM(common_texts, **SMALL)
    before = (list(model.wv.index_to_key), model.wv.vectors.copy())
    with pytest.raises(FileNotFoundError):
        model.build_vocab(corpus_file=str(tmp_path / "missing.txt"), update=True)
    assert model.wv.index_to_key == before[0] and np.array_equal(model.wv.vectors, before[1])
    model.build_vocab_from_freq({"brand": 2, "graph": 1}, update=True)
    assert model.wv.index_to_key[-1] == "brand" and model.wv.get_vecattr("brand", "count") == 2
    with pytest.raises(RuntimeError, match="no prior vocabulary"):
        QWEM(**SMALL).build_vocab(NEW, update=True)


def test_lock_factors_in_the_kernel_match_the_reference():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((6, 4)).astype(np.float32) * 0.3
    indices = rng.integers(0, 6, 40).astype(np.int32)
    offsets = np.array([0, 20, 40], dtype=np.int64)
    noise = alias_table(np.full(6, 1 / 6))
    lockf = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 1.0], dtype=np.float32)
    ref, got = vectors.copy(), vectors.copy()
    _reference.train_job(ref, indices, offsets, np.zeros(6, np.uint32), False, noise, 2, False, 2, 0.05, 9,
                         lockf=lockf)
    train_job(JobSettings(np.zeros(6, np.uint32), False, noise, 2, False, 2, lockf=lockf), got, indices, offsets,
              0.05, 9, np.zeros(4, np.float32))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[[0, 4]], vectors[[0, 4]])     # locked words never move
    assert not np.allclose(got[2], vectors[2])


@pytest.mark.parametrize("settings", [{}, dict(weighting="uniform", gradient_steps=3)])
def test_locked_vectors_do_not_train(settings):
    model = QWEM(**SMALL, **settings)
    model.build_vocab(common_texts)
    model.wv.vectors_lockf = np.ones(len(model.wv), dtype=np.float32)
    model.wv.vectors_lockf[0] = 0.0
    locked, free = model.wv.vectors[0].copy(), model.wv.vectors[1].copy()
    model.train(common_texts, total_examples=len(common_texts), epochs=2)
    np.testing.assert_array_equal(model.wv.vectors[0], locked)
    assert not np.array_equal(model.wv.vectors[1], free)
    model.wv.vectors_lockf = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match="vectors_lockf must hold 1 or 12"):
        model.train(common_texts, total_examples=len(common_texts), epochs=1)


def test_a_gensim_word2vec_file_loads_as_qwem_and_trains_on(tmp_path):
    w2v = Word2Vec(common_texts, vector_size=4, min_count=1, sg=0, hs=1, negative=0, workers=1, seed=1)
    w2v.save(str(tmp_path / "w2v.model"))
    model = QWEM.load(str(tmp_path / "w2v.model"))
    assert type(model) is QWEM and (model.sg, model.hs, model.negative) == (1, 0, 5)
    np.testing.assert_array_equal(model.wv.vectors, w2v.wv.vectors)
    assert model.syn1neg is model.wv.vectors
    model.build_vocab(NEW, update=True)
    model.train(NEW, total_examples=len(NEW), epochs=1)
    assert np.all(np.isfinite(model.wv.vectors)) and "artificial" in model.wv
    old = QWEM.load(datapath("model-from-gensim-3.8.0.w2v"))   # gensim's own 3.8 file
    assert type(old) is QWEM and len(old.wv.vectors) == len(old.wv)


@pytest.mark.parametrize("ns_exponent", [0.75, 0.5, 1.0, 0.0, -0.5])
def test_noise_table_equals_gensims_own(ns_exponent):
    """make_cum_table (vectorised) gives gensim's uint32 table bit for bit, on a real vocabulary."""
    model = QWEM(vector_size=4, min_count=1, ns_exponent=ns_exponent, workers=1)
    model.build_vocab(corpus_file=datapath("lee_background.cor"))
    ours = model.cum_table.copy()
    Word2Vec.make_cum_table(model)
    assert len(ours) == len(model.wv) > 1000
    np.testing.assert_array_equal(ours, model.cum_table)
    assert ours[-1] == 2 ** 31 - 1


def test_predict_output_word_uses_the_tied_vectors():
    model = QWEM(common_texts, **SMALL)
    predictions = model.predict_output_word(["system", "human"], topn=5)
    assert len(predictions) == 5 and all(word in model.wv for word, _ in predictions)
    assert model.predict_output_word(["some", "random", "words"], topn=5) is None


def test_warm_started_eigensolve_agrees_with_the_cold_one(planted_corpus):
    model = QWEM(planted_corpus[:1000], vector_size=4, min_count=1, workers=1, seed=2)
    values, vectors = model.spectrum(4)
    model.build_vocab(planted_corpus[1000:], update=True)
    operator = model.target_operator()
    cold = block_lanczos(operator, 4, tol=1e-6, basis_size=32)
    warm = block_lanczos(operator, 4, tol=1e-6, basis_size=32, initial=vectors)
    np.testing.assert_allclose(warm[0], cold[0], rtol=1e-5)
    np.testing.assert_allclose(np.abs(warm[1].T @ cold[1]), np.eye(4), atol=1e-3)



@pytest.mark.parametrize("settings", [dict(sample=1e-4), dict(min_count=1, sample=0), dict(sample=1e-3, max_final_vocab=300),
                                      dict(sample=50, null_word=1), dict(sorted_vocab=0, ns_exponent=0.5, sample=1e-4)])
def test_build_vocab_gives_gensims_vocabulary_and_word_attributes(settings):
    """The vocabulary pass (QWEM's own set_vecattr loop) ends with Word2Vec's words, order and attribute
    arrays, also after an update with new words."""
    from gensim.models.word2vec import LineSentence
    corpus = list(LineSentence(datapath("lee_background.cor")))
    extra = [sentence + ["neverseenbefore%d" % (i % 7)] for i, sentence in enumerate(corpus[200:260])]
    gensim_model, qwem = Word2Vec(vector_size=10, **settings), QWEM(vector_size=10, **settings)
    for model in (gensim_model, qwem):
        model.build_vocab(corpus[:200])
        model.build_vocab(extra, update=True)
        assert "neverseenbefore3" in model.wv.key_to_index
    assert qwem.wv.index_to_key == gensim_model.wv.index_to_key
    assert sorted(qwem.wv.expandos) == sorted(gensim_model.wv.expandos)
    for attr, values in gensim_model.wv.expandos.items():
        assert qwem.wv.expandos[attr].dtype == values.dtype, attr
        np.testing.assert_array_equal(qwem.wv.expandos[attr], values, err_msg=attr)
    np.testing.assert_array_equal(qwem.cum_table, gensim_model.cum_table)
    assert "set_vecattr" not in vars(qwem.wv)     # the pass's own setter is gone again
