# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""UTF-8 text lines -> vocabulary indices (or token counts), with no Python object per token; GIL released.

Tokens are split exactly as gensim's LineSentence splits them: ``line.decode('utf-8').split()`` for each
line ending in b"\\n", every character for which ``str.isspace()`` holds separating tokens, a line cut into
sentences of at most `max_sentence_length` tokens, and a line without tokens giving no sentence.
Invalid UTF-8 is reported (as LineSentence's strict decoding would fail on it).

Python twin: ``gensim_qwem._reference.index_lines`` / ``scan_lines``.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy


cdef extern from *:
    """
    #include <string.h>
    /* bytes p[0:n] (n <= 8) as one word, zero above them: the same word for the same bytes on any machine.
       `room`: bytes readable from p; with 8 of them, one unaligned load (masked on little-endian CPUs). */
    static inline uint64_t qwem_token_word(const unsigned char *p, int64_t n, int64_t room) {
        uint64_t w = 0;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (room >= 8) {
            memcpy(&w, p, 8);
            return n >= 8 ? w : w & ((1ULL << (8 * n)) - 1);
        }
    #endif
        memcpy(&w, p, n < 8 ? (size_t)n : 8);
        return w;
    }
    /* whether a[:n] == b[:n], a word at a time (tokens are short: a call to memcmp costs more than this) */
    static inline int qwem_same_bytes(const unsigned char *a, const unsigned char *b, int64_t n) {
        for (; n >= 8; a += 8, b += 8, n -= 8) {
            uint64_t x, y;
            memcpy(&x, a, 8); memcpy(&y, b, 8);
            if (x != y) return 0;
        }
        for (; n > 0; n--) if (*a++ != *b++) return 0;
        return 1;
    }
    #if defined(__GNUC__)
    #define qwem_prefetch(p) __builtin_prefetch((p), 0)
    #else
    #define qwem_prefetch(p) ((void)(p))
    #endif
    /* a token's hash: its bytes a word (qwem_token_word) at a time into a multiply-xorshift mix, then its
       length; `room` as above */
    static inline uint64_t qwem_token_hash(const unsigned char *p, int64_t n, int64_t room) {
        uint64_t h = 0x9E3779B97F4A7C15ULL;
        for (int64_t k = 0; k < n; k += 8) {
            h = (h ^ qwem_token_word(p + k, n - k, room - k)) * 0xBF58476D1CE4E5B9ULL;
            h ^= h >> 31;
        }
        h = (h ^ (uint64_t)n) * 0x94D049BB133111EBULL;
        return h ^ (h >> 29);
    }
    """
    uint64_t qwem_token_word(const unsigned char *p, int64_t n, int64_t room) noexcept nogil
    void qwem_prefetch(const void *p) noexcept nogil
    int qwem_same_bytes(const unsigned char *a, const unsigned char *b, int64_t n) noexcept nogil
    uint64_t qwem_token_hash(const unsigned char *p, int64_t n, int64_t room) noexcept nogil


cdef struct Slot:
    uint64_t hash
    uint64_t prefix     # the token's first 8 bytes (qwem_token_word): shorter tokens compare here alone
    int64_t offset      # of the token's bytes in the table's blob
    int32_t length
    int32_t id          # -1: empty slot


# ASCII bytes by what they are to the tokeniser: TOKEN_BYTE, SPACE (str.isspace(), not b"\n"), LINE_END;
# the rest (>= 0x80) NON_ASCII, for space_length / utf8_length to read
DEF TOKEN_BYTE = 0
DEF SPACE = 1
DEF LINE_END = 2
DEF NON_ASCII = 3
cdef unsigned char BYTE_KIND[256]
for _byte in range(256):
    BYTE_KIND[_byte] = (NON_ASCII if _byte >= 0x80 else LINE_END if _byte == 10
                        else SPACE if _byte == 32 or 9 <= _byte <= 13 or 28 <= _byte <= 31 else TOKEN_BYTE)


cdef inline int space_length(const unsigned char *p, const unsigned char *end) noexcept nogil:
    """bytes of the str.isspace() character that starts at p (not b"\\n", the line end); 0 if none"""
    cdef unsigned char c = p[0]
    if c < 0x80:
        return 1 if (c == 32 or 9 <= c <= 13 or 28 <= c <= 31) else 0
    if c == 0xC2:     # U+0085, U+00A0
        return 2 if p + 1 < end and (p[1] == 0x85 or p[1] == 0xA0) else 0
    if p + 2 >= end:
        return 0
    if c == 0xE1:     # U+1680
        return 3 if p[1] == 0x9A and p[2] == 0x80 else 0
    if c == 0xE2:     # U+2000-200A, U+2028, U+2029, U+202F, U+205F
        if p[1] == 0x80 and (0x80 <= p[2] <= 0x8A or p[2] == 0xA8 or p[2] == 0xA9 or p[2] == 0xAF):
            return 3
        return 3 if p[1] == 0x81 and p[2] == 0x9F else 0
    if c == 0xE3:     # U+3000
        return 3 if p[1] == 0x80 and p[2] == 0x80 else 0
    return 0


cdef inline int utf8_length(const unsigned char *p, const unsigned char *end) noexcept nogil:
    """bytes of the character at p as Python's strict UTF-8 decoder reads it; -1 if it rejects them"""
    cdef unsigned char c = p[0]
    cdef int n, k
    cdef unsigned char lo = 0x80, hi = 0xBF
    if c < 0x80:
        return 1
    if c < 0xC2:
        return -1
    if c < 0xE0:
        n = 2
    elif c < 0xF0:
        n = 3
        if c == 0xE0:
            lo = 0xA0           # no overlong forms
        elif c == 0xED:
            hi = 0x9F           # no surrogates
    elif c < 0xF5:
        n = 4
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F           # nothing above U+10FFFF
    else:
        return -1
    if p + n > end or p[1] < lo or p[1] > hi:
        return -1
    for k in range(2, n):
        if p[k] < 0x80 or p[k] > 0xBF:
            return -1
    return n


cdef class TokenTable:
    """Open-addressing hash table of UTF-8 tokens -> ids 0, 1, ... in order of insertion, with a count each.

    Built from a vocabulary (``TokenTable(wv.index_to_key)``: id = vocabulary index) for indexing, or
    empty and filled by :func:`scan_lines` for the vocabulary scan (ids in order of first occurrence).
    """
    cdef Slot *slots
    cdef uint64_t mask
    cdef int32_t size
    cdef unsigned char *blob
    cdef int64_t blob_size, blob_capacity
    cdef int64_t *counts
    cdef int64_t *offsets
    cdef int32_t *lengths
    cdef int32_t capacity       # of counts / offsets / lengths
    cdef uint64_t hash_mask     # the hash bits used (all but for tests, which make tokens collide)

    def __cinit__(self, keys=(), int hash_bits=64):
        if not 0 <= hash_bits <= 64:
            raise ValueError(f"hash_bits must be in [0, 64], got {hash_bits}")
        self.hash_mask = 0xFFFFFFFFFFFFFFFF if hash_bits == 64 else (1 << hash_bits) - 1
        self.mask = 1023
        self.slots = <Slot *>malloc((self.mask + 1) * sizeof(Slot))
        self.blob_capacity = 1 << 16
        self.blob = <unsigned char *>malloc(self.blob_capacity)
        self.capacity = 512
        self.counts = <int64_t *>calloc(self.capacity, sizeof(int64_t))
        self.offsets = <int64_t *>malloc(self.capacity * sizeof(int64_t))
        self.lengths = <int32_t *>malloc(self.capacity * sizeof(int32_t))
        if not (self.slots and self.blob and self.counts and self.offsets and self.lengths):
            raise MemoryError("could not allocate a token table")
        cdef uint64_t s
        for s in range(self.mask + 1):
            self.slots[s].id = -1
        cdef bytes encoded
        for key in keys:
            encoded = key.encode("utf-8", "surrogatepass")
            if self.insert(encoded, len(encoded), len(encoded)) != self.size - 1:
                raise ValueError(f"the vocabulary holds the token {key!r} twice")
            if self.size < 0:
                raise MemoryError("could not grow a token table")

    def __dealloc__(self):
        free(self.slots); free(self.blob); free(self.counts); free(self.offsets); free(self.lengths)

    def __len__(self):
        return self.size

    cdef int grow_slots(self) noexcept nogil:
        cdef uint64_t new_mask = 2 * self.mask + 1, s, h
        cdef Slot *new_slots = <Slot *>malloc((new_mask + 1) * sizeof(Slot))
        if new_slots == NULL:
            return -1
        for s in range(new_mask + 1):
            new_slots[s].id = -1
        for s in range(self.mask + 1):
            if self.slots[s].id >= 0:
                h = self.slots[s].hash & new_mask
                while new_slots[h].id >= 0:
                    h = (h + 1) & new_mask
                new_slots[h] = self.slots[s]
        free(self.slots)
        self.slots, self.mask = new_slots, new_mask
        return 0

    cdef inline uint64_t hash(self, const unsigned char *p, int64_t n, int64_t room) noexcept nogil:
        """the token p[:n]'s hash (qwem_token_hash; `room`: bytes readable from p)"""
        return qwem_token_hash(p, n, room) & self.hash_mask

    cdef inline void prefetch(self, uint64_t h) noexcept nogil:
        """bring the first slot of a token with hash h towards the cache"""
        qwem_prefetch(&self.slots[h & self.mask])

    cdef inline int32_t find(self, const unsigned char *p, int64_t n, uint64_t h, uint64_t prefix) noexcept nogil:
        """id of the token p[:n] with hash h and first word `prefix` (qwem_token_word), -1 if absent"""
        cdef uint64_t s = h & self.mask
        while self.slots[s].id >= 0:
            if (self.slots[s].hash == h and self.slots[s].prefix == prefix and self.slots[s].length == n
                    and (n <= 8 or qwem_same_bytes(self.blob + self.slots[s].offset + 8, p + 8, n - 8))):
                return self.slots[s].id
            s = (s + 1) & self.mask
        return -1

    cdef int32_t insert(self, const unsigned char *p, int64_t n, int64_t room) noexcept nogil:
        """id of the token p[:n], added (count 0) if absent; -2 when out of memory. `room`: bytes readable
        from p (>= n; the hash reads whole words where it can)."""
        return self.insert_hashed(p, n, self.hash(p, n, room), qwem_token_word(p, n, room))

    cdef int32_t insert_hashed(self, const unsigned char *p, int64_t n, uint64_t h, uint64_t prefix) noexcept nogil:
        """insert() of a token whose hash and first word are known"""
        cdef uint64_t s
        cdef int32_t found = self.find(p, n, h, prefix)
        cdef void *q
        if found >= 0:
            return found
        if 2 * (<uint64_t>self.size + 1) > self.mask + 1 and self.grow_slots() < 0:
            return -2
        if self.blob_size + n > self.blob_capacity:
            q = realloc(self.blob, 2 * (self.blob_capacity + n))
            if q == NULL:
                return -2
            self.blob, self.blob_capacity = <unsigned char *>q, 2 * (self.blob_capacity + n)
        if self.size == self.capacity:
            if self.grow_arrays() < 0:
                return -2
        memcpy(self.blob + self.blob_size, p, n)
        s = h & self.mask
        while self.slots[s].id >= 0:
            s = (s + 1) & self.mask
        self.slots[s].hash, self.slots[s].prefix, self.slots[s].offset = h, prefix, self.blob_size
        self.slots[s].length, self.slots[s].id = <int32_t>n, self.size
        self.offsets[self.size], self.lengths[self.size], self.counts[self.size] = self.blob_size, <int32_t>n, 0
        self.blob_size += n
        self.size += 1
        return self.size - 1

    cdef int grow_arrays(self) noexcept nogil:
        cdef int32_t capacity = 2 * self.capacity
        cdef void *q = realloc(self.counts, capacity * sizeof(int64_t))
        if q == NULL:
            return -1
        self.counts = <int64_t *>q
        q = realloc(self.offsets, capacity * sizeof(int64_t))
        if q == NULL:
            return -1
        self.offsets = <int64_t *>q
        q = realloc(self.lengths, capacity * sizeof(int32_t))
        if q == NULL:
            return -1
        self.lengths = <int32_t *>q
        self.capacity = capacity
        return 0

    def absorb(self, TokenTable other):
        """Add `other`'s tokens and counts to this table: its tokens that are new here get the next ids, in
        `other`'s order. For the scans of consecutive parts of a corpus, in order, this gives the scan of the
        whole: every token once, in order of first occurrence, with its total count."""
        cdef int32_t k, index = 0
        if other is self:
            raise ValueError("a token table cannot absorb itself")
        with nogil:
            for k in range(other.size):
                index = self.insert(other.blob + other.offsets[k], other.lengths[k],
                                    other.blob_size - other.offsets[k])
                if index < 0:
                    break
                self.counts[index] += other.counts[k]
        if index < 0:
            raise MemoryError("ran out of memory while merging the vocabulary scans")

    def words(self):
        """The tokens (str) in id order."""
        return [(self.blob[self.offsets[i]:self.offsets[i] + self.lengths[i]]).decode("utf-8", "surrogatepass")
                for i in range(self.size)]

    def counts_array(self):
        """Occurrences counted by :func:`scan_lines` (int64), in id order."""
        out = np.empty(self.size, dtype=np.int64)
        cdef int64_t[::1] view = out
        if self.size:
            memcpy(&view[0], self.counts, self.size * sizeof(int64_t))
        return out


cdef struct Lines:
    # what one pass over a block of lines found
    int64_t raw_words
    int64_t sentences
    int64_t kept            # in-vocabulary tokens written
    int64_t error_at        # offset of the first invalid UTF-8 byte, -1 if none
    int error


cdef inline void close_sentence(Lines *out, int64_t tokens, bint scan, int64_t *offsets,
                                int32_t *raw_lengths) noexcept nogil:
    """end the open sentence of `tokens` raw tokens (offsets[s + 1] = kept tokens so far, raw_lengths[s])"""
    if not scan:
        offsets[out.sentences + 1] = out.kept
        raw_lengths[out.sentences] = <int32_t>tokens
    out.sentences += 1


# tokens found and hashed ahead of their table lookup, whose slot is prefetched meanwhile: the slots of a
# vocabulary (8 MiB at 68k words) mostly miss the caches, and the lookups in order would wait for each in turn
DEF LOOKAHEAD = 8


cdef struct Pending:
    const unsigned char *start
    int64_t length
    uint64_t hash
    uint64_t prefix


cdef inline int resolve(TokenTable table, const Pending *token, bint scan, Lines *out, int32_t *indices) noexcept nogil:
    """a token's lookup: counted into the table (scan), or its id appended to indices when it is in the
    vocabulary; -1 when out of memory"""
    cdef int32_t index
    if scan:
        index = table.insert_hashed(token.start, token.length, token.hash, token.prefix)
        if index < 0:
            return -1
        table.counts[index] += 1
    else:
        index = table.find(token.start, token.length, token.hash, token.prefix)
        if index >= 0:
            indices[out.kept] = index
            out.kept += 1
    return 0


cdef inline int resolve_oldest(TokenTable table, Pending *pending, int *first, int *waiting, int count, bint scan,
                               Lines *out, int32_t *indices) noexcept nogil:
    """the lookups (resolve) of up to `count` of the oldest waiting tokens of the ring `pending`, in order;
    -1 when out of memory"""
    while waiting[0] > 0 and count > 0:
        if resolve(table, &pending[first[0]], scan, out, indices) < 0:
            return -1
        first[0], waiting[0], count = (first[0] + 1) % LOOKAHEAD, waiting[0] - 1, count - 1
    return 0


cdef Lines tokenise(const unsigned char *data, int64_t n, TokenTable table, bint scan, int64_t max_sentence_length,
                    int32_t *indices, int64_t *offsets, int32_t *raw_lengths) noexcept nogil:
    """The one pass behind index_lines (scan=False: ids of vocabulary tokens into indices, kept-token offsets
    of each sentence into offsets[1:], raw tokens of each sentence into raw_lengths) and scan_lines (scan=True:
    every token counted into the table). Up to LOOKAHEAD tokens wait for their lookup (`pending`, a ring),
    all of them before a sentence is closed, so the ids and counts come out as if looked up one by one."""
    cdef Lines out
    cdef const unsigned char *p = data
    cdef const unsigned char *end = data + n
    cdef const unsigned char *start
    cdef int64_t in_sentence = 0, length
    cdef int step
    cdef unsigned char kind
    cdef Pending pending[LOOKAHEAD]
    cdef int first = 0, waiting = 0, slot
    out.raw_words = out.sentences = out.kept = 0
    out.error_at, out.error = -1, 0
    while p < end:
        if p[0] == 10:                     # b"\n": the line, and its last sentence, end here
            if in_sentence:
                if resolve_oldest(table, pending, &first, &waiting, LOOKAHEAD, scan, &out, indices) < 0:
                    out.error = 2
                    return out
                close_sentence(&out, in_sentence, scan, offsets, raw_lengths)
                in_sentence = 0
            p += 1
            continue
        step = space_length(p, end)
        if step:
            p += step
            continue
        start = p
        while p < end:
            kind = BYTE_KIND[p[0]]
            if kind == TOKEN_BYTE:
                p += 1
                continue
            if kind != NON_ASCII or space_length(p, end):     # a space or the line end
                break
            step = utf8_length(p, end)
            if step < 0:
                out.error_at, out.error = p - data, 1
                return out
            p += step
        length = p - start
        # all waiting tokens before a sentence is cut; else the oldest when the ring is full, to make room
        if resolve_oldest(table, pending, &first, &waiting, LOOKAHEAD if in_sentence == max_sentence_length else
                          waiting - LOOKAHEAD + 1, scan, &out, indices) < 0:
            out.error = 2
            return out
        if in_sentence == max_sentence_length:   # LineSentence cuts long lines into sentences
            close_sentence(&out, in_sentence, scan, offsets, raw_lengths)
            in_sentence = 0
        in_sentence += 1
        out.raw_words += 1
        slot = (first + waiting) % LOOKAHEAD
        pending[slot].start, pending[slot].length = start, length
        pending[slot].hash = table.hash(start, length, end - start)
        pending[slot].prefix = qwem_token_word(start, length, end - start)
        table.prefetch(pending[slot].hash)
        waiting += 1
    if resolve_oldest(table, pending, &first, &waiting, LOOKAHEAD, scan, &out, indices) < 0:
        out.error = 2
        return out
    if in_sentence:                        # a last line without b"\n"
        close_sentence(&out, in_sentence, scan, offsets, raw_lengths)
    return out


cdef raise_for(Lines found, const unsigned char[::1] data):
    cdef int64_t lo, hi
    if found.error == 2:
        raise MemoryError("ran out of memory while counting the corpus's words")
    if found.error == 1:
        lo, hi = found.error_at, found.error_at
        while lo > 0 and data[lo - 1] != 10:
            lo -= 1
        while hi < data.shape[0] and data[hi] != 10:
            hi += 1
        line = bytes(data[lo:hi])
        line.decode("utf-8")               # raises the UnicodeDecodeError LineSentence would raise
        raise UnicodeDecodeError("utf-8", line, found.error_at - lo, found.error_at - lo + 1, "invalid start byte")


def index_lines(const unsigned char[::1] data, TokenTable vocabulary, int64_t max_sentence_length=10000,
                int64_t[::1] counts=None):
    """Lines of UTF-8 text -> (indices int32, offsets int64, raw_lengths int32, raw words).

    `indices`: vocabulary ids of the in-vocabulary tokens; `offsets[s]:offsets[s + 1]`: sentence s's part of
    them (as ``_encoding.sentences_to_indices``); `raw_lengths[s]`: sentence s's tokens before out-of-vocabulary
    ones were dropped. With `counts` (one int64 per vocabulary id), each id's occurrences are added to it.
    """
    if max_sentence_length < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    if counts is not None and counts.shape[0] < len(vocabulary):
        raise ValueError(f"counts has room for {counts.shape[0]} ids, the vocabulary has {len(vocabulary)}")
    cdef int64_t n = data.shape[0], bound = n // 2 + 1, k    # tokens and sentences: at most one per 2 bytes
    indices = np.empty(bound, dtype=np.int32)
    offsets = np.empty(bound + 1, dtype=np.int64)
    raw_lengths = np.empty(bound, dtype=np.int32)
    cdef int32_t[::1] ind = indices
    cdef int64_t[::1] off = offsets
    cdef int32_t[::1] raw = raw_lengths
    cdef Lines found
    off[0] = 0
    with nogil:
        found = tokenise(&data[0] if n else NULL, n, vocabulary, 0, max_sentence_length, &ind[0], &off[0], &raw[0])
        if counts is not None and found.error == 0:
            for k in range(found.kept):
                counts[ind[k]] += 1
    raise_for(found, data)
    return (indices[:found.kept].copy(), offsets[:found.sentences + 1].copy(), raw_lengths[:found.sentences].copy(),
            found.raw_words)


def scan_lines(const unsigned char[::1] data, TokenTable counter, int64_t max_sentence_length=10000):
    """Count every token of lines of UTF-8 text into `counter`; returns (raw words, sentences)."""
    if max_sentence_length < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    cdef int64_t n = data.shape[0]
    cdef Lines found
    with nogil:
        found = tokenise(&data[0] if n else NULL, n, counter, 1, max_sentence_length, NULL, NULL, NULL)
    raise_for(found, data)
    return found.raw_words, found.sentences


def job_cuts(const int32_t[::1] raw_lengths, int64_t batch_words, int64_t batch_size):
    """Where gensim's job producer closes jobs: a sentence that does not fit into the open job of
    `batch_size` raw words (size + length > batch_words) starts a new one. Returns (cuts int64: the
    sentences that start a new job, the open job's size after the last sentence)."""
    cdef int64_t s, n = raw_lengths.shape[0], m = 0
    cuts = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] out = cuts
    for s in range(n):
        if batch_size + raw_lengths[s] <= batch_words:
            batch_size += raw_lengths[s]
        else:
            out[m] = s
            m += 1
            batch_size = raw_lengths[s]
    return cuts[:m].copy(), batch_size
