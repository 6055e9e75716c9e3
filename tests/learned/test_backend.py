"""The inference wrapper: the common contract over dtypes and channels, devices, the
large-image strategies, batches, the registered methods and their options."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import inpaintkit  # noqa: E402
from inpaintkit import learned  # noqa: E402
from inpaintkit.learned.backend import CROP_CONTEXT, resolve_device  # noqa: E402

SMALL = dict(weights="random", config="small", device="cpu")


def _image(dtype, channels, size=(48, 56), seed=0):
    rng = np.random.default_rng(seed)
    shape = size if channels is None else (*size, channels)
    values = rng.random(shape)
    if dtype == np.uint8:
        return (values * 255).astype(np.uint8)
    if dtype == np.uint16:
        return (values * 65535).astype(np.uint16)
    return values.astype(dtype)


def _mask(size=(48, 56)):
    mask = np.zeros(size, bool)
    mask[14:30, 20:40] = True
    return mask


@pytest.fixture(scope="module")
def backends():
    return {name: learned.load(name, **SMALL) for name in learned.MODELS}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_contract_dtypes_and_channels(backends, dtype, channels):
    image = _image(dtype, channels)
    mask = _mask()
    out = backends["gl"].inpaint(image, mask)
    assert out.shape == image.shape and out.dtype == image.dtype
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])
    if channels == 4:  # alpha carried through (nearest known alpha inside the hole)
        assert (out[..., 3][mask] != 0).all() or image[..., 3].min() == 0


@pytest.mark.parametrize("name", learned.MODELS)
def test_every_model_fills_rgb_and_gray(backends, name):
    image = _image(np.float64, 3)
    mask = _mask()
    out = backends[name].inpaint(image, mask)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    gray = _image(np.uint8, None)
    out_gray = backends[name].inpaint(gray, mask)
    assert out_gray.shape == gray.shape and out_gray.dtype == np.uint8


def test_composite_equals_network_prediction(backends):
    # The fill inside the hole is the network's own prediction at the padded size.
    backend = backends["gdn"]
    image = _image(np.float64, 3, size=(64, 64))
    mask = np.zeros((64, 64), bool)
    mask[20:40, 24:44] = True
    out = backend.inpaint(image, mask)
    x = torch.from_numpy(image.transpose(2, 0, 1)[None]).float()
    hole = torch.from_numpy(mask[None, None]).float()
    with torch.no_grad():
        pred = backend.networks["generator"](x * (1 - hole), hole)[0].permute(1, 2, 0).double().numpy()
    np.testing.assert_allclose(out[mask], np.clip(pred, 0, 1)[mask], atol=1e-6)


def test_hole_contents_are_not_read(backends):
    image = _image(np.float64, 3)
    mask = _mask()
    other = image.copy()
    other[mask] = 0.987
    for name in learned.MODELS:
        np.testing.assert_array_equal(backends[name].inpaint(image, mask), backends[name].inpaint(other, mask))


def test_empty_mask_returns_copy_with_warning(backends):
    image = _image(np.uint8, 3)
    with pytest.warns(UserWarning, match="no hole"):
        out = backends["pconv"].inpaint(image, np.zeros(image.shape[:2], bool))
    assert np.array_equal(out, image) and out is not image


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_device(3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            learned.load("gl", weights="random", config="small", device="cuda")


def test_load_errors():
    # Without weights=, a model with no shipped weights (or a config they do not fit)
    # says what to pass.
    with pytest.raises(learned.WeightsNotFoundError, match="needs weights=PATH: inpaintkit ships"):
        learned.load("pconv", config="paper")
    with pytest.raises(ValueError, match="unknown learned model 'mat'"):
        learned.load("mat", weights="random")
    with pytest.raises(ValueError, match="config for 'gl' must be one of paper, small"):
        learned.load("gl", weights="random", config="huge")
    with pytest.raises(ValueError, match="unknown config field 'depth'"):
        learned.load("gl", weights="random", config={"depth": 3})
    with pytest.raises(ValueError, match="large must be one of crop, downscale"):
        learned.load("gl", weights="random", config="small", device="cpu", large="tile")
    with pytest.raises(ValueError, match="max_size must be an integer >= 16"):
        learned.load("gl", weights="random", config="small", device="cpu", max_size=4)


@pytest.mark.parametrize("large", ["crop", "downscale"])
def test_large_images(large):
    backend = learned.load("gl", max_size=64, large=large, **SMALL)
    image = _image(np.uint8, 3, size=(150, 260), seed=2)
    mask = np.zeros((150, 260), bool)
    mask[10:30, 15:35] = True     # two holes far apart: two crops
    mask[100:130, 200:240] = True
    out = backend.inpaint(image, mask)
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])
    if large == "crop":
        boxes = backend._crop_boxes(mask)
        assert len(boxes) == 2
        r0, r1, c0, c1 = boxes[0]
        assert r0 == 0 and c0 == 0 and r1 == 30 + CROP_CONTEXT and c1 == 35 + CROP_CONTEXT


def test_crop_is_the_network_run_on_the_crop():
    # Beyond max_size, "crop" runs the network on the hole's box plus CROP_CONTEXT:
    # the same result as running it on that sub-image directly.
    full = learned.load("gdn", max_size=512, **SMALL)
    cropped = learned.load("gdn", max_size=160, large="crop", **SMALL)
    image = _image(np.float64, 3, size=(40, 200))
    mask = np.zeros((40, 200), bool)
    mask[20:28, 20:28] = True
    width = 28 + CROP_CONTEXT
    out = cropped.inpaint(image, mask)
    np.testing.assert_allclose(out[:, :width], full.inpaint(image[:, :width], mask[:, :width]), atol=1e-6)
    np.testing.assert_array_equal(out[:, width:], image[:, width:])


def test_batch_equals_single(backends):
    backend = backends["pconv"]
    images = [_image(np.uint8, 3, seed=s) for s in range(3)] + [_image(np.float32, None, size=(40, 40))]
    masks = [_mask()] * 3 + [np.pad(np.ones((10, 10), bool), 15)]
    batch = backend.inpaint_batch(images, masks)
    for image, mask, out in zip(images, masks, batch):
        np.testing.assert_array_equal(out, backend.inpaint(image, mask))
    with pytest.raises(ValueError, match="2 images but 1 masks"):
        backend.inpaint_batch(images[:2], masks[:1])


def test_gdn_artifact_map():
    image = _image(np.uint8, 3)
    mask = _mask()
    out, amap = learned.inpaint_gdn(image, mask, return_artifact_map=True, **SMALL)
    assert amap.shape == mask.shape and amap.dtype == np.float32
    assert (amap[~mask] == 0).all() and (amap[mask] > 0).all() and (amap <= 1).all()
    np.testing.assert_array_equal(out, learned.inpaint_gdn(image, mask, **SMALL))
    with pytest.raises(TypeError, match="return_artifact_map"):
        learned.inpaint_gdn(image, mask, return_artifact_map="yes", **SMALL)
    with pytest.raises(ValueError, match="only available for 'gdn'"):
        learned.load("gl", **SMALL).inpaint(image, mask, return_artifact_map=True)


def test_edgeconnect_user_edges_guide_the_fill(tmp_path):
    image = _image(np.float64, 3)
    mask = _mask()
    plain = learned.inpaint_edgeconnect(image, mask, **SMALL)
    drawing = np.zeros(mask.shape, bool)
    drawing[22, :] = True
    guided = learned.inpaint_edgeconnect(image, mask, edges=drawing, **SMALL)
    np.testing.assert_array_equal(guided[~mask], image[~mask])
    assert not np.allclose(guided[mask], plain[mask])
    # The CLI passes a file: white strokes on black.
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "edges.png", drawing.astype(np.uint8) * 255)
    from_file = learned.inpaint_edgeconnect(image, mask, edges=str(tmp_path / "edges.png"), **SMALL)
    np.testing.assert_array_equal(from_file, guided)
    with pytest.raises(ValueError, match="edges has shape"):
        learned.inpaint_edgeconnect(image, mask, edges=np.zeros((3, 3)), **SMALL)
    with pytest.raises(ValueError, match="only accepted by 'edgeconnect'"):
        learned.load("gl", **SMALL).inpaint(image, mask, edges=drawing)


def test_registered_methods_through_inpaint():
    image = _image(np.uint8, 4)
    mask = _mask()
    for name in learned.MODELS:
        out = inpaintkit.inpaint(image, mask, method=name, **SMALL)
        assert out.shape == image.shape
        np.testing.assert_array_equal(out[~mask], image[~mask])
    params = {row["name"]: row["params"] for row in inpaintkit.methods()}
    assert params["gdn"]["return_artifact_map"] is False
    assert params["edgeconnect"]["edges"] is None
    assert params["pconv"]["large"] == "crop" and params["pconv"]["weights"] is None
    with pytest.raises(learned.WeightsNotFoundError):
        inpaintkit.inpaint(image, mask, method="gl", config="paper")


def test_importing_learned_does_not_import_torch():
    code = ("import sys, inpaintkit, inpaintkit.learned; inpaintkit.methods(); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def reference_poisson(image, prediction, hole):
    """Jacobi iterations of the same discrete Poisson equation (slow, plain NumPy)."""
    x = np.where(hole[..., None], prediction, image).astype(np.float64)
    height, width = hole.shape
    for _ in range(3000):
        new = x.copy()
        for r, c in zip(*np.nonzero(hole)):
            total, count = 0.0, 0
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                q = (r + dr, c + dc)
                if 0 <= q[0] < height and 0 <= q[1] < width:
                    total = total + x[q] + prediction[r, c] - prediction[q]
                    count += 1
            new[r, c] = total / count
        x = new
    return x


def test_poisson_blend_matches_reference_and_removes_offset():
    from inpaintkit.learned.backend import poisson_blend_fill

    rng = np.random.default_rng(0)
    truth = rng.random((9, 10, 2)) * 0.5 + 0.25
    hole = np.zeros((9, 10), bool)
    hole[2:6, 3:8] = True
    hole[0, 0] = True  # a hole pixel on the image corner: Neumann border
    # A prediction with the right gradients but a colour shift: blending removes it.
    np.testing.assert_allclose(poisson_blend_fill(truth, truth + 0.1, hole)[hole], truth[hole], atol=1e-10)
    prediction = rng.random((9, 10, 2))
    ours = poisson_blend_fill(truth, prediction, hole)
    np.testing.assert_allclose(ours[hole], np.clip(reference_poisson(truth, prediction, hole), 0, 1)[hole],
                               atol=1e-6)
    np.testing.assert_array_equal(ours[~hole], np.clip(prediction, 0, 1)[~hole])


def test_gl_poisson_blend_option():
    image = _image(np.uint8, 3)
    mask = _mask()
    # The mean-seeded GL of the paper at small width: GL small itself starts as a
    # harmonic-like pull-push fill, which Poisson blending leaves almost unchanged.
    mean_seeded = dict(SMALL, config=learned.gl.GLConfig(width=16, last_width=8))
    plain = learned.inpaint_gl(image, mask, **mean_seeded)
    blended = learned.inpaint_gl(image, mask, poisson_blend=True, **mean_seeded)
    np.testing.assert_array_equal(blended[~mask], image[~mask])
    assert not np.array_equal(blended, plain)
    with pytest.raises(ValueError, match="only available for 'gl'"):
        learned.load("pconv", **SMALL).inpaint(image, mask, poisson_blend=True)
    with pytest.raises(TypeError, match="poisson_blend"):
        learned.inpaint_gl(image, mask, poisson_blend=1, **SMALL)


def test_tiny_image_smaller_than_the_network_multiple():
    # PConv paper depth needs multiples of 256: a 5x7 image is padded (replicate mode).
    backend = learned.load("pconv", weights="random", config="paper", device="cpu")
    image = _image(np.uint8, 3, size=(5, 7))
    mask = np.zeros((5, 7), bool)
    mask[2, 3] = True
    out = backend.inpaint(image, mask)
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_many_small_holes_on_a_large_image():
    backend = learned.load("gl", max_size=128, **SMALL)
    rng = np.random.default_rng(1)
    image = _image(np.uint8, 3, size=(600, 700))
    mask = np.zeros((600, 700), bool)
    for r, c in rng.integers(0, 590, size=(300, 2)):
        mask[r:r + 3, c:c + 3] = True
    boxes = backend._crop_boxes(mask)
    covered = np.zeros_like(mask)
    for r0, r1, c0, c1 in boxes:
        assert not covered[r0:r1, c0:c1].any()  # merged boxes never overlap
        covered[r0:r1, c0:c1] = True
    assert covered[mask].all()
    out = backend.inpaint(image, mask)
    np.testing.assert_array_equal(out[~mask], image[~mask])
