"""Seeded hole generators for tests, benchmarks and training.

Every generator takes ``shape`` (H, W) and a keyword ``seed`` and returns a bool
(H, W) mask, True = hole; the same seed always gives the same mask.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "RATIO_BUCKETS",
    "free_form",
    "boxes",
    "thin_strokes",
    "in_ratio_bucket",
    "object_removal",
    "silhouette",
    "bucket_label",
]

#: The standard hole-ratio buckets of the inpainting literature, as (lo, hi]:
#: (0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6].
RATIO_BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6),
)


def bucket_label(lo: float, hi: float) -> str:
    return f"({lo:g},{hi:g}]"


def _check_shape(shape) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (H, W), got {shape!r}") from None
    if height < 4 or width < 4:
        raise ValueError(f"shape must be at least 4x4, got {shape!r}")
    return height, width


def _canvas(shape) -> np.ndarray:
    return np.zeros(_check_shape(shape), np.uint8)


def _draw_stroke(canvas: np.ndarray, rng: np.random.Generator, *, max_vertices: int,
                 max_length: float, max_width: float, min_width: float) -> None:
    """One DeepFill-v2 brush stroke: a random walk of line segments with round joints."""
    height, width = canvas.shape
    vertices = int(rng.integers(4, max_vertices + 1))
    brush = int(round(rng.uniform(min_width, max_width)))
    y, x = float(rng.integers(0, height)), float(rng.integers(0, width))
    angle = rng.uniform(0, 2 * math.pi)
    for i in range(vertices):
        # Yu et al. (2019) alternate the walk's direction to make curly strokes.
        angle += rng.uniform(-math.pi / 3, math.pi / 3) + (math.pi if i % 2 else 0.0)
        length = rng.uniform(max_length * 0.25, max_length)
        ny = float(np.clip(y + length * math.sin(angle), 0, height - 1))
        nx = float(np.clip(x + length * math.cos(angle), 0, width - 1))
        cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, brush)
        cv2.circle(canvas, (int(nx), int(ny)), brush // 2, 1, -1)
        y, x = ny, nx


def free_form(shape, *, seed: int = 0, strokes: int | None = None) -> np.ndarray:
    """Free-form brush-stroke holes in the style of DeepFill v2 (Yu et al., ICCV 2019).

    Parameters
    ----------
    shape : (int, int)
    seed : int
    strokes : int, optional
        Number of strokes; default 1 to 4.
    """
    canvas = _canvas(shape)
    rng = np.random.default_rng(seed)
    scale = min(canvas.shape) / 256.0
    count = int(rng.integers(1, 5)) if strokes is None else int(strokes)
    for _ in range(count):
        _draw_stroke(canvas, rng, max_vertices=10, max_length=60 * scale,
                     max_width=28 * scale, min_width=8 * scale)
    return canvas.astype(bool)


def boxes(shape, *, seed: int = 0, count: int = 1, min_size: float = 0.1,
          max_size: float = 0.4) -> np.ndarray:
    """Axis-aligned rectangular holes; sides are fractions of the image side."""
    canvas = _canvas(shape)
    if not 0 < min_size <= max_size <= 1:
        raise ValueError(f"need 0 < min_size <= max_size <= 1, got {min_size}, {max_size}")
    rng = np.random.default_rng(seed)
    height, width = canvas.shape
    for _ in range(int(count)):
        box_h = max(1, int(round(rng.uniform(min_size, max_size) * height)))
        box_w = max(1, int(round(rng.uniform(min_size, max_size) * width)))
        top = int(rng.integers(0, height - box_h + 1))
        left = int(rng.integers(0, width - box_w + 1))
        canvas[top:top + box_h, left:left + box_w] = 1
    return canvas.astype(bool)


def thin_strokes(shape, *, seed: int = 0, count: int = 6, max_width: int = 3) -> np.ndarray:
    """Thin curved scratches (1 to ``max_width`` pixels), like cracks or overlaid text."""
    canvas = _canvas(shape)
    rng = np.random.default_rng(seed)
    height, width = canvas.shape
    for _ in range(int(count)):
        # A quadratic Bezier curve between two random points.
        points = rng.uniform((0, 0), (width - 1, height - 1), size=(3, 2))
        t = np.linspace(0.0, 1.0, 64)[:, None]
        curve = (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t ** 2 * points[2]
        thickness = int(rng.integers(1, max_width + 1))
        cv2.polylines(canvas, [np.round(curve).astype(np.int32)], False, 1, thickness)
    return canvas.astype(bool)


def in_ratio_bucket(shape, lo: float, hi: float, *, seed: int = 0) -> np.ndarray:
    """A free-form mask (strokes and the occasional box) whose hole ratio is in (lo, hi].

    Strokes are added one by one; one that would overshoot ``hi`` is retried thinner.
    Deterministic for a given seed.
    """
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
    canvas = _canvas(shape)
    height, width = canvas.shape
    total = height * width
    rng = np.random.default_rng(seed)
    scale = min(height, width) / 256.0
    width_scale = 1.0
    for _ in range(2000):
        trial = canvas.copy()
        if rng.random() < 0.15:
            box_h = int(rng.uniform(0.08, 0.3) * height * width_scale) + 1
            box_w = int(rng.uniform(0.08, 0.3) * width * width_scale) + 1
            top = int(rng.integers(0, height - min(box_h, height) + 1))
            left = int(rng.integers(0, width - min(box_w, width) + 1))
            trial[top:top + box_h, left:left + box_w] = 1
        else:
            _draw_stroke(trial, rng, max_vertices=8, max_length=50 * scale * width_scale,
                         max_width=max(2.0, 30 * scale * width_scale),
                         min_width=max(1.0, 8 * scale * width_scale))
        ratio = trial.sum() / total
        if ratio > hi:
            width_scale = max(0.05, width_scale * 0.7)
            continue
        canvas = trial
        if ratio > lo:
            return canvas.astype(bool)
    raise RuntimeError(f"could not reach a hole ratio in ({lo}, {hi}] for shape {shape}")


def object_removal(shape, *, seed: int = 0, ratio: tuple[float, float] = (0.10, 0.25)) -> np.ndarray:
    """One compact hole like a removed object: a blob (random star-shaped polygon) or a box.

    Parameters
    ----------
    ratio : (float, float)
        The hole covers between these fractions of the image.
    """
    canvas = _canvas(shape)
    low, high = ratio
    if not 0 < low < high < 1:
        raise ValueError(f"ratio must satisfy 0 < lo < hi < 1, got {ratio}")
    rng = np.random.default_rng(seed)
    height, width = canvas.shape
    target = rng.uniform(low, high) * height * width
    if rng.random() < 0.3:
        aspect = rng.uniform(0.6, 1.6)
        box_h = min(height - 2, int(round(math.sqrt(target * aspect))))
        box_w = min(width - 2, int(round(target / max(box_h, 1))))
        top = int(rng.integers(1, height - box_h))
        left = int(rng.integers(1, width - box_w))
        canvas[top:top + box_h, left:left + box_w] = 1
        return canvas.astype(bool)
    angles = np.sort(rng.uniform(0, 2 * math.pi, 16))
    radii = rng.uniform(0.75, 1.25, 16)
    # Area of the polygon with unit base radius, to scale it to the target area.
    xs, ys = radii * np.cos(angles), radii * np.sin(angles)
    unit_area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
    base = math.sqrt(target / unit_area)
    reach = base * radii.max()
    cy = rng.uniform(min(reach, height / 2), max(height - reach, height / 2))
    cx = rng.uniform(min(reach, width / 2), max(width - reach, width / 2))
    polygon = np.stack([cx + base * xs, cy + base * ys], axis=1)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1)
    return canvas.astype(bool)


#: The object outlines :func:`silhouette` draws.
SILHOUETTES = ("person", "car", "sign", "animal")


def silhouette(shape, *, seed: int = 0, kind: str | None = None,
               ratio: tuple[float, float] = (0.05, 0.25), dilate: float = 0.04) -> np.ndarray:
    """One object-shaped hole, as a user paints over something to remove it: a standing
    person, a car, a road sign on its pole, or a four-legged animal, drawn from ellipses
    and polygons with seeded proportions, then dilated (users paint a margin around the
    object) and placed resting on a random ground line.

    Parameters
    ----------
    kind : {"person", "car", "sign", "animal"}, optional
        Default: drawn at random.
    ratio : (float, float)
        The object's bounding box covers between these fractions of the image.
    dilate : float
        Margin painted around the outline, as a fraction of the object's height.
    """
    height, width = _check_shape(shape)
    low, high = ratio
    if not 0 < low < high < 1:
        raise ValueError(f"ratio must satisfy 0 < lo < hi < 1, got {ratio}")
    rng = np.random.default_rng(seed)
    if kind is None:
        kind = SILHOUETTES[int(rng.integers(len(SILHOUETTES)))]
    if kind not in SILHOUETTES:
        raise ValueError(f"kind must be one of {', '.join(SILHOUETTES)}, got {kind!r}")
    aspect = {"person": rng.uniform(0.3, 0.45), "car": rng.uniform(1.8, 2.6),
              "sign": rng.uniform(0.25, 0.45), "animal": rng.uniform(1.2, 1.7)}[kind]
    area = rng.uniform(low, high) * height * width
    obj_h = min(height - 2, max(4.0, math.sqrt(area / aspect)))
    obj_w = min(width - 2, max(4.0, obj_h * aspect))
    canvas = np.zeros((height, width), np.uint8)
    top = rng.uniform(0, height - obj_h)
    left = rng.uniform(0, width - obj_w)

    def point(fx, fy):
        return (int(round(left + fx * obj_w)), int(round(top + fy * obj_h)))

    def ellipse(fx, fy, fw, fh):
        cv2.ellipse(canvas, point(fx, fy), (max(1, int(fw * obj_w / 2)), max(1, int(fh * obj_h / 2))),
                    0, 0, 360, 1, -1)

    def poly(points):
        cv2.fillPoly(canvas, [np.array([point(x, y) for x, y in points], np.int32)], 1)

    if kind == "person":
        ellipse(0.5, 0.08, 0.38, 0.15)                       # head
        poly([(0.12, 0.18), (0.88, 0.18), (0.95, 0.55), (0.05, 0.55)])   # torso and arms
        stride = rng.uniform(0.0, 0.2)
        poly([(0.22, 0.5), (0.5, 0.5), (0.45 - stride, 1.0), (0.2 - stride, 1.0)])  # legs
        poly([(0.5, 0.5), (0.78, 0.5), (0.8 + stride, 1.0), (0.55 + stride, 1.0)])
    elif kind == "car":
        roof = rng.uniform(0.2, 0.45)
        poly([(0.0, 0.45), (1.0, 0.45), (1.0, 0.85), (0.0, 0.85)])       # body
        poly([(roof, 0.05), (roof + 0.45, 0.05), (roof + 0.55, 0.45), (roof - 0.1, 0.45)])  # cabin
        ellipse(0.2, 0.85, 0.18, 0.3)                                     # wheels
        ellipse(0.8, 0.85, 0.18, 0.3)
    elif kind == "sign":
        poly([(0.45, 0.3), (0.55, 0.3), (0.55, 1.0), (0.45, 1.0)])       # pole
        if rng.random() < 0.5:
            ellipse(0.5, 0.17, 1.0, 0.34)                                 # round sign
        else:
            poly([(0.0, 0.0), (1.0, 0.0), (1.0, 0.35), (0.0, 0.35)])      # rectangular sign
    else:  # animal
        ellipse(0.5, 0.45, 0.75, 0.4)                                     # body
        ellipse(0.9, 0.25, 0.22, 0.3)                                     # head
        for fx in (0.2, 0.32, 0.65, 0.77):                                # legs
            poly([(fx - 0.04, 0.5), (fx + 0.04, 0.5), (fx + 0.04, 1.0), (fx - 0.04, 1.0)])
        poly([(0.1, 0.4), (0.14, 0.45), (0.0, 0.7), (-0.03, 0.66)])       # tail
    margin = int(round(dilate * obj_h))
    if margin > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        canvas = cv2.dilate(canvas, kernel)
    hole = canvas.astype(bool)
    if hole.all():
        hole[0, 0] = False
    return hole
