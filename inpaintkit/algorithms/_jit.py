"""JIT options for every Numba kernel, in one place, and a thread runner for them.

Kernels import ``jit`` / ``jit_parallel`` from here instead of calling ``numba.njit``
with ad-hoc flags. ``cache=True`` keeps compiled kernels on disk so that the second
run of the CLI does not compile again. ``fastmath`` is limited to flags that cannot
change results for finite inputs in ways tests would see (no ``nnan``/``ninf`` games
with NaN-marked holes), so kernels stay comparable with their NumPy references.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numba

FASTMATH = {"contract", "arcp", "reassoc"}

#: Serial kernels.
jit = numba.njit(cache=True, fastmath=FASTMATH, nogil=True)
#: Kernels that use ``numba.prange``; results must not depend on the thread count.
jit_parallel = numba.njit(cache=True, fastmath=FASTMATH, nogil=True, parallel=True)
#: Serial kernels that must keep strict IEEE semantics (e.g. exact ties, reference checks).
jit_strict = numba.njit(cache=True, nogil=True)

prange = numba.prange


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _workers(count: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``count`` threads, made on first use."""
    with _pools_lock:
        if count not in _pools:
            _pools[count] = ThreadPoolExecutor(max_workers=count, thread_name_prefix="inpaintkit")
        return _pools[count]


def run_strided(kernel, *args, parallel: bool = True) -> None:
    """Call ``kernel(*args, start, step)`` once per thread, ``start`` 0 .. step - 1.

    ``kernel`` is a serial ``nogil`` kernel that does rows ``start, start + step, ...``
    of its work, rows independent of each other, so the calls run at the same time
    on ``numba.get_num_threads()`` threads (1 with ``parallel=False``, for work
    too small to share) and the result does not
    depend on the split. Interleaved rows balance holes that fill only part of the
    image. Compared with ``parallel=True`` kernels (``prange``), no second,
    parallel compilation of the same kernel is needed.
    """
    threads = numba.get_num_threads() if parallel else 1
    if threads <= 1:
        kernel(*args, 0, 1)
        return
    pool = _workers(threads - 1)
    others = [pool.submit(kernel, *args, start, threads) for start in range(1, threads)]
    try:
        kernel(*args, 0, threads)
    finally:
        for future in others:
            future.result()


@contextlib.contextmanager
def threads(parallel: bool) -> Iterator[None]:
    """``prange`` kernels called inside run on all of ``numba.get_num_threads()``
    threads, or (``parallel=False``, for work too small to share) on one."""
    if parallel:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
