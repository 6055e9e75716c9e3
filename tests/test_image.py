"""The image/mask contract: validation errors, dtype round trips, alpha, compositing."""

import numpy as np
import pytest

from inpaintkit._image import MAX_PIXELS, check_has_hole, from_float, prepare, to_float

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SHAPES = [(12, 10), (12, 10, 1), (12, 10, 3), (12, 10, 4)]


def make_image(shape, dtype, seed=0):
    values = np.random.default_rng(seed).random(shape)
    return from_float(values, dtype)


def hole_mask(shape=(12, 10)):
    mask = np.zeros(shape, bool)
    mask[3:7, 2:6] = True
    return mask


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_prepare_finish_round_trip(dtype, shape):
    image = make_image(shape, dtype)
    mask = hole_mask()
    prep = prepare(image, mask)
    colour = 3 if len(shape) == 3 and shape[2] >= 3 else 1
    assert prep.data.shape == (12, 10, colour)
    assert prep.data.dtype == np.float64 and prep.data.flags.c_contiguous
    assert np.all(prep.data[mask] == 0)  # methods cannot peek into the hole
    filled = np.full(prep.data.shape, 0.5)
    out = prep.finish(filled)
    assert out.shape == image.shape and out.dtype == image.dtype
    # Known pixels bit-for-bit unchanged (compare bytes, so -0.0 vs 0.0 would show).
    assert out[~mask].tobytes() == image[~mask].tobytes()
    expected = from_float(np.array([0.5]), dtype)[0]
    hole_values = out[mask] if out.ndim == 2 else out[mask][:, :colour]
    assert np.all(hole_values == expected)


def test_alpha_carried_and_filled_by_nearest_value():
    image = np.zeros((8, 8, 4), np.uint8)
    image[..., 3] = 255
    image[:, 4:, 3] = 100  # right half half-transparent
    mask = np.zeros((8, 8), bool)
    mask[2:6, 1:3] = True  # hole on the left: nearest alpha is 255
    mask[2:6, 6] = True  # hole on the right: nearest alpha is 100
    out = prepare(image, mask).finish(np.ones((8, 8, 3)))
    assert np.all(out[2:6, 1:3, 3] == 255)
    assert np.all(out[2:6, 6, 3] == 100)
    assert np.all(out[mask][:, :3] == 255)


def test_nan_inside_hole_is_accepted_outside_is_refused():
    image = np.random.default_rng(0).random((10, 10))
    mask = hole_mask((10, 10))
    image[4, 4] = np.nan
    prepare(image, mask)  # NaN in the hole: fine, it is replaced
    image[0, 0] = np.nan
    with pytest.raises(ValueError, match="image contains NaN"):
        prepare(image, mask)


def test_float_out_of_range_is_refused():
    image = np.full((10, 10), 1.5)
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        prepare(image, hole_mask((10, 10)))


@pytest.mark.parametrize(
    "image, message, error",
    [
        (np.zeros((5, 5, 2), np.uint8), "1, 3 or 4 channels", ValueError),
        (np.zeros((5, 5, 5), np.uint8), "1, 3 or 4 channels", ValueError),
        (np.zeros((5,), np.uint8), r"shape \(H, W\) or \(H, W, C\)", ValueError),
        (np.zeros((2, 5, 5, 3), np.uint8), r"shape \(H, W\) or \(H, W, C\)", ValueError),
        (np.zeros((0, 5), np.uint8), "empty", ValueError),
        (np.zeros((5, 5), np.int32), "unsupported dtype int32", TypeError),
        (np.zeros((5, 5), bool), "unsupported dtype bool", TypeError),
        (np.zeros((5, 5), np.float16), "unsupported dtype float16", TypeError),
    ],
)
def test_bad_images(image, message, error):
    mask = np.zeros(image.shape[:2] if image.ndim >= 2 else (5,), bool)
    with pytest.raises(error, match=message):
        prepare(image, mask)


def test_huge_image_is_refused_up_front():
    huge = np.broadcast_to(np.uint8(0), (MAX_PIXELS // 1000 + 1, 1000))
    with pytest.raises(ValueError, match="too large"):
        prepare(huge, np.broadcast_to(False, huge.shape))


def test_mask_errors():
    image = np.zeros((6, 6), np.uint8)
    with pytest.raises(ValueError, match=r"mask has shape \(5, 6\) but the image is \(6, 6\)"):
        prepare(image, np.zeros((5, 6), bool))
    with pytest.raises(TypeError, match="mask must be bool or integer"):
        prepare(image, np.zeros((6, 6), np.float64))
    with pytest.raises(ValueError, match="covers the whole image"):
        prepare(image, np.ones((6, 6), bool))
    with pytest.raises(TypeError, match="mask must be an array"):
        prepare(image, None)


def test_integer_mask_non_zero_is_hole():
    image = np.zeros((4, 4), np.uint8)
    mask = np.zeros((4, 4), np.int64)
    mask[1, 1] = 7
    mask[2, 2] = -1
    prep = prepare(image, mask)
    assert prep.mask.dtype == bool and prep.mask.sum() == 2


def test_empty_mask_warns():
    prep = prepare(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool))
    with pytest.warns(UserWarning, match="no hole pixels"):
        assert check_has_hole(prep) is False


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_from_float_exact_for_integers(dtype):
    image = make_image((7, 9), dtype, seed=3)
    assert from_float(to_float(image), dtype).tobytes() == image.tobytes()


def test_finish_rejects_wrong_shape_and_nan():
    prep = prepare(np.zeros((4, 4, 3), np.uint8), hole_mask((4, 4)))
    with pytest.raises(RuntimeError, match="shape"):
        prep.finish(np.zeros((4, 4, 1)))
    bad = np.zeros((4, 4, 3))
    bad[3, 3] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        prep.finish(bad)


def test_patchmatch_memory_estimate_follows_its_crop():
    """Issue 22: a small hole in a large photo is estimated on patchmatch's crop (the
    hole's box plus its source band), not on the photo."""
    pytest.importorskip("numba")
    from inpaintkit import _image

    hole = np.zeros((4000, 6000), bool)
    hole[1000:1100, 2000:2200] = True
    work = _image.work_pixels("patchmatch", hole)
    assert work == (100 + 2 * 256) * (200 + 2 * 256)
    assert _image.work_pixels("patchmatch", hole, {"source_margin": None}) is None
    assert _image.work_pixels("patchmatch", hole, {"source_margin": "wide"}) is None
    assert _image.work_pixels("criminisi", hole) is None
    shape = (*hole.shape, 3)
    whole = _image.estimate_memory("patchmatch", shape, np.uint8, int(hole.sum()))
    cropped = _image.estimate_memory("patchmatch", shape, np.uint8, int(hole.sum()), work=work)
    assert cropped < whole / 10


# --------------------------------------------------------------------------------------
# morphology on the hole's blocks only (auto's routing on camera-size photos)
# --------------------------------------------------------------------------------------

def _block_masks():
    import cv2

    from inpaintkit import masks

    rng = np.random.default_rng(11)
    cases = []
    for shape in ((300, 500), (129, 257), (700, 390), (5, 300), (64, 64)):
        lines = np.zeros(shape, np.uint8)
        for _ in range(4):
            ends = rng.integers(0, (shape[1], shape[0]), (2, 2))
            cv2.line(lines, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1, 3)
        cases += [lines.astype(bool), rng.random(shape) < 0.3, masks.thin_strokes(shape, seed=2)]
    full = np.zeros((300, 500), bool)
    full[:140, 200:] = True  # deep, and touching the image border
    return cases + [full, np.ones((40, 70), bool)]


def test_hole_blocks_marks_exactly_the_blocks_with_hole_pixels():
    from inpaintkit._image import hole_blocks

    for hole in _block_masks():
        for block in (16, 64, 128):
            rows_b, cols_b = -(-hole.shape[0] // block), -(-hole.shape[1] // block)
            padded = np.zeros((rows_b * block, cols_b * block), bool)
            padded[:hole.shape[0], :hole.shape[1]] = hole
            want = padded.reshape(rows_b, block, cols_b, block).any(axis=(1, 3))
            np.testing.assert_array_equal(hole_blocks(hole, block), want)


def test_eroded_count_equals_one_erosion_of_the_whole_mask():
    import cv2

    from inpaintkit._image import eroded_count

    yy, xx = np.mgrid[-6:7, -6:7]
    kernels = (np.ones((9, 9), np.uint8), np.ones((129, 129), np.uint8),
               (yy * yy + xx * xx <= 36).astype(np.uint8))
    for hole in _block_masks():
        for kernel in kernels:
            whole = cv2.erode(hole.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                              borderValue=1)
            assert eroded_count(hole, kernel) == cv2.countNonZero(whole)


def ring_texture_reference(image, hole, ring=6):
    """auto's ring texture on the whole image: one dilation, one gather."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    near = (cv2.dilate(hole.view(np.uint8), kernel) > 0) & ~hole
    near[-1, :] = False
    near[:, -1] = False
    ys, xs = np.nonzero(near)
    keep = ~hole[ys, xs + 1] & ~hole[ys + 1, xs]
    ys, xs = ys[keep], xs[keep]
    if ys.size == 0:
        return 0.0
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    scale = 1.0 / np.iinfo(colour.dtype).max if colour.dtype.kind == "u" else 1.0

    def luma(y, x):
        value = colour[y, x].astype(np.float64)
        return (value.mean(axis=-1) if value.ndim == 2 else value) * scale

    here = luma(ys, xs)
    return float((np.abs(luma(ys, xs + 1) - here) + np.abs(luma(ys + 1, xs) - here)).mean())


@pytest.mark.parametrize("channels", (None, 3, 4))
def test_ring_texture_on_blocks_equals_the_whole_image_reference(channels):
    import inpaintkit

    rng = np.random.default_rng(12)
    for hole in _block_masks():
        shape = hole.shape if channels is None else (*hole.shape, channels)
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        want = ring_texture_reference(image, hole)
        assert inpaintkit._ring_texture(image, hole) == pytest.approx(want, rel=1e-12, abs=1e-15)
