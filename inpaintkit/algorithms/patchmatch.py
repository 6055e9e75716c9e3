"""PatchMatch: a public nearest-neighbour field and multi-scale patch-based completion.

:func:`patchmatch_nnf` computes an approximate nearest-neighbour field between two
images (Barnes et al. 2009); :func:`inpaint_patchmatch` fills holes by the multi-scale
expectation-maximisation completion of Wexler, Shechtman and Irani (2007) built on it,
with the texture features of Newson et al. (2014) in the patch distance and a final
vote in the gradient domain (a Poisson solve, as in Darabi et al.'s Image Melding,
2012). The Numba kernels live in :mod:`._patchmatch_kernels`.
"""

from __future__ import annotations

import numbers
import operator

import cv2
import numba
import numpy as np
from scipy import ndimage

from .. import _progress
from .._image import (check_has_hole, check_image, check_known_values, check_mask, composite,
                      prepare)
from .._validate import check_float
from . import _patchmatch_kernels as _k
from ._jit import run_strided, threads
from ._prefill import fill_without_sources
from .diffusion import _hole_box, harmonic_fill, poisson_fill

__all__ = ["patchmatch_nnf", "inpaint_patchmatch"]

#: Rows per parallel band in the NNF search for an image of ``height`` rows. A fixed
#: function of the height only, so results never depend on the number of threads.
_BANDS = 16
_MIN_BAND_HEIGHT = 8
#: Side of the window over which the texture features average |I_x|, |I_y|.
_TEXTURE_WINDOW = 5
#: Percentile of the patch distances used as sigma^2 in the voting weights (Wexler).
_SIGMA_PERCENTILE = 75
#: Wexler's confidence base: a patch centred d pixels inside the hole weighs gamma^-d.
_GAMMA = 1.3
#: Stop coarsening when fewer than this fraction of a level's known pixels are centres
#: of fully known patches: coarser levels would have too few patches to copy from.
#: Kept low: a free-form hole spread over the image leaves few fully known patches
#: at coarse levels, yet those levels are what carries structure across the hole
#: (at 0.75, holes over ~30 % got no pyramid at all: -0.5 to -1 dB and a smooth fill).
_MIN_SOURCE_FRACTION = 0.05
#: Below these numbers of active patches the search and the other passes run on one
#: thread: sharing the work costs more than it saves (results are the same either
#: way). (4096, 16384) filled the 28 benchmark cases about 7 % faster than (8192,
#: 65536), the values for the earlier prange-only kernels; (32768, 262144) was 15 %
#: slower (measured with every pass, the search too, on the thread pool).
_SERIAL_SEARCH_BELOW = 4096
_SERIAL_PASS_BELOW = 16384
#: ``source_margin="auto"``: the band of known pixels kept around the hole's bounding
#: box is this many times the hole's depth (the largest distance from a hole pixel
#: to a known one)... At 1 a 37 MP photo with a 5 % blob works on a fifth of it;
#: at 1024 px, where the 256 px floor does not apply, one and a half depths (a
#: 128 px band) cost 2.2-2.6 dB of hole PSNR on one of four photos (astronaut).
_SOURCE_MARGIN_PER_DEPTH = 1
#: ...and at least this many pixels (also the smallest margin accepted).
_SOURCE_MARGIN_MIN = 256
#: A crop is used only when it holds at most this fraction of the image's pixels;
#: above it the whole image is filled (same cost, and no change from a whole run).
_SOURCE_CROP_AREA = 0.5
#: ``"auto"`` crops only photos above this many pixels, where the whole image's working
#: set (about 330 bytes a pixel when this was chosen, 220 since the final vote works on
#: the hole's box) passes 2 GB; smaller photos keep every source (the
#: tight band cost 2.2-2.6 dB on one photo in four at 1-4 MP, see above).
_SOURCE_CROP_MIN_PIXELS = 6_000_000
#: Detail restoration after the final vote (``sharpness``): the fill's fine band is the
#: difference to a Gaussian blur of this sigma (px); its local energy is a Gaussian
#: mean of the band squared over ``_DETAIL_RHO``; the target energy spreads the
#: known pixels' energy into the hole over ``_DETAIL_SPREAD`` patch sides; the band
#: is amplified at most ``_DETAIL_MAX_GAIN`` times, and the gain ramps in over the
#: first ``_DETAIL_RAMP`` patch sides inside the hole. Tuned on the benchmark photos
#: (3 mask seeds): sigma 1.2, a gain cap of 3, or one target for the whole hole (the
#: ring's energy) instead of a local one bought texture at more PSNR/SSIM.
_DETAIL_SIGMA = 1.0
_DETAIL_RHO = 3.0
_DETAIL_SPREAD = 3.5
_DETAIL_MAX_GAIN = 2.5
_DETAIL_RAMP = 1.0
_COARSE_FILLS = ("mean", "patch")
_FINAL_VOTES = ("mean", "best")


def _level_nnf_iterations(nnf_iterations: int, depth: int) -> int:
    """PatchMatch iterations per EM step at pyramid level ``depth`` (0: finest).

    Coarse fields seed every finer level, and coarse searches are cheap: level
    ``depth`` >= 1 runs ``depth`` more than ``nnf_iterations``. The finest level
    runs one fewer (at least 1): its field is the upsampled field of a level that
    searched more, and its search is the largest part of the time. With the default
    2, the second finest iteration moved the benchmark's bucket means by at most
    0.02 dB either way (3 mask seeds) for about a sixth of the time at 1024 px.
    """
    return nnf_iterations + depth if depth > 0 else max(1, nnf_iterations - 1)


def _band_height(height: int) -> int:
    return max(_MIN_BAND_HEIGHT, -(-height // _BANDS))


# --------------------------------------------------------------------------- helpers


def _hole_depth(hole: np.ndarray) -> np.ndarray:
    """Euclidean distance of each hole pixel to the nearest known pixel (0 outside
    the hole); OpenCV's exact transform, about 14x faster than scipy's at 2048^2."""
    depth = cv2.distanceTransform(np.ascontiguousarray(hole, dtype=np.uint8), cv2.DIST_L2,
                                  cv2.DIST_MASK_PRECISE)
    return depth.astype(np.float64)


def _check_int(value, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def _check_patch_size(patch_size, *shapes) -> int:
    patch_size = _check_int(patch_size, "patch_size", low=3)
    if patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd (the patch has a centre pixel), got {patch_size}")
    for shape in shapes:
        if patch_size > min(shape[0], shape[1]):
            raise ValueError(
                f"patch_size must not exceed the image's smaller side: patch_size={patch_size} "
                f"but an image is {shape[0]}x{shape[1]}"
            )
    return patch_size


def _derive_seed(seed: int, *keys: int) -> int:
    """A 31-bit seed for one kernel call, derived from the user seed and call keys."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0] & 0x7FFFFFFF)


def _box_count(valid: np.ndarray, r: int) -> np.ndarray:
    """Number of True pixels of ``valid`` in the (2r+1)^2 box around each pixel
    (pixels outside the image count as False): OpenCV's integer box sums of the
    mask's bytes, straight into int32 (4 bytes a pixel; a float64 sum and its
    rounding took 28 more)."""
    side = 2 * r + 1
    valid = np.ascontiguousarray(valid, dtype=bool)
    return cv2.boxFilter(valid.view(np.uint8), cv2.CV_32S, (side, side),
                         normalize=False, borderType=cv2.BORDER_CONSTANT)


def _source_ok(valid: np.ndarray, r: int) -> np.ndarray:
    """Centres whose whole patch lies inside the image on valid pixels."""
    side = 2 * r + 1
    return np.ascontiguousarray(_box_count(valid, r) == side * side)


def _as_features(image, name: str) -> np.ndarray:
    """(H, W) or (H, W, C) float/uint array -> float32 (H, W, C); integers scaled to [0, 1]."""
    if image is None:
        raise TypeError(f"{name} must be an array, got None")
    array = np.asarray(image)
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating)
                                       or np.issubdtype(array.dtype, np.unsignedinteger)):
        raise TypeError(f"{name} must be a float or unsigned integer array, got dtype {array.dtype}")
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), got {array.shape}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")
    if np.issubdtype(array.dtype, np.unsignedinteger):
        array = array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    else:
        array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(array)


def _as_valid(valid, shape, name: str) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    valid = np.asarray(valid)
    if valid.dtype != np.bool_:
        raise TypeError(f"{name} must be a bool array (True = valid), got dtype {valid.dtype}")
    if valid.shape != tuple(shape):
        raise ValueError(f"{name} has shape {valid.shape}, expected {tuple(shape)}")
    return np.ascontiguousarray(valid)


def _grow(hole: np.ndarray, patch_size: int) -> np.ndarray:
    """The centres of the patches that hold a hole pixel: ``hole`` dilated by a
    ``patch_size`` square (outside the image counts as not in the hole), as
    ``ndimage.binary_dilation`` with that structure gives it; OpenCV's dilation of
    the mask's bytes is about 20x faster."""
    side = np.ones((patch_size, patch_size), np.uint8)
    grown = cv2.dilate(np.ascontiguousarray(hole).view(np.uint8), side,
                       borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return grown.view(bool)


def _source_coords(src_ok: np.ndarray) -> np.ndarray:
    """(N, 2) int32 (row, col) of the True pixels of ``src_ok`` in row-major order,
    as ``np.argwhere`` gives them, built a band of rows at a time (argwhere's int64
    result alone took 16 bytes a source pixel)."""
    coords = np.empty((int(np.count_nonzero(src_ok)), 2), dtype=np.int32)
    done = 0
    step = max(1, (1 << 14) // max(1, src_ok.shape[1]))
    for top in range(0, src_ok.shape[0], step):
        part = np.argwhere(src_ok[top:top + step])
        coords[done:done + len(part), 0] = part[:, 0] + top
        coords[done:done + len(part), 1] = part[:, 1]
        done += len(part)
    return coords


def _confidence(hole: np.ndarray) -> np.ndarray:
    """Wexler's confidence ``_GAMMA ** -depth`` (float64) of each pixel, computed in
    one buffer."""
    power = _hole_depth(hole)
    np.negative(power, out=power)
    return np.power(_GAMMA, power, out=power)


def _share(n_active: int) -> bool:
    """Whether a pass over ``n_active`` patches runs on all threads (else on one)."""
    return n_active >= _SERIAL_PASS_BELOW


class _Search:
    """NNF search state for one (source, target) pair: prepared arrays and thread use."""

    def __init__(self, source, target, src_ok, tgt_valid, active, r, samples=1):
        self.set_images(source, target)
        self.samples = samples
        self.src_ok = src_ok
        self.tgt_valid = tgt_valid
        self.count = _box_count(tgt_valid, r)
        self.active = active
        self.r = r
        self.band_height = _band_height(target.shape[0])
        n_active = int(np.count_nonzero(active))
        self.parallel = _share(n_active)
        self.iterate_parallel = n_active >= _SERIAL_SEARCH_BELOW
        self.min_offset2 = 0  # squared minimum match offset (patchmatch_nnf's min_offset)

    def set_images(self, source, target) -> None:
        """(Re)set the feature images (float32 (H, W, C)); the masks stay."""
        self.channels = source.shape[2]
        self.src = np.ascontiguousarray(source.reshape(source.shape[0], -1))
        self.tgt = (self.src if target is source
                    else np.ascontiguousarray(target.reshape(target.shape[0], -1)))

    def start(self, init, seed: int, *, trusted: bool = False,
              copy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Initial field (random, or ``init`` with invalid entries redrawn; a
        ``trusted`` init came from this search and is used as it is) and distances.
        With ``copy=False`` an untrusted int32 ``init`` is redrawn in place (the
        caller's own array, such as an upsampled field)."""
        shape = self.active.shape
        if init is None:
            nnf = np.full((*shape, 2), -1, dtype=np.int32)
        elif trusted:
            nnf = init
        else:
            nnf = np.ascontiguousarray(init, dtype=np.int32)
            if copy:
                nnf = nnf.copy()
        if not trusted:
            # The list of source centres (8 bytes each) lives for this call only.
            run_strided(_k.nnf_fill_invalid, nnf, self.active, self.src_ok,
                        _source_coords(self.src_ok), seed, parallel=self.parallel)
        dist = np.empty(shape, dtype=np.float32)
        run_strided(_k.nnf_distances, self.src, self.tgt, self.tgt_valid, self.count, nnf,
                    self.active, self.r, self.channels, dist, parallel=self.parallel)
        if self.min_offset2:
            dist[_too_close(nnf, self.min_offset2)] = np.inf  # any allowed candidate wins
        return nnf, dist

    def iterate(self, nnf, dist, iterations: int, seed: int) -> None:
        for it in range(iterations):
            snapshot = nnf.copy()
            with threads(self.iterate_parallel):
                _k.nnf_iterate(self.src, self.tgt, self.tgt_valid, self.count, self.src_ok,
                               self.active, nnf, dist, snapshot, self.r, self.channels, it,
                               seed, self.band_height, self.samples, self.min_offset2,
                               numba.get_num_threads())


def _too_close(nnf: np.ndarray, min_offset2: int) -> np.ndarray:
    """Entries whose match lies less than sqrt(``min_offset2``) pixels from the target."""
    dy = nnf[..., 0] - np.arange(nnf.shape[0], dtype=np.int64)[:, None]
    dx = nnf[..., 1] - np.arange(nnf.shape[1], dtype=np.int64)[None, :]
    return dy * dy + dx * dx < min_offset2


# ------------------------------------------------------------------------ public NNF


def _nnf_inputs(source, target, patch_size, iterations, seed, source_valid, target_valid):
    """The checks every nearest-neighbour-field function makes on its common arguments.

    Returns ``(src, tgt, patch_size, iterations, seed, src_valid, tgt_valid, src_ok)``:
    float32 features, ints, the validity masks and where a fully valid source patch is
    centred (``ValueError`` when there is none).
    """
    src = _as_features(source, "source")
    tgt = _as_features(target, "target")
    if src.shape[2] != tgt.shape[2]:
        raise ValueError(
            f"source and target must have the same number of channels, got {src.shape[2]} "
            f"and {tgt.shape[2]}"
        )
    patch_size = _check_patch_size(patch_size, src.shape, tgt.shape)
    iterations = _check_int(iterations, "iterations", low=1)
    seed = _check_int(seed, "seed", low=0)
    src_valid = _as_valid(source_valid, src.shape[:2], "source_valid")
    tgt_valid = _as_valid(target_valid, tgt.shape[:2], "target_valid")
    src_ok = _source_ok(src_valid, patch_size // 2)
    if not src_ok.any():
        raise ValueError(
            f"source has no valid {patch_size}x{patch_size} patch: every patch touches an "
            "invalid pixel (source_valid) or the border"
        )
    return src, tgt, patch_size, iterations, seed, src_valid, tgt_valid, src_ok


def patchmatch_nnf(source, target, *, patch_size=7, iterations=5, seed=0,
                   source_valid=None, target_valid=None, init=None, search_samples=3,
                   min_offset=0):
    """Approximate nearest-neighbour field from ``target`` patches to ``source`` patches.

    Randomized PatchMatch (Barnes et al. 2009): a random (or given) initial field is
    improved by ``iterations`` rounds of propagation from neighbours, in alternating
    scan order, and random search with exponentially shrinking radius (alpha = 1/2).
    The search runs in parallel over row bands; for a fixed seed the result does not
    depend on the number of threads.

    The random search draws ``search_samples`` candidates at each radius (the paper
    draws one). Three per radius reach about the accuracy of twice as many
    iterations with one, in less time: on the benchmark's 128x128 photo pairs the
    mean distance after 5 iterations is 1.2-4.0 % above the exact nearest
    neighbour's, against 2.6-7.4 % with one.

    Parameters
    ----------
    source : ndarray, shape (Hs, Ws) or (Hs, Ws, C)
        Float (any range) or unsigned-integer image (scaled to [0, 1] by its dtype's
        maximum) whose patches are searched.
    target : ndarray, shape (Ht, Wt) or (Ht, Wt, C)
        Image whose patches are matched; same number of channels C as ``source``.
    patch_size : int, default 7
        Side of the square patches; odd, >= 3 and at most either image's smaller side.
    iterations : int, default 5
        PatchMatch iterations, >= 1.
    seed : int, default 0
        Seed of the random initialisation and search (non-negative).
    source_valid : ndarray of bool, shape (Hs, Ws), optional
        False marks source pixels no returned patch may touch. Default: all valid.
    target_valid : ndarray of bool, shape (Ht, Wt), optional
        False marks target pixels left out of the distance. Default: all valid.
    init : ndarray of int, shape (Ht, Wt, 2), optional
        Initial field of source (row, col) centres; entries that are not valid source
        patch centres are replaced by random valid ones.
    search_samples : int, default 3
        Random-search candidates per radius (>= 1; 1 is Barnes et al.'s scheme).
    min_offset : float, default 0
        Matches closer than this many pixels (Euclidean) to their target's own place
        are never returned (>= 0), as in the offset statistics of He and Sun (2012)
        that match each patch to a similar one elsewhere in the same image. Targets
        for which no allowed match was found get distance +inf.

    Returns
    -------
    nnf : ndarray of int32, shape (Ht, Wt, 2)
        For each target pixel, the (row, col) centre of the matched source patch. The
        source patch lies fully inside the source and touches no invalid pixel.
    distance : ndarray of float32, shape (Ht, Wt)
        Mean over the compared pixels (target patch pixels inside the target and
        valid) of the squared difference summed over channels; 0 where no target
        pixel is compared.

    Raises
    ------
    TypeError, ValueError
        For invalid arrays or options, or if no valid source patch exists.

    References
    ----------
    C. Barnes, E. Shechtman, A. Finkelstein, D. B. Goldman, "PatchMatch: a randomized
    correspondence algorithm for structural image editing", ACM TOG 28(3), 2009,
    doi:10.1145/1531326.1531330.

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit import patchmatch_nnf
    >>> rng = np.random.default_rng(0)
    >>> source = rng.random((40, 40))
    >>> target = np.roll(source, (3, -5), axis=(0, 1))
    >>> nnf, distance = patchmatch_nnf(source, target, patch_size=5, iterations=5)
    >>> nnf.shape, nnf.dtype, distance.dtype
    ((40, 40, 2), dtype('int32'), dtype('float32'))
    >>> bool(distance[20, 20] == 0.0), nnf[20, 20].tolist()
    (True, [17, 25])
    """
    src, tgt, patch_size, iterations, seed, src_valid, tgt_valid, src_ok = _nnf_inputs(
        source, target, patch_size, iterations, seed, source_valid, target_valid)
    search_samples = _check_int(search_samples, "search_samples", low=1)
    if (isinstance(min_offset, (bool, np.bool_)) or not isinstance(min_offset, numbers.Real)
            or not 0 <= min_offset < np.inf):
        raise ValueError(f"min_offset must be a finite number >= 0, got {min_offset!r}")
    r = patch_size // 2
    if init is not None:
        init = np.asarray(init)
        if init.shape != (*tgt.shape[:2], 2):
            raise ValueError(f"init must have shape {(*tgt.shape[:2], 2)}, got {init.shape}")
        if not np.issubdtype(init.dtype, np.integer):
            raise TypeError(f"init must be an integer array, got dtype {init.dtype}")
        bound = np.iinfo(np.int32)
        init = np.clip(init, bound.min, bound.max).astype(np.int32)
    active = np.ones(tgt.shape[:2], dtype=bool)
    search = _Search(src, tgt, src_ok, tgt_valid, active, r, search_samples)
    search.min_offset2 = int(np.ceil(min_offset ** 2))  # integer offsets: same test
    nnf, dist = search.start(init, _derive_seed(seed, 0))
    search.iterate(nnf, dist, iterations, _derive_seed(seed, 1))
    return nnf, dist


# ----------------------------------------------------------------------- completion


#: Separable 6-tap binomial kernel of the pyramid's downsampling: a coarse pixel
#: averages the known pixels of the 6x6 window centred on its 2x2 block.
_DOWN_KERNEL = np.array([1.0, 5.0, 10.0, 10.0, 5.0, 1.0], dtype=np.float32)


def _downsample(values: np.ndarray, known: np.ndarray, exclude: np.ndarray):
    """Halve an image, averaging known pixels only.

    A coarse pixel is the binomially weighted mean of the known pixels in the 6x6
    window centred on its 2x2 block, and is known if that window holds any known
    pixel. So each level extends the known colours about a pixel into the hole (a
    pull-push extrapolation): coarse holes shrink, and a structure that enters the
    hole from its border is carried towards the coarse hole's inside. A coarse pixel
    is excluded from copying if any pixel of its 2x2 block is.
    """
    height, width = known.shape
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    weight = known.astype(np.float32)

    def smooth(a):
        # Anchor 2: output y sums rows y-2..y+3, so sample 2y is centred on the
        # block (2y, 2y+1). Outside the image counts as unknown (weight 0).
        a = cv2.sepFilter2D(a, -1, _DOWN_KERNEL, _DOWN_KERNEL, anchor=(2, 2),
                            borderType=cv2.BORDER_CONSTANT)
        return a.reshape(height, width, -1)[::2, ::2]

    total = smooth(weight)[:, :, 0]
    sums = smooth(np.ascontiguousarray(values * weight[:, :, None], dtype=np.float32))
    coarse_known = total > 0.5  # integer tap weights: any known pixel adds >= 1
    coarse = np.where(coarse_known[:, :, None], sums / np.maximum(total, 1.0)[:, :, None], 0.0)
    pad = ((0, 2 * h2 - height), (0, 2 * w2 - width))
    coarse_exclude = np.pad(exclude, pad).reshape(h2, 2, w2, 2).any(axis=(1, 3))
    return np.ascontiguousarray(coarse, dtype=values.dtype), coarse_known, coarse_exclude


def _onion_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels ring by ring with the mean of their known 8-neighbours."""
    values = values.copy()
    known = known.copy()
    kernel = np.ones((3, 3))
    while not known.all():
        weight = ndimage.convolve(known.astype(np.float64), kernel, mode="constant")
        ring = ~known & (weight > 0)
        if not ring.any():  # unreachable unless nothing is known
            values[~known] = 0.5
            break
        sums = np.stack([ndimage.convolve(values[:, :, c] * known, kernel, mode="constant")
                         for c in range(values.shape[2])], axis=2)
        values[ring] = sums[ring] / weight[ring][:, None]
        known |= ring
    return values


def _patch_onion_fill(values, known, src_ok, r, seed):
    """Fill the coarsest hole ring by ring from its border inwards (the onion-peel
    initialisation of Newson et al. 2014): each ring pixel's patch is matched on its
    already known or filled pixels only, and the pixel takes its match's centre.
    Unlike a colour-mean fill this keeps the phase of textures at the hole border."""
    estimate = np.ascontiguousarray(values, dtype=np.float32).copy()
    filled = known.copy()
    structure = np.ones((3, 3), bool)
    ring_no = 0
    while not filled.all():
        ring = ~filled & ndimage.binary_dilation(filled, structure=structure)
        search = _Search(estimate, estimate, src_ok, np.ascontiguousarray(filled),
                         np.ascontiguousarray(ring), r)
        nnf, dist = search.start(None, _derive_seed(seed, ring_no, 0))
        search.iterate(nnf, dist, 3, _derive_seed(seed, ring_no, 1))
        ys, xs = np.nonzero(ring)
        estimate[ys, xs] = estimate[nnf[ys, xs, 0], nnf[ys, xs, 1]]
        filled |= ring
        ring_no += 1
    return estimate


def _initial_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The coarsest level's first estimate: the mean of the onion-peel fill and the
    harmonic (Laplace) fill of the hole.

    EM barely moves a thick hole away from its first estimate, so that estimate
    sets the large-scale structure. The harmonic fill is the smooth interpolant of
    the whole hole border; the onion fill carries border values inwards along the
    rings. Their mean scored best of the two alone and of pull-push (hierarchical
    averaging) on the benchmark photos (about +0.5 dB over the onion fill alone).
    """
    onion = _onion_fill(values, known)
    with _progress.reporting(None):  # the solver's own progress is not ours
        harmonic = harmonic_fill(np.array(values, dtype=np.float64), ~known)
    return 0.5 * (onion + harmonic)


def _texture_features(values: np.ndarray, known: np.ndarray, window: int,
                      out: np.ndarray | None = None) -> np.ndarray:
    """Newson et al. 2014 texture features: the mean absolute luminance derivatives
    |I_x|, |I_y| over a ``window`` square, from known pixels only.

    They are attached to the image as extra channels and voted into the hole like
    colour, so a blurred estimate still "remembers" the texture it should have and
    flat source patches cannot win over textured ones. Returns (H, W, 2) float32,
    written into ``out`` when given (e.g. the two channels of the feature image that
    hold them); one derivative at a time, so the temporaries are a few float32
    planes (about 20 bytes a pixel; both at once took about 50).
    """
    gray = values.mean(axis=2, dtype=np.float32)
    if out is None:
        out = np.empty((*gray.shape, 2), dtype=np.float32)
    for axis in range(2):
        grads = np.zeros(gray.shape, dtype=np.float32)
        ok = np.zeros(gray.shape, dtype=np.float32)
        # Central differences where both neighbours are known.
        if axis == 0:
            grads[1:-1] = 0.5 * np.abs(gray[2:] - gray[:-2])
            ok[1:-1] = known[2:] & known[:-2]
        else:
            grads[:, 1:-1] = 0.5 * np.abs(gray[:, 2:] - gray[:, :-2])
            ok[:, 1:-1] = known[:, 2:] & known[:, :-2]
        # Window sums (zero outside the image); their ratio is the mean over known pairs.
        grads *= ok
        total = cv2.boxFilter(grads, -1, (window, window), normalize=False,
                              borderType=cv2.BORDER_CONSTANT)
        del grads
        count = cv2.boxFilter(ok, -1, (window, window), normalize=False,
                              borderType=cv2.BORDER_CONSTANT)
        del ok
        total /= np.maximum(count, 1.0)
        out[:, :, axis] = np.where(count > 0.5, total, 0.0)
    return out


def _upsample_nnf(nnf: np.ndarray, shape) -> np.ndarray:
    """Coarse NNF -> fine NNF: each fine pixel keeps its parent's offset (x2). Built
    one channel at a time in int32 (no (H, W, 2) copy of the parents, no int64 sums)."""
    rows = np.minimum(np.arange(shape[0]) // 2, nnf.shape[0] - 1)
    cols = np.minimum(np.arange(shape[1]) // 2, nnf.shape[1] - 1)
    steps = ((np.arange(shape[0]) - 2 * rows).astype(np.int32)[:, None],
             (np.arange(shape[1]) - 2 * cols).astype(np.int32)[None, :])
    fine = np.empty((*shape, 2), dtype=np.int32)
    for c in range(2):
        plane = fine[..., c]
        plane[...] = nnf[rows, :, c][:, cols]
        plane *= 2
        plane += steps[c]
    return fine


def _upsample_into(values: np.ndarray, hole: np.ndarray, coarse: np.ndarray) -> None:
    """Set the ``hole`` pixels of ``values`` to those of ``_upsample_image(coarse,
    hole.shape)`` in place (each its parent's value), touching only the hole."""
    ys, xs = np.nonzero(hole)
    values[ys, xs] = coarse[np.minimum(ys // 2, coarse.shape[0] - 1),
                            np.minimum(xs // 2, coarse.shape[1] - 1)]


def _upsample_image(values: np.ndarray, shape) -> np.ndarray:
    rows = np.minimum(np.arange(shape[0]) // 2, values.shape[0] - 1)
    cols = np.minimum(np.arange(shape[1]) // 2, values.shape[1] - 1)
    return values[rows[:, None], cols[None, :]]


def _build_pyramid(data, hole, exclude, patch_size):
    """Levels finest first; stop when the hole is at most about a patch wide on each
    side, or when a coarser level would be too small or have too few source patches."""
    r = patch_size // 2
    levels = [(data, hole, exclude)]
    while True:
        values, level_hole, level_exclude = levels[-1]
        if _hole_depth(level_hole).max() <= patch_size:
            break
        if min(level_hole.shape) // 2 < 3 * patch_size:
            break
        coarse, known, coarse_exclude = _downsample(values, ~level_hole, level_exclude)
        usable = known & ~coarse_exclude
        if _source_ok(usable, r).sum() < max(16, _MIN_SOURCE_FRACTION * usable.sum()):
            break
        levels.append((coarse, ~known, coarse_exclude))
    return levels


def _downsample_to(values: np.ndarray, known: np.ndarray, exclude: np.ndarray, shape):
    """Resample an image to ``shape`` (any factor), averaging known pixels only.

    The non-dyadic counterpart of :func:`_downsample` for geometric pyramids: each
    coarse pixel is the area-weighted (``cv2.INTER_AREA``) mean of the known pixels
    under its footprint, and is known when at least half the footprint is; it is
    excluded from copying if any of its footprint is.
    """
    size = (int(shape[1]), int(shape[0]))
    weight = known.astype(np.float32)
    total = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    weighted = np.asarray(values * weight[:, :, None], dtype=np.float32)
    # cv2's area resampling takes at most 4 channels at non-integer factors.
    sums = np.concatenate([
        cv2.resize(np.ascontiguousarray(weighted[:, :, c:c + 4]), size,
                   interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        for c in range(0, weighted.shape[2], 4)], axis=2)
    coarse_known = total >= 0.5
    coarse = np.where(coarse_known[:, :, None], sums / np.maximum(total, 1e-6)[:, :, None], 0.0)
    coarse_exclude = cv2.resize(exclude.astype(np.float32), size,
                                interpolation=cv2.INTER_AREA) > 0
    return np.ascontiguousarray(coarse, dtype=values.dtype), coarse_known, coarse_exclude


def _build_geometric_pyramid(data, hole, exclude, patch_size, n_levels, coarsest):
    """Levels finest first on a geometric scale (Huang et al. 2014's release): up to
    ``n_levels`` levels whose short side falls from the image's to about ``coarsest``
    px by a constant ratio, each resampled from the finest by :func:`_downsample_to`.
    Stops early where a level would be under 3 patches a side, would have too few
    fully known patches, or would lose its hole. Returns the levels and, per level,
    its (row, column) factors (finest size / level size)."""
    r = patch_size // 2
    height, width = hole.shape
    short = min(height, width)
    ratio = (short / coarsest) ** (1.0 / (n_levels - 1)) if short > coarsest else 1.0
    levels = [(data, hole, exclude)]
    factors = [(1.0, 1.0)]
    for depth in range(1, n_levels):
        if ratio <= 1.0:
            break
        scale = ratio ** depth
        shape = (max(1, int(round(height / scale))), max(1, int(round(width / scale))))
        if min(shape) < 3 * patch_size or shape == levels[-1][1].shape:
            break
        coarse, known, coarse_exclude = _downsample_to(data, ~hole, exclude, shape)
        usable = known & ~coarse_exclude
        enough = max(16, _MIN_SOURCE_FRACTION * usable.sum())
        if known.all() or _source_ok(usable, r).sum() < enough:
            break
        levels.append((coarse, ~known, coarse_exclude))
        factors.append((height / shape[0], width / shape[1]))
    return levels, factors


def _vote_weights(dist: np.ndarray, active: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Wexler et al. 2007 weights exp(-d / 2 sigma^2) times the confidence, with
    sigma^2 the 75th percentile of the active distances (their d^2 is our mean
    squared distance)."""
    values = dist[active]
    sigma2 = max(float(np.percentile(values, _SIGMA_PERCENTILE)), 1e-6) if values.size else 1.0
    weight = np.empty(dist.shape, dtype=np.float64)
    run_strided(_k.vote_weights, dist, active, confidence, 1.0 / (2.0 * sigma2), weight,
                parallel=_share(values.size))
    return weight


def _source_usage(nnf: np.ndarray, active: np.ndarray, hole: np.ndarray, r: int) -> np.ndarray:
    """How often each pixel is copied into the hole by the field ``nnf`` (float32 (H,
    W)): every active patch adds 1 / patch_area at each source pixel that lands on a
    hole pixel of the target patch, so a pixel copied into one hole pixel by all the
    patches that cover it has usage 1. The occurrence count of Kaspar et al. (2015)
    and Newson et al. (2014), whose penalty keeps the fill from copying one source
    region over and over (source patches lie inside the image: no bounds check)."""
    height, width = hole.shape
    ys, xs = np.nonzero(active)
    sy, sx = nnf[ys, xs, 0].astype(np.int64), nnf[ys, xs, 1].astype(np.int64)
    usage = np.zeros(height * width)
    for dy in range(-r, r + 1):
        ty = ys + dy
        row_ok = (ty >= 0) & (ty < height)
        for dx in range(-r, r + 1):
            tx = xs + dx
            sel = row_ok & (tx >= 0) & (tx < width)
            sel[sel] = hole[ty[sel], tx[sel]]
            usage += np.bincount((sy[sel] + dy) * width + sx[sel] + dx, minlength=height * width)
    return (usage / (2 * r + 1) ** 2).reshape(height, width).astype(np.float32)


def _with_usage(features: np.ndarray, usage: np.ndarray | None, penalty: float) -> np.ndarray:
    """``features`` (H, W, C) with one more channel: sqrt(``penalty`` * usage) (the
    source side of the duplicate-use penalty), or 0 where ``usage`` is None (the
    target side): a match's squared patch distance then gains ``penalty`` times
    the mean usage over its source patch, without touching the search kernel."""
    out = np.zeros((*features.shape[:2], features.shape[2] + 1), dtype=np.float32)
    out[:, :, :-1] = features
    if usage is not None:
        out[:, :, -1] = np.sqrt(penalty * usage)
    return out


def _best_sources(parallel, nnf, dist, active, hole, r, box) -> np.ndarray:
    """(h, w, 2) int32 for the pixels of ``box`` (a slice pair of the level): at each
    hole pixel, the source pixel that its best-matching overlapping patch puts there
    (the best vote of an image of pixel coordinates). The vote runs on the box grown
    by ``r`` (every patch that overlaps the box), as it would on the whole level."""
    height, width = hole.shape
    rows, cols = box
    window = (slice(max(rows.start - r, 0), min(rows.stop + r, height)),
              slice(max(cols.start - r, 0), min(cols.stop + r, width)))
    # The kernel's "colour" is where each pixel is: sources may lie anywhere.
    coords = np.empty((height, width, 2), dtype=np.float32)  # exact below 2^24 px
    coords[..., 0] = np.arange(height, dtype=np.float32)[:, None]
    coords[..., 1] = np.arange(width, dtype=np.float32)[None, :]
    sources = coords[window].copy()
    run_strided(_k.vote_best, coords, *(np.ascontiguousarray(a[window])
                                         for a in (nnf, dist, active, hole)),
                r, sources, parallel=parallel)
    del coords
    inner = (slice(rows.start - window[0].start, rows.stop - window[0].start),
             slice(cols.start - window[1].start, cols.stop - window[1].start))
    return np.rint(sources[inner]).astype(np.int32)


#: The 4-neighbour steps of the gradient-domain vote.
_STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0))
#: The gradient-domain vote works on the hole's bounding box plus the one-pixel ring
#: its Poisson stencil reads, with the box's corner moved up and left to a multiple of
#: this: the solver's coarse blocks (4 x 4 pixels, 2 x 2 per multigrid level) then
#: fall where they fall on the whole level, and the solution is the same, bit for bit.
_VOTE_BOX_ALIGN = 64


def _vote_box(hole: np.ndarray) -> tuple[slice, slice]:
    """The slices of the level that the gradient-domain vote works on (see
    ``_VOTE_BOX_ALIGN``)."""
    rows, cols = _hole_box(hole, 1)
    return (slice(rows.start - rows.start % _VOTE_BOX_ALIGN, rows.stop),
            slice(cols.start - cols.start % _VOTE_BOX_ALIGN, cols.stop))


def _guided_differences(values, hole, sources, box, channels, ys, xs) -> np.ndarray:
    """Right-hand side of the gradient-domain vote's Poisson equation at the hole
    pixels ``(ys, xs)`` of ``box``: (n, ``channels``) float64.

    The guidance difference D(p, q) from hole pixel p to its neighbour q is the
    difference between the pixels at q's and p's places in p's source, the patch
    that p is copied from. Between two hole pixels it is the mean of both sources'
    views, so that D(q, p) = -D(p, q) and the system stays symmetric. Row p of
    (-L) u is deg(p) u_p - sum_q u_q; equating it to sum_q (u_p - u_q) = -sum_q D(p, q)
    gives the value returned for p. Coordinates ``(ys, xs)`` are in the box;
    ``sources`` (h, w, 2) int covers the box and holds each hole pixel's source pixel
    in level coordinates. ``values`` (H, W, >= channels), any float type, is read at
    the sources only and each read converted to float64: no float64 copy of the
    level. The Numba kernel :func:`._patchmatch_kernels.guided_differences` does the
    work (its NumPy reference, bit for bit, is in the tests)."""
    out = np.empty((ys.size, channels))
    _k.guided_differences(values, np.ascontiguousarray(hole), sources, box[0].start,
                          box[1].start, channels, ys, xs, out)
    return out


def _gradient_vote(parallel, estimate, nnf, dist, active, hole, r, channels, out) -> None:
    """The final vote of ``final_vote="best"``, in the gradient domain.

    Each hole pixel is copied from its best-matching overlapping patch, but what is
    kept of the copy is its differences to the 4 neighbours, taken inside that
    patch's source; the colour channels are then integrated from them by a Poisson
    solve whose boundary values are the known pixels (Perez et al. 2003; voting
    gradients is the idea of Darabi et al.'s Image Melding, 2012). Where
    neighbouring pixels come from patches of different brightness, the step
    between them is not in the guidance, so the fill keeps each patch's grain but
    shows no tone seam, and its low frequencies join the hole's border. Only the
    first ``channels`` channels of ``out`` are written. The work is done on the
    hole's bounding box (:func:`_vote_box`), not the level.
    """
    box = _vote_box(hole)
    # The sources (8 bytes a box pixel) are dropped before the solve.
    _solve_vote(_vote_system(estimate, hole, _best_sources(parallel, nnf, dist, active, hole, r,
                                                           box), box, channels),
                box, channels, out)


def _vote_from_sources(estimate, hole, sources, channels, out) -> None:
    """The gradient-domain vote given each hole pixel's source pixel ``sources``
    (H, W, 2) int (see :func:`_gradient_vote`); also used by the planar method, whose
    sources come from warped patches."""
    box = _vote_box(hole)
    _solve_vote(_vote_system(estimate, hole, sources[box], box, channels), box, channels, out)


def _vote_system(estimate, hole, sources, box, channels):
    """The gradient-domain vote's Poisson problem on ``box`` (``sources`` (h, w, 2)
    covers it): ``(start, guidance, inner)``, float64 (h, w, ``channels``) arrays
    and the box's hole. ``estimate`` is read where the box and the sources are,
    never converted whole; with the solver's index arrays the vote costs about 70
    bytes a box pixel."""
    inner = np.ascontiguousarray(hole[box])
    ys, xs = np.nonzero(inner)
    start = estimate[box][:, :, :channels].astype(np.float64)
    # The plain best vote: a close start for iterative solves. The solver reads the
    # start at hole pixels and the data at known ones only, so one array is both.
    start[ys, xs] = estimate[sources[ys, xs, 0], sources[ys, xs, 1], :channels]
    guidance = np.zeros_like(start)
    guidance[ys, xs] = _guided_differences(estimate, hole, sources, box, channels, ys, xs)
    return start, guidance, inner


def _solve_vote(system, box, channels, out) -> None:
    """Solve :func:`_vote_system`'s problem and write the hole pixels of ``box`` into
    the first ``channels`` channels of ``out``."""
    solved, guidance, inner = system
    with _progress.reporting(None):  # the solver's own progress is not ours
        poisson_fill(solved, inner, guidance, start=solved)
    out[box][inner, :channels] = solved[inner]


def _wide_blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of wide ``sigma`` (zero outside the image), computed at a
    reduced scale (about 4 samples per sigma) and brought back by bilinear
    interpolation: the result is smooth at that scale, and a 1024^2 blur of sigma
    25 takes a few ms instead of about half a second."""
    height, width = values.shape
    factor = max(1, int(sigma // 4))
    small = cv2.resize(values, (-(-width // factor), -(-height // factor)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_CONSTANT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _restore_detail(colour: np.ndarray, hole: np.ndarray, known: np.ndarray, sharpness: float,
                    patch_size: int) -> np.ndarray:
    """Give the fill back the fine detail of its surroundings (``sharpness``).

    Patch completion under an L2 patch distance prefers smooth sources where the
    texture's phase is uncertain, and the gradient-domain vote averages the guidance
    where copies meet, so fills are about a third smoother than the photo around
    them. Here the fill's fine luminance band ``B`` (the channel mean minus its
    Gaussian blur, sigma ``_DETAIL_SIGMA``) is amplified where its local energy
    ``E`` (the Gaussian mean of ``B^2``) falls short of the target ``T``, the same
    energy of the known pixels spread into the hole by normalised convolution:
    each hole pixel gets ``gain * B`` added to every colour channel, ``gain =
    min(sharpness * T / (E + T / 10), _DETAIL_MAX_GAIN - 1)``. Only the copied grain
    is amplified (nothing is invented where the fill is flat: ``B`` is 0 there), and
    weak grain gains more than strong, which costs less PSNR per unit of detail
    than a uniform unsharp mask. ``colour`` (H, W, C) float64 is changed in place
    at hole pixels and returned.
    """
    if sharpness <= 0.0:
        return colour
    colour[hole] += _detail_at_hole(colour.mean(axis=2, dtype=np.float32), hole, known,
                                    sharpness, patch_size)[:, None]
    return colour


def _detail_at_hole(gray: np.ndarray, hole: np.ndarray, known: np.ndarray, sharpness: float,
                    patch_size: int) -> np.ndarray:
    """``gain * B`` of :func:`_restore_detail` at the ``hole`` pixels (row-major, float64)
    from the fill's luminance ``gray`` (float32 (H, W)); each full-size buffer is
    dropped once used (float32 throughout, about 20 bytes a pixel at the peak)."""
    band = cv2.GaussianBlur(gray, (0, 0), _DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    np.subtract(gray, band, out=band)
    energy2 = cv2.GaussianBlur(band * band, (0, 0), _DETAIL_RHO, borderType=cv2.BORDER_REFLECT)
    weight = known.astype(np.float32)
    reach = _wide_blur(weight, _DETAIL_SPREAD * patch_size)
    weight *= energy2
    target2 = _wide_blur(weight, _DETAIL_SPREAD * patch_size)
    del weight
    # Far from every known pixel the spread weights underflow: no target, no gain.
    target = np.sqrt(np.where(reach > 1e-6, target2 / np.maximum(reach, 1e-6), 0.0))
    del reach, target2
    energy = np.sqrt(energy2)
    del energy2
    gain = np.minimum(sharpness * target / (energy + 0.1 * target + 1e-12), _DETAIL_MAX_GAIN - 1.0)
    del target, energy
    # Ramped in over the first patch side inside the hole: there the copy is closest
    # to the truth and the band also holds the step to the known border; amplifying
    # it costs the most SSIM per unit of detail (a ramp of 1.5 px instead cost
    # 0.0004 SSIM in the thin-hole buckets on the benchmark photos).
    gain *= np.minimum(_hole_depth(hole) / (_DETAIL_RAMP * patch_size), 1.0)
    gain *= band
    return gain[hole].astype(np.float64)


def _detailed_hole_values(estimate: np.ndarray, colours: int, hole: np.ndarray,
                          known: np.ndarray, sharpness: float, patch_size: int) -> np.ndarray:
    """The hole pixels' colours (n, ``colours``) float64, row-major, of
    ``_restore_detail(estimate[:, :, :colours].astype(np.float64), ...)``, bit for
    bit, without its float64 copy of the level: only the hole is converted."""
    values = estimate[hole][:, :colours].astype(np.float64)
    if sharpness > 0.0:
        gray = estimate[:, :, :colours].mean(axis=2, dtype=np.float32)
        values += _detail_at_hole(gray, hole, known, sharpness, patch_size)[:, None]
    return values



# ------------------------------------------------------------------ source crop


def _check_source_margin(source_margin):
    """``"auto"``, ``None`` or an integer number of pixels >= ``_SOURCE_MARGIN_MIN``."""
    if source_margin is None or (isinstance(source_margin, str) and source_margin == "auto"):
        return source_margin
    if (isinstance(source_margin, (bool, np.bool_))
            or not isinstance(source_margin, numbers.Integral)
            or source_margin < _SOURCE_MARGIN_MIN):
        raise ValueError(
            f"source_margin must be 'auto', None or an integer >= {_SOURCE_MARGIN_MIN} "
            f"(pixels), got {source_margin!r}"
        )
    return int(source_margin)


def _source_box(hole: np.ndarray, source_margin, patch_size: int):
    """The crop that ``source_margin`` allows: the hole's bounding box grown by the
    margin (``"auto"``: ``_SOURCE_MARGIN_PER_DEPTH`` times the hole's depth, at least
    ``_SOURCE_MARGIN_MIN``), or None when the whole image is to be used (no margin,
    or a crop over ``_SOURCE_CROP_AREA`` of the image)."""
    if source_margin is None or not hole.any() or hole.all():
        return None
    if source_margin == "auto":
        if hole.size <= _SOURCE_CROP_MIN_PIXELS:
            return None
        # The depth is the same on the box plus one pixel: every hole pixel's nearest
        # known pixel lies in it (the ring around the box is known).
        depth = min(float(_hole_depth(hole[_hole_box(hole, 1)]).max()), max(hole.shape))
        margin = max(_SOURCE_MARGIN_MIN, int(np.ceil(_SOURCE_MARGIN_PER_DEPTH * depth)))
    else:
        margin = min(source_margin, max(hole.shape))
    margin = max(margin, 2 * patch_size)
    box = _hole_box(hole, margin)
    area = (box[0].stop - box[0].start) * (box[1].stop - box[1].start)
    return None if area > _SOURCE_CROP_AREA * hole.size else box


def _fill_on_crop(image, mask, source_mask, source_margin, patch_size, fill):
    """Fill on the crop :func:`_source_box` gives and paste the hole pixels back;
    None when the whole image is to be filled instead.

    Only the crop is converted to float and pyramids are built of it alone, so time
    and memory follow the hole and its source band, not the photo. ``fill(image,
    mask, source_mask)`` fills a crop (the same method, whole-image mode).
    """
    source_margin = _check_source_margin(source_margin)
    image = check_image(image)
    hole = check_mask(mask, image.shape[:2], copy=False)
    patch_size = _check_patch_size(patch_size, image.shape)
    box = _source_box(hole, source_margin, patch_size)
    if box is None:
        return None
    exclude = (None if source_mask is None
               else check_mask(source_mask, hole.shape, name="source_mask", copy=False))
    crop_hole = hole[box]
    usable = ~crop_hole if exclude is None else ~crop_hole & ~exclude[box]
    if not _source_ok(usable, patch_size // 2).any():
        return None  # the band has no source patch: the whole image may have some
    check_known_values(image, hole)
    crop = fill(image[box], crop_hole, None if exclude is None else exclude[box])
    out = np.array(image, copy=True)
    out[box][crop_hole] = crop[crop_hole]
    return out


def inpaint_patchmatch(image, mask, *, patch_size=7, iterations=1, nnf_iterations=2,
                       texture_weight=3.0, coarse_fill="mean", final_vote="best", sharpness=0.9,
                       source_mask=None, source_margin="auto", seed=0, transforms="none",
                       gain_bias=False, gradient_weight=0.0, usage_penalty=0.0):
    """Fill the hole with multi-scale PatchMatch completion (Wexler et al. 2007).

    Texture features (mean absolute luminance derivatives over a 5x5 window, from
    known pixels; Newson et al. 2014) are attached to the colour channels. An image
    pyramid is built whose downsampling (a 6x6 binomial window) averages known
    pixels only and so extends them a little into the hole at each level, down to the level
    where the hole is about a patch wide on each side (or where too few fully known
    patches would remain); the coarsest hole is first filled smoothly (see
    ``coarse_fill``). At each level, from coarse to fine, expectation-maximisation
    alternates a PatchMatch search (every patch overlapping the hole is matched to a
    fully known source patch; colour and texture features are compared) with
    voting: each hole pixel (colour and features) becomes the mean of the
    overlapping matches' pixels, weighted by exp(-d / 2 sigma^2), sigma^2 the 75th
    percentile of the distances, times Wexler's confidence 1.3^-(distance of the
    patch centre into the hole). The NNF is upsampled to start the next level,
    whose first estimate is voted from its own sharp known pixels. Level ``l``
    runs ``l`` more PatchMatch iterations per EM step than ``nnf_iterations``,
    the finest level one fewer. The last
    vote at the finest level is set by ``final_vote``: by default each hole pixel
    keeps the differences to its neighbours that its best-matching patch shows,
    and a Poisson solve joins them to the known border, so the fill is sharp and
    copies of different brightness leave no tone seams. Last, the fill's fine grain
    is amplified where it is weaker than that of the known pixels around it (see
    ``sharpness``).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (alpha carried through); uint8, uint16, float32 or float64.
    mask : ndarray, shape (H, W), bool or integer
        Non-zero marks the hole.
    patch_size : int, default 7
        Patch side; odd, >= 3, at most the image's smaller side.
    iterations : int, default 1
        EM iterations at the finest level (>= 1); level ``l`` above it runs
        ``iterations + l``, and the coarsest 4 times that. With the gradient-domain
        final vote, a second finest-level iteration gains about 0.05 dB for a third
        more time.
    nnf_iterations : int, default 2
        PatchMatch iterations per EM step (>= 1): level ``l`` above the finest
        runs ``nnf_iterations + l``, the finest level one fewer (at least 1),
        since it starts from the upsampled field of a level that searched more.
    texture_weight : float, default 3.0
        Weight of the texture features (local mean absolute luminance derivatives,
        Newson et al. 2014) against the colour in the patch distance (>= 0; 0
        compares colour only). Higher values copy more textured patches: at 6,
        the hole texture ratio is about 0.06 higher on the benchmark photos, PSNR
        about 0.06 dB lower, and regular stripes are more often restored out of
        phase.
    coarse_fill : {"mean", "patch"}, default "mean"
        How the coarsest level's hole is first filled: ``"mean"``, the mean of the
        onion peel (ring by ring from the border, each pixel the mean colour of its
        filled neighbours) and the harmonic fill (smooth; about 0.27 dB above
        ``"patch"`` on the benchmark photos),
        ``"patch"``, ring by ring with the centre of the best patch matched on the filled
        pixels (Newson et al.'s onion peel; keeps the phase of regular textures and
        restores periodic patterns at borders and corners far more reliably).
    final_vote : {"best", "mean"}, default "best"
        The last vote at the finest level: ``"best"`` copies each pixel from its
        best-matching overlapping patch in the gradient domain (the differences to
        its neighbours inside that patch's source are kept, and a Poisson solve
        joins them to the known border), so the fill keeps the texture's grain and
        shows no tone seams where copies of different brightness meet (about
        +0.5 dB PSNR over the plain best-patch copy on the benchmark photos);
        ``"mean"`` is Wexler's weighted mean with similarity weights only: softer
        (lower hole texture ratio) and lower PSNR.
    sharpness : float in [0, 1], default 0.9
        How much of the surroundings' fine detail the fill is given back after the
        last vote: the fill's fine luminance band (differences to a Gaussian blur of
        sigma 1 px) is amplified by ``1 + min(sharpness * T / (E + T / 10), 1.5)``,
        ``E`` its local energy and ``T`` the energy of the known pixels nearby,
        ramped in over the first patch side inside the hole. It trades PSNR for
        detail: on the benchmark photos (256 px, 3 mask seeds) 0 gives the smoothest,
        highest-PSNR fill (hole texture ratio 0.63-0.80, below PyPatchMatch's in every
        bucket), and 0.9 raises the ratio to 0.78-0.96 for 0.17-0.36 dB, which leaves
        mean PSNR, SSIM and texture ratio at or above PyPatchMatch (patch radius 3)'s
        in every hole-size bucket. 0 turns it off. The Image Melding options below
        take their own path, which does not apply it.
    source_mask : ndarray, shape (H, W), bool or integer, optional
        Non-zero pixels are never copied from (e.g. other objects to remove); only
        ``mask`` pixels are filled.

        Where the mask (and ``source_mask``) leave no fully known patch, e.g. dust
        or dead pixels scattered at 20-50 % density, the hole pixels nearest the
        known ones are first filled by diffusion until a fully known patch exists
        (logged on the ``inpaintkit`` logger); the rest is filled as above.
    source_margin : "auto", int or None, default "auto"
        Where patches are copied from: the hole's bounding box grown by this many
        pixels (the band of known pixels around the hole); the fill then runs on
        that crop alone, so a small hole in a camera-size photo costs time and
        memory for its crop, not for the photo (only the crop is converted to
        float and has a pyramid). ``"auto"``: on photos over 6 MP (where the
        whole image would need over 2 GB), the hole's depth (the largest distance
        from a hole pixel to a known one), at least 256 pixels; smaller photos
        keep every source, since a tight band can miss the right one (it cost
        about 2.4 dB on one photo in four at 1-4 MP). An integer (>= 256) sets
        the margin at any size; ``None`` copies from the whole image. Where the
        crop would hold more than half the image, or no source patch, the whole
        image is used.
    seed : int, default 0
        Seed of the randomized search; the same seed gives the same result.
    transforms : {"none", "similarity"}, default "none"
        Image Melding's geometric search (Darabi et al. 2012, with the generalized
        PatchMatch of Barnes et al. 2010): with ``"similarity"`` each match also
        carries a rotation (within +-45 degrees), a uniform scale (0.9-1.2) and a
        reflection, the source patch is sampled bilinearly under it, propagation
        carries a neighbour's transform and random search perturbs angle and scale
        with the position. See bench/README.md for what it buys.
    gain_bias : bool, default False
        Image Melding's photometric search: match and vote in Lab, where each
        source patch gets the per-channel gain (in [0.9, 1.1]) and bias (within
        +-10 L units) that best fit the target patch's mean and deviation, in
        the distance and in the vote.
    gradient_weight : float, default 0.0
        Weight of the luminance gradients (x and y) in the patch distance
        (>= 0; 0: none). With a weight w > 0 the votes of the two finest levels
        are screened Poisson solves: the fill whose differences best match the
        voted gradients and whose colours stay near the voted colours with weight
        1 / w (Image Melding's reconstruction). Any of these three options
        switches to that code path (:mod:`inpaintkit.algorithms.melding`);
        with all three at their defaults the fill is the plain one above.
    usage_penalty : float, default 0.0
        Duplicate-use penalty at the coarsest pyramid level (>= 0; 0: off), the
        occurrence penalty of Newson et al. (2014) and Kaspar et al. (2015): after
        each EM step there, every known pixel's use is counted (how many hole pixels
        the field copies from it, patch-weighted: 1 for a pixel copied once), and in
        the next search a match pays ``usage_penalty`` times the mean use over its
        source patch on top of its mean squared patch distance (colours in [0, 1]),
        so the fill's layout is not built from one source region over and over.
        Off by default: at 0.1, on the benchmark's twelve object-removal cases, it
        removed a teal smear (astronaut) and floating gantry fragments (rocket)
        and changed the others little (+0.15 dB, hole texture ratio 0.84 -> 0.76),
        but on free-form holes it cost hole texture (0.015-0.05 in every bucket) and
        left 5 of the 18 bucket means below PyPatchMatch r3's (see bench/README.md);
        0.05 and 0.2 did not repeat the two improvements. The Image Melding
        options above do not apply it.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole unchanged.

    References
    ----------
    Y. Wexler, E. Shechtman, M. Irani, "Space-time completion of video", IEEE TPAMI
    29(3), 2007, doi:10.1109/TPAMI.2007.60.
    C. Barnes et al., "PatchMatch", ACM TOG 28(3), 2009, doi:10.1145/1531326.1531330.
    A. Newson et al., "Video inpainting of complex scenes", SIAM J. Imaging Sci. 7(4),
    2014, doi:10.1137/140954933.
    P. Perez, M. Gangnet, A. Blake, "Poisson image editing", ACM TOG 22(3), 2003,
    doi:10.1145/882262.882269.
    S. Darabi et al., "Image Melding: combining inconsistent images using patch-based
    synthesis", ACM TOG 31(4), 2012, doi:10.1145/2185520.2185578.
    A. Kaspar et al., "Self tuning texture optimization", Computer Graphics Forum
    34(2), 2015 (Eurographics).

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit import inpaint_patchmatch
    >>> yy, xx = np.mgrid[:64, :64]
    >>> image = (0.5 + 0.4 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.float32)
    >>> mask = np.zeros((64, 64), bool); mask[24:36, 24:36] = True
    >>> out = inpaint_patchmatch(image, mask, patch_size=5)
    >>> out.shape, out.dtype, bool(np.all(out[~mask] == image[~mask]))
    ((64, 64), dtype('float32'), True)
    """
    # A hole in a large photo: fill it on its bounding box plus a band of sources.
    cropped = _fill_on_crop(
        image, mask, source_mask, source_margin, patch_size,
        lambda crop, crop_mask, crop_source: inpaint_patchmatch(
            crop, crop_mask, patch_size=patch_size, iterations=iterations,
            nnf_iterations=nnf_iterations, texture_weight=texture_weight,
            coarse_fill=coarse_fill, final_vote=final_vote, sharpness=sharpness,
            source_mask=crop_source, source_margin=None, seed=seed, transforms=transforms, gain_bias=gain_bias,
            gradient_weight=gradient_weight, usage_penalty=usage_penalty))
    if cropped is not None:
        return cropped
    prep = prepare(image, mask)
    if not check_has_hole(prep):
        return np.array(image, copy=True)
    shape = prep.mask.shape
    patch_size = _check_patch_size(patch_size, shape)
    iterations = _check_int(iterations, "iterations", low=1)
    nnf_iterations = _check_int(nnf_iterations, "nnf_iterations", low=1)
    texture_weight = check_float("texture_weight", texture_weight, low=0.0)
    if coarse_fill not in _COARSE_FILLS:
        raise ValueError(f"coarse_fill must be one of {_COARSE_FILLS}, got {coarse_fill!r}")
    if final_vote not in _FINAL_VOTES:
        raise ValueError(f"final_vote must be one of {_FINAL_VOTES}, got {final_vote!r}")
    if (isinstance(sharpness, (bool, np.bool_)) or not isinstance(sharpness, numbers.Real)
            or not 0.0 <= sharpness <= 1.0):
        raise ValueError(f"sharpness must be a number in [0, 1], got {sharpness!r}")
    seed = _check_int(seed, "seed", low=0)
    usage_penalty = check_float("usage_penalty", usage_penalty, low=0.0)
    from . import melding  # imports this module: not at the top

    transforms, gain_bias, gradient_weight = melding.check_options(transforms, gain_bias,
                                                                   gradient_weight)
    exclude = (np.zeros(shape, dtype=bool) if source_mask is None
               else check_mask(source_mask, shape, name="source_mask"))
    r = patch_size // 2
    hole = prep.mask
    if not _source_ok(~hole & ~exclude, r).any():
        # Scattered specks can leave no fully known patch: diffusion fills the pixels
        # nearest the known ones first (see _prefill), patches the rest.
        return fill_without_sources(
            image, hole, exclude=exclude, method="patchmatch",
            has_source=lambda valid: bool(_source_ok(valid, r).any()),
            fill_rest=lambda filled, rest: inpaint_patchmatch(
                filled, rest, patch_size=patch_size, iterations=iterations,
                nnf_iterations=nnf_iterations, texture_weight=texture_weight,
                coarse_fill=coarse_fill, final_vote=final_vote, sharpness=sharpness,
                source_mask=source_mask, source_margin=source_margin, seed=seed,
                transforms=transforms, gain_bias=gain_bias, gradient_weight=gradient_weight,
                usage_penalty=usage_penalty))
    if melding.is_on(transforms, gain_bias, gradient_weight):
        return melding.fill_melding(
            prep, hole, exclude, patch_size=patch_size, iterations=iterations,
            nnf_iterations=nnf_iterations, texture_weight=texture_weight,
            coarse_fill=coarse_fill, final_vote=final_vote, transforms=transforms,
            gain_bias=gain_bias, gradient_weight=gradient_weight, seed=seed)

    # Colour plus weighted texture channels travel together through the pyramid,
    # the search and the voting; only the colour is returned.
    colours = prep.data.shape[2]
    # Filled in float32 (a float64 concatenation first cost 40 bytes a pixel); the
    # float64 image is dropped first: the pyramid holds the features, and the end
    # needs only the mask. The texture features are computed from the float32
    # colours (their float32 mean is the same: it converts each value first) into
    # their own channels.
    augmented = np.empty((*shape, colours + 2), dtype=np.float32)
    augmented[:, :, :colours] = prep.data
    prep.data = None
    texture = _texture_features(augmented[:, :, :colours], ~hole, _TEXTURE_WINDOW,
                                out=augmented[:, :, colours:])
    np.multiply(texture, texture_weight, out=texture)  # as texture_weight * texture
    del texture
    augmented[hole] = 0.0
    levels = _build_pyramid(augmented, hole, exclude, patch_size)
    del augmented  # the finest level (memory: each level is dropped once it has an estimate)
    n_levels = len(levels)
    estimate = None
    nnf = None
    for depth in range(n_levels - 1, -1, -1):
        values, level_hole, level_exclude = levels[depth]
        levels[depth] = None  # the estimate will hold what is needed
        known = ~level_hole
        src_ok = _source_ok(known & ~level_exclude, r)
        active = _grow(level_hole, patch_size)
        all_valid = np.ones(known.shape, dtype=bool)
        confidence = _confidence(level_hole)
        # One search per level: the upsampling vote's is reused by the EM steps
        # (same masks; only the feature images are set again at each step).
        search = None
        if nnf is None and coarse_fill == "patch":
            estimate = _patch_onion_fill(values, known, src_ok, r, _derive_seed(seed, depth, 77))
            init = None
        elif nnf is None:
            estimate = np.ascontiguousarray(_initial_fill(values, known), dtype=np.float32)
            init = None
        else:
            # Upsample the NNF and vote with this level's own known pixels, so the
            # finer estimate is built from sharp source pixels, not an enlarged blur.
            # The level's features take the upsampled estimate in their hole and
            # become the estimate: the votes read known pixels only (every match is a
            # fully known patch) and write hole pixels only, so one buffer serves as
            # the vote's input and output, with the same result as two.
            _upsample_into(values, level_hole, estimate)
            estimate = values
            search = _Search(estimate, estimate, src_ok, all_valid, active, r)
            init, dist = search.start(_upsample_nnf(nnf, known.shape),
                                      _derive_seed(seed, depth, 99), copy=False)
            run_strided(_k.vote_weighted, estimate, init,
                        _vote_weights(dist, active, confidence), active, level_hole, r, estimate,
                        parallel=search.parallel)
        values = None
        # Coarser levels are cheap and get a few more EM iterations (Wexler et al.);
        # the coarsest starts from a smooth fill and runs 4x longer: it sets the
        # large-scale structure, which needs many steps to grow into a thick hole
        # (stopping it once the mean change fell below 0.002 cost 0.05-0.1 dB).
        n_em = iterations + depth
        if init is None:
            n_em *= 4
        if depth == 0 and n_em == 1:
            confidence = None  # the only EM step is the final vote, which has no use for it
        # The duplicate-use penalty works at the coarsest level, where the layout is
        # set; from its second EM step on, sources the last field used pay for it.
        penalised = bool(usage_penalty) and depth == n_levels - 1
        usage = None
        # One buffer: each vote reads its known pixels and writes its hole pixels.
        for em in range(n_em):
            source = target = estimate
            if penalised:
                source = _with_usage(estimate, usage, usage_penalty)
                target = _with_usage(estimate, None, usage_penalty)
            if search is None:
                search = _Search(source, target, src_ok, all_valid, active, r)
            else:
                search.set_images(source, target)
            # After the first step the field comes from this very search: valid.
            nnf, dist = search.start(init, _derive_seed(seed, depth, em, 0), trusted=em > 0)
            final = depth == 0 and (em == n_em - 1)
            search.iterate(nnf, dist, _level_nnf_iterations(nnf_iterations, depth),
                           _derive_seed(seed, depth, em, 1))
            init = nnf
            if penalised:
                usage = _source_usage(nnf, active, level_hole, r)
            source = target = None
            if final and final_vote == "best":
                box = _vote_box(level_hole)
                sources = _best_sources(search.parallel, nnf, dist, active, level_hole, r, box)
                # The search state is not needed for the Poisson solve (about 30 bytes
                # a pixel of the level).
                search = nnf = dist = init = weights = confidence = src_ok = None
                active = all_valid = known = None
                system = _vote_system(estimate, level_hole, sources, box, colours)
                # Nor the texture channels (8 bytes a pixel of the level).
                sources = None
                estimate = np.ascontiguousarray(estimate[:, :, :colours])
                _solve_vote(system, box, colours, estimate)
                system = None
            else:
                # The final mean vote uses similarity weights only: every overlapping
                # match counts, however deep in the hole its centre lies.
                weights = _vote_weights(dist, active, np.ones(dist.shape) if final else confidence)
                run_strided(_k.vote_weighted, estimate, nnf, weights, active, level_hole, r,
                            estimate, parallel=search.parallel)
                weights = None
        _progress.report("patchmatch", n_levels - depth, n_levels)
    # Only the estimate is needed from here (about 50 bytes a pixel of the level less).
    search = nnf = dist = init = confidence = active = src_ok = all_valid = None
    values = _detailed_hole_values(estimate, colours, hole, ~hole & ~exclude, float(sharpness),
                                   patch_size)
    return composite(prep.original, hole, values)
