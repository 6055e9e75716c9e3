"""Tests for Criminisi exemplar-based inpainting and its Numba kernels.

The kernels are checked against plain NumPy references on small inputs (priority,
SSD search, smoothing, Lab, heap, seam blending); the public function against ground
truth, the image contract and its error messages.
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2lab

from inpaintkit import _progress, metrics
from inpaintkit.algorithms import _criminisi_kernels as kern
from inpaintkit.algorithms.criminisi import (
    NORMAL_RADIUS,
    NORMAL_SIGMA,
    _gaussian_weights,
    inpaint_criminisi,
)

BIG = 1 << 62


# ---------------------------------------------------------------- NumPy references

def ref_known_gradient(luma, hole):
    """Gradient from known pixels only: central, else one-sided, else 0; 0 in the hole."""
    height, width = luma.shape
    gy = np.zeros_like(luma)
    gx = np.zeros_like(luma)
    for y in range(height):
        for x in range(width):
            if hole[y, x]:
                continue
            up = y > 0 and not hole[y - 1, x]
            down = y < height - 1 and not hole[y + 1, x]
            left = x > 0 and not hole[y, x - 1]
            right = x < width - 1 and not hole[y, x + 1]
            if up and down:
                gy[y, x] = (luma[y + 1, x] - luma[y - 1, x]) / 2
            elif down:
                gy[y, x] = luma[y + 1, x] - luma[y, x]
            elif up:
                gy[y, x] = luma[y, x] - luma[y - 1, x]
            if left and right:
                gx[y, x] = (luma[y, x + 1] - luma[y, x - 1]) / 2
            elif right:
                gx[y, x] = luma[y, x + 1] - luma[y, x]
            elif left:
                gx[y, x] = luma[y, x] - luma[y, x - 1]
    return gy, gx


def ref_priority(y, x, half, hole, confidence, smooth, gy, gx, alpha, epsilon, iso_radius):
    """Eqs. (1)-(3) of Criminisi et al. for one front pixel, written out plainly."""
    height, width = hole.shape
    ys = slice(max(y - half, 0), min(y + half + 1, height))
    xs = slice(max(x - half, 0), min(x + half + 1, width))
    known = ~hole[ys, xs]
    conf = confidence[ys, xs][known].sum() / known.size
    sp = np.pad(smooth, 1, mode="edge")
    n = np.array([(sp[y + 2, x + 1] - sp[y, x + 1]) / 2, (sp[y + 1, x + 2] - sp[y + 1, x]) / 2])
    data = 0.0
    if np.hypot(*n) > 1e-9:
        ny, nx = n / np.hypot(*n)
        for yy in range(ys.start, ys.stop):
            for xx in range(xs.start, xs.stop):
                if hole[yy, xx] or max(abs(yy - y), abs(xx - x)) > iso_radius:
                    continue
                isophote = np.array([-gy[yy, xx], gx[yy, xx]])  # (x, y) components
                data = max(data, abs(isophote @ np.array([nx, ny])))
    return conf, conf * (data / alpha + epsilon)


def ref_best_source(feat, valid, target, known_offsets, half, weights=None):
    """Brute-force argmin of (weighted SSD, squared distance, tie key) over all valid
    centres."""
    height, width, _ = feat.shape
    ty, tx = target
    if weights is None:
        weights = np.ones(len(known_offsets))
    best = None
    for cy in range(height):
        for cx in range(width):
            if not valid[cy, cx]:
                continue
            ssd = sum(w * ((feat[cy + dy, cx + dx] - feat[ty + dy, tx + dx]) ** 2).sum()
                      for w, (dy, dx) in zip(weights, known_offsets))
            key = (ssd, (cy - ty) ** 2 + (cx - tx) ** 2)
            if best is None or key < best[0]:
                best = (key, cy * width + cx)
    return best


def run_search(feat, valid, tie_key, target, known_offsets, window, parallel, weights=None):
    """Drive the kernels' window search like fill_steps does and merge the rows."""
    height, width, channels = feat.shape
    ty, tx = target
    if weights is None:
        weights = np.ones(len(known_offsets))
    offsets = np.array([dy * width + dx for dy, dx in known_offsets], np.int64)
    values = np.concatenate([feat[ty + dy, tx + dx] for dy, dx in known_offsets]).astype(np.float64)
    rows = [np.empty(height, t) for t in (np.float64, np.int64, np.int64, np.int64, np.int64)]
    y0, y1 = max(ty - window, 0), min(ty + window + 1, height)
    x0, x1 = max(tx - window, 0), min(tx + window + 1, width)
    search = kern.search_rows_parallel if parallel else kern.search_rows_serial
    search(feat.reshape(-1), channels, width, valid.reshape(-1).astype(np.uint8), tie_key, ty, tx,
           y0, y1, x0, x1, offsets, values, np.asarray(weights, np.float64), len(offsets), np.inf,
           *rows)
    best = (np.inf, BIG, BIG, -1)
    for r in range(y1 - y0):
        cand = (rows[0][r], rows[1][r], rows[2][r], rows[3][r])
        if cand[3] >= 0 and cand[:3] < best[:3]:
            best = cand
    return best, int(rows[4][: y1 - y0].sum())


# ---------------------------------------------------------------- kernels vs references

def random_state(seed=0, shape=(17, 19)):
    rng = np.random.default_rng(seed)
    hole = np.zeros(shape, bool)
    hole[4:13, 5:14] = True
    hole[2:4, 8:10] = True
    hole &= rng.random(shape) < 0.9  # ragged, with holes inside the hole
    luma = rng.random(shape) * 100
    confidence = np.where(hole, 0.0, rng.uniform(0.3, 1.0, shape))
    return hole, luma, confidence


def smoothed(hole, weights):
    """The kernel's smoothed hole indicator at every pixel."""
    height, width = hole.shape
    flat = hole.reshape(-1).astype(np.uint8)
    return np.array([[kern.smooth_at(flat, height, width, weights, y, x) for x in range(width)]
                     for y in range(height)])


def hole_numbers(hole):
    """``hid``: each hole pixel's number in row-major order, -1 elsewhere."""
    hid = np.full(hole.size, -1, np.int32)
    hid[np.flatnonzero(hole.reshape(-1))] = np.arange(hole.sum(), dtype=np.int32)
    return hid


def test_smoothed_mask_matches_scipy_gaussian():
    hole, _, _ = random_state(1)
    weights = _gaussian_weights(NORMAL_SIGMA, NORMAL_RADIUS)
    expected = ndimage.gaussian_filter(hole.astype(float), NORMAL_SIGMA, mode="nearest",
                                       truncate=NORMAL_RADIUS / NORMAL_SIGMA)
    np.testing.assert_allclose(smoothed(hole, weights), expected, atol=1e-6)  # float32


@pytest.mark.parametrize("stride", [1, 3])
def test_known_gradient_matches_reference(stride):
    hole, luma, _ = random_state(2)
    luma = luma.astype(np.float32)
    height, width = hole.shape
    flat = np.zeros(hole.size * stride, np.float32)
    flat[::stride] = luma.reshape(-1)  # stride 3: L* among Lab features
    hole_u8 = hole.reshape(-1).astype(np.uint8)
    got = np.array([kern.gradient_at(flat, stride, hole_u8, height, width, i)
                    for i in range(hole.size)])
    ry, rx = ref_known_gradient(luma.astype(np.float64), hole)
    np.testing.assert_allclose(got[:, 0].reshape(hole.shape), ry, atol=1e-5)
    np.testing.assert_allclose(got[:, 1].reshape(hole.shape), rx, atol=1e-5)


@pytest.mark.parametrize("iso_radius", [1, 2, 4])
def test_priority_kernel_matches_reference(iso_radius):
    hole, luma, confidence = random_state(3)
    luma = luma.astype(np.float32)
    confidence = confidence.astype(np.float32)
    height, width = hole.shape
    half = 3
    hole_u8 = hole.reshape(-1).astype(np.uint8)
    weights = _gaussian_weights(1.5, 5)
    smooth = smoothed(hole, weights)
    gy, gx = ref_known_gradient(luma, hole)
    # The input's hole: pixels ``filled`` since (known now, with their confidence)
    # and the rest; pixels known in the input have confidence 1.
    filled = ~hole & (np.random.default_rng(3).random(hole.shape) < 0.4)
    confidence[~hole & ~filled] = 1.0
    hid = hole_numbers(hole | filled)
    per_hole = confidence.reshape(-1)[hid >= 0]
    front = hole & ndimage.binary_dilation(~hole, structure=ndimage.generate_binary_structure(2, 1))
    assert front.sum() > 20
    for y, x in zip(*np.nonzero(front)):
        got = kern.patch_priority(y * width + x, height, width, half, hole_u8, hid, per_hole,
                                  weights, luma.reshape(-1), 1, 100.0, 1e-3, iso_radius)
        want = ref_priority(y, x, half, hole, confidence, smooth, gy, gx,
                            100.0, 1e-3, iso_radius)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


def test_front_and_priority_region_track_the_front():
    hole, luma, confidence = random_state(4)
    height, width = hole.shape
    hid = hole_numbers(hole)
    pos = np.full(hole.sum(), -1, np.int64)
    where = np.full(hole.sum(), -1, np.int64)
    counters = np.zeros(3, np.int64)
    hole_u8 = hole.reshape(-1).astype(np.uint8)
    kern.front_region(hole_u8, hid, height, width, pos, where, counters, 0, height, 0, width)
    known4 = ndimage.binary_dilation(~hole, structure=ndimage.generate_binary_structure(2, 1))
    expected = np.flatnonzero((hole & known4).reshape(-1))
    assert sorted(pos[: counters[0]]) == expected.tolist()
    # Fill a block, update the region around it: the list equals a fresh derivation.
    hole[5:9, 6:10] = False
    hole_u8[:] = hole.reshape(-1)
    kern.front_region(hole_u8, hid, height, width, pos, where, counters, 4, 10, 5, 11)
    known4 = ndimage.binary_dilation(~hole, structure=ndimage.generate_binary_structure(2, 1))
    assert sorted(pos[: counters[0]]) == np.flatnonzero((hole & known4).reshape(-1)).tolist()
    assert all(where[hid[i]] == k for k, i in enumerate(pos[: counters[0]]))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("parallel", [False, True])
def test_ssd_search_matches_brute_force(channels, parallel):
    rng = np.random.default_rng(5 + channels)
    height, width, half = 14, 16, 2
    feat = rng.integers(0, 4, (height, width, channels)).astype(np.float64)  # many ties
    hole = np.zeros((height, width), bool)
    hole[5:9, 6:11] = True
    valid = ndimage.minimum_filter((~hole).astype(np.uint8), size=2 * half + 1, mode="constant") > 0
    target = (5, 7)
    known_offsets = [(dy, dx) for dy in range(-half, half + 1) for dx in range(-half, half + 1)
                     if not hole[target[0] + dy, target[1] + dx]]
    tie_key = np.zeros(height * width, np.int64)  # ties left to the distance
    (ssd, dist, _, index), seen = run_search(feat, valid, tie_key, target, known_offsets,
                                             max(height, width), parallel)
    (ref_ssd, ref_dist), ref_index = ref_best_source(feat, valid, target, known_offsets, half)
    assert seen == valid.sum()
    assert (ssd, dist) == (ref_ssd, ref_dist)
    # Among exact (SSD, distance) ties the kernel takes the lowest tie key: any of them
    # is a correct answer for the reference; with keys all 0 it is the first scanned.
    assert index == ref_index


def test_parallel_search_does_not_depend_on_the_thread_count():
    import numba

    rng = np.random.default_rng(9)
    feat = rng.integers(0, 3, (30, 30, 3)).astype(np.float64)
    valid = rng.random((30, 30)) < 0.7
    valid[[0, 1, -1, -2], :] = valid[:, [0, 1, -1, -2]] = False
    tie_key = rng.permutation(900).astype(np.int64)
    known_offsets = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 1)]
    answers = []
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        try:
            answers.append(run_search(feat, valid, tie_key, (15, 15), known_offsets, 30, True))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    answers.append(run_search(feat, valid, tie_key, (15, 15), known_offsets, 30, False))
    assert all(a == answers[0] for a in answers)


def test_ssd_search_ties_follow_the_seeded_key():
    height, width, half = 12, 12, 1
    feat = np.zeros((height, width, 1))  # everything ties on SSD
    valid = np.ones((height, width), bool)
    valid[[0, -1], :] = valid[:, [0, -1]] = False
    target = (6, 6)
    valid[target] = False
    known_offsets = [(-1, -1), (-1, 0)]
    for seed in range(3):
        tie_key = np.random.default_rng(seed).permutation(height * width).astype(np.int64)
        (_, dist, _, index), _ = run_search(feat, valid, tie_key, target, known_offsets, 4, False)
        ring = [(y * width + x) for y in range(height) for x in range(width)
                if valid[y, x] and (y - 6) ** 2 + (x - 6) ** 2 == 1]
        assert dist == 1 and index == min(ring, key=lambda i: tie_key[i])


def test_patch_ssd_stops_early_above_the_bound():
    feat = np.arange(30, dtype=np.float64)
    offsets = np.array([0, 1, 2], np.int64)
    values = np.zeros(3)
    ones = np.ones(3)
    full = kern.patch_ssd(feat, 1, 10, offsets, values, ones, 3, np.inf)
    assert full == 10 ** 2 + 11 ** 2 + 12 ** 2
    early = kern.patch_ssd(feat, 1, 10, offsets, values, ones, 3, 50.0)
    assert 50.0 < early < full
    weighted = kern.patch_ssd(feat, 1, 10, offsets, values, np.array([1.0, 0.5, 0.25]), 3, np.inf)
    assert weighted == 10 ** 2 + 0.5 * 11 ** 2 + 0.25 * 12 ** 2
    # Negative weights: unknown pixels compared in the weighted mean only.
    guided = kern.patch_ssd(feat, 1, 10, offsets, np.array([0.0, 13.0, 10.0]),
                            np.array([1.0, -0.5, -0.25]), 3, np.inf)
    assert guided == pytest.approx(10 ** 2 + (0.5 * (11 - 13) + 0.25 * (12 - 10)) ** 2 / 0.75)


def test_weighted_search_matches_brute_force():
    """The guided distance: the target's unknown pixels (here at a first estimate) at a
    lower weight than its known ones."""
    rng = np.random.default_rng(11)
    height, width, half = 14, 16, 2
    feat = rng.random((height, width, 3))
    hole = np.zeros((height, width), bool)
    hole[5:9, 6:11] = True
    valid = ndimage.minimum_filter((~hole).astype(np.uint8), size=2 * half + 1, mode="constant") > 0
    target = (5, 7)
    offsets = [(dy, dx) for dy in range(-half, half + 1) for dx in range(-half, half + 1)]
    weights = [0.7 if hole[target[0] + dy, target[1] + dx] else 1.0 for dy, dx in offsets]
    # (positive weights: every pixel compared one by one)
    tie_key = np.zeros(height * width, np.int64)
    (ssd, _, _, index), _ = run_search(feat, valid, tie_key, target, offsets,
                                       max(height, width), False, weights)
    (ref_ssd, _), ref_index = ref_best_source(feat, valid, target, offsets, half, weights)
    assert ssd == pytest.approx(ref_ssd, rel=1e-12) and index == ref_index


def test_heap_pops_in_priority_then_key_order():
    rng = np.random.default_rng(6)
    n = 300
    prio = rng.integers(0, 20, n).astype(np.float64)  # many equal priorities
    tie = rng.permutation(n).astype(np.int64)
    arrays = [np.empty(n, np.float64), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)]
    size = 0
    for i in range(n):
        size = kern.heap_push(*arrays, size, prio[i], tie[i], i, 0)
    popped = []
    while size:
        popped.append(arrays[2][0])
        size = kern.heap_pop(*arrays, size)
    expected = [i for _, _, i in heapq.nsmallest(n, [(-prio[i], tie[i], i) for i in range(n)])]
    assert popped == expected


def test_lab_kernel_matches_skimage():
    rng = np.random.default_rng(7)
    rgb = rng.random((40, 3))
    rgb[:5] = [[0, 0, 0], [1, 1, 1], [0.01, 0.02, 0.03], [1, 0, 0], [0.04045, 0.5, 0.9]]
    out = np.empty(rgb.size)
    kern.rgb_to_lab(rgb.reshape(-1), out, np.empty(0))
    np.testing.assert_allclose(out.reshape(-1, 3), rgb2lab(rgb[None])[0], atol=1e-9)


def test_lab_table_for_8_bit_input_gives_the_same_numbers():
    from inpaintkit.algorithms.criminisi import _search_features

    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, (1, 300, 3)).astype(np.float64) / 255.0
    rgb[0, :3] = [[0, 0, 0], [1, 1, 1], [10 / 255, 11 / 255, 12 / 255]]  # around 0.04045
    table, _ = _search_features(rgb, "lab", eight_bit=True)
    direct, _ = _search_features(rgb, "lab", eight_bit=False)
    np.testing.assert_array_equal(table, direct)
    np.testing.assert_allclose(table.reshape(-1, 3), rgb2lab(rgb)[0], atol=1e-9)


@pytest.mark.parametrize("colour_sigma", [0.3, 1e6])
def test_blend_seams_matches_reference_and_keeps_uniform_offsets(colour_sigma):
    rng = np.random.default_rng(8)
    height, width, channels, radius = 20, 22, 3, 2
    # 8-bit values: the kernel reads known pixels from the input (uint8 here, / 255).
    pixels = rng.integers(0, 256, (height * width, channels), dtype=np.uint8)
    colour = pixels.reshape(height, width, channels) / 255.0
    hole = np.zeros((height, width), bool)
    hole[6:14, 7:15] = True
    off_y = np.zeros((height, width), np.int64)
    off_x = np.zeros((height, width), np.int64)
    off_x[hole] = -7
    off_x[6:14, 11:15] = 7  # a seam down the middle of the hole
    filled = colour.copy()
    for y, x in zip(*np.nonzero(hole)):
        filled[y, x] = colour[y + off_y[y, x], x + off_x[y, x]]
    taps = _gaussian_weights(radius / 2, radius)
    weights = np.outer(taps, taps)
    holes = np.flatnonzero(hole.reshape(-1))
    hid = hole_numbers(hole)
    ys, xs = np.nonzero(hole)
    source = ((ys + off_y[hole]) * width + xs + off_x[hole]).astype(np.int32)
    values = np.empty((holes.size, channels))
    kern.gather_colours(pixels, 255.0, source, channels, values)
    filled[hole] = values
    np.testing.assert_array_equal(values, colour[ys + off_y[hole], xs + off_x[hole]])
    out = filled.copy()
    seam = np.ones(holes.size, np.uint8)  # compute every hole pixel
    blended = np.empty_like(values)
    kern.blend_seams(pixels, 255.0, values, blended, holes, hid, seam, height, width,
                     channels, source, weights, colour_sigma)
    out[hole] = blended
    ref = filled.copy()
    for y, x in zip(*np.nonzero(hole)):
        acc, wsum = np.zeros(channels), 0.0
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                yy, xx = y + dy, x + dx
                if not (0 <= yy < height and 0 <= xx < width and hole[yy, xx]):
                    continue
                sy, sx = y + off_y[yy, xx], x + off_x[yy, xx]
                if 0 <= sy < height and 0 <= sx < width and not hole[sy, sx]:
                    vote = filled[sy, sx]
                    similarity = np.exp(-((vote - filled[y, x]) ** 2).sum()
                                        / (2 * channels * colour_sigma ** 2))
                    acc += weights[dy + radius, dx + radius] * similarity * vote
                    wsum += weights[dy + radius, dx + radius] * similarity
        ref[y, x] = acc / wsum
    np.testing.assert_allclose(out[hole], ref[hole], atol=1e-12)
    # Away from the seam (all neighbours share the offset) nothing changes.
    np.testing.assert_allclose(out[6:14, 7:8], filled[6:14, 7:8], atol=1e-12)


def test_seam_flags_match_reference():
    rng = np.random.default_rng(12)
    height, width, radius = 18, 21, 2
    hole = np.zeros((height, width), bool)
    hole[3:15, 4:18] = True
    hole &= rng.random(hole.shape) < 0.9
    off_y = np.zeros(hole.shape, np.int64)
    off_y[5:8, 6:9] = rng.integers(-2, 3, (3, 3))  # seams around one small block
    off_x = np.full(hole.shape, -3)  # sources inside the image
    ys, xs = np.nonzero(hole)
    source = ((ys + off_y[hole]) * width + xs + off_x[hole]).astype(np.int32)
    holes = np.flatnonzero(hole.reshape(-1))
    got = np.empty(holes.size, np.uint8)
    kern.seam_flags(holes, hole_numbers(hole), source, height, width, radius, got)
    change = np.zeros(hole.shape, bool)
    for axis in (0, 1):
        a = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        b = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        differs = ((off_y[a] != off_y[b]) | (off_x[a] != off_x[b])) & hole[a] & hole[b]
        change[a] |= differs
        change[b] |= differs
    near = ndimage.maximum_filter(change, size=2 * radius + 1, mode="constant")
    assert 0 < got.sum() < holes.size
    np.testing.assert_array_equal(got.astype(bool), near[hole])


def _traced_peak(fill, *args):
    """The traced peak (bytes of NumPy and Python allocations) of one call."""
    import tracemalloc

    tracemalloc.start()
    try:
        fill(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_under_40_bytes_a_pixel():
    """Issue 22: the fill's traced peak (NumPy arrays) stays under 40 bytes per image
    pixel, the input aside (124 before the per-hole layout)."""
    rng = np.random.default_rng(13)
    image = rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[100:300, 100:110] = True  # a scratch from top to bottom of a band
    mask[150:160, 20:490] = True
    # Compile and import outside the trace, on a crop that holds part of both strokes
    # (an empty mask would return before any kernel runs) and is at least 128 px a side:
    # smaller images take diffusion's NumPy first estimate, and the photo's SciPy solve
    # would then be imported inside the trace (about 2 MB of modules).
    small = (slice(100, 236), slice(60, 196))
    assert mask[small].any()
    inpaint_criminisi(image[small], mask[small])
    assert _traced_peak(inpaint_criminisi, image, mask) / mask.size < 40


def _crop_cases():
    rng = np.random.default_rng(21)
    yy, xx = np.mgrid[:300, :420]
    image = (0.5 + 0.25 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
             + 0.1 * rng.random((300, 420)))[:, :, None] * np.array([1.0, 0.8, 0.6])
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    blob = np.zeros((300, 420), bool)
    blob[100:130, 250:290] = True
    corner = np.zeros((300, 420), bool)
    corner[:25, 380:] = True  # on two of the image's borders
    stroke = np.zeros((300, 420), bool)
    stroke[200:205, 60:200] = True
    return image, {"blob": blob, "corner": corner, "stroke": stroke}


@pytest.mark.parametrize("name", ["blob", "corner", "stroke"])
def test_crop_fills_as_the_whole_image(monkeypatch, name):
    # A small hole is filled on a crop around it: the same fill and fill order as on
    # the whole image, bit for bit, also when the first crop is too tight and the
    # fill runs again on a wider one.
    from inpaintkit.algorithms import criminisi as C

    image, masks = _crop_cases()
    mask = masks[name]
    calls = []
    fill_box = C._fill_box

    def counted(image, colour_image, hole2d, valid, box, *args):
        result = fill_box(image, colour_image, hole2d, valid, box, *args)
        calls.append(((box[0].stop - box[0].start) * (box[1].stop - box[1].start), result))
        return result

    monkeypatch.setattr(C, "_fill_box", counted)
    cropped, order = inpaint_criminisi(image, mask, search_window=6, return_fill_order=True)
    assert len(calls) == 1 and calls[0][0] < 0.5 * mask.size
    calls.clear()
    monkeypatch.setattr(C, "_first_margin", lambda window, distance, half: half + 2)
    tight, tight_order = inpaint_criminisi(image, mask, search_window=6, return_fill_order=True)
    assert len(calls) >= 2 and calls[0][1] is None  # the first crop was left
    monkeypatch.setattr(C, "CROP_AREA", 0.0)  # the whole image
    whole, whole_order = inpaint_criminisi(image, mask, search_window=6, return_fill_order=True)
    np.testing.assert_array_equal(cropped, whole)
    np.testing.assert_array_equal(order, whole_order)
    np.testing.assert_array_equal(tight, whole)
    np.testing.assert_array_equal(tight_order, whole_order)


def test_small_hole_in_a_large_image_costs_its_crop():
    """A small hole in a large photo: the traced peak follows the hole's crop; per
    image pixel only the mask, the source flags, their distances and the tie keys (about
    7 bytes; 25 when every array was the image's)."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[500:540, 400:430] = True
    inpaint_criminisi(image[480:560, 380:460], mask[480:560, 380:460])  # compile first
    assert _traced_peak(inpaint_criminisi, image, mask) / mask.size < 10


# ---------------------------------------------------------------- the public function

def edge_image(size=64, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 0.2)
    image[size // 2:] = 0.8
    return np.clip(image + rng.normal(0, noise, image.shape), 0, 1)


def test_fill_order_follows_the_edge_first():
    image = edge_image()
    mask = np.zeros(image.shape, bool)
    mask[16:48, 16:48] = True
    # The whole-patch copy of the paper: with the default copy_radius=1 the band
    # advances a pixel a step, and flat parts of the front catch up with it.
    result, order = inpaint_criminisi(image, mask, return_fill_order=True, copy_radius=None)
    assert order.dtype == np.int32 and order.shape == image.shape
    assert (order[~mask] == -1).all() and (order[mask] >= 0).all()
    # The band along the edge is filled right across the hole before the flat parts
    # are: the data term puts the isophote hitting the front first.
    band = order[30:34, 16:48]
    flat = np.concatenate([order[16:26, 24:40].ravel(), order[38:48, 24:40].ravel()])
    assert band.max() < np.median(flat)
    assert np.median(band) < flat.min()
    # And the edge is continued: every hole pixel is on the right side of it.
    assert np.abs(result - image)[mask].max() < 0.1


def test_striped_texture_is_restored():
    y, x = np.mgrid[0:80, 0:80]
    image = np.where(((x + y) // 4) % 2 == 0, 0.15, 0.85)  # diagonal stripes, period 8
    image = np.stack([image, image[::-1], np.full_like(image, 0.5)], axis=2)
    mask = np.zeros((80, 80), bool)
    mask[25:55, 30:50] = True
    result = inpaint_criminisi(image, mask)
    # Exact periodic texture: a perfect copy exists; blur-free fills score above 40 dB
    # (diffusion/TELEA score under 15 dB on this case).
    assert metrics.psnr(image, result, mask=mask, data_range=1.0) > 40


DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
LAYOUTS = ["gray", "gray1", "rgb", "rgba"]


def make_image(dtype, layout, size=40, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    # Periodic (8 x 10 px), so an exemplar method has exact copies to find.
    base = 0.5 + 0.4 * np.sin(2 * np.pi * x / 8) * np.cos(2 * np.pi * y / 10)
    chans = {"gray": None, "gray1": 1, "rgb": 3, "rgba": 4}[layout]
    if chans is None:
        values = base
    else:
        values = np.stack([np.roll(base, 3 * c, axis=1) for c in range(chans)], axis=2)
        if chans == 4:
            values[..., 3] = rng.random((size, size))
    if np.issubdtype(dtype, np.integer):
        return np.round(values * np.iinfo(dtype).max).astype(dtype)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dtypes_and_channels_outside_unchanged(dtype, layout):
    image = make_image(dtype, layout)
    mask = np.zeros(image.shape[:2], bool)
    mask[12:24, 10:22] = True
    before = image.copy()
    result = inpaint_criminisi(image, mask, patch_size=7)
    assert result.dtype == image.dtype and result.shape == image.shape
    np.testing.assert_array_equal(result[~mask], image[~mask])  # bit for bit
    np.testing.assert_array_equal(image, before)  # the input is not touched
    colour = result[..., :3] if layout == "rgba" else result
    truth = image[..., :3] if layout == "rgba" else image
    data_range = 1.0 if np.issubdtype(dtype, np.floating) else None
    assert metrics.psnr(truth, colour, mask=mask, data_range=data_range) > 30


def test_same_seed_same_result_and_seed_breaks_ties():
    image = np.zeros((32, 32))  # everything ties: only the seeded keys decide
    image[::2, ::2] = 1.0
    mask = np.zeros((32, 32), bool)
    mask[10:22, 10:22] = True
    a, order_a = inpaint_criminisi(image, mask, return_fill_order=True, seed=3)
    b, order_b = inpaint_criminisi(image, mask, return_fill_order=True, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(order_a, order_b)
    _, order_c = inpaint_criminisi(image, mask, return_fill_order=True, seed=4)
    assert not np.array_equal(order_a, order_c)


def test_full_search_and_windows_give_valid_fills():
    image = make_image(np.float64, "rgb", size=48)
    mask = np.zeros((48, 48), bool)
    mask[18:30, 20:34] = True
    for window in (None, 3, "full"):
        result = inpaint_criminisi(image, mask, search_window=window, color_space="rgb")
        assert metrics.psnr(image, result, mask=mask, data_range=1.0) > 20


def test_progress_is_reported_to_the_end():
    calls = []
    image = make_image(np.float64, "gray", size=48)
    mask = np.zeros((48, 48), bool)
    mask[10:30, 10:30] = True
    with _progress.reporting(lambda stage, done, total: calls.append((stage, done, total))):
        inpaint_criminisi(image, mask, patch_size=3)
    assert calls and all(c[0] == "criminisi" for c in calls)
    assert calls[-1][1] == calls[-1][2] == mask.sum()


def test_empty_mask_warns_and_copies():
    image = make_image(np.uint8, "rgb")
    with pytest.warns(UserWarning, match="no hole"):
        result = inpaint_criminisi(image, np.zeros(image.shape[:2], bool))
    np.testing.assert_array_equal(result, image)
    assert result is not image


@pytest.mark.parametrize("patch_size, message", [
    (8, "odd"), (1, "odd integer >= 3"), (2.5, "odd integer"), (41, "must not exceed"),
])
def test_bad_patch_size_errors(patch_size, message):
    image = make_image(np.uint8, "rgb")
    mask = np.zeros(image.shape[:2], bool)
    mask[5:9, 5:9] = True
    with pytest.raises(ValueError, match=message) as info:
        inpaint_criminisi(image, mask, patch_size=patch_size)
    assert "patch_size" in str(info.value) and str(patch_size) in str(info.value)


def test_no_source_patch_is_filled_by_diffusion_first():
    image = make_image(np.uint8, "rgb")
    mask = np.zeros(image.shape[:2], bool)
    mask[:, ::8] = True  # every 9x9 patch touches the hole
    out, order = inpaint_criminisi(image, mask, return_fill_order=True)
    assert np.array_equal(out[~mask], image[~mask])
    assert (order == -1).all()  # one-pixel columns: all filled by diffusion


def test_option_errors():
    image = make_image(np.uint8, "rgb")
    mask = np.zeros(image.shape[:2], bool)
    mask[5:9, 5:9] = True
    with pytest.raises(ValueError, match="valid color spaces: lab, rgb"):
        inpaint_criminisi(image, mask, color_space="hsv")
    with pytest.raises(ValueError, match="search_window"):
        inpaint_criminisi(image, mask, search_window=0)
    with pytest.raises(ValueError, match="search_window"):
        inpaint_criminisi(image, mask, search_window="global")
    with pytest.raises(ValueError, match=r"blend_radius .*\[0, 4\]"):
        inpaint_criminisi(image, mask, blend_radius=5)
    with pytest.raises(ValueError, match=r"copy_radius .*\[0, 4\]"):
        inpaint_criminisi(image, mask, copy_radius=5)
    with pytest.raises(ValueError, match="guide_weight"):
        inpaint_criminisi(image, mask, guide_weight=-1)
    with pytest.raises(ValueError, match="guide_weight"):
        inpaint_criminisi(image, mask, guide_weight=float("nan"))


def test_registered_and_callable_through_inpaint():
    import inpaintkit

    image = make_image(np.uint8, "rgb")
    mask = np.zeros(image.shape[:2], bool)
    mask[12:20, 12:20] = True
    direct = inpaint_criminisi(image, mask, patch_size=5)
    via = inpaintkit.inpaint(image, mask, method="criminisi", patch_size=5)
    np.testing.assert_array_equal(direct, via)
