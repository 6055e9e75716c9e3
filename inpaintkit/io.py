"""Reading images and masks from files and writing results atomically.

The format is recognised from the file's first bytes, not its extension: a PNG named
``.jpg`` is read as the PNG it is. Before anything is decoded, the header is parsed
and an image larger than ``max_pixels`` (default 500 megapixels, or the
``INPAINTKIT_MAX_PIXELS`` environment variable) is refused, so a file built to claim
100000x100000 pixels costs nothing. PNG chunks are checked (lengths, CRCs, the end
chunk) before the decoder sees them, so a cut or damaged file gets a plain-words
message rather than a decoder's.

PNG (8/16-bit; gray, RGB, RGBA) is decoded by OpenCV, which keeps 16 bits per channel
(Pillow reduces 16-bit RGB to 8 bits); JPEG by Pillow with the EXIF orientation
applied; TIFF (8/16-bit, float) by tifffile. Other formats Pillow knows (BMP, GIF,
WebP...) are read by Pillow. Arrays are RGB(A), channels last, in the file's own dtype.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ._image import check_image, describe_pixels, max_pixels as _default_max_pixels
from ._lazy import LazyModule

# imageio (about 60 ms of start-up with the importlib.metadata it loads) only for JPEG
# and TIFF; PNG, the common case, goes through OpenCV alone.
iio = LazyModule("imageio.v3")

__all__ = ["read_image", "read_mask", "write_image", "alpha_hole", "image_header",
           "check_output_path", "ImageHeader", "WRITE_FORMATS",
           "sniff_format", "decode_image", "decode_mask", "encode_png"]

_PNG = {".png"}
_JPEG = {".jpg", ".jpeg"}
_TIFF = {".tif", ".tiff"}
WRITE_FORMATS = tuple(sorted(_PNG | _JPEG | _TIFF))

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# JPEG start-of-frame markers (C0-CF, less DHT C4, JPG C8 and DAC CC) carry the size.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, read without decoding the pixels.

    Attributes
    ----------
    format : {"PNG", "JPEG", "TIFF"} or another Pillow format name
    width, height : int
    """

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _check_readable(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} path is a folder, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{what} file is not readable: {path}")
    return path


class _Unreadable(ValueError):
    """A file that is not a readable image; the message is completed by the caller."""


def _png_header(path: Path, size: int) -> ImageHeader:
    """Walk the PNG chunks: lengths, CRCs and the end chunk are checked, IHDR read."""
    with open(path, "rb") as stream:
        stream.seek(8)
        offset, width, height, seen_data = 8, None, None, False
        while True:
            head = stream.read(8)
            if len(head) < 8:
                raise _Unreadable(f"the PNG file is cut short (it ends at byte {size} "
                                  "before its end marker)")
            length, kind = struct.unpack(">I4s", head)
            if length > size - offset - 12:
                raise _Unreadable(f"the PNG file is cut short (a {kind.decode('latin-1')!r} "
                                  f"block at byte {offset} runs past the end of the file)")
            if width is None:
                if kind != b"IHDR" or length != 13:
                    raise _Unreadable("the PNG file is damaged (its header block is missing)")
                body = stream.read(length)
                width, height = struct.unpack(">II", body[:8])
                crc_ok = zlib.crc32(kind + body) == struct.unpack(">I", stream.read(4))[0]
            else:
                crc = zlib.crc32(kind)
                left = length
                while left:
                    block = stream.read(min(left, 1 << 22))
                    crc = zlib.crc32(block, crc)
                    left -= len(block)
                crc_ok = crc == struct.unpack(">I", stream.read(4))[0]
            if not crc_ok:
                raise _Unreadable(f"the PNG file is damaged (the {kind.decode('latin-1')!r} "
                                  f"block at byte {offset} fails its checksum)")
            seen_data |= kind == b"IDAT"
            offset += 12 + length
            if kind == b"IEND":
                break
        if not seen_data:
            raise _Unreadable("the PNG file holds no image data")
    return ImageHeader("PNG", int(width), int(height))


def _jpeg_header(path: Path, size: int) -> ImageHeader:
    """Scan the JPEG markers up to the start-of-frame, which holds the size."""
    with open(path, "rb") as stream:
        stream.seek(2)
        while True:
            byte = stream.read(1)
            while byte == b"\xff":  # fill bytes before a marker
                byte = stream.read(1)
            if not byte:
                raise _Unreadable("the JPEG file is cut short (it ends before the image size)")
            marker = byte[0]
            if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
                continue
            raw = stream.read(2)
            if len(raw) < 2:
                raise _Unreadable("the JPEG file is cut short (it ends before the image size)")
            length = struct.unpack(">H", raw)[0]
            if marker in _JPEG_SOF:
                body = stream.read(5)
                if len(body) < 5:
                    raise _Unreadable("the JPEG file is cut short (it ends inside its header)")
                height, width = struct.unpack(">xHH", body)
                if height == 0 or width == 0:
                    raise _Unreadable("the JPEG file is damaged (its header gives a zero size)")
                return ImageHeader("JPEG", int(width), int(height))
            if marker == 0xDA or length < 2:
                raise _Unreadable("the JPEG file is damaged (no image size before the image data)")
            stream.seek(length - 2, os.SEEK_CUR)


@contextlib.contextmanager
def _quiet_tifffile():
    """tifffile logs its complaints about damaged files; ours is the one message."""
    tiff_logger = logging.getLogger("tifffile")
    previous = tiff_logger.level
    tiff_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        tiff_logger.setLevel(previous)


def _tiff_header(path: Path) -> ImageHeader:
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise _Unreadable("the TIFF file holds no image (it may be cut short)")
            page = tif.pages[0]
            height, width = int(page.imagelength), int(page.imagewidth)
    except _Unreadable:
        raise
    except Exception:
        raise _Unreadable("the TIFF file is damaged or cut short (its header cannot be "
                          "read)") from None
    return ImageHeader("TIFF", width, height)


def _other_header(path: Path, first: bytes) -> ImageHeader:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            width, height = opened.size
            return ImageHeader(opened.format or "image", int(width), int(height))
    except Image.DecompressionBombError as exc:  # Pillow's own (smaller) limit
        raise _Unreadable(f"the file claims too many pixels ({exc})") from None
    except Exception:
        shown = " ".join(f"{b:02x}" for b in first[:8])
        raise _Unreadable(
            f"not an image file this program reads (PNG, JPEG or TIFF expected; "
            f"it starts with the bytes {shown})") from None


def image_header(path, *, what: str = "image") -> ImageHeader:
    """Read an image file's format and size from its header, without decoding it.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for messages ("image", "mask").

    Returns
    -------
    ImageHeader

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        For a missing path, a folder or an unreadable file.
    ValueError
        For an empty, cut or damaged file, or one that is not an image, in plain words.
    """
    path = _check_readable(path, what)
    try:
        return _header(path)
    except _Unreadable as exc:
        raise ValueError(f"cannot read {what} {path}: {exc}") from None


def _header(path: Path) -> ImageHeader:
    size = path.stat().st_size
    if size == 0:
        raise _Unreadable("the file is empty (0 bytes)")
    with open(path, "rb") as stream:
        first = stream.read(16)
    if first.startswith(_PNG_SIGNATURE):
        return _png_header(path, size)
    if first.startswith(b"\xff\xd8\xff"):
        return _jpeg_header(path, size)
    if first[:4] in _TIFF_SIGNATURES:
        return _tiff_header(path)
    return _other_header(path, first)


def _check_size(header: ImageHeader, path: Path, what: str, limit: int | None) -> None:
    limit = _default_max_pixels() if limit is None else int(limit)
    if header.pixels > limit:
        raise ValueError(
            f"{what} {path} is too large: its header says {header.width}x{header.height} "
            f"pixels ({describe_pixels(header.pixels)}), the limit is {describe_pixels(limit)} "
            "(raise it with --max-pixels or INPAINTKIT_MAX_PIXELS); nothing was decoded"
        )


def _decode(path: Path, header: ImageHeader) -> np.ndarray:
    if header.format == "PNG":
        # Straight from the file: no second copy of the compressed bytes in memory.
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if array is None:
            raise _Unreadable("the PNG file is damaged (its image data cannot be decoded)")
        if array.ndim == 3:
            code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
            array = cv2.cvtColor(array, code)
        return array
    if header.format == "TIFF":
        try:
            with _quiet_tifffile():
                return iio.imread(path, plugin="tifffile", index=0)
        except Exception:
            raise _Unreadable("the TIFF file is damaged or cut short (its image data "
                              "cannot be decoded)") from None
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            opened = ImageOps.exif_transpose(opened)
            if opened.mode in ("1", "L", "RGB", "RGBA", "I;16", "LA"):
                picture = opened
            elif opened.mode in ("P", "PA") and "transparency" in opened.info or opened.mode == "PA":
                picture = opened.convert("RGBA")
            else:  # CMYK, YCbCr, palette... -> RGB
                picture = opened.convert("RGB")
            array = np.asarray(picture)
    except Exception as exc:
        cut = "truncated" in str(exc)
        raise _Unreadable(
            f"the {header.format} file is {'cut short' if cut else 'damaged'} "
            "(its image data cannot be decoded)") from None
    return array


def _read_array(path: Path, what: str, max_pixels: int | None) -> np.ndarray:
    try:
        header = _header(path)
        _check_size(header, path, what, max_pixels)
        array = np.asarray(_decode(path, header))
    except _Unreadable as exc:
        raise ValueError(f"cannot read {what} {path}: {exc}") from None
    except MemoryError:
        raise MemoryError(f"cannot read {what} {path}: not enough memory to decode "
                          f"{header.width}x{header.height} pixels") from None
    if array.size == 0 or array.ndim not in (2, 3):
        raise ValueError(f"cannot read {what} {path}: no image data (shape {array.shape})")
    # (EXIF orientation may swap the sides.)
    if sorted(array.shape[:2]) != sorted((header.height, header.width)):
        raise ValueError(f"cannot read {what} {path}: the {header.format} file is damaged "
                         f"(header says {header.width}x{header.height}, data is "
                         f"{array.shape[1]}x{array.shape[0]})")
    if array.ndim == 3 and array.shape[2] == 2:
        # gray + alpha -> RGBA
        gray, alpha = array[..., :1], array[..., 1:]
        array = np.concatenate([gray, gray, gray, alpha], axis=2)
    return np.ascontiguousarray(array)


def read_image(path, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file into an array that satisfies the image contract.

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF (or another format Pillow reads); recognised by content.
    max_pixels : int, optional
        Refuse, from the header and before decoding, a file with more pixels. Default:
        the ``INPAINTKIT_MAX_PIXELS`` environment variable, else 500 000 000.

    Returns
    -------
    ndarray, shape (H, W) or (H, W, C)
        RGB(A) channel order; uint8, uint16, float32 or float64.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        For a missing path, a folder or an unreadable file.
    ValueError, TypeError
        For an empty, cut, damaged or too large file, or data outside the contract
        (e.g. a 32-bit integer TIFF); one line in plain words.
    """
    path = _check_readable(path, "image")
    array = _read_array(path, "image", max_pixels)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    return check_image(array, name=f"image {path}")


def read_mask(path, shape: tuple[int, int] | None = None, *,
              max_pixels: int | None = None) -> np.ndarray:
    """Read a mask file; any non-zero colour marks the hole.

    Gray, RGB and RGBA files are accepted, in any format :func:`read_image` reads (not
    necessarily the photo's): a pixel is a hole where any colour channel is non-zero
    (and, for RGBA, the pixel is not fully transparent). JPEG masks are thresholded at
    half the range, so compression noise around black does not count.

    Parameters
    ----------
    path : str or Path
    shape : (int, int), optional
        The image's (H, W); a mask of another size raises ``ValueError`` (checked from
        the header, before decoding).
    max_pixels : int, optional
        As for :func:`read_image`.

    Returns
    -------
    ndarray, shape (H, W), bool
    """
    path = _check_readable(path, "mask")
    if shape is not None:
        try:
            header = _header(path)
        except _Unreadable as exc:
            raise ValueError(f"cannot read mask {path}: {exc}") from None
        if sorted((header.height, header.width)) != sorted(shape[:2]):
            raise ValueError(
                f"mask {path} is {header.width}x{header.height} pixels but the image is "
                f"{shape[1]}x{shape[0]}"
            )
    array = _read_array(path, "mask", max_pixels)
    jpeg = array.dtype == np.uint8 and _header(path).format == "JPEG"
    if array.dtype == np.bool_:
        hole = array if array.ndim == 2 else array.any(axis=2)
    else:
        if np.issubdtype(array.dtype, np.integer):
            top = float(np.iinfo(array.dtype).max)
        else:
            top = 1.0
        threshold = top / 2 if jpeg else 0
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


def check_output_path(path) -> Path:
    """Check, before any work, that ``path`` can be written by :func:`write_image`.

    The extension must be one of ``WRITE_FORMATS``, the folder must exist and be
    writable, and the path must not be a folder. Nothing is created.

    Raises
    ------
    ValueError, FileNotFoundError, IsADirectoryError, PermissionError
        One line naming the problem.
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
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the folder {folder} is not writable")
    return path


_WRITE_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EFBIG: "the file is too large for the file system",
}


def _write_error(exc: OSError, message: str) -> OSError:
    """An error of ``exc``'s type and errno whose text is ``message`` alone."""
    error = type(exc)(message)
    error.errno = exc.errno
    return error


def write_image(path, image, *, quality: int = 95) -> Path:
    """Write ``image`` to ``path`` atomically (a temporary file beside it, then rename).

    The format follows the extension: PNG (uint8/uint16; floats are stored as 16-bit),
    JPEG (8-bit, no alpha; ``quality`` 1-100), TIFF (any contract dtype, float kept).
    A crash, an interrupt or a full disk leaves either the old file or the new one,
    never half a file, and no temporary file.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    OSError
        When the write fails (full disk, read-only folder...), with the reason in words;
        nothing is left at ``path`` but what was there before.
    """
    path = check_output_path(path)
    suffix = path.suffix.lower()
    folder = path.parent if str(path.parent) else Path(".")
    image = _for_format(check_image(image), suffix)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    try:
        handle, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=suffix)
    except OSError as exc:
        reason = _WRITE_REASONS.get(exc.errno, exc.strerror or str(exc))
        raise _write_error(exc, f"cannot write {path}: {reason}") from None
    os.close(handle)
    try:
        _write_file(temp_name, image, suffix, quality)
        with open(temp_name, "rb+") as written:
            os.fsync(written.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(temp_name, _default_mode())
        os.replace(temp_name, path)
    except BaseException as exc:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno in _WRITE_REASONS:
            raise _write_error(exc, f"cannot write {path}: {_WRITE_REASONS[exc.errno]}") from None
        raise
    return path


def _write_file(name: str, image: np.ndarray, suffix: str, quality: int) -> None:
    """Encode ``image`` (already converted by :func:`_for_format`) into the file ``name``."""
    if suffix in _PNG:
        # What imageio's OpenCV plugin does (the same bytes), without importing imageio.
        if image.ndim == 3:
            code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
            image = cv2.cvtColor(image, code)
        if not cv2.imwrite(name, image):
            raise OSError(f"OpenCV could not write {name}")
    elif suffix in _JPEG:
        iio.imwrite(name, image, plugin="pillow", quality=int(quality))
    else:
        iio.imwrite(name, image, plugin="tifffile")


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
