"""Reading and writing files: formats, bit depths, EXIF, masks, corrupt input, atomicity."""

import os

import numpy as np
import pytest
from PIL import Image

from inpaintkit import io


def random_image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    return rng.random(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(9, 13), (9, 13, 3), (9, 13, 4)])
def test_png_round_trip_is_exact(tmp_path, dtype, shape):
    image = random_image(shape, dtype)
    path = io.write_image(tmp_path / "x.png", image)
    back = io.read_image(path)
    assert back.dtype == dtype and back.shape == shape
    assert np.array_equal(back, image)


def test_png_channel_order_is_rgb(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 200  # red
    io.write_image(tmp_path / "red.png", image)
    with Image.open(tmp_path / "red.png") as pil:
        assert pil.getpixel((0, 0)) == (200, 0, 0)
    assert io.read_image(tmp_path / "red.png")[0, 0].tolist() == [200, 0, 0]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_tiff_round_trip_keeps_dtype(tmp_path, dtype):
    image = random_image((8, 6, 3), dtype)
    back = io.read_image(io.write_image(tmp_path / "x.tif", image))
    assert back.dtype == dtype and np.array_equal(back, image)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif, quality=100)
    back = io.read_image(tmp_path / "r.jpg")
    assert back.shape == (20, 10, 3)  # displayed upright: portrait
    assert back[:8].mean() > 200 and back[12:].mean() < 50  # white moved to the top


def test_float_to_png_is_16_bit_and_jpeg_refuses_alpha(tmp_path):
    image = np.linspace(0, 1, 64).reshape(8, 8)
    back = io.read_image(io.write_image(tmp_path / "f.png", image))
    assert back.dtype == np.uint16 and np.allclose(back / 65535.0, image, atol=1e-5)
    with pytest.raises(ValueError, match="JPEG cannot store an alpha channel"):
        io.write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), np.uint8))


def test_read_mask_variants(tmp_path):
    hole = np.zeros((10, 12), bool)
    hole[2:5, 3:9] = True
    gray = hole.astype(np.uint8) * 255
    io.write_image(tmp_path / "gray.png", gray)
    assert np.array_equal(io.read_mask(tmp_path / "gray.png"), hole)
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[hole, 1] = 3  # any non-zero colour counts
    io.write_image(tmp_path / "rgb.png", rgb)
    assert np.array_equal(io.read_mask(tmp_path / "rgb.png"), hole)
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[hole] = (255, 255, 255, 255)
    rgba[0, 0] = (255, 255, 255, 0)  # painted but fully transparent: not a hole
    io.write_image(tmp_path / "rgba.png", rgba)
    assert np.array_equal(io.read_mask(tmp_path / "rgba.png"), hole)
    # JPEG: compression noise around black must not become hole pixels.
    Image.fromarray(gray).save(tmp_path / "m.jpg", quality=60)
    assert np.array_equal(io.read_mask(tmp_path / "m.jpg"), hole)


def test_read_mask_of_other_size(tmp_path):
    io.write_image(tmp_path / "m.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(ValueError, match="12x10 pixels but the image is 20x10"):
        io.read_mask(tmp_path / "m.png", (10, 20))


def test_alpha_hole():
    image = np.full((5, 5, 4), 255, np.uint8)
    image[1:3, 1:3, 3] = 0
    assert io.alpha_hole(image).sum() == 4
    with pytest.raises(ValueError, match="no alpha channel"):
        io.alpha_hole(np.zeros((5, 5, 3), np.uint8))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="image file not found"):
        io.read_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        io.read_image(tmp_path)
    (tmp_path / "junk.png").write_bytes(b"this is not a png at all")
    with pytest.raises(ValueError, match="cannot read image"):
        io.read_image(tmp_path / "junk.png")
    good = io.write_image(tmp_path / "good.png", random_image((64, 64, 3), np.uint8))
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read image"):
        io.read_image(tmp_path / "cut.png")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read image"):
        io.read_image(tmp_path / "empty.tif")


def test_unsupported_read_dtype(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "i32.tif", np.zeros((4, 4), np.int32))
    with pytest.raises(TypeError, match="unsupported dtype int32"):
        io.read_image(tmp_path / "i32.tif")


def test_write_errors(tmp_path):
    image = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="unsupported extension .gif"):
        io.write_image(tmp_path / "x.gif", image)
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        io.write_image(tmp_path / "no" / "x.png", image)
    with pytest.raises(IsADirectoryError):
        (tmp_path / "d.png").mkdir()
        io.write_image(tmp_path / "d.png", image)


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    old = random_image((6, 6), np.uint8, seed=1)
    io.write_image(target, old)

    def crash(*args, **kwargs):
        with open(args[0], "wb") as half:
            half.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(io, "_write_file", crash)
    with pytest.raises(OSError, match="disk full"):
        io.write_image(target, random_image((6, 6), np.uint8, seed=2))
    monkeypatch.undo()
    assert np.array_equal(io.read_image(target), old)  # old file intact
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary left behind


def test_written_file_mode_is_not_private(tmp_path):
    path = io.write_image(tmp_path / "m.png", np.zeros((3, 3), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


@pytest.mark.parametrize("shape, dtype", [((7, 9, 3), np.uint8), ((7, 9, 4), np.uint8),
                                          ((7, 9), np.uint8), ((7, 9, 3), np.uint16),
                                          ((5, 6, 4), np.uint16), ((5, 6, 3), np.float64)])
def test_png_is_written_as_imageios_opencv_plugin_writes_it(tmp_path, shape, dtype):
    # PNG goes straight through OpenCV (no imageio import at start-up): the same bytes.
    import imageio.v3 as iio

    image = random_image(shape, dtype, seed=3)
    ours = io.write_image(tmp_path / "ours.png", image)
    iio.imwrite(tmp_path / "theirs.png", io._for_format(image, ".png"), plugin="opencv")
    assert ours.read_bytes() == (tmp_path / "theirs.png").read_bytes()
