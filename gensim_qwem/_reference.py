"""Slow, obvious numpy twins of the Cython kernels: the test oracle and the executable spec.

Each function consumes the same random stream (xorshift64*) as its kernel, in the same order,
so on the same input the two agree up to float32 rounding of BLAS sums.
"""
import numpy as np

MASK64 = (1 << 64) - 1


class XorShift64Star:
    """The kernels' random stream (``_random.pxd``)."""

    def __init__(self, seed):
        self.state = seed if seed != 0 else 0x9E3779B97F4A7C15

    def next_u64(self):
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & MASK64
        s ^= s >> 27
        self.state = s
        return (s * 2685821657736338717) & MASK64


def pair_weight(i, j, weighting):
    """psi_ij = min(c / G_ij, max_weight) with G = A + k (a Q^T + Q a^T) / 2; 1 when weighting is None."""
    if weighting is None:
        return 1.0
    g = weighting["A"][i, j] + 0.5 * weighting["negative"] * (
        weighting["pair_rate"][i] * weighting["noise"][j] + weighting["pair_rate"][j] * weighting["noise"][i])
    if g * weighting["max_weight"] <= weighting["scale"]:
        return weighting["max_weight"]
    return weighting["scale"] / g


def draw_noise(rng, threshold, alias):
    """The kernel's alias-method draw: column from the high 32 bits, coin from the low 32 bits."""
    r = rng.next_u64()
    column = ((r >> 32) * len(threshold)) >> 32
    return column if (r & 0xFFFFFFFF) < threshold[column] else int(alias[column])


def train_job(vectors, indices, offsets, sample_int, subsample, noise_table, window, shrink_windows,
              negative, alpha, seed, weighting=None, share=1, noise_draws=0, lockf=None):
    """Numpy twin of ``_sgd.train_job``; updates `vectors` in place, returns (loss, kept words, pairs)."""
    lock = (lambda word: 1.0) if lockf is None else (lambda word: np.float32(lockf[word % len(lockf)]))
    rng = XorShift64Star(seed)
    kept, kept_offsets = [], []
    for s in range(len(offsets) - 1):
        kept_offsets.append(len(kept))
        for p in range(offsets[s], offsets[s + 1]):
            if subsample and sample_int[indices[p]] < (rng.next_u64() >> 32):
                continue
            kept.append(int(indices[p]))
    kept_offsets.append(len(kept))
    threshold, alias = noise_table
    loss, pairs = 0.0, 0
    for s in range(len(offsets) - 1):
        lo, hi = kept_offsets[s], kept_offsets[s + 1]
        for i in range(lo, hi):
            reduced = rng.next_u64() % window if shrink_windows else 0
            center = kept[i]
            start, stop = max(lo, i - window + reduced), min(hi, i + window + 1 - reduced)
            contexts = [kept[j] for j in range(start, stop) if j != i]
            # runs of up to `share` contexts draw `noise_draws` (default k) noise words together, each
            # weighted by the run size * k / noise_draws
            draws = noise_draws or negative
            groups = [[(c, True, 1) for c in contexts[g:g + share]] for g in range(0, len(contexts), share)]
            for group in groups:
                run = len(group)
                for _ in range(draws):
                    group.append((draw_noise(rng, threshold, alias), False, run * (negative / draws)))
                work = np.zeros(vectors.shape[1], dtype=np.float32)
                for target, positive, multiplicity in group:
                    psi = multiplicity * pair_weight(center, target, weighting)
                    x = float(np.dot(vectors[center].astype(np.float64), vectors[target]))
                    if positive:
                        g = alpha * psi * (1 - x / 2)
                        loss += psi * (-x + x * x / 4)
                    else:
                        g = -alpha * psi * (1 + x / 2)
                        loss += psi * (x + x * x / 4)
                    work += np.float32(g) * vectors[target]           # centre's share, applied below
                    vectors[target] += np.float32(g * lock(target)) * vectors[center]  # w_t += lockf_t g w_c
                vectors[center] += np.float32(lock(center)) * work
                pairs += len(group)
    return loss, len(kept), pairs


def count_pairs(indices, offsets, keep_prob, window, shrink_windows, vocab_size):
    """Dense twin of the counting kernel + symmetrisation: A (V x V) of expected ordered pair counts.

    Enumerates every subsampling outcome of the in-between tokens implicitly through the same
    running distribution; without subsampling it is plain windowed counting.
    """
    weights = [(window - m) / window if shrink_windows else 1.0 for m in range(window)]
    right = np.zeros((vocab_size, vocab_size))
    for s in range(len(offsets) - 1):
        sentence = indices[offsets[s]:offsets[s + 1]]
        for a in range(len(sentence)):
            between = np.zeros(window)
            between[0] = 1.0
            for b in range(a + 1, len(sentence)):
                p_a = 1.0 if keep_prob is None else keep_prob[sentence[a]]
                p_b = 1.0 if keep_prob is None else keep_prob[sentence[b]]
                right[sentence[a], sentence[b]] += p_a * p_b * float(between @ weights)
                between = np.concatenate([[between[0] * (1 - p_b)], between[1:] * (1 - p_b) + between[:-1] * p_b])
    return right + right.T


def count_pairs_by_sampling(indices, offsets, keep_prob, window, shrink_windows, vocab_size, trials, seed=0):
    """Monte-Carlo check of the expectation: really subsample and shrink windows, count (centre, context)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((vocab_size, vocab_size))
    for _ in range(trials):
        for s in range(len(offsets) - 1):
            sentence = np.asarray(indices[offsets[s]:offsets[s + 1]])
            if keep_prob is not None:
                sentence = sentence[rng.random(len(sentence)) < keep_prob[sentence]]
            for i, center in enumerate(sentence):
                reduced = rng.integers(window) if shrink_windows else 0
                for j in range(max(0, i - window + reduced), min(len(sentence), i + window + 1 - reduced)):
                    if j != i:
                        counts[center, sentence[j]] += 1
    return counts / trials


def upper_target(A, pair_rate, noise, negative):
    """Upper triangle of S = 4 A / (A + B) on A's support, B_ij = k (a_i Q_j + a_j Q_i) / 2, as dense."""
    A = np.asarray(A.toarray() if hasattr(A, "toarray") else A, dtype=np.float64)
    B = 0.5 * negative * (np.outer(pair_rate, noise) + np.outer(noise, pair_rate))
    with np.errstate(invalid="ignore", divide="ignore"):
        S = np.where(A != 0, 4.0 * A / (A + B), 0.0)
    return np.triu(S)


def upper_row_sums(upper):
    """Row sums of the symmetric matrix U + U^T - diag(U) whose upper triangle U is given (dense)."""
    U = np.asarray(upper.toarray() if hasattr(upper, "toarray") else upper, dtype=np.float64)
    return (U + U.T - np.diag(np.diag(U))).sum(axis=1)


def target_products(A_upper, pair_rate, noise, negative, X):
    """S X with S = 4 A / (A + B) on A's support, from A's upper triangle (twin of target_matvec/matmat)."""
    U = upper_target(A_upper, pair_rate, noise, negative)
    return (U + U.T - np.diag(np.diag(U))) @ X


def lines_to_sentences(data, max_sentence_length=10000):
    """Sentences (lists of str) of bytes of text lines, as LineSentence reads them (the reader's spec)."""
    sentences = []
    for line in data.split(b"\n"):
        tokens = line.decode("utf-8").split()
        sentences.extend(tokens[i:i + max_sentence_length] for i in range(0, len(tokens), max_sentence_length))
    return sentences


def index_lines(data, key_to_index, max_sentence_length=10000):
    """Numpy twin of ``_corpus_reader.index_lines``: (indices, offsets, raw_lengths, raw words)."""
    indices, offsets, raw_lengths = [], [0], []
    for sentence in lines_to_sentences(data, max_sentence_length):
        indices.extend(key_to_index[token] for token in sentence if token in key_to_index)
        offsets.append(len(indices))
        raw_lengths.append(len(sentence))
    return (np.array(indices, dtype=np.int32), np.array(offsets, dtype=np.int64),
            np.array(raw_lengths, dtype=np.int32), sum(raw_lengths))


def scan_lines(data, max_sentence_length=10000):
    """Twin of ``_corpus_reader.scan_lines`` with a fresh counter: (dict word -> count in order of first
    occurrence, raw words, sentences)."""
    counts, raw, sentences = {}, 0, 0
    for sentence in lines_to_sentences(data, max_sentence_length):
        for token in sentence:
            counts[token] = counts.get(token, 0) + 1
        raw, sentences = raw + len(sentence), sentences + 1
    return counts, raw, sentences


def sum_triples_fixed(rows, cols, vals, size):
    """Twin of ``_cooccurrence.sum_triples_fixed``: each value rounded to units of 2**-32, then summed exactly.

    Returns the dense size x size int64 matrix of the sums."""
    total = np.zeros((size, size), dtype=np.int64)
    np.add.at(total, (rows, cols), np.floor(np.asarray(vals) * 2.0 ** 32 + 0.5).astype(np.int64))
    return total


def pair_gradient(A_upper, W, shift):
    """(A o (W W^T - shift)) W, sum A x^2 and sum A x for the symmetric A given by its upper triangle, dense
    (twin of ``_symmetric.pair_gradient_rows``)."""
    U = np.asarray(A_upper.toarray() if hasattr(A_upper, "toarray") else A_upper, dtype=np.float64)
    A = U + U.T - np.diag(np.diag(U))
    W = np.asarray(W, dtype=np.float64)
    X = W @ W.T
    return (A * (X - shift)) @ W, float(np.sum(A * X * X)), float(np.sum(A * X))
