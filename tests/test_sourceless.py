"""Patch methods on holes that leave no fully known patch: diffusion first, then patches."""

import logging

import numpy as np
import pytest

import inpaintkit


def _photo(size, channels=3, seed=0):
    yy, xx = np.mgrid[:size, :size] / size
    planes = [0.5 + 0.3 * np.sin(6 * xx + 2 * c) * np.cos(5 * yy) for c in range(channels)]
    rng = np.random.default_rng(seed)
    image = np.stack(planes, axis=2) + rng.normal(0, 0.01, (size, size, channels))
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("method", ["patchmatch", "criminisi"])
@pytest.mark.parametrize("size, density", [(20, 0.5), (48, 0.3), (90, 0.2)])
def test_dust_masks_are_filled(method, size, density, caplog):
    image = _photo(size)
    mask = np.random.default_rng(1).random((size, size)) < density
    with caplog.at_level(logging.INFO, logger="inpaintkit"):
        out = inpaintkit.inpaint(image, mask, method=method)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert np.array_equal(out[~mask], image[~mask])
    assert "filled by diffusion first" in caplog.text
    # As good as diffusion on specks (it is diffusion where no patch has a source).
    truth = image[mask].astype(float)
    reference = inpaintkit.inpaint(image, mask, method="diffusion")[mask].astype(float)
    assert np.abs(out[mask] - truth).mean() <= np.abs(reference - truth).mean() + 2.0


def test_specks_around_a_block_leave_the_block_to_patches(caplog):
    # Dust everywhere plus a 12x12 block: the dust is diffused, the block still has a
    # deep part that patchmatch fills from the (now known) diffused surroundings.
    image = _photo(64)
    rng = np.random.default_rng(3)
    mask = rng.random((64, 64)) < 0.3
    mask[26:38, 26:38] = True
    with caplog.at_level(logging.INFO, logger="inpaintkit"):
        out = inpaintkit.inpaint(image, mask, method="patchmatch", seed=1)
    assert np.array_equal(out[~mask], image[~mask])
    message = next(r.getMessage() for r in caplog.records if "diffusion first" in r.getMessage())
    words = message.split("; ")[1].split()
    filled_first, total = int(words[0]), int(words[2])
    assert 0 < filled_first < total  # part by diffusion, part by patches
    again = inpaintkit.inpaint(image, mask, method="patchmatch", seed=1)
    assert np.array_equal(out, again)
