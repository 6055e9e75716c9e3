"""inpaintkit.edges: Canny of the known region only."""

import numpy as np
import pytest
from skimage.feature import canny as skimage_canny

from inpaintkit.edges import canny, merge_edges, to_gray


def _step(dtype=np.float64, channels=None):
    image = np.zeros((48, 48))
    image[:, 24:] = 1.0
    if channels:
        image = np.repeat(image[:, :, None], channels, axis=2)
    if dtype == np.uint8:
        return (image * 255).astype(np.uint8)
    if dtype == np.uint16:
        return (image * 65535).astype(np.uint16)
    return image.astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_step_edge_found_outside_hole_only(dtype, channels):
    image = _step(dtype, channels)
    hole = np.zeros((48, 48), bool)
    hole[10:30, 15:35] = True
    edges = canny(image, mask=hole)
    assert edges.dtype == np.bool_ and edges.shape == (48, 48)
    assert not edges[hole].any()
    # The step at column 23/24 is found above and below the hole.
    assert edges[1:8, 22:26].any(axis=1).all()  # row 0: image border, excluded
    assert edges[33:47, 22:26].any(axis=1).all()
    # Nowhere else.
    far = np.ones((48, 48), bool)
    far[:, 20:28] = False
    assert not edges[far].any()


def test_hole_border_and_contents_create_no_edges():
    image = np.full((40, 40), 0.5)
    hole = np.zeros((40, 40), bool)
    hole[12:28, 12:28] = True
    image[hole] = np.nan  # the hole's contents are never read
    edges = canny(image, mask=hole)
    assert not edges.any()
    # Without the mask, a black hole would create a square of edges: the mask matters.
    holed = np.where(hole, 0.0, 0.5)
    assert canny(holed).any()


def test_matches_skimage_without_hole():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32))
    np.testing.assert_array_equal(canny(image, sigma=1.5), skimage_canny(image, sigma=1.5))


def test_thresholds_and_sigma_checked():
    image = _step()
    assert canny(image, low_threshold=0.01, high_threshold=0.02).any()
    assert not canny(image, low_threshold=5.0, high_threshold=10.0).any()
    with pytest.raises(ValueError, match="sigma"):
        canny(image, sigma=-1)
    with pytest.raises(ValueError, match="mask has shape"):
        canny(image, mask=np.zeros((3, 3), bool))


def test_to_gray_and_merge_edges():
    rgb = np.zeros((4, 4, 3))
    rgb[..., 1] = 1.0
    np.testing.assert_allclose(to_gray(rgb), 0.7154)
    hole = np.zeros((4, 4), bool)
    hole[1:3, 1:3] = True
    merged = merge_edges(np.ones((4, 4), bool), np.zeros((4, 4)), hole)
    assert merged.dtype == np.float64
    assert (merged[hole] == 0).all() and (merged[~hole] == 1).all()
    with pytest.raises(ValueError, match="same"):
        merge_edges(np.ones((4, 4)), np.ones((3, 3)), hole)
