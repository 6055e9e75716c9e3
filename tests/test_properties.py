"""Property-based tests of the public contract over every registered method.

For random shapes (at least 16x16), dtypes, channel layouts and masks (empty, full,
noise, strokes, border, one pixel; NaN inside the hole for floats), every method
returns the input's shape and dtype, leaves known pixels bit-exact, produces no NaN,
and gives the same result for the same seed; invalid inputs raise ``ValueError`` or
``TypeError`` naming the argument. Methods are read from the registry, so methods
added later are covered; a learned method without weights (or without torch) is
skipped. ``INPAINTKIT_PROPERTY_EXAMPLES`` sets the examples per method (default 200;
a nightly run uses more).
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inpaintkit
from inpaintkit import registry

EXAMPLES = int(os.environ.get("INPAINTKIT_PROPERTY_EXAMPLES", "200"))
#: Largest side drawn per method kind: learned and patch methods cost more per pixel.
MAX_SIDE = {"classical": 48, "learned": 40}
#: Per-method overrides, so a slow method keeps its 200 examples in bounded time.
MAX_SIDE_BY_METHOD = {"lama": 32, "planar": 40, "offsets": 40}
DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
MASK_KINDS = ["empty", "full", "noise", "strokes", "border", "one_pixel"]
#: A documented refusal of learned backends below their minimum size is allowed.
SIZE_REFUSAL = re.compile(r"(at least|minimum|too small)", re.IGNORECASE)


def _available(name: str):
    """Skip a method whose dependency is missing; return its kind and the options to
    run it with: a learned method without shipped weights runs an untrained network
    (``weights="random"``), since the contract holds whatever the weights."""
    spec = registry.get(name)
    try:
        spec.load()
    except ImportError as exc:
        pytest.skip(f"{name}: {exc}")
    probe = np.full((32, 32, 3), 0.5, np.float32)
    mask = np.zeros((32, 32), bool)
    mask[12:20, 12:20] = True
    extra = {}
    if spec.kind == "learned":
        from inpaintkit import learned

        if learned.shipped_weights(name) is None:
            extra = {"weights": "random"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inpaintkit.inpaint(probe, mask, method=name, **extra)
    return spec.kind, extra


def _mask(kind: str, shape, rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    mask = np.zeros(shape, bool)
    if kind == "full":
        mask[:] = True
    elif kind == "noise":
        mask = rng.random(shape) < rng.uniform(0.05, 0.5)
    elif kind == "strokes":
        import cv2

        canvas = np.zeros(shape, np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            points = rng.integers(0, [width, height], (2, 2))
            cv2.line(canvas, tuple(map(int, points[0])), tuple(map(int, points[1])), 1,
                     int(rng.integers(1, 5)))
        mask = canvas > 0
    elif kind == "border":
        band = int(rng.integers(1, 4))
        side = int(rng.integers(0, 5))
        if side in (0, 4):
            mask[:band] = True
        if side in (1, 4):
            mask[-band:] = True
        if side in (2, 4):
            mask[:, :band] = True
        if side in (3, 4):
            mask[:, -band:] = True
    elif kind == "one_pixel":
        mask[int(rng.integers(height)), int(rng.integers(width))] = True
    return mask


def _image(shape, channels, dtype, rng: np.random.Generator) -> np.ndarray:
    full = shape if channels is None else (*shape, channels)
    # A smooth picture with a little texture, so every method has something to copy.
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 0.5 + 0.25 * np.sin(xx / rng.uniform(2, 6)) * np.cos(yy / rng.uniform(2, 6))
    values = np.clip(base.reshape(*shape, *(() if channels is None else (1,)))
                     + rng.normal(0, 0.05, full), 0, 1)
    if np.dtype(dtype).kind == "u":
        return np.rint(values * np.iinfo(dtype).max).astype(dtype)
    return values.astype(dtype)


def _case(data, name: str, kind: str):
    side = MAX_SIDE_BY_METHOD.get(name, MAX_SIDE[kind])
    height = data.draw(st.integers(16, side), label="height")
    width = data.draw(st.integers(16, side), label="width")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    channels = data.draw(st.sampled_from([None, 1, 3, 4]), label="channels")
    mask_kind = data.draw(st.sampled_from(MASK_KINDS), label="mask")
    seed = data.draw(st.integers(0, 2**31 - 1), label="rng seed")
    rng = np.random.default_rng(seed)
    image = _image((height, width), channels, dtype, rng)
    mask = _mask(mask_kind, (height, width), rng)
    if image.dtype.kind == "f" and mask.any() and data.draw(st.booleans(), label="nan"):
        image[mask] = np.nan
    return image, mask, mask_kind


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", registry.names())
def test_contract_holds(name):
    kind, extra = _available(name)

    @_SETTINGS
    @given(st.data())
    def check(data):
        image, mask, mask_kind = _case(data, name, kind)
        seed = data.draw(st.integers(0, 1000), label="seed")
        before = image.copy()
        if mask_kind == "full":
            with pytest.raises(ValueError, match="mask"):
                inpaintkit.inpaint(image, mask, method=name, seed=seed, **extra)
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = inpaintkit.inpaint(image, mask, method=name, seed=seed, **extra)
        except ValueError as exc:
            if kind == "learned" and SIZE_REFUSAL.search(str(exc)):
                return  # a documented minimum size
            raise
        assert out.shape == image.shape and out.dtype == image.dtype
        np.testing.assert_array_equal(image, before, err_msg="the input was modified")
        known = ~mask
        assert np.array_equal(out[known], image[known]), "known pixels changed"
        if out.dtype.kind == "f":
            assert not np.isnan(out).any(), "NaN in the result"
            assert out.min() >= 0 and out.max() <= 1
        if data.draw(st.booleans(), label="repeat"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                again = inpaintkit.inpaint(image, mask, method=name, seed=seed, **extra)
            assert np.array_equal(out, again, equal_nan=True), "same seed, other result"

    check()


BAD_INPUTS = [
    # (image, mask, error, argument named)
    (lambda: [[0, 1], [2, 3]] * 8, lambda: np.zeros((16, 2), bool), TypeError, "list"),
    (lambda: np.zeros((16, 16), np.int32), lambda: np.ones((16, 16), bool), TypeError, "image"),
    (lambda: np.zeros((16, 16, 5), np.uint8), lambda: np.ones((16, 16), bool), ValueError, "image"),
    (lambda: np.zeros((16, 16, 3, 1), np.uint8), lambda: np.ones((16, 16), bool), ValueError, "image"),
    (lambda: np.zeros((0, 16), np.uint8), lambda: np.ones((0, 16), bool), ValueError, "image"),
    (lambda: None, lambda: np.ones((16, 16), bool), TypeError, "image"),
    (lambda: np.zeros((16, 16), np.uint8), lambda: np.ones((16, 17), bool), ValueError, "mask"),
    (lambda: np.zeros((16, 16), np.uint8), lambda: np.ones((16, 16), np.float32), TypeError, "mask"),
    (lambda: np.zeros((16, 16), np.uint8), lambda: np.ones((16, 16, 3), bool), ValueError, "mask"),
    (lambda: np.zeros((16, 16), np.uint8), lambda: None, TypeError, "mask"),
    (lambda: np.full((16, 16), 2.0), lambda: np.eye(16, dtype=bool), ValueError, "image"),
    (lambda: np.full((16, 16), np.nan), lambda: np.eye(16, dtype=bool), ValueError, "image"),
]


@pytest.mark.parametrize("name", registry.names())
def test_invalid_inputs_name_the_argument(name):
    _, extra = _available(name)
    for make_image, make_mask, error, argument in BAD_INPUTS:
        with pytest.raises(error) as info:
            inpaintkit.inpaint(make_image(), make_mask(), method=name, **extra)
        assert argument in str(info.value), (name, str(info.value))
    for seed in (-1, 1.5, "1", None):
        with pytest.raises((ValueError, TypeError), match="seed"):
            inpaintkit.inpaint(np.zeros((16, 16)), np.eye(16, dtype=bool), method=name,
                               seed=seed)
    with pytest.raises(ValueError, match="unknown parameter 'no_such_option'"):
        inpaintkit.inpaint(np.zeros((16, 16)), np.eye(16, dtype=bool), method=name,
                           no_such_option=1)


@pytest.mark.parametrize("name", registry.names())
def test_small_images_are_filled_or_refused_with_a_value_error(name):
    """Below 16 px a side a method may refuse, but only with a ValueError that says so,
    never a torch or Numba error."""
    _, extra = _available(name)

    @settings(max_examples=max(20, EXAMPLES // 5), deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(1, 15), st.integers(1, 64), st.booleans(), st.integers(0, 2**31 - 1))
    def check(height, width, transpose, seed):
        if transpose:
            height, width = width, height
        rng = np.random.default_rng(seed)
        image = rng.random((height, width, 3)).astype(np.float32)
        mask = rng.random((height, width)) < 0.3
        if mask.all():
            mask.flat[0] = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = inpaintkit.inpaint(image, mask, method=name, **extra)
        except ValueError as exc:
            assert "image" in str(exc) or "patch_size" in str(exc), str(exc)
            return
        assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])
        assert not np.isnan(out).any()

    check()
