"""Mask generators: seeded, right shape and ratio, different seeds differ."""

import numpy as np
import pytest

from inpaintkit import masks

GENERATORS = [masks.free_form, masks.boxes, masks.thin_strokes, masks.object_removal]


@pytest.mark.parametrize("generator", GENERATORS)
def test_seeded_and_shaped(generator):
    a = generator((96, 128), seed=5)
    b = generator((96, 128), seed=5)
    c = generator((96, 128), seed=6)
    assert a.shape == (96, 128) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0 < a.mean() < 1


@pytest.mark.parametrize("lo, hi", masks.RATIO_BUCKETS)
@pytest.mark.parametrize("shape", [(256, 256), (120, 200)])
def test_ratio_buckets(lo, hi, shape):
    for seed in range(3):
        mask = masks.in_ratio_bucket(shape, lo, hi, seed=seed)
        assert lo < mask.mean() <= hi
    assert np.array_equal(masks.in_ratio_bucket(shape, lo, hi, seed=1),
                          masks.in_ratio_bucket(shape, lo, hi, seed=1))


def test_buckets_are_the_standard_six():
    assert masks.RATIO_BUCKETS[0] == (0.01, 0.1) and masks.RATIO_BUCKETS[-1] == (0.5, 0.6)
    assert masks.bucket_label(0.1, 0.2) == "(0.1,0.2]"


def test_object_removal_ratio():
    for seed in range(10):
        ratio = masks.object_removal((200, 300), seed=seed).mean()
        assert 0.08 < ratio < 0.27  # 10-25 % up to rasterisation


def test_thin_strokes_are_thin():
    from scipy import ndimage

    for seed in range(5):
        # One stroke (crossings of several make thicker spots): no pixel is deeper than
        # the width, even where a curve folds back on itself.
        mask = masks.thin_strokes((256, 256), seed=seed, count=1, max_width=3)
        assert ndimage.distance_transform_edt(mask).max() <= 3.0


def test_errors():
    with pytest.raises(ValueError, match="lo < hi"):
        masks.in_ratio_bucket((64, 64), 0.5, 0.2)
    with pytest.raises(ValueError, match="shape must be"):
        masks.free_form((2, 2))
    with pytest.raises(ValueError, match="shape must be"):
        masks.boxes("big")
