"""Diffusion first for the hole pixels a patch method has no source for.

Patch methods (PatchMatch, Criminisi) copy fully known patches. A hole of scattered
specks (dead pixels, dust at 20-50 % density) can leave no fully known patch at all,
although diffusion fills such specks well. Then the hole pixels closest to known
pixels (chessboard distance 1, then 2, ...) are filled by diffusion, with the whole
hole as diffusion's unknowns, until the rest of the hole leaves a fully known patch;
the patch method fills that rest, with the diffused pixels as known. For pure
speck masks the rest is empty and the result is diffusion's. The switch is logged
on the ``inpaintkit`` logger (INFO).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
from scipy import ndimage

logger = logging.getLogger("inpaintkit")


def fill_without_sources(image, hole: np.ndarray, *, exclude: np.ndarray | None,
                         has_source: Callable[[np.ndarray], bool], method: str,
                         fill_rest: Callable[[np.ndarray, np.ndarray], Any],
                         empty_rest: Callable[[np.ndarray], Any] | None = None):
    """Fill ``hole`` when no fully known source patch exists.

    Parameters
    ----------
    image : ndarray
        The caller's image (contract dtype and shape).
    hole : ndarray, shape (H, W), bool
        True = hole.
    exclude : ndarray of bool or None
        Pixels never used as a source (they do count as known for diffusion).
    has_source : callable
        ``has_source(valid) -> bool``: whether a fully valid patch exists.
    method : str
        The patch method's name, for the log.
    fill_rest : callable
        ``fill_rest(image, rest_hole)``: the patch method on the pre-filled image.
    empty_rest : callable, optional
        Called with the pre-filled image when diffusion filled the whole hole;
        default: return it.

    Returns
    -------
    Whatever ``fill_rest`` (or ``empty_rest``) returns.
    """
    from .diffusion import inpaint_diffusion

    usable = np.ones(hole.shape, bool) if exclude is None else ~exclude
    depth = ndimage.distance_transform_cdt(hole, metric="chessboard")
    rest = hole
    for level in np.unique(depth[hole]):
        rest = hole & (depth > level)
        if not rest.any() or has_source(~rest & usable):
            break
    first = hole & ~rest
    logger.info(
        "%s: the mask leaves no fully known patch to copy from; %d of %d hole pixels "
        "(up to %d px from known pixels) are filled by diffusion first",
        method, int(first.sum()), int(hole.sum()), int(depth[first].max()))
    diffused = inpaint_diffusion(image, hole)
    prefilled = np.array(image, copy=True)
    prefilled[first] = diffused[first]
    if not rest.any():
        return prefilled if empty_rest is None else empty_rest(prefilled)
    return fill_rest(prefilled, rest)
