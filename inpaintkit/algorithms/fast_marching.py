"""Fast-marching inpainting on prepared data: Telea (2004) and coherence transport (Bornemann and März 2007).

These functions work on the arrays :func:`inpaintkit._image.prepare` produces and are
called by :func:`inpaintkit.algorithms.diffusion.inpaint_diffusion` for the variants
``"telea"`` and ``"coherence"``. Both fill the hole in order of increasing distance to
the known region, computed by fast marching. The work is confined to crops around
groups of nearby hole components, so time grows with the hole, not with the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._progress import report
from .._validate import check_float, check_int
from ._fast_marching_kernels import coherence_fill, fast_march, telea_fill

#: Coherence threshold of Bornemann and März's implementation, delta = 1 for grey levels
#: in [0, 255]; our values are in [0, 1] and delta compares with (l1 - l2)^2, which
#: scales as the fourth power of the grey-level unit.
_COHERENCE_DELTA = 255.0 ** -4


def ball_offsets(radius: int):
    """Offsets ``q - p`` of the disc ``|q - p| <= radius`` without the centre, nearest first.

    Returns
    -------
    off_y, off_x : ndarray, shape (M,), int64
    inv_len, inv_len2 : ndarray, shape (M,), float64
        ``1 / |q - p|`` and ``1 / |q - p|^2``.
    """
    span = np.arange(-radius, radius + 1)
    off_y, off_x = (a.ravel() for a in np.meshgrid(span, span, indexing="ij"))
    dist2 = off_y * off_y + off_x * off_x
    keep = (dist2 > 0) & (dist2 <= radius * radius)
    off_y, off_x, dist2 = off_y[keep], off_x[keep], dist2[keep]
    # Stable sort by distance; ties in row-major order, so the result is reproducible.
    sort = np.argsort(dist2, kind="stable")
    off_y, off_x, dist2 = off_y[sort], off_x[sort], dist2[sort].astype(np.float64)
    return (np.ascontiguousarray(off_y, np.int64), np.ascontiguousarray(off_x, np.int64),
            1.0 / np.sqrt(dist2), 1.0 / dist2)


def _hole_groups(hole: np.ndarray, margin: int):
    """Yield (slice, hole of this group within the slice) for groups of nearby hole pixels.

    Grouping runs on a grid of ``margin`` x ``margin`` cells (cheap on large images):
    cells holding hole pixels are grown by one cell and 8-connected components of the
    result are the groups. Hole pixels of different groups are then more than
    ``3 * margin`` apart, and a group's crop (its grown cells) reaches at least
    ``margin`` beyond each of its hole pixels, so nothing a group's fill reads belongs
    to another group's hole.
    """
    height, width = hole.shape
    cell = max(int(margin), 1)
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:height, :width] = hole
    occupied = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    grown = ndimage.binary_dilation(occupied, structure=np.ones((3, 3), bool))
    labels, _ = ndimage.label(grown, structure=np.ones((3, 3), bool))
    for index, cells in enumerate(ndimage.find_objects(labels), start=1):
        if cells is None:
            continue
        crop = (slice(cells[0].start * cell, min(cells[0].stop * cell, height)),
                slice(cells[1].start * cell, min(cells[1].stop * cell, width)))
        mine = np.repeat(np.repeat(labels[cells] == index, cell, axis=0), cell, axis=1)
        mine = mine[: crop[0].stop - crop[0].start, : crop[1].stop - crop[1].start]
        yield crop, np.ascontiguousarray(hole[crop] & mine)


def _as_arrays(data, hole):
    """float64 C-contiguous copy of ``data`` (H, W, C) and ``hole`` as bool (H, W)."""
    filled = np.array(data, dtype=np.float64, order="C", copy=True)
    hole = np.ascontiguousarray(hole, dtype=bool)
    if filled.ndim != 3 or hole.shape != filled.shape[:2]:
        raise ValueError(f"data must be (H, W, C) and hole (H, W) of the same size, "
                         f"got {filled.shape} and {hole.shape}")
    if hole.size and hole.all():
        raise ValueError("hole covers the whole image: there are no known pixels to fill from")
    return filled, hole


def _chunks(count: int, total: int, parts: int = 20, smallest: int = 50_000):
    """Split ``range(count)`` into pieces of about ``total / parts`` for progress reports."""
    step = max(smallest, -(-total // parts))
    for start in range(0, count, step):
        yield start, min(start + step, count)


def _gaussian(sigma: float) -> np.ndarray:
    # Truncated at 2 sigma, as in the authors' implementation.
    half = max(int(round(2.0 * sigma)), 1)
    x = np.arange(-half, half + 1, dtype=np.float64)
    return np.exp(-(x * x) / (2.0 * sigma * sigma))


def fill_telea(data: np.ndarray, hole: np.ndarray, *, radius: int = 5) -> np.ndarray:
    """Fill ``hole`` by Telea's fast-marching method.

    Each hole pixel, in order of increasing distance ``T`` to the known region, becomes
    the normalised weighted sum over known pixels ``q`` within ``radius`` of the
    first-order estimate ``I(q) + grad I(q) . (p - q)``, with weights = direction
    (along the level-set normal) x geometric distance x level-set distance. Unlike
    OpenCV's ``INPAINT_TELEA`` it works in float64 for any channel count, keeps a
    constant region exactly constant and fills holes that touch the image border.

    Parameters
    ----------
    data : ndarray, shape (H, W, C), float64
        Values in [0, 1]; hole values are ignored.
    hole : ndarray, shape (H, W), bool
        True = fill.
    radius : int, default 5
        Radius in pixels of the neighbourhood each estimate averages over (>= 1).

    Returns
    -------
    ndarray, shape (H, W, C), float64
        ``data`` with the hole filled; values outside the hole are equal to ``data``.

    References
    ----------
    A. Telea, "An image inpainting technique based on the fast marching method",
    Journal of Graphics Tools 9(1):23-34, 2004. :doi:`10.1080/10867651.2004.10487596`

    Examples
    --------
    >>> import numpy as np
    >>> data = np.full((8, 8, 1), 0.25)
    >>> hole = np.zeros((8, 8), bool); hole[3:5, 3:5] = True
    >>> float(fill_telea(data, hole)[4, 4, 0])
    0.25
    """
    radius = check_int("radius", radius, low=1)
    filled, hole = _as_arrays(data, hole)
    total = int(hole.sum())
    if total == 0:
        return filled
    off_y, off_x, inv_len, inv_len2 = ball_offsets(radius)
    done = 0
    # The estimate reads pixels up to radius away, and their neighbours for grad I.
    for crop, group_hole in _hole_groups(hole, radius + 2):
        values = np.ascontiguousarray(filled[crop])
        T, order = fast_march(group_hole)
        for start, stop in _chunks(order.shape[0], total):
            telea_fill(values, T, order, start, stop, off_y, off_x, inv_len, inv_len2)
            report("telea", done + stop, total)
        filled[crop][group_hole] = values[group_hole]
        done += order.shape[0]
    return filled


def fill_coherence(data: np.ndarray, hole: np.ndarray, *, radius: int = 5,
                   sharpness: float = 25.0, sigma: float = 1.4, rho: float = 4.0) -> np.ndarray:
    """Fill ``hole`` by coherence transport (Bornemann and März).

    The hole is filled in fast-marching order; each pixel is the weighted mean of the
    known pixels within ``radius``, with weights concentrated along the coherence
    direction of the structure tensor of the pixels known so far, so edges and
    isophotes are continued sharply into the hole. Where the tensor is isotropic the
    weight falls back to ``1 / |p - q|``.

    Parameters
    ----------
    data : ndarray, shape (H, W, C), float64
        Values in [0, 1]; hole values are ignored.
    hole : ndarray, shape (H, W), bool
        True = fill.
    radius : int, default 5
        Radius eps of the averaging ball in pixels (>= 1).
    sharpness : float, default 25.0
        The paper's mu (kappa): how strongly the weights concentrate along the
        coherence direction (>= 0; 0 gives the isotropic distance weight).
    sigma : float, default 1.4
        Pre-smoothing scale of the image before its gradient is taken (> 0).
    rho : float, default 4.0
        Integration scale of the structure tensor (> 0).

    Returns
    -------
    ndarray, shape (H, W, C), float64
        ``data`` with the hole filled; values outside the hole are equal to ``data``.

    References
    ----------
    F. Bornemann and T. März, "Fast image inpainting based on coherence transport",
    Journal of Mathematical Imaging and Vision 28(3):259-278, 2007.
    :doi:`10.1007/s10851-007-0017-6`

    Examples
    --------
    >>> import numpy as np
    >>> data = np.zeros((16, 16, 1)); data[:, 8:] = 1.0     # a vertical edge
    >>> hole = np.zeros((16, 16), bool); hole[6:10, :] = True
    >>> out = fill_coherence(data, hole)
    >>> bool(abs(out[8, 4, 0]) < 0.05 and abs(out[8, 11, 0] - 1.0) < 0.05)
    True
    """
    radius = check_int("radius", radius, low=1)
    sharpness = check_float("sharpness", sharpness, low=0.0)
    sigma = check_float("sigma", sigma, low=0.0, low_open=True)
    rho = check_float("rho", rho, low=0.0, low_open=True)
    filled, hole = _as_arrays(data, hole)
    total = int(hole.sum())
    if total == 0:
        return filled
    off_y, off_x, inv_len, _ = ball_offsets(radius)
    kernel_sigma = _gaussian(sigma)
    kernel_rho = _gaussian(rho)
    half_s = (kernel_sigma.shape[0] - 1) // 2
    half_r = (kernel_rho.shape[0] - 1) // 2
    # The tensor at p reads gradients (one pixel) of the smoothed image (half_s) within
    # half_r of p; the estimate reads radius.
    margin = max(radius, half_r + 1 + half_s) + 1
    sharpness2 = (sharpness / radius) ** 2
    done = 0
    for crop, group_hole in _hole_groups(hole, margin):
        values = np.ascontiguousarray(filled[crop])
        known = (~hole[crop]).astype(np.float64)
        # Normalised convolution of the known pixels only: the hole does not bleed in.
        weight_sum = ndimage.correlate1d(known, kernel_sigma, axis=0, mode="constant")
        weight_sum = ndimage.correlate1d(weight_sum, kernel_sigma, axis=1, mode="constant")
        values_sum = ndimage.correlate1d(values * known[:, :, None], kernel_sigma, axis=0,
                                         mode="constant")
        values_sum = ndimage.correlate1d(values_sum, kernel_sigma, axis=1, mode="constant")
        # Rounding can leave tiny non-zero sums where no known pixel is in reach.
        weight_sum[weight_sum < 0.5 * kernel_sigma[0] ** 2] = 0.0
        has_data = weight_sum > 0.0
        smoothed = np.zeros_like(values_sum)
        smoothed[has_data] = values_sum[has_data] / weight_sum[has_data, None]
        values_sum = np.ascontiguousarray(values_sum)
        products = np.zeros(values.shape[:2] + (3,))
        stale = np.ones(values.shape[:2], np.uint8)
        T, order = fast_march(group_hole)
        for start, stop in _chunks(order.shape[0], total):
            coherence_fill(values, T, order, start, stop, values_sum, weight_sum, smoothed,
                           products, stale, off_y, off_x, inv_len, kernel_sigma, kernel_rho,
                           sharpness2, _COHERENCE_DELTA)
            report("coherence", done + stop, total)
        filled[crop][group_hole] = values[group_hole]
        done += order.shape[0]
    return filled
