"""Shared pieces of the benchmark scripts: images, seeded cases, timing, scoring, tables.

Run a benchmark from the repository root, e.g. ``python bench/diffusion.py``.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np
from skimage import data as skdata
from skimage.transform import resize

from inpaintkit import masks, metrics


def import_pypatchmatch():
    """PyPI ``pypatchmatch`` (module ``patchmatch``) when it is installed and its C++
    library loads, else None (saying why). The bench folder is left off the path, or
    ``bench/patchmatch.py`` would import itself under that name."""
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import patchmatch

        return patchmatch if patchmatch.patchmatch_available else None
    except Exception as exc:  # pragma: no cover - depends on the environment
        print(f"PyPatchMatch unavailable: {exc!r}")
        return None
    finally:
        sys.path[:] = saved

#: Benchmark photos from skimage.data. Keep these out of any training set.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def _square(image: np.ndarray, size: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=2)
    image = image[..., :3]
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top:top + side, left:left + side]
    out = resize(crop, (size, size), anti_aliasing=side > size, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_photos(size: int = 256, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """skimage.data photos as uint8 RGB (size, size, 3), centre-cropped and resized."""
    return {name: _square(getattr(skdata, name)(), size) for name in (names or PHOTOS)}


def bucket_cases(size: int = 256, *, names: Iterable[str] | None = None,
                 per_bucket: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """One seeded free-form mask per photo and ratio bucket.

    Returns a list of dicts with ``bucket`` (label), ``name``, ``image``, ``mask``.
    ``per_bucket`` limits the number of photos per bucket (the first ones).
    """
    photos = load_photos(size, names)
    cases = []
    for b, (lo, hi) in enumerate(masks.RATIO_BUCKETS):
        for i, (name, image) in enumerate(photos.items()):
            if per_bucket is not None and i >= per_bucket:
                break
            mask = masks.in_ratio_bucket((size, size), lo, hi, seed=seed + 1000 * b + i)
            cases.append({"bucket": masks.bucket_label(lo, hi), "name": name,
                          "image": image, "mask": mask})
    return cases


def object_cases(size: int = 256, *, names: Iterable[str] | None = None,
                 seed: int = 0) -> list[dict[str, Any]]:
    """One object-removal hole (compact blob or box, 10-25 %) per photo."""
    photos = load_photos(size, names)
    return [{"bucket": "object", "name": name, "image": image,
             "mask": masks.object_removal((size, size), seed=seed + 7 * i)}
            for i, (name, image) in enumerate(photos.items())]


#: Whole objects of the benchmark photos, each a set of boxes (top, bottom, left, right)
#: in 256-px coordinates that covers the object with a margin: holes for removing
#: it, as a user would mask it. There is no truth behind them: the fills are judged
#: by eye (the background should continue; nothing else should be copied in).
REMOVALS = (
    ("astronaut", "shuttle", ((0, 146, 166, 238),)),
    ("coffee", "spoon", ((148, 214, 136, 202), (38, 150, 184, 204))),
    ("rocket", "rocket", ((68, 240, 112, 146),)),
    ("rocket", "right tower", ((68, 230, 190, 224),)),
    ("rocket", "left tower", ((68, 232, 30, 66),)),
    ("astronaut", "helmet", ((166, 256, 134, 256),)),
    ("astronaut", "mission patch", ((172, 214, 62, 108),)),
    ("coffee", "handle", ((146, 204, 60, 100),)),
)


def removal_cases(size: int = 256) -> list[dict[str, Any]]:
    """The :data:`REMOVALS` holes on the photos at ``size`` px: dicts with ``name``
    (photo), ``object``, ``image`` and ``mask`` (no truth: the object is removed)."""
    photos = load_photos(size, sorted({name for name, _, _ in REMOVALS}))
    scale = size / 256
    cases = []
    for name, thing, boxes in REMOVALS:
        mask = np.zeros((size, size), dtype=bool)
        for top, bottom, left, right in boxes:
            mask[int(top * scale):int(bottom * scale), int(left * scale):int(right * scale)] = True
        cases.append({"name": name, "object": thing, "image": photos[name], "mask": mask})
    return cases


def masked(case: dict[str, Any]) -> np.ndarray:
    """The case's image with its hole painted magenta: the first picture of a strip."""
    shown = case["image"].copy()
    shown[case["mask"]] = (255, 0, 255)
    return shown


def save_strip(out_dir: str, case: dict[str, Any], results: Sequence[np.ndarray]) -> str:
    """Write the masked input (hole in magenta) and ``results`` side by side as
    ``out_dir/BUCKET_NAME.png``, to look at; returns the path."""
    strip = np.concatenate([masked(case), *results], axis=1)
    path = os.path.join(out_dir, f"{case['bucket']}_{case['name']}.png")
    cv2.imwrite(path, np.ascontiguousarray(strip[..., ::-1]))
    return path


def timed(fn: Callable, *args, repeat: int = 1, **kwargs) -> tuple[Any, float]:
    """Call ``fn`` ``repeat`` times; return the last result and the median seconds."""
    times = []
    result = None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def score(truth: np.ndarray, result: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Whole-image PSNR and SSIM (as papers report them) and the hole's texture ratio."""
    return {
        "psnr": metrics.psnr(truth, result),
        "ssim": metrics.ssim(truth, result),
        "texture": metrics.texture_ratio(truth, result, mask),
    }


def known_texture(truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient magnitude of ``truth`` over its known pixels, over its mean in the
    hole (same gradients as :func:`inpaintkit.metrics.texture_ratio`): the texture
    ratio of a fill exactly as detailed as the rest of the photo."""
    detail = metrics._gradient_magnitude(truth)
    return float(detail[~mask].mean() / detail[mask].mean())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> str:
    """Print ``rows`` as an aligned plain-text table (and return it)."""
    cells = [[_cell(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) if cells else len(col)
              for i, col in enumerate(columns)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(col.rjust(w) for col, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def summarise(records: Sequence[dict[str, Any]], keys: Sequence[str] = ("bucket", "method")) -> list[dict[str, Any]]:
    """Group per-case records by ``keys``: mean psnr/ssim/texture, median time."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(tuple(rec[k] for k in keys), []).append(rec)
    rows = []
    for key, recs in groups.items():
        row = dict(zip(keys, key))
        for metric in ("psnr", "ssim", "texture"):
            vals = [r[metric] for r in recs if metric in r and r[metric] == r[metric]]
            if vals:
                row[metric] = float(np.mean(vals))
        row["time_s"] = float(statistics.median(r["time_s"] for r in recs))
        row["n"] = len(recs)
        rows.append(row)
    return rows
