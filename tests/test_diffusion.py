"""The PDE diffusion family through ``inpaint_diffusion``, and its kernels against NumPy.

The telea/coherence kernels have their own reference tests (test_fast_marching.py);
here they are exercised through the public wrapper only.
"""

import warnings

import cv2
import numpy as np
import pytest
from scipy import ndimage
from skimage.restoration import inpaint_biharmonic

import inpaintkit
from inpaintkit.algorithms import _diffusion_kernels as kernels
from inpaintkit.algorithms.diffusion import VARIANTS, inpaint_diffusion

ITERATIVE = ("tv", "transport")
DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
CHANNELS = (None, 3, 4)  # gray (H, W), RGB, RGBA


def smooth_image(height=40, width=48, channels=3, seed=0):
    """A smooth colour field in [0.1, 0.9] (H, W, C)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(float)
    planes = []
    for _ in range(channels):
        a, b, p, q = rng.uniform(6, 12, 4)
        planes.append(0.5 + 0.2 * np.sin(x / a + p) * np.cos(y / b + q) + 0.1 * np.sin((x + y) / 15))
    return np.stack(planes, axis=2)


def to_dtype(values, dtype):
    if dtype == np.uint8:
        return np.rint(values * 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.rint(values * 65535).astype(np.uint16)
    return values.astype(dtype)


def small_holes(height=40, width=48):
    mask = np.zeros((height, width), bool)
    mask[5:9, 6:10] = True
    mask[20:23, 30:36] = True
    mask[30, 5:20] = True
    mask[12, 40] = True
    return mask


def hole_psnr(truth, result, mask):
    err = np.mean((truth[mask] - result[mask]) ** 2)
    return 10 * np.log10(1.0 / max(err, 1e-20))


def as_float(image):
    if image.dtype == np.uint8:
        return image / 255.0
    if image.dtype == np.uint16:
        return image / 65535.0
    return image.astype(np.float64)


# ----------------------------------------------------------------------------------
# the contract, for every variant, dtype and channel layout
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_and_quality(variant, dtype, channels):
    base = smooth_image(channels=1 if channels is None else channels)
    if channels == 4:
        base[..., 3] = np.linspace(0.2, 1.0, base.shape[1])[None, :]
    truth = to_dtype(base[..., 0] if channels is None else base, dtype)
    mask = small_holes()
    damaged = truth.copy()
    damaged[mask] = 0
    out = inpaint_diffusion(damaged, mask, variant=variant, iterations=300)
    assert out.shape == truth.shape and out.dtype == truth.dtype
    # Known pixels bit-for-bit unchanged.
    assert np.array_equal(out[~mask], damaged[~mask])
    colour = slice(0, 3) if channels == 4 else slice(None)
    t = as_float(truth)[..., colour] if channels else as_float(truth)
    r = as_float(out)[..., colour] if channels else as_float(out)
    assert hole_psnr(t, r, mask) > 33.0
    if channels == 4:
        # Alpha carried through (nearest known value inside the hole).
        assert np.abs(as_float(out)[..., 3] - as_float(truth)[..., 3])[mask].max() < 0.05


@pytest.mark.parametrize("variant", VARIANTS)
def test_constant_region_stays_constant(variant):
    image = np.full((30, 34, 3), 137, np.uint8)
    mask = np.zeros((30, 34), bool)
    mask[8:20, 5:25] = True
    mask[0:4, 30:34] = True  # touches the border
    out = inpaint_diffusion(image, mask, variant=variant)
    assert np.array_equal(out, image)


@pytest.mark.parametrize("variant", ("harmonic", "biharmonic", "tension", "transport"))
def test_linear_ramp_restored(variant):
    y, x = np.mgrid[0:40, 0:50].astype(float)
    ramp = 0.1 + 0.012 * x + 0.008 * y
    mask = np.zeros(ramp.shape, bool)
    mask[6:30, 5:40] = True  # two pixels from the border: the stencils stay inside
    mask[33:36, 10:45] = True
    out = inpaint_diffusion(ramp, mask, variant=variant)
    assert np.abs(out - ramp).max() < 1e-9


def test_tv_keeps_a_step_edge_sharp():
    step = np.zeros((48, 48))
    step[:, 24:] = 1.0
    mask = np.zeros(step.shape, bool)
    mask[14:34, 14:34] = True
    tv = inpaint_diffusion(step, mask, variant="tv", iterations=3000, tolerance=1e-7)
    harmonic = inpaint_diffusion(step, mask, variant="harmonic")
    assert np.abs(tv - step)[mask].mean() < 0.01
    # At most one blurred pixel per row across the edge.
    intermediate = (tv[mask] > 0.1) & (tv[mask] < 0.9)
    assert intermediate.sum() <= 20
    assert np.abs(harmonic - step)[mask].mean() > 0.03  # the test can tell blur apart


def total_variation(image):
    gx = np.diff(image, axis=1, append=image[:, -1:])
    gy = np.diff(image, axis=0, append=image[-1:, :])
    return np.sqrt(gx ** 2 + gy ** 2).sum()


def test_tv_lowers_total_variation_below_harmonic():
    image = smooth_image(channels=1)[..., 0]
    image[:, 20:] += 0.1  # an edge
    mask = small_holes()
    mask[10:30, 15:28] = True
    tv = inpaint_diffusion(image, mask, variant="tv", iterations=2000, tolerance=1e-8)
    harmonic = inpaint_diffusion(image, mask, variant="harmonic")
    assert total_variation(tv) < total_variation(harmonic) - 0.05


# ----------------------------------------------------------------------------------
# biharmonic against scikit-image
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", (None, 3))
def test_biharmonic_matches_skimage(channels):
    image = smooth_image(50, 60, channels or 1, seed=3)
    rng = np.random.default_rng(1)
    image = np.clip(image + 0.05 * rng.standard_normal(image.shape), 0, 1)
    if channels is None:
        image = image[..., 0]
    mask = np.zeros((50, 60), bool)
    mask[0:6, 10:20] = True          # touches the top border
    mask[20:30, 55:60] = True        # touches the right border
    mask[46:50, 0:5] = True          # a corner
    mask[25:31, 20:26] = True
    mask[25:31, 28:34] = True        # two known columns apart: coupled holes
    mask[40, 30] = True              # one pixel
    ours = inpaint_diffusion(image, mask, variant="biharmonic")
    theirs = inpaint_biharmonic(image, mask, channel_axis=None if channels is None else -1)
    assert np.abs(ours - theirs).mean() < 1e-9
    assert np.abs(ours - theirs).max() < 1e-7


def test_tension_between_harmonic_and_biharmonic():
    image = smooth_image(channels=1)[..., 0]
    mask = small_holes()
    bi = inpaint_diffusion(image, mask, variant="biharmonic")
    assert np.array_equal(inpaint_diffusion(image, mask, variant="tension", tension=0.0), bi)
    near = inpaint_diffusion(image, mask, variant="tension", tension=0.999999)
    harmonic = inpaint_diffusion(image, mask, variant="harmonic")
    assert np.abs(near - harmonic).max() < 1e-4


# ----------------------------------------------------------------------------------
# awkward masks
# ----------------------------------------------------------------------------------

def awkward_masks():
    h, w = 32, 36
    border = np.zeros((h, w), bool)
    border[:, 0:3] = True
    border[h - 2:, :] = True
    many = np.zeros((h, w), bool)
    many[1::4, 2::5] = True
    many[2::4, 2::5] = True
    single = np.zeros((h, w), bool)
    single[15, 17] = True
    almost_all = np.ones((h, w), bool)
    almost_all[3, 4] = almost_all[20, 30] = almost_all[28, 10] = False
    return {"border": border, "many": many, "single": single, "almost_all": almost_all}


@pytest.mark.parametrize("case", ["border", "many", "single", "almost_all"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_awkward_masks(variant, case):
    mask = awkward_masks()[case]
    image = to_dtype(smooth_image(32, 36, 3, seed=5), np.uint8)
    out = inpaint_diffusion(image, mask, variant=variant, iterations=200)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])
    known = image[~mask].astype(int)
    lo, hi = known.min(axis=0), known.max(axis=0)
    filled = out[mask].astype(int)
    if variant != "telea":  # Telea extrapolates gradients (first-order Taylor terms)
        # The other fills are clipped to, or obey, the known range.
        assert np.all(filled >= lo - 2) and np.all(filled <= hi + 2)
    if case != "almost_all":
        truth = as_float(image)
        assert hole_psnr(truth, as_float(out), mask) > 25.0


def test_no_hole_returns_a_copy_with_a_warning():
    image = to_dtype(smooth_image(), np.uint8)
    with pytest.warns(UserWarning, match="no hole"):
        out = inpaint_diffusion(image, np.zeros(image.shape[:2], bool))
    assert np.array_equal(out, image) and out is not image


def test_all_hole_is_an_error():
    with pytest.raises(ValueError, match="whole image"):
        inpaint_diffusion(np.zeros((8, 8)), np.ones((8, 8), bool))


# ----------------------------------------------------------------------------------
# options and the registry
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"variant": "laplace"}, r"unknown variant 'laplace'; valid variants: tension, biharmonic"),
    ({"variant": None}, "unknown variant None"),
    ({"iterations": 0}, r"iterations must be an integer in \[1, 1000000\], got 0"),
    ({"iterations": 2.5}, "iterations must be an integer"),
    ({"iterations": True}, "iterations must be an integer"),
    ({"tolerance": -1e-3}, r"tolerance must be a finite number in \[0.0, 1.0\]"),
    ({"tolerance": float("nan")}, "tolerance must be a finite number"),
    ({"tension": 1.0}, r"tension must be a finite number in \[0.0, 1.0\), got 1.0"),
    ({"tension": "high"}, "tension must be a finite number"),
    ({"inpaint_steps": 0}, "inpaint_steps must be an integer in"),
    ({"diffusion_steps": -1}, "diffusion_steps must be an integer in"),
    ({"radius": 0}, "radius must be an integer in"),
    ({"sharpness": -1.0}, "sharpness must be a finite number in"),
    ({"sigma": 0.0}, r"sigma must be a finite number in \(0.0, 50.0\]"),
    ({"rho": 100.0}, "rho must be a finite number in"),
])
def test_bad_options(options, message):
    image = smooth_image(16, 16, 1)[..., 0]
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    with pytest.raises(ValueError, match=message):
        inpaint_diffusion(image, mask, **options)


def test_through_the_registry():
    image = to_dtype(smooth_image(), np.uint8)
    mask = small_holes()
    direct = inpaint_diffusion(image, mask, variant="harmonic")
    assert np.array_equal(inpaintkit.inpaint(image, mask, method="diffusion", variant="harmonic"), direct)
    params = {row["name"]: row["params"] for row in inpaintkit.methods()}["diffusion"]
    assert params["variant"] == "tension" and params["tension"] == 0.25
    with pytest.raises(ValueError, match="unknown variant"):
        inpaintkit.inpaint(image, mask, method="diffusion", variant="nope")
    with pytest.raises(ValueError, match="unknown parameter 'weight'"):
        inpaintkit.inpaint(image, mask, method="diffusion", weight=1)


def test_bad_image_and_mask_are_refused():
    mask = np.zeros((10, 10), bool)
    mask[2, 2] = True
    with pytest.raises(ValueError, match="mask has shape"):
        inpaint_diffusion(np.zeros((10, 10)), np.zeros((9, 10), bool))
    with pytest.raises(ValueError, match="channels"):
        inpaint_diffusion(np.zeros((10, 10, 2)), mask)
    bad = np.zeros((10, 10))
    bad[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        inpaint_diffusion(bad, mask)


# ----------------------------------------------------------------------------------
# kernels against plain NumPy references
# ----------------------------------------------------------------------------------

def reference_system(data, mask, order, tension=0.0):
    """Dense (-L)[H, H] / ((1-T) L^2 - T L)[H, H] and rhs, rows built like scikit-image:
    row p of L^2 is laplace(laplace(delta_p)) with ndimage's reflect border."""
    h, w, _ = data.shape
    holes = np.flatnonzero(mask)
    rows_a, rhs = [], []
    for p in holes:
        delta = np.zeros(h * w)
        delta[p] = 1.0
        delta = delta.reshape(h, w)
        lap = ndimage.laplace(delta, mode="reflect")
        row = -lap if order == 1 else (1 - tension) * ndimage.laplace(lap, mode="reflect") - tension * lap
        row = row.ravel()
        rows_a.append(row[holes])
        known = ~mask.ravel()
        rhs.append(-(row[known][:, None] * data.reshape(-1, data.shape[2])[known]).sum(axis=0))
    return np.array(rows_a), np.array(rhs)


@pytest.mark.parametrize("order, tension", [(1, 0.0), (2, 0.0), (2, 0.3)])
def test_assemble_system_matches_reference(order, tension):
    rng = np.random.default_rng(0)
    data = rng.random((9, 11, 2))
    mask = rng.random((9, 11)) < 0.3
    mask[0, 0] = mask[8, 10] = True
    data[mask] = 0
    rows, cols = np.nonzero(mask)
    index = kernels.hole_index_map(rows, cols, 9, 11)
    a_rows, a_cols, a_vals, rhs = kernels.assemble_system(rows, cols, index, data, order, tension)
    dense = np.zeros((rows.size, rows.size))
    np.add.at(dense, (a_rows, a_cols), a_vals)
    ref_a, ref_rhs = reference_system(data, mask, order, tension)
    np.testing.assert_allclose(dense, ref_a, atol=1e-12)
    np.testing.assert_allclose(rhs, ref_rhs, atol=1e-12)
    np.testing.assert_allclose(dense, dense.T, atol=1e-12)  # SPD system
    assert np.linalg.eigvalsh(dense).min() > 0


def test_known_range_matches_numpy():
    rng = np.random.default_rng(2)
    data = rng.random((7, 8, 3))
    mask = rng.random((7, 8)) < 0.5
    low, high = kernels.known_range(data, mask)
    np.testing.assert_array_equal(low, data[~mask].min(axis=0))
    np.testing.assert_array_equal(high, data[~mask].max(axis=0))


def reference_tv(data, mask, u0, iterations, tau, sigma, low, high):
    """Chambolle-Pock for vectorial TV inpainting on the whole grid, in NumPy."""
    u = data.copy()
    u[mask] = u0
    u_bar = u.copy()
    y = np.zeros(data.shape + (2,))

    def grad(v):
        g = np.zeros(v.shape + (2,))
        g[:, :-1, :, 0] = v[:, 1:] - v[:, :-1]
        g[:-1, :, :, 1] = v[1:] - v[:-1]
        return g

    def div(p):
        d = p[..., 0].copy()
        d[:, 1:] -= p[:, :-1, :, 0]
        d += p[..., 1]
        d[1:] -= p[:-1, :, :, 1]
        return d

    for _ in range(iterations):
        y = y + sigma * grad(u_bar)
        norm = np.sqrt((y ** 2).sum(axis=(2, 3), keepdims=True))
        y = y / np.maximum(norm, 1.0)
        new = u.copy()
        new[mask] = np.clip(u[mask] + tau * div(y)[mask], low, high)
        u_bar = 2 * new - u
        u = new
    return u[mask]


def test_tv_iterate_matches_reference():
    rng = np.random.default_rng(4)
    data = rng.random((10, 12, 3))
    mask = np.zeros((10, 12), bool)
    mask[2:6, 3:9] = True
    mask[7:10, 9:12] = True  # touches two borders
    mask[0, 0] = True
    data[mask] = 0
    rows, cols = np.nonzero(mask)
    index = kernels.hole_index_map(rows, cols, 10, 12)
    dual_rows, dual_cols, dual_nb, hole_nb = kernels.tv_tables(rows, cols, index, 10, 12)
    u0 = rng.random((rows.size, 3))
    u, u_bar = u0.copy(), u0.copy()
    dual = np.zeros((dual_rows.size, 3, 2))
    tau = sigma = 1 / np.sqrt(8)
    low, high = np.full(3, 0.45), np.full(3, 0.55)  # active bounds: the clip is exercised
    kernels.tv_iterate(data, dual_rows, dual_cols, dual_nb, hole_nb, u, u_bar, dual, 30, tau, sigma,
                       low, high)
    expected = reference_tv(data, mask, u0, 30, tau, sigma, low, high)
    np.testing.assert_allclose(u, expected, atol=1e-12)
    assert 0 < (expected == 0.45).sum() and 0 < (expected == 0.55).sum()


def reference_transport_cycle(work, mask, inpaint_steps, diffusion_steps, dt, eps):
    """Bertalmio et al. transport + curvature diffusion on the whole grid, in NumPy."""
    u = work.copy()
    for step in range(inpaint_steps + diffusion_steps):
        p = np.pad(u, ((1, 1), (1, 1), (0, 0)), mode="edge")
        c = p[1:-1, 1:-1]
        up, down, left, right = p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]
        ix, iy = (right - left) / 2, (down - up) / 2
        if step < inpaint_steps:
            lap = np.pad(up + down + left + right - 4 * c, ((1, 1), (1, 1), (0, 0)), mode="edge")
            dlx = lap[1:-1, 2:] - lap[1:-1, :-2]
            dly = lap[2:, 1:-1] - lap[:-2, 1:-1]
            beta = (dlx * -iy + dly * ix) / np.sqrt(ix ** 2 + iy ** 2 + eps)
            ixb, ixf, iyb, iyf = c - left, right - c, c - up, down - c
            mn, mx = np.minimum, np.maximum
            pos = np.sqrt(mn(ixb, 0) ** 2 + mx(ixf, 0) ** 2 + mn(iyb, 0) ** 2 + mx(iyf, 0) ** 2)
            neg = np.sqrt(mx(ixb, 0) ** 2 + mn(ixf, 0) ** 2 + mx(iyb, 0) ** 2 + mn(iyf, 0) ** 2)
            rate = beta * np.where(beta > 0, pos, neg)
        else:
            ixx, iyy = right + left - 2 * c, down + up - 2 * c
            ixy = (p[2:, 2:] - p[2:, :-2] - p[:-2, 2:] + p[:-2, :-2]) / 4
            rate = (ixx * iy ** 2 - 2 * ix * iy * ixy + iyy * ix ** 2) / (ix ** 2 + iy ** 2 + eps)
        u[mask] += dt * rate[mask]
    return u


def test_transport_cycle_matches_reference():
    rng = np.random.default_rng(5)
    work = rng.random((11, 13, 2))
    mask = np.zeros((11, 13), bool)
    mask[3:7, 2:8] = True
    mask[0:2, 10:13] = True  # corner
    rows, cols = np.nonzero(mask)
    index = kernels.hole_index_map(rows, cols, 11, 13)
    band_rows, band_cols, hole_nb = kernels.transport_tables(rows, cols, index, 11, 13)
    expected = reference_transport_cycle(work, mask, 4, 2, 0.1, 1e-10)
    lap = np.zeros((band_rows.size, 2))
    rate = np.zeros((rows.size, 2))
    kernels.transport_cycle(work, rows, cols, band_rows, band_cols, hole_nb, lap, rate, 4, 2, 0.1, 1e-10)
    np.testing.assert_allclose(work, expected, atol=1e-12)


def test_iterative_variants_are_deterministic():
    image = to_dtype(smooth_image(), np.uint8)
    mask = small_holes()
    for variant in ITERATIVE:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = inpaint_diffusion(image, mask, variant=variant, seed=1)
            b = inpaint_diffusion(image, mask, variant=variant, seed=2)
        assert np.array_equal(a, b)


@pytest.mark.parametrize("variant", ("harmonic", "biharmonic", "tension", "tv", "transport"))
def test_cropping_to_the_hole_is_exact(variant):
    # A small interior hole is solved on its bounding box plus the stencil reach; a
    # second far-away hole makes the box the whole image. Far-apart holes do not
    # interact, so the first hole's values must not change.
    image = smooth_image(60, 80, 3, seed=7)
    image[0, 0] = 0.0  # fixes the known range, so the clipping is the same in both
    image[0, 1] = 1.0
    mask = np.zeros((60, 80), bool)
    mask[25:32, 30:41] = True
    far = mask.copy()
    far[55:60, 75:80] = True
    options = {"variant": variant, "iterations": 60, "tolerance": 0.0}
    alone = inpaint_diffusion(image, mask, **options)
    together = inpaint_diffusion(image, far, **options)
    np.testing.assert_allclose(alone[mask], together[mask], rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", ("harmonic", "tension", "biharmonic"))
def test_large_groups_use_the_iterative_solvers(monkeypatch, variant):
    # Groups above the direct solver's limit are solved by multigrid-preconditioned
    # CG (the Laplacian and the bilaplacian alike); it must agree with the direct solve.
    from inpaintkit.algorithms import diffusion

    image = smooth_image(64, 70, 3, seed=9)
    mask = np.zeros((64, 70), bool)
    mask[10:45, 12:50] = True
    mask[50:64, 60:70] = True  # at the border
    direct = inpaint_diffusion(image, mask, variant=variant)
    monkeypatch.setattr(diffusion, "_MULTIGRID_MIN", 200)
    monkeypatch.setattr(diffusion, "_MG_COARSEST", 50)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 200)
    iterative = inpaint_diffusion(image, mask, variant=variant)
    assert np.abs(iterative - direct)[mask].max() < 1e-6


def test_poisson_fill_solves_poissons_equation(monkeypatch):
    # u = (x^2 + y^2) / 1000 has (-L) u = -4 / 1000 at every interior pixel (graph
    # Laplacian), so the fill with that source restores it exactly; the multigrid CG
    # path of groups too large to factorise agrees, from any start.
    from inpaintkit.algorithms import diffusion
    from inpaintkit.algorithms.diffusion import poisson_fill

    yy, xx = np.mgrid[:40, :44].astype(np.float64)
    truth = ((xx ** 2 + yy ** 2) / 1000.0)[:, :, None] * np.array([1.0, -0.5])
    hole = np.zeros((40, 44), bool)
    hole[5:33, 6:30] = True
    hole[36:39, 2:40] = True
    source = np.broadcast_to(-4.0 / 1000.0 * np.array([1.0, -0.5]), truth.shape).copy()
    data = truth.copy()
    data[hole] = 0.0
    direct = poisson_fill(data.copy(), hole, source)
    np.testing.assert_allclose(direct, truth, atol=1e-10)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 100)
    start = np.random.default_rng(0).random(truth.shape)
    iterative = poisson_fill(data.copy(), hole, source, start=start)
    np.testing.assert_allclose(iterative, truth, atol=1e-6)


# --------------------------------------------------------------------------------------
# scattered holes: one crop per group of holes
# --------------------------------------------------------------------------------------

def _scattered(shape, seed):
    """Short scratches on a grid of cells far apart, an L-shaped pair, one on the border."""
    rng = np.random.default_rng(seed)
    hole = np.zeros(shape, bool)
    for top in range(20, shape[0] - 60, 160):
        for left in range(20, shape[1] - 100, 230):
            row, col = top + rng.integers(0, 30), left + rng.integers(0, 20)
            hole[row:row + 3, col:col + rng.integers(5, 70)] = True
    hole[100:130, 330:333] = True
    hole[128:131, 330:400] = True  # an L: its box holds known pixels far from it
    hole[0:3, 560:600] = True
    return hole


def test_hole_regions_cover_the_hole_once():
    from inpaintkit._image import REGION_BLOCK, hole_regions

    hole = _scattered((500, 900), 3)
    regions = hole_regions(hole, 5)
    assert len(regions) > 3
    seen = np.zeros(hole.shape, np.int64)
    for box, own in regions:
        assert own.shape == hole[box].shape
        assert not (own & ~hole[box]).any()
        seen[box] += own
        # The margin of known pixels is kept where the image allows it.
        rows, cols = np.nonzero(own)
        assert rows.min() == min(5, box[0].start + rows.min())
        assert cols.min() == min(5, box[1].start + cols.min())
    assert np.array_equal(seen, hole.astype(np.int64))
    # Groups are far apart: every other group's pixels are more than a block away.
    labels = np.zeros(hole.shape, np.int64)
    for k, (box, own) in enumerate(regions, 1):
        labels[box][own] = k
    for k in range(1, len(regions) + 1):
        far = ndimage.distance_transform_edt(labels != k)
        others = (labels > 0) & (labels != k)
        assert far[others].min() > REGION_BLOCK
    assert hole_regions(np.zeros((50, 50), bool), 2) == []
    with pytest.raises(ValueError, match="margin"):
        hole_regions(hole, REGION_BLOCK)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "tv"])
def test_scattered_holes_fill_per_crop_as_on_the_whole_image(monkeypatch, variant):
    from inpaintkit.algorithms import diffusion

    image = (np.random.default_rng(0).random((500, 900, 3)) * 255).astype(np.uint8)
    image = ndimage.uniform_filter(image, (5, 5, 1))  # some smooth structure
    hole = _scattered(image.shape[:2], 1)
    monkeypatch.setattr(diffusion, "_REGION_AREA", 1.0)  # take the crop path here
    assert len(diffusion._regions(hole, 2)) > 1
    # tolerance 0: the iterative variants run all their iterations (their stopping
    # rule looks at the change over the hole being solved, so a crop could stop an
    # iteration apart from the whole image).
    per_crop = inpaint_diffusion(image, hole, variant=variant, iterations=60, tolerance=0.0)
    monkeypatch.setattr(diffusion, "_regions", lambda hole, margin: None)
    whole = inpaint_diffusion(image, hole, variant=variant, iterations=60, tolerance=0.0)
    assert np.array_equal(per_crop[~hole], image[~hole])
    assert np.array_equal(per_crop, whole)


def test_per_crop_path_keeps_the_float_checks(monkeypatch):
    from inpaintkit.algorithms import diffusion

    monkeypatch.setattr(diffusion, "_REGION_AREA", 1.0)
    image = np.random.default_rng(0).random((500, 900))
    hole = _scattered(image.shape, 2)
    image[hole] = np.nan  # allowed inside the hole
    out = inpaint_diffusion(image, hole)
    assert np.isfinite(out).all()
    bad = image.copy()
    bad[~hole] = np.where(np.arange((~hole).sum()) == 7, 1.5, bad[~hole])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        inpaint_diffusion(bad, hole)


# --------------------------------------------------------------------------------------
# multigrid-preconditioned CG for the bilaplacian (biharmonic, tension)
# --------------------------------------------------------------------------------------

def _multigrid_holes(shape):
    """Hole shapes for the multigrid path: thin strokes, a big box, border-touching."""
    height, width = shape
    strokes = np.zeros(shape, np.uint8)
    cv2.line(strokes, (3, 5), (width - 4, height - 9), 1, 1)
    cv2.line(strokes, (2, height - 3), (width - 2, 4), 1, 2)
    cv2.circle(strokes, (width // 2, height // 3), 17, 1, 3)
    box = np.zeros(shape, bool)
    box[8:height - 12, 10:width - 14] = True
    border = np.zeros(shape, bool)
    border[:20, :] = True
    border[:, width - 9:] = True
    border[height - 5:, 10:40] = True
    return {"strokes": strokes.astype(bool), "box": box, "border": border}


def _forced_multigrid(monkeypatch, shape, case, channels, seed, tension):
    """(hole, data, direct): a bilaplacian case of :func:`_multigrid_holes` solved the
    default (direct) way, with the module then set so that the next solve of it
    takes the multigrid CG through a hierarchy coarsened down to 40 unknowns."""
    from inpaintkit.algorithms import diffusion

    hole = _multigrid_holes(shape)[case]
    data = smooth_image(*shape, channels, seed=seed)
    data[hole] = 0.0
    direct = diffusion._solve_elliptic(data.copy(), hole, 2, tension)
    monkeypatch.setattr(diffusion, "_MULTIGRID_MIN", 1)
    monkeypatch.setattr(diffusion, "_MG_COARSEST", 40)
    return hole, data, direct


@pytest.mark.parametrize("case", ("strokes", "box", "border"))
@pytest.mark.parametrize("tension", (0.0, 0.25))
def test_multigrid_equals_the_direct_solution(monkeypatch, case, tension):
    from inpaintkit.algorithms import diffusion

    hole, data, direct = _forced_multigrid(monkeypatch, (72, 90), case, 3, 4, tension)
    monkeypatch.setattr(diffusion, "_MG_COARSEST_SHARE", 10**9)  # as deep as 40 allows
    levels = []
    original = diffusion._prolongation
    monkeypatch.setattr(diffusion, "_prolongation", lambda *a: levels.append(1) or original(*a))
    iterative = diffusion._solve_elliptic(data.copy(), hole, 2, tension)
    assert len(levels) >= 2  # really went through a hierarchy
    assert np.abs(iterative - direct)[hole].mean() < 1e-8
    assert np.abs(iterative - direct)[hole].max() < 1e-6


def test_multigrid_coarsest_level_grows_with_the_system(monkeypatch):
    """The bilaplacian's hierarchy stops at 1/_MG_COARSEST_SHARE of its unknowns when
    that is more than _MG_COARSEST (fewer, better coarse levels), with the same answer
    within the contract's 1e-6; the Laplacian's does not."""
    from inpaintkit.algorithms import diffusion

    hole, data, direct = _forced_multigrid(monkeypatch, (72, 90), "box", 3, 4, 0.25)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 1)
    original = diffusion._prolongation
    counts = {}
    for share in (10**9, 20):
        monkeypatch.setattr(diffusion, "_MG_COARSEST_SHARE", share)
        for order in (1, 2):
            levels = []
            monkeypatch.setattr(diffusion, "_prolongation",
                                lambda *a, levels=levels: levels.append(1) or original(*a))
            solved = diffusion._solve_elliptic(data.copy(), hole, order, 0.25)
            counts[share, order] = len(levels)
            if order == 2:
                assert np.abs(solved - direct)[hole].max() < 1e-6
    assert counts[20, 2] < counts[10**9, 2]  # 3432 unknowns: stops at 171, not 40
    assert counts[20, 1] == counts[10**9, 1]


@pytest.mark.parametrize("channels", (1, 4))
def test_multigrid_pads_gray_and_keeps_rgba(monkeypatch, channels):
    """The multigrid runs on four channels (gray is padded with zero channels)."""
    from inpaintkit.algorithms import diffusion

    hole, data, direct = _forced_multigrid(monkeypatch, (48, 60), "box", channels, 3, 0.25)
    iterative = diffusion._solve_elliptic(data.copy(), hole, 2, 0.25)
    assert iterative.shape == direct.shape
    assert np.abs(iterative - direct)[hole].max() < 1e-6


def _random_csr(rng, rows, cols, density=0.3, dtype=np.float64):
    from scipy import sparse

    from inpaintkit.algorithms import diffusion

    seed = np.random.default_rng(rng.integers(1 << 30))
    matrix = sparse.random(rows, cols, density=density, random_state=seed, format="csr")
    return matrix, diffusion._csr_parts(matrix, dtype)


@pytest.mark.parametrize("dtype", (np.float64, np.float32))
@pytest.mark.parametrize("channels", (1, 3, 4))  # 4: the register path the multigrid uses
def test_csr_kernels_match_numpy(channels, dtype):
    rng = np.random.default_rng(5)
    atol = 1e-12 if dtype == np.float64 else 1e-5
    matrix, parts = _random_csr(rng, 23, 17, dtype=dtype)
    x = rng.random((17, channels)).astype(dtype)
    got = kernels.csr_multiply(*parts, x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, matrix.toarray() @ x, atol=atol)
    square, parts = _random_csr(rng, 19, 19, dtype=dtype)
    x, rhs = rng.random((19, channels)).astype(dtype), rng.random((19, channels)).astype(dtype)
    np.testing.assert_allclose(kernels.csr_residual(*parts, x, rhs), rhs - square.toarray() @ x,
                               atol=atol)


def chebyshev_reference(dense, x, rhs, lower, upper, degree):
    """Chebyshev-accelerated Jacobi (Saad, Algorithm 12.1 on D^-1 A) in plain NumPy."""
    inv_diag = 1.0 / np.diag(dense)[:, None]
    theta, delta = (upper + lower) / 2, (upper - lower) / 2
    sigma = theta / delta
    rho = 1 / sigma
    x = x.copy()
    residual = rhs - dense @ x
    step = inv_diag * residual / theta
    for k in range(degree):
        x = x + step
        residual = rhs - dense @ x
        rho_next = 1 / (2 * sigma - rho)
        step = rho_next * rho * step + 2 * rho_next / delta * inv_diag * residual
        rho = rho_next
    return x


@pytest.mark.parametrize("channels", (2, 4))
def test_chebyshev_smooth_matches_reference_and_damps_high_frequencies(channels):
    from scipy import sparse

    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(6)
    hole = rng.random((12, 14)) < 0.5
    data = rng.random((12, 14, channels))
    rows, cols = np.nonzero(hole)
    index = kernels.hole_index_map(rows, cols, 12, 14)
    a_rows, a_cols, a_vals, rhs = kernels.assemble_system(rows, cols, index, data, 2, 0.25)
    matrix = sparse.csr_array((a_vals, (a_rows, a_cols)), shape=(rows.size, rows.size))
    parts = diffusion._csr_parts(matrix)
    x = rng.random(rhs.shape)
    upper = float((abs(matrix).sum(axis=1) / matrix.diagonal()).max())
    got = kernels.chebyshev_smooth(*parts, 1.0 / matrix.diagonal(), x, rhs, upper / 20, upper, 3)
    want = chebyshev_reference(matrix.toarray(), x, rhs, upper / 20, upper, 3)
    np.testing.assert_allclose(got, want, atol=1e-12)
    # From zero, the caller may skip the first product (residual = rhs): same result.
    zero = np.zeros_like(x)
    np.testing.assert_allclose(
        kernels.chebyshev_smooth(*parts, 1.0 / matrix.diagonal(), zero, rhs, upper / 20, upper, 3,
                                 True),
        chebyshev_reference(matrix.toarray(), zero, rhs, upper / 20, upper, 3), atol=1e-12)
    # The float32 cycle's smoother: the same polynomial, to single precision.
    single = kernels.chebyshev_smooth(*diffusion._csr_parts(matrix, np.float32),
                                      (1.0 / matrix.diagonal()).astype(np.float32),
                                      x.astype(np.float32), rhs.astype(np.float32),
                                      upper / 20, upper, 3)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, want, atol=1e-5 * np.abs(want).max())
    # On the error, the smoother is the polynomial p(D^-1 A) of smallest maximum
    # over the smoothed interval: 1 / T_3(21 / 19) = 0.48 there; an error along the
    # top eigenvector (the most oscillating one) shrinks by |p(upper eigenvalue)|.
    from scipy.linalg import eigh

    dense = matrix.toarray()
    exact = np.linalg.solve(dense, rhs)
    values, vectors = eigh(dense, np.diag(np.diag(dense)))
    assert upper / 20 < values[-1] <= upper
    error = vectors[:, -1:] * np.ones(channels)
    after = kernels.chebyshev_smooth(*parts, 1.0 / matrix.diagonal(), exact + error, rhs,
                                     upper / 20, upper, 3)
    assert np.linalg.norm(after - exact) < 0.5 * np.linalg.norm(error)


def test_prolongation_is_bilinear_and_dirichlet_outside_the_hole():
    from inpaintkit.algorithms import diffusion

    hole = np.zeros((10, 12), bool)
    hole[2:9, 3:11] = True
    rows, cols = np.nonzero(hole)
    prolong, coarse_rows, coarse_cols, coarse_shape = diffusion._prolongation(
        rows, cols, hole.shape)
    assert coarse_shape == (5, 6)
    assert set(zip(coarse_rows, coarse_cols)) == set(zip(rows // 2, cols // 2))
    weights = prolong.toarray()
    assert weights.min() >= 0 and weights.sum(axis=1).max() <= 1 + 1e-12
    # A pixel whose four blocks are all coarse unknowns gets all its weight (a
    # partition of unity): linear functions are interpolated exactly there.
    inner = (rows >= 4) & (rows <= 6) & (cols >= 5) & (cols <= 8)
    np.testing.assert_allclose(weights[inner].sum(axis=1), 1.0)
    centre_r, centre_c = 2 * coarse_rows + 0.5, 2 * coarse_cols + 0.5
    np.testing.assert_allclose((weights @ centre_r)[inner], rows[inner], atol=1e-12)
    np.testing.assert_allclose((weights @ centre_c)[inner], cols[inner], atol=1e-12)


def test_multigrid_falls_back_to_the_direct_solve_when_cg_stalls(monkeypatch):
    from inpaintkit.algorithms import diffusion

    hole, data, direct = _forced_multigrid(monkeypatch, (40, 50), "box", 2, 8, 0.0)
    monkeypatch.setattr(diffusion, "_MG_MAXITER", 1)
    fallback = diffusion._solve_elliptic(data.copy(), hole, 2, 0.0)
    np.testing.assert_allclose(fallback[hole], direct[hole], atol=1e-12)


def prolongation_reference(rows, cols, shape):
    """Bilinear prolongation in plain NumPy/SciPy (the kernels' reference)."""
    from scipy import sparse

    coarse_shape = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    block_r, block_c = rows // 2, cols // 2
    flat = np.unique(block_r * coarse_shape[1] + block_c)
    index = np.full(coarse_shape, -1)
    index[flat // coarse_shape[1], flat % coarse_shape[1]] = np.arange(flat.size)
    side_r = np.clip(block_r + np.where(rows % 2 == 0, -1, 1), 0, coarse_shape[0] - 1)
    side_c = np.clip(block_c + np.where(cols % 2 == 0, -1, 1), 0, coarse_shape[1] - 1)
    fine = np.arange(rows.size)
    p_rows, p_cols, p_vals = [], [], []
    for er, ec, weight in [(block_r, block_c, 9 / 16), (side_r, block_c, 3 / 16),
                           (block_r, side_c, 3 / 16), (side_r, side_c, 1 / 16)]:
        col = index[er, ec]
        keep = col >= 0
        p_rows.append(fine[keep])
        p_cols.append(col[keep])
        p_vals.append(np.full(int(keep.sum()), weight))
    return sparse.csr_array((np.concatenate(p_vals), (np.concatenate(p_rows),
                                                      np.concatenate(p_cols))),
                            shape=(rows.size, flat.size)), flat // coarse_shape[1], flat % coarse_shape[1]


@pytest.mark.parametrize("shape", ((10, 12), (9, 13), (31, 17)))
def test_multigrid_setup_kernels_match_scipy(shape):
    from scipy import sparse

    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(sum(shape))
    hole = rng.random(shape) < 0.4
    hole[0, :] = True  # border-touching rows and columns (the Neumann side blocks)
    hole[:, -1] = True
    rows, cols = np.nonzero(hole)
    prolong, coarse_rows, coarse_cols, _ = diffusion._prolongation(rows, cols, shape)
    want, want_rows, want_cols = prolongation_reference(rows, cols, shape)
    np.testing.assert_array_equal(coarse_rows, want_rows)
    np.testing.assert_array_equal(coarse_cols, want_cols)
    np.testing.assert_allclose(prolong.toarray(), want.toarray(), atol=1e-15)
    parts = diffusion._csr_parts(prolong)
    up = kernels.csr_transpose(*parts, prolong.shape[1])
    np.testing.assert_allclose(sparse.csr_array((up[2], up[1], up[0]),
                                                shape=prolong.shape[::-1]).toarray(),
                               want.toarray().T, atol=1e-15)
    # The Galerkin product of the bilaplacian system, against SciPy's.
    data = rng.random((*shape, 1))
    index = kernels.hole_index_map(rows, cols, *shape)
    a_rows, a_cols, a_vals, _ = kernels.assemble_system(rows, cols, index, data, 2, 0.25)
    matrix = sparse.csr_array((a_vals, (a_rows, a_cols)), shape=(rows.size, rows.size))
    a_parts = diffusion._csr_parts(matrix)
    m = prolong.shape[1]
    got = kernels.csr_matmul(*up, *kernels.csr_matmul(*a_parts, *parts, m), m)
    got = sparse.csr_array((got[2], got[1], got[0]), shape=(m, m)).toarray()
    np.testing.assert_allclose(got, (want.T @ matrix @ want).toarray(), atol=1e-12)
    diagonal, bound = kernels.jacobi_bound(*a_parts)
    np.testing.assert_allclose(diagonal, matrix.diagonal())
    assert bound == pytest.approx(float((abs(matrix).sum(axis=1) / matrix.diagonal()).max()))


def test_galerkin_product_is_the_same_on_one_and_two_threads():
    # Rows cut into several 1024-row chunks, shared by two threads: bit-identical.
    _two_threads()
    from scipy import sparse

    from inpaintkit.algorithms import diffusion

    a = diffusion._csr_parts(sparse.random(12000, 900, density=0.01, random_state=1,
                                           format="csr"))
    b = diffusion._csr_parts(sparse.random(900, 700, density=0.02, random_state=2,
                                           format="csr"))
    want = kernels.csr_matmul(*a, *b, 700)
    dense = sparse.csr_array((want[2], want[1], want[0]), shape=(12000, 700)).toarray()
    np.testing.assert_allclose(dense, _dense(a, 900) @ _dense(b, 700), atol=1e-12)
    with kernels.threads(True):
        got = kernels.csr_matmul(*a, *b, 700)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _dense(parts, columns):
    from scipy import sparse

    return sparse.csr_array((parts[2], parts[1], parts[0]),
                            shape=(parts[0].size - 1, columns)).toarray()


def test_lu_solve_matches_superlu():
    # The coarsest level's solve from SuperLU's factors, against SuperLU's own solve.
    from scipy import sparse
    from scipy.sparse.linalg import splu

    from inpaintkit.algorithms import diffusion

    hole = _multigrid_holes((40, 50))["border"]
    rows, cols = np.nonzero(hole)
    index = kernels.hole_index_map(rows, cols, *hole.shape)
    a_rows, a_cols, a_vals, _ = kernels.assemble_system(rows, cols, index,
                                                        smooth_image(40, 50, 1), 2, 0.25)
    matrix = sparse.csr_array((a_vals, (a_rows, a_cols)), shape=(rows.size, rows.size))
    rhs = np.random.default_rng(3).random((rows.size, 4))
    got = kernels.lu_solve(*diffusion._lu_factors(matrix), rhs)
    want = splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                options={"SymmetricMode": True}).solve(rhs)
    np.testing.assert_allclose(got, want, atol=1e-10)
    np.testing.assert_allclose(matrix @ got, rhs, atol=1e-9)


def _two_threads():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here")
    return numba


def test_parallel_kernels_give_the_same_bits_on_one_and_two_threads():
    _two_threads()
    from scipy import sparse

    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(4)
    n = 12000  # twelve 1024-row chunks: shared when kernels.threads is on
    matrix = sparse.random(n, n, density=0.0005, random_state=5, format="csr")
    matrix = (matrix + matrix.T + sparse.eye(n) * 4).tocsr()
    parts = diffusion._csr_parts(matrix, np.float32)
    x, rhs = (rng.random((n, 4)).astype(np.float32) for _ in range(2))
    y, z = rng.random((n, 3)), rng.random((n, 3))
    inv_diag = (1.0 / matrix.diagonal()).astype(np.float32)

    def run():
        advanced = [y.copy(), z.copy()]
        norm2 = kernels.cg_advance(*advanced, z, y, np.array([0.5, 1.0, 2.0]))
        turned = y.copy()
        kernels.cg_turn(turned, z, np.array([0.5, 1.0, 2.0]))
        return (kernels.csr_multiply(*parts, x), kernels.csr_residual(*parts, x, rhs),
                kernels.chebyshev_smooth(*parts, inv_diag, x, rhs, 0.1, 1.5, 3),
                kernels.chebyshev_smooth(*parts, inv_diag, x, rhs, 0.1, 1.5, 2, True),
                kernels.column_dot(y, z), norm2, *advanced, turned)

    one = run()
    with kernels.threads(True):
        two = run()
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(one[4], (y * z).sum(axis=0))


@pytest.mark.parametrize("order", (1, 2))
def test_multigrid_solve_is_the_same_on_one_and_two_threads(monkeypatch, order):
    _two_threads()
    from inpaintkit.algorithms import diffusion

    hole = np.zeros((140, 150), bool)
    hole[6:130, 8:140] = True  # 16368 unknowns: sixteen chunks on the fine level
    data = smooth_image(140, 150, 3, seed=11)
    data[hole] = 0.0
    monkeypatch.setattr(diffusion, "_MULTIGRID_MIN", 1)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 1)
    monkeypatch.setattr(diffusion, "_MG_COARSEST", 1000)
    monkeypatch.setattr(diffusion, "_PARALLEL_MIN", 1)
    shared = []
    original = kernels._run
    monkeypatch.setattr(kernels, "_run", lambda kernel, rows, *args: shared.append(
        kernels._SHARED[0] and rows >= kernels._PARALLEL_ROWS) or original(kernel, rows, *args))
    two = diffusion._solve_elliptic(data.copy(), hole, order, 0.25)
    assert any(shared)  # the fine level's calls were shared
    monkeypatch.setattr(diffusion, "_PARALLEL_MIN", 1 << 40)
    shared.clear()
    one = diffusion._solve_elliptic(data.copy(), hole, order, 0.25)
    assert not any(shared)
    np.testing.assert_array_equal(one, two)
    monkeypatch.setattr(diffusion, "_MULTIGRID_MIN", 1 << 40)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 1 << 40)
    direct = diffusion._solve_elliptic(data.copy(), hole, order, 0.25)
    assert np.abs(two - direct)[hole].max() < 1e-6


def test_screened_poisson_multigrid_equals_the_direct_solve(monkeypatch):
    from inpaintkit.algorithms import diffusion
    from inpaintkit.algorithms.diffusion import poisson_fill

    hole = _multigrid_holes((72, 90))["border"]
    data = smooth_image(72, 90, 3, seed=2)
    source = smooth_image(72, 90, 3, seed=3) - 0.5
    anchor = smooth_image(72, 90, 3, seed=5)
    data[hole] = 0.0
    direct = poisson_fill(data.copy(), hole, source, screening=0.3, anchor=anchor)
    monkeypatch.setattr(diffusion, "_DIRECT_MAX_LAPLACIAN", 100)
    monkeypatch.setattr(diffusion, "_MG_COARSEST", 100)
    iterative = poisson_fill(data.copy(), hole, source, start=anchor, screening=0.3,
                             anchor=anchor)
    assert np.abs(iterative - direct)[hole].max() < 1e-6


def test_cg_kernels_match_numpy():
    rng = np.random.default_rng(9)
    x, r, d, q, z = (rng.random((15, 4)) for _ in range(5))
    step = rng.random(4)
    np.testing.assert_allclose(kernels.column_dot(r, z), (r * z).sum(axis=0))
    want_x, want_r = x + step * d, r - step * q
    norm2 = kernels.cg_advance(x, r, d, q, step)
    np.testing.assert_allclose(x, want_x)
    np.testing.assert_allclose(r, want_r)
    np.testing.assert_allclose(norm2, (want_r ** 2).sum(axis=0))
    beta = rng.random(4)
    want_d = z + beta * d
    kernels.cg_turn(d, z, beta)
    np.testing.assert_allclose(d, want_d)


# --------------------------------------------------------------------------------------
# banded direct solves (scratches, thin strokes)
# --------------------------------------------------------------------------------------

def test_banded_cholesky_kernel_matches_the_numpy_reference():
    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(21)
    n, width = 60, 7
    dense = np.zeros((n, n))
    for d in range(width + 1):
        values = rng.random(n - d) - 0.5
        dense += np.diag(values, -d) + (np.diag(values, d) if d else 0)
    dense += np.eye(n) * (np.abs(dense).sum(axis=1).max() + 1)  # SPD
    rhs = rng.random((n, 3))
    band = np.zeros((n, width + 1))
    for d in range(width + 1):
        band[:n - d, d] = np.diag(dense, -d)
    got = kernels.banded_cholesky_solve(band, rhs.copy())
    want = diffusion._banded_cholesky_solve(dense.copy(), rhs, width)
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(dense @ got, rhs, atol=1e-10)


@pytest.mark.parametrize("order,screening", ((1, 0.0), (2, 0.0), (1, 0.5)))
def test_banded_direct_solve_equals_superlu(monkeypatch, order, screening):
    """Thin strokes take the banded factorisation; the fill equals SuperLU's, also
    with a screening term (its diagonal entries repeat the stencil's in COO)."""
    from inpaintkit.algorithms import diffusion

    hole = _multigrid_holes((72, 90))["strokes"]
    data = smooth_image(72, 90, 3, seed=6)
    anchor = smooth_image(72, 90, 3, seed=8)
    data[hole] = 0.0
    screen = {"screening": screening, "anchor": anchor} if screening else {}
    calls = []
    original = kernels.banded_cholesky_solve
    monkeypatch.setattr(kernels, "banded_cholesky_solve",
                        lambda *a: calls.append(1) or original(*a))
    banded = diffusion._solve_elliptic(data.copy(), hole, order, 0.25, **screen)
    assert calls  # the strokes' band is narrow
    monkeypatch.setattr(diffusion, "_BANDED_WORK", -1)
    superlu = diffusion._solve_elliptic(data.copy(), hole, order, 0.25, **screen)
    assert np.isfinite(banded[hole]).all()
    assert np.abs(banded - superlu)[hole].max() < 1e-10


@pytest.mark.parametrize("variant", ("harmonic", "biharmonic", "tension"))
@pytest.mark.parametrize("dtype", (np.uint8, np.float32))
def test_band_only_conversion_gives_the_same_fill(monkeypatch, variant, dtype):
    """Large images convert only the hole's band to float: the fill is bit-identical
    to converting the whole image (on one box and on separate crops)."""
    from inpaintkit import _image, masks
    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(31)
    image = smooth_image(300, 340, 3, seed=7)
    image = (image * 255).round().astype(np.uint8) if dtype == np.uint8 else image.astype(dtype)
    spread = masks.thin_strokes((300, 340), seed=4)  # one box over the image
    apart = np.zeros((300, 340), bool)  # two groups far apart: separate crops
    apart[20:26, 30:90] = True
    apart[250:254, 200:300] = True
    rgba = np.concatenate([image, image[..., :1]], axis=2)
    for hole, picture in ((spread, image), (apart, image), (rng.random((300, 340)) < 0.02, image),
                          (spread, image[..., 0]), (apart, rgba)):
        got = inpaint_diffusion(picture, hole, variant=variant)
        with monkeypatch.context() as patch:
            patch.setattr(diffusion, "prepare_band", lambda image, hole, reach: _image.prepare(
                image, hole))
            want = inpaint_diffusion(picture, hole, variant=variant)
        np.testing.assert_array_equal(got, want)


def test_multigrid_poisson_memory_per_unknown():
    """A large Poisson solve (patchmatch's final vote at 37 MP has about 1.8x10^6
    unknowns) holds no assembly triplets, one copy of the fine matrix and no copy of
    CG's start: about 790 bytes an unknown traced at 6.8x10^4 (970 before)."""
    import tracemalloc

    from inpaintkit.algorithms import diffusion

    hole = np.zeros((300, 300), bool)
    hole[20:-20, 20:-20] = True
    rng = np.random.default_rng(0)
    data = rng.random((300, 300, 3))
    source = rng.random((300, 300, 3)) * 1e-3
    assert hole.sum() > diffusion._DIRECT_MAX_LAPLACIAN  # the multigrid path
    diffusion.poisson_fill(data.copy(), hole, source, start=data)  # kernels loaded
    work = data.copy()
    tracemalloc.start()
    try:
        diffusion.poisson_fill(work, hole, source, start=data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / hole.sum() < 850
