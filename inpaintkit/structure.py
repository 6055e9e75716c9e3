"""Planar structure of a scene: vanishing points, planes and their translational regularity.

The analysis half of Huang, Kang, Ahuja and Kopf's planar structure guidance (2014):
:func:`vanishing_points` clusters OpenCV LSD line segments into up to three
vanishing points, :func:`detect_planes` makes one plane per pair of them (plus a
fronto-parallel plane) with a soft per-pixel posterior, and :func:`plane_regularity`
finds each plane's repeating displacements by SIFT self-matching in its
affine-rectified frame. :mod:`inpaintkit.algorithms.planar` uses all three.

Coordinates: points and vanishing points are in image pixels, ``(x, y)`` = (column,
row), homogeneous ``(x, y, w)``; segments are ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import cv2
import numpy as np

from ._image import check_image, check_mask, to_float

__all__ = ["VanishingPoint", "Plane", "Planes", "vanishing_points", "detect_planes",
           "plane_regularity", "rectify_points", "render_planes"]

#: A segment supports a vanishing point when the angle between it and the line from
#: its midpoint to the point is below this (degrees).
_INLIER_ANGLE = 1.5
#: Random segment pairs drawn per vanishing point.
_HYPOTHESES = 600
#: A vanishing point needs this many supporting segments.
_MIN_SUPPORT = 8
#: Two vanishing points closer than this in direction from the image centre (degrees,
#: on the Gaussian sphere of focal length ``max(H, W)``) are the same point.
_MIN_SEPARATION = 10.0
#: A vanishing point weaker than this fraction of the strongest (total segment
#: length) is dropped: a few stray segments agreeing by chance.
_MIN_RELATIVE_SCORE = 0.15
#: Regularity vectors kept per plane (the strongest clusters).
_MAX_REGULARITY = 12
#: Density of the fronto-parallel plane (the release's fpPlaneProb) and the constant
#: added to every posterior inside and outside the hole (probConst).
_FRONTO_DENSITY = 1e-5
_POSTERIOR_FLOOR = 0.05
#: Side of the grid on which the plane posterior is computed (then resized).
_POSTERIOR_GRID = 256
#: A plane's posterior is zero where the rectifying denominator w(p) is below this
#: (at or beyond the plane's vanishing line, where the plane cannot be).
_MIN_DEPTH_SCALE = 0.05
#: A vanishing-point pair gives a plane on each side of its vanishing line when the
#: lighter side holds at least this fraction of the heavier side's density.
_SECOND_SIDE = 0.25


@dataclass(frozen=True)
class VanishingPoint:
    """One vanishing point.

    Attributes
    ----------
    point : ndarray, shape (3,)
        Homogeneous ``(x, y, w)`` in image pixels, unit norm; ``w`` near 0 for a
        point at infinity (parallel lines in the image).
    segments : ndarray, shape (N, 4)
        The supporting LSD segments ``(x1, y1, x2, y2)``.
    score : float
        Total length in pixels of the supporting segments.
    """

    point: np.ndarray
    segments: np.ndarray
    score: float

    def direction_at(self, x: float, y: float) -> np.ndarray:
        """Unit image direction ``(dx, dy)`` from ``(x, y)`` towards the point."""
        vx, vy, vw = self.point
        d = np.array([vx - x * vw, vy - y * vw])
        return d / max(np.hypot(*d), 1e-300)


@dataclass(frozen=True)
class Plane:
    """One scene plane.

    Attributes
    ----------
    vps : tuple of int
        Indices of the two vanishing points spanning it; ``()`` for the
        fronto-parallel plane.
    line : ndarray, shape (3,)
        Its vanishing line ``(a, b, c)`` scaled so that ``a x + b y + c = 1`` at the
        plane's reference point (the posterior-weighted centroid); the
        fronto-parallel plane has ``(0, 0, 1)``.
    homography : ndarray, shape (3, 3)
        The affine rectification ``[[1, 0, 0], [0, 1, 0], line]`` (Liebowitz &
        Zisserman 1998): parallel lines of the plane become parallel, and scale is
        1 at the reference point.
    directions : ndarray, shape (K, 2)
        Unit directions ``(dx, dy)`` in the rectified frame of the plane's line
        families (K = 2; 0 for the fronto-parallel plane).
    """

    vps: tuple
    line: np.ndarray
    homography: np.ndarray
    directions: np.ndarray


@dataclass
class Planes:
    """The planar model of an image: what :func:`detect_planes` returns.

    Attributes
    ----------
    vanishing_points : list of VanishingPoint
    planes : list of Plane
        The fronto-parallel plane is last.
    posterior : ndarray, shape (H, W, P)
        Soft plane probability per pixel, summing to 1 over P.
    regularity : list of ndarray
        Per plane, its regularity vectors ``(dx, dy)`` in the rectified frame
        (shape (R, 2)); filled by :func:`plane_regularity` (empty until then).
    """

    vanishing_points: list
    planes: list
    posterior: np.ndarray
    regularity: list = field(default_factory=list)


# ----------------------------------------------------------------------- helpers


def _gray8(image) -> np.ndarray:
    """Any contract image -> uint8 gray for LSD and SIFT."""
    image = check_image(image)
    values = to_float(image)
    if values.ndim == 3:
        colour = values[:, :, :3] if values.shape[2] >= 3 else values[:, :, :1]
        values = colour.mean(axis=2)
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def _check_positive_int(value, name, low=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def _check_positive_float(value, name):
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _line_segments(gray: np.ndarray, ignore: np.ndarray | None, min_length: float) -> np.ndarray:
    """LSD segments (N, 4) at least ``min_length`` long that stay clear of ``ignore``."""
    detector = cv2.createLineSegmentDetector()
    found = detector.detect(gray)[0]
    if found is None:
        return np.zeros((0, 4))
    segments = found.reshape(-1, 4).astype(np.float64)
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    segments = segments[length >= min_length]
    if ignore is not None and ignore.any() and len(segments):
        # The hole's own border draws strong false segments: drop any that passes
        # within 3 px of it (sampled along the segment).
        near = cv2.dilate(ignore.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        t = np.linspace(0.0, 1.0, 16)
        xs = segments[:, None, 0] + t * (segments[:, None, 2] - segments[:, None, 0])
        ys = segments[:, None, 1] + t * (segments[:, None, 3] - segments[:, None, 1])
        h, w = near.shape
        xi = np.clip(np.rint(xs).astype(int), 0, w - 1)
        yi = np.clip(np.rint(ys).astype(int), 0, h - 1)
        segments = segments[~near[yi, xi].any(axis=1)]
    return _refit_segments(gray, segments)


def _refit_segments(gray: np.ndarray, segments: np.ndarray, trim: float = 0.2,
                    reach: float = 2.0, margin: float = 2.5) -> np.ndarray:
    """Segments re-fitted to sub-pixel edge points of their inner part.

    LSD's angle comes from the shape of its line-support region, which the
    junctions at a segment's ends skew (on a checkerboard every segment ends at a
    corner): a median bias of 0.4 degrees on the benchmark's perspective checker,
    enough to pull a far vanishing point by 3 degrees. Here each segment's inner
    ``1 - 2 trim`` is sampled every pixel; along the normal (+-``reach`` px) the
    gradient magnitude peak is located to sub-pixel by a parabola through
    its logarithm at samples 1 px apart (exact for a Gaussian profile), and a
    magnitude-weighted total-least-squares line through those edge points
    replaces the segment (its endpoints projected onto it). The samples keep at
    least ``margin`` px from the ends (a crossing edge's gradient reaches about
    that far). A segment keeps LSD's fit when it has fewer than 4 usable edge
    points, when the points scatter (RMS over 0.35 px from their line: another
    edge caught), or when the refit turns it by more than the angle of 1 px over
    its length (a short segment's edge points are too few to overrule LSD).
    """
    if not len(segments):
        return segments
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 0.7)
    magnitude = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3),
                         cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)).astype(np.float32)
    # Pixel-spaced: a parabola through bilinear samples at finer steps snaps to
    # pixel centres.
    step = 1.0
    offsets = np.arange(-reach, reach + 1e-9, step)
    start, end = segments[:, :2], segments[:, 2:]
    length = np.hypot(*(end - start).T)
    along = (end - start) / np.maximum(length, 1e-12)[:, None]
    normal = np.column_stack([-along[:, 1], along[:, 0]])
    # Inner part: from ``lo`` to ``1 - lo`` of the segment, every pixel.
    lo = np.minimum(0.45, np.maximum(trim, margin / np.maximum(length, 1e-12)))
    counts = np.maximum(2, ((1.0 - 2.0 * lo) * length).astype(int) + 1)
    owner = np.repeat(np.arange(len(segments)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(owner)) - first[owner]
    t = lo[owner] + (1.0 - 2.0 * lo[owner]) * rank / (counts[owner] - 1)
    points = start[owner] + t[:, None] * (end - start)[owner]
    probe = points[:, None, :] + offsets[None, :, None] * normal[owner][:, None, :]
    profile = cv2.remap(magnitude, probe[..., 0].astype(np.float32),
                        probe[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
    peak = profile.argmax(axis=1)
    usable = (peak > 0) & (peak < len(offsets) - 1)
    rows = np.flatnonzero(usable)
    peak = peak[usable]
    top = profile[rows, peak]
    # A parabola through the log magnitudes: exact for a Gaussian-blurred step edge.
    before, centre, after = (np.log(np.maximum(profile[rows, peak + k], 1e-6)) for k in (-1, 0, 1))
    curvature = before - 2.0 * centre + after
    sub = np.where(curvature < 0, 0.5 * (before - after) / np.where(curvature < 0, curvature, -1.0),
                   0.0)
    edge = points[rows] + ((offsets[peak] + sub * step)[:, None] * normal[owner[rows]])
    who = owner[rows]
    n = len(segments)
    weight = np.bincount(who, top, n)
    support = np.bincount(who, None, n)
    safe = np.maximum(weight, 1e-12)
    mx = np.bincount(who, top * edge[:, 0], n) / safe
    my = np.bincount(who, top * edge[:, 1], n) / safe
    dx, dy = edge[:, 0] - mx[who], edge[:, 1] - my[who]
    sxx = np.bincount(who, top * dx * dx, n)
    syy = np.bincount(who, top * dy * dy, n)
    sxy = np.bincount(who, top * dx * dy, n)
    # Principal direction of the 2x2 scatter [[sxx, sxy], [sxy, syy]].
    angle = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
    direction = np.column_stack([np.cos(angle), np.sin(angle)])
    direction *= np.where((direction * along).sum(axis=1) < 0, -1.0, 1.0)[:, None]
    centre = np.column_stack([mx, my])
    refitted = segments.copy()
    for k in (0, 2):
        tt = ((segments[:, k:k + 2] - centre) * direction).sum(axis=1)
        refitted[:, k:k + 2] = centre + tt[:, None] * direction
    # Scatter across the line: the smaller eigenvalue of the scatter over the weight.
    across = 0.5 * (sxx + syy) - np.sqrt(0.25 * (sxx - syy) ** 2 + sxy ** 2)
    rms = np.sqrt(np.maximum(across, 0.0) / safe)
    turn = np.abs(np.arcsin(np.clip(direction[:, 0] * along[:, 1] - direction[:, 1] * along[:, 0],
                                    -1.0, 1.0)))
    good = ((support >= 4) & (weight > 0) & (rms <= 0.35)
            & (turn <= np.arctan2(1.0, np.maximum(length, 1e-12))))
    return np.where(good[:, None], refitted, segments)


def _consistency(segments_n: np.ndarray, points: np.ndarray) -> np.ndarray:
    """|sin| of the angle between each segment and the line from its midpoint to
    each point (rows: points (K, 3) homogeneous, normalised coordinates)."""
    mid = 0.5 * (segments_n[:, :2] + segments_n[:, 2:])
    direction = segments_n[:, 2:] - segments_n[:, :2]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # Vector from the midpoint to each point, in homogeneous form: v_xy - m * v_w.
    to_point = points[:, None, :2] - mid[None, :, :] * points[:, None, 2:3]
    norm = np.linalg.norm(to_point, axis=2)
    cross = to_point[..., 0] * direction[None, :, 1] - to_point[..., 1] * direction[None, :, 0]
    return np.abs(cross) / np.maximum(norm, 1e-12)


def _refine(lines: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Least-squares point closest to all ``lines`` (unit normals): the smallest
    eigenvector of sum w l l^T."""
    scatter = (lines * weights[:, None]).T @ lines
    _, vectors = np.linalg.eigh(scatter)
    point = vectors[:, 0]
    return point / np.linalg.norm(point)


def _sphere_direction(point_n: np.ndarray) -> np.ndarray:
    """Direction on the Gaussian sphere (focal length 1 in normalised units)."""
    d = np.array([point_n[0], point_n[1], point_n[2]])
    return d / np.linalg.norm(d)


# ------------------------------------------------------------------ vanishing points


def vanishing_points(image, *, mask=None, max_vps=3, min_length=None, seed=0):
    """Detect up to ``max_vps`` vanishing points from the image's line segments.

    Segments come from OpenCV's line segment detector (LSD, von Gioi et al. 2010),
    each re-fitted to the sub-pixel edge points of its inner part (LSD's angles are
    skewed by the junctions at segment ends). Vanishing points are found one at a
    time by RANSAC over segment pairs: the intersection of two random segments
    (drawn by length) is a hypothesis, scored by the total length of the segments
    pointing at it (angle below 1.5 degrees); the best is refined by weighted least
    squares on its supporting segments' lines, its support is removed, and the
    search repeats. Points at infinity (parallel
    image lines) are handled in homogeneous coordinates.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Gray, RGB or RGBA; uint8, uint16, float32 or float64.
    mask : ndarray, shape (H, W), optional
        Non-zero marks a hole: segments within 3 px of it are ignored (its border
        would otherwise count as scene lines).
    max_vps : int, default 3
        At most this many points (>= 1).
    min_length : float, optional
        Shortest segment used, in pixels; default 1.5 % of the image diagonal, at
        least 5.
    seed : int, default 0
        Seed of the RANSAC sampling.

    Returns
    -------
    list of VanishingPoint
        Strongest first; empty when fewer than 8 segments agree on any point.

    References
    ----------
    R. Grompone von Gioi et al., "LSD: a fast line segment detector with a false
    detection control", IEEE TPAMI 32(4), 2010, doi:10.1109/TPAMI.2008.300.
    J.-B. Huang, S. B. Kang, N. Ahuja, J. Kopf, "Image completion using planar
    structure guidance", ACM TOG 33(4), 2014, doi:10.1145/2601097.2601205.

    Examples
    --------
    >>> import numpy as np
    >>> from inpaintkit.structure import vanishing_points
    >>> image = np.zeros((128, 128))
    >>> for k in range(8):
    ...     image[8 + 14 * k: 12 + 14 * k, 10:118] = 1.0   # horizontal bars
    >>> vps = vanishing_points(image)
    >>> bool(abs(vps[0].point[2]) < 1e-3)   # a point at infinity, in direction x
    True
    """
    gray = _gray8(image)
    height, width = gray.shape
    max_vps = _check_positive_int(max_vps, "max_vps")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    diagonal = float(np.hypot(height, width))
    if min_length is None:
        min_length = max(5.0, 0.015 * diagonal)
    min_length = _check_positive_float(min_length, "min_length")
    hole = None if mask is None else check_mask(mask, (height, width))
    segments = _line_segments(gray, hole, min_length)
    if len(segments) < _MIN_SUPPORT:
        return []

    # Normalised coordinates (centre 0, scale 1 = the larger side) keep the
    # homogeneous algebra well conditioned.
    centre = np.array([width / 2.0, height / 2.0])
    scale = float(max(height, width))
    seg_n = np.concatenate([(segments[:, :2] - centre) / scale,
                            (segments[:, 2:] - centre) / scale], axis=1)
    p1 = np.column_stack([seg_n[:, :2], np.ones(len(seg_n))])
    p2 = np.column_stack([seg_n[:, 2:], np.ones(len(seg_n))])
    lines = np.cross(p1, p2)
    lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    threshold = np.sin(np.radians(_INLIER_ANGLE))

    rng = np.random.default_rng(seed)
    remaining = np.ones(len(segments), dtype=bool)
    found: list[VanishingPoint] = []
    directions: list[np.ndarray] = []
    while len(found) < max_vps and remaining.sum() >= _MIN_SUPPORT:
        index = np.flatnonzero(remaining)
        prob = lengths[index] / lengths[index].sum()
        first = rng.choice(index, size=_HYPOTHESES, p=prob)
        second = rng.choice(index, size=_HYPOTHESES, p=prob)
        keep = first != second
        hyps = np.cross(lines[first[keep]], lines[second[keep]])
        norms = np.linalg.norm(hyps, axis=1)
        hyps = hyps[norms > 1e-12] / norms[norms > 1e-12, None]
        if not len(hyps):
            break
        sines = _consistency(seg_n[index], hyps)
        scores = ((sines < threshold) * lengths[index][None, :]).sum(axis=1)
        point = hyps[int(np.argmax(scores))]
        # Refine on the support, re-collecting it with a tightening angle: loose
        # inliers (short, aliased segments) would pull the point off.
        for tighten in (1.0, 1.0, 0.66, 0.5, 0.5):
            close = _consistency(seg_n[index], point[None])[0] < threshold * tighten
            inliers = index[close]
            if len(inliers) < 2:
                break
            point = _refine(lines[inliers], lengths[inliers] ** 2)
        inliers = index[_consistency(seg_n[index], point[None])[0] < threshold]
        if len(inliers) < _MIN_SUPPORT:
            break
        remaining[inliers] = False
        direction = _sphere_direction(point)
        if any(np.degrees(np.arccos(min(1.0, abs(float(direction @ d))))) < _MIN_SEPARATION
               for d in directions):
            continue  # the same point again, from leftover segments
        directions.append(direction)
        # Back to pixel coordinates: x = scale * xn + cx (homogeneous).
        pixel = np.array([scale * point[0] + centre[0] * point[2],
                          scale * point[1] + centre[1] * point[2], point[2]])
        pixel /= np.linalg.norm(pixel)
        found.append(VanishingPoint(pixel, segments[inliers].copy(),
                                    float(lengths[inliers].sum())))
    found.sort(key=lambda vp: -vp.score)
    return [vp for vp in found if vp.score >= _MIN_RELATIVE_SCORE * found[0].score]


# ------------------------------------------------------------------------- planes


def rectify_points(plane: Plane, points) -> np.ndarray:
    """Map image points ``(N, 2)`` ``(x, y)`` into ``plane``'s rectified frame."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = points @ plane.line[:2] + plane.line[2]
    return points / w[:, None]


def _segment_density(segments: np.ndarray, shape, sigma: float) -> np.ndarray:
    """Gaussian-blurred image of the segments (their spatial support)."""
    canvas = np.zeros(shape, dtype=np.float32)
    for x1, y1, x2, y2 in segments:
        cv2.line(canvas, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))),
                 1.0, 1, cv2.LINE_AA)
    blurred = cv2.GaussianBlur(canvas, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return blurred.astype(np.float64)


def _make_plane(vps, pair, reference, shape) -> Plane:
    """Plane through two vanishing points, its line scaled to 1 at ``reference``."""
    line = np.cross(vps[pair[0]].point, vps[pair[1]].point)
    w_ref = line[0] * reference[0] + line[1] * reference[1] + line[2]
    if abs(w_ref) < 1e-12 * max(np.abs(line).max(), 1e-300):
        line = np.array([0.0, 0.0, 1.0])
    else:
        line = line / w_ref
    homography = np.eye(3)
    homography[2] = line
    directions = []
    for k in pair:
        v = vps[k].point
        # A vanishing point on the vanishing line maps to a point at infinity: the
        # rectified direction of its line family is its (x, y).
        d = np.array(v[:2], dtype=np.float64)
        directions.append(d / max(np.hypot(*d), 1e-300))
    return Plane(tuple(pair), line, homography, np.array(directions))


def detect_planes(image, mask=None, *, vanishing=None, max_vps=3, density_sigma=None,
                  split=False, seed=0):
    """Planes from vanishing-point pairs, with a soft per-pixel posterior.

    Each pair of vanishing points spans a plane whose vanishing line is their cross
    product; a fronto-parallel plane is always added. As in Huang et al. (2014), the
    spatial support of each vanishing point is the Gaussian-blurred image of its
    segments, a plane's density is the product of its two points' supports, the
    fronto-parallel plane has a small constant density (1e-5), and the posterior is
    their normalised ratio. A plane cannot lie at or beyond its own vanishing line:
    its density is zero there. Inside the hole the posterior is continued from the
    known pixels by a Laplace (harmonic) fill, renormalised, and regularised by
    adding 0.05 to every plane and renormalising.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    mask : ndarray, shape (H, W), optional
        Non-zero marks the hole (its segments are ignored; its posterior is filled).
    vanishing : list of VanishingPoint, optional
        Points from :func:`vanishing_points`; detected if omitted.
    max_vps : int, default 3
        Passed to :func:`vanishing_points` when detecting.
    density_sigma : float, optional
        Blur (pixels) of the segment supports; default 15 % of the larger side.
    split : bool, default False
        Experimental (off: it is not yet validated on the benchmark): a pair whose
        density lies on both sides of its vanishing line (the lighter side holding at
        least a quarter of the heavier side's) gives a plane on each side, e.g. the
        two walls of a corridor, which share their vanishing line; otherwise the
        plane lives on the side holding the density centroid only.
    seed : int, default 0

    Returns
    -------
    Planes
        With an empty ``regularity`` list (see :func:`plane_regularity`).
    """
    image = check_image(image)
    shape = image.shape[:2]
    hole = np.zeros(shape, bool) if mask is None else check_mask(mask, shape)
    if vanishing is None:
        vanishing = vanishing_points(image, mask=hole, max_vps=max_vps, seed=seed)
    if density_sigma is None:
        density_sigma = 0.15 * max(shape)
    density_sigma = _check_positive_float(density_sigma, "density_sigma")
    if not isinstance(split, (bool, np.bool_)):
        raise TypeError(f"split must be True or False, got {split!r}")
    # The posterior is smooth (blurred over 15 % of the image): it is computed on a
    # grid of at most _POSTERIOR_GRID pixels a side and resized.
    scale = min(1.0, _POSTERIOR_GRID / max(shape))
    grid = (max(1, int(round(shape[0] * scale))), max(1, int(round(shape[1] * scale))))
    sy, sx = grid[0] / shape[0], grid[1] / shape[1]
    # Density per unit area does not depend on the grid: a grid line pixel stands for
    # 1/scale image pixels of line over 1/scale^2 of area.
    supports = [scale * _segment_density(vp.segments * [sx, sy, sx, sy], grid,
                                         density_sigma * scale) for vp in vanishing]
    ys, xs = np.mgrid[:grid[0], :grid[1]].astype(np.float64)
    ys = (ys + 0.5) / sy - 0.5
    xs = (xs + 0.5) / sx - 0.5
    small_hole = cv2.resize(hole.astype(np.float32), (grid[1], grid[0]),
                            interpolation=cv2.INTER_AREA) > 0.5
    pairs = [(i, j) for i in range(len(vanishing)) for j in range(i + 1, len(vanishing))]
    densities = []
    planes = []
    for i, j in pairs:
        density = supports[i] * supports[j]
        # Parallel planes on both sides of their common vanishing line (a corridor's
        # two walls, a floor and a ceiling) are two planes: one cannot reach across
        # the line, where its rectification is undefined.
        line = np.cross(vanishing[i].point, vanishing[j].point)
        side = line[0] * xs + line[1] * ys + line[2]
        halves = [np.where(side > 0, density, 0.0), np.where(side < 0, density, 0.0)]
        masses = [float(h.sum()) for h in halves]
        if not split or min(masses) < _SECOND_SIDE * max(masses):
            halves = [density]
        for half in halves:
            total = half.sum()
            reference = ((float((half * xs).sum() / total), float((half * ys).sum() / total))
                         if total > 0 else (shape[1] / 2.0, shape[0] / 2.0))
            plane = _make_plane(vanishing, (i, j), reference, shape)
            w = plane.line[0] * xs + plane.line[1] * ys + plane.line[2]
            densities.append(np.where(w > _MIN_DEPTH_SCALE, density, 0.0))
            planes.append(plane)
    planes.append(Plane((), np.array([0.0, 0.0, 1.0]), np.eye(3), np.zeros((0, 2))))
    densities.append(np.full(grid, _FRONTO_DENSITY))
    stack = np.stack(densities, axis=2)
    posterior = stack / stack.sum(axis=2, keepdims=True)
    if small_hole.any() and not small_hole.all() and len(planes) > 1:
        from .algorithms.diffusion import harmonic_fill
        from . import _progress

        with _progress.reporting(None):
            posterior = harmonic_fill(np.ascontiguousarray(posterior), small_hole)
        posterior = np.clip(posterior, 0.0, None)
        posterior /= np.maximum(posterior.sum(axis=2, keepdims=True), 1e-300)
    if grid != shape:
        posterior = cv2.resize(posterior, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        posterior = posterior.reshape(*shape, len(planes))
    ys, xs = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    posterior = (posterior + _POSTERIOR_FLOOR) / (1.0 + len(planes) * _POSTERIOR_FLOOR)
    # Still no plane where it is impossible (beyond its vanishing line).
    for k, plane in enumerate(planes[:-1]):
        w = plane.line[0] * xs + plane.line[1] * ys + plane.line[2]
        posterior[..., k] = np.where(w > _MIN_DEPTH_SCALE, posterior[..., k], 0.0)
    posterior /= posterior.sum(axis=2, keepdims=True)
    return Planes(list(vanishing), planes, posterior.astype(np.float32), [])


# --------------------------------------------------------------------- regularity


#: Centres whose distances to every vote :func:`_mean_shift` tabulates at a time.
_MEAN_SHIFT_ROWS = 64


def _mean_shift(points: np.ndarray, bandwidth: float, min_members: int) -> np.ndarray:
    """Flat-kernel mean shift of 2-D points (Comaniciu & Meer 2002), seeded on a grid
    of bins as scikit-learn's ``bin_seeding``; returns the modes
    with at least ``min_members`` points within ``bandwidth``, strongest first."""
    if len(points) < min_members:
        return np.zeros((0, 2))
    # Seeds: the centres of bandwidth-sized bins holding enough points (scikit-learn's
    # bin seeding with min_bin_freq); sparse bins cannot grow a cluster worth keeping.
    bins, counts = np.unique(np.floor(points / bandwidth), axis=0, return_counts=True)
    bins = bins[counts >= max(1, min_members // 2)]
    if not len(bins):
        return np.zeros((0, 2))
    modes = (bins + 0.5) * bandwidth
    radius2 = bandwidth * bandwidth
    squared = (points ** 2).sum(axis=1)

    def shift(centres):
        """Each centre's count of points within ``bandwidth`` and their mean. The
        centre-by-point table is built for ``_MEAN_SHIFT_ROWS`` centres at a time:
        whole, it took 170 MB for the 6 000 votes of a 1000-feature photo."""
        count = np.empty(len(centres))
        mean = np.empty_like(centres)
        for top in range(0, len(centres), _MEAN_SHIFT_ROWS):
            rows = slice(top, top + _MEAN_SHIFT_ROWS)
            block = centres[rows]
            dist2 = (block ** 2).sum(axis=1)[:, None] + squared[None, :] - 2.0 * block @ points.T
            near = (dist2 <= radius2).astype(np.float64)
            del dist2
            count[rows] = near.sum(axis=1)
            mean[rows] = (near @ points) / np.maximum(count[rows], 1.0)[:, None]
        return count, mean

    moving = np.ones(len(modes), dtype=bool)
    for _ in range(100):
        index = np.flatnonzero(moving)
        if not len(index):
            break
        moved = shift(modes[index])[1]
        moving[index] = np.abs(moved - modes[index]).max(axis=1) >= 1e-3
        modes[index] = moved
    count = shift(modes)[0]
    centres: list[tuple[int, np.ndarray]] = []
    for k in np.argsort(-count, kind="stable"):
        if count[k] < min_members or len(centres) >= 4 * _MAX_REGULARITY:
            break
        if all(np.hypot(*(modes[k] - c)) >= bandwidth / 2 for _, c in centres):
            centres.append((int(count[k]), modes[k]))
    # Each mode's precise position: the mean of the votes close to it (a lattice
    # vector a pixel off drifts a pixel per period across the hole).
    # A flat-kernel mode can sit between two nearby clusters: start from the vote
    # nearest to it, which lies in one of them.
    refined: list[np.ndarray] = []
    for _, centre in centres:
        centre = points[np.argmin(np.hypot(*(points - centre).T))]
        for _ in range(3):
            close = np.hypot(*(points - centre).T) <= bandwidth / 4
            centre = points[close].mean(axis=0)
        if (np.count_nonzero(np.hypot(*(points - centre).T) <= bandwidth / 4) >= min_members
                and all(np.hypot(*(centre - c)) >= bandwidth / 4 for c in refined)):
            refined.append(centre)
    return np.array(refined).reshape(-1, 2)


def plane_regularity(image, mask, planes, *, bandwidth=20.0, min_members=5, max_features=1000,
                     neighbours=3, min_displacement=5.0):
    """Translational regularity of each plane (Huang et al. 2014, sec. 4.2).

    SIFT features of the known pixels are matched to themselves (k nearest
    neighbours, the trivial self-match skipped); each match pair is mapped into
    the rectified frame of the plane most probable at both ends, and their
    displacement (and its negation)
    is a vote for that plane. Mean shift (flat kernel) clusters the votes; a
    cluster with at least ``min_members`` votes is a regularity vector.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    mask : ndarray, shape (H, W) or None
        Non-zero marks the hole; no feature is taken within 4 px of it.
    planes : Planes
        From :func:`detect_planes`; its ``regularity`` is set in place too.
    bandwidth : float, default 20.0
        Mean-shift radius in rectified pixels.
    min_members : int, default 5
    max_features : int, default 1000
    neighbours : int, default 3
        Matches per feature (besides itself).
    min_displacement : float, default 5.0
        Shorter displacements (a feature matching its own neighbourhood) are dropped.

    Returns
    -------
    list of ndarray
        Per plane, regularity vectors ``(dx, dy)`` in its rectified frame, shape
        (R, 2), strongest first.
    """
    gray = _gray8(image)
    shape = gray.shape
    hole = np.zeros(shape, bool) if mask is None else check_mask(mask, shape)
    bandwidth = _check_positive_float(bandwidth, "bandwidth")
    min_members = _check_positive_int(min_members, "min_members")
    max_features = _check_positive_int(max_features, "max_features", low=2)
    neighbours = _check_positive_int(neighbours, "neighbours")
    allowed = (~cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool))
    detector = cv2.SIFT_create(nfeatures=max_features)
    keypoints, descriptors = detector.detectAndCompute(gray, allowed.astype(np.uint8) * 255)
    result = [np.zeros((0, 2)) for _ in planes.planes]
    if descriptors is None or len(keypoints) < 3:
        planes.regularity = result
        return result
    k = min(neighbours + 1, len(keypoints))
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(descriptors, descriptors, k=k)
    first, second = [], []
    for row in matches:
        for match in row:
            if match.trainIdx != match.queryIdx:
                first.append(match.queryIdx)
                second.append(match.trainIdx)
    if not first:
        planes.regularity = result
        return result
    positions = np.array([kp.pt for kp in keypoints])
    a, b = positions[first], positions[second]
    ai = np.clip(np.rint(a).astype(int), 0, [shape[1] - 1, shape[0] - 1])
    bi = np.clip(np.rint(b).astype(int), 0, [shape[1] - 1, shape[0] - 1])
    # A pair votes for the plane most probable at both ends (a product threshold
    # as the release's fails where several planes share the posterior).
    best = np.argmax(planes.posterior, axis=2)
    label_a = best[ai[:, 1], ai[:, 0]]
    label_b = best[bi[:, 1], bi[:, 0]]
    for index, plane in enumerate(planes.planes):
        agree = (label_a == index) & (label_b == index)
        if not agree.any():
            continue
        d = rectify_points(plane, b[agree]) - rectify_points(plane, a[agree])
        ok = np.all(np.isfinite(d), axis=1) & (np.hypot(d[:, 0], d[:, 1]) >= min_displacement)
        d = d[ok]
        votes = np.concatenate([d, -d])
        modes = _mean_shift(votes, bandwidth, min_members)
        # Votes of both signs near zero can average to a mode at the origin: no shift.
        modes = modes[np.hypot(modes[:, 0], modes[:, 1]) >= min_displacement]
        result[index] = modes[:_MAX_REGULARITY]
    planes.regularity = result
    return result


# ------------------------------------------------------------------------ picture

#: Colours (RGB) of the vanishing points' segments and of the planes; the
#: fronto-parallel plane is gray.
_COLOURS = np.array([[230, 40, 40], [40, 170, 40], [40, 90, 230], [230, 160, 20],
                     [170, 40, 200], [20, 190, 200]], dtype=np.float64)
_FRONTO_COLOUR = np.array([128, 128, 128], dtype=np.float64)


def render_planes(image, planes: Planes, mask=None) -> np.ndarray:
    """A picture of the planar model, to see why a fill went right or wrong.

    Three panels side by side: the image (hole darkened) with each vanishing
    point's segments in its colour; the plane posterior (each pixel the
    posterior-weighted mix of plane colours, the fronto-parallel plane gray,
    hole outlined); and per plane its regularity vectors, drawn as arrows
    mapped back from the rectified frame at the plane's most probable pixel.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    planes : Planes
    mask : ndarray, shape (H, W), optional

    Returns
    -------
    ndarray of uint8, shape (H, 3 W, 3)
    """
    gray = _gray8(image).astype(np.float64) / 255.0
    shape = gray.shape
    hole = np.zeros(shape, bool) if mask is None else check_mask(mask, shape)
    base = np.repeat(gray[:, :, None], 3, axis=2) * 255.0
    base[hole] *= 0.35
    lines_panel = np.ascontiguousarray((0.6 * base).astype(np.uint8))
    thickness = max(1, int(round(max(shape) / 400)))
    for index, vp in enumerate(planes.vanishing_points):
        colour = tuple(int(v) for v in _COLOURS[index % len(_COLOURS)])
        for x1, y1, x2, y2 in vp.segments:
            start = (int(round(x1)), int(round(y1)))
            cv2.line(lines_panel, start, (int(round(x2)), int(round(y2))), colour, thickness,
                     cv2.LINE_AA)
    colours = np.array([_COLOURS[k % len(_COLOURS)] for k in range(len(planes.planes) - 1)]
                       + [_FRONTO_COLOUR])
    mix = planes.posterior.astype(np.float64) @ colours
    post_panel = np.ascontiguousarray((0.7 * mix + 0.3 * base).astype(np.uint8))
    if hole.any():
        edge = hole ^ cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        post_panel[edge] = 255
    reg_panel = np.ascontiguousarray((0.5 * base).astype(np.uint8))
    for index, (plane, vectors) in enumerate(zip(planes.planes, planes.regularity or [])):
        if not len(vectors):
            continue
        colour = tuple(int(v) for v in colours[index])
        flat = np.argmax(planes.posterior[..., index] * ~hole)
        y0, x0 = divmod(int(flat), shape[1])
        origin = rectify_points(plane, [[x0, y0]])[0]
        for vector in vectors:
            end = origin + vector
            den = 1.0 - plane.line[0] * end[0] - plane.line[1] * end[1]
            if den <= 0:
                continue
            tip = end * plane.line[2] / den
            cv2.arrowedLine(reg_panel, (x0, y0), (int(round(tip[0])), int(round(tip[1]))), colour,
                            thickness, cv2.LINE_AA, tipLength=0.15)
        cv2.circle(reg_panel, (x0, y0), 3 * thickness, colour, -1)
    return np.concatenate([lines_panel, post_panel, reg_panel], axis=1)
