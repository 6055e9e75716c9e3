"""Methods registered only by the web tests: one slow and cancellable, one that raises."""

from __future__ import annotations

import time

import numpy as np

from inpaintkit._progress import report


def slow(image, mask, *, steps=100, delay=0.01, seed=0):
    """Report progress ``steps`` times, ``delay`` seconds apart; fill the hole with 0."""
    for step in range(steps):
        report("slow", step, steps)
        time.sleep(delay)
    out = np.array(image, copy=True)
    out[np.asarray(mask, bool)] = 0
    return out


def broken(image, mask, *, seed=0):
    raise RuntimeError("kaboom: the kernel fell over\nsecond line that the page must not see")
