"""The weights shipped in inpaintkit/learned/weights: present, small, strictly loadable, and
better than flat fills on an image none of them was trained on (skimage's camera, held
out of training and not a benchmark photo)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import inpaintkit  # noqa: E402
from inpaintkit import learned, masks, metrics  # noqa: E402
from inpaintkit.learned import checkpoints  # noqa: E402


@pytest.fixture(scope="module")
def camera():
    import cv2
    from skimage import data

    gray = cv2.resize(data.camera(), (128, 128), interpolation=cv2.INTER_AREA)
    return np.stack([gray] * 3, axis=2)


def test_every_model_ships_small_weights_with_a_card():
    total = 0
    for model in learned.MODELS:
        path = learned.shipped_weights(model)
        assert path is not None, f"no shipped weights for {model}"
        assert path.name == f"{model}_small.pt"
        assert path.with_suffix(".md").is_file(), f"no model card for {model}"
        total += path.stat().st_size
    assert total <= 40e6


@pytest.mark.parametrize("model", learned.MODELS)
def test_shipped_weights_load_strictly(model):
    checkpoint = checkpoints.read_checkpoint(learned.shipped_weights(model), model)
    small = checkpoints.MODELS[model][0].small()
    assert checkpoint.config == small
    networks = checkpoints.MODELS[model][1](small)
    assert set(checkpoint.state) == set(networks)
    for part, net in networks.items():
        checkpoints.strict_load(net, checkpoint.state[part], what=f"shipped {model} {part}")
    meta = checkpoint.metadata
    assert meta["steps"] > 0 and meta["wall_time_s"] > 0 and meta["losses"]
    assert not {"astronaut", "coffee", "chelsea", "rocket"} & {
        name.split(".")[0] for name in meta["data"]["train_files"] + meta["data"]["val_files"]}
    with pytest.raises(learned.WeightsNotFoundError, match="only the small config has shipped weights"):
        learned.load(model, config="paper", device="cpu")


def _hole_psnr(truth, result, hole):
    return metrics.psnr(truth, result, mask=hole)


@pytest.mark.parametrize("model", learned.MODELS)
def test_shipped_fill_beats_flat_fills(camera, model):
    from scipy import ndimage

    hole = masks.in_ratio_bucket(camera.shape[:2], 0.2, 0.3, seed=3)
    out = inpaintkit.inpaint(camera, hole, method=model, device="cpu")
    assert out.shape == camera.shape and out.dtype == camera.dtype
    np.testing.assert_array_equal(out[~hole], camera[~hole])
    mean_fill = camera.copy()
    mean_fill[hole] = camera[~hole].mean(axis=0).round().astype(np.uint8)
    ring = ndimage.binary_dilation(hole, iterations=4) & ~hole
    ring_fill = camera.copy()
    ring_fill[hole] = camera[ring].mean(axis=0).round().astype(np.uint8)
    learned_psnr = _hole_psnr(camera, out, hole)
    assert learned_psnr > _hole_psnr(camera, mean_fill, hole) + 1.0
    assert learned_psnr > _hole_psnr(camera, ring_fill, hole) + 0.5
