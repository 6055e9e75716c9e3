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
    "inpaint_offsets",
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
#: Thin holes go to ``patchmatch`` instead of diffusion where the known pixels around
#: them are this textured: the mean absolute luminance difference (in [0, 1] units) of
#: each known pixel within ``TEXTURE_RING`` pixels of the hole to its right plus its
#: lower neighbour. There diffusion's smooth fill leaves a readable blurred ghost of
#: the hole's shape (a caption's letters over grass or foliage: hole texture ratio
#: 0.58 against patchmatch's 0.71 on skimage's grass). Measured at 256 px: grass
#: 0.16, gravel 0.14, astronaut 0.085, the cat, coffee and camera 0.04-0.06, the
#: rocket's sky 0.02, the moon 0.015; below 0.1 diffusion scored the higher PSNR or
#: within 0.3 dB of patchmatch except on the brick wall (regular; 2 dB lower).
TEXTURE_THRESHOLD = 0.1
#: Width (pixels) of the ring of known pixels around the hole whose texture is weighed.
TEXTURE_RING = 6


def _ring_texture(image, hole, blocks=None) -> float:
    """Mean absolute luminance difference to the right and lower neighbours over the
    known pixels within ``TEXTURE_RING`` of the hole (only those pixels are read: a
    scratch on a camera-size photo costs a dilation around its blocks and a gather,
    not a conversion). ``blocks``: the hole's blocks (``_image.hole_blocks``)."""
    import cv2
    import numpy as np

    from ._image import block_windows, hole_blocks

    side = 2 * TEXTURE_RING + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    blocks = hole_blocks(hole) if blocks is None else blocks
    # The ring lies within TEXTURE_RING of a hole pixel: in the hole's blocks and the
    # blocks around them; each block's part is dilated on the block plus that reach.
    near = cv2.dilate(blocks.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    height, width = hole.shape
    found_y, found_x = [], []
    for core, window in block_windows(near, hole.shape, TEXTURE_RING):
        grown = cv2.dilate(hole[window].view(np.uint8), kernel)[core]
        ys, xs = np.nonzero(grown.view(bool) & ~hole[window][core])
        found_y.append(ys + window[0].start + core[0].start)
        found_x.append(xs + window[1].start + core[1].start)
    ys = np.concatenate(found_y) if found_y else np.zeros(0, np.intp)
    xs = np.concatenate(found_x) if found_x else np.zeros(0, np.intp)
    inside = (ys < height - 1) & (xs < width - 1)
    ys, xs = ys[inside], xs[inside]
    keep = ~hole[ys, xs + 1] & ~hole[ys + 1, xs]
    ys, xs = ys[keep], xs[keep]
    if ys.size == 0:
        return 0.0
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    channels = colour.shape[2] if colour.ndim == 3 else 1
    here = ys * width + xs
    if colour.flags.c_contiguous and np.issubdtype(colour.dtype, np.integer):
        # Integer images: channel sums as integers, one flat gather per neighbour (the
        # same mean within rounding; a scratch on a 48 MP photo has ~6e5 ring pixels).
        flat = colour.reshape(height * width, channels)

        def total(index):
            return np.take(flat, index, axis=0).sum(axis=1, dtype=np.int64)

        centre = total(here)
        steps = (np.abs(total(here + 1) - centre).sum()
                 + np.abs(total(here + width) - centre).sum())
        return float(steps) / (channels * np.iinfo(colour.dtype).max * ys.size)
    scale = 1.0 / np.iinfo(colour.dtype).max if np.issubdtype(colour.dtype, np.integer) else 1.0

    def luma(y, x):
        value = colour[y, x].astype(np.float64)
        return (value.mean(axis=-1) if value.ndim == 2 else value) * scale

    centre = luma(ys, xs)
    steps = np.abs(luma(ys, xs + 1) - centre) + np.abs(luma(ys + 1, xs) - centre)
    return float(steps.mean())


def choose_method(mask, image=None) -> str:
    """The method ``method="auto"`` picks for ``mask`` (and ``image``).

    Thin or small holes (fewer than ``DEEP_HOLE_FRACTION`` of the hole pixels farther
    than ``THIN_HOLE_RADIUS`` pixels from a known pixel) go to ``"diffusion"``, unless
    ``image`` is given and the known pixels around the hole are textured (see
    ``TEXTURE_THRESHOLD``): there a smooth fill would leave a blurred ghost of the
    hole's shape, and ``"patchmatch"`` copies texture instead. Larger holes need
    texture and go to ``"patchmatch"``.

    Parameters
    ----------
    mask : ndarray, shape (H, W), bool or integer
        Non-zero = hole.
    image : ndarray, shape (H, W) or (H, W, C), optional
        The image to fill; without it the choice looks at the mask only.
    """
    import numpy as np

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    import cv2  # lazy, and lighter to import than scipy.ndimage

    from ._image import check_image, check_mask, eroded_count, hole_blocks

    hole = check_mask(mask, mask.shape, copy=False)
    if image is not None:
        image = check_image(image)
        if image.shape[:2] != hole.shape:
            raise ValueError(f"mask has shape {hole.shape}, expected {image.shape[:2]} "
                             "(the image's height and width)")
    if not hole.any():
        return "diffusion"
    # A hole pixel is deeper than THIN_HOLE_RADIUS when no known pixel lies within that
    # Euclidean distance: an erosion by that disc (outside the image counts as hole)
    # finds them, as the exact distance transform would, with a byte per pixel of
    # memory instead of four; only around the hole's blocks (a scratch on a camera
    # photo touches a tenth of them).
    radius = int(THIN_HOLE_RADIUS)
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = (yy * yy + xx * xx <= THIN_HOLE_RADIUS ** 2).astype(np.uint8)
    blocks = hole_blocks(hole)
    if eroded_count(hole, disc, blocks) / cv2.countNonZero(hole.view(np.uint8)) \
            >= DEEP_HOLE_FRACTION:
        return "patchmatch"
    if image is not None and _ring_texture(image, hole, blocks) >= TEXTURE_THRESHOLD:
        return "patchmatch"
    return "diffusion"


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
        A name from :func:`methods`, or ``"auto"`` (see :func:`choose_method`: the
        hole's width and the texture around it; the choice is logged on the
        ``inpaintkit`` logger).
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
        method = choose_method(check_mask(mask, image.shape[:2], copy=False), image)
        logger.info("method 'auto' picked %r", method)
    spec = registry.get(method)
    params = registry.resolve_params(requested, method, params)
    function = spec.load()
    image = check_image(image)
    hole = check_mask(mask, image.shape[:2], copy=False)
    hole_pixels = int(np.count_nonzero(hole))
    windowed = hole_pixels > 0 and _windows.worth_it(method, image.shape, params, hole)
    check_memory(method, image.shape, image.dtype, hole_pixels, windowed=windowed, hole=hole,
                 params=params)
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
        "inpaint_offsets": "inpaintkit.algorithms.offsets",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'inpaintkit' has no attribute {name!r}")
