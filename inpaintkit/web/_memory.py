"""Give freed image buffers back to the operating system (glibc), so a server's memory
returns to its idle level after a burst of fills.

glibc raises its mmap threshold after the first large free (up to 32 MiB), after which
image-sized buffers come from per-thread heap arenas that keep their freed pages. The
server pins the threshold at 1 MiB (image buffers are mmapped and unmapped on free)
and trims the arenas after each job. Elsewhere (macOS, Windows, musl) these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_MMAP_THRESHOLD = -3
_libc = None
if sys.platform.startswith("linux"):
    try:
        _candidate = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(_candidate, "malloc_trim") and hasattr(_candidate, "mallopt"):
            _libc = _candidate
    except OSError:
        _libc = None


def pin_mmap_threshold(size: int = 1 << 20) -> bool:
    """Serve allocations of ``size`` bytes and more with mmap (returned to the OS on free)."""
    return bool(_libc is not None and _libc.mallopt(_M_MMAP_THRESHOLD, int(size)))


def trim() -> bool:
    """Return the heap arenas' free pages to the OS; True if any were released."""
    return bool(_libc is not None and _libc.malloc_trim(0))
