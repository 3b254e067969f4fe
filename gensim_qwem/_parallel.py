"""Row ranges worked on by threads: the one splitter behind the M* products and the eigensolver's dense products.

Both split a V-row problem into contiguous row ranges, run one task per range on a thread (the kernels and
BLAS calls release the GIL) and combine the results in range order, so that the result does not depend on
the timing of the threads. The threads come from one pool per process and size, shared by every split.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_POOLS = {}
_POOLS_LOCK = threading.Lock()


def usable_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def shared_pool(threads):
    """The process's pool of `threads` threads (None for one thread); a forked child gets pools of its own."""
    if threads <= 1:
        return None
    key = (os.getpid(), threads)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(threads, thread_name_prefix="gensim_qwem")
        return _POOLS[key]


class RowSplit:
    """Contiguous row ranges ``[(lo, hi), ...]`` and a way to run ``fn(lo, hi)`` on each, one thread a range."""

    def __init__(self, ranges):
        self.ranges = [(int(lo), int(hi)) for lo, hi in ranges if hi > lo]

    @classmethod
    def equal(cls, rows, parts):
        """`parts` ranges of about equal numbers of rows."""
        bounds = np.linspace(0, rows, max(1, int(parts)) + 1).astype(int)
        return cls(zip(bounds[:-1], bounds[1:]))

    @classmethod
    def balanced(cls, indptr, parts, row_cost=0):
        """`parts` ranges of about equal cost for the CSR matrix with row pointers `indptr`: its entries, plus
        `row_cost` entries' worth per row (a row's fixed work); with 0, equal numbers of entries."""
        indptr = np.asarray(indptr, dtype=np.float64)
        cost = indptr + float(row_cost) * np.arange(len(indptr))      # cumulative cost up to each row
        cuts = np.searchsorted(cost, np.linspace(0, cost[-1], max(1, int(parts)) + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts)), len(indptr) - 1]
        return cls(zip(bounds[:-1], bounds[1:]))

    def map(self, fn):
        """[fn(lo, hi) for each range], in range order; on the shared pool when there is more than one range."""
        pool = shared_pool(len(self.ranges))
        if pool is None:
            return [fn(lo, hi) for lo, hi in self.ranges]
        return list(pool.map(lambda bounds: fn(*bounds), self.ranges))
