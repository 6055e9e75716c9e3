"""The image/mask contract: validate inputs, normalise them for methods, convert back.

Every method goes through :func:`prepare` and :meth:`Prepared.finish`; no method
re-implements validation, dtype handling, alpha handling or compositing.

Rules (see DESIGN.md, "The public contract"):

- ``image`` is (H, W) or (H, W, C) with C in 1, 3, 4; dtype uint8, uint16, float32 or
  float64, floats in [0, 1].
- ``mask`` is (H, W), bool or integer; non-zero / True marks the hole.
- The result has the input's shape and dtype, and every pixel outside the hole is
  returned bit-for-bit unchanged.
- A fourth channel is alpha: it is carried through, not treated as colour; inside the
  hole it takes the value of the nearest known pixel.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)

#: Largest image accepted, in pixels (about 16k x 16k). Larger inputs are refused up
#: front rather than failing deep inside a method with an out-of-memory error.
MAX_PIXELS = 1 << 28


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
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ValueError(
            f"{name} is too large: {image.shape[0]}x{image.shape[1]} pixels, "
            f"the limit is {MAX_PIXELS} pixels"
        )
    return image


def check_mask(mask, shape: tuple[int, int], *, name: str = "mask") -> np.ndarray:
    """Validate ``mask`` and return it as a C-contiguous bool (H, W) array, True = hole.

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
    return np.ascontiguousarray(mask != 0)


def to_float(image: np.ndarray) -> np.ndarray:
    """Convert a contract dtype to float64 in [0, 1] (a copy)."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float64) / 65535.0
    return image.astype(np.float64)


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
        Hole pixels are set to 0: methods must not read them.
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
        if filled.shape != self.data.shape:
            raise RuntimeError(
                f"method returned shape {filled.shape}, expected {self.data.shape}"
            )
        if not np.all(np.isfinite(filled[self.mask])):
            raise RuntimeError("method produced non-finite values inside the hole")
        out = self.original.copy()
        hole = self.mask
        colour = from_float(filled[hole], self.original.dtype)
        if self.original.ndim == 2:
            out[hole] = colour[:, 0]
        else:
            out[hole, : colour.shape[1]] = colour
            if self.has_alpha:
                out[..., 3] = nearest_fill(self.original[..., 3], hole)
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
