"""What inpaintkit ships in inpaintkit/learned/weights, and what a learned method says
about its weights: only weights that passed issue 15's benchmark bar are shipped (each
with its card, facts and curve, 40 MB at most in total); a method without shipped
weights needs weights=PATH and says so in `methods`, in its error and in `fill`."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import inpaintkit  # noqa: E402
from inpaintkit import learned  # noqa: E402
from inpaintkit.learned import checkpoints  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_backend_cache():
    """Backends are cached per (name, weights...): one built from a patched weights
    folder must not leak into other tests."""
    learned._cached.cache_clear()
    yield
    learned._cached.cache_clear()


def test_shipped_files_are_complete_small_and_strict():
    total = 0
    for model in learned.MODELS:
        path = learned.shipped_weights(model)
        if path is None:
            continue
        assert path.with_suffix(".md").is_file(), f"no model card for {model}"
        facts = json.loads(path.with_suffix(".json").read_text())
        assert facts["photos"] >= 50 and facts["verdict"]["ship"] == "yes"
        checkpoint = checkpoints.read_checkpoint(path, model)
        small = checkpoints.MODELS[model][0].small()
        assert checkpoint.config == small
        for part, net in checkpoints.MODELS[model][1](small).items():
            checkpoints.strict_load(net, checkpoint.state[part], what=f"shipped {model} {part}")
        assert not {"astronaut", "coffee", "chelsea", "rocket"} & {
            name.split(".")[0] for name in checkpoint.metadata["data"]["train_files"]}
        total += path.stat().st_size
    assert total <= 40e6
    manifest = (learned.WEIGHTS_DIR / "TRAINING_SET.md").read_text()
    assert "opencv" not in manifest.lower().replace("opencv's sample images", "")
    assert manifest.count("| train |") >= 50


@pytest.mark.parametrize("model", learned.MODELS)
def test_a_model_without_shipped_weights_says_it_needs_them(model, monkeypatch, tmp_path):
    monkeypatch.setattr(learned, "WEIGHTS_DIR", tmp_path)
    assert learned.shipped_weights(model) is None
    summary = learned.weights_summary(model)
    assert "no weights shipped" in summary and "weights=PATH" in summary
    image = np.full((32, 32, 3), 0.5)
    mask = np.zeros((32, 32), bool)
    mask[10:20, 10:20] = True
    with pytest.raises(learned.WeightsNotFoundError, match=f"method '{model}' needs weights=PATH"):
        inpaintkit.inpaint(image, mask, method=model, device="cpu")
    rows = {row["name"]: row for row in inpaintkit.methods()}
    assert rows[model]["weights"] == summary


def _fake_shipped(folder):
    """Random GL small weights installed as if shipped, with their facts file."""
    backend = learned.load("gl", weights="random", config="small", device="cpu")
    checkpoints.save_checkpoint(folder / "gl_small.pt", "gl", backend.networks, backend.config,
                                metadata={"data": {"train_files": ["a.png"]}})
    (folder / "gl_small.json").write_text(json.dumps({"photos": 55, "steps": 4000, "hours": 2.5}))


def _cli(argv, capsys):
    from inpaintkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_methods_and_fill_say_what_shipped_weights_are(monkeypatch, tmp_path, capsys):
    import cv2

    _fake_shipped(tmp_path)
    monkeypatch.setattr(learned, "WEIGHTS_DIR", tmp_path)
    summary = learned.weights_summary("gl")
    assert "trained by inpaintkit on 55 photos for 4000 steps (2.5 h" in summary
    assert "not the authors'" in summary and "siggraph2017_inpainting" in summary
    code, out, _ = _cli(["methods"], capsys)
    assert code == 0 and f"weights: {summary}" in out
    image = np.full((40, 48, 3), 120, np.uint8)
    mask = np.zeros((40, 48), np.uint8)
    mask[10:20, 12:30] = 255
    cv2.imwrite(str(tmp_path / "in.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    code, _, err = _cli(["fill", str(tmp_path / "in.png"), str(tmp_path / "mask.png"),
                         "-o", str(tmp_path / "out.png"), "--method", "gl", "--param", "device=cpu"],
                        capsys)
    assert code == 0, err
    assert err.strip().splitlines()[0] == f"inpaintkit: gl: {summary}"


@pytest.mark.parametrize("model", [m for m in learned.MODELS if learned.shipped_weights(m) is not None])
def test_shipped_fill_beats_telea_on_a_held_out_photo(model):
    import cv2
    from skimage import data

    from inpaintkit import masks, metrics

    camera = np.stack([cv2.resize(data.camera(), (128, 128), interpolation=cv2.INTER_AREA)] * 3, axis=2)
    hole = masks.in_ratio_bucket((128, 128), 0.3, 0.4, seed=3)
    out = inpaintkit.inpaint(camera, hole, method=model, device="cpu")
    np.testing.assert_array_equal(out[~hole], camera[~hole])
    telea = cv2.inpaint(camera, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    assert metrics.psnr(camera, out) >= metrics.psnr(camera, telea)
    # A grey photo stays grey: no tint.
    assert np.abs(out[hole].astype(int) - out[hole].mean(axis=1, keepdims=True)).max() <= 3
