"""Tests for the fast-marching fills (telea, coherence) against plain NumPy/Python references."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from scipy import ndimage

from inpaintkit._image import prepare
from inpaintkit.algorithms import fast_marching as fm
from inpaintkit.algorithms._fast_marching_kernels import fast_march

FILLS = {"telea": fm.fill_telea, "coherence": fm.fill_coherence}


# --------------------------------------------------------------------------- references


def ref_fast_march(hole):
    """Sethian's fast marching with heapq and lazy deletion; ties broken by flat index."""
    height, width = hole.shape
    T = np.where(hole, np.inf, 0.0)
    accepted = ~hole.copy()

    def update(y, x):
        ux = min([T[y, xx] for xx in (x - 1, x + 1) if 0 <= xx < width and accepted[y, xx]],
                 default=math.inf)
        uy = min([T[yy, x] for yy in (y - 1, y + 1) if 0 <= yy < height and accepted[yy, x]],
                 default=math.inf)
        low, high = min(ux, uy), max(ux, uy)
        if high - low >= 1.0:
            return low + 1.0
        return (low + high + math.sqrt(2.0 - (high - low) * (high - low))) * 0.5

    def neighbours(y, x):
        for yy, xx in ((y, x - 1), (y, x + 1), (y - 1, x), (y + 1, x)):
            if 0 <= yy < height and 0 <= xx < width:
                yield yy, xx

    heap = []
    for y, x in zip(*np.nonzero(hole)):
        if any(accepted[n] for n in neighbours(y, x)):
            T[y, x] = update(y, x)
            heapq.heappush(heap, (T[y, x], y * width + x))
    order = []
    while heap:
        t, i = heapq.heappop(heap)
        y, x = divmod(i, width)
        if accepted[y, x] or t != T[y, x]:
            continue
        accepted[y, x] = True
        order.append(i)
        for yy, xx in neighbours(y, x):
            if accepted[yy, xx]:
                continue
            t_new = update(yy, xx)
            if t_new < T[yy, xx]:
                T[yy, xx] = t_new
                heapq.heappush(heap, (t_new, yy * width + xx))
    return T, np.array(order, dtype=np.int64)


def _minmod(a, b):
    return 0.0 if a * b <= 0 else (a if abs(a) < abs(b) else b)


def _slope(line, known, i):
    """Limited derivative of a 1-D line at i from known samples (as documented in the kernel)."""
    n = len(line)
    ok = lambda j: 0 <= j < n and known[j]  # noqa: E731
    if ok(i - 1) and ok(i + 1):
        return _minmod(line[i + 1] - line[i], line[i] - line[i - 1])
    if ok(i + 1) and ok(i + 2):
        return _minmod(line[i + 1] - line[i], line[i + 2] - line[i + 1])
    if ok(i - 1) and ok(i - 2):
        return _minmod(line[i] - line[i - 1], line[i - 1] - line[i - 2])
    return 0.0


def ref_telea(data, hole, radius):
    """Telea (2004) eq. 4-8 written out pixel by pixel."""
    T, order = ref_fast_march(hole)
    values = data.copy()
    height, width, channels = values.shape
    for i in order:
        py, px = divmod(int(i), width)
        tp = T[py, px]
        grad_t = []
        for axis_len, pos, get in ((width, px, lambda k: T[py, k]), (height, py, lambda k: T[k, px])):
            if 0 < pos < axis_len - 1:
                grad_t.append((get(pos + 1) - get(pos - 1)) / 2)
            elif pos > 0:
                grad_t.append(tp - get(pos - 1))
            elif pos < axis_len - 1:
                grad_t.append(get(pos + 1) - tp)
            else:
                grad_t.append(0.0)
        gnorm = math.hypot(*grad_t)
        normal = (grad_t[0] / gnorm, grad_t[1] / gnorm) if gnorm > 0 else None
        num = np.zeros(channels)
        den = 0.0
        used = []
        for qy in range(py - radius, py + radius + 1):
            for qx in range(px - radius, px + radius + 1):
                ry, rx = py - qy, px - qx
                dist2 = rx * rx + ry * ry
                if dist2 == 0 or dist2 > radius * radius:
                    continue
                if not (0 <= qy < height and 0 <= qx < width) or not T[qy, qx] < tp:
                    continue
                dist = math.sqrt(dist2)
                if normal is None:
                    direction = 1.0
                else:
                    direction = max(abs(normal[0] * rx + normal[1] * ry) / dist, 1e-6)
                weight = direction / dist2 / (1.0 + abs(tp - T[qy, qx]))
                given = T[qy, qx] == 0.0  # grad I only on the given data
                for c in range(channels):
                    gx = _slope(values[qy, :, c], T[qy, :] == 0.0, qx) if given else 0.0
                    gy = _slope(values[:, qx, c], T[:, qx] == 0.0, qy) if given else 0.0
                    num[c] += weight * (values[qy, qx, c] + gx * rx + gy * ry)
                den += weight
                used.append(values[qy, qx].copy())
        used = np.array(used)
        values[py, px] = np.clip(num / den, used.min(axis=0), used.max(axis=0))
    return values


def ref_coherence(data, hole, radius, sharpness, sigma, rho):
    """Bornemann and März (2007), recomputing everything from scratch at every pixel."""
    T, order = ref_fast_march(hole)
    values = data.copy()
    height, width, channels = values.shape

    def gauss(s):
        half = max(int(round(2 * s)), 1)
        x = np.arange(-half, half + 1, dtype=float)
        return np.exp(-x * x / (2 * s * s))

    g_sigma, g_rho = gauss(sigma), gauss(rho)
    half_r = len(g_rho) // 2
    delta = 255.0 ** -4

    def smooth(a):
        a = ndimage.correlate1d(a, g_sigma, axis=0, mode="constant")
        return ndimage.correlate1d(a, g_sigma, axis=1, mode="constant")

    for i in order:
        py, px = divmod(int(i), width)
        tp = T[py, px]
        known = (T < tp).astype(float)
        den = smooth(known)
        num = smooth(values * known[:, :, None])
        has = den > 1e-12
        smoothed = np.where(has[:, :, None], num / np.where(has, den, 1.0)[:, :, None], 0.0)
        J = np.zeros(3)
        wsum = 0.0
        for ry in range(-half_r, half_r + 1):
            for rx in range(-half_r, half_r + 1):
                y, x = py + ry, px + rx
                if not (0 <= y < height and 0 <= x < width) or not T[y, x] < tp:
                    continue
                g = g_rho[ry + half_r] * g_rho[rx + half_r]
                for c in range(channels):
                    grads = []
                    for (y0, x0), (y1, x1) in (((y, x - 1), (y, x + 1)), ((y - 1, x), (y + 1, x))):
                        ok0 = 0 <= y0 < height and 0 <= x0 < width and has[y0, x0]
                        ok1 = 0 <= y1 < height and 0 <= x1 < width and has[y1, x1]
                        centre = smoothed[y, x, c]
                        if ok0 and ok1:
                            grads.append((smoothed[y1, x1, c] - smoothed[y0, x0, c]) / 2)
                        elif ok1:
                            grads.append(smoothed[y1, x1, c] - centre)
                        elif ok0:
                            grads.append(centre - smoothed[y0, x0, c])
                        else:
                            grads.append(0.0)
                    gx, gy = grads
                    J += g * np.array([gx * gx, gx * gy, gy * gy])
                wsum += g
        J /= wsum * channels
        tensor = np.array([[J[0], J[1]], [J[1], J[2]]])
        eigval, eigvec = np.linalg.eigh(tensor)
        gap = eigval[1] - eigval[0]
        across = eigvec[:, 1]  # (x, y) components of c_perp
        strength = math.exp(-delta / gap**2) if gap > 0 else 0.0
        num_p = np.zeros(channels)
        den_p = 0.0
        for qy in range(py - radius, py + radius + 1):
            for qx in range(px - radius, px + radius + 1):
                ry, rx = qy - py, qx - px
                dist2 = rx * rx + ry * ry
                if dist2 == 0 or dist2 > radius * radius:
                    continue
                if not (0 <= qy < height and 0 <= qx < width) or not T[qy, qx] < tp:
                    continue
                proj = across[0] * rx + across[1] * ry
                weight = math.exp(-0.5 * (sharpness / radius) ** 2 * strength * proj**2)
                weight /= math.sqrt(dist2)
                num_p += weight * values[qy, qx]
                den_p += weight
        values[py, px] = num_p / den_p
    return values


# --------------------------------------------------------------------------- helpers


def smooth_image(shape, channels, seed):
    rng = np.random.default_rng(seed)
    noise = rng.random((shape[0], shape[1], channels))
    return ndimage.gaussian_filter(noise, (2, 2, 0)) * 0.8 + 0.1


def blob_hole(shape, seed, fraction=0.25):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random(shape), 2)
    return field > np.quantile(field, 1 - fraction)


# --------------------------------------------------------------------------- kernel vs reference


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_march_matches_heapq_reference(seed):
    hole = blob_hole((23, 19), seed, 0.4)
    hole[0, :4] = True  # border and corner
    hole[5:9, 5:9] = True  # a square: many exact ties in T
    T, order = fast_march(hole)
    T_ref, order_ref = ref_fast_march(hole)
    np.testing.assert_array_equal(T, T_ref)
    np.testing.assert_array_equal(order, order_ref)
    assert order.size == hole.sum()
    assert np.all(T[~hole] == 0) and np.all(T[hole] > 0)


def test_fast_march_is_a_distance():
    hole = np.zeros((41, 41), bool)
    hole[5:36, 5:36] = True
    T, _ = fast_march(hole)
    # Distance to the known frame grows by ~1 per pixel; the centre is ~16 px deep.
    assert 15.0 < T[20, 20] < 17.5
    assert np.all(np.diff(T[20, 5:21]) > 0.5)


@pytest.mark.parametrize("radius", [1, 3, 5])
def test_telea_matches_reference(radius):
    data = smooth_image((18, 21), 2, seed=radius)
    hole = blob_hole((18, 21), seed=10 + radius, fraction=0.3)
    hole[:, :2] = True  # touches the left border
    data[hole] = 0.0
    out = fm.fill_telea(data, hole, radius=radius)
    ref = ref_telea(data, hole, radius)
    np.testing.assert_allclose(out, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize(("radius", "sharpness", "sigma", "rho"),
                         [(5, 25.0, 1.4, 4.0), (3, 10.0, 1.0, 1.5), (4, 0.0, 0.7, 2.0)])
def test_coherence_matches_reference(radius, sharpness, sigma, rho):
    data = smooth_image((20, 22), 3, seed=3)
    data[:, 11:] += 0.05  # an edge for the tensor to find
    hole = blob_hole((20, 22), seed=4, fraction=0.2)
    hole[-2:, 8:12] = True  # touches the bottom border
    data[hole] = 0.0
    out = fm.fill_coherence(data, hole, radius=radius, sharpness=sharpness, sigma=sigma, rho=rho)
    ref = ref_coherence(data, hole, radius, sharpness, sigma, rho)
    np.testing.assert_allclose(out, ref, atol=1e-9, rtol=0)


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("variant", FILLS)
@pytest.mark.parametrize("value", [0.0, 1.0 / 3.0, 0.3, 0.7071, 1.0])
def test_constant_region_stays_exactly_constant(variant, value):
    hole = blob_hole((40, 37), seed=5, fraction=0.35)
    hole[:3, :] = True
    data = np.full((40, 37, 3), value)
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    assert np.all(out[hole] == value)  # exact: OpenCV's TELEA drifts darker here


@pytest.mark.parametrize("variant", FILLS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["gray", "rgb", "rgba"])
def test_prepared_images_of_every_dtype_and_layout(variant, dtype, layout):
    channels = {"gray": 0, "rgb": 3, "rgba": 4}[layout]
    image = smooth_image((30, 34), max(channels, 1), seed=7)
    if channels == 0:
        image = image[:, :, 0]
    if np.issubdtype(dtype, np.integer):
        image = np.round(image * np.iinfo(dtype).max).astype(dtype)
    else:
        image = image.astype(dtype)
    hole = blob_hole((30, 34), seed=8, fraction=0.2)
    prep = prepare(image, hole)
    filled = FILLS[variant](prep.data, prep.mask)
    assert filled.dtype == np.float64 and filled.shape == prep.data.shape
    np.testing.assert_array_equal(filled[~prep.mask], prep.data[~prep.mask])
    out = prep.finish(filled)
    assert out.dtype == image.dtype and out.shape == image.shape
    np.testing.assert_array_equal(out[~hole], image[~hole])
    # Smooth data: the fill is close to the truth.
    truth = prep.data.copy()
    truth[:] = prepare(image, np.zeros_like(hole)).data
    err = np.abs(filled - truth)[prep.mask]
    assert err.mean() < 0.03


@pytest.mark.parametrize("variant", FILLS)
def test_holes_on_every_border_and_corner(variant):
    y, x = np.mgrid[0:48, 0:52]
    truth = (0.15 + 0.008 * x + 0.006 * y)[:, :, None] * np.array([1.0, 0.8, 0.6])
    hole = np.zeros((48, 52), bool)
    hole[:4, 10:30] = True  # top edge
    hole[-3:, 20:40] = True  # bottom edge
    hole[15:30, :5] = True  # left edge
    hole[5:25, -4:] = True  # right edge
    hole[:6, :6] = hole[:6, -6:] = hole[-6:, :6] = hole[-6:, -6:] = True  # corners
    data = truth.copy()
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    assert np.all(np.isfinite(out))
    err = np.abs(out - truth)[hole]
    assert err.max() < 0.05 and err.mean() < 0.01
    np.testing.assert_array_equal(out[~hole], truth[~hole])


@pytest.mark.parametrize("variant", FILLS)
def test_linear_ramp_is_continued(variant):
    y, x = np.mgrid[0:64, 0:64]
    truth = (0.2 + 0.01 * x + 0.004 * y)[:, :, None]
    hole = np.zeros((64, 64), bool)
    hole[20:44, 24:40] = True
    data = truth.copy()
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    err = np.abs(out - truth)[hole]
    if variant == "telea":
        # First order near the boundary, a weighted average deeper in (see telea_fill).
        assert err.max() < 0.05 and err.mean() < 0.015
    else:
        assert err.max() < 0.03 and err.mean() < 0.01
    # A thin hole is within reach of the given gradients: nearly exact.
    thin = np.zeros((64, 64), bool)
    thin[20:44, 30:32] = True
    data = truth.copy()
    data[thin] = 0.0
    assert np.abs(FILLS[variant](data, thin) - truth)[thin].max() < 0.005


@pytest.mark.parametrize("angle", [25.0, 45.0])
def test_coherence_continues_a_straight_edge_sharply(angle):
    n, ss = 64, 8
    yy, xx = np.mgrid[0 : n * ss, 0 : n * ss] / ss
    step = (yy - 32) < np.tan(np.radians(angle)) * (xx - 32)
    truth = (step.reshape(n, ss, n, ss).mean((1, 3)) * 0.8 + 0.1)[:, :, None]
    hole = np.zeros((n, n), bool)
    hole[:, 28:36] = True
    data = truth.copy()
    data[hole] = 0.0
    coherent = fm.fill_coherence(data, hole)
    err = np.abs(coherent - truth)[hole]
    assert err.mean() < 0.02
    assert (err > 0.2).mean() < 0.03  # a sharp edge: few pixels far off
    # The isotropic average (sharpness 0) blurs the edge and does clearly worse.
    blurred = fm.fill_coherence(data, hole, sharpness=0.0)
    assert np.abs(blurred - truth)[hole].mean() > 2 * err.mean()


@pytest.mark.parametrize("variant", FILLS)
def test_many_disjoint_holes_match_one_crop(variant):
    # Groups are filled in separate crops; the result must equal filling the whole image.
    data = smooth_image((90, 80), 3, seed=11)
    hole = np.zeros((90, 80), bool)
    hole[5:12, 5:15] = hole[60:70, 50:58] = hole[30:33, 70:80] = hole[85:, 0:9] = True
    rng = np.random.default_rng(12)
    hole[rng.integers(0, 90, 40), rng.integers(0, 80, 40)] = True  # 1-pixel holes
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    # One group only: a margin larger than the image merges everything.
    T, order = fast_march(hole)
    whole = data.copy()
    off_y, off_x, inv_len, inv_len2 = fm.ball_offsets(5)
    if variant == "telea":
        from inpaintkit.algorithms._fast_marching_kernels import telea_fill

        telea_fill(whole, T, order, 0, order.size, off_y, off_x, inv_len, inv_len2)
    else:
        whole = ref_free_coherence(data, hole)
    np.testing.assert_allclose(out, whole, atol=1e-12, rtol=0)
    err = np.abs(out - smooth_image((90, 80), 3, seed=11))[hole]
    assert err.mean() < 0.03


def ref_free_coherence(data, hole):
    """fill_coherence's steps on the whole image as one crop (no grouping)."""
    from inpaintkit.algorithms._fast_marching_kernels import coherence_fill

    values = data.copy()
    known = (~hole).astype(float)
    g_sigma, g_rho = fm._gaussian(1.4), fm._gaussian(4.0)

    def smooth(a):
        a = ndimage.correlate1d(a, g_sigma, axis=0, mode="constant")
        return ndimage.correlate1d(a, g_sigma, axis=1, mode="constant")

    off_y, off_x, inv_len, _ = fm.ball_offsets(5)
    T, order = fast_march(hole)
    values_sum = smooth(values * known[:, :, None])
    weight_sum = smooth(known)
    weight_sum[weight_sum < 1e-12] = 0.0
    smoothed = np.where(weight_sum[:, :, None] > 0,
                        values_sum / np.maximum(weight_sum, 1e-300)[:, :, None], 0.0)
    products = np.zeros(values.shape[:2] + (3,))
    stale = np.ones(values.shape[:2], np.uint8)
    # Filled in uneven chunks: the level pending at a chunk's end must carry over.
    cuts = [0, 7, 8, 50, 51, 130, order.size]
    for start, stop in zip(cuts[:-1], cuts[1:]):
        coherence_fill(values, T, order, start, stop, values_sum, weight_sum, smoothed,
                       products, stale, off_y, off_x, inv_len, g_sigma, g_rho, 25.0,
                       fm._COHERENCE_DELTA)
    return values


@pytest.mark.parametrize("variant", FILLS)
def test_one_pixel_holes(variant):
    y, x = np.mgrid[0:20, 0:20]
    truth = (0.3 + 0.02 * x + 0.01 * y)[:, :, None]
    hole = np.zeros((20, 20), bool)
    hole[10, 10] = hole[0, 0] = hole[19, 7] = hole[4, 19] = True
    data = truth.copy()
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    err = np.abs(out - truth)[hole]
    # In a corner a linear ramp has no given value beyond the pixel: small error.
    assert err.max() < 0.011
    # Inside a ramp, the symmetric neighbourhood averages to the exact value.
    assert abs(out[10, 10, 0] - truth[10, 10, 0]) < 1e-9


@pytest.mark.parametrize("variant", FILLS)
def test_hole_covering_all_but_a_few_pixels(variant):
    rng = np.random.default_rng(13)
    data = rng.random((32, 30, 2))
    hole = np.ones((32, 30), bool)
    hole[3, 4] = hole[20, 25] = hole[31, 0] = False
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0
    known = data[~hole]
    # Both obey a discrete maximum principle: no value outside the given range.
    assert np.all(out[hole] >= known.min(axis=0) - 1e-12)
    assert np.all(out[hole] <= known.max(axis=0) + 1e-12)
    constant = np.full_like(data, 0.6)
    assert np.all(FILLS[variant](constant, hole)[hole] == 0.6)


@pytest.mark.parametrize("variant", FILLS)
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_any_channel_count(variant, channels):
    base = smooth_image((26, 28), 1, seed=14)
    data = np.repeat(base, channels, axis=2) * np.linspace(1.0, 0.6, channels)
    hole = blob_hole((26, 28), seed=15, fraction=0.3)
    data[hole] = 0.0
    out = FILLS[variant](data, hole)
    assert out.shape == data.shape and out.dtype == np.float64
    np.testing.assert_array_equal(out[~hole], data[~hole])
    if variant == "telea":
        # The weights do not depend on the values: channels are filled independently.
        for c in range(channels):
            alone = fm.fill_telea(np.ascontiguousarray(data[:, :, c : c + 1]), hole)
            np.testing.assert_allclose(out[:, :, c], alone[:, :, 0], atol=1e-12)
    else:
        # Identical channels give the single-channel result in each channel.
        same = np.repeat(data[:, :, :1], channels, axis=2)
        out_same = fm.fill_coherence(same, hole)
        alone = fm.fill_coherence(np.ascontiguousarray(data[:, :, :1]), hole)
        for c in range(channels):
            np.testing.assert_allclose(out_same[:, :, c], alone[:, :, 0], atol=1e-12)


@pytest.mark.parametrize("variant", FILLS)
def test_no_hole_returns_a_copy(variant):
    data = smooth_image((10, 10), 3, seed=16)
    out = FILLS[variant](data, np.zeros((10, 10), bool))
    np.testing.assert_array_equal(out, data)
    assert out is not data


@pytest.mark.parametrize("variant", FILLS)
@pytest.mark.parametrize("radius", [0, -2, 2.5, True, "5", None])
def test_bad_radius(variant, radius):
    data = np.zeros((6, 6, 1))
    hole = np.zeros((6, 6), bool)
    hole[2, 2] = True
    with pytest.raises(ValueError, match=r"radius must be an integer >= 1, got " + repr(radius)):
        FILLS[variant](data, hole, radius=radius)


@pytest.mark.parametrize(("option", "value", "bound"),
                         [("sharpness", -1.0, ">= 0"), ("sharpness", float("nan"), ">= 0"),
                          ("sigma", 0.0, "> 0"), ("sigma", -1, "> 0"), ("rho", 0, "> 0"),
                          ("rho", float("inf"), "> 0"), ("rho", "4", "> 0")])
def test_bad_coherence_options(option, value, bound):
    data = np.zeros((6, 6, 1))
    hole = np.zeros((6, 6), bool)
    hole[2, 2] = True
    with pytest.raises(ValueError) as info:
        fm.fill_coherence(data, hole, **{option: value})
    message = str(info.value)
    assert message.startswith(f"{option} must be a finite number {bound}")
    assert message.endswith(f"got {value!r}")


@pytest.mark.parametrize("variant", FILLS)
def test_mismatched_shapes(variant):
    with pytest.raises(ValueError, match=r"data must be \(H, W, C\) and hole \(H, W\)"):
        FILLS[variant](np.zeros((6, 6, 1)), np.zeros((6, 5), bool))
    with pytest.raises(ValueError, match=r"got \(6, 6\) and \(6, 6\)"):
        FILLS[variant](np.zeros((6, 6)), np.zeros((6, 6), bool))
    with pytest.raises(ValueError, match="no known pixels"):
        FILLS[variant](np.zeros((6, 6, 1)), np.ones((6, 6), bool))


@pytest.mark.parametrize("margin", [1, 4, 13])
def test_hole_groups_partition_and_separation(margin):
    rng = np.random.default_rng(margin)
    hole = np.zeros((97, 83), bool)
    hole[rng.integers(0, 97, 25), rng.integers(0, 83, 25)] = True
    hole[40:50, 0:20] = True
    groups = list(fm._hole_groups(hole, margin))
    owner = np.zeros(hole.shape, int)
    for index, (crop, group_hole) in enumerate(groups, start=1):
        ys, xs = np.nonzero(group_hole)
        ys, xs = ys + crop[0].start, xs + crop[1].start
        assert np.all(owner[ys, xs] == 0)
        owner[ys, xs] = index
        # The crop reaches `margin` beyond every hole pixel (or the image border).
        assert crop[0].start <= max(ys.min() - margin, 0)
        assert crop[0].stop >= min(ys.max() + margin + 1, hole.shape[0])
        assert crop[1].start <= max(xs.min() - margin, 0)
        assert crop[1].stop >= min(xs.max() + margin + 1, hole.shape[1])
    np.testing.assert_array_equal(owner > 0, hole)
    # Hole pixels of different groups are farther apart than two margins.
    ys, xs = np.nonzero(hole)
    near = (np.abs(ys[:, None] - ys[None]) <= 2 * margin + 1) & (
        np.abs(xs[:, None] - xs[None]) <= 2 * margin + 1)
    labels = owner[ys, xs]
    assert np.all(labels[:, None][near.nonzero()[0]] == labels[:, None][near.nonzero()[1]])
