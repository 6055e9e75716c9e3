"""Criminisi exemplar-based inpainting: fill the hole patch by patch, structure first.

The public function validates its options, converts the image once to the search
colour space, and drives the Numba kernels of ``_criminisi_kernels`` a few hundred
steps at a time so that progress can be reported.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from .. import _progress
from .._image import (check_has_hole, check_image, check_known_values, check_mask, composite,
                      prepare, to_float)
from . import _criminisi_kernels as _k
from ._prefill import fill_without_sources
from .diffusion import _hole_box, harmonic_fill

COLOR_SPACES = ("lab", "rgb")

#: Gaussian sigma (pixels) of the smoothed hole indicator whose gradient gives the
#: front normal n_p; the raw mask's 4-pixel steps make normals useless otherwise.
NORMAL_SIGMA = 1.5
#: Half-width of that Gaussian (3 sigma, rounded up).
NORMAL_RADIUS = 5
#: Added to D(p)/alpha so flat regions are filled in confidence order (onion peel).
DATA_EPSILON = 1e-3
#: Value scale of the search space: CIE L* runs 0-100; RGB and gray are scaled to
#: match, so SSD magnitudes and the data term's alpha mean the same in every space.
FEATURE_SCALE = 100.0
#: The isophote at a front pixel p (unknown itself) is the strongest one among the
#: known pixels within this radius: close enough to be "the isophote at p" of eq. (3),
#: far enough to reach past the one-sided gradients right at the front.
ISOPHOTE_RADIUS = 2
#: Colour distance scale (in [0, 1] units) of the seam blending: votes that differ
#: from the pixel by much more come from other structure and are left out.
BLEND_COLOUR_SIGMA = 0.3
#: Default weight, in the patch distance, of the target's unknown pixels compared with
#: a first estimate of the hole (its harmonic fill); 0 compares known pixels only.
GUIDE_WEIGHT = 1.0
#: Hole pixels up to this far (pixels) into the hole weigh ``guide_weight`` in full.
GUIDE_DEPTH = 3.0
#: Steps per kernel call between progress reports.
STEPS_PER_REPORT = 256
#: Search windows with at least this many candidate centres are searched with threads;
#: below it, starting them costs more than they save (measured on 2 loaded cores).
PARALLEL_MIN_CANDIDATES = 1 << 17


def _gaussian_weights(sigma: float, radius: int) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _search_features(data: np.ndarray, color_space: str,
                     eight_bit: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The image where patches are compared, flat (H * W * C), and its luma, flat (H * W).

    Lab for colour images by default (L* is the luma); RGB and gray values are scaled
    by ``FEATURE_SCALE`` (luma: the channel mean). ``eight_bit`` says the data are
    k / 255 exactly, so Lab can use a 256-entry table for the sRGB curve.
    """
    height, width, channels = data.shape
    if channels == 3 and color_space == "lab":
        feat = np.empty(height * width * 3, np.float32)
        if eight_bit:
            lut = np.array([_k.srgb_to_linear(k / 255.0) for k in range(256)])
        else:
            lut = np.empty(0)
        _k.rgb_to_lab(data.reshape(-1), feat, lut)
        luma = np.ascontiguousarray(feat[0::3])  # float32
    else:
        feat = np.empty(data.size, np.float32)
        np.multiply(data.reshape(-1), FEATURE_SCALE, out=feat, casting="same_kind")
        luma = np.empty(height * width, np.float32)
        np.multiply(data.mean(axis=2).reshape(-1), FEATURE_SCALE, out=luma, casting="same_kind")
    return feat, luma


def _check_guide(patch_size, guide_weight, copy_radius) -> None:
    if (isinstance(guide_weight, (bool, np.bool_)) or not isinstance(guide_weight, (int, float, np.number))
            or not 0 <= guide_weight < np.inf):
        raise ValueError(f"guide_weight must be a finite number >= 0, got {guide_weight!r}")
    if copy_radius is not None and (
            isinstance(copy_radius, bool) or not isinstance(copy_radius, (int, np.integer))
            or not 0 <= copy_radius <= patch_size // 2):
        raise ValueError(
            f"copy_radius must be None or an integer in [0, patch_size // 2] = "
            f"[0, {patch_size // 2}], got {copy_radius!r}"
        )


def _check_options(shape, patch_size, search_window, color_space, blend_radius) -> None:
    height, width = shape
    if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)):
        raise ValueError(f"patch_size must be an odd integer >= 3, got {patch_size!r}")
    if patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be an odd integer >= 3, got {patch_size}")
    if patch_size > min(height, width):
        raise ValueError(
            f"patch_size must not exceed the image's smaller side ({min(height, width)} "
            f"for a {height}x{width} image), got {patch_size}"
        )
    if search_window is not None and search_window != "full":
        if isinstance(search_window, bool) or not isinstance(search_window, (int, np.integer)) \
                or search_window < 1:
            raise ValueError(
                f"search_window must be None, 'full' or an integer >= 1 (half-size in "
                f"pixels), got {search_window!r}"
            )
    if color_space not in COLOR_SPACES:
        raise ValueError(
            f"unknown color_space {color_space!r}; valid color spaces: {', '.join(COLOR_SPACES)}"
        )
    if blend_radius is not None and (
            isinstance(blend_radius, bool) or not isinstance(blend_radius, (int, np.integer))
            or not 0 <= blend_radius <= patch_size // 2):
        raise ValueError(
            f"blend_radius must be an integer in [0, patch_size // 2] = [0, {patch_size // 2}], "
            f"got {blend_radius!r}"
        )


def inpaint_criminisi(image, mask, *, patch_size=9, search_window=None, color_space="lab",
                      blend_radius=None, guide_weight=GUIDE_WEIGHT, copy_radius=1,
                      return_fill_order=False,
                      seed=0):
    """Fill the hole by exemplar-based inpainting (Criminisi, Perez and Toyama 2004).

    The hole is filled from its border inwards, one patch at a time. The next patch is
    centred on the front pixel of highest priority P(p) = C(p) D(p): the confidence
    C(p) favours patches with much known context, the data term D(p) favours places
    where an isophote (an edge) hits the front, so linear structures are continued
    before flat texture. Each patch is copied from the known patch with the smallest
    sum of squared differences over the target's known pixels.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (alpha is carried through); uint8, uint16, float32 or float64
        (floats in [0, 1]).
    mask : ndarray, shape (H, W), bool or integer
        Non-zero / True marks the hole.
    patch_size : int, default 9
        Side of the square patches, odd, >= 3 and at most the image's smaller side.
        7 scores about 0.5 dB higher on the bundled scratch sample but misplaces
        a few pixels of stripes with an 8-pixel period (the example below).
    search_window : None, int or "full", default None
        Where source patches are looked for. An integer is the half-size of a square
        window around the target; the sources that continue the patches of the
        target's filled neighbours are always tried too (coherence, as in CImg's
        ``inpaint_patch``). Deep inside a large hole the window starts wide
        enough to reach the nearest source, then doubles until it holds at least
        ``patch_size ** 2`` source patches. ``"full"`` searches the whole image, as
        in the paper: 10-40x slower, and on photos no better (far-away matches bring
        in unrelated texture). ``None`` uses ``2 * patch_size``.
    color_space : {"lab", "rgb"}, default "lab"
        Space of the patch comparison for colour images (CIE L*a*b* is closer to
        perceived difference). Gray images compare their values.
    blend_radius : int or None, default None
        After the fill, pixels near seams between patches from different sources
        average what the neighbouring patches within this radius would put there
        (Gaussian weights, sigma ``blend_radius / 2``, times a colour-similarity
        weight so that no structure is smeared across an edge), so block edges do
        not show. At most ``patch_size // 2``, which ``None`` uses; 0 keeps the pure
        copy.
    guide_weight : float, default 1.0
        Weight of the target's unknown pixels in the patch distance, compared with a
        first estimate of the hole (its harmonic fill, the smooth interpolant of the
        hole's border); known pixels weigh 1 and 0 gives the paper's distance over
        known pixels only. A patch that matches the known border but would put dark
        or bright structure where the border's colours suggest none (a pupil's
        highlight blotted out, a rail drawn across a street) now loses. On the
        bundled scratch sample, hole PSNR 21.6 -> 23.0 dB alone.
    copy_radius : int or None, default 1
        Only the unknown pixels within this (chessboard) radius of the target's
        centre are copied at each step, not the whole unknown part of the patch:
        pixels next to the front copy from a patch matched on their own
        neighbourhood, so a thin hole is no longer filled by one patch along much
        of its length (the jagged staircases along eyelids). ``None`` copies the
        whole patch as in the paper (fastest). At most ``patch_size // 2``.
    return_fill_order : bool, default False
        Also return the step at which each pixel was filled.
    seed : int, default 0
        Seeds the keys that break exact ties of priority and of patch distance.

    Returns
    -------
    result : ndarray
        Same shape and dtype as ``image``; pixels outside the hole are unchanged.
    fill_order : ndarray, shape (H, W), int32
        Only with ``return_fill_order=True``: the step (from 0) that filled each hole
        pixel, -1 outside the hole.

    Raises
    ------
    ValueError
        For an even, too small or too large ``patch_size``, an invalid
        ``search_window`` or ``blend_radius``, or an unknown ``color_space``.

    Notes
    -----
    Sources are the patches fully known in the input (the paper's source region).
    Where the mask leaves none (dust or dead pixels scattered at 20-50 % density),
    the hole pixels nearest the known ones are first filled by diffusion until a
    fully known patch exists (logged on the ``inpaintkit`` logger; their
    ``fill_order`` is -1), and exemplars fill the rest.
    After each fill only the neighbourhood of the patch is updated (front, smoothed
    mask and normals, isophotes, confidences and priorities); the front is a heap.
    Ties (equal priorities, equal SSDs at equal distance) go to the lower of a seeded
    random key, and the parallel search merges per-row answers in a fixed order, so
    the result depends on ``seed`` only, never on the thread count.
    The fill runs on the hole's bounding box plus the reach of its search windows (the
    same result as on the whole image: where a window or a coherent copy would reach
    past that crop, the fill starts again on one 4 times wider, and a crop over half
    the image is the image), so a small hole in a large photo costs memory for its
    crop: about 25 bytes per crop pixel and 7 per image pixel.

    References
    ----------
    A. Criminisi, P. Perez and K. Toyama, "Region filling and object removal by
    exemplar-based image inpainting", IEEE Transactions on Image Processing 13(9),
    1200-1212, 2004. doi:10.1109/TIP.2004.833105

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit.algorithms.criminisi import inpaint_criminisi
    >>> image = np.tile(np.arange(64) % 8 < 4, (64, 1)).astype(np.float64)
    >>> mask = np.zeros((64, 64), bool); mask[20:40, 20:40] = True
    >>> out, order = inpaint_criminisi(image, mask, return_fill_order=True)
    >>> bool(np.abs(out - image).max() < 1e-12), int(order.max()) > 0
    (True, True)
    """
    image = check_image(image)
    hole2d = check_mask(mask, image.shape[:2])
    if not hole2d.any() or hole2d.all():  # prepare's warning / error, on a tiny cost
        prep = prepare(image, hole2d)
        check_has_hole(prep)
        copy = np.array(image, copy=True)
        if return_fill_order:
            return copy, np.full(prep.mask.shape, -1, np.int32)
        return copy
    check_known_values(image, hole2d)
    height, width = hole2d.shape
    colour_image = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    channels = 1 if colour_image.ndim == 2 else colour_image.shape[2]
    _check_options((height, width), patch_size, search_window, color_space, blend_radius)
    _check_guide(patch_size, guide_weight, copy_radius)
    patch_size = int(patch_size)
    half = patch_size // 2

    # Source centres: the whole patch inside the image and known in the input.
    valid = ndimage.minimum_filter((~hole2d).view(np.uint8), size=patch_size, mode="constant",
                                   cval=0)
    if not valid.any():
        # Scattered specks can leave no fully known patch: diffusion fills the pixels
        # nearest the known ones first (see _prefill), exemplars the rest.
        def has_source(usable):
            return bool(ndimage.minimum_filter(usable.view(np.uint8), size=patch_size,
                                               mode="constant", cval=0).any())

        def empty_rest(filled):
            if return_fill_order:
                return filled, np.full(hole2d.shape, -1, np.int32)
            return filled

        return fill_without_sources(
            image, hole2d, exclude=None, method="criminisi", has_source=has_source,
            empty_rest=empty_rest,
            fill_rest=lambda filled, rest: inpaint_criminisi(
                filled, rest, patch_size=patch_size, search_window=search_window,
                color_space=color_space, blend_radius=blend_radius,
                return_fill_order=return_fill_order, seed=seed))
    if search_window is None:
        window = 2 * patch_size
    elif search_window == "full":
        window = max(height, width)
    else:
        window = min(int(search_window), max(height, width))
    if blend_radius is None:
        blend_radius = half

    # The first estimate of the hole that the patch distance also compares with,
    # solved on the hole's bounding box plus the one-pixel ring it reads; only its hole
    # values are kept (one row per hole pixel, row-major).
    guide = None
    depth = np.zeros(int(np.count_nonzero(hole2d)), np.uint8)
    if guide_weight > 0:
        box = _hole_box(hole2d, 1)
        crop = prepare(image[box], hole2d[box])
        with _progress.reporting(None):  # the solver's own progress is not ours
            guide = harmonic_fill(crop.data, crop.mask)[crop.mask]
        # Distance into the hole, rounded up and clipped to a byte (OpenCV's exact
        # Euclidean transform, as patchmatch's hole depth).
        distance = cv2.distanceTransform(crop.mask.view(np.uint8), cv2.DIST_L2,
                                         cv2.DIST_MASK_PRECISE)
        depth = np.minimum(np.ceil(distance[crop.mask]), 255).astype(np.uint8)
        del crop, distance
    # Where a window must reach to hold any source: deep inside a large hole the
    # default window starts wide enough instead of doubling its way out.
    # Chessboard distance to the nearest source centre (OpenCV measures from each
    # non-zero pixel to the nearest zero one); only the hole's values are kept.
    source_distance = cv2.distanceTransform((valid == 0).view(np.uint8), cv2.DIST_C, 3)
    source_distance = source_distance[hole2d].astype(np.int32)
    options = dict(patch_size=patch_size, window=window, color_space=color_space,
                   blend_radius=int(blend_radius), guide_weight=float(guide_weight),
                   copy_radius=int(copy_radius) if copy_radius is not None else half, seed=seed)
    # Work on the hole's bounding box plus the reach of its windows and patches (see
    # _fill_box); where a step would reach past it, again on a crop 4 times wider.
    margin = _first_margin(window, int(source_distance.max()), half)
    while True:
        box = _hole_box(hole2d, margin)
        area = (box[0].stop - box[0].start) * (box[1].stop - box[1].start)
        if area > CROP_AREA * height * width:
            box = (slice(0, height), slice(0, width))
        filled = _fill_box(image, colour_image, hole2d, valid, box, guide, depth,
                           source_distance, options)
        if filled is not None:
            break
        margin *= 4
    colour, fill_order = filled
    result = composite(image, hole2d, colour)
    if return_fill_order:
        order = np.full((height, width), -1, np.int32)
        order[hole2d] = fill_order
        return result, order
    return result


#: Criminisi works on a crop of the image (the hole's box plus the windows' reach)
#: when the crop holds at most this fraction of the image; else on the whole image.
CROP_AREA = 0.5
#: Out of every window's reach: the limit of a crop edge that is the image's border.
_NO_LIMIT = 1 << 40


def _first_margin(window: int, source_distance: int, half: int) -> int:
    """The first crop's margin around the hole's box: twice the widest first window
    (``window``, or wide enough to reach the farthest source), plus a patch and the
    reach of the priority updates. Windows that double past it, and coherent copies
    that wander out, make the fill run again on a crop 4 times wider (rare)."""
    return 2 * max(window, source_distance + half) + 2 * half + NORMAL_RADIUS + ISOPHOTE_RADIUS + 2


def _fill_box(image, colour_image, hole2d, valid, box, guide, depth, source_distance, options):
    """Run the fill on the pixels of ``box``; return ``(colour, fill_order)`` of the
    hole pixels (row-major), or None when a step would look past the crop.

    The kernels see the crop as the image, with limits on its edges that are not the
    image's: every window and candidate source stays ``half`` inside them (its patch
    then lies in the crop), the windows grow as far as on the image (``full``), and
    the fill's tie keys are the image's permutation cut to the crop. So the crop is
    filled as the image would be, bit for bit; a step that would need more returns
    -2 and the caller takes a larger crop. Source centres (``valid``) and their
    distances are the image's.

    Memory: per crop pixel only the search features (float32), the current hole, the
    hole numbers and tie keys (int32) and the source centres; everything else is kept
    per hole pixel, and the colours are read from the input at the end (each filled
    pixel is a copy of a known one). About 25 bytes a crop pixel beyond the input.
    """
    image_height, image_width = hole2d.shape
    rows, cols = box
    height, width = rows.stop - rows.start, cols.stop - cols.start
    half = options["patch_size"] // 2
    limits = np.array([
        -_NO_LIMIT if rows.start == 0 else half,
        _NO_LIMIT if rows.stop == image_height else height - half,
        -_NO_LIMIT if cols.start == 0 else half,
        _NO_LIMIT if cols.stop == image_width else width - half], np.int64)
    channels = 1 if colour_image.ndim == 2 else colour_image.shape[2]
    color_space = options["color_space"]
    size = height * width
    # The tie keys: the permutation rng.permutation(size) gives, in 4 bytes an image
    # pixel, cut to the crop.
    tie_key = np.arange(image_height * image_width, dtype=np.int32)
    np.random.default_rng(options["seed"]).shuffle(tie_key)
    tie_key = np.ascontiguousarray(tie_key.reshape(image_height, image_width)[box]).reshape(-1)
    crop_hole = np.ascontiguousarray(hole2d[box])
    holes = np.flatnonzero(crop_hole.reshape(-1))  # row-major: the order of out[hole]
    count = holes.size
    hid = np.full(size, -1, np.int32)
    hid[holes] = np.arange(count, dtype=np.int32)
    distances = np.maximum(np.arange(256, dtype=np.float64), 1.0)
    # The guide's weight at each distance: full up to GUIDE_DEPTH, then falling as
    # (GUIDE_DEPTH / d)^2 - deep inside a large hole the smooth estimate says little,
    # and would pull regular texture to its mean.
    guide_table = options["guide_weight"] * np.minimum(1.0, (GUIDE_DEPTH / distances) ** 2)
    # (The 8-bit table rounds the estimate to 8-bit levels: harmless for a guide.)
    feat, luma = _image_features(colour_image[box], crop_hole, guide, color_space)
    stride = 3 if channels == 3 and color_space == "lab" else 1
    copy_luma = channels == 3 and color_space != "lab"
    if not copy_luma:
        luma = feat  # L* (stride 3) or the gray value itself
    hole = crop_hole.reshape(-1).astype(np.uint8)  # a copy: the kernels fill it
    valid_flat = np.ascontiguousarray(valid[box]).reshape(-1)
    weights = _gaussian_weights(NORMAL_SIGMA, NORMAL_RADIUS)
    # Per hole pixel: float32 values and int32 indices.
    confidence = np.zeros(count, np.float32)  # C of filled pixels (1 on the known region)
    front_pos = np.full(count, -1, np.int32)
    front_where = np.full(count, -1, np.int32)
    counters = np.zeros(3, np.int64)
    front_conf = np.zeros(count, np.float32)
    priority = np.zeros(count)
    version = np.zeros(count, np.int32)
    updated = np.empty(count, np.int32)
    source = np.full(count, -1, np.int32)
    fill_order = np.full(count, -1, np.int32)
    alpha = FEATURE_SCALE
    patch_size = options["patch_size"]

    # The front lies in the hole's bounding box.
    hole_rows = np.flatnonzero(crop_hole.any(axis=1))
    hole_cols = np.flatnonzero(crop_hole.any(axis=0))
    _k.initialise(luma, stride, hole, hid, height, width, weights, confidence, front_pos,
                  front_where, counters, front_conf, priority, version, updated, half, alpha,
                  DATA_EPSILON, ISOPHOTE_RADIUS, hole_rows[0], hole_rows[-1] + 1, hole_cols[0],
                  hole_cols[-1] + 1)
    _progress.report("criminisi", 0, count)
    while counters[0] > 0:
        done = _k.fill_steps(feat, luma, stride, copy_luma, hole, hid, valid_flat, tie_key,
                             height, width, channels, weights, confidence, front_pos,
                             front_where, counters, front_conf, priority, version, updated,
                             source, fill_order, half, options["window"], source_distance,
                             patch_size * patch_size, PARALLEL_MIN_CANDIDATES, alpha,
                             DATA_EPSILON, ISOPHOTE_RADIUS, STEPS_PER_REPORT, guide_table,
                             depth, options["copy_radius"], max(image_height, image_width),
                             limits)
        if done == -2:
            return None
        if done < 0:  # unreachable: a valid source exists and the window grows to the image
            raise RuntimeError("Criminisi search found no source patch")
        _progress.report("criminisi", int(counters[2]), count)
    del feat, luma, hole, valid_flat, tie_key

    # Each filled pixel is a copy of a known input pixel: its colour is read from there.
    pixels = np.ascontiguousarray(image[box]).reshape(size, -1)
    scale = float(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else 1.0
    colour = np.empty((count, channels))
    _k.gather_colours(pixels, scale, source, channels, colour)
    blend_radius = options["blend_radius"]
    if blend_radius > 0:
        # In place: a seam pixel reads known source pixels and its own value only.
        # Gaussian weights, sigma = radius / 2 (the pixel's own patch weighs most).
        taps = _gaussian_weights(blend_radius / 2.0, int(blend_radius))
        seam = np.empty(count, np.uint8)
        _k.seam_flags(holes, hid, source, height, width, int(blend_radius), seam)
        _k.blend_seams(pixels, scale, colour, colour, holes, hid, seam, height, width,
                       channels, source, np.outer(taps, taps), BLEND_COLOUR_SIGMA)
    return colour, fill_order


def _image_features(colour_image, hole, guide, color_space):
    """The search features (flat float32, see :func:`_search_features`) and, for RGB
    search, the luma, converted a band of rows at a time (no float copy of the
    image); hole pixels get the features of ``guide`` (their first estimate, one
    row per hole pixel), or of 0 without one."""
    height, width = hole.shape
    channels = 1 if colour_image.ndim == 2 else colour_image.shape[2]
    eight_bit = colour_image.dtype == np.uint8
    feat = np.empty(height * width * channels, np.float32)
    luma = (np.empty(height * width, np.float32) if channels == 3 and color_space != "lab"
            else None)
    # Bands of at most 2 MB of float64 and a sixteenth of the image.
    band = max(1, min(1 << 18, height * width // 16) // (width * channels))
    for top in range(0, height, band):
        rows = slice(top, min(top + band, height))
        data = to_float(colour_image[rows])
        if data.ndim == 2:
            data = data[:, :, None]
        data[hole[rows]] = 0.0
        part, part_luma = _search_features(data, color_space, eight_bit)
        feat[top * width * channels:rows.stop * width * channels] = part
        if luma is not None:
            luma[top * width:rows.stop * width] = part_luma
    if guide is not None:
        part, part_luma = _search_features(guide.reshape(-1, 1, channels), color_space, eight_bit)
        flat = np.flatnonzero(hole.reshape(-1))
        feat.reshape(-1, channels)[flat] = part.reshape(-1, channels)
        if luma is not None:
            luma[flat] = part_luma
    return feat, luma
