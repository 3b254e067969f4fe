"""How QWEM plugs into gensim's training: its overrides of Word2Vec's private vocabulary-scan, epoch, job and
worker methods, and the full-batch trainer that replaces them for ``trainer='gradient'`` (internals of
:meth:`gensim_qwem.QWEM.build_vocab` and :meth:`gensim_qwem.QWEM.train`, the public entry points).

gensim's own loops run unchanged: its producer thread fills a job queue, its worker threads call
``_do_train_job`` on each job and report to a progress queue that the caller's thread reads. QWEM wraps them:

- a job that raises (in a worker) or a corpus that raises (in the producer) is recorded once in the epoch's
  :class:`EpochRun`; the workers then skip the remaining jobs, so the queues drain and nobody blocks, and
  the caller re-raises the error with the weights of the last good epoch;
- an exception in the caller's thread (Ctrl-C) stops the producer and waits for every worker to finish,
  draining their reports, before it propagates;
- files (:class:`~gensim_qwem.corpus.CorpusFiles`) are cut into jobs natively, at the same sentences and
  learning rates as gensim's jobs of the same sentences.
"""
import logging
import queue
import threading
import time
from collections import defaultdict
from timeit import default_timer

import numpy as np

from gensim_qwem._encoding import sentences_to_indices
from gensim_qwem._sgd import train_job
from gensim_qwem._validation import check_corpus_sanity, check_one_corpus, check_tokens, checked_sentences
from gensim_qwem.corpus import CorpusFiles, IndexedJob, indexed_jobs, scan_corpus, table_for
from gensim_qwem.gradient import (FullBatchDescent, Refinement, modes_learned, settled, step_size,
                                  top_eigenvalue_estimate)
from gensim_qwem.sources import corpus_as_read

logger = logging.getLogger(__name__)

REAL = np.float32
# trainer='gradient' with gradient_steps=None stops when settled, or after this many steps
MAX_GRADIENT_STEPS = 2000


class TrainingDivergedError(FloatingPointError):
    """Training produced non-finite weights; the model keeps the weights of the last finite epoch."""


class EpochRun:
    """One epoch's threads (gensim's producer and workers): the first error any of them meets, and a way to
    stop them all."""

    def __init__(self):
        self.error = None
        self.threads = []
        self.progress_queue = None

    def register(self, progress_queue=None):
        """Called by each thread of the epoch as it starts (workers with their progress queue)."""
        self.threads.append(threading.current_thread())
        if progress_queue is not None:
            self.progress_queue = progress_queue

    def fail(self, error):
        """Record `error` unless an earlier one was: the producer stops, the workers skip their jobs."""
        self.error = self.error or error

    def until_failed(self, sentences):
        for sentence in sentences:
            if self.error is not None:  # a worker failed or the caller was interrupted
                return
            yield sentence

    def stop(self, error, workers):
        """Make the producer and the `workers` stop and wait until they have, draining their reports."""
        self.fail(error)
        deadline = time.monotonic() + 1.0  # threads that have not registered yet get a moment to start
        while any(thread.is_alive() for thread in self.threads) or (
                len(self.threads) <= workers and time.monotonic() < deadline):
            if self.progress_queue is None:
                time.sleep(0.01)
                continue
            try:  # nobody reads the workers' reports any more: drain them so that no worker blocks
                self.progress_queue.get(timeout=0.01)
            except queue.Empty:
                pass


class VecattrSetter:
    """``KeyedVectors.set_vecattr`` for one vocabulary pass: gensim's own call whenever the attribute's array is
    missing or of another length, or a value of a type not yet seen for it comes (gensim allocates, resizes
    and checks the type there, at every call); otherwise ``expandos[attr][index] = value`` straight away.
    The same arrays and errors as gensim's, without its per-call checks."""

    def __init__(self, wv):
        self.wv = wv
        self.checked = set()          # (attribute, value type) that gensim's own call has accepted

    def __call__(self, key, attr, val):
        wv = self.wv
        array = wv.expandos.get(attr)
        if array is None or len(array) != len(wv.index_to_key) or (attr, type(val)) not in self.checked:
            type(wv).set_vecattr(wv, key, attr, val)
            self.checked.add((attr, type(val)))
        else:
            array[wv.get_index(key)] = val


class GensimTraining:
    """QWEM's overrides of :class:`~gensim.models.word2vec.Word2Vec`'s internals (a mixin of QWEM): the
    vocabulary scan and corpus checks, the epochs, the jobs and their workers, and the full-batch trainer."""

    def _scan_vocab(self, sentences, progress_per, trim_rule):
        if isinstance(sentences, CorpusFiles) and not self.max_vocab_size:  # no pruning: all words counted
            return self._scan_vocab_native(sentences)
        total_words, corpus_count = super()._scan_vocab(checked_sentences(sentences), progress_per, trim_rule)
        check_tokens(self.raw_vocab)
        return total_words, corpus_count

    def _scan_vocab_native(self, corpus):
        """Word2Vec's vocabulary scan of files, read by the native reader: same counts, same word order."""
        def progress(raw_words, sentences, distinct):
            if default_timer() >= progress.next_report:
                logger.info("PROGRESS: at sentence #%i, processed %i words, keeping %i word types",
                            sentences, raw_words, distinct)
                progress.next_report = default_timer() + 5.0
        progress.next_report = default_timer() + 5.0
        if corpus.client is not None:
            from gensim_qwem.distributed import scan_vocabulary_on
            vocab, total_words, corpus_count = scan_vocabulary_on(corpus.client, corpus)
        else:
            vocab, total_words, corpus_count = scan_corpus(corpus, self.workers, progress)
        self.raw_vocab = defaultdict(int, vocab)
        return total_words, corpus_count

    def prepare_vocab(self, *args, **kwargs):
        """gensim's prepare_vocab, with each word's ``set_vecattr`` ('count', 'sample_int') a plain array store
        once its attribute's array has the vocabulary's length (:class:`VecattrSetter`): 0.7 s less at V = 68k."""
        self.wv.set_vecattr = VecattrSetter(self.wv)
        try:
            return super().prepare_vocab(*args, **kwargs)
        finally:
            del self.wv.set_vecattr

    def make_cum_table(self, domain=2**31 - 1):
        """gensim's table of the noise distribution, the same uint32 values without its per-word Python loop
        (0.75 s of build_vocab at V = 68k): cum_table[i] = round(sum_{w <= i} count_w^ns / Z * domain), the
        powers by Python's float pow and the running sum in gensim's order, Z its last value."""
        counts = self.wv.expandos["count"] if len(self.wv) else np.zeros(0)
        exponent = float(self.ns_exponent)
        cumulative = np.cumsum([float(count) ** exponent for count in counts.tolist()], dtype=np.float64)
        self.cum_table = np.zeros(len(cumulative), dtype=np.uint32)
        if len(cumulative):
            self.cum_table[:] = np.rint(cumulative / cumulative[-1] * domain)

    def _check_corpus_sanity(self, corpus_iterable=None, corpus_file=None, passes=1):
        # gensim's own checks, less its refusal of compressed corpus_file (QWEM reads files itself)
        check_one_corpus(corpus_iterable, corpus_file)
        check_corpus_sanity(corpus_as_read(corpus_iterable, corpus_file)[0], passes)

    def _lock_factors(self):
        """gensim's ``wv.vectors_lockf`` as float32 (word n's updates scaled by lockf[n % len]); None when all 1."""
        lockf = np.ascontiguousarray(getattr(self.wv, "vectors_lockf", np.ones(1)), dtype=REAL).ravel()
        if len(lockf) not in (1, len(self.wv)):
            raise ValueError(f"wv.vectors_lockf must hold 1 or {len(self.wv)} (one per word) lock factors. "
                             f"Got {len(lockf)} instead.")
        return None if np.all(lockf == 1.0) else lockf

    def _train_epoch(self, data_iterable, cur_epoch=0, total_examples=None, total_words=None, queue_factor=2,
                     report_delay=1.0, callbacks=()):
        last_good = self.wv.vectors.copy()
        loss_before = self.running_training_loss
        run = self._epoch = EpochRun()
        try:
            result = super()._train_epoch(data_iterable, cur_epoch=cur_epoch, total_examples=total_examples,
                                          total_words=total_words, queue_factor=queue_factor,
                                          report_delay=report_delay, callbacks=callbacks)
        except BaseException as error:  # e.g. Ctrl-C in the main thread: stop the threads before returning
            run.stop(error, self.workers)
            self.wv.vectors[...] = last_good
            self.wv.norms = None
            raise
        finally:
            self._epoch = None
        if run.error is not None:
            self.wv.vectors[...] = last_good
            raise run.error
        if not np.all(np.isfinite(self.wv.vectors)):
            self.wv.vectors[...] = last_good
            self.wv.norms = None
            raise TrainingDivergedError(
                f"QWEM training diverged in epoch {cur_epoch + 1} of {self.epochs} (alpha={self.alpha}, "
                f"weighting={self.weighting!r}): the weights became non-finite. The model keeps the weights "
                f"from before that epoch. Try a smaller alpha, e.g. alpha={self.alpha / 4:g}.")
        if result[1] == 0:
            raise ValueError(
                f"The training corpus gave no words in epoch {cur_epoch + 1}: it is empty, or a one-shot "
                "iterator (generator, iter(...), open file) that was already consumed, e.g. by build_vocab. "
                "Pass a non-empty re-iterable corpus (a list, LineSentence or corpus_file).")
        self.epoch_losses.append(self.running_training_loss - loss_before)
        return result

    def _train_epoch_corpusfile(self, corpus_file, cur_epoch=0, total_examples=None, total_words=None,
                                callbacks=(), **kwargs):
        # same job queue and kernel as corpus_iterable, reading the files natively
        return self._train_epoch(CorpusFiles(corpus_file), cur_epoch=cur_epoch, total_examples=total_examples,
                                 total_words=total_words, callbacks=callbacks)

    def _job_producer(self, data_iterator, job_queue, cur_epoch=0, total_examples=None, total_words=None):
        # a corpus that raises mid-epoch must reach the caller, not leave the workers waiting forever
        run = self._epoch
        run.register()
        try:
            if isinstance(data_iterator, CorpusFiles):
                return self._native_job_producer(data_iterator, job_queue, cur_epoch, total_examples, total_words)
            super()._job_producer(run.until_failed(checked_sentences(data_iterator)), job_queue,
                                  cur_epoch=cur_epoch, total_examples=total_examples, total_words=total_words)
        except BaseException as error:
            run.fail(error)
            for _ in range(self.workers):
                job_queue.put(None)

    def _native_job_producer(self, corpus, job_queue, cur_epoch, total_examples, total_words):
        """gensim's job producer for files: jobs indexed natively (:class:`IndexedJob`), cut at the same sentences
        and given the same learning rates as gensim's jobs of the same sentences from LineSentence."""
        jobs = indexed_jobs(corpus.blocks(), table_for(self.wv.key_to_index), self.batch_words,
                            corpus.max_sentence_length)
        pushed_words = pushed_examples = job_no = 0
        next_alpha = self._get_next_alpha(0.0, cur_epoch)
        for job in jobs:
            if self._epoch.error is not None:
                break
            job_queue.put((job, next_alpha))
            job_no += 1
            if total_examples:   # gensim's decay: by examples when their total is known, else by words
                pushed_examples += len(job)
                next_alpha = self._get_next_alpha(pushed_examples / total_examples, cur_epoch)
            else:
                pushed_words += job.raw_words
                next_alpha = self._get_next_alpha(pushed_words / total_words, cur_epoch)
        if job_no == 0 and self.train_count == 0:
            logger.warning("train() called with an empty corpus_file")
        for _ in range(self.workers):
            job_queue.put(None)

    def _worker_loop(self, job_queue, progress_queue):
        """gensim's worker loop, its thread known to the epoch (to wait for it after an interrupt)."""
        self._epoch.register(progress_queue)
        super()._worker_loop(job_queue, progress_queue)

    def _get_thread_working_mem(self):
        return np.zeros(self.wv.vector_size, dtype=REAL)

    def _do_train_job(self, sentences, alpha, work):
        """One job in a worker thread; an error is recorded for the caller (and the epoch's remaining jobs
        are skipped, so the queues drain) instead of ending the thread. Returns (effective, raw) words."""
        run = self._epoch
        if run.error is not None:
            return 0, 0
        try:
            return self._train_job(sentences, alpha, work)
        except BaseException as error:
            run.fail(error)
            return 0, 0

    def _train_job(self, sentences, alpha, work):
        """One job: tokens -> indices (GIL held), then the nogil kernel. Returns (effective, raw) words."""
        if isinstance(sentences, IndexedJob):
            indices, offsets, raw_words = sentences.indices, sentences.offsets, sentences.raw_words
        else:
            indices, offsets, raw_words = sentences_to_indices(sentences, self.wv.key_to_index)
        seed = int(self.random.integers(1, 2 ** 63))
        loss, effective, _ = train_job(self._job_settings, self.wv.vectors, indices, offsets, alpha, seed, work)
        if self.compute_loss:
            with self._loss_lock:
                self.running_training_loss += loss
        return effective, raw_words

    def _clear_post_train(self):
        self.wv.norms = None

    def _train_full_batch(self, corpus_iterable, corpus_file, compute_loss, callbacks):
        """trainer='gradient': full-batch steps on the expected uniform loss (:mod:`gensim_qwem.gradient`)."""
        self._count_training_statistics(corpus_iterable, corpus_file, passes_after=0)
        start = default_timer()
        operator = self.target_operator()
        lambda_1 = top_eigenvalue_estimate(operator, seed=self.seed)
        if lambda_1 <= 0:
            raise ValueError("M* has no positive eigenvalue, so the uniform loss is minimised by W = 0: the "
                             "corpus has too few co-occurring pairs. Give a larger corpus or a wider window.")
        descent, eta_max = FullBatchDescent(operator), self.alpha / lambda_1
        self.compute_loss = compute_loss
        self.epoch_losses = []
        for callback in callbacks:
            callback.on_train_begin(self)
        W, previous_sq, steps = self.wv.vectors.astype(np.float64), None, 0
        # refinement: None before every mode has switched on, a Refinement while it lowers the loss, False after
        refinement, floor, last_eta = None, 1e-6 * lambda_1, 0.0
        self.refined_steps = 0
        # ln(lambda_1 / s0^2), s0^2 = ||W||_F^2 / V: the energy of W along any one direction
        # (docs/theory.rst, "The dynamics")
        log_ratio = np.log(lambda_1 * len(W) / max(np.sum(W * W), np.finfo(float).tiny))
        next_report = default_timer() + 5.0
        logger.info("FULL-BATCH: steps up to %.3g = %g / lambda_1 (lambda_1 ~ %.4g), from t = %.4g",
                    eta_max, self.alpha, lambda_1, self.flow_time)
        while steps < (self.gradient_steps or MAX_GRADIENT_STEPS):
            for callback in callbacks:
                callback.on_epoch_begin(self)
            stepped = refinement.step() if refinement else None
            if stepped is None:
                if refinement:
                    logger.info("FULL-BATCH: no refinement step lowers the loss at step %i; plain steps again", steps)
                    refinement = False
                eta = step_size(self.flow_time, eta_max, log_ratio)
                stepped = descent.step(W, eta)
            else:   # refinement steps are not on the flow's clock: t goes on by the plain step (see flow_time)
                eta = eta_max
                self.refined_steps += 1
            W_next, loss, gram, relative_gradient = stepped
            if not np.all(np.isfinite(W_next)):   # the model keeps the last finite step's weights
                raise TrainingDivergedError(
                    f"QWEM full-batch training diverged at step {steps + 1} (alpha={self.alpha}): the weights "
                    "became non-finite. The model keeps the weights from before that step. Try a smaller alpha, "
                    f"e.g. alpha={self.alpha / 2:g}.")
            if self._lockf is not None:   # W += lockf * (W_next - W), word by word
                lock = np.resize(self._lockf, len(W))[:, None]
                W_next = W + lock * (W_next - W)
            W, steps = W_next, steps + 1
            self.wv.vectors[...] = W
            self.wv.norms = None
            self.flow_time += eta
            self.epoch_losses.append(loss)
            if compute_loss:
                self.running_training_loss = loss
            for callback in callbacks:
                callback.on_epoch_end(self)
            squares = np.linalg.eigvalsh(gram)
            # converged: a small gradient, and no mode still growing out of a saddle
            if self.gradient_steps is None and relative_gradient <= self.gradient_tol and previous_sq is not None \
                    and settled(previous_sq, squares, eta * lambda_1, self.gradient_tol, floor=floor):
                break
            # refinement keeps its own iterate and momentum, which lock factors would bypass: plain steps then
            if self.gradient_refinement and self._lockf is None and refinement is None and previous_sq is not None \
                    and modes_learned(previous_sq, squares, last_eta, floor, relative_gradient):
                logger.info("FULL-BATCH: every mode switched on by step %i (t = %.4g): preconditioned momentum "
                            "steps from here", steps, self.flow_time)
                refinement = Refinement(descent, W)
            previous_sq, last_eta = squares, eta
            if default_timer() >= next_report:
                logger.info("FULL-BATCH: %i steps, t = %.4g, loss %.6g, %.1fs", steps, self.flow_time, loss,
                            default_timer() - start)
                next_report = default_timer() + 5.0
        elapsed = default_timer() - start
        self.train_count += 1
        self.total_train_time += elapsed
        for callback in callbacks:
            callback.on_train_end(self)
        self.add_lifecycle_event("train", msg=f"{steps} full-batch gradient steps ({self.refined_steps} of them "
                                              f"refinement) to t = {self.flow_time:.4g} in {elapsed:.1f}s")
        return 0, 0
