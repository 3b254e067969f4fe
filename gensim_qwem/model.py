"""QWEM: a drop-in for :class:`gensim.models.Word2Vec` trained on the quadratic word embedding loss.

Orchestration only. The class keeps the model's state and calls: ``_validation`` (checks and their
messages), ``_lifecycle`` (counting the pair statistics when first needed; ``cooccurrence`` counts them),
``target`` (one cached :class:`~gensim_qwem.target.Target` per statistics and negative-sampling setting:
M*, Q, the SGD tables, eigenpairs), ``closed_form`` (embeddings, trajectory), ``training`` (its overrides
of gensim's training internals and the full-batch trainer) and ``persistence`` (files).
"""
import contextlib
import logging
import os
import threading

import numpy as np
from gensim.models.word2vec import MAX_WORDS_IN_BATCH, Word2Vec
from gensim.utils import PICKLE_PROTOCOL

from gensim_qwem._sgd import JobSettings
from gensim_qwem.training import GensimTraining, TrainingDivergedError  # noqa: F401 (public here)
from gensim_qwem._validation import (NO_PRIOR_VOCABULARY, TRAINERS, WEIGHTINGS, check_closed_form_arguments,  # noqa
                                     check_corpus, check_model_parameters, check_real, check_tokens,
                                     negative_sampling_setting, not_utf8, vocabulary_empty_error)
from gensim_qwem.baselines import keyed_vectors
from gensim_qwem.closed_form import (WORD_WEIGHTS, embeddings_from_eigenpairs, mode_onset_times, sgd_flow_time,
                                      singular_value_trajectory)
from gensim_qwem import online, persistence
from gensim_qwem import _lifecycle as lifecycle, _npz_state as npz_state
from gensim_qwem.corpus import CorpusFiles
from gensim_qwem.sources import corpus_as_read
from gensim_qwem.target import TargetCache
from gensim_qwem.weighted import SOLVE_STEPS, WeightedLoss, minimise

logger = logging.getLogger(__name__)

REAL = np.float32
# defaults that depend on the weighting (a None argument takes them): 'uniform' trains by full-batch
# gradient descent on its expected loss; with trainer='sgd' its weights c / G_ij reach max_weight on rare
# pairs (smaller alpha), and their steps cost more each (one draw per negative)
WEIGHTING_DEFAULTS = {"trainer": {"none": "sgd", "uniform": "gradient"},
                      "alpha": {"none": 0.0125, "uniform": 0.001},
                      "negative_draws": {"none": 1.6, "uniform": 1}}
# trainer='gradient': step eta = alpha / lambda_1 (stable below 2; 1 is Newton's step for the top mode)
GRADIENT_ALPHA = 1.0
# pairs among this many most frequent words read psi from a dense float32 block (16 MiB), not the hash tables
DENSE_WEIGHT_WORDS = 2048
# rebuilt on demand, never saved: locks, per-train settings, the epoch's threads, the Target cache, and what
# build_vocab kept to count the statistics when first needed (they are counted before any save or copy)
TRANSIENT = ("_pending_statistics", "_loss_lock", "_job_settings", "_epoch", "_targets", "_lockf")


class QWEM(GensimTraining, Word2Vec):
    """Quadratic word embedding model: skip-gram negative sampling with the loss expanded to second
    order and tied word/context vectors, whose trained embeddings are known in closed form.

    Takes :class:`~gensim.models.word2vec.Word2Vec`'s parameters with the same meaning; QWEM is always
    skip-gram with negative sampling (``sg=1, hs=0``). Only the parameters that differ are listed.

    Parameters
    ----------
    weighting : {'none', 'uniform'}
        ``'none'`` (default) weights all pair updates 1: the G-weighted factorisation
        ``sum_ij G_ij (w_i . w_j - M*_ij)^2``, the closer cousin of word2vec, stable at word2vec's
        learning rate and good in a few epochs. It has no closed form: :meth:`analytic_solution` is
        *not* its end point (on gensim's Lee corpus the two Gram matrices are ~1.0 apart, relatively).
        ``'uniform'`` weights each pair by ``c / G_ij`` so that training minimises
        ``||W W^T - M*||_F^2`` and converges to :meth:`analytic_solution` (see `trainer`).
    trainer : {'gradient', 'sgd'}, optional
        How training minimises its objective. ``'sgd'`` streams the corpus pair by pair as word2vec does
        (`epochs` passes, learning rate decayed from `alpha` to `min_alpha`); the default with
        weighting='none'. ``'gradient'`` (the default with weighting='uniform', which it requires) counts
        the pair statistics in one pass over the corpus, then takes full-batch gradient steps on the
        expected uniform loss, ``W += eta (M* W - W W^T W) / 2`` with ``eta`` up to ``alpha / lambda_1``
        (smaller while the top modes switch on; :mod:`gensim_qwem.gradient`): the update uniform SGD
        makes on average, without its variance. From the random start it learns the eigen-directions one
        after the other along the predicted ``s_k(t)`` (``t`` is ``model.flow_time``). Each step is an
        "epoch" for the callbacks; `epochs`, `min_alpha` and `max_weight` do not apply. Its end point is
        :meth:`analytic_solution`.
    gradient_steps : int, optional
        trainer='gradient': steps per :meth:`train` call. Default (None): until converged (see
        `gradient_tol`), at most 2000.
    gradient_tol : float
        trainer='gradient': converged when ``||M* W - W W^T W||_F <= gradient_tol ||W W^T W||_F`` and no
        squared singular value of W moves by more than `gradient_tol` of itself per unit of ``lambda_1``
        time (so that a mode still growing out of a saddle keeps training going).
    gradient_refinement : bool
        trainer='gradient': once every mode of W has switched on (each squared singular value between
        lambda / 1.5 and 2 lambda, and a relative gradient <= 0.05: after every onset), go on with
        preconditioned heavy-ball steps (:class:`gensim_qwem.gradient.Refinement`), each taken only if
        it lowers the loss. Plain steps rotate the nearly equal eigen-directions at the cut d into place
        at a rate set by ``lambda_1``; these converge at a rate set by the modes' own size
        (measurements: :doc:`/benchmarks`, "Why the defaults").
        Those steps are not on the gradient flow's clock: ``flow_time`` goes on by the plain step
        ``alpha / lambda_1`` per step, as a step count on the flow's scale; ``model.refined_steps`` counts
        them (last :meth:`train` call). False: plain steps throughout.
    init_scale : float
        Standard deviation of the initial Gaussian weights. Small values make the stepwise,
        one-direction-at-a-time learning visible; the closed form does not depend on it.
    negative_share : int
        How many consecutive context words of a centre share one set of `negative` noise draws, each
        draw weighted by the number sharing it. Same expected update, hence the same closed form and
        dynamics, with fewer vector updates: ``m (1 + k / r)`` instead of ``m (1 + k)`` per centre with
        m contexts. 1 draws per (centre, context) pair as word2vec does; large values take larger,
        noisier steps on the negatives.
    negative_draws : float, optional
        Draws per negative: each group of contexts draws ``round(negative * negative_draws)`` noise words,
        each weighted ``negative / draws``. The same expected update (so the same objective, closed form
        and dynamics; `negative` still sets the negative rates B) with less noise, for more vector
        updates per centre. Default (None): 1.6 with weighting='none' (8 draws for negative=5), where the
        noise of the negatives limits what a few epochs reach; 1 with 'uniform', whose weighted steps
        cost more each (measurements: :doc:`/benchmarks`, "Why the defaults").
    max_weight : float
        Cap on the uniform pair weight ``c / G_ij``; pairs of two rare words would otherwise take
        steps large enough to diverge. Pairs below the cap are weighted exactly.
    alpha : float, optional
        With trainer='gradient': the step as a fraction of ``1 / lambda_1`` (default 1, stable below 2;
        smaller steps follow the continuous-time trajectory ``s_k(t)`` more closely). With trainer='sgd':
        the initial learning rate, decayed linearly to `min_alpha` as in Word2Vec; default (None) 0.0125
        with weighting='none' (half word2vec's), 0.001 with weighting='uniform' (its weights reach
        `max_weight` on rare pairs). Measurements: :doc:`/benchmarks`, "Why the defaults".
    sample : float
        Subsampling threshold, as in Word2Vec. The default 1e-4 is a tenth of word2vec's, with fewer
        (kept) words to train on (measurements: :doc:`/benchmarks`, "Why the defaults").
    """

    def __init__(
            self, sentences=None, corpus_file=None, vector_size=100, alpha=None, window=5, min_count=5,
            max_vocab_size=None, sample=1e-4, seed=1, workers=3, min_alpha=0.0001,
            sg=1, hs=0, negative=5, ns_exponent=0.75, cbow_mean=1, hashfxn=hash, epochs=5, null_word=0,
            trim_rule=None, sorted_vocab=1, batch_words=MAX_WORDS_IN_BATCH, compute_loss=False, callbacks=(),
            comment=None, max_final_vocab=None, shrink_windows=True,
            weighting="none", init_scale=None, max_weight=100.0, negative_share=1, negative_draws=None,
            trainer=None, gradient_steps=None, gradient_tol=1e-3, gradient_refinement=True,
    ):
        self.weighting = weighting
        self.trainer = WEIGHTING_DEFAULTS["trainer"].get(weighting, "sgd") if trainer is None else trainer
        if alpha is None:
            alpha = GRADIENT_ALPHA if self.trainer == "gradient" else WEIGHTING_DEFAULTS["alpha"].get(
                weighting, WEIGHTING_DEFAULTS["alpha"]["none"])
        self.gradient_steps = gradient_steps
        self.gradient_tol = gradient_tol
        self.gradient_refinement = gradient_refinement
        self.refined_steps = 0   # of the last train() call's full-batch steps, how many were refinement steps
        self.flow_time = 0.0
        self.negative_share = negative_share
        self.negative_draws = negative_draws
        self.init_scale = init_scale
        self.max_weight = max_weight
        self.statistics = None
        self.epoch_losses = []
        self._loss_lock = threading.Lock()
        self._epoch = None
        self._check_model_parameters(sg=sg, hs=hs, vector_size=vector_size, window=window, negative=negative,
                                     epochs=epochs, workers=workers, alpha=alpha, min_alpha=min_alpha,
                                     sample=sample, ns_exponent=ns_exponent, min_count=min_count)
        super().__init__(
            sentences=sentences, corpus_file=corpus_file, vector_size=vector_size, alpha=alpha, window=window,
            min_count=min_count, max_vocab_size=max_vocab_size, sample=sample, seed=seed, workers=workers,
            min_alpha=min_alpha, sg=sg, hs=hs, negative=negative, ns_exponent=ns_exponent, cbow_mean=cbow_mean,
            hashfxn=hashfxn, epochs=epochs, null_word=null_word, trim_rule=trim_rule, sorted_vocab=sorted_vocab,
            batch_words=batch_words, compute_loss=compute_loss, callbacks=callbacks, comment=comment,
            max_final_vocab=max_final_vocab, shrink_windows=shrink_windows,
        )

    # ------------------------------------------------------------------ parameters
    def _check_model_parameters(self, **overrides):
        """Validate hyper-parameters where they are used (users change attributes between calls)."""
        check_model_parameters(self, **overrides)

    def _noise_draws(self):
        """Noise words drawn per group of contexts: round(negative * negative_draws), at least `negative`."""
        draws = self.negative_draws
        if draws is None:  # 1.6 with weighting='none': 8 draws for k = 5 (docs/benchmarks.rst, "Why the defaults")
            draws = WEIGHTING_DEFAULTS["negative_draws"][self.weighting]
        return max(int(self.negative), int(round(self.negative * float(draws))))

    def _effective_init_scale(self):
        """Default init: gensim's per-entry spread, N(0, 1 / (3 d^2)) ~ uniform(-1/d, 1/d)."""
        if self.init_scale is not None:
            return float(self.init_scale)
        return 1.0 / (np.sqrt(3.0) * self.wv.vector_size)

    # ------------------------------------------------------------------ tied weights
    @property
    def syn1neg(self):
        """The context vectors, which with tied weights are the very same array as ``wv.vectors``."""
        return self.wv.vectors

    @property
    def init_sq(self):
        """The initial squared singular value s_0^2 = d * init_scale^2 that the trajectory starts from."""
        return self.wv.vector_size * self._effective_init_scale() ** 2

    def init_weights(self):
        """Gaussian N(0, init_scale^2) weights, seeded by `seed`; one matrix for words and contexts."""
        logger.info("resetting layer weights")
        rng = np.random.default_rng(self.seed)
        self.wv.vectors = (rng.standard_normal((len(self.wv), self.wv.vector_size))
                           * self._effective_init_scale()).astype(REAL)
        self.wv.allocate_vecattrs()
        self.wv.norms = None
        self.random = np.random.default_rng(self.seed)

    def update_weights(self):
        """After ``build_vocab(update=True)``: the old weights stay, the new words get ``init_weights``' draws."""
        if not len(self.wv.vectors):
            raise RuntimeError(NO_PRIOR_VOCABULARY)
        old_size = len(self.wv.vectors)
        rows = online.new_rows(len(self.wv) - old_size, self.wv.vector_size, self._effective_init_scale(),
                               seed=(self.seed, len(self.wv)))
        self.wv.vectors = np.vstack([self.wv.vectors, rows])
        lockf = np.asarray(getattr(self.wv, "vectors_lockf", np.ones(1, dtype=REAL)))
        if len(lockf) == old_size > 1:   # per-word lock factors: the new words train freely
            self.wv.vectors_lockf = np.concatenate([lockf, np.ones(len(rows), dtype=lockf.dtype)])
        self.wv.allocate_vecattrs()
        self.wv.norms = None

    # ------------------------------------------------------------------ vocabulary + statistics
    def build_vocab(self, corpus_iterable=None, corpus_file=None, update=False, progress_per=10000,
                    keep_raw_vocab=False, trim_rule=None, client=None, **kwargs):
        """Build the vocabulary as Word2Vec does; the pair statistics are counted when first needed.

        The statistics (:attr:`statistics`) need a second pass over the corpus and memory of the order of
        the number of distinct pairs. Training with ``weighting='none'`` does not use them, so they are
        counted from this corpus only when first needed: by the closed form and spectrum methods, by
        training with ``weighting='uniform'``, or by saving, pickling or copying the model (so that they
        always travel with it). The corpus must then still be readable. For a one-shot iterator they are
        counted from the training corpus of a ``weighting='uniform'`` run, or by :meth:`count_statistics`.

        With a ``dask.distributed.Client`` as `client` (and `corpus_file`), the vocabulary scan, and later the
        pair counting, run shard by shard on its workers (:mod:`gensim_qwem.distributed`), with the same result.

        ``update=True`` grows the vocabulary as Word2Vec does (new words appended, old weights kept, new
        words initialised as by :meth:`init_weights`). Statistics already counted become
        ``R A R + A_new`` over the grown vocabulary, A_new counted from this corpus now: approximate for
        the old corpus (its pairs with the new words are missing; see :mod:`gensim_qwem.online`).
        Statistics still pending are counted, when first needed, from all the corpora under the grown
        vocabulary. The closed form is then solved anew (a start from the last eigenvectors was slower;
        :doc:`/benchmarks`, "Why the defaults").
        """
        self._check_model_parameters()
        check_corpus(corpus_iterable, corpus_file)
        corpus_iterable, corpus_file = corpus_as_read(corpus_iterable, corpus_file)
        if client is not None:
            if not isinstance(corpus_iterable, CorpusFiles):
                raise TypeError("build_vocab(client=...) counts files on the cluster: pass corpus_file, not "
                                "corpus_iterable.")
            if self.max_vocab_size:
                raise ValueError("max_vocab_size prunes the vocabulary while scanning, which a distributed scan "
                                 "cannot reproduce; use min_count or max_final_vocab with client=...")
            corpus_iterable.client = client
        if update and not len(self.wv):
            raise RuntimeError(NO_PRIOR_VOCABULARY)
        previous = self._snapshot_vocab()
        grown_from = (self._statistics, getattr(self, "_pending_statistics", None))   # what an update grows
        try:  # a failure anywhere (vocabulary or statistics pass) leaves the previous model as it was
            super().build_vocab(corpus_iterable=corpus_iterable, corpus_file=corpus_file, update=update,
                                progress_per=progress_per, keep_raw_vocab=keep_raw_vocab, trim_rule=trim_rule,
                                **kwargs)
            self._check_vocabulary_not_empty()
            if update:
                scheme = self._sampling_scheme()
                statistics, pending = lifecycle.grown(
                    *grown_from, corpus_iterable, lambda corpus: lifecycle.count(
                        corpus, self.wv, scheme, self.workers, self.corpus_total_words), len(self.wv), scheme)
            else:
                statistics, pending = None, lifecycle.PendingCount.of(corpus_iterable)
            self.statistics = statistics
            self._pending_statistics = pending
        except BaseException as error:
            self._restore_vocab(previous)
            if isinstance(error, UnicodeDecodeError):
                raise not_utf8(error) from error
            raise

    def _check_vocabulary_not_empty(self, source=None):
        if len(self.wv) == 0:
            source = source or f"corpus of {self.corpus_total_words} words in {self.corpus_count} sentences"
            raise vocabulary_empty_error(self.min_count, source)

    def build_vocab_from_freq(self, word_freq, keep_raw_vocab=False, corpus_count=None, trim_rule=None,
                              update=False):
        """As Word2Vec's; pair statistics are counted from the training corpus when first needed."""
        self._check_model_parameters()
        if update and not len(self.wv):
            raise RuntimeError(NO_PRIOR_VOCABULARY)
        check_tokens(word_freq)
        previous = self._snapshot_vocab()
        try:
            super().build_vocab_from_freq(word_freq, keep_raw_vocab=keep_raw_vocab, corpus_count=corpus_count,
                                          trim_rule=trim_rule, update=update)
            self._check_vocabulary_not_empty(f"word_freq of {len(word_freq)} words")
        except BaseException:
            self._restore_vocab(previous)
            raise
        self.statistics = None

    def _snapshot_vocab(self):
        """What build_vocab may change, so that a failed build leaves the very same objects as they were: the
        model's attributes (a shallow copy: gensim assigns new values) and copies of its wv's containers
        (gensim rebuilds those in place: new lists and dicts, in-place writes to its word attributes)."""
        wv = dict(self.wv.__dict__, index_to_key=list(self.wv.index_to_key),
                  key_to_index=dict(self.wv.key_to_index),
                  expandos={name: np.array(values) for name, values in self.wv.expandos.items()})
        return dict(self.__dict__), wv

    def _restore_vocab(self, snapshot):
        attributes, wv = snapshot
        self.__dict__.clear()
        self.__dict__.update(attributes)
        self.wv.__dict__.clear()
        self.wv.__dict__.update(wv)

    def _sampling_scheme(self):
        """(keep probabilities, window, shrink_windows) exactly as the trainer samples pairs."""
        return lifecycle.sampling_scheme(self.wv, self.sample, self.window, self.shrink_windows)

    @property
    def statistics(self):
        """The :class:`~gensim_qwem.cooccurrence.PairStatistics` (A, unigram counts, sampling settings), or None.

        Counted from the :meth:`build_vocab` corpus on first access; set to replace or drop them.
        """
        return self._counted_statistics()

    @statistics.setter
    def statistics(self, value):
        self._statistics = value
        self._pending_statistics = None
        self._targets = None   # what was derived from the previous statistics (their operator holds A)

    def _counted_statistics(self):
        """The statistics, counted now if build_vocab left them pending: where the model needs them (closed
        form, spectrum, weighting='uniform' training, save and copies), it calls this."""
        pending = getattr(self, "_pending_statistics", None)
        if self._statistics is None and pending is not None:
            self.statistics = pending.count(self._count)
        return self._statistics

    def _count(self, corpus, workers=None, client=None):
        """Statistics of `corpus` under the model's vocabulary and sampling: on the dask client given, or the
        one build_vocab(client=...) attached to the files, else on `workers` threads (default the model's)."""
        return lifecycle.count(corpus, self.wv, self._sampling_scheme(), workers or self.workers,
                               self.corpus_total_words, client or getattr(corpus, "client", None))

    def count_statistics(self, corpus_iterable=None, corpus_file=None, workers=None, client=None):
        """(Re)count the pair statistics A of a corpus under the current vocabulary and sampling settings.

        Returns the :class:`~gensim_qwem.cooccurrence.PairStatistics`, also stored as ``self.statistics``.
        With a ``dask.distributed.Client`` as `client`, the files of `corpus_file` are counted shard by shard
        on its workers (:mod:`gensim_qwem.distributed`); the result is the same, bit for bit.
        """
        if not self.wv.key_to_index:
            raise RuntimeError("You must build the vocabulary (build_vocab) before counting pair statistics.")
        check_corpus(corpus_iterable, corpus_file)
        corpus_iterable, corpus_file = corpus_as_read(corpus_iterable, corpus_file)
        if corpus_iterable is None:
            raise TypeError("Pass corpus_iterable or corpus_file to count pair statistics.")
        self.statistics = self._count(corpus_iterable, workers, client)
        return self.statistics

    def _current_statistics(self):
        return lifecycle.checked(self._counted_statistics(), self._sampling_scheme())

    def target_operator(self, negative=None, ns_exponent=None):
        """M* of this model's statistics and sampling settings, as a ``LinearOperator``.

        See docs/theory.rst, "The target matrix M*".

        `negative` / `ns_exponent` replace the model's k and noise exponent in B (the closed form's own
        setting, :meth:`analytic_solution`)."""
        return self._target(negative, ns_exponent).operator

    def _target(self, negative=None, ns_exponent=None, statistics=True):
        """The cached :class:`~gensim_qwem.target.Target` of the statistics (counted now if pending; False:
        whatever is there, without counting) and the negative-sampling setting (default: the model's)."""
        setting = negative_sampling_setting(self, negative, ns_exponent)
        stats = self._current_statistics() if statistics else self._statistics
        if getattr(self, "_targets", None) is None:
            self._targets = TargetCache()
        return self._targets.get(stats, self.wv.expandos["count"], *setting,
                                 own=setting == (self.negative, self.ns_exponent))

    # ------------------------------------------------------------------ closed form
    def analytic_solution(self, vector_size=None, replace=False, tol=1e-3, word_weights="uniform",
                          weight_power=0.25, eig_power=0.5, negative=None, ns_exponent=None, saturation=1.0,
                          weighting=None, solve_steps=SOLVE_STEPS):
        """The embeddings training converges to, from the pair statistics.

        ``weighting='uniform'``: the closed form ``W = D^{-1/2} U_d diag(max(lambda, 0) ** eig_power)``. (lambda,
        U_d) are the top-d eigenpairs by signed value of ``D^{1/2} M* D^{1/2}``, D = diag(g) the word weights.
        With ``eig_power=0.5`` W minimises ``sum_ij g_i g_j (w_i . w_j - M*_ij)^2`` over all V x d matrices
        (Karkada et al. 2025, Prop. 2; docs/theory.rst, "The closed form", when g = 1).

        ``weighting='none'``: W minimises the G-weighted loss ``sum_ij G_ij (w_i . w_j - M*_ij)^2``, G = A + B,
        the expected loss of ``weighting='none'`` training (psi = 1, the second-order expansion of word2vec's
        own loss). It has no closed form: `solve_steps` preconditioned L-BFGS steps from the closed form above
        (g = 1, eig_power 0.5) approach it (docs/theory.rst, "The G-weighted solution"). On enwiki17m it is the
        more accurate of the two (:doc:`/benchmarks`, "Why the defaults").

        Parameters
        ----------
        vector_size : int, optional
            Number of eigen-directions d (default: the model's ``vector_size``).
        replace : bool
            Also write W into the model's weights, so ``model.wv`` evaluates it and training continues
            from it (requires ``vector_size`` equal to the model's).
        tol : float
            Relative accuracy of the Lanczos eigensolver.
        word_weights : {'uniform', 'pair-rate', 'geometric'}
            g of the rank-one pair weights ``g_i g_j`` (:func:`~gensim_qwem.closed_form.word_weights`).
            ``'uniform'`` (default, g = 1) is the paper's Setting 3.1, ``||W W^T - M*||_F^2``: the end
            point of ``weighting='uniform'`` training and of the dynamics (:meth:`spectrum`).
            ``'pair-rate'``: ``g_i = a_i ** weight_power`` with a_i = sum_j A_ij the word's positive-pair
            rate; ``'geometric'``: ``g_i = (a_i Q_i) ** (weight_power / 2)`` (how they compare:
            :doc:`/benchmarks`, "Why the defaults").
        weight_power : float
            Exponent of the non-uniform word weights (ignored for 'uniform').
        eig_power : float
            p of ``lambda ** p``: 0.5 is the minimiser above; other values rescale the learned directions
            (hyperwords' ``U S^p``) and minimise no loss of their own.
        negative, ns_exponent : float, optional
            The negative-sampling setting behind M* (k and the exponent of Q in ``B_ij = k (a_i Q_j + a_j
            Q_i) / 2``); default: the model's ``negative`` and ``ns_exponent``. Another value gives the
            closed form of a model trained with that setting, from the same statistics (A does not depend
            on it), but not the end point of training this model (how settings compare:
            :doc:`/benchmarks`, "Why the defaults").
        saturation : float
            c of the factorised target ``M*_c = 2c tanh(PMI_k / (2c))``, PMI_k = log(A / B) (word2vec's
            optimum, Levy & Goldberg 2014). 1 (default) is M* = 2 (A - B) / (A + B) itself, the quadratic
            model's target and the end point of training; c > 1 squashes strong associations less (c -> inf
            would factorise PMI_k itself), c < 1 more. W then minimises ``sum_ij g_i g_j (w_i . w_j -
            M*_c,ij)^2`` (docs/theory.rst, "Saturation of the target").
        weighting : {'none', 'uniform'}, optional
            Whose end point: the per-pair weights of the loss, as the model's own ``weighting`` (its default).
            word_weights, weight_power, eig_power and saturation apply to ``'uniform'`` only.
        solve_steps : int
            L-BFGS steps of ``weighting='none'`` (each one pass over A's stored entries, more where the line
            search backtracks; about 1.3 s at 17M tokens on 2 cores; 0 returns the start, the uniform closed form).

        Returns
        -------
        gensim.models.KeyedVectors
            Same vocabulary and order as ``model.wv``.
        """
        dim = self.wv.vector_size if vector_size is None else vector_size
        weighting = self.weighting if weighting is None else weighting
        check_closed_form_arguments(dim, len(self.wv), self.wv.vector_size, replace, word_weights, WORD_WEIGHTS,
                                    weight_power, eig_power, saturation, weighting, solve_steps)
        setting = negative_sampling_setting(self, negative, ns_exponent)
        eigenvalues, eigenvectors, weights = self._closed_form_spectrum(dim, tol, word_weights, weight_power, setting,
                                                                        saturation)
        vectors = embeddings_from_eigenpairs(eigenvalues, eigenvectors, eig_power, weights)
        if weighting == "none" and solve_steps:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)     # the float64 start is not kept
            vectors, _ = minimise(WeightedLoss(self._target(*setting).operator), vectors, solve_steps, overwrite=True)
        kv = self._keyed_vectors(vectors)
        if replace:
            self.wv.vectors[...] = kv.vectors
            self.wv.norms = None
        return kv

    def _closed_form_spectrum(self, k, tol, word_weights, weight_power, setting, saturation=1.0):
        """Top-k eigenpairs of D^{1/2} M*_c D^{1/2} and g (None when uniform), from the target's cache."""
        values, vectors, weights = self._target(*setting).eigenpairs(k, tol, self.seed, word_weights, weight_power,
                                                                     saturation)
        self.eigenvalues_ = values   # lambda' of the last closed form, as spectrum() leaves lambda
        return values, vectors, weights

    def _keyed_vectors(self, weights):
        """KeyedVectors with this model's vocabulary, order and word attributes, holding `weights`."""
        kv = keyed_vectors(self.wv.index_to_key, weights)
        kv.expandos = {key: np.array(value) for key, value in self.wv.expandos.items()}
        return kv

    # ------------------------------------------------------------------ spectrum and dynamics
    def spectrum(self, k=None, tol=1e-3):
        """Top-`k` eigenpairs of M* by signed value: (eigenvalues, decreasing; eigenvectors, V x k).

        Eigenvector ``u_k`` holds each word's loading on direction k (rows in ``wv.index_to_key``
        order). Cached until the statistics or ``negative``/``ns_exponent`` change; a smaller `k` is
        served from a larger cached solve (e.g. :meth:`eigen_features` after :meth:`analytic_solution`).
        """
        k = self.wv.vector_size if k is None else k
        eigenvalues, eigenvectors, _ = self._target().eigenpairs(k, tol, self.seed)
        self.eigenvalues_ = eigenvalues
        return eigenvalues, eigenvectors

    def eigen_features(self, k=10, topn=10):
        """For each of the top-`k` eigen-directions of M*, the `topn` words with the largest loadings.

        Returns a list of `k` lists of (word, loading); the paper reads these as topics.
        """
        _, eigenvectors = self.spectrum(k)
        features = []
        for column in eigenvectors[:, :k].T:
            top = np.argsort(-column)[:topn]
            features.append([(self.wv.index_to_key[i], float(column[i])) for i in top])
        return features

    def pair_weight_scale(self, operator=None):
        """c = sum(G) / V^2: the uniform weights are psi_ij = c / G_ij, averaging 1 over all V^2 cells."""
        if operator is None:
            return self._target().scale
        return operator.weight_sum() / float(len(self.wv)) ** 2

    def theory_time(self, epochs_done=None, alpha=None, min_alpha=None, epochs=None):
        """Gradient-flow time t reached after `epochs_done` epochs of uniform-weighted training.

        With trainer='gradient' the time is exact and kept as it goes: this returns ``model.flow_time``.
        With trainer='sgd' it is :func:`~gensim_qwem.closed_form.sgd_flow_time` of the model's c; defaults:
        the model's own settings, end of training.
        """
        if self.trainer == "gradient":
            if epochs_done is not None:
                raise ValueError("theory_time(epochs_done) maps SGD epochs to time; with trainer='gradient' "
                                 "the time reached is model.flow_time (step eta per full-batch step).")
            return self.flow_time
        epochs = self.epochs if epochs is None else epochs
        return sgd_flow_time(self.pair_weight_scale(), epochs if epochs_done is None else epochs_done,
                             self.alpha if alpha is None else alpha,
                             self.min_alpha if min_alpha is None else min_alpha, epochs)

    def mode_onset_times(self, k=None, init_sq=None):
        """tau_k = ln(lambda_k / s_0^2) / lambda_k: theory time at which eigen-direction k is learned."""
        eigenvalues, _ = self.spectrum(k)
        return mode_onset_times(eigenvalues, self.init_sq if init_sq is None else init_sq)

    def predicted_singular_values(self, times, k=None, init_sq=None):
        """s_k(t) for each time in `times` (shape len(times) x k), from small aligned initialisation."""
        eigenvalues, _ = self.spectrum(k)
        return singular_value_trajectory(eigenvalues, self.init_sq if init_sq is None else init_sq,
                                         np.atleast_1d(times))

    def predicted_embeddings(self, t, k=None, init_sq=None):
        """W(t) = U_k diag(s_k(t)) as KeyedVectors: the embedding the theory predicts at time t."""
        _, eigenvectors = self.spectrum(k)
        return self._keyed_vectors(eigenvectors * self.predicted_singular_values([t], k, init_sq)[0])

    # ------------------------------------------------------------------ training
    def train(self, corpus_iterable=None, corpus_file=None, total_examples=None, total_words=None,
              epochs=None, start_alpha=None, end_alpha=None, word_count=0, queue_factor=2, report_delay=1.0,
              compute_loss=False, callbacks=(), **kwargs):
        """Train as :meth:`gensim.models.Word2Vec.train` does, with the QWEM update.

        The update is that of docs/theory.rst, "The loss".

        `corpus_file` is read with :class:`~gensim.models.word2vec.LineSentence` through the same
        job queue as `corpus_iterable`, so both give identical results for the same seed. After each
        epoch the weights are checked; non-finite weights raise :class:`TrainingDivergedError` and
        the weights of the last finite epoch are restored.

        With trainer='gradient' the corpus is read once, for the pair statistics (and not at all when
        they exist), then full-batch steps run (see the class's `trainer`); `epochs`, `start_alpha`,
        `end_alpha` and `total_examples` do not apply, callbacks see one epoch per step, and the return
        value is (0, 0): no word is trained pair by pair.
        """
        self._check_model_parameters(epochs=epochs if epochs is not None else self.epochs)
        if start_alpha is not None:
            check_real("start_alpha", start_alpha, 0.0)
        if end_alpha is not None:
            check_real("end_alpha", end_alpha, 0.0, strict=False)
        check_corpus(corpus_iterable, corpus_file)
        corpus_iterable, corpus_file = corpus_as_read(corpus_iterable, corpus_file)
        if epochs is None and self.trainer == "sgd":   # before gensim's train sets self.epochs = None
            raise ValueError("You must specify an explicit epochs count. The usual value is epochs=model.epochs.")
        if not self.wv.key_to_index:
            raise RuntimeError("You must first build the vocabulary (build_vocab) before training the model.")
        self._lockf = self._lock_factors()
        if self.trainer == "gradient":
            return self._train_full_batch(corpus_iterable, corpus_file, compute_loss, callbacks)
        weights = None
        if self.weighting == "uniform":   # psi_ij = c / G_ij: counts the statistics first if missing
            self._count_training_statistics(corpus_iterable, corpus_file, passes_after=self.epochs)
            weights = self._target().uniform_weights(self.max_weight, DENSE_WEIGHT_WORDS)
        target = self._target(statistics=self.weighting == "uniform")
        self._job_settings = JobSettings(
            self.wv.expandos["sample_int"], bool(self.sample), target.noise_table, self.window,
            self.shrink_windows, self.negative, int(self.negative_share), self._noise_draws(), weights, self._lockf)
        self.epoch_losses = []
        return super().train(
            corpus_iterable=corpus_iterable, corpus_file=corpus_file, total_examples=total_examples,
            total_words=total_words, epochs=epochs, start_alpha=start_alpha, end_alpha=end_alpha,
            word_count=word_count, queue_factor=queue_factor, report_delay=report_delay,
            compute_loss=compute_loss, callbacks=callbacks, **kwargs)

    def _count_training_statistics(self, corpus_iterable, corpus_file, passes_after):
        """Count the statistics from the training corpus if they are missing or stale.

        `passes_after`: how many more passes training makes over the corpus (a one-shot iterator allows none).
        """
        statistics = self._counted_statistics()   # those of the build_vocab corpus, where pending
        if statistics is not None and statistics.matches(*self._sampling_scheme()):
            return
        source = lifecycle.training_source(corpus_iterable, corpus_file, passes_after)
        logger.info("counting pair statistics for weighting='uniform'")
        counted = self._count(source)
        lifecycle.check_not_empty(counted)
        self.statistics = counted

    # ------------------------------------------------------------------ persistence
    def save(self, fname_or_handle, separately=None, sep_limit=10 * 1024**2, ignore=frozenset(),
             pickle_protocol=PICKLE_PROTOCOL):
        """Save in gensim's format (as :meth:`gensim.models.Word2Vec.save`), atomically.

        The file and its side files are written under temporary names and switched into place in one
        :func:`os.replace`, so a crash or a full disk mid-save leaves the previous save loadable
        (:func:`gensim_qwem.persistence.atomic_save`). Side files are named
        ``fname.gen-<hex>.<attribute>.npy`` rather than ``fname.<attribute>.npy``.

        gensim's format is a pickle, and loading a pickle executes code from the file: load such files
        only from sources you trust. :meth:`save_npz` writes a format that loads without pickle.
        """
        self._counted_statistics()   # statistics still pending from build_vocab are counted, then saved
        persistence.atomic_save(self, fname_or_handle, in_generation=self._side_files_named, separately=separately,
                                sep_limit=sep_limit, ignore=ignore, pickle_protocol=pickle_protocol)

    @contextlib.contextmanager
    def _side_files_named(self, stem):
        """While atomic_save pickles this model, its state records the name its side files are written under."""
        self._side_files_stem = stem
        try:
            yield
        finally:
            del self._side_files_stem

    @classmethod
    def load(cls, *args, **kwargs):
        """Load a model saved with :meth:`save` (``fname``, ``mmap`` as gensim's ``load``).

        This unpickles the file, which executes code chosen by whoever wrote it: load only files you
        trust. Use :meth:`load_npz` for files from elsewhere.

        Raises :class:`gensim_qwem.persistence.ModelFileError` (a ValueError) for a truncated or
        corrupted file or side file.
        """
        if args and isinstance(args[0], os.PathLike):  # gensim's load takes str paths only
            args = (os.fspath(args[0]),) + args[1:]
        with persistence.damaged_file_errors(args[0] if args else kwargs.get("fname")):
            model = super().load(*args, **kwargs)
            return model if isinstance(model, QWEM) else cls._from_word2vec(model)

    @classmethod
    def _from_word2vec(cls, model):
        """A gensim Word2Vec (any version gensim loads) as this class: its word vectors become the tied
        weights; its context layer (syn1neg / syn1) is dropped, and CBOW or hs become skip-gram with
        negative sampling, so training goes on as QWEM from the word vectors."""
        logger.warning("loaded a gensim %s model (sg=%s, hs=%s, negative=%s): QWEM keeps its word vectors as the "
                       "tied weights and drops its context vectors; further training is QWEM skip-gram with "
                       "negative sampling", type(model).__name__, model.sg, model.hs, model.negative)
        state = {name: value for name, value in vars(model).items() if name not in ("syn1neg", "syn1")}
        state.update(sg=1, hs=0, negative=model.negative or 5, cbow_mean=1)
        converted = cls.__new__(cls)
        converted.__setstate__(state)
        converted.__dict__.setdefault("_statistics", None)
        defaults = dict(weighting="none", init_scale=None, max_weight=100.0, negative_share=1,
                        epoch_losses=[])
        for name, value in defaults.items():
            converted.__dict__.setdefault(name, value)
        if not isinstance(converted.random, np.random.Generator):
            converted.random = np.random.default_rng(converted.seed)
        return converted

    def save_npz(self, path, compress=False):
        """Save without pickle, as numpy arrays and a JSON header (:func:`gensim_qwem.persistence.save_npz`)."""
        statistics = self._counted_statistics()   # statistics still pending from build_vocab are counted, then saved
        header, arrays = npz_state.contents(self, statistics)
        persistence.write_npz(path, header, arrays, compress=compress)

    @classmethod
    def load_npz(cls, path):
        """Load a model written by :meth:`save_npz`; runs no code from the file (``allow_pickle=False``).

        Raises :class:`gensim_qwem.persistence.ModelFileError` (a ValueError) for files it did not write.
        """
        header, arrays = persistence.read_npz(path)
        try:
            return npz_state.build(cls, header, arrays)
        except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as error:
            raise persistence.not_a_model_file(
                path, f"its contents are inconsistent ({type(error).__name__}: {error})") from error

    def _save_specials(self, fname, separately, sep_limit, ignore, pickle_protocol, compress, subname):
        ignore = set(ignore).union(TRANSIENT)
        if separately is not None:  # syn1neg is wv.vectors (tied), stored with wv; it is no attribute to set aside
            separately = [name for name in separately if name != "syn1neg"]
        return super()._save_specials(fname, separately, sep_limit, ignore, pickle_protocol, compress, subname)

    def _load_specials(self, fname, *args, **kwargs):
        # the generation name recorded by save (files of earlier versions: "_side_stem")
        stem = self.__dict__.pop("_side_files_stem", None) or self.__dict__.pop("_side_stem", None)
        super()._load_specials(persistence.side_files_base(fname, stem), *args, **kwargs)
        if not isinstance(self.random, np.random.Generator):
            self.random = np.random.default_rng(self.seed)

    def __getstate__(self):
        self._counted_statistics()   # pickles and copies carry the statistics, never the corpus
        state = self.__dict__.copy()
        for name in TRANSIENT:
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        if "statistics" in state:  # files saved before statistics became a property
            state["_statistics"] = state.pop("statistics")
        state.setdefault("negative_draws", 1)  # files saved before negative_draws: one draw, as they trained
        # files saved before the full-batch trainer trained weighting='uniform' by SGD
        state.setdefault("trainer", "sgd")
        state.setdefault("gradient_steps", None)
        state.setdefault("gradient_tol", 1e-3)
        state.setdefault("gradient_refinement", False)   # files saved before it: plain steps throughout
        state.setdefault("refined_steps", 0)
        state.setdefault("flow_time", 0.0)
        self.__dict__.update(state)
        self._pending_statistics = None
        self._loss_lock = threading.Lock()
        self._epoch = None


persistence.register_npz_class(QWEM)
