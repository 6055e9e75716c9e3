"""The shared option checks: accepted values, refused values, one wording."""

import numpy as np
import pytest

from inpaintkit._validate import check_float, check_int


def test_check_int():
    assert check_int("n", np.int64(3), low=1) == 3 and type(check_int("n", 3, low=1)) is int
    for bad in (0, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=rf"^n must be an integer >= 1, got {bad!r}$"):
            check_int("n", bad, low=1)
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 5\], got 6$"):
        check_int("n", 6, low=1, high=5)


def test_check_float():
    assert check_float("s", 2, low=0.0) == 2.0
    assert check_float("s", 0.0, low=0.0) == 0.0
    with pytest.raises(ValueError, match=r"^s must be a finite number > 0, got 0.0$"):
        check_float("s", 0.0, low=0.0, low_open=True)
    for bad in (float("nan"), float("inf"), True, "1", None):
        with pytest.raises(ValueError, match="s must be a finite number >= 0"):
            check_float("s", bad, low=0.0)
    with pytest.raises(ValueError, match=r"^t must be a finite number in \[0.0, 1.0\), got 1.0$"):
        check_float("t", 1.0, low=0.0, high=1.0, high_open=True)
