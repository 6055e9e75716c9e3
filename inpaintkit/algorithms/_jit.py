"""JIT options for every Numba kernel, in one place.

Kernels import ``jit`` / ``jit_parallel`` from here instead of calling ``numba.njit``
with ad-hoc flags. ``cache=True`` keeps compiled kernels on disk so that the second
run of the CLI does not compile again. ``fastmath`` is limited to flags that cannot
change results for finite inputs in ways tests would see (no ``nnan``/``ninf`` games
with NaN-marked holes), so kernels stay comparable with their NumPy references.
"""

from __future__ import annotations

import numba

FASTMATH = {"contract", "arcp", "reassoc"}

#: Serial kernels.
jit = numba.njit(cache=True, fastmath=FASTMATH, nogil=True)
#: Kernels that use ``numba.prange``; results must not depend on the thread count.
jit_parallel = numba.njit(cache=True, fastmath=FASTMATH, nogil=True, parallel=True)
#: Serial kernels that must keep strict IEEE semantics (e.g. exact ties, reference checks).
jit_strict = numba.njit(cache=True, nogil=True)

prange = numba.prange
