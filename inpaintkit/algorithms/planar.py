"""Planar structure-guided completion (Huang, Kang, Ahuja, Kopf 2014) and the warped patch search.

:func:`patchmatch_nnf_warped` is PatchMatch whose candidates carry a plane and an
offset in that plane's affine-rectified frame, so each target patch is compared with
a perspective-corrected (locally affine, bilinearly sampled) source patch.
:func:`inpaint_planar` is the paper's completion built on it: vanishing points,
planes and regularity from :mod:`inpaintkit.structure`, a cost with plane and
direction terms, regularity-guided candidates, and PatchMatch's pyramid, voting
weights and gradient-domain final vote (:mod:`.patchmatch`). The Numba kernels live
in :mod:`._planar_kernels`.
"""

from __future__ import annotations

import logging
import numbers

import cv2
import numpy as np
from scipy import ndimage

from .. import _progress, structure
from .._image import check_has_hole, check_mask, composite, prepare
from .._validate import check_float
from . import _planar_kernels as _k
from ._jit import run_strided, threads
from .patchmatch import (
    _BANDS, _GAMMA, _MIN_BAND_HEIGHT, _TEXTURE_WINDOW, _build_geometric_pyramid, _build_pyramid,
    _check_int, _check_patch_size, _derive_seed, _detailed_hole_values, _hole_depth, _initial_fill,
    _nnf_inputs, _share, _source_ok, _texture_features, _upsample_image, _vote_from_sources,
    _vote_weights, inpaint_patchmatch,
)

__all__ = ["patchmatch_nnf_warped", "inpaint_planar"]

logger = logging.getLogger("inpaintkit")

#: Regularity-guided candidates per target patch and iteration (the release's
#: numRegSample).
_REG_SAMPLES = 5
#: -log of posteriors below this is capped (a plane the model rules out costs 13.8).
_MIN_POSTERIOR = 1e-6
#: Patch scale range of the paper's candidates (the issue's bound, tighter than the
#: release's [0.25, 4]: larger rescaling blurs the copied texture).
_SCALE_RANGE = (0.75, 1.25)
#: An offset within this many rectified pixels (of the level) of a multiple of a
#: regularity vector counts as on the lattice (gets the ``lambda_regularity`` bonus).
_LATTICE_TOLERANCE = 0.75
#: ... and only on levels where every regularity vector is at least this long (level
#: pixels): with shorter ones (coarse levels of the geometric pyramid) most offsets
#: lie within the tolerance of some multiple, and the bonus then rewards wrong
#: copies (on the benchmark's checker corner 24.4 dB with the bonus on every level,
#: 26.5 without any, 28.0 from 16 px; 8 px gave 26.2).
_LATTICE_MIN_LENGTH = 16.0
#: Patch side and finest-level EM iterations on the planar path when none are given.
#: A second iteration gained 0.25-0.43 dB on the benchmark's perspective scenes for
#: 26 % more CPU time.
_PATCH_SIZE = 9
_ITERATIONS = 2
#: Least total length of a vanishing point's segments, in image diagonals (times the
#: known fraction of the image), for the completion to use it.
_MIN_VP_SUPPORT = 2.0
#: The coarsest level runs this many times the EM iterations of its depth (it sets
#: the structure of thick holes; patchmatch uses 4).
_COARSEST_EM_FACTOR = 4
#: The geometric pyramid (``pyramid="geometric"``, Huang et al.'s release): at most
#: this many levels, the coarsest about this many pixels on its short side, and this
#: many EM iterations there (falling linearly to ``iterations`` at the finest).
_GEOMETRIC_LEVELS = 10
_GEOMETRIC_COARSEST = 32
_GEOMETRIC_COARSEST_EM = 10
#: With the geometric pyramid, EM steps after a level's first run one PatchMatch
#: iteration: the field carries over from the step before. On the benchmark's
#: perspective scenes (256 px, 18 on the planar path) this cut the CPU time by 27 %
#: for 0.1 dB mean PSNR (per-case differences either way up to 3 dB); EM iterations
#: falling quadratically instead of linearly from the coarsest level cut it by 20 %
#: for 0.3 dB.
_NNF_ONCE_AFTER_FIRST_EM = True
#: Detail restoration after the final vote (``sharpness``) on the planar path.
_SHARPNESS = 0.2
#: Bias compensation bound per colour channel (the release's min/maxBias).
_BIAS_MAX = 0.1


def _gauss_weights(r: int) -> np.ndarray:
    """Gaussian patch weights, sigma = the patch radius (corner weight exp(-1))."""
    u = np.arange(-r, r + 1, dtype=np.float64)
    sigma2 = max(float(r), 1.0) ** 2
    return np.ascontiguousarray(np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2 * sigma2)))


class _PlaneModel:
    """The planar model at one pyramid level, in (row, col) kernel form."""

    def __init__(self, lines, directions, regularity, posterior):
        # lines (P, 3) (g_row, g_col, c); directions (P, 2, 2) (row, col);
        # regularity (P, R, 2) (row, col); posterior (H, W, P).
        count = lines.shape[0]
        self.lines = np.ascontiguousarray(lines, dtype=np.float64)
        self.directions = np.zeros((count, 2, 2))
        self.n_dirs = np.zeros(count, dtype=np.int64)
        for k, dirs in enumerate(directions):
            self.directions[k, :len(dirs)] = dirs
            self.n_dirs[k] = len(dirs)
        longest = max([1] + [len(v) for v in regularity])
        self.regularity = np.zeros((count, longest, 2))
        self.n_reg = np.zeros(count, dtype=np.int64)
        for k, vectors in enumerate(regularity):
            self.regularity[k, :len(vectors)] = vectors
            self.n_reg[k] = len(vectors)
        posterior = np.asarray(posterior, dtype=np.float64)
        posterior = posterior / posterior.sum(axis=2, keepdims=True)
        self.cum_post = np.ascontiguousarray(np.cumsum(posterior, axis=2), dtype=np.float32)
        self.nlp = np.ascontiguousarray(
            -np.log(np.maximum(posterior, _MIN_POSTERIOR)).transpose(2, 0, 1), dtype=np.float32)

    @classmethod
    def from_planes(cls, planes: structure.Planes, shape, factor) -> "_PlaneModel":
        """The model of ``planes`` for a level ``factor`` times smaller, of ``shape``;
        ``factor`` is a number or (rows, columns) factors."""
        fy, fx = (factor, factor) if np.isscalar(factor) else factor
        lines = np.array([[p.line[1] * fy, p.line[0] * fx, p.line[2]]
                          for p in planes.planes])
        directions = [p.directions[:, ::-1] for p in planes.planes]
        regularity = ([np.asarray(v, dtype=np.float64)[:, ::-1] / [fy, fx]
                       for v in planes.regularity]
                      if planes.regularity else [np.zeros((0, 2))] * len(planes.planes))
        posterior = planes.posterior
        if posterior.shape[:2] != tuple(shape):
            # One plane at a time: OpenCV's area resize takes at most 4 channels.
            posterior = np.stack([cv2.resize(np.ascontiguousarray(posterior[:, :, k]),
                                             (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
                                  for k in range(posterior.shape[2])], axis=2)
        return cls(lines, directions, regularity, posterior)


class _WarpedSearch:
    """Transform-aware NNF search state for one (source, target) pair."""

    def __init__(self, source, target, src_ok, pixel_ok, tgt_valid, active, r, model, params,
                 n_colour, reg_samples):
        self.src = source
        self.tgt = target
        self.src_ok = src_ok          # valid source patch centres (for random init)
        self.pixel_ok = pixel_ok      # pixels a warped sample may touch
        self.tgt_valid = tgt_valid
        self.active = active
        self.r = r
        self.model = model
        self.params = params
        self.n_colour = n_colour
        self.reg_samples = reg_samples
        self.gauss = _gauss_weights(r)
        self.coords = np.ascontiguousarray(np.argwhere(src_ok).astype(np.int64))
        self.bounds = _balanced_bands(active)
        n_active = int(np.count_nonzero(active))
        self.parallel = _share(n_active)
        self.iterate_parallel = n_active >= 1024

    def _common(self):
        m = self.model
        return (self.src, self.tgt, self.tgt_valid, self.pixel_ok, self.gauss, self.r,
                self.n_colour, m.lines, m.directions, m.n_dirs, m.nlp, m.nlp, self.params)

    def start(self, plane, offset, seed):
        """Field (plane, offset), its costs and biases; ``plane=None`` draws a random
        field, otherwise invalid entries of the given one are redrawn."""
        shape = self.active.shape
        keep = plane is not None
        if not keep:
            plane = np.zeros(shape, dtype=np.int64)
            offset = np.zeros((*shape, 2), dtype=np.float64)
        cost = np.empty(shape, dtype=np.float64)
        bias = np.zeros((*shape, max(self.n_colour, 1)), dtype=np.float64)
        run_strided(_k.field_init, *self._common(), self.model.regularity, self.model.n_reg,
                    self.active, self.coords, plane, offset,
                    cost, bias, keep, seed, parallel=self.parallel)
        return plane, offset, cost, bias

    def iterate(self, plane, offset, cost, bias, iterations, seed):
        m = self.model
        for it in range(iterations):
            snap_plane = plane.copy()
            snap_offset = offset.copy()
            with threads(self.iterate_parallel):
                _k.field_iterate(*self._common(), m.cum_post, m.regularity, m.n_reg,
                                 self.active, plane, offset, cost, bias, snap_plane,
                                 snap_offset, it, seed, self.bounds[it % 2], self.reg_samples)

    def transforms(self, plane, offset):
        shape = self.active.shape
        positions = np.empty((*shape, 2), dtype=np.float64)
        affine = np.empty((*shape, 4), dtype=np.float64)
        run_strided(_k.field_transforms, self.model.lines, plane, offset, self.active,
                    positions, affine, parallel=self.parallel)
        return positions, affine


def _balanced_bands(active):
    """Row bands of the parallel search: (even-iteration bounds, odd-iteration bounds).

    :data:`.patchmatch._BANDS` bands over the rows that hold active patches, each
    with about the same number of them (and at least ``_MIN_BAND_HEIGHT`` rows), so
    that ``prange``'s even split of the bands gives every thread the same work. Bands
    of a fixed height over the whole image left one of two threads idle wherever the
    hole sat in one half of the image (the benchmark's 512 px box hole: 1.16 of 2
    cores busy). Odd iterations shift the cuts to the middle of the even bands, so
    that propagation crosses every cut every other iteration.
    """
    per_row = np.count_nonzero(active, axis=1)
    rows = np.flatnonzero(per_row)
    if rows.size == 0:
        empty = np.array([0, 0], dtype=np.int64)
        return empty, empty
    first, stop = int(rows[0]), int(rows[-1]) + 1
    cumulative = np.cumsum(per_row[first:stop])
    targets = cumulative[-1] * np.arange(1, _BANDS) / _BANDS
    cuts = [first]
    for cut in first + 1 + np.searchsorted(cumulative, targets):
        if cut - cuts[-1] >= _MIN_BAND_HEIGHT and stop - cut >= _MIN_BAND_HEIGHT:
            cuts.append(int(cut))
    cuts.append(stop)
    even = np.array(cuts, dtype=np.int64)
    odd = np.array([first] + [(a + b) // 2 for a, b in zip(cuts[:-1], cuts[1:])] + [stop],
                   dtype=np.int64)
    return even, odd


def _params(lambda_plane, lambda_direct, direct_threshold, lambda_prox, scale_range, bias_max,
            size, lambda_regularity=0.0) -> np.ndarray:
    params = np.zeros(_k.N_PARAMS)
    params[_k._P_LAM_REG] = lambda_regularity
    params[_k._P_REG_TOL] = _LATTICE_TOLERANCE
    params[_k._P_LAM_PLANE] = lambda_plane
    params[_k._P_LAM_DIRECT] = lambda_direct
    params[_k._P_DIRECT_THRESH] = direct_threshold
    params[_k._P_LAM_PROX] = lambda_prox
    params[_k._P_SCALE_MIN] = scale_range[0]
    params[_k._P_SCALE_MAX] = scale_range[1]
    params[_k._P_BIAS_MAX] = bias_max
    params[_k._P_SIZE] = float(size)
    return params


def _check_homography(h, index) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if h.shape != (3, 3) or not np.all(np.isfinite(h)):
        raise ValueError(f"homographies[{index}] must be a finite 3x3 array, got shape {h.shape}")
    if not np.allclose(h[:2], [[1, 0, 0], [0, 1, 0]]) or h[2, 2] <= 0:
        raise ValueError(
            f"homographies[{index}] must be an affine rectification [[1,0,0],[0,1,0],[a,b,c]] "
            "with c > 0 (scale a plane's vanishing line so that c > 0)"
        )
    return h


# -------------------------------------------------------------------- public search


def patchmatch_nnf_warped(source, target, *, homographies=(), patch_size=7, iterations=5, seed=0,
                          source_valid=None, target_valid=None, scale_range=_SCALE_RANGE,
                          bias_limit=0.0):
    """Nearest-neighbour field whose matches carry a perspective (locally affine) transform.

    Each candidate is a plane (one of ``homographies``, or the identity, always
    added last) and an offset in that plane's rectified frame: target centre t is
    matched with source centre s = H^-1(H(t) + offset), and the target patch with
    the source patch warped by the local affine map A = J_H(s)^-1 J_H(t), sampled
    bilinearly (Huang et al. 2014). Candidates whose scale sqrt(|det A|) falls
    outside ``scale_range`` are rejected. PatchMatch propagation copies a
    neighbour's plane and rectified offset; random search draws the plane
    uniformly. The distance is the Gaussian-weighted mean of the L1 difference
    summed over channels (after a per-channel bias compensation clipped to
    +-``bias_limit``).

    Parameters
    ----------
    source, target : ndarray, shape (H, W) or (H, W, C)
        As in :func:`inpaintkit.patchmatch_nnf`; the same number of channels.
    homographies : sequence of ndarray (3, 3)
        Affine rectifications ``[[1, 0, 0], [0, 1, 0], [a, b, c]]`` in image
        ``(x, y)`` coordinates, ``(a, b, c)`` a plane's vanishing line with ``c > 0``
        (:attr:`inpaintkit.structure.Plane.homography`).
    patch_size, iterations, seed, source_valid, target_valid
        As in :func:`inpaintkit.patchmatch_nnf`.
    scale_range : (float, float), default (0.75, 1.25)
        Accepted patch scales.
    bias_limit : float, default 0.0
        Largest per-channel bias compensated (0: none).

    Returns
    -------
    positions : ndarray of float32, shape (Ht, Wt, 2)
        Source (row, col) centre matched to each target pixel (sub-pixel).
    transforms : ndarray of float32, shape (Ht, Wt, 2, 2)
        Local affine map A (row, col) from target offsets to source offsets.
    plane : ndarray of int32, shape (Ht, Wt)
        Index into ``homographies`` (``len(homographies)``: the identity).
    distance : ndarray of float32, shape (Ht, Wt)

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit.algorithms.planar import patchmatch_nnf_warped
    >>> rng = np.random.default_rng(0)
    >>> source = rng.random((40, 40))
    >>> target = np.roll(source, (3, -5), axis=(0, 1))
    >>> pos, A, plane, dist = patchmatch_nnf_warped(source, target, patch_size=5)
    >>> pos[20, 20].tolist(), A[20, 20].tolist()
    ([17.0, 25.0], [[1.0, 0.0], [0.0, 1.0]])
    """
    src, tgt, patch_size, iterations, seed, src_valid, tgt_valid, src_ok = _nnf_inputs(
        source, target, patch_size, iterations, seed, source_valid, target_valid)
    hs = [_check_homography(h, i) for i, h in enumerate(homographies)]
    low, high = (float(v) for v in scale_range)
    if not (0 < low <= 1 <= high):
        raise ValueError(
            f"scale_range must be (low, high) with 0 < low <= 1 <= high, got {scale_range!r}")
    bias_limit = check_float("bias_limit", bias_limit, low=0.0)
    r = patch_size // 2
    lines = np.array([[h[2, 1], h[2, 0], h[2, 2]] for h in hs] + [[0.0, 0.0, 1.0]])
    count = len(lines)
    posterior = np.full((*tgt.shape[:2], count), 1.0 / count)
    model = _PlaneModel(lines, [np.zeros((0, 2))] * count, [np.zeros((0, 2))] * count, posterior)
    # The source's -log posterior is read at source positions: same image size here.
    if src.shape[:2] != tgt.shape[:2]:
        model.nlp = np.zeros((count, max(src.shape[0], tgt.shape[0]),
                              max(src.shape[1], tgt.shape[1])), dtype=np.float32)
    params = _params(0.0, 0.0, 1.0, 0.0, (low, high), bias_limit, max(tgt.shape[:2]))
    active = np.ones(tgt.shape[:2], dtype=bool)
    search = _WarpedSearch(src.astype(np.float64), tgt.astype(np.float64), src_ok,
                           np.ascontiguousarray(src_valid), tgt_valid, active, r, model, params,
                           src.shape[2], 0)
    plane, offset, cost, bias = search.start(None, None, _derive_seed(seed, 0))
    search.iterate(plane, offset, cost, bias, iterations, _derive_seed(seed, 1))
    positions, affine = search.transforms(plane, offset)
    return (positions.astype(np.float32), affine.reshape(*active.shape, 2, 2).astype(np.float32),
            plane.astype(np.int32), cost.astype(np.float32))


# ----------------------------------------------------------------------- completion


def _upsample_field(plane, offset, shape, ratio=(2.0, 2.0)):
    """Coarse (plane, rectified offset) -> finer level ``ratio`` (rows, columns) times
    larger: the nearest coarse entry's plane, its offset times the ratio (rectified
    coordinates scale with the level)."""
    rows = np.minimum(((np.arange(shape[0]) + 0.5) / ratio[0]).astype(np.intp),
                      plane.shape[0] - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) / ratio[1]).astype(np.intp),
                      plane.shape[1] - 1)
    fine_plane = np.ascontiguousarray(plane[rows[:, None], cols[None, :]])
    fine_offset = np.ascontiguousarray(offset[rows[:, None], cols[None, :]]
                                       * np.asarray(ratio, dtype=np.float64))
    return fine_plane, fine_offset


def analyse(image, mask, *, max_vps=3, use_regularity=True, split_planes=False,
            seed=0) -> structure.Planes:
    """The planar model that :func:`inpaint_planar` uses: vanishing points, planes
    (posterior filled into the hole) and, with ``use_regularity``, regularity.

    Vanishing points whose supporting segments total less than twice the image
    diagonal (times the known fraction of the image) are ignored: natural photos
    have such stray ones (on the benchmark photos at most 1.6 diagonals; the
    synthetic facades and grids 2.4-13), and planes built on them cost 0.3-3 dB
    against plain patchmatch there. With ``split_planes`` (experimental), once two
    points are that strong a further one needs only half that support (a
    corridor's far point: its receding lines are short), and
    :func:`inpaintkit.structure.detect_planes` splits planes at their vanishing line.
    """
    vps = structure.vanishing_points(image, mask=mask, max_vps=max_vps, seed=seed)
    shape = np.shape(mask)
    known = 1.0 - float(np.count_nonzero(mask)) / (shape[0] * shape[1])
    least = _MIN_VP_SUPPORT * float(np.hypot(*shape)) * known
    if split_planes and sum(vp.score >= least for vp in vps) >= 2:
        least *= 0.5
    weak = [vp for vp in vps if vp.score < least]
    if weak:
        logger.info("planar: %d weak vanishing point(s) ignored (support %s px < %.0f px)",
                    len(weak), [round(vp.score) for vp in weak], least)
    strong = [vp for vp in vps if vp.score >= least]
    planes = structure.detect_planes(image, mask, vanishing=strong, split=split_planes)
    if use_regularity:
        structure.plane_regularity(image, mask, planes)
    else:
        planes.regularity = [np.zeros((0, 2)) for _ in planes.planes]
    return planes


def inpaint_planar(image, mask, *, patch_size=None, iterations=None, nnf_iterations=2,
                   lambda_plane=0.05, lambda_direct=10.0, direct_threshold=0.02,
                   lambda_prox=0.0, lambda_regularity=0.3, texture_weight=3.0,
                   use_regularity=True, max_vps=3, pyramid="geometric", final_vote=None,
                   sharpness=None, split_planes=False, source_mask=None, return_planes=False,
                   seed=0):
    """Fill the hole with planar structure guidance (Huang, Kang, Ahuja, Kopf 2014).

    The scene's vanishing points (LSD segments, RANSAC) give planes, one per pair,
    with a soft per-pixel posterior continued into the hole, and each plane's
    translational regularity (SIFT self-matching, mean shift); see
    :mod:`inpaintkit.structure`. The completion is multi-scale PatchMatch EM as
    :func:`inpaint_patchmatch` (Wexler voting weights and texture features) on the
    paper's pyramid (up to 10 levels on a
    geometric scale down to a short side of about 32 px, EM iterations falling
    from 10 at the coarsest level), but every match carries a plane and
    an offset in its rectified frame, so source patches are warped (locally
    affine, bilinear) to the target's perspective, and the cost (paper eq. 5-13)
    is appearance (Gaussian-weighted L1 with a bias compensation of at most 0.1
    per colour channel) + ``lambda_plane`` (-log P(plane | target) - log P(plane |
    source)) + ``lambda_direct`` min(offset perpendicular to the plane's line
    families / image size, ``direct_threshold``) + ``lambda_prox`` |s - t| / size.
    Candidates come from propagation, random search with the plane drawn from
    the posterior, and (``use_regularity``) target + m x a regularity vector.

    Without two strong vanishing points (a natural scene) there is no plane: the
    fill is exactly :func:`inpaint_patchmatch`'s with its defaults (logged on the
    ``inpaintkit`` logger).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4; uint8, uint16, float32 or float64.
    mask : ndarray, shape (H, W), bool or integer
        Non-zero marks the hole.
    patch_size : int, optional
        Patch side; odd, >= 3. Default 9 (about 0.1-0.6 dB above 7 on the
        benchmark's perspective scenes); where no plane is found, patchmatch's own
        default, so that the fill is exactly ``patchmatch``'s.
    iterations : int, optional
        EM iterations at the finest level, as in :func:`inpaint_patchmatch`
        (coarser levels run more). Default 2 (0.25-0.43 dB above 1 on the
        benchmark's perspective scenes); patchmatch's own where no plane is found.
    nnf_iterations : int, default 2
        PatchMatch iterations per EM step: with the geometric pyramid at each
        level's first EM step, one at the later ones (the field carries over: 27 %
        less CPU time for 0.1 dB on the benchmark); with ``pyramid="hole"`` at every
        step of the finest level, coarser levels running more.
    lambda_plane : float, default 0.05
        Weight of the plane posterior term (the release's value).
    lambda_direct : float, default 10.0
        Weight of the direction term (the release's value).
    direct_threshold : float, default 0.02
        Truncation of the direction term, as a fraction of the image size; the
        fronto-parallel plane always pays it.
    lambda_prox : float, default 0.0
        Weight of the proximity term (0 in the release).
    lambda_regularity : float, default 0.3
        Bonus (subtracted from the cost) of offsets that are integer multiples of a
        regularity vector of their plane (the release's lambdaReg, -0.02 there):
        copies along the lattice are in phase with each other, so they win and the
        fill keeps the pattern's phase across the hole. 0.3 was tuned on the
        benchmark's perspective scenes (checkerboard wall: 13.6 dB at 0, 15.9 at
        0.1, 16.7 at 0.3, 17.1 at 1.0; a facade of windows: 24.8, 26.1, 25.9, 25.9).
    texture_weight : float, default 3.0
        Weight of the texture feature channels (as in :func:`inpaint_patchmatch`).
    use_regularity : bool, default True
        Detect regularity and try regularity-guided candidates.
    max_vps : int, default 3
        Vanishing points sought.
    pyramid : {"geometric", "hole"}, default "geometric"
        ``"geometric"``: the paper's pyramid (Huang et al.'s release: 10 levels, the
        coarsest short side about 32 px, each level resampled from the image, EM
        iterations falling linearly from 10 at the coarsest level to
        ``iterations``). ``"hole"``: :func:`inpaint_patchmatch`'s dyadic pyramid,
        as deep as the hole needs (its EM schedule too). On the benchmark's
        perspective box holes (256 px) the geometric pyramid scored 1.8 dB higher
        for 1.3-2x the CPU time (``bench/results/planar.txt``).
    final_vote : {"mean", "best"}, optional
        The last vote at the finest level. ``"mean"`` (default on the planar path):
        Wexler's weighted mean of the overlapping warped patches. ``"best"``: as
        :func:`inpaint_patchmatch`'s default, each pixel copied from its best
        patch's source in the gradient domain; where neighbouring pixels come from
        patches out of step with each other (a lattice's phase, a plane's edge) the
        Poisson solve spreads their disagreement into smears and ghosts, which
        ``"mean"`` does not show (+1.9 dB on the benchmark's perspective box holes,
        hole texture ratio still 0.91-0.99). Where no plane is found the fill is
        patchmatch's, with its own default unless this is given.
    sharpness : float in [0, 1], optional
        Detail restoration after the final vote, :func:`inpaint_patchmatch`'s (the
        same function): the fill's fine band is amplified where it is weaker than
        the known pixels' around it. Default 0.2 on the planar path (on the
        benchmark's perspective scenes the mean vote's fill had a hole texture
        ratio of 0.83; 0.2 gives 0.89 for 0.02 dB less PSNR, 0.3 gives 0.92 for
        0.08 dB; 0.9, patchmatch's default, 1.11 for 0.85 dB); where no plane is
        found, patchmatch's own default unless this is given.
    split_planes : bool, default False
        Experimental, off until the benchmark has been run with it on: planes on
        both sides of a shared vanishing line (a corridor's two walls) become two
        planes (:func:`inpaintkit.structure.detect_planes`'s ``split``), and once
        two vanishing points are strong a third needs only half the support (a
        corridor's far point). On the benchmark's three corridor box holes it
        raised PSNR by 0.3-1.5 dB; the checkerboard corridor still pushes the
        wall's squares into the sky inside the hole.
    source_mask : ndarray, shape (H, W), optional
        Non-zero pixels are never copied from.
    return_planes : bool, default False
        Also return the :class:`inpaintkit.structure.Planes` model (library only).
    seed : int, default 0

    Returns
    -------
    ndarray, or (ndarray, Planes) with ``return_planes``
        Same shape and dtype as ``image``; pixels outside the hole unchanged.

    References
    ----------
    J.-B. Huang, S. B. Kang, N. Ahuja, J. Kopf, "Image completion using planar
    structure guidance", ACM TOG 33(4), 2014, doi:10.1145/2601097.2601205.

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit.algorithms.planar import inpaint_planar
    >>> yy, xx = np.mgrid[:64, :64]
    >>> image = (((yy // 8) + (xx // 8)) % 2).astype(np.float32)
    >>> mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = True
    >>> out = inpaint_planar(image, mask, patch_size=5)
    >>> out.shape, out.dtype, bool(np.all(out[~mask] == image[~mask]))
    ((64, 64), dtype('float32'), True)
    """
    prep = prepare(image, mask)
    shape = prep.mask.shape
    # Options left at None take patchmatch's defaults where no plane is found.
    fallback = {key: value for key, value in (("patch_size", patch_size),
                                               ("iterations", iterations),
                                               ("final_vote", final_vote),
                                               ("sharpness", sharpness)) if value is not None}
    patch_size = _check_patch_size(_PATCH_SIZE if patch_size is None else patch_size, shape)
    iterations = _check_int(_ITERATIONS if iterations is None else iterations, "iterations",
                            low=1)
    nnf_iterations = _check_int(nnf_iterations, "nnf_iterations", low=1)
    lambda_plane = check_float("lambda_plane", lambda_plane, low=0.0)
    lambda_direct = check_float("lambda_direct", lambda_direct, low=0.0)
    direct_threshold = check_float("direct_threshold", direct_threshold, low=0.0)
    lambda_prox = check_float("lambda_prox", lambda_prox, low=0.0)
    lambda_regularity = check_float("lambda_regularity", lambda_regularity, low=0.0)
    texture_weight = check_float("texture_weight", texture_weight, low=0.0)
    max_vps = _check_int(max_vps, "max_vps", low=2)
    seed = _check_int(seed, "seed", low=0)
    if pyramid not in ("geometric", "hole"):
        raise ValueError(f"pyramid must be 'geometric' or 'hole', got {pyramid!r}")
    final_vote = "mean" if final_vote is None else final_vote
    if final_vote not in ("mean", "best"):
        raise ValueError(f"final_vote must be 'mean' or 'best', got {final_vote!r}")
    if sharpness is not None and (isinstance(sharpness, (bool, np.bool_))
                                  or not isinstance(sharpness, numbers.Real)
                                  or not 0.0 <= sharpness <= 1.0):
        raise ValueError(f"sharpness must be a number in [0, 1], got {sharpness!r}")
    for name, flag in (("use_regularity", use_regularity), ("return_planes", return_planes),
                       ("split_planes", split_planes)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    exclude = (np.zeros(shape, dtype=bool) if source_mask is None
               else check_mask(source_mask, shape, name="source_mask"))
    if not check_has_hole(prep):
        result = np.array(image, copy=True)
        return (result, analyse(image, prep.mask, max_vps=max_vps, use_regularity=use_regularity,
                                split_planes=split_planes, seed=seed)) if return_planes else result
    r = patch_size // 2
    hole = prep.mask
    if not _source_ok(~hole & ~exclude, r).any():
        # Scattered specks can leave no fully known patch: diffusion fills the pixels
        # nearest the known ones first (see _prefill), the planar search the rest.
        from ._prefill import fill_without_sources

        def rest_filled(filled, rest):
            return inpaint_planar(
                filled, rest, patch_size=patch_size, iterations=iterations,
                nnf_iterations=nnf_iterations, lambda_plane=lambda_plane,
                lambda_direct=lambda_direct, direct_threshold=direct_threshold,
                lambda_prox=lambda_prox, lambda_regularity=lambda_regularity,
                texture_weight=texture_weight, use_regularity=use_regularity,
                max_vps=max_vps, pyramid=pyramid, final_vote=final_vote, sharpness=sharpness,
                split_planes=split_planes, source_mask=source_mask, return_planes=return_planes,
                seed=seed)

        def all_diffused(filled):
            if not return_planes:
                return filled
            return filled, analyse(image, hole, max_vps=max_vps, use_regularity=use_regularity,
                                   split_planes=split_planes, seed=seed)

        return fill_without_sources(
            image, hole, exclude=exclude, method="planar",
            has_source=lambda valid: bool(_source_ok(valid, r).any()),
            fill_rest=rest_filled, empty_rest=all_diffused)

    colours = prep.data.shape[2]
    gray = prep.data[:, :, :min(colours, 3)].mean(axis=2)
    planes = analyse(gray, hole, max_vps=max_vps, use_regularity=use_regularity,
                     split_planes=split_planes, seed=seed)
    if len(planes.planes) < 2:
        logger.info("planar: %d vanishing point(s) found, no plane: filling as patchmatch",
                    len(planes.vanishing_points))
        result = inpaint_patchmatch(image, mask, **fallback, nnf_iterations=nnf_iterations,
                                    texture_weight=texture_weight, source_mask=source_mask,
                                    seed=seed)
        return (result, planes) if return_planes else result
    logger.info("planar: %d vanishing points, %d planes, regularity vectors %s",
                len(planes.vanishing_points), len(planes.planes) - 1,
                [len(v) for v in planes.regularity])

    texture = texture_weight * _texture_features(prep.data, ~hole, _TEXTURE_WINDOW)
    augmented = np.ascontiguousarray(np.concatenate([prep.data, texture], axis=2),
                                     dtype=np.float32)
    # From here the pyramid holds the image; the end needs only the mask and original.
    prep.data = texture = None
    augmented[hole] = 0.0
    if pyramid == "geometric":
        levels, factors = _build_geometric_pyramid(augmented, hole, exclude, patch_size,
                                                   _GEOMETRIC_LEVELS, _GEOMETRIC_COARSEST)
    else:
        levels = _build_pyramid(augmented, hole, exclude, patch_size)
        factors = [(2.0 ** depth, 2.0 ** depth) for depth in range(len(levels))]
    del augmented  # the finest level (each level is dropped once it has an estimate)
    n_levels = len(levels)
    reg_samples = _REG_SAMPLES if use_regularity else 0
    estimate = None
    plane = offset = None
    for depth in range(n_levels - 1, -1, -1):
        values, level_hole, level_exclude = levels[depth]
        levels[depth] = None
        level_shape = level_hole.shape
        factor = factors[depth]
        known = ~level_hole
        pixel_ok = np.ascontiguousarray(known & ~level_exclude)
        src_ok = _source_ok(pixel_ok, r)
        active = np.ascontiguousarray(ndimage.binary_dilation(
            level_hole, structure=np.ones((patch_size, patch_size), bool)))
        all_valid = np.ones(level_shape, dtype=bool)
        confidence = np.ascontiguousarray(_GAMMA ** -_hole_depth(level_hole))
        model = _PlaneModel.from_planes(planes, level_shape, factor)
        # The lattice bonus only where the lattice is resolved: with short vectors
        # (coarse levels) most offsets lie within the tolerance of some multiple.
        lengths = [np.hypot(*v.T) for v, n in zip(model.regularity, model.n_reg) if n]
        resolved = (bool(lengths)
                    and min(float(l[l > 0].min()) for l in lengths) >= _LATTICE_MIN_LENGTH)
        params = _params(lambda_plane, lambda_direct, direct_threshold, lambda_prox, _SCALE_RANGE,
                         _BIAS_MAX, max(level_shape),
                         lambda_regularity if use_regularity and resolved else 0.0)
        fresh = plane is None
        if fresh:
            estimate = np.ascontiguousarray(_initial_fill(values, known), dtype=np.float64)
        else:
            coarser = factors[depth + 1]
            ratio = (coarser[0] / factor[0], coarser[1] / factor[1])
            plane, offset = _upsample_field(plane, offset, level_shape, ratio)
            if pyramid == "geometric":
                grown = cv2.resize(estimate, (level_shape[1], level_shape[0]),
                                   interpolation=cv2.INTER_LINEAR).reshape(*level_shape, -1)
            else:
                grown = _upsample_image(estimate, level_shape)
            estimate = np.ascontiguousarray(np.where(known[:, :, None], values, grown),
                                            dtype=np.float64)
            grown = None
        values = None
        if pyramid == "geometric":
            # The release's schedule: EM iterations fall linearly from the coarsest
            # level to ``iterations`` at the finest; PatchMatch iterations constant.
            n_em = iterations + int(round(depth * (_GEOMETRIC_COARSEST_EM - iterations)
                                          / max(n_levels - 1, 1)))
            n_nnf = nnf_iterations
        else:
            n_em = iterations + depth
            if fresh:
                n_em *= _COARSEST_EM_FACTOR
            n_nnf = nnf_iterations + depth
        spare = estimate.copy()
        for em in range(n_em):
            search = _WarpedSearch(estimate, estimate, src_ok, pixel_ok, all_valid, active, r,
                                   model, params, colours, reg_samples)
            plane, offset, cost, bias = search.start(plane, offset,
                                                     _derive_seed(seed, depth, em, 0))
            search.iterate(plane, offset, cost, bias,
                           1 if em > 0 and pyramid == "geometric" and _NNF_ONCE_AFTER_FIRST_EM
                           else n_nnf,
                           _derive_seed(seed, depth, em, 1))
            positions, affine = search.transforms(plane, offset)
            final = depth == 0 and em == n_em - 1 and final_vote == "best"
            filled = spare
            if final:
                sources = np.stack(np.mgrid[:level_shape[0], :level_shape[1]], axis=2)
                run_strided(_k.best_sources, positions, affine, cost, active, level_hole, r,
                            sources, parallel=search.parallel)
                _vote_from_sources(estimate, level_hole, sources, colours, filled)
            else:
                # The lattice bonus can make costs negative: weigh from the lowest.
                finite = np.isfinite(cost) & active
                low = float(cost[finite].min()) if finite.any() else 0.0
                weights = _vote_weights(np.where(finite, cost - low, 1e9), active, confidence)
                run_strided(_k.vote_warped, estimate, positions, affine, bias, colours, weights,
                            active, level_hole, r, filled, parallel=search.parallel)
            # The next step's search and transforms replace these (about 60 bytes a
            # pixel of the level, plus the source list): dropped before they are made.
            search = positions = affine = weights = sources = None
            spare, estimate = estimate, filled
        _progress.report("planar", n_levels - depth, n_levels)
    # patchmatch's detail restorer, after the final vote as there, on the hole only.
    spare = plane = offset = cost = bias = confidence = active = src_ok = pixel_ok = None
    values = _detailed_hole_values(estimate, colours, hole, ~hole & ~exclude,
                                   _SHARPNESS if sharpness is None else float(sharpness),
                                   patch_size)
    result = composite(prep.original, hole, values)
    return (result, planes) if return_planes else result
