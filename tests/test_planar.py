"""Tests of the warped patch search and planar structure-guided completion."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from scipy import ndimage

import inpaintkit
from inpaintkit import metrics, structure
from inpaintkit.algorithms import _planar_kernels as _k
from inpaintkit.algorithms.patchmatch import inpaint_patchmatch
from inpaintkit.algorithms._jit import threads
from inpaintkit.algorithms.planar import (
    _balanced_bands, _PlaneModel, inpaint_planar, patchmatch_nnf_warped,
)


# ------------------------------------------------------------- NumPy references


def ref_map(line, t, offset, u):
    """Source point of target point t + u under candidate (line, rectified offset):
    H^-1(H(t + u) + offset), (row, col) coordinates, line = (g_row, g_col, c)."""
    g, c = np.array(line[:2]), line[2]
    p = np.asarray(t, float) + u
    rect = p / (g @ p + c) + offset
    return rect * c / (1.0 - g @ rect)


def ref_transform(line, t, offset):
    """Source centre and the Jacobian of ref_map at u = 0 (central differences)."""
    h = 1e-4
    centre = ref_map(line, t, offset, np.zeros(2))
    jac = np.empty((2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        jac[:, j] = (ref_map(line, t, offset, e) - ref_map(line, t, offset, -e)) / (2 * h)
    return centre, jac


def ref_warped_cost(src, tgt, t, centre, A, r, n_colour, bias_max):
    """Gaussian-weighted L1 (summed over channels) with clipped per-channel bias."""
    u = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(u, u, indexing="ij")
    weights = np.exp(-(dy ** 2 + dx ** 2) / (2.0 * max(r, 1) ** 2))
    py = centre[0] + A[0, 0] * dy + A[0, 1] * dx
    px = centre[1] + A[1, 0] * dy + A[1, 1] * dx
    samples = np.stack([ndimage.map_coordinates(src[..., c], [py, px], order=1)
                        for c in range(src.shape[2])], axis=2)
    target = tgt[t[0] - r:t[0] + r + 1, t[1] - r:t[1] + r + 1]
    mean_t = (weights[..., None] * target).sum(axis=(0, 1)) / weights.sum()
    mean_s = (weights[..., None] * samples).sum(axis=(0, 1)) / weights.sum()
    bias = np.zeros(src.shape[2])
    bias[:n_colour] = np.clip((mean_t - mean_s)[:n_colour], -bias_max, bias_max)
    diff = np.abs(target - samples - bias).sum(axis=2)
    return (weights * diff).sum() / weights.sum(), bias[:n_colour]


@pytest.mark.parametrize("line,offset", [
    ((0.0, 0.0, 1.0), (7.0, -12.0)),
    ((0.002, -0.003, 1.1), (10.5, 4.25)),
    ((-0.004, 0.001, 0.9), (-6.0, 15.0)),
])
def test_candidate_transform_matches_reference(line, offset):
    lines = np.array([line], dtype=np.float64)
    t = (30, 41)
    sy, sx, a00, a01, a10, a11, scale, ok = _k.candidate_transform(lines, 0, t[0], t[1], *offset)
    centre, jac = ref_transform(line, t, np.array(offset))
    assert ok
    assert np.allclose([sy, sx], centre, atol=1e-8)
    assert np.allclose([[a00, a01], [a10, a11]], jac, atol=1e-6)
    assert np.isclose(scale, np.sqrt(abs(np.linalg.det(jac))), rtol=1e-6)


@pytest.mark.parametrize("bias_max", [0.0, 0.1])
def test_warped_cost_matches_reference(bias_max):
    rng = np.random.default_rng(3)
    src = rng.random((40, 40, 3))
    tgt = np.clip(src + 0.05, 0, 1)
    r = 3
    line = (0.003, -0.002, 1.0)
    lines = np.array([line])
    t = (20, 18)
    sy, sx, a00, a01, a10, a11, _, ok = _k.candidate_transform(lines, 0, t[0], t[1], 2.5, -4.0)
    gauss = np.exp(-(np.arange(-r, r + 1)[:, None] ** 2 + np.arange(-r, r + 1)[None] ** 2)
                   / (2.0 * r * r))
    samples = np.empty(((2 * r + 1) ** 2, 3))
    bias = np.zeros(2)
    sums = np.zeros(3)
    _k.target_sums(tgt, np.ones((40, 40), bool), gauss, r, 2, t[0], t[1], sums)
    cost = _k.warped_cost(src, tgt, np.ones((40, 40), bool), np.ones((40, 40), bool), gauss, r,
                          2, bias_max, t[0], t[1], sy, sx, a00, a01, a10, a11, samples, bias,
                          np.inf, sums)
    expected, expected_bias = ref_warped_cost(src, tgt, t, (sy, sx),
                                              np.array([[a00, a01], [a10, a11]]), r, 2, bias_max)
    assert np.isclose(cost, expected, rtol=1e-6)
    assert np.allclose(bias, expected_bias, atol=1e-9)
    # A sample on an invalid source pixel makes the candidate invalid.
    src_ok = np.ones((40, 40), bool)
    src_ok[int(round(sy)), int(round(sx))] = False
    assert _k.warped_cost(src, tgt, np.ones((40, 40), bool), src_ok, gauss, r, 2, bias_max,
                          t[0], t[1], sy, sx, a00, a01, a10, a11, samples, bias, np.inf,
                          sums) == np.inf


# ----------------------------------------------------------------- warped NNF


def test_warped_nnf_recovers_a_known_homography():
    rng = np.random.default_rng(0)
    source = cv2.GaussianBlur(rng.random((96, 96)), (0, 0), 1.5)
    source = (source - source.min()) / np.ptp(source)
    # target(t) = source(H^-1(H(t) + d)): a perspective copy of the source.
    line = np.array([0.0025, -0.0015, 1.0])  # (g_row, g_col, c)
    offset = np.array([6.0, -5.0])
    rows, cols = np.mgrid[:96, :96].astype(np.float64)
    w = line[0] * rows + line[1] * cols + line[2]
    ry, rx = rows / w + offset[0], cols / w + offset[1]
    ws = line[2] / (1 - line[0] * ry - line[1] * rx)
    map_y, map_x = (ry * ws).astype(np.float32), (rx * ws).astype(np.float32)
    target = cv2.remap(source.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    homography = np.array([[1, 0, 0], [0, 1, 0], [line[1], line[0], line[2]]])  # (x, y) form
    pos, A, plane, dist = patchmatch_nnf_warped(source, target, homographies=[homography],
                                                patch_size=7, iterations=6, seed=1)
    assert pos.shape == (96, 96, 2) and A.shape == (96, 96, 2, 2) and plane.shape == (96, 96)
    inner = (map_y > 8) & (map_y < 87) & (map_x > 8) & (map_x < 87)
    inner[:8] = inner[-8:] = False
    inner[:, :8] = inner[:, -8:] = False
    error = np.hypot(pos[..., 0] - map_y, pos[..., 1] - map_x)[inner]
    assert np.mean(error < 0.5) > 0.9
    assert np.mean(plane[inner] == 0) > 0.9
    assert float(np.median(dist[inner])) < 0.02


def test_warped_nnf_identity_and_errors():
    rng = np.random.default_rng(0)
    source = rng.random((40, 40))
    target = np.roll(source, (3, -5), axis=(0, 1))
    pos, A, plane, dist = patchmatch_nnf_warped(source, target, patch_size=5)
    assert pos[20, 20].tolist() == [17.0, 25.0] and dist[20, 20] == 0.0
    assert np.all(plane == 0)  # only the identity plane
    with pytest.raises(ValueError, match="affine rectification"):
        patchmatch_nnf_warped(source, target, homographies=[np.eye(3) * 2])
    with pytest.raises(ValueError, match="scale_range"):
        patchmatch_nnf_warped(source, target, scale_range=(1.2, 1.5))
    with pytest.raises(ValueError, match="patch_size"):
        patchmatch_nnf_warped(source, target, patch_size=4)


# ----------------------------------------------------------------- completion


def perspective_checker(size=128, period=64):
    n = 512
    y, x = np.mgrid[:n, :n]
    texture = (((x // period) + (y // period)) % 2).astype(np.float32) * 0.8 + 0.1
    src = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    dst = np.float32([[-0.1 * size, -0.05 * size], [0.95 * size, 0.12 * size],
                      [0.95 * size, 0.88 * size], [-0.1 * size, 1.05 * size]])
    H = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(texture, H, (size, size), flags=cv2.INTER_AREA)


def test_perspective_checkerboard_is_restored():
    image = perspective_checker()
    mask = np.zeros(image.shape, bool)
    mask[44:84, 40:80] = True
    out = inpaint_planar(image, mask)
    baseline = inpaint_patchmatch(image, mask)
    ours = metrics.psnr(image, out, data_range=1.0)
    theirs = metrics.psnr(image, baseline, data_range=1.0)
    # Measured 30.0-31.5 dB over seeds 0-2 (patchmatch: 22.8-23.0 dB) when written.
    assert ours > 27.0
    assert ours > theirs + 3.0


def test_no_planes_is_patchmatch(caplog):
    rng = np.random.default_rng(2)
    image = cv2.GaussianBlur(rng.random((56, 56, 3)), (0, 0), 2.0).astype(np.float32)
    mask = np.zeros((56, 56), bool)
    mask[20:34, 18:36] = True
    with caplog.at_level(logging.INFO, logger="inpaintkit"):
        out, planes = inpaint_planar(image, mask, return_planes=True, seed=3)
    assert "filling as patchmatch" in caplog.text
    assert len(planes.planes) == 1
    assert np.array_equal(out, inpaint_patchmatch(image, mask, seed=3))


def grid_image(size=64):
    """A perspective grid (lines every 12 px) in gray [0, 1]."""
    n = 256
    texture = np.ones((n, n), np.float32)
    for k in range(0, n, 12):
        texture[k:k + 3] = 0.1
        texture[:, k:k + 3] = 0.1
    src = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    dst = np.float32([[-4, -2], [size + 2, 8], [size + 2, size - 8], [-4, size + 2]])
    return cv2.warpPerspective(texture, cv2.getPerspectiveTransform(src, dst), (size, size),
                               flags=cv2.INTER_AREA)


@pytest.mark.parametrize("dtype,channels", [
    (np.uint8, None), (np.uint16, 3), (np.float32, 4), (np.float64, 1),
])
def test_contract(dtype, channels):
    gray = grid_image()
    image = gray if channels is None else np.stack([gray] * channels, axis=2)
    if channels == 4:
        image[..., 3] = 0.75
    if dtype in (np.uint8, np.uint16):
        image = np.rint(image * np.iinfo(dtype).max).astype(dtype)
    else:
        image = image.astype(dtype)
    mask = np.zeros((64, 64), bool)
    mask[0:14, 40:64] = True  # touches two borders
    mask[30:40, 10:22] = True
    before = image.copy()
    out = inpaintkit.inpaint(image, mask, method="planar", patch_size=5)
    assert np.array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == image.dtype
    assert np.array_equal(out[~mask], image[~mask])
    assert np.all(np.isfinite(out.astype(np.float64)))
    if channels == 4:
        assert np.all(out[..., 3] == image[..., 3])
    if dtype == np.uint8:
        again = inpaintkit.inpaint(image, mask, method="planar", patch_size=5)
        assert np.array_equal(out, again)  # deterministic for a seed


def test_return_planes_and_no_hole():
    image = grid_image()
    mask = np.zeros((64, 64), bool)
    mask[20:36, 20:36] = True
    out, planes = inpaint_planar(image, mask, patch_size=5, return_planes=True)
    assert isinstance(planes, structure.Planes)
    assert planes.posterior.shape[:2] == (64, 64)
    empty = np.zeros((64, 64), bool)
    with pytest.warns(UserWarning, match="no hole"):
        assert np.array_equal(inpaint_planar(image, empty, patch_size=5), image)


@pytest.mark.parametrize("params,error,match", [
    (dict(lambda_plane=-1.0), ValueError, "lambda_plane"),
    (dict(lambda_direct=float("nan")), ValueError, "lambda_direct"),
    (dict(lambda_regularity=-0.1), ValueError, "lambda_regularity"),
    (dict(patch_size=8), ValueError, "odd"),
    (dict(max_vps=1), ValueError, "max_vps"),
    (dict(use_regularity="yes"), TypeError, "use_regularity"),
    (dict(pyramid="dyadic"), ValueError, "pyramid"),
    (dict(final_vote="median"), ValueError, "final_vote"),
    (dict(sharpness=1.5), ValueError, "sharpness"),
    (dict(sharpness=True), ValueError, "sharpness"),
    (dict(split_planes=1), TypeError, "split_planes"),
])
def test_bad_parameters(params, error, match):
    image = grid_image()
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:30] = True
    with pytest.raises(error, match=match):
        inpaint_planar(image, mask, **params)


def test_geometric_pyramid_is_the_papers():
    from inpaintkit.algorithms.patchmatch import _build_geometric_pyramid

    rng = np.random.default_rng(0)
    data = rng.random((256, 320, 5)).astype(np.float32)
    hole = np.zeros((256, 320), bool)
    hole[60:200, 80:240] = True
    exclude = np.zeros_like(hole)
    levels, factors = _build_geometric_pyramid(data, hole, exclude, 5, 10, 32)
    assert len(levels) == 10 and len(factors) == 10
    shorts = [level[1].shape[0] for level in levels]
    assert shorts[0] == 256 and abs(shorts[-1] - 32) <= 1
    ratios = np.array(shorts[:-1]) / np.array(shorts[1:])
    assert np.all(np.abs(ratios - 8 ** (1 / 9)) < 0.05)  # a constant ratio
    for (values, level_hole, _), (fy, fx) in zip(levels, factors):
        assert level_hole.any() and not level_hole.all()
        assert abs(fy - 256 / level_hole.shape[0]) < 1e-9
        assert abs(fx - 320 / level_hole.shape[1]) < 1e-9
        # Known coarse pixels average known fine pixels only: far from the hole they
        # are the plain area mean.
        plain = cv2.resize(np.ascontiguousarray(data[:, :, :4]), level_hole.shape[::-1],
                           interpolation=cv2.INTER_AREA)
        assert np.allclose(values[:8, :8, :4], plain[:8, :8], atol=1e-5)
    # A coarse pixel half inside the hole is unknown; one mostly known is known.
    coarse_hole = levels[3][1]
    fy, fx = factors[3]
    ys, xs = np.nonzero(coarse_hole)
    assert ys.min() * fy >= 60 - fy and (ys.max() + 1) * fy <= 200 + fy


def test_upsample_field_scales_offsets():
    from inpaintkit.algorithms.planar import _upsample_field

    plane = np.array([[0, 1], [2, 3]], dtype=np.int64)
    offset = np.ones((2, 2, 2))
    fine_plane, fine_offset = _upsample_field(plane, offset, (3, 3), (1.5, 1.5))
    assert fine_plane.tolist() == [[0, 1, 1], [2, 3, 3], [2, 3, 3]]  # nearest centres
    assert np.all(fine_offset == 1.5)


def test_registered():
    assert "planar" in inpaintkit.registry.names()
    params = inpaintkit.registry.get("planar").params()
    assert params["patch_size"] is None and params["use_regularity"] is True


# ------------------------------------------------------------------------ CLI


def test_cli_planes_picture_and_errors(tmp_path, capsys):
    from inpaintkit import io
    from inpaintkit.cli import main

    image = np.rint(grid_image(96) * 255).astype(np.uint8)
    hole = np.zeros((96, 96), bool)
    hole[30:60, 30:60] = True
    image_path = io.write_image(tmp_path / "grid.png", image)
    mask_path = io.write_image(tmp_path / "mask.png", hole.astype(np.uint8) * 255)
    out = tmp_path / "planes.png"
    with pytest.raises(SystemExit) as done:
        main(["planes", str(image_path), str(mask_path), "-o", str(out)])
    assert done.value.code == 0
    picture = io.read_image(out)
    assert picture.shape == (96, 288, 3)
    assert "vanishing points" in capsys.readouterr().err
    # Refusals: one line, no traceback, nothing written.
    for argv in (["planes", str(image_path), "-o", str(image_path)],
                 ["planes", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.png")],
                 ["planes", str(image_path), "-o", str(tmp_path / "y.png"), "--max-vps", "1"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        err = capsys.readouterr().err
        assert done.value.code != 0
        assert len([line for line in err.splitlines() if line.strip()]) == 1
        assert "Traceback" not in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


# ------------------------------------------------------------ speed and detail


def test_bands_balance_the_active_patches():
    active = np.zeros((512, 512), bool)
    active[5:265, 240:455] = True  # a hole in the top half only
    active[100:110, 0:40] = True
    even, odd = _balanced_bands(active)
    assert even[0] == 5 and even[-1] == 265 and odd[0] == 5 and odd[-1] == 265
    assert np.all(np.diff(even) >= 8) and np.all(np.diff(odd) > 0)
    counts = [np.count_nonzero(active[a:b]) for a, b in zip(even[:-1], even[1:])]
    # Two threads each get half of the bands: about half of the work each.
    half = len(counts) // 2
    assert abs(sum(counts[:half]) - sum(counts[half:])) < 0.1 * sum(counts)
    # Odd iterations cut in the middle of the even bands.
    assert len(odd) == len(even) + 1
    assert np.all((odd[1:-1] > even[:-1]) & (odd[1:-1] < even[1:]))
    assert [b.tolist() for b in _balanced_bands(np.zeros((9, 9), bool))] == [[0, 0], [0, 0]]


def test_result_does_not_depend_on_the_thread_count():
    image = perspective_checker(96)
    mask = np.zeros(image.shape, bool)
    mask[30:66, 28:60] = True
    parallel = inpaint_planar(image, mask, patch_size=5)
    with threads(False):
        serial = inpaint_planar(image, mask, patch_size=5)
    assert np.array_equal(parallel, serial)


def test_sharpness_restores_detail_in_the_hole_only():
    image = perspective_checker()
    mask = np.zeros(image.shape, bool)
    mask[44:84, 40:80] = True
    soft = inpaint_planar(image, mask, sharpness=0.0)
    sharp = inpaint_planar(image, mask, sharpness=1.0)
    assert np.array_equal(soft[~mask], sharp[~mask])
    assert not np.array_equal(soft[mask], sharp[mask])
    assert (metrics.texture_ratio(image, sharp, mask)
            > metrics.texture_ratio(image, soft, mask) + 0.01)
    # No plane: the sharpness is patchmatch's.
    rng = np.random.default_rng(2)
    blobs = cv2.GaussianBlur(rng.random((56, 56, 3)), (0, 0), 2.0).astype(np.float32)
    hole = np.zeros((56, 56), bool)
    hole[20:34, 18:36] = True
    assert np.array_equal(inpaint_planar(blobs, hole, sharpness=0.3),
                          inpaint_patchmatch(blobs, hole, sharpness=0.3))


def test_plane_model_resizes_any_number_of_planes():
    image = grid_image()
    planes = structure.detect_planes(image, np.zeros((64, 64), bool))
    count = 6
    planes.planes = [planes.planes[0]] * (count - 1) + [planes.planes[-1]]
    planes.posterior = np.full((64, 64, count), 1.0 / count, np.float32)
    planes.regularity = [np.zeros((0, 2))] * count
    model = _PlaneModel.from_planes(planes, (37, 41), (64 / 37, 64 / 41))
    assert model.nlp.shape == (count, 37, 41)
    assert np.allclose(model.cum_post[..., -1], 1.0)


def test_fill_memory_is_under_320_bytes_a_pixel():
    """The fill's traced peak (NumPy arrays and Python objects) on a 256x256 RGB
    perspective checkerboard with a 10 % box hole, its planes and lattice found,
    stays under 320 bytes per pixel (439 before each level's inputs, the previous
    EM step's search and transforms and the float64 copy of the colour were dropped
    early and mean shift tabulated its votes in row blocks; 271 after). The same
    call runs once untraced first, so imports, kernels and caches are not counted."""
    import tracemalloc

    image = (255 * np.repeat(perspective_checker(256)[:, :, None], 3, axis=2)).astype(np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[90:170, 80:160] = True
    first, planes = inpaint_planar(image, mask, return_planes=True)
    assert len(planes.planes) >= 2 and any(len(v) for v in planes.regularity)
    tracemalloc.start()
    try:
        again = inpaint_planar(image, mask)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(again, first)
    assert peak / mask.size < 320, peak / mask.size
