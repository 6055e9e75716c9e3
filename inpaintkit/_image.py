"""The image/mask contract: validate inputs, normalise them for methods, convert back.

Every method goes through :func:`prepare` and :meth:`Prepared.finish`; no method
re-implements validation, dtype handling, alpha handling or compositing.

Rules (see docs/ARCHITECTURE.md, "Rules every part keeps"):

- ``image`` is (H, W) or (H, W, C) with C in 1, 3, 4; dtype uint8, uint16, float32 or
  float64, floats in [0, 1].
- ``mask`` is (H, W), bool or integer; non-zero / True marks the hole.
- The result has the input's shape and dtype, and every pixel outside the hole is
  returned bit-for-bit unchanged.
- A fourth channel is alpha: it is carried through, not treated as colour; inside the
  hole it takes the value of the nearest known pixel.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)

#: Largest image accepted by default, in pixels (500 megapixels, e.g. 22000 x 22000).
#: Larger inputs are refused up front (files from their header, before decoding)
#: rather than failing deep inside a method with an out-of-memory error. The
#: ``INPAINTKIT_MAX_PIXELS`` environment variable (or ``--max-pixels``) overrides it.
MAX_PIXELS = 500_000_000

#: Environment variable that overrides :data:`MAX_PIXELS`.
MAX_PIXELS_ENV = "INPAINTKIT_MAX_PIXELS"


def parse_pixel_count(text, *, name: str = "max_pixels") -> int:
    """A pixel count from an int or a text such as ``"500000000"``, ``"500M"``, ``"2G"``.

    Raises
    ------
    ValueError
        Naming ``name`` and the value received, for anything but a positive count.
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, (bool, np.bool_)):
        number = int(text)
    else:
        raw = str(text).strip().upper().replace("_", "")
        scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(raw[-1:], 1)
        digits = raw[:-1] if scale > 1 else raw
        try:
            number = int(round(float(digits) * scale))
        except ValueError:
            raise ValueError(f"{name} must be a pixel count such as 500000000 or 500M, "
                             f"got {text!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive pixel count, got {text!r}")
    return number


_pixel_limit: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "inpaintkit_pixel_limit", default=None)


def max_pixels() -> int:
    """The pixel limit in force: the innermost :func:`pixel_limit`, else
    ``INPAINTKIT_MAX_PIXELS`` if set, else :data:`MAX_PIXELS`."""
    override = _pixel_limit.get()
    if override is not None:
        return override
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    return parse_pixel_count(value, name=MAX_PIXELS_ENV) if value else MAX_PIXELS


@contextlib.contextmanager
def pixel_limit(limit: int | None) -> Iterator[None]:
    """Use ``limit`` as :func:`max_pixels` inside the block (``None``: no change)."""
    token = _pixel_limit.set(limit if limit is None else int(limit))
    try:
        yield
    finally:
        _pixel_limit.reset(token)


def describe_pixels(count: int) -> str:
    """``"500 MP"`` for large counts, ``"1000 pixels"`` for small ones."""
    return f"{count / 1e6:.0f} MP" if count >= 10**7 else f"{count} pixels"


def _dtype_names() -> str:
    return ", ".join(np.dtype(t).name for t in SUPPORTED_DTYPES)


def check_image(image, *, name: str = "image") -> np.ndarray:
    """Validate ``image`` against the contract and return it as an ndarray.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        C in 1, 3, 4; dtype uint8, uint16, float32 or float64 (floats in [0, 1]).
    name : str
        Argument name used in error messages.

    Returns
    -------
    ndarray
        The same data (no copy where possible).

    Raises
    ------
    TypeError
        For an unsupported dtype.
    ValueError
        For a wrong shape, an empty or too large image.
    """
    if not isinstance(image, np.ndarray):
        if image is None:
            raise TypeError(f"{name} must be an array, got None")
        if isinstance(image, (list, tuple)):
            kind = type(image).__name__
            raise TypeError(
                f"{name} is a Python {kind}, not an image array; convert it with "
                f"numpy.asarray({name}, dtype=numpy.uint8) (or float32 in [0, 1]) first"
            )
        if not hasattr(image, "__array__") and not hasattr(image, "__array_interface__"):
            raise TypeError(f"{name} must be a NumPy array, got {type(image).__name__}")
        image = np.asarray(image)
    if image.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} has unsupported dtype {image.dtype}; expected one of {_dtype_names()}"
        )
    if image.ndim not in (2, 3):
        raise ValueError(
            f"{name} must have shape (H, W) or (H, W, C), got shape {image.shape}"
        )
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{name} must have 1, 3 or 4 channels (gray, RGB, RGBA), got {image.shape[2]}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {image.shape}")
    limit = max_pixels()
    if image.shape[0] * image.shape[1] > limit:
        raise ValueError(
            f"{name} is too large: {image.shape[1]}x{image.shape[0]} pixels, "
            f"the limit is {describe_pixels(limit)} (set {MAX_PIXELS_ENV} to raise it)"
        )
    return image


def check_mask(mask, shape: tuple[int, int], *, name: str = "mask",
               copy: bool = True) -> np.ndarray:
    """Validate ``mask`` and return it as a C-contiguous bool (H, W) array, True = hole.

    With ``copy=False`` a C-contiguous bool mask is returned as it is (not to be
    modified); other masks are converted either way.

    Raises
    ------
    TypeError
        If the mask is not bool or integer.
    ValueError
        If its shape is not ``shape``.
    """
    if mask is None:
        raise TypeError(f"{name} must be an array, got None")
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(
            f"{name} must be bool or integer (non-zero = hole), got dtype {mask.dtype}; "
            "convert a float mask with mask > 0.5"
        )
    if mask.shape != tuple(shape):
        raise ValueError(
            f"{name} has shape {mask.shape} but the image is {tuple(shape)}; "
            "the mask must be (H, W) and match the image"
        )
    if not copy and mask.dtype == np.bool_ and mask.flags.c_contiguous:
        return mask
    return np.ascontiguousarray(mask != 0)


def to_float(image: np.ndarray) -> np.ndarray:
    """Convert a contract dtype to float64 in [0, 1] (a copy)."""
    # Divided in place: one float64 array, not two (the same numbers).
    values = image.astype(np.float64)
    if image.dtype == np.uint8:
        values /= 255.0
    elif image.dtype == np.uint16:
        values /= 65535.0
    return values


def from_float(values: np.ndarray, dtype) -> np.ndarray:
    """Convert float values in [0, 1] to ``dtype`` (clipped, rounded for integers)."""
    dtype = np.dtype(dtype)
    values = np.clip(values, 0.0, 1.0)
    if dtype == np.uint8:
        return np.rint(values * 255.0).astype(np.uint8)
    if dtype == np.uint16:
        return np.rint(values * 65535.0).astype(np.uint16)
    return values.astype(dtype)


def nearest_fill(values: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` pixels of ``values`` (H, W[, C]) with the nearest known pixel's value."""
    from scipy import ndimage  # lazy: scipy.ndimage costs half a second of start-up
    _, (rows, cols) = ndimage.distance_transform_edt(hole, return_indices=True)
    return values[rows, cols]


@dataclass
class Prepared:
    """A validated image, normalised for a method.

    Attributes
    ----------
    data : ndarray, shape (H, W, C), float64
        Colour channels in [0, 1] (C is 1 or 3; alpha is split off). C-contiguous.
        Hole pixels are set to 0: methods must not read them. A method that has
        converted it further may set it to None to free it: :meth:`finish` needs
        only ``mask`` and ``original``.
    mask : ndarray, shape (H, W), bool
        True = hole. C-contiguous.
    original : ndarray
        The input array, untouched.
    """

    data: np.ndarray
    mask: np.ndarray
    original: np.ndarray

    @property
    def has_alpha(self) -> bool:
        return self.original.ndim == 3 and self.original.shape[2] == 4

    @property
    def channels(self) -> int:
        """Colour channels of ``data``: 1 or 3."""
        return 1 if self.original.ndim == 2 else min(self.original.shape[2], 3)

    @property
    def hole_count(self) -> int:
        return int(self.mask.sum())

    def finish(self, filled: np.ndarray) -> np.ndarray:
        """Composite ``filled`` into the original and convert back to its dtype.

        Parameters
        ----------
        filled : ndarray, shape (H, W, C) or (H, W) float
            The method's result for the colour channels, in [0, 1] (clipped here).
            Only its hole pixels are used.

        Returns
        -------
        ndarray
            Same shape and dtype as the input; known pixels bit-for-bit unchanged.
        """
        filled = np.asarray(filled)
        if filled.ndim == 2:
            filled = filled[:, :, None]
        expected = (*self.mask.shape, self.channels)
        if filled.shape != expected:
            raise RuntimeError(f"method returned shape {filled.shape}, expected {expected}")
        return composite(self.original, self.mask, filled[self.mask])


def composite(original: np.ndarray, hole: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``original`` with its ``hole`` pixels set to ``values`` (the colour channels, one
    row per hole pixel in row-major order, floats in [0, 1], clipped here), converted
    to its dtype; alpha inside the hole takes the nearest known pixel's. Known pixels
    are returned bit-for-bit unchanged. The end of :meth:`Prepared.finish`, for
    methods that keep only their hole pixels' values (no float copy of the image).

    Raises
    ------
    RuntimeError
        If a value is not finite.
    """
    if not np.all(np.isfinite(values)):
        raise RuntimeError("method produced non-finite values inside the hole")
    out = original.copy()
    colour = from_float(values, original.dtype)
    if original.ndim == 2:
        out[hole] = colour[:, 0]
    else:
        out[hole, : colour.shape[1]] = colour
        if original.shape[2] == 4:
            out[..., 3] = nearest_fill(original[..., 3], hole)
    return out


def prepare(image, mask, *, image_name: str = "image", mask_name: str = "mask") -> Prepared:
    """Validate ``image`` and ``mask`` and normalise them for a method.

    Floats must be finite and in [0, 1] outside the hole; inside the hole any value
    (NaN included) is accepted since it is replaced.

    Raises
    ------
    TypeError, ValueError
        Naming the argument and what was expected. A mask that covers the whole image
        raises ``ValueError`` (nothing to copy from).
    """
    image = check_image(image, name=image_name)
    hole = check_mask(mask, image.shape[:2], name=mask_name)
    if hole.all():
        raise ValueError(
            f"{mask_name} covers the whole image: there are no known pixels to fill from"
        )
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    data = to_float(colour)
    if data.ndim == 2:
        data = data[:, :, None]
    check_known_values(image, hole, image_name=image_name)
    data[hole] = 0.0
    return Prepared(np.ascontiguousarray(data), hole, image)


def prepare_band(image, hole, reach: int, *, image_name: str = "image",
                 mask_name: str = "mask") -> Prepared:
    """:func:`prepare` for methods that read only the hole and the known pixels within
    Manhattan distance ``reach`` of it (diffusion's linear systems: 2).

    The same validation and the same values on that band; ``data`` is zero elsewhere
    (allocated lazily, never converted): a thin hole in a large crop costs its band,
    not a float64 copy of the crop.
    """
    import cv2

    image = check_image(image, name=image_name)
    hole = check_mask(hole, image.shape[:2], name=mask_name)
    if hole.all():
        raise ValueError(
            f"{mask_name} covers the whole image: there are no known pixels to fill from"
        )
    check_known_values(image, hole, image_name=image_name)
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    channels = colour.shape[2] if colour.ndim == 3 else 1
    data = np.zeros((*hole.shape, channels))
    steps = np.arange(-reach, reach + 1)
    diamond = (np.abs(steps[:, None]) + np.abs(steps[None, :]) <= reach).astype(np.uint8)
    band = cv2.dilate(hole.view(np.uint8), diamond, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    band[hole] = 0
    points = cv2.findNonZero(band)
    if points is not None:
        points = points.reshape(-1, 2)
        xs, ys = points[:, 0], points[:, 1]
        data[ys, xs] = to_float(colour[ys, xs]).reshape(-1, channels)
    return Prepared(data, hole, image)


def check_known_values(image: np.ndarray, hole: np.ndarray, *, image_name: str = "image") -> None:
    """Float images: every known pixel finite and in [0, 1] (hole pixels may be anything).

    Works on the image as it is (no float64 copy), so it is cheap on large photos.

    Raises
    ------
    ValueError
        Naming ``image_name`` and the values found.
    """
    if not np.issubdtype(image.dtype, np.floating):
        return
    # Every pixel in [0, 1] (NaN fails both comparisons): then so is every known one.
    # Two contiguous passes instead of two masked passes per strided channel (about
    # 0.9 s of a 4096 px float64 photo's fill on the shared machine).
    if image.size and image.min() >= 0.0 and image.max() <= 1.0:
        return
    known = ~hole
    channels = image.shape[2] if image.ndim == 3 else 1
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(channels)]
    for c, plane in enumerate(planes):
        low = np.min(plane, where=known, initial=np.inf)
        high = np.max(plane, where=known, initial=-np.inf)
        alpha = channels == 4 and c == 3
        if not (np.isfinite(low) and np.isfinite(high)) and known.any():
            if alpha:
                raise ValueError(f"{image_name} alpha channel must be finite and in [0, 1]")
            raise ValueError(f"{image_name} contains NaN or infinite values outside the hole")
        if known.any() and (low < 0.0 or high > 1.0):
            if alpha:
                raise ValueError(f"{image_name} alpha channel must be finite and in [0, 1]")
            raise ValueError(
                f"{image_name} is float with values in [{low:.4g}, {high:.4g}]; "
                "float images must lie in [0, 1]"
            )


def check_has_hole(prepared: Prepared, *, mask_name: str = "mask") -> bool:
    """Return True if there is something to fill; warn (once per call) if not."""
    if prepared.hole_count == 0:
        warnings.warn(f"{mask_name} has no hole pixels; returning a copy of the image",
                      UserWarning, stacklevel=3)
        return False
    return True


#: Side, in pixels, of the square blocks :func:`hole_blocks` cuts an image into.
TILE = 128


def hole_blocks(hole: np.ndarray, block: int = TILE) -> np.ndarray:
    """Which ``block`` x ``block`` squares of the image hold a hole pixel.

    One pass over the mask through views (no padded copy): 13 ms for 48 MP.

    Returns
    -------
    ndarray, shape (ceil(H / block), ceil(W / block)), bool
    """
    height, width = hole.shape
    full_h, full_w = height // block, width // block
    out = np.zeros((-(-height // block), -(-width // block)), bool)
    if full_h and full_w:
        out[:full_h, :full_w] = hole[:full_h * block, :full_w * block].reshape(
            full_h, block, full_w, block).any(axis=(1, 3))
    if full_w < out.shape[1] and full_h:
        out[:full_h, full_w] = hole[:full_h * block, full_w * block:].reshape(full_h, -1).any(axis=1)
    if full_h < out.shape[0]:
        strip = hole[full_h * block:]
        if full_w:
            out[full_h, :full_w] = strip[:, :full_w * block].reshape(
                strip.shape[0], full_w, block).any(axis=(0, 2))
        if full_w < out.shape[1]:
            out[full_h, full_w] = strip[:, full_w * block:].any()
    return out


def block_windows(blocks: np.ndarray, shape, pad: int, block: int = TILE):
    """``(core, window)`` slice pairs of the marked blocks: each block's pixels and
    the same grown by ``pad`` pixels (clipped to the image); ``core`` is given
    relative to ``window``. A morphological operation of reach up to ``pad`` computed
    on ``window`` is exact on ``core``."""
    height, width = shape
    for bi, bj in zip(*np.nonzero(blocks)):
        top, left = int(bi) * block, int(bj) * block
        bottom, right = min(top + block, height), min(left + block, width)
        w_top, w_left = max(top - pad, 0), max(left - pad, 0)
        window = (slice(w_top, min(bottom + pad, height)), slice(w_left, min(right + pad, width)))
        core = (slice(top - w_top, bottom - w_top), slice(left - w_left, right - w_left))
        yield core, window


def eroded_count(hole: np.ndarray, kernel: np.ndarray, blocks: np.ndarray | None = None) -> int:
    """Pixels left by eroding ``hole`` with ``kernel`` (outside the image counts as
    hole): the hole pixels whose whole neighbourhood is hole.

    The same count as one erosion of the whole mask, computed only on the blocks
    that hold hole pixels (``blocks``, from :func:`hole_blocks`, computed if not
    given): a scratch on a 48 MP photo touches about a tenth of them.
    """
    import cv2

    blocks = hole_blocks(hole) if blocks is None else blocks
    pad = max(kernel.shape) // 2
    mask = hole.view(np.uint8)
    count = 0
    for core, window in block_windows(blocks, hole.shape, pad):
        eroded = cv2.erode(mask[window], kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
        count += cv2.countNonZero(eroded[core])
    return count


#: Side, in pixels, of the square blocks :func:`hole_regions` groups the hole by.
REGION_BLOCK = 64


def hole_regions(hole: np.ndarray, margin: int, *, block: int = REGION_BLOCK) -> list:
    """Split a hole into independent crops: ``[(box, own), ...]``.

    Each ``box`` (a pair of slices) is the bounding box of one group of hole pixels
    grown by ``margin`` pixels (clipped to the image); ``own`` (bool, the box's
    shape) marks that group's hole pixels. Hole pixels of different groups are more
    than ``block`` pixels apart, so with ``margin < block`` a method whose reach is
    at most ``margin`` pixels gives the group's pixels the same values on the crop
    as on the whole image (a crop may still contain another group's pixels, inside
    a concave group's box: fill them as hole, keep only ``own``). The grouping is
    found on a ``block``-times smaller grid, so the cost is one pass over the mask:
    scattered scratches on a camera-size photo become a few small crops instead of
    one box spanning the photo.

    Parameters
    ----------
    hole : ndarray, shape (H, W), bool
    margin : int
        Known pixels each crop keeps around its hole, in [0, block).
    block : int
        Grouping grid, in pixels.

    Returns
    -------
    list of tuple
        ``(box, own)`` per group; empty when there is no hole.
    """
    import cv2

    if not 0 <= margin < block:
        raise ValueError(f"margin must be in [0, {block}), got {margin}")
    height, width = hole.shape
    rows_b, cols_b = -(-height // block), -(-width // block)
    padded = np.zeros((rows_b * block, cols_b * block), bool)
    padded[:height, :width] = hole
    occupied = padded.reshape(rows_b, block, cols_b, block).any(axis=(1, 3))
    if not occupied.any():
        return []
    # Blocks that touch (8-neighbours) join: their pixels may be closer than `block`.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        occupied.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    regions = []
    for label in range(1, count):
        left_b, top_b, width_b, height_b = (int(v) for v in stats[label, :4])
        top, left = top_b * block, left_b * block
        bottom = min((top_b + height_b) * block, height)
        right = min((left_b + width_b) * block, width)
        group = np.repeat(np.repeat(labels[top_b:top_b + height_b, left_b:left_b + width_b] == label,
                                    block, axis=0), block, axis=1)
        group = group[:bottom - top, :right - left] & hole[top:bottom, left:right]
        rows = np.flatnonzero(group.any(axis=1))
        cols = np.flatnonzero(group.any(axis=0))
        box = (slice(max(top + rows[0] - margin, 0), min(top + rows[-1] + margin + 1, height)),
               slice(max(left + cols[0] - margin, 0), min(left + cols[-1] + margin + 1, width)))
        own = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), bool)
        # Paste the group's pixels (inside [top, bottom) x [left, right)) into the box.
        r0, c0 = max(box[0].start, top), max(box[1].start, left)
        r1, c1 = min(box[0].stop, bottom), min(box[1].stop, right)
        own[r0 - box[0].start:r1 - box[0].start, c0 - box[1].start:c1 - box[1].start] = \
            group[r0 - top:r1 - top, c0 - left:c1 - left]
        regions.append((box, own))
    return regions

#: Working memory of each method beyond its input and output, in bytes per pixel it
#: works on and per hole pixel, from ``bench/limits.py`` (peak RSS less the libraries'
#: and the inputs', RGB uint8, rounded up). Diffusion's direct solver grows with the
#: hole; patchmatch works on its crop (the hole's box plus its source band, see
#: :func:`work_pixels`: 2.1 GiB above the inputs, the output and the libraries
#: included, for a 9.1 MP crop of a 37 MP photo with a 5 % scribble, about 220 B per
#: crop pixel; 330 before its final vote worked on the hole's box); criminisi keeps
#: about 25 B per pixel of its crop (the hole's box plus its windows' reach) and 7 per
#: image pixel, counted here as 32 per image pixel (its harmonic guide's float crop
#: first: up to 30), and the rest per hole pixel, the guide's solve included; planar
#: took 299 B per pixel over the memory before its call on a 1024 px rendered corner
#: of two brick walls with a 20 % box hole (OpenCV's SIFT on the image doubled, not
#: seen by NumPy, is a large part); offsets 166 per pixel on limits.py's 1 MP photo
#: (``None`` row); the networks grow with the image. Methods not listed get the
#: ``None`` row.
MEMORY_COST: dict[str | None, tuple[float, float]] = {
    "diffusion": (60.0, 3000.0),
    "patchmatch": (240.0, 0.0),
    "criminisi": (32.0, 3200.0),
    "planar": (340.0, 0.0),
    None: (200.0, 0.0),
}

#: What importing a method's libraries costs (Numba, SciPy; torch for learned ones).
IMPORT_COST = {"classical": 150 * 2**20, "learned": 300 * 2**20}


def work_pixels(method: str, hole: np.ndarray | None, params: dict | None = None) -> int | None:
    """Pixels ``method`` works on for this ``hole``, where that is less than the image:
    patchmatch's crop (the hole's box plus its source band); else None (the image)."""
    if method != "patchmatch" or hole is None or not hole.any():
        return None
    from .algorithms.patchmatch import _check_source_margin, _source_box  # loaded by now

    params = params or {}
    try:
        margin = _check_source_margin(params.get("source_margin", "auto"))
        box = _source_box(hole, margin, int(params.get("patch_size", 7)))
    except (TypeError, ValueError):
        return None  # a bad option: the method itself says so, in its own words
    return None if box is None else (box[0].stop - box[0].start) * (box[1].stop - box[1].start)


def estimate_memory(method: str, shape, dtype, hole_pixels: int, *,
                    windowed: bool = False, work: int | None = None) -> int:
    """An upper estimate, in bytes, of the memory ``method`` needs for this input.

    The input and the output copy, plus the method's working memory from
    :data:`MEMORY_COST` (per pixel worked on and per hole pixel). With ``windowed``
    (see ``inpaintkit._windows``) the per-pixel work is a window's, plus a mask;
    ``work`` (see :func:`work_pixels`) is the pixel count of a method's crop, plus a
    mask and hole numbers for the image.
    """
    pixels = int(shape[0]) * int(shape[1])
    image_bytes = pixels * (int(shape[2]) if len(shape) == 3 else 1) * np.dtype(dtype).itemsize
    per_pixel, per_hole = MEMORY_COST.get(method, MEMORY_COST[None])
    if windowed:
        from ._windows import CORE, MIN_MARGIN

        window = (CORE + 2 * MIN_MARGIN) ** 2
        return int(2 * image_bytes + pixels + per_pixel * window
                   + per_hole * min(int(hole_pixels), window))
    if work is not None and work < pixels:
        return int(2 * image_bytes + 8 * pixels + per_pixel * work + per_hole * int(hole_pixels))
    return int(2 * image_bytes + per_pixel * pixels + per_hole * int(hole_pixels))


def _import_cost(method: str) -> int:
    """Memory the method's libraries will take if not imported yet."""
    import sys

    from . import registry

    try:
        kind = registry.get(method).kind
    except ValueError:
        return 0
    if kind == "learned":
        return 0 if "torch" in sys.modules else IMPORT_COST["learned"]
    return 0 if "numba" in sys.modules else IMPORT_COST["classical"]


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of the system's available
    memory and the cgroup's remaining limit; ``None`` where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit_file:
            limit = limit_file.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as current_file:
                limits.append(int(limit) - int(current_file.read().strip()))
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


def check_memory(method: str, shape, dtype, hole_pixels: int, *,
                 windowed: bool = False, hole: np.ndarray | None = None,
                 params: dict | None = None) -> None:
    """Raise ``MemoryError`` before starting when ``method`` would need more memory
    than the machine has left (see :func:`estimate_memory`; with the ``hole`` and the
    options, a method that works on a crop is estimated on it)."""
    need = estimate_memory(method, shape, dtype, hole_pixels, windowed=windowed,
                           work=work_pixels(method, hole, params))
    need += _import_cost(method)
    have = available_memory()
    if have is not None and need > have:
        raise MemoryError(
            f"not enough memory: {method} on a {shape[1]}x{shape[0]} image needs about "
            f"{_bytes(need)}, {_bytes(have)} is available; use a smaller image or crop "
            "around the hole"
        )


def _bytes(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"
