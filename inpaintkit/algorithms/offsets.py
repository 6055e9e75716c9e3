"""Offset-statistics completion (He and Sun 2012): fill the hole with shifted copies of
the image, one of its dominant self-similarity offsets per pixel, chosen by graph cuts.

The offsets come from :func:`~inpaintkit.algorithms.patchmatch.patchmatch_nnf` (with a
minimum offset); the alpha-expansion moves are binary max-flow problems solved by
PyMaxflow (Boykov and Kolmogorov's algorithm); the terms of each move are built by the
Numba kernels of :mod:`._offsets_kernels`; the final gradient-domain blend is
PatchMatch's gradient vote (a Poisson solve of
:func:`~inpaintkit.algorithms.diffusion.poisson_fill` on the hole's bounding box).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import ndimage

from .. import _progress
from .._image import check_has_hole, prepare
from . import _offsets_kernels as _k
from .diffusion import harmonic_fill
from .patchmatch import _source_ok, _vote_from_sources, inpaint_patchmatch, patchmatch_nnf

__all__ = ["inpaint_offsets", "dominant_offsets"]

#: Sigma (in offset-histogram bins) of the Gaussian that smooths the offset histogram
#: before its peaks are taken (He and Sun 2012, sec. 3).
HISTOGRAM_SIGMA = math.sqrt(2.0)
#: The default minimum offset is the working image's larger side over this (the paper's
#: tau = max(H, W) / 15): shorter offsets copy the hole's own surroundings into it.
MIN_OFFSET_DIVISOR = 15.0
#: Cost of a smoothness sample that falls on an unknown pixel or outside the image, per
#: colour channel: the largest squared difference two samples in [0, 1] can have.
PENALTY_PER_CHANNEL = 1.0
#: At full scale, hole pixels within this many pixels (plus half the scale factor) of a
#: seam between two offsets, or of the hole border, are relabelled.
SEAM_MARGIN = 1
#: PatchMatch iterations of the statistics inside :func:`inpaint_offsets`: the histogram
#: needs the common offsets, not every patch's exact best match.
STATISTICS_ITERATIONS = 2
#: Expansion cycles of the full-scale seam refinement.
REFINE_CYCLES = 2
#: Rounds of labelling with the filled pixels counted as known, for hole pixels that no
#: dominant offset reaches at first (deep inside holes wider than every offset).
MAX_ROUNDS = 6
#: Pixels sampled, at most, to score each candidate offset when offsets found at the
#: working scale are refined to full scale.
REFINE_SAMPLES = 20000


def _import_maxflow():
    try:
        import maxflow
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "method 'offsets' needs PyMaxflow for its graph cuts, which is not installed; "
            "install it with pip install PyMaxflow (or reinstall inpaintkit)"
        ) from exc
    return maxflow


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def _check_options(n_offsets, patch_size, min_offset, work_size, cycles, blend, seed):
    _check_int(n_offsets, "n_offsets", 1)
    patch_size = _check_int(patch_size, "patch_size", 3)
    if patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd (the patch has a centre pixel), got {patch_size}")
    if min_offset is not None and (
            isinstance(min_offset, (bool, np.bool_)) or not isinstance(min_offset, numbers.Real)
            or not 0 <= min_offset < np.inf):
        raise ValueError(f"min_offset must be None or a finite number >= 0, got {min_offset!r}")
    _check_int(work_size, "work_size", 16)
    _check_int(cycles, "cycles", 1)
    if not isinstance(blend, (bool, np.bool_)):
        raise ValueError(f"blend must be True or False, got {blend!r}")
    _check_int(seed, "seed", 0)


# ----------------------------------------------------------------------- statistics


def _downsample(values: np.ndarray, known: np.ndarray):
    """Halve an image by 2x2 means of known pixels; a coarse pixel is known only if its
    whole block is (so a shifted copy never reads a pixel mixed with the hole)."""
    height, width = known.shape
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    pad = ((0, 2 * h2 - height), (0, 2 * w2 - width))
    weight = np.pad(known, pad).astype(np.float64)
    padded = np.pad(values, (*pad, (0, 0)))
    padded *= weight[:, :, None]  # in place: one image-sized copy, not two
    sums = padded.reshape(h2, 2, w2, 2, -1).sum(axis=(1, 3))
    counts = weight.reshape(h2, 2, w2, 2).sum(axis=(1, 3))
    coarse = sums / np.maximum(counts, 1.0)[:, :, None]
    return np.ascontiguousarray(coarse), np.ascontiguousarray(counts == 4.0)


def dominant_offsets(image, known=None, *, n_offsets=60, patch_size=7, min_offset=None,
                     iterations=3, search_samples=3, seed=0):
    """The dominant offsets of the image's self-similarity (He and Sun 2012, sec. 3).

    Every fully known ``patch_size`` patch is matched to its most similar fully known
    patch at least ``min_offset`` pixels away (PatchMatch); the offsets of the matches
    are counted in a 2-D histogram, smoothed by a Gaussian (sigma sqrt 2) and its
    highest local maxima (8-neighbourhood) are returned, at most ``n_offsets``: fewer
    where fewer peaks exist.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Float image (any range) or unsigned integers.
    known : ndarray of bool, shape (H, W), optional
        True where pixels are known (default: all).
    n_offsets : int, default 60
        K, the most offsets returned.
    patch_size : int, default 7
        Odd patch side (the paper's patches are 8x8 at its working scale).
    min_offset : float, optional
        tau: matches closer than this are not counted; default ``max(H, W) / 15``.
    iterations : int, default 3
        PatchMatch iterations.
    search_samples : int, default 3
        PatchMatch random-search candidates per radius.
    seed : int, default 0

    Returns
    -------
    offsets : ndarray of int64, shape (K', 2)
        (row, col) offsets, the highest peak first; K' <= ``n_offsets``.
    heights : ndarray of float64, shape (K',)
        The smoothed histogram at each peak (matches per bin).

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:96, :96]
    >>> stripes = 0.5 + 0.5 * np.sin(2 * np.pi * xx / 11.0)
    >>> offsets, heights = dominant_offsets(stripes, n_offsets=4)
    >>> bool(np.all(offsets[:, 1] % 11 == 0))
    True
    """
    values = np.asarray(image)
    height, width = values.shape[:2]
    if known is None:
        known = np.ones((height, width), bool)
    known = np.ascontiguousarray(known, dtype=bool)
    n_offsets = _check_int(n_offsets, "n_offsets", 1)
    if min_offset is None:
        min_offset = max(height, width) / MIN_OFFSET_DIVISOR
    r = patch_size // 2
    centres = _source_ok(known, r)
    if not centres.any():
        return np.zeros((0, 2), np.int64), np.zeros(0)
    nnf, dist = patchmatch_nnf(values, values, patch_size=patch_size, iterations=iterations,
                               seed=seed, source_valid=known, target_valid=known,
                               min_offset=min_offset, search_samples=search_samples)
    counted = centres & np.isfinite(dist)
    ys, xs = np.nonzero(counted)
    dy = nnf[ys, xs, 0].astype(np.int64) - ys
    dx = nnf[ys, xs, 1].astype(np.int64) - xs
    histogram = np.zeros((2 * height - 1, 2 * width - 1))
    np.add.at(histogram, (dy + height - 1, dx + width - 1), 1.0)
    smooth = ndimage.gaussian_filter(histogram, HISTOGRAM_SIGMA, mode="constant", truncate=3.0)
    peak = (smooth == ndimage.maximum_filter(smooth, size=3, mode="constant")) & (smooth > 1e-9)
    py, px = np.nonzero(peak)
    oy, ox = py - (height - 1), px - (width - 1)
    far = oy * oy + ox * ox >= min_offset * min_offset
    oy, ox, heights = oy[far], ox[far], smooth[py[far], px[far]]
    order = np.lexsort((ox, oy, -heights))[:n_offsets]
    offsets = np.stack([oy[order], ox[order]], axis=1).astype(np.int64)
    return offsets, heights[order]


def _refine_offsets(levels, offsets: np.ndarray) -> np.ndarray:
    """Carry offsets found at the coarsest of ``levels`` (finest first) down to full
    scale: at each finer level an offset doubles and takes the best of the 3x3 shifts
    around it (mean squared difference of the known pixels it maps onto known ones)."""
    for values, known in reversed(levels[:-1]):
        stride = max(1, int(math.sqrt(known.size / REFINE_SAMPLES)))
        refined = []
        for oy, ox in offsets:
            best, best_error = (2 * oy, 2 * ox), np.inf
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    sy, sx = 2 * oy + dy, 2 * ox + dx
                    if sy == 0 and sx == 0:
                        continue
                    error, count = _k.offset_error(values, known, sy, sx, stride)
                    if count > 0 and error < best_error:
                        best, best_error = (sy, sx), error
            refined.append(best)
        offsets = np.array(refined, dtype=np.int64).reshape(-1, 2)
    # Keep the first of equal offsets (the higher peak).
    _, first = np.unique(offsets, axis=0, return_index=True)
    return offsets[np.sort(first)]


# ------------------------------------------------------------------------- labelling


class _Labelling:
    """The multi-label problem over the hole pixels of one image at one scale."""

    def __init__(self, values, known, hole, offsets):
        self.values = np.ascontiguousarray(values, dtype=np.float64)
        self.known = np.ascontiguousarray(known)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        hole_y, hole_x = np.nonzero(hole)
        self.hole_y = hole_y.astype(np.int64)
        self.hole_x = hole_x.astype(np.int64)
        self.penalty = PENALTY_PER_CHANNEL * values.shape[2]
        self._buffers(hole_y.size)

    def _buffers(self, n: int) -> None:
        self.node_of = np.full(self.known.shape, -1, np.int32)
        self.node_y = np.empty(n, np.int64)
        self.node_x = np.empty(n, np.int64)
        self.cost_keep = np.empty(n)
        self.cost_switch = np.empty(n)
        self.edge_i = np.empty(2 * n, np.int64)
        self.edge_j = np.empty(2 * n, np.int64)
        self.edge_keep = np.empty(2 * n)
        self.edge_p_switch = np.empty(2 * n)
        self.edge_q_switch = np.empty(2 * n)

    def valid(self, label: int) -> np.ndarray:
        """(H, W) bool: pixels whose sample under ``label`` is inside and known."""
        dy, dx = self.offsets[label]
        height, width = self.known.shape
        out = np.zeros((height, width), bool)
        ys = slice(max(0, -dy), min(height, height - dy))
        xs = slice(max(0, -dx), min(width, width - dx))
        yt = slice(ys.start + dy, ys.stop + dy)
        xt = slice(xs.start + dx, xs.stop + dx)
        out[ys, xs] = self.known[yt, xt]
        return out

    def initial(self, hole: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Labels (H, W) int32: known pixels IDENTITY; hole pixels keep a valid given
        label, else take the highest-ranked valid offset, else UNRESOLVED."""
        out = np.full(hole.shape, _k.IDENTITY, np.int32)
        out[hole] = _k.UNRESOLVED
        if labels is not None:
            out[hole] = labels[hole]
        todo = hole.copy()
        if labels is not None:
            for label in np.unique(labels[hole]):
                if label >= 0:
                    todo &= ~((labels == label) & self.valid(label))
        for label in range(len(self.offsets)):
            if not todo.any():
                break
            take = todo & self.valid(label)
            out[take] = label
            todo &= ~take
        out[todo] = _k.UNRESOLVED
        return out

    def energy(self, labels: np.ndarray) -> float:
        return _k.labelling_energy(self.values, self.known, labels, self.offsets, self.hole_y,
                                   self.hole_x, self.penalty)

    def expand(self, labels, free, *, cycles, alphas=None, energies=None) -> float:
        """Alpha-expansion (Boykov, Veksler and Zabih 2001) over the ``free`` hole
        pixels, labels ``alphas`` (default all, in rank order), until a cycle lowers the
        energy by less than 0.1 % or after ``cycles``.

        Each move is a binary max-flow problem. Terms that are not submodular (the
        smoothness is not a metric) are truncated, so a cut can in rare cases raise
        the true energy: such moves are undone, and the energy never increases.
        ``labels`` is updated in place; returns the final energy (and appends the
        energy after each move to ``energies``).
        """
        maxflow = _import_maxflow()
        free = np.ascontiguousarray(free)
        free_y, free_x = np.nonzero(free)
        free_y = free_y.astype(np.int64)
        free_x = free_x.astype(np.int64)
        energy = self.energy(labels)
        if alphas is None:
            alphas = range(len(self.offsets))
        for _ in range(cycles):
            start = energy
            for alpha in alphas:
                n_nodes, n_edges = _k.expansion_terms(
                    self.values, self.known, labels, free, self.offsets, int(alpha),
                    self.penalty, free_y, free_x, self.node_of, self.node_y, self.node_x,
                    self.cost_keep, self.cost_switch, self.edge_i, self.edge_j,
                    self.edge_keep, self.edge_p_switch, self.edge_q_switch)
                if n_nodes == 0:
                    continue
                i = self.edge_i[:n_edges]
                j = self.edge_j[:n_edges]
                keep = self.edge_keep[:n_edges]
                p_switch = self.edge_p_switch[:n_edges]
                q_switch = self.edge_q_switch[:n_edges]
                # E(x_p, x_q) = A + (C - A) x_p - C x_q + (B + C - A) (1 - x_p) x_q with
                # A = V(a_p, a_q), B = V(a_p, alpha), C = V(alpha, a_q), V(alpha, alpha) = 0
                # (Kolmogorov and Zabih 2004); x = 1 switches to alpha.
                unary = self.cost_switch[:n_nodes] - self.cost_keep[:n_nodes]
                linear = unary.copy()
                linear += np.bincount(i, p_switch - keep, minlength=n_nodes)
                linear -= np.bincount(j, p_switch, minlength=n_nodes)
                graph = maxflow.Graph[float](n_nodes, n_edges)
                nodes = graph.add_nodes(n_nodes)
                if n_edges:
                    graph.add_edges(i, j, np.maximum(q_switch + p_switch - keep, 0.0),
                                    np.zeros(n_edges))
                graph.add_grid_tedges(nodes, np.maximum(linear, 0.0), np.maximum(-linear, 0.0))
                graph.maxflow()
                switch = graph.get_grid_segments(nodes)
                if not switch.any():
                    continue
                # The move's true energy change (the untruncated terms); pixels that
                # are not nodes keep their labels and their other edges.
                switch_i, switch_j = switch[i], switch[j]
                pair = np.where(switch_i, np.where(switch_j, 0.0, p_switch),
                                np.where(switch_j, q_switch, keep))
                delta = (float(unary[switch].sum())
                         + float((pair - keep).sum()))
                if delta < -1e-12 * max(1.0, energy):
                    labels[self.node_y[:n_nodes][switch], self.node_x[:n_nodes][switch]] = alpha
                    energy += delta
                if energies is not None:
                    energies.append(energy)
            if energy >= start * (1.0 - 1e-3):
                break
        return energy


def _seam_band(labels: np.ndarray, hole: np.ndarray, radius: int) -> np.ndarray:
    """Hole pixels within ``radius`` of a change of label (the hole border included)."""
    change = np.zeros(hole.shape, bool)
    vertical = labels[1:] != labels[:-1]
    horizontal = labels[:, 1:] != labels[:, :-1]
    change[1:] |= vertical
    change[:-1] |= vertical
    change[:, 1:] |= horizontal
    change[:, :-1] |= horizontal
    change &= hole
    band = ndimage.binary_dilation(change, structure=np.ones((3, 3), bool), iterations=radius)
    return band & hole


def _label_hole(levels, hole_levels, offsets_levels, *, cycles, energies=None):
    """Labels (H, W) int32 of the finest level: alpha-expansion at the coarsest level
    of ``levels`` (finest first), then at full scale near seams only."""
    factor = 2 ** (len(levels) - 1)
    values, known = levels[-1]
    coarse_hole = hole_levels[-1]
    problem = _Labelling(values, known, coarse_hole, offsets_levels[-1])
    labels = problem.initial(coarse_hole)
    problem.expand(labels, coarse_hole, cycles=cycles, energies=energies)
    if factor == 1:
        return labels
    values, known = levels[0]
    hole = hole_levels[0]
    height, width = hole.shape
    rows = np.minimum(np.arange(height) // factor, labels.shape[0] - 1)
    cols = np.minimum(np.arange(width) // factor, labels.shape[1] - 1)
    upsampled = labels[rows[:, None], cols[None, :]]
    fine = _Labelling(values, known, hole, offsets_levels[0])
    fine_labels = fine.initial(hole, np.where(hole, upsampled, _k.IDENTITY).astype(np.int32))
    changed = hole & (fine_labels != upsampled)
    band = _seam_band(fine_labels, hole, factor // 2 + SEAM_MARGIN)
    band |= ndimage.binary_dilation(changed, structure=np.ones((3, 3), bool),
                                    iterations=factor) & hole
    used = np.unique(fine_labels[band])
    fine.expand(fine_labels, band, cycles=REFINE_CYCLES, alphas=used[used >= 0])
    return fine_labels


def inpaint_offsets(image, mask, *, n_offsets=60, patch_size=9, min_offset=None,
                    work_size=256, cycles=3, blend=True, seed=0):
    """Fill the hole with shifted copies of the image (He and Sun 2012).

    Man-made and textured scenes repeat themselves at a few offsets (a brick's width,
    a window's spacing). Every fully known patch is matched to its most similar patch
    at least ``min_offset`` pixels away; the histogram of the match offsets has a few
    sharp peaks, and the ``n_offsets`` highest are the labels. Every hole pixel is then
    copied from the image at one of these offsets, chosen by multi-label graph cuts
    (alpha-expansion): the shifted pixel must be known (data term), and neighbours
    whose two shifted copies disagree pay the difference (He and Sun's eq. 3). The
    problem is solved on the image halved until its larger side is at most
    ``work_size``, then refined at full scale near the seams between offsets; a Poisson
    solve over the hole blends the copies in the gradient domain.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (alpha is carried through); uint8, uint16, float32 or float64
        (floats in [0, 1]).
    mask : ndarray, shape (H, W), bool or integer
        Non-zero / True marks the hole.
    n_offsets : int, default 60
        K, the most dominant offsets used as labels (the paper's 60); fewer where the
        histogram has fewer peaks.
    patch_size : int, default 9
        Odd side of the patches matched for the statistics, at the working scale (the
        paper uses 8x8; 9 scored 0.7 dB above 7 on the benchmark's regular scenes).
    min_offset : float, optional
        tau, the shortest offset counted, in working-scale pixels; default the working
        image's larger side over 15, as in the paper.
    work_size : int, default 256
        The image is halved until its larger side is at most this (>= 16) for the
        statistics and the labelling; the offsets and the labels near seams are then
        refined at full scale.
    cycles : int, default 3
        Most alpha-expansion cycles (each tries every label once) at the working scale.
    blend : bool, default True
        Blend the copies in the gradient domain (Poisson): seams between offsets
        of different brightness disappear. False keeps the plain copies.
    seed : int, default 0
        Seed of the PatchMatch search; the same seed gives the same result.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole unchanged.

    Raises
    ------
    ValueError
        For invalid options, images or masks.
    ImportError
        If PyMaxflow is not installed.

    Notes
    -----
    Hole pixels that no dominant offset reaches (deep inside a hole wider than every
    offset) are labelled in further rounds in which the filled pixels count as known;
    any left after that are filled by :func:`inpaint_patchmatch`. Alpha-expansion
    moves whose true energy would rise (non-submodular terms are truncated) are
    undone, so the energy never increases.

    References
    ----------
    K. He and J. Sun, "Statistics of patch offsets for image completion", ECCV 2012,
    doi:10.1007/978-3-642-33709-3_2.
    Y. Boykov, O. Veksler, R. Zabih, "Fast approximate energy minimization via graph
    cuts", IEEE TPAMI 23(11), 2001, doi:10.1109/34.969114.
    Y. Boykov, V. Kolmogorov, "An experimental comparison of min-cut/max-flow
    algorithms for energy minimization in vision", IEEE TPAMI 26(9), 2004,
    doi:10.1109/TPAMI.2004.60.

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit.algorithms.offsets import inpaint_offsets
    >>> yy, xx = np.mgrid[:96, :96]
    >>> bricks = ((yy % 12 < 2) | ((xx + 8 * (yy // 12 % 2)) % 16 < 2)).astype(float)
    >>> mask = np.zeros((96, 96), bool); mask[40:60, 30:60] = True
    >>> out = inpaint_offsets(bricks, mask)
    >>> float(np.abs(out - bricks).max()) < 1e-6
    True
    """
    prep = prepare(image, mask)
    if not check_has_hole(prep):
        return np.array(image, copy=True)
    _check_options(n_offsets, patch_size, min_offset, work_size, cycles, blend, seed)
    _import_maxflow()
    hole = prep.mask
    values = prep.data
    height, width, channels = values.shape

    levels = [(values, ~hole)]
    while max(levels[-1][1].shape) > work_size:
        levels.append(_downsample(*levels[-1]))
    work_values, work_known = levels[-1]
    _progress.report("offsets", 0, 4)
    offsets = np.zeros((0, 2), np.int64)
    for size in sorted({min(patch_size, _odd_below(min(work_known.shape))), 5, 3},
                       reverse=True):
        if len(offsets) == 0 and size <= patch_size:
            # A smaller patch where the hole leaves no fully known one of the asked size.
            offsets, _ = dominant_offsets(work_values, work_known, n_offsets=n_offsets,
                                          patch_size=size, min_offset=min_offset,
                                          iterations=STATISTICS_ITERATIONS,
                                          search_samples=1, seed=seed)
    if len(offsets):
        full_offsets = _refine_offsets(levels, offsets)
    else:
        full_offsets = offsets
    _progress.report("offsets", 1, 4)

    filled = values.copy()
    known_now = ~hole
    todo = hole.copy()
    # Each pixel's source pixel: itself until a label copies another into it.
    sources = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij"), axis=2)
    for _ in range(MAX_ROUNDS if len(full_offsets) else 0):
        round_levels = [(filled, known_now)]
        hole_levels = [todo]
        for _level in range(len(levels) - 1):
            coarse_values, coarse_known = _downsample(*round_levels[-1])
            round_levels.append((coarse_values, coarse_known))
            hole_levels.append(~coarse_known & _downsample_any(hole_levels[-1]))
        scaled = [np.rint(full_offsets / 2 ** level).astype(np.int64)
                  for level in range(len(levels))]
        labels = _label_hole(round_levels, hole_levels, scaled, cycles=cycles)
        done = todo & (labels >= 0)
        if not done.any():
            break
        ys, xs = np.nonzero(done)
        shift = full_offsets[labels[ys, xs]]
        sy, sx = ys + shift[:, 0], xs + shift[:, 1]
        sources[ys, xs] = sources[sy, sx]  # a filled source passes on its own source
        filled[ys, xs] = filled[sy, sx]
        known_now = known_now | done
        todo &= ~done
        if not todo.any():
            break
    _progress.report("offsets", 2, 4)
    if todo.any():
        filled[todo] = _fill_rest(filled, todo, seed)
    _progress.report("offsets", 3, 4)
    if blend:
        # patchmatch's gradient-domain vote, on the hole's bounding box: the copies'
        # differences inside their sources, integrated from the known border (the
        # plain copies, already in ``filled``, are where its solver starts).
        _vote_from_sources(filled, hole, sources, channels, filled)
        np.clip(filled, 0.0, 1.0, out=filled)
    _progress.report("offsets", 4, 4)
    return prep.finish(filled)


def _fill_rest(filled: np.ndarray, todo: np.ndarray, seed: int) -> np.ndarray:
    """Values for the hole pixels no offset reached: PatchMatch completion with the
    largest patch (7, 5 or 3) that still has a fully known source, else the harmonic
    fill (a frame of known pixels thinner than any patch)."""
    for patch_size in (7, 5, 3):
        if min(todo.shape) >= patch_size and _source_ok(~todo, patch_size // 2).any():
            with _progress.reporting(None):
                rest = inpaint_patchmatch(filled, todo, patch_size=patch_size, seed=seed)
            return rest[todo]
    with _progress.reporting(None):
        return harmonic_fill(filled.copy(), todo)[todo]


def _odd_below(side: int) -> int:
    """The largest odd patch side that fits ``side`` (at least 3)."""
    return max(3, side if side % 2 else side - 1)


def _downsample_any(hole: np.ndarray) -> np.ndarray:
    """Halve a mask: a coarse pixel is set if any pixel of its 2x2 block is."""
    height, width = hole.shape
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    padded = np.pad(hole, ((0, 2 * h2 - height), (0, 2 * w2 - width)))
    return padded.reshape(h2, 2, w2, 2).any(axis=(1, 3))
