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

import numpy as np

from . import registry
from ._image import check_image, check_mask

__version__ = "0.1.0"

__all__ = [
    "inpaint",
    "methods",
    "choose_method",
    "inpaint_diffusion",
    "inpaint_patchmatch",
    "inpaint_criminisi",
    "patchmatch_nnf",
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
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    import cv2  # lazy, and lighter to import than scipy.ndimage

    hole = check_mask(mask, mask.shape)
    if not hole.any():
        return "diffusion"
    # Exact Euclidean distance from each hole pixel to the nearest known pixel.
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[hole]
    deep = np.count_nonzero(depth > THIN_HOLE_RADIUS) / depth.size
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


def inpaint(image, mask, method: str = "auto", *, seed: int = 0, **params) -> np.ndarray:
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
        The method's keyword options (see ``methods()``).

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole are unchanged.

    Raises
    ------
    ValueError
        For an unknown method or parameter (listing the valid ones) and for invalid
        images or masks.
    """
    if method == "auto":
        image = check_image(image)
        method = choose_method(check_mask(mask, image.shape[:2]))
        logger.info("method 'auto' picked %r", method)
    spec = registry.get(method)
    registry.check_params(spec, params)
    return spec.load()(image, mask, seed=seed, **params)


def __getattr__(name: str):
    # Lazy imports keep `import inpaintkit` (and so CLI start-up) free of Numba compiles.
    lazy = {
        "inpaint_diffusion": "inpaintkit.algorithms.diffusion",
        "inpaint_patchmatch": "inpaintkit.algorithms.patchmatch",
        "patchmatch_nnf": "inpaintkit.algorithms.patchmatch",
        "inpaint_criminisi": "inpaintkit.algorithms.criminisi",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'inpaintkit' has no attribute {name!r}")
