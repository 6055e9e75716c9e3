"""Metrics agree with scikit-image and with hand-computed values."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaintkit import metrics


@pytest.fixture(scope="module")
def pair():
    truth = data.astronaut()[:128, :128]
    noise = np.random.default_rng(1).integers(-25, 26, truth.shape)
    result = np.clip(truth.astype(int) + noise, 0, 255).astype(np.uint8)
    return truth, result


def test_psnr_matches_skimage(pair):
    truth, result = pair
    assert metrics.psnr(truth, result) == pytest.approx(peak_signal_noise_ratio(truth, result), abs=1e-12)
    f_truth, f_result = truth / 255.0, result / 255.0
    assert metrics.psnr(f_truth, f_result, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(f_truth, f_result, data_range=1.0), abs=1e-9)


def test_ssim_matches_skimage(pair):
    truth, result = pair
    expected = structural_similarity(truth, result, channel_axis=2)
    assert metrics.ssim(truth, result) == pytest.approx(expected, abs=1e-12)
    gray_t, gray_r = truth[..., 0], result[..., 0]
    expected_gauss = structural_similarity(gray_t, gray_r, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=255)
    assert metrics.ssim(gray_t, gray_r, gaussian_weights=True) == pytest.approx(expected_gauss, abs=1e-12)


def test_masked_psnr_and_l1_by_hand():
    truth = np.zeros((4, 4), np.uint8)
    result = truth.copy()
    result[0, 0] = 51  # error 0.2 of the range on one pixel
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # two scored pixels
    mse = (51.0 ** 2) / 2
    assert metrics.psnr(truth, result, mask=mask) == pytest.approx(10 * np.log10(255 ** 2 / mse))
    assert metrics.l1(truth, result, mask=mask) == pytest.approx(0.1)
    assert metrics.l1(truth, result) == pytest.approx(0.2 / 16)
    assert metrics.psnr(truth, truth) == float("inf")


def test_masked_ssim_is_mean_of_map(pair):
    truth, result = pair
    mask = np.zeros(truth.shape[:2], bool)
    mask[40:80, 30:90] = True
    _, full = structural_similarity(truth, result, channel_axis=2, full=True)
    assert metrics.ssim(truth, result, mask=mask) == pytest.approx(full.mean(axis=2)[mask].mean())


def test_float_needs_data_range():
    a = np.zeros((8, 8))
    with pytest.raises(ValueError, match="data_range is required"):
        metrics.psnr(a, a)
    with pytest.raises(ValueError, match="data_range is required"):
        metrics.ssim(a, a)


def test_shape_and_mask_errors():
    a = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(a, np.zeros((8, 9), np.uint8))
    with pytest.raises(ValueError, match="selects no pixel"):
        metrics.psnr(a, a, mask=np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="mask has shape"):
        metrics.l1(a, a, mask=np.ones((4, 4), bool))


def test_texture_ratio():
    truth = data.camera()[100:228, 100:228]
    mask = np.zeros(truth.shape, bool)
    mask[32:96, 32:96] = True
    assert metrics.texture_ratio(truth, truth, mask) == pytest.approx(1.0)
    blurred = truth.copy()
    blurred[mask] = ndimage.gaussian_filter(truth.astype(float), 4)[mask].astype(np.uint8)
    assert metrics.texture_ratio(truth, blurred, mask) < 0.6
    flat = truth.copy()
    flat[mask] = int(truth[mask].mean())
    assert metrics.texture_ratio(truth, flat, mask) < 0.35
    constant = np.full((16, 16), 7, np.uint8)
    assert np.isnan(metrics.texture_ratio(constant, constant, np.ones((16, 16), bool)))
