"""The top-level API: inpaint(), methods(), choose_method(), the registry."""

import logging

import numpy as np
import pytest

import inpaintkit
from inpaintkit import masks, registry


def test_methods_lists_every_registered_method():
    rows = {row["name"]: row for row in inpaintkit.methods()}
    assert {"diffusion", "patchmatch", "criminisi", "gl", "pconv", "gdn", "edgeconnect"} <= set(rows)
    assert rows["diffusion"]["kind"] == "classical" and rows["pconv"]["kind"] == "learned"
    assert "variant" in rows["diffusion"]["params"]
    assert all(row["description"] for row in rows.values())


def test_unknown_method_and_parameter():
    image = np.zeros((8, 8), np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[3, 3] = True
    with pytest.raises(ValueError, match="unknown method 'nope'; valid methods: auto, diffusion"):
        inpaintkit.inpaint(image, mask, method="nope")
    with pytest.raises(ValueError, match="unknown parameter 'colour' for method 'diffusion'; valid parameters: .*variant"):
        inpaintkit.inpaint(image, mask, method="diffusion", colour=1)


def test_choose_method():
    thin = masks.thin_strokes((128, 128), seed=1, count=4, max_width=3)
    assert inpaintkit.choose_method(thin) == "diffusion"
    big = np.zeros((128, 128), bool)
    big[30:90, 30:90] = True
    assert inpaintkit.choose_method(big) == "patchmatch"
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\)"):
        inpaintkit.choose_method(np.zeros((4, 4, 3), bool))


def test_auto_logs_its_choice(caplog):
    image = np.tile(np.linspace(0, 1, 32), (32, 1))
    mask = np.zeros((32, 32), bool)
    mask[10:12, 5:25] = True
    with caplog.at_level(logging.INFO, logger="inpaintkit"):
        out = inpaintkit.inpaint(image, mask)
    assert "method 'auto' picked 'diffusion'" in caplog.text
    assert out.shape == image.shape and out.dtype == image.dtype
    assert np.abs(out - image).max() < 0.02  # a ramp is continued


def test_auto_validates_before_choosing():
    with pytest.raises(ValueError, match="mask has shape"):
        inpaintkit.inpaint(np.zeros((8, 8), np.uint8), np.zeros((4, 4), bool))


def test_register_rejects_duplicates_and_bad_kind():
    with pytest.raises(ValueError, match="already taken"):
        registry.register("diffusion", "classical", "x:y", "dup")
    with pytest.raises(ValueError, match="kind must be"):
        registry.register("new-one", "magic", "x:y", "bad")


def test_lazy_public_names():
    assert callable(inpaintkit.inpaint_diffusion)
    with pytest.raises(AttributeError):
        inpaintkit.not_a_function  # noqa: B018


def _photo(name, size=128):
    from skimage import data as skdata
    from skimage.transform import resize

    image = getattr(skdata, name)()
    side = min(image.shape[:2])
    image = resize(image[:side, :side], (size, size), anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _caption(size=128):
    import cv2

    mask = np.zeros((size, size), np.uint8)
    cv2.putText(mask, "DO NOT COPY", (4, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2)
    return mask > 0


@pytest.mark.parametrize("photo, expected", [("grass", "patchmatch"), ("gravel", "patchmatch"),
                                             ("moon", "diffusion"), ("rocket", "diffusion")])
@pytest.mark.parametrize("kind", ["caption", "scratch"])
def test_auto_weighs_the_texture_around_thin_holes(photo, expected, kind):
    image = _photo(photo)
    mask = _caption() if kind == "caption" else masks.thin_strokes((128, 128), seed=3)
    assert inpaintkit.choose_method(mask) == "diffusion"  # the mask alone: thin
    assert inpaintkit.choose_method(mask, image) == expected
    big = np.zeros((128, 128), bool)
    big[30:90, 30:90] = True
    assert inpaintkit.choose_method(big, image) == "patchmatch"


def test_auto_over_texture_leaves_no_blurred_ghost():
    """A caption over grass: auto's fill keeps the grass's detail where diffusion's is
    smooth (the letters would stay readable as a blur)."""
    from inpaintkit import metrics

    image = _photo("grass")
    mask = _caption()
    auto = inpaintkit.inpaint(image, mask)
    smooth = inpaintkit.inpaint(image, mask, method="diffusion")
    assert metrics.texture_ratio(image, auto, mask) > metrics.texture_ratio(image, smooth, mask) + 0.05


def test_choose_method_checks_the_image_shape():
    with pytest.raises(ValueError, match="mask has shape"):
        inpaintkit.choose_method(np.ones((4, 4), bool), np.zeros((5, 5), np.uint8))
