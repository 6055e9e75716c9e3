"""Training losses against values computed by hand on small tensors."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inpaintkit.learned import losses  # noqa: E402


def test_focal_loss_matches_hand_computation():
    # Two pixels: one artifact (label 1), one real (label 0); hole ratio r = 0.5 -> alpha 0.5.
    logits = torch.tensor([[[[0.0, 1.0]], [[2.0, -1.0]]]])          # (1, 2, 1, 2)
    label = torch.tensor([[[[1.0, 0.0]]]])                          # (1, 1, 1, 2)
    p1 = math.exp(2.0) / (math.exp(0.0) + math.exp(2.0))           # pixel 0: p(artifact)
    p0 = math.exp(1.0) / (math.exp(1.0) + math.exp(-1.0))          # pixel 1: p(real)
    expected = 0.5 * (-(1 - p1) ** 2 * math.log(p1)) + 0.5 * (-(1 - p0) ** 2 * math.log(p0))
    assert losses.focal_loss(logits, label).item() == pytest.approx(expected / 2, rel=1e-5)
    # gamma = 0, no balance: plain cross-entropy.
    ce = (-math.log(p1) - math.log(p0)) / 2
    assert losses.focal_loss(logits, label, gamma=0.0, balance=False).item() == pytest.approx(ce, rel=1e-5)


def test_focal_loss_balances_by_hole_ratio():
    # Four pixels, one artifact: r = 0.25, alpha = 0.75 on it and 0.25 on the others.
    logits = torch.zeros(1, 2, 1, 4)
    label = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]])
    per_pixel = -(0.5 ** 2) * math.log(0.5)
    expected = (0.75 * per_pixel + 3 * 0.25 * per_pixel) / 4
    assert losses.focal_loss(logits, label).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"logits must be \(B, 2, H, W\)"):
        losses.focal_loss(torch.zeros(1, 3, 1, 4), label)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        losses.focal_loss(logits, label, gamma=-1)


def test_weighted_reconstruction_matches_hand_computation():
    out = torch.tensor([[[[0.5, 0.0], [1.0, 0.25]]]])
    gt = torch.tensor([[[[0.0, 0.0], [0.5, 0.5]]]])
    detector = torch.tensor([[[[1.0, 0.0], [0.5, 0.0]]]])
    # |diff| = 0.5, 0, 0.5, 0.25; weights 10, 1, sqrt(10), 1.
    expected = (10 * 0.5 + 0 + math.sqrt(10) * 0.5 + 0.25) / 4
    assert losses.weighted_reconstruction(out, gt, detector).item() == pytest.approx(expected, rel=1e-5)
    assert losses.weighted_reconstruction(out, gt, detector, base=1.0).item() == pytest.approx(1.25 / 4)
    with pytest.raises(ValueError, match="base must be > 0"):
        losses.weighted_reconstruction(out, gt, detector, base=0)


def test_l1_hole_valid_and_mse():
    out = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    gt = torch.zeros_like(out)
    hole = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    l_hole, l_valid = losses.l1_hole_valid(out, gt, hole)
    assert l_hole.item() == pytest.approx((1 + 4) / 4)
    assert l_valid.item() == pytest.approx((2 + 3) / 4)
    assert losses.masked_mse(out, gt, hole).item() == pytest.approx((1 + 16) / 4)
    with pytest.raises(ValueError, match="hole must be"):
        losses.l1_hole_valid(out, gt, hole[:, :, :1])


def test_total_variation_on_the_dilated_hole():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    hole = torch.zeros(1, 1, 4, 4)
    hole[0, 0, 0, 0] = 1            # dilated: the top-left 2x2 block
    # Pairs inside the 2x2 block: two horizontal (|diff| 1) and two vertical (|diff| 4).
    assert losses.total_variation(image, hole).item() == pytest.approx((2 * 1 + 2 * 4) / 16)


def test_gram_and_style():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])        # (1, 2, 1, 2)
    gram = losses.gram_matrix(features)[0]
    expected = np.array([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / (2 * 1 * 2)
    np.testing.assert_allclose(gram.numpy(), expected)
    assert losses.style_loss([features], [features]).item() == 0.0


def test_adversarial_losses():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2
    assert losses.nsgan_d(real, fake).item() == pytest.approx(expected, rel=1e-5)
    assert losses.nsgan_g(fake).item() == pytest.approx(math.log(1 + math.exp(1.0)), rel=1e-5)
    assert losses.nsgan_g(torch.tensor([0.25]), logits=False).item() == pytest.approx(-math.log(0.25), rel=1e-5)
    assert losses.hinge_d(torch.tensor([0.5]), torch.tensor([0.5])).item() == pytest.approx(0.5 + 1.5)
    assert losses.hinge_g(torch.tensor([0.5, 1.5])).item() == pytest.approx(-1.0)
    fm = losses.feature_matching([torch.ones(2), torch.zeros(3)], [torch.zeros(2), torch.ones(3)])
    assert fm.item() == pytest.approx(2.0)


def test_vgg_features_need_a_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="VGG-16 weights file not found"):
        losses.VGG16Features(tmp_path / "vgg16.pth")
    # A file in torchvision's layout (random values) loads and gives pool1..3.
    from torch import nn

    layers, cin = [], 3
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M"):
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU()]
            cin = item
    state = {f"features.{k}": v for k, v in nn.Sequential(*layers).state_dict().items()}
    torch.save(state, tmp_path / "vgg16.pth")
    vgg = losses.VGG16Features(tmp_path / "vgg16.pth")
    feats = vgg(torch.rand(1, 3, 16, 16))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2)]
    del state["features.12.bias"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="missing VGG-16 key 'features.12.bias'"):
        losses.VGG16Features(tmp_path / "broken.pth")


def test_ssim_loss_matches_the_benchmark_ssim():
    from inpaintkit import metrics

    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, (40, 50, 3))
    noisy = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)
    as_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    everywhere = torch.ones(1, 1, 40, 50)
    value = 1 - losses.ssim_loss(as_tensor(noisy), as_tensor(truth), everywhere).item()
    assert value == pytest.approx(metrics.ssim(truth, noisy, data_range=1.0), abs=1e-5)
    hole = torch.zeros(1, 1, 40, 50)
    hole[..., 10:20, 10:20] = 1
    same = as_tensor(truth)
    assert losses.ssim_loss(same, same, hole).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_magnitude_matches_the_texture_ratio_map():
    from inpaintkit import metrics

    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 1, (30, 40, 3))
    blurred = (truth + np.roll(truth, 1, axis=0) + np.roll(truth, 1, axis=1)) / 3
    as_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    hole = np.zeros((30, 40), bool)
    hole[8:22, 10:30] = True
    mask = torch.from_numpy(hole)[None, None].float()
    g_truth = losses.gradient_magnitude(as_tensor(truth))
    g_blur = losses.gradient_magnitude(as_tensor(blurred))
    ratio = ((g_blur * mask).sum() / (g_truth * mask).sum()).item()
    assert ratio == pytest.approx(metrics.texture_ratio(truth, blurred, hole), rel=1e-4)


def test_detail_loss_is_zero_on_the_truth_and_falls_as_detail_returns():
    rng = np.random.default_rng(2)
    truth = torch.from_numpy(rng.uniform(0, 1, (1, 3, 48, 48))).float()
    hole = torch.zeros(1, 1, 48, 48)
    hole[..., 12:36, 12:36] = 1
    flat = truth * (1 - hole) + truth[..., 12:36, 12:36].mean() * hole
    assert losses.detail_loss(truth, truth, hole).item() == pytest.approx(0.0, abs=1e-6)
    values = [losses.detail_loss(flat + a * (truth - flat), truth, hole, target_ratio=0.7).item()
              for a in (0.0, 0.3, 0.6, 1.0)]
    assert values[0] > 0.3 and values == sorted(values, reverse=True) and values[-1] == pytest.approx(0, abs=1e-6)
    # A hinge: more detail than target_ratio x the truth's is not rewarded further.
    assert losses.detail_loss(truth * 1.5, truth, hole, target_ratio=0.7).item() == pytest.approx(0, abs=1e-6)
