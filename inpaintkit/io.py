"""Reading images and masks from files and writing results atomically.

PNG (8/16-bit; gray, RGB, RGBA) goes through imageio's OpenCV plugin, which keeps
16 bits per channel (Pillow reduces 16-bit RGB to 8 bits); JPEG through Pillow with
the EXIF orientation applied; TIFF (8/16-bit, float) through tifffile. Arrays are RGB(A),
channels last, in the file's own dtype.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np

from ._image import check_image

__all__ = ["read_image", "read_mask", "write_image", "alpha_hole", "WRITE_FORMATS",
           "sniff_format", "decode_image", "decode_mask", "encode_png"]

_PNG = {".png"}
_JPEG = {".jpg", ".jpeg"}
_TIFF = {".tif", ".tiff"}
WRITE_FORMATS = tuple(sorted(_PNG | _JPEG | _TIFF))


def _check_readable(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} path is a folder, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{what} file is not readable: {path}")
    return path


def _read_array(path: Path, what: str) -> np.ndarray:
    suffix = path.suffix.lower()
    try:
        if suffix in _PNG:
            array = iio.imread(path, plugin="opencv", flags=cv2.IMREAD_UNCHANGED)
        elif suffix in _JPEG:
            array = iio.imread(path, plugin="pillow", rotate=True)
        elif suffix in _TIFF:
            array = iio.imread(path, plugin="tifffile", index=0)
        else:
            array = iio.imread(path, index=0)
    except Exception as exc:  # imageio raises many types for a corrupt file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot read {what} {path}: not a readable image ({reason})") from None
    array = np.asarray(array)
    if array is None or array.size == 0 or array.ndim not in (2, 3):
        raise ValueError(f"cannot read {what} {path}: no image data (shape {getattr(array, 'shape', None)})")
    if array.ndim == 3 and array.shape[2] == 2:
        # gray + alpha -> RGBA
        gray, alpha = array[..., :1], array[..., 1:]
        array = np.concatenate([gray, gray, gray, alpha], axis=2)
    return np.ascontiguousarray(array)


def read_image(path) -> np.ndarray:
    """Read an image file into an array that satisfies the image contract.

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF (or another format imageio reads).

    Returns
    -------
    ndarray, shape (H, W) or (H, W, C)
        RGB(A) channel order; uint8, uint16, float32 or float64.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        For a missing path, a folder or an unreadable file.
    ValueError, TypeError
        For a corrupt file or data outside the contract (e.g. a 32-bit integer TIFF).
    """
    path = _check_readable(path, "image")
    array = _read_array(path, "image")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    return check_image(array, name=f"image {path}")


def read_mask(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask file; any non-zero colour marks the hole.

    Gray, RGB and RGBA files are accepted: a pixel is a hole where any colour channel
    is non-zero (and, for RGBA, the pixel is not fully transparent). JPEG masks are
    thresholded at half the range, so compression noise around black does not count.

    Parameters
    ----------
    path : str or Path
    shape : (int, int), optional
        The image's (H, W); a mask of another size raises ``ValueError``.

    Returns
    -------
    ndarray, shape (H, W), bool
    """
    path = _check_readable(path, "mask")
    array = _read_array(path, "mask")
    if array.dtype == np.bool_:
        hole = array if array.ndim == 2 else array.any(axis=2)
    else:
        if np.issubdtype(array.dtype, np.integer):
            top = float(np.iinfo(array.dtype).max)
        else:
            top = 1.0
        threshold = top / 2 if path.suffix.lower() in _JPEG else 0
        if array.ndim == 2:
            hole = array > threshold
        else:
            colour = array[..., :3] if array.shape[2] >= 3 else array
            hole = (colour > threshold).any(axis=2)
            if array.shape[2] == 4:
                hole &= array[..., 3] > 0
    if shape is not None and hole.shape != tuple(shape[:2]):
        raise ValueError(
            f"mask {path} is {hole.shape[1]}x{hole.shape[0]} pixels but the image is "
            f"{shape[1]}x{shape[0]}"
        )
    return np.ascontiguousarray(hole)


def alpha_hole(image: np.ndarray) -> np.ndarray:
    """The hole given by an RGBA image's transparency: pixels with alpha == 0."""
    if image.ndim != 3 or image.shape[2] != 4:
        raise ValueError(
            "no mask given and the image has no alpha channel: pass a mask file, "
            "or an RGBA image whose transparent pixels mark the hole"
        )
    return image[..., 3] == 0


def _for_format(image: np.ndarray, suffix: str) -> np.ndarray:
    """Convert ``image`` to what the format stores (documented in write_image)."""
    if suffix in _PNG:
        if np.issubdtype(image.dtype, np.floating):
            return np.rint(np.clip(image, 0, 1) * 65535).astype(np.uint16)
        return image
    if suffix in _JPEG:
        if image.ndim == 3 and image.shape[2] == 4:
            raise ValueError("JPEG cannot store an alpha channel; write PNG or TIFF instead")
        if image.dtype == np.uint16:
            return np.rint(image / 257.0).astype(np.uint8)
        if np.issubdtype(image.dtype, np.floating):
            return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
        return image
    return image


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_image(path, image, *, quality: int = 95) -> Path:
    """Write ``image`` to ``path`` atomically (a temporary file beside it, then rename).

    The format follows the extension: PNG (uint8/uint16; floats are stored as 16-bit),
    JPEG (8-bit, no alpha; ``quality`` 1-100), TIFF (any contract dtype, float kept).
    A crash leaves either the old file or the new one, never half a file.

    Returns
    -------
    Path
        The written path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise ValueError(
            f"cannot write {path}: unsupported extension {path.suffix or '(none)'}; "
            f"use one of {', '.join(WRITE_FORMATS)}"
        )
    if path.is_dir():
        raise IsADirectoryError(f"output path is a folder: {path}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    image = _for_format(check_image(image), suffix)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    handle, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=suffix)
    os.close(handle)
    try:
        if suffix in _PNG:
            iio.imwrite(temp_name, image, plugin="opencv")
        elif suffix in _JPEG:
            iio.imwrite(temp_name, image, plugin="pillow", quality=int(quality))
        else:
            iio.imwrite(temp_name, image, plugin="tifffile")
        with open(temp_name, "rb+") as written:
            os.fsync(written.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(temp_name, _default_mode())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise
    return path


# In-memory files (the web app's uploads): the format comes from the first bytes, never
# from a name or a content type, and nothing touches the disk.

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"),
)


def sniff_format(data: bytes, what: str = "image") -> str:
    """``"PNG"``, ``"JPEG"`` or ``"TIFF"`` from a file's first bytes; ``ValueError`` otherwise."""
    for magic, name in _MAGIC:
        if data[:len(magic)] == magic:
            return name
    raise ValueError(f"the {what} is not a PNG, JPEG or TIFF file (it starts with {data[:8]!r})")


def decode_image(data: bytes, *, what: str = "image", max_pixels: int | None = None) -> np.ndarray:
    """Decode an in-memory PNG, JPEG or TIFF file as :func:`read_image` reads one from disk.

    The pixel count is read from the header and checked against ``max_pixels`` before
    any pixel is decoded. Returns RGB(A), channels last, in the file's dtype.
    """
    import io as _io

    from PIL import Image

    kind = sniff_format(data, what)
    try:
        if kind == "TIFF":
            import tifffile

            with tifffile.TiffFile(_io.BytesIO(data)) as tif:
                shape = tif.pages[0].shape
                height, width = int(shape[0]), int(shape[1])
        else:
            with Image.open(_io.BytesIO(data)) as header:
                width, height = header.size
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot read the {what}: not a readable {kind} file ({reason})") from None
    if max_pixels is not None and width * height > max_pixels:
        raise ValueError(f"the {what} is {width}x{height} = {width * height:,} pixels; "
                         f"the limit is {max_pixels:,} pixels")
    try:
        if kind == "PNG":  # OpenCV keeps 16 bits per channel; imdecode needs no file
            array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if array is None:
                raise ValueError("OpenCV could not decode it")
            if array.ndim == 3:
                code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
                array = cv2.cvtColor(array, code)
        elif kind == "JPEG":
            array = iio.imread(data, plugin="pillow", rotate=True)
        else:
            array = iio.imread(data, plugin="tifffile", index=0)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot read the {what}: not a readable {kind} file ({reason})") from None
    array = np.asarray(array)
    if array.size == 0 or array.ndim not in (2, 3):
        raise ValueError(f"cannot read the {what}: no image data (shape {array.shape})")
    if array.ndim == 3 and array.shape[2] == 2:  # gray + alpha -> RGBA
        gray, alpha = array[..., :1], array[..., 1:]
        array = np.concatenate([gray, gray, gray, alpha], axis=2)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    return check_image(np.ascontiguousarray(array), name=f"the {what}")


def decode_mask(data: bytes, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Decode an in-memory mask file with :func:`read_mask`'s rules; (H, W) bool, True = hole."""
    array = decode_image(data, what="mask")
    top = float(np.iinfo(array.dtype).max) if np.issubdtype(array.dtype, np.integer) else 1.0
    threshold = top / 2 if sniff_format(data) == "JPEG" else 0
    if array.ndim == 2:
        hole = array > threshold
    else:
        hole = (array[..., :3] > threshold).any(axis=2) if array.shape[2] >= 3 else array[..., 0] > threshold
        if array.shape[2] == 4:
            hole &= array[..., 3] > 0
    if shape is not None and hole.shape != tuple(shape[:2]):
        raise ValueError(f"the mask is {hole.shape[1]}x{hole.shape[0]} pixels but the image is "
                         f"{shape[1]}x{shape[0]}")
    return np.ascontiguousarray(hole)


def encode_png(image: np.ndarray, *, compression: int = 3) -> bytes:
    """``image`` as PNG file bytes, stored as :func:`write_image` stores a PNG (8/16-bit)."""
    image = _for_format(check_image(image), ".png")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(image, code)
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return encoded.tobytes()
