"""``io.decode_image`` / ``decode_mask`` (the uploads' reader) agree with the file readers."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit import io


@pytest.mark.parametrize("suffix,dtype,channels", [
    (".png", np.uint8, 1), (".png", np.uint8, 3), (".png", np.uint16, 4), (".png", np.uint16, 3),
    (".tif", np.uint16, 3), (".tif", np.float32, 3), (".jpg", np.uint8, 3),
])
def test_decode_image_equals_read_image(tmp_path, suffix, dtype, channels):
    rng = np.random.default_rng(1)
    shape = (20, 30) if channels == 1 else (20, 30, channels)
    if dtype == np.float32:
        image = rng.random(shape).astype(dtype)
    else:
        image = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    path = io.write_image(tmp_path / f"a{suffix}", image)
    decoded = io.decode_image(path.read_bytes())
    expected = io.read_image(path)
    assert decoded.dtype == expected.dtype
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_decode_mask_equals_read_mask(tmp_path, suffix):
    mask = np.zeros((24, 32), np.uint8)
    mask[5:15, 8:20] = 255
    mask[0, 0] = 40  # dark grey: a hole in a PNG, JPEG noise level in a JPEG
    path = io.write_image(tmp_path / f"m{suffix}", np.dstack([mask] * 3))
    np.testing.assert_array_equal(io.decode_mask(path.read_bytes(), (24, 32)), io.read_mask(path))


def test_encode_png_round_trips_bit_depth_and_alpha():
    image = np.random.default_rng(2).integers(0, 65536, (9, 11, 4)).astype(np.uint16)
    np.testing.assert_array_equal(io.decode_image(io.encode_png(image)), image)
    floats = np.linspace(0, 1, 99).reshape(9, 11)
    assert io.decode_image(io.encode_png(floats)).dtype == np.uint16  # as write_image stores floats


@pytest.mark.parametrize("data,words", [
    (b"", "not a PNG, JPEG or TIFF"), (b"GIF89a....", "not a PNG, JPEG or TIFF"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a readable PNG"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 20, "not a readable JPEG"),
    (b"II*\x00" + b"\0" * 20, "not a readable TIFF"),
])
def test_bad_bytes_raise_one_clear_value_error(data, words):
    with pytest.raises(ValueError, match=words):
        io.decode_image(data)


def test_pixel_limit_is_checked_before_decoding():
    data = io.encode_png(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError, match="100x100 = 10,000 pixels; the limit is 9,999"):
        io.decode_image(data, max_pixels=9999)
