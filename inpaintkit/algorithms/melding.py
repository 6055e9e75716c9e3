"""Image Melding options of ``patchmatch`` (Darabi et al. 2012): transforms, gain/bias, gradients.

:func:`inpaint_patchmatch` calls :func:`fill_melding` instead of its own EM loop when
one of ``transforms="similarity"``, ``gain_bias=True`` or ``gradient_weight > 0`` is
given. The completion is the same multi-scale EM (pyramid, initial fill, voting
weights, confidence, best-patch final vote in the gradient domain, from
:mod:`.patchmatch`), but each match carries a similarity transform (rotation,
uniform scale, reflection; sampled bilinearly) and a per-channel gain and bias in
Lab, the distance can include luminance gradients, and the votes at the finest
levels solve a screened Poisson equation (:func:`.diffusion.poisson_fill`) from the
voted colours and gradients. The Numba kernels live in :mod:`._melding_kernels`.
"""

from __future__ import annotations

import numbers

import cv2
import numba
import numpy as np
from scipy import ndimage

from .. import _progress
from . import _melding_kernels as _k
from ._jit import run_strided, threads
from .diffusion import poisson_fill
from .patchmatch import (
    _GAMMA, _SERIAL_SEARCH_BELOW, _TEXTURE_WINDOW, _band_height, _build_pyramid, _derive_seed,
    _hole_depth, _initial_fill, _patch_onion_fill, _share, _source_ok, _texture_features,
    _upsample_image, _vote_weights,
)

__all__ = ["TRANSFORMS", "check_options", "fill_melding"]

TRANSFORMS = ("none", "similarity")
#: Search range of the similarity transforms (the issue's: +-45 degrees, scale 0.9-1.2).
_ANGLE_MAX = np.pi / 4
_SCALE_RANGE = (0.9, 1.2)
#: Gain and bias bounds per colour channel (Image Melding's: gain in [0.9, 1.1], bias
#: within +-10 Lab units). Lab is stored divided by _LAB_UNIT, so that L spans [0, 1].
_GAIN_RANGE = (0.9, 1.1)
_LAB_UNIT = 100.0
_BIAS_MAX = 10.0 / _LAB_UNIT
#: A transformed candidate's distance is multiplied by 1 + this x its deviation from
#: the identity (|angle| / 45 degrees + |log scale| / log 1.2, + 1 if mirrored), so a
#: rotated copy must match clearly better than a plain one to win (an exact rotated
#: copy, distance 0, still does). Without it, regular scenes filled with tilted
#: windows and bent checker squares. On 4 regular scenes and 2 object holes of the
#: benchmark, PSNR at 0 / 1 / 3: brick 28.6 / 29.6 / 29.6, checkerboard 16.0 / 18.5 /
#: 18.3, tiles 26.3 / 27.1 / 27.9, windows 22.2 / 21.9 / 22.4, coffee 21.4 / 22.7 /
#: 22.7, rocket 26.3 / 26.5 / 26.6 dB.
_TRANSFORM_PENALTY = 3.0
#: The votes of this many finest levels are screened Poisson solves when
#: ``gradient_weight > 0`` (coarser levels vote colours only: their holes are small
#: and their estimates smooth).
_POISSON_LEVELS = 2


def check_options(transforms, gain_bias, gradient_weight) -> tuple[str, bool, float]:
    """Validate the melding options; returns them normalised."""
    if not isinstance(transforms, str) or transforms not in TRANSFORMS:
        raise ValueError(f"transforms must be one of {TRANSFORMS}, got {transforms!r}")
    if not isinstance(gain_bias, (bool, np.bool_)):
        raise TypeError(f"gain_bias must be True or False, got {gain_bias!r}")
    if (isinstance(gradient_weight, (bool, np.bool_))
            or not isinstance(gradient_weight, numbers.Real)
            or not np.isfinite(gradient_weight) or gradient_weight < 0):
        raise ValueError(f"gradient_weight must be a finite number >= 0, got {gradient_weight!r}")
    return transforms, bool(gain_bias), float(gradient_weight)


def is_on(transforms: str, gain_bias: bool, gradient_weight: float) -> bool:
    """Whether any melding option departs from plain patchmatch."""
    return transforms != "none" or gain_bias or gradient_weight > 0


def _to_lab(data: np.ndarray) -> np.ndarray:
    """RGB(A) in [0, 1] -> Lab / 100 on the first three channels (others kept)."""
    out = np.array(data, dtype=np.float64)
    if data.shape[2] >= 3:
        lab = cv2.cvtColor(np.ascontiguousarray(data[:, :, :3], dtype=np.float32),
                           cv2.COLOR_RGB2Lab)
        out[:, :, :3] = lab / _LAB_UNIT
    return out


def _from_lab(data: np.ndarray) -> np.ndarray:
    out = np.array(data, dtype=np.float64)
    if data.shape[2] >= 3:
        lab = np.ascontiguousarray(data[:, :, :3] * _LAB_UNIT, dtype=np.float32)
        out[:, :, :3] = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return out


def _params(transforms: str, gain_bias: bool) -> np.ndarray:
    params = np.zeros(_k.N_PARAMS)
    params[_k.P_ANGLE_MAX] = _ANGLE_MAX
    params[_k.P_SCALE_MIN], params[_k.P_SCALE_MAX] = _SCALE_RANGE
    params[_k.P_GAIN_MIN], params[_k.P_GAIN_MAX] = _GAIN_RANGE
    params[_k.P_BIAS_MAX] = _BIAS_MAX
    params[_k.P_SIMILARITY] = 1.0 if transforms == "similarity" else 0.0
    params[_k.P_GAIN_BIAS] = 1.0 if gain_bias else 0.0
    params[_k.P_PENALTY] = _TRANSFORM_PENALTY
    return params


def luminance_gradients(values: np.ndarray, colours: int, lab: bool) -> np.ndarray:
    """(H, W, 2) central differences (row, col) of the luminance: Lab's L where
    ``lab``, else the mean of the first (up to three) colour channels; one-sided at
    the image border."""
    lum = values[:, :, 0] if lab else values[:, :, :min(colours, 3)].mean(axis=2)
    out = np.zeros((*lum.shape, 2))
    if lum.shape[0] > 1:
        out[:, :, 0] = np.gradient(lum, axis=0)
    if lum.shape[1] > 1:
        out[:, :, 1] = np.gradient(lum, axis=1)
    return out


def divergence_source(diffs: np.ndarray, colours: int) -> np.ndarray:
    """Right-hand side of the gradient-domain vote from forward-difference guidance.

    ``diffs`` (H, W, 2 C) holds g_row(p) ~ u(p + (1, 0)) - u(p) in channels [0, C)
    and g_col(p) ~ u(p + (0, 1)) - u(p) in [C, 2C). Row p of (-L) u (4-neighbour,
    Neumann at the border) equals sum over the edges at p of (u_p - u_q); setting
    each edge's difference to the guidance gives -(g_row(p) - g_row(p - (1, 0)) +
    g_col(p) - g_col(p - (0, 1))), edges leaving the image left out.
    """
    g_row = diffs[:, :, :colours]
    g_col = diffs[:, :, colours:2 * colours]
    source = np.zeros(g_row.shape)
    source[:-1] -= g_row[:-1]
    source[1:] += g_row[:-1]
    source[:, :-1] -= g_col[:, :-1]
    source[:, 1:] += g_col[:, :-1]
    return source


def _upsample_field(pos, xform, shape):
    """Coarse field -> finer level: a fine pixel keeps its parent's transform, and its
    centre is twice the parent's plus the transformed step from the parent's place."""
    rows = np.minimum(np.arange(shape[0]) // 2, pos.shape[0] - 1)
    cols = np.minimum(np.arange(shape[1]) // 2, pos.shape[1] - 1)
    parent_pos = pos[rows[:, None], cols[None, :]]
    fine_xform = np.ascontiguousarray(xform[rows[:, None], cols[None, :]])
    dy = (np.arange(shape[0]) - 2 * rows)[:, None].astype(np.float64)
    dx = (np.arange(shape[1]) - 2 * cols)[None, :].astype(np.float64)
    angle, scale, flip = fine_xform[..., 0], fine_xform[..., 1], fine_xform[..., 2]
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    fine_pos = np.empty((*shape, 2))
    fine_pos[..., 0] = 2.0 * parent_pos[..., 0] + c * dy - s * flip * dx
    fine_pos[..., 1] = 2.0 * parent_pos[..., 1] + s * dy + c * flip * dx
    return fine_pos, fine_xform


class MeldingSearch:
    """Similarity-field search state at one level: the valid pixels, source centres,
    active patches and options; the features are set per EM step."""

    def __init__(self, valid, src_ok, active, r, colours, grad, params):
        self.valid = np.ascontiguousarray(valid)
        self.coords = np.ascontiguousarray(np.argwhere(src_ok).astype(np.int64))
        self.active = np.ascontiguousarray(active)
        self.r = r
        self.colours = colours
        self.grad = grad
        self.params = params
        self.band_height = _band_height(active.shape[0])
        n_active = int(np.count_nonzero(active))
        self.parallel = _share(n_active)
        self.iterate_parallel = n_active >= _SERIAL_SEARCH_BELOW
        self.features = None

    def start(self, pos, xform, seed):
        """Distances, gains and biases of the field (``pos=None``: a random one of
        plain translations); invalid entries are redrawn."""
        shape = self.active.shape
        if pos is None:
            pos = np.full((*shape, 2), -1.0)
            xform = np.zeros((*shape, 3))
            xform[..., 1:] = 1.0
        dist = np.empty(shape)
        gains = np.ones((*shape, max(self.colours, 1)))
        biases = np.zeros((*shape, max(self.colours, 1)))
        run_strided(_k.field_evaluate, self.features, self.valid, self.r, self.colours,
                    self.grad, self.params, self.active, self.coords, pos, xform, dist, gains,
                    biases, seed, parallel=self.parallel)
        return pos, xform, dist, gains, biases

    def iterate(self, pos, xform, dist, iterations, seed):
        for it in range(iterations):
            snap_pos = pos.copy()
            snap_xform = xform.copy()
            with threads(self.iterate_parallel):
                _k.field_iterate(self.features, self.valid, self.r, self.colours, self.grad,
                                 self.params, self.active, pos, xform, dist, snap_pos,
                                 snap_xform, it, seed, self.band_height,
                                 numba.get_num_threads())

    def vote(self, field, weight, best, hole, diff_mask, n_out, out, diffs):
        pos, xform, _, gains, biases = field
        run_strided(_k.vote, self.features, pos, xform, gains, biases, weight, best, self.active,
                    hole, diff_mask, self.r, self.colours, n_out, out, diffs,
                    parallel=self.parallel)


def _diff_mask(hole: np.ndarray) -> np.ndarray:
    """Pixels whose forward difference (down or right) touches the hole."""
    mask = hole.copy()
    mask[:-1] |= hole[1:]
    mask[:, :-1] |= hole[:, 1:]
    return mask


def _poisson_vote(estimate, hole, colour, diffs, colours, screening, out):
    """Colour channels of ``out`` at hole pixels: the fill whose forward differences
    best match ``diffs`` (and, with ``screening`` s > 0, whose values stay near the
    voted ``colour``: the screened Poisson reconstruction), joined to the known
    pixels of ``estimate``."""
    solved = np.array(estimate[:, :, :colours], dtype=np.float64)
    anchor = np.ascontiguousarray(colour[:, :, :colours], dtype=np.float64)
    with _progress.reporting(None):  # the solver's own progress is not ours
        poisson_fill(solved, hole, divergence_source(diffs, colours), start=anchor,
                     screening=screening, anchor=anchor if screening > 0 else None)
    out[hole, :colours] = solved[hole]


def fill_melding(prep, hole, exclude, *, patch_size, iterations, nnf_iterations, texture_weight,
                 coarse_fill, final_vote, transforms, gain_bias, gradient_weight, seed):
    """The completion of :func:`.patchmatch.inpaint_patchmatch` with the melding
    options (validated by the caller); returns the finished image."""
    r = patch_size // 2
    colours = prep.data.shape[2]
    lab = gain_bias
    data = _to_lab(prep.data) if lab else np.array(prep.data, dtype=np.float64)
    texture = texture_weight * _texture_features(prep.data, ~hole, _TEXTURE_WINDOW)
    augmented = np.ascontiguousarray(np.concatenate([data, texture], axis=2), dtype=np.float32)
    augmented[hole] = 0.0
    levels = _build_pyramid(augmented, hole, exclude, patch_size)
    n_levels = len(levels)
    params = _params(transforms, gain_bias)
    n_out = augmented.shape[2]
    grad = n_out if gradient_weight > 0 else -1
    grad_scale = np.sqrt(gradient_weight)

    def features_of(values):
        if grad < 0:
            return np.ascontiguousarray(values, dtype=np.float64)
        grads = grad_scale * luminance_gradients(values, colours, lab)
        return np.ascontiguousarray(np.concatenate([values, grads], axis=2), dtype=np.float64)

    estimate = None
    pos = xform = None
    for depth in range(n_levels - 1, -1, -1):
        values, level_hole, level_exclude = levels[depth]
        values = values.astype(np.float64)
        known = ~level_hole
        valid = known & ~level_exclude
        src_ok = _source_ok(valid, r)
        active = np.ascontiguousarray(ndimage.binary_dilation(
            level_hole, structure=np.ones((patch_size, patch_size), bool)))
        confidence = np.ascontiguousarray(_GAMMA ** -_hole_depth(level_hole))
        diff_mask = _diff_mask(level_hole)
        screened = gradient_weight > 0 and depth < _POISSON_LEVELS
        search = MeldingSearch(valid, src_ok, active, r, colours, grad, params)
        no_diffs = np.zeros((1, 1, 2 * colours))
        empty = np.zeros(level_hole.shape, dtype=bool)
        if pos is None and coarse_fill == "patch":
            estimate = _patch_onion_fill(values.astype(np.float32), known, src_ok, r,
                                         _derive_seed(seed, depth, 77)).astype(np.float64)
        elif pos is None:
            estimate = np.array(_initial_fill(values, known), dtype=np.float64)
        else:
            pos, xform = _upsample_field(pos, xform, level_hole.shape)
            upsampled = np.ascontiguousarray(np.where(
                known[:, :, None], values, _upsample_image(estimate, known.shape)))
            search.features = features_of(upsampled)
            field = search.start(pos, xform, _derive_seed(seed, depth, 99))
            estimate = upsampled.copy()
            search.vote(field, _vote_weights(field[2], active, confidence), False, level_hole,
                        empty, n_out, estimate, no_diffs)
        n_em = iterations + depth
        if pos is None:
            n_em *= 4
        spare = estimate.copy()
        for em in range(n_em):
            search.features = features_of(estimate)
            pos, xform, dist, gains, biases = search.start(pos, xform,
                                                           _derive_seed(seed, depth, em, 0))
            search.iterate(pos, xform, dist, nnf_iterations + depth,
                           _derive_seed(seed, depth, em, 1))
            # The iteration tracks distances only: gains and biases of the final field.
            field = search.start(pos, xform, 0)
            final = depth == 0 and em == n_em - 1
            filled = spare
            best = final and final_vote == "best"
            if best or screened:
                diffs = np.zeros((*level_hole.shape, 2 * colours))
                weights = (field[2] if best else
                           _vote_weights(field[2], active,
                                         np.ones(dist.shape) if final else confidence))
                search.vote(field, weights, best, level_hole, diff_mask, n_out, filled, diffs)
                # The best vote joins the copied differences to the border (a plain
                # Poisson solve, as patchmatch's own); the screened vote keeps the fill
                # near the voted colours too, with weight 1 / gradient_weight.
                _poisson_vote(estimate, level_hole, filled, diffs, colours,
                              0.0 if best else 1.0 / gradient_weight, filled)
            else:
                weights = _vote_weights(field[2], active,
                                        np.ones(dist.shape) if final else confidence)
                search.vote(field, weights, False, level_hole, empty, n_out, filled, no_diffs)
            spare, estimate = estimate, filled
        _progress.report("patchmatch", n_levels - depth, n_levels)
    result = estimate[:, :, :colours]
    return prep.finish(_from_lab(result) if lab else result)
