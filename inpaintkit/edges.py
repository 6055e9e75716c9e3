"""Edge maps of the known part of an image, for edge-guided (EdgeConnect-style) filling.

:func:`canny` runs Canny (scikit-image) on the known region only: the hole is excluded
from the smoothing, so neither its contents nor its border create edges. The helpers
build the edge map a pipeline feeds its image generator: known edges outside the hole,
predicted or user-drawn edges inside.
"""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import canny as _skimage_canny

from ._image import check_image, check_mask, to_float

__all__ = ["canny", "to_gray", "merge_edges"]


def to_gray(image) -> np.ndarray:
    """Luminance (ITU-R BT.709 weights, as ``skimage.color.rgb2gray``) as float64 in [0, 1].

    ``image`` is (H, W) or (H, W, C) with C in 1, 3, 4 (alpha ignored), any contract dtype.
    """
    image = check_image(image)
    values = to_float(image)
    if values.ndim == 2:
        return values
    if values.shape[2] == 1:
        return values[..., 0]
    return rgb2gray(values[..., :3])


def canny(image, *, sigma: float = 2.0, mask=None, low_threshold=None,
          high_threshold=None) -> np.ndarray:
    """Canny edges of the known region of ``image``.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (colour is converted to grey; alpha is ignored). uint8, uint16,
        float32 or float64 (floats in [0, 1]).
    sigma : float, default 2.0
        Gaussian smoothing (EdgeConnect uses 2).
    mask : ndarray, shape (H, W), bool or integer, optional
        Non-zero = hole. The hole's pixels are not read; no edge is returned inside it,
        and the edge the hole's border would create is suppressed (scikit-image smooths
        with the valid mask only and erodes it by one pixel).
    low_threshold, high_threshold : float, optional
        Hysteresis thresholds on the gradient magnitude of the [0, 1] grey image;
        scikit-image's defaults (10 % and 20 % of the dtype range) when omitted.

    Returns
    -------
    ndarray, shape (H, W), bool
        True on edge pixels; always False inside the hole.

    References
    ----------
    J. Canny, "A Computational Approach to Edge Detection", IEEE TPAMI 8(6), 1986,
    https://doi.org/10.1109/TPAMI.1986.4767851.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((32, 32)); image[:, 16:] = 1.0
    >>> hole = np.zeros((32, 32), bool); hole[10:20, 10:20] = True
    >>> edges = canny(image, mask=hole)
    >>> bool(edges[hole].any()), bool(edges[:5, 15:17].any())
    (False, True)
    """
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    gray = to_gray(image)
    if mask is None:
        hole = np.zeros(gray.shape, bool)
    else:
        hole = check_mask(mask, gray.shape)
    gray = np.where(hole, 0.0, gray)  # the hole may hold NaN or anything: never read it
    edges = _skimage_canny(gray, sigma=sigma, mask=~hole, low_threshold=low_threshold,
                           high_threshold=high_threshold)
    edges &= ~hole
    return edges


def merge_edges(known_edges, filled_edges, mask) -> np.ndarray:
    """Edge map for the image stage: ``known_edges`` outside the hole, ``filled_edges``
    (predicted, or drawn by a user) inside it.

    Parameters
    ----------
    known_edges : ndarray, shape (H, W), bool or float in [0, 1]
    filled_edges : ndarray, shape (H, W), bool or float in [0, 1]
    mask : ndarray, shape (H, W), bool, True = hole

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
    """
    known = np.asarray(known_edges, dtype=np.float64)
    filled = np.asarray(filled_edges, dtype=np.float64)
    hole = np.asarray(mask, bool)
    if known.shape != hole.shape or filled.shape != hole.shape:
        raise ValueError(
            f"edge maps and mask must have the same (H, W) shape, got {known.shape}, "
            f"{filled.shape} and {hole.shape}"
        )
    return np.where(hole, filled, known)
