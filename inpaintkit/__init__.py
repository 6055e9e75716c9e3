"""inpaintkit: fill the holes of an image, with classical and learned methods.

>>> import numpy as np, inpaintkit
>>> image = np.linspace(0, 1, 64 * 64).reshape(64, 64)
>>> mask = np.zeros((64, 64), bool); mask[30:34, 10:50] = True
>>> out = inpaintkit.inpaint(image, mask, method="diffusion")
>>> out.shape, out.dtype
((64, 64), dtype('float64'))
"""

from __future__ import annotations

import logging
from typing import Any

# numpy, the image contract and the windowing are imported inside the functions:
# `inpaintkit --help` and `inpaintkit methods` then start without them.
from . import registry

__version__ = "0.1.0"

__all__ = [
    "inpaint",
    "methods",
    "choose_method",
    "inpaint_diffusion",
    "inpaint_patchmatch",
    "inpaint_criminisi",
    "patchmatch_nnf",
    "compare",

    "inpaint_planar",
    "patchmatch_nnf_warped",
    "__version__",
]

logger = logging.getLogger("inpaintkit")

#: Hole pixels at most this many pixels from a known pixel are in a "thin" part of the
#: hole (scratches, text, small specks): diffusion fills them without visible blur.
THIN_HOLE_RADIUS = 6.0
#: ``auto`` picks diffusion while fewer than this fraction of the hole's pixels lie
#: deeper than ``THIN_HOLE_RADIUS``: a few deep pixels where two scratches cross do
#: not make a scratch mask an object-removal mask.
DEEP_HOLE_FRACTION = 0.02


def choose_method(mask) -> str:
    """The method ``method="auto"`` picks for ``mask``.

    Thin or small holes (fewer than ``DEEP_HOLE_FRACTION`` of the hole pixels farther
    than ``THIN_HOLE_RADIUS`` pixels from a known pixel) go to ``"diffusion"``; larger
    holes need texture and go to ``"patchmatch"``.

    Parameters
    ----------
    mask : ndarray, shape (H, W), bool or integer
        Non-zero = hole.
    """
    import numpy as np

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    import cv2  # lazy, and lighter to import than scipy.ndimage

    from ._image import check_mask

    hole = check_mask(mask, mask.shape, copy=False)
    if not hole.any():
        return "diffusion"
    # A hole pixel is deeper than THIN_HOLE_RADIUS when no known pixel lies within that
    # Euclidean distance: an erosion by that disc (outside the image counts as hole)
    # finds them, as the exact distance transform would, with a byte per pixel of
    # memory instead of four.
    radius = int(THIN_HOLE_RADIUS)
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = (yy * yy + xx * xx <= THIN_HOLE_RADIUS ** 2).astype(np.uint8)
    deep_pixels = cv2.countNonZero(cv2.erode(hole.view(np.uint8), disc,
                                             borderType=cv2.BORDER_CONSTANT, borderValue=1))
    deep = deep_pixels / np.count_nonzero(hole)
    return "diffusion" if deep < DEEP_HOLE_FRACTION else "patchmatch"


def methods() -> list[dict[str, Any]]:
    """List the registered methods.

    Returns
    -------
    list of dict
        One per method: ``name``, ``kind`` ("classical" or "learned"), ``description``,
        for learned methods ``weights`` (which weights it uses by default),
        and ``params`` (keyword options with their defaults; ``None`` where the
        method's module cannot be imported, with the reason under ``error``).
    """
    rows = []
    for name in registry.names():
        spec = registry.get(name)
        row = {"name": name, "kind": spec.kind, "description": spec.description}
        if spec.kind == "learned":
            from . import learned  # no torch: the package imports it lazily

            if name in learned.MODELS:
                row["weights"] = learned.weights_summary(name)
        try:
            row["params"] = spec.params()
        except ImportError as exc:
            row["params"] = None
            row["error"] = str(exc)
        rows.append(row)
    return rows


def inpaint(image, mask, method: str = "auto", *, seed: int = 0, **params):
    """Fill the hole of ``image`` marked by ``mask``.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (the fourth is alpha, carried through); uint8, uint16, float32 or
        float64 (floats in [0, 1]).
    mask : ndarray, shape (H, W), bool or integer
        Non-zero / True marks the hole.
    method : str
        A name from :func:`methods`, or ``"auto"`` (see :func:`choose_method`; the
        choice is logged on the ``inpaintkit`` logger).
    seed : int
        Seed for the methods that draw random numbers; the same seed gives the same
        result.
    **params
        The method's keyword options (see ``methods()``). A key may be scoped to a
        method, ``**{"patchmatch.patch_size": 9}``: it is used only when that method
        runs (useful with ``"auto"``). Under ``"auto"``, an unscoped option that the
        picked method does not take is dropped with a ``UserWarning``.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole are unchanged.

    Raises
    ------
    ValueError
        For an unknown method or parameter (listing the valid ones) and for invalid
        images or masks.
    MemoryError
        Before starting, when the method's estimated memory exceeds what the machine
        has left (see ``inpaintkit._image.estimate_memory``).
    """
    import numpy as np

    from . import _windows
    from ._image import check_image, check_mask, check_memory
    from ._validate import check_int

    seed = check_int("seed", seed, low=0)  # one rule for every method
    requested = method
    if method == "auto":
        image = check_image(image)
        method = choose_method(check_mask(mask, image.shape[:2], copy=False))
        logger.info("method 'auto' picked %r", method)
    spec = registry.get(method)
    params = registry.resolve_params(requested, method, params)
    function = spec.load()
    image = check_image(image)
    hole = check_mask(mask, image.shape[:2], copy=False)
    hole_pixels = int(np.count_nonzero(hole))
    windowed = hole_pixels > 0 and _windows.worth_it(method, image.shape, params, hole)
    check_memory(method, image.shape, image.dtype, hole_pixels, windowed=windowed)
    if windowed:  # large images, local methods: memory grows with a window, not the image
        return _windows.fill(function, image, hole, seed=seed, **params)
    return function(image, mask, seed=seed, **params)


def __getattr__(name: str):
    # Lazy imports keep `import inpaintkit` (and so CLI start-up) free of Numba compiles.
    lazy = {
        "inpaint_diffusion": "inpaintkit.algorithms.diffusion",
        "inpaint_patchmatch": "inpaintkit.algorithms.patchmatch",
        "patchmatch_nnf": "inpaintkit.algorithms.patchmatch",
        "inpaint_criminisi": "inpaintkit.algorithms.criminisi",
        "compare": "inpaintkit.comparison",

        "inpaint_planar": "inpaintkit.algorithms.planar",
        "patchmatch_nnf_warped": "inpaintkit.algorithms.planar",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'inpaintkit' has no attribute {name!r}")
