"""Shared checks for method options: one wording for every method's errors.

Each check returns the value converted to a plain Python type, or raises ``ValueError``
naming the option, the allowed range and the value received.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in [low, high] (either bound may be None)."""
    if low is not None and high is not None:
        allowed = f"in [{low}, {high}]"
    elif low is not None:
        allowed = f">= {low}"
    elif high is not None:
        allowed = f"<= {high}"
    else:
        allowed = ""
    message = f"{name} must be an integer{' ' + allowed if allowed else ''}, got {value!r}"
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise ValueError(message)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(message)
    return int(value)


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` within the bounds; ``*_open`` excludes a bound."""
    if low is not None and high is not None:
        allowed = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        allowed = f"{'>' if low_open else '>='} {low:g}"
    elif high is not None:
        allowed = f"{'<' if high_open else '<='} {high:g}"
    else:
        allowed = ""
    message = f"{name} must be a finite number{' ' + allowed if allowed else ''}, got {value!r}"
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise ValueError(message)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(message)
    if low is not None and (number < low or (low_open and number == low)):
        raise ValueError(message)
    if high is not None and (number > high or (high_open and number == high)):
        raise ValueError(message)
    return number
