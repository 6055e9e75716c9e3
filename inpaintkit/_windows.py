"""Fill a large image window by window, for methods whose fill is local (diffusion).

A diffusion fill at a hole pixel depends on the known pixels around its part of the
hole, and, along a thin hole, the influence of pixels farther than a few hole widths
decays exponentially. So a large image is cut into square cores; each core with
hole pixels is filled from a crop around its holes (their bounding box plus a
margin of at least ``MARGIN_PER_DEPTH`` times the hole's depth there, and at least
``MIN_MARGIN`` px), and only the core's hole pixels are kept. Memory then grows
with the window, not the image: a 16000x16000 RGB photo with a 0.5 % scratch mask
needs its input, its output and a window's work. Where a hole is too deep for a
window, the window grows, up to the whole image (one global fill).

Differences from one global solve are below the output's quantisation for thin
holes (the margin is 8 hole depths: the harmonic influence across it is about
exp(-pi * 8 / 2), under 4e-6; measured on a 600x600 photo with 8 scratches: no 8-bit
value differs, float results within 7e-8).
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

#: Side of the cores the image is cut into, in pixels.
CORE = 1024
#: Margins: at least this many pixels...
MIN_MARGIN = 48
#: ...and at least this many times the deepest hole pixel's distance to a known one.
MARGIN_PER_DEPTH = 8
#: Images with fewer pixels are filled in one piece.
MIN_PIXELS = 12_000_000

#: Methods whose fill is local in the sense above, with the option values that keep
#: it so. Diffusion's ``tv`` and ``transport`` iterate to a tolerance on the whole
#: hole's residual, so their windows differ from one global run by a few levels of
#: 255; they run in one piece.
LOCAL_METHODS = {"diffusion": ("variant", {"tension", "harmonic", "biharmonic", "telea",
                                           "coherence"}, "tension")}


#: Holes deeper than this (chessboard distance to a known pixel, in pixels) would need
#: windows of the whole image: such masks are filled in one piece, and estimated so.
MAX_DEPTH = 64


def worth_it(method: str, shape, params: dict[str, Any] | None = None,
             hole: np.ndarray | None = None) -> bool:
    """Whether ``method`` with ``params`` on an image of ``shape`` is filled by windows.

    With ``hole`` given, also whether its windows stay small: no hole pixel lies
    deeper than :data:`MAX_DEPTH` (one erosion, a byte per pixel).
    """
    if method not in LOCAL_METHODS or int(shape[0]) * int(shape[1]) < MIN_PIXELS:
        return False
    option, local_values, default = LOCAL_METHODS[method]
    if (params or {}).get(option, default) not in local_values:
        return False
    if hole is None:
        return True
    from ._image import eroded_count, hole_blocks

    # A pixel deeper than MAX_DEPTH is deeper than 4 too: the small erosion (around
    # the hole's blocks only) settles thin masks without the large one.
    blocks = hole_blocks(hole)
    if eroded_count(hole, np.ones((9, 9), np.uint8), blocks) == 0:
        return True
    square = np.ones((2 * MAX_DEPTH + 1, 2 * MAX_DEPTH + 1), np.uint8)
    return eroded_count(hole, square, blocks) == 0


def _depth(hole: np.ndarray) -> int:
    """The largest chessboard distance from a hole pixel to a known pixel (0 if none)."""
    if not hole.any():
        return 0
    if hole.all():
        return max(hole.shape)
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_C, 3)
    return int(depth.max())


def fill(function: Callable[..., np.ndarray], image: np.ndarray, hole: np.ndarray, *,
         seed: int = 0, core: int = CORE, **params: Any) -> np.ndarray:
    """Fill ``hole`` in ``image`` core by core with ``function(crop, crop_hole, ...)``.

    Parameters
    ----------
    function : callable
        A method with the ``inpaint`` signature, returning the crop's fill.
    image : ndarray
        Validated contract image.
    hole : ndarray, shape (H, W), bool
        True = hole (not copied).
    seed : int
    core : int
        Side of the cores.
    **params
        The method's options.

    Returns
    -------
    ndarray
        A copy of ``image`` with the hole filled.
    """
    from . import _progress

    height, width = hole.shape
    out = image.copy()
    cores = [(y, x) for y in range(0, height, core) for x in range(0, width, core)]
    for done, (y0, x0) in enumerate(cores):
        y1, x1 = min(y0 + core, height), min(x0 + core, width)
        core_hole = hole[y0:y1, x0:x1]
        if not core_hole.any():
            continue
        rows = np.flatnonzero(core_hole.any(axis=1))
        cols = np.flatnonzero(core_hole.any(axis=0))
        box = (y0 + rows[0], y0 + rows[-1] + 1, x0 + cols[0], x0 + cols[-1] + 1)
        margin = MIN_MARGIN
        while True:
            top, bottom = max(box[0] - margin, 0), min(box[1] + margin, height)
            left, right = max(box[2] - margin, 0), min(box[3] + margin, width)
            crop_hole = hole[top:bottom, left:right]
            whole = (top, bottom, left, right) == (0, height, 0, width)
            needed = MARGIN_PER_DEPTH * _depth(crop_hole)
            if needed <= margin or whole:
                break
            margin = needed
        if whole:
            return function(image, hole, seed=seed, **params)
        with _progress.reporting(None):  # the window's own progress is not ours
            filled = function(image[top:bottom, left:right], crop_hole, seed=seed, **params)
        # The core's hole pixels all lie in ``box``, which the crop contains.
        keep = hole[box[0]:box[1], box[2]:box[3]]
        inner = (slice(box[0] - top, box[1] - top), slice(box[2] - left, box[3] - left))
        out[box[0]:box[1], box[2]:box[3]][keep] = filled[inner][keep]
        _progress.report("windows", done + 1, len(cores))
    return out
