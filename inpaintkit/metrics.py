"""Image quality metrics for inpainting: PSNR, SSIM, L1 and the texture ratio.

Each takes ``mask=`` to score the hole only. As in scikit-image, integer images use
their dtype's range and float images require an explicit ``data_range``: guessing it
from the data silently changes the score.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

__all__ = ["psnr", "ssim", "l1", "texture_ratio"]


def _pair(truth, result) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth)
    result = np.asarray(result)
    if truth.shape != result.shape:
        raise ValueError(f"truth and result must have the same shape, got {truth.shape} and {result.shape}")
    if truth.dtype != result.dtype:
        raise TypeError(f"truth and result must have the same dtype, got {truth.dtype} and {result.dtype}")
    if truth.size == 0:
        raise ValueError("truth and result are empty")
    return truth, result


def _data_range(image: np.ndarray, data_range) -> float:
    if data_range is not None:
        if not data_range > 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        return float(data_range)
    if np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            "data_range is required for float images (e.g. data_range=1.0 for images in [0, 1])"
        )
    if image.dtype == np.bool_:
        return 1.0
    info = np.iinfo(image.dtype)
    return float(info.max - info.min)


def _region(mask, shape) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != tuple(shape[:2]):
        raise ValueError(f"mask has shape {mask.shape} but the images are {tuple(shape[:2])}")
    mask = mask != 0
    if not mask.any():
        raise ValueError("mask selects no pixel to score")
    return mask


def psnr(truth, result, *, mask=None, data_range=None) -> float:
    """Peak signal-to-noise ratio in dB, over the whole image or the masked pixels.

    Parameters
    ----------
    truth, result : ndarray, shape (H, W) or (H, W, C)
        Same shape and dtype.
    mask : ndarray, shape (H, W), optional
        Non-zero pixels are scored (all their channels); default: every pixel.
    data_range : float, optional
        Required for float images; integer images default to their dtype's range.

    Returns
    -------
    float
        ``inf`` for identical inputs. Equals ``skimage.metrics.peak_signal_noise_ratio``
        without a mask.
    """
    truth, result = _pair(truth, result)
    span = _data_range(truth, data_range)
    region = _region(mask, truth.shape)
    diff = truth.astype(np.float64) - result.astype(np.float64)
    if region is not None:
        diff = diff[region]
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(span * span / mse))


def ssim(truth, result, *, mask=None, data_range=None, gaussian_weights=False, win_size=None) -> float:
    """Structural similarity, scikit-image compatible by default.

    Parameters
    ----------
    truth, result : ndarray, shape (H, W) or (H, W, C)
    mask : ndarray, shape (H, W), optional
        Average the SSIM map over these pixels only.
    data_range : float, optional
        Required for float images.
    gaussian_weights : bool
        False (default): 7x7 uniform window and sample covariance, as
        ``skimage.metrics.structural_similarity``. True: the 11x11 Gaussian window
        (sigma 1.5) and population covariance of Wang et al. (2004),
        doi:10.1109/TIP.2003.819861.
    win_size : int, optional
        Window side for the uniform window (default 7).

    Returns
    -------
    float
    """
    truth, result = _pair(truth, result)
    span = _data_range(truth, data_range)
    region = _region(mask, truth.shape)
    kwargs = {"data_range": span, "full": True}
    if truth.ndim == 3:
        kwargs["channel_axis"] = 2
    if gaussian_weights:
        kwargs.update(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    elif win_size is not None:
        kwargs["win_size"] = win_size
    value, full = structural_similarity(
        truth.astype(np.float64), result.astype(np.float64), **kwargs
    )
    if region is None:
        return float(value)
    # skimage's mean crops (win_size - 1) // 2 at the border; the masked mean uses
    # every hole pixel of the full map, which is what "the hole's SSIM" means.
    if full.ndim == 3:
        full = full.mean(axis=2)
    return float(full[region].mean())


def l1(truth, result, *, mask=None, data_range=None) -> float:
    """Mean absolute error divided by ``data_range`` (0 = identical, 1 = opposite)."""
    truth, result = _pair(truth, result)
    span = _data_range(truth, data_range)
    region = _region(mask, truth.shape)
    diff = np.abs(truth.astype(np.float64) - result.astype(np.float64))
    if region is not None:
        diff = diff[region]
    return float(diff.mean() / span)


def _gradient_magnitude(image: np.ndarray) -> np.ndarray:
    values = image.astype(np.float64)
    if values.ndim == 3:
        values = values.mean(axis=2)
    gx = ndimage.sobel(values, axis=1, mode="reflect")
    gy = ndimage.sobel(values, axis=0, mode="reflect")
    return np.hypot(gx, gy)


def texture_ratio(truth, result, mask) -> float:
    """Detail kept inside the hole: mean gradient magnitude of ``result`` over ``truth``.

    1 means the fill is as detailed as the truth; near 0 means a blurred, flat fill;
    above 1, more edges than the truth (noise, seams). Gradients are Sobel on the
    channel mean; the ratio is scale-free, so no ``data_range`` is needed.

    Parameters
    ----------
    truth, result : ndarray, shape (H, W) or (H, W, C)
    mask : ndarray, shape (H, W)
        The hole.

    Returns
    -------
    float
        ``nan`` where the truth is perfectly flat inside the hole.
    """
    truth, result = _pair(truth, result)
    region = _region(mask, truth.shape)
    truth_detail = _gradient_magnitude(truth)[region].mean()
    result_detail = _gradient_magnitude(result)[region].mean()
    if truth_detail == 0:
        return float("nan")
    return float(result_detail / truth_detail)
