"""Progress reporting without threading a callback through every function.

Methods call :func:`report` at coarse points (a pyramid level, every few hundred
Criminisi steps). By default nothing happens. The CLI (or any caller) installs a
reporter with :func:`reporting`, e.g. a tqdm bar that appears after a second.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

Reporter = Callable[[str, float, float], None]

_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "inpaintkit_progress", default=None
)


def report(stage: str, done: float, total: float) -> None:
    """Tell the active reporter that ``done`` of ``total`` units of ``stage`` are done."""
    reporter = _current.get()
    if reporter is not None:
        reporter(stage, done, total)


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Route :func:`report` calls made inside the block to ``reporter``."""
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)
