"""Training objectives of the four learned backends, one function per term.

Conventions: images (B, 3, H, W) in [0, 1]; ``hole`` (B, 1, H, W), 1 = hole. Every loss
returns a scalar tensor averaged over the batch, so weights read like the papers'.

- PConv (Liu et al. 2018, Sec. 3.4): :func:`l1_hole_valid`, :func:`perceptual_loss`,
  :func:`style_loss` (on :class:`VGG16Features`, pool1..pool3), :func:`total_variation`.
- GL (Iizuka et al. 2017, Sec. 3.3): :func:`masked_mse` and the discriminator's binary
  cross-entropy (:func:`nsgan_d` / :func:`nsgan_g` with ``logits=False``).
- GDN (Zhang et al. 2020): :func:`focal_loss` for the detector and
  :func:`weighted_reconstruction` (``base ** detector_output``) for the generator.
- EdgeConnect (Nazeri et al. 2019): :func:`nsgan_d` / :func:`nsgan_g`,
  :func:`feature_matching`, plus the PConv terms above. :func:`hinge_d` /
  :func:`hinge_g` are the alternative adversarial pair.

VGG-16 weights cannot be downloaded by inpaintkit; :class:`VGG16Features` reads a local
file (torchvision's ``vgg16-397923af.pth`` layout: ``features.N.weight``/``.bias``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "l1_hole_valid",
    "masked_mse",
    "ssim_loss",
    "gradient_magnitude",
    "detail_loss",
    "total_variation",
    "gram_matrix",
    "VGG16Features",
    "perceptual_loss",
    "style_loss",
    "focal_loss",
    "weighted_reconstruction",
    "nsgan_d",
    "nsgan_g",
    "hinge_d",
    "hinge_g",
    "feature_matching",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_image_pair(output, target, hole):
    if output.shape != target.shape:
        raise ValueError(f"output and target shapes differ: {tuple(output.shape)} vs {tuple(target.shape)}")
    if output.dim() != 4:
        raise ValueError(f"expected (B, C, H, W) tensors, got shape {tuple(output.shape)}")
    if hole is not None and (hole.dim() != 4 or hole.shape[1] != 1 or hole.shape[0] != output.shape[0]
                             or hole.shape[2:] != output.shape[2:]):
        raise ValueError(f"hole must be (B, 1, H, W) matching {tuple(output.shape)}, got {tuple(hole.shape)}")


def l1_hole_valid(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor):
    """PConv Eq. 3-4: L1 over the hole and over the valid pixels.

    Each is normalised by the number of elements ``N = C * H * W`` (not by the number of
    hole pixels), as in the paper: ``L_hole = |M_hole * (out - gt)|_1 / N``.

    Returns
    -------
    (hole_loss, valid_loss) : tuple of scalar tensors
    """
    _check_image_pair(output, target, hole)
    diff = (output - target).abs()
    return (diff * hole).mean(), (diff * (1 - hole)).mean()


def masked_mse(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """GL Eq. 1: weighted mean squared error ``|M_c * (C(x, M_c) - x)|^2`` (hole only),
    normalised by the number of elements."""
    _check_image_pair(output, target, hole)
    return (((output - target) * hole) ** 2).mean()


def ssim_loss(composite: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, *,
              window: int = 7) -> torch.Tensor:
    """``1 - SSIM`` (Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861, Eq. 13)
    of the composited image, averaged over every window that overlaps the hole.

    The windows are those of the benchmarks' SSIM (``inpaintkit.metrics.ssim``, as
    scikit-image): ``window`` x ``window`` uniform, sample covariance, per channel, data
    range 1. A smooth fill loses here what it loses in the benchmark: the structure and
    contrast it fails to continue into the hole.
    """
    _check_image_pair(composite, target, hole)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    count = window * window
    correction = count / (count - 1)   # sample covariance

    def mean(values):
        return F.avg_pool2d(values, window, stride=1)

    mu_x, mu_y = mean(composite), mean(target)
    var_x = (mean(composite * composite) - mu_x ** 2) * correction
    var_y = (mean(target * target) - mu_y ** 2) * correction
    cov = (mean(composite * target) - mu_x * mu_y) * correction
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    touched = (F.max_pool2d(hole, window, stride=1) > 0).to(composite.dtype)
    weight = touched.expand_as(ssim_map)
    return ((1 - ssim_map) * weight).sum() / weight.sum().clamp(min=1.0)


def gradient_magnitude(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W): Sobel gradient magnitude of the channel mean with
    reflected borders, the map :func:`inpaintkit.metrics.texture_ratio` averages."""
    if images.dim() != 4:
        raise ValueError(f"expected (B, C, H, W) tensors, got shape {tuple(images.shape)}")
    gray = F.pad(images.mean(dim=1, keepdim=True), (1, 1, 1, 1), mode="reflect")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=images.dtype, device=images.device)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)
    grad = F.conv2d(gray, kernels)
    return torch.sqrt((grad ** 2).sum(dim=1, keepdim=True) + 1e-8)


def detail_loss(composite: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, *,
                target_ratio: float = 0.7, window: int = 9) -> torch.Tensor:
    """Hinge on the fill's local detail: how far the hole's local mean Sobel gradient
    magnitude (``window`` x ``window`` box) falls short of ``target_ratio`` times the
    truth's, averaged over the hole and divided by the truth's mean gradient there.

    0 once the fill is at least ``target_ratio`` as detailed as the truth wherever the
    truth has detail; it never rewards more than that, and puts the detail where the
    truth has it (grass, foliage), not on smooth areas (sky). With the hole MSE beside it
    the cheapest way to meet it is detail that continues the surroundings; detail that
    does not costs its variance in MSE. This is the per-window form of
    :func:`inpaintkit.metrics.texture_ratio` (mean gradient of the fill over the truth's).
    """
    _check_image_pair(composite, target, hole)
    pad = window // 2
    local = lambda m: F.avg_pool2d(F.pad(m, (pad,) * 4, mode="reflect"), window, stride=1)
    g_out = local(gradient_magnitude(composite))
    with torch.no_grad():
        g_gt = local(gradient_magnitude(target))
        area = hole.sum(dim=(1, 2, 3)).clamp(min=1.0)
        scale = (gradient_magnitude(target) * hole).sum(dim=(1, 2, 3)) / area
    shortfall = F.relu(target_ratio * g_gt - g_out) * hole
    per_image = shortfall.sum(dim=(1, 2, 3)) / area / scale.clamp(min=1e-3)
    return per_image.mean()


def total_variation(composite: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """PConv Eq. 8: total variation of the composited image over ``P``, the hole dilated
    by one pixel; a horizontal (vertical) pair counts when both its pixels are in P.
    Normalised by the number of elements of the image."""
    _check_image_pair(composite, composite, hole)
    region = (F.max_pool2d(hole, 3, stride=1, padding=1) > 0).to(composite.dtype)
    pair_w = region[..., :, 1:] * region[..., :, :-1]
    pair_h = region[..., 1:, :] * region[..., :-1, :]
    tv_w = ((composite[..., :, 1:] - composite[..., :, :-1]).abs() * pair_w).sum()
    tv_h = ((composite[..., 1:, :] - composite[..., :-1, :]).abs() * pair_h).sum()
    return (tv_w + tv_h) / composite.numel()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) auto-correlation ``F F^T / (C H W)`` (PConv Eq. 6's K_p)."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


# VGG-16 "features" up to pool3 (torchvision indices): conv/relu pairs and max pools.
_VGG16_TO_POOL3 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M")


class VGG16Features(nn.Module):
    """Frozen VGG-16 (Simonyan & Zisserman 2015) giving the pool1, pool2, pool3 features
    PConv's perceptual and style losses use. Input (B, 3, H, W) in [0, 1], normalised
    with the ImageNet mean and std inside.

    Parameters
    ----------
    path : path
        A local VGG-16 state dict (torchvision's ``vgg16-397923af.pth`` or any dict with
        ``features.0.weight`` ... ``features.14.bias``; classifier keys are ignored).
        Keys and shapes of the layers used are checked strictly.
    """

    def __init__(self, path):
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG-16 weights file not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"cannot read VGG-16 weights {path}: {type(exc).__name__}: {exc}") from exc
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        layers, cin, self.pool_indices = [], 3, []
        for item in _VGG16_TO_POOL3:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                self.pool_indices.append(len(layers) - 1)
            else:
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=False)]
                cin = item
        self.features = nn.Sequential(*layers)
        wanted = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        subset = {}
        for key, value in wanted.items():
            if key not in state:
                raise ValueError(f"{path}: missing VGG-16 key {key!r}; expected torchvision's vgg16 layout")
            if tuple(state[key].shape) != tuple(value.shape):
                raise ValueError(f"{path}: VGG-16 key {key!r} has shape {tuple(state[key].shape)}, "
                                 f"expected {tuple(value.shape)}")
            subset[key[len("features."):]] = state[key]
        self.features.load_state_dict(subset, strict=True)
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always frozen

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.pool_indices:
                out.append(x)
        return out


def perceptual_loss(out_features, comp_features, gt_features) -> torch.Tensor:
    """PConv Eq. 5: sum over pool layers of the L1 distances of the raw output's and the
    composite's features to the ground truth's, each normalised by its element count."""
    loss = 0.0
    for fo, fc, fg in zip(out_features, comp_features, gt_features):
        loss = loss + (fo - fg).abs().mean() + (fc - fg).abs().mean()
    return loss


def style_loss(features, gt_features) -> torch.Tensor:
    """PConv Eq. 6/7: L1 distance of Gram matrices (``K_p`` normalised), summed over the
    pool layers. Call once with the output and once with the composite (L_style_out and
    L_style_comp)."""
    loss = 0.0
    for f, fg in zip(features, gt_features):
        loss = loss + (gram_matrix(f) - gram_matrix(fg)).abs().mean()
    return loss


def focal_loss(logits: torch.Tensor, label: torch.Tensor, *, gamma: float = 2.0,
               balance: bool = True, eps: float = 1e-7) -> torch.Tensor:
    """Per-pixel focal loss (Lin et al. 2017, https://doi.org/10.1109/ICCV.2017.324) of
    GDN's dense detector, balanced by the hole ratio.

    ``FL = -alpha_t (1 - p_t) ** gamma log p_t`` averaged over pixels, where ``p_t`` is
    the softmax probability of the true class. With ``balance``, ``alpha_t`` is ``1 - r``
    on artifact pixels (label 1) and ``r`` on the others, ``r`` the fraction of label-1
    pixels in the batch: the rare class is not drowned by the common one (GDN weights by
    the hole ratio). A batch holding one class only is treated as ``r = 0.5``
    (both weights 0.5).

    Parameters
    ----------
    logits : (B, 2, H, W)
        Class 0 = real, class 1 = artifact.
    label : (B, 1, H, W)
        1 = artifact (the hole, GDN's weak label), 0 = real.
    """
    if logits.dim() != 4 or logits.shape[1] != 2:
        raise ValueError(f"logits must be (B, 2, H, W), got {tuple(logits.shape)}")
    if label.shape != (logits.shape[0], 1, *logits.shape[2:]):
        raise ValueError(f"label must be (B, 1, H, W) matching the logits, got {tuple(label.shape)}")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    log_prob = F.log_softmax(logits, dim=1)
    log_pt = log_prob[:, 1:2] * label + log_prob[:, 0:1] * (1 - label)
    pt = log_pt.exp().clamp(eps, 1.0)
    loss = -((1 - pt) ** gamma) * log_pt
    if balance:
        ratio = float(label.mean())
        if ratio <= 0.0 or ratio >= 1.0:
            ratio = 0.5
        alpha = label * (1 - ratio) + (1 - label) * ratio
        loss = alpha * loss
    return loss.mean()


def weighted_reconstruction(output: torch.Tensor, target: torch.Tensor,
                            artifact_probability: torch.Tensor, *, base: float = 10.0) -> torch.Tensor:
    """GDN's detector-weighted reconstruction loss: ``mean(base ** D(out) * |out - gt|)``.

    ``artifact_probability`` (B, 1, H, W) in [0, 1] is the detector's output for the
    generated image (detached by the caller in the generator step): pixels the detector
    flags weigh up to ``base`` times more than pixels it accepts (weight 1).
    """
    _check_image_pair(output, target, artifact_probability)
    if base <= 0:
        raise ValueError(f"base must be > 0, got {base}")
    weight = base ** artifact_probability
    return (weight * (output - target).abs()).mean()


def nsgan_d(real, fake, *, logits: bool = True) -> torch.Tensor:
    """Non-saturating GAN discriminator loss (Goodfellow et al. 2014): binary
    cross-entropy with real -> 1, fake -> 0. ``logits=False`` for probabilities (GL's
    sigmoid discriminator)."""
    if logits:
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))) / 2
    real, fake = real.clamp(1e-7, 1 - 1e-7), fake.clamp(1e-7, 1 - 1e-7)
    return (F.binary_cross_entropy(real, torch.ones_like(real))
            + F.binary_cross_entropy(fake, torch.zeros_like(fake))) / 2


def nsgan_g(fake, *, logits: bool = True) -> torch.Tensor:
    """Non-saturating generator loss: ``-log D(G(z))``."""
    if logits:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    fake = fake.clamp(1e-7, 1 - 1e-7)
    return F.binary_cross_entropy(fake, torch.ones_like(fake))


def hinge_d(real, fake) -> torch.Tensor:
    """Hinge discriminator loss (Lim & Ye 2017): ``relu(1 - D(x)) + relu(1 + D(G(z)))``."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g(fake) -> torch.Tensor:
    """Hinge generator loss: ``-D(G(z))``."""
    return -fake.mean()


def feature_matching(real_features, fake_features) -> torch.Tensor:
    """EdgeConnect Eq. 3: L1 between the discriminator's intermediate activations on real
    and generated inputs, averaged per layer and summed over layers (real ones detached)."""
    loss = 0.0
    for real, fake in zip(real_features, fake_features):
        loss = loss + (fake - real.detach()).abs().mean()
    return loss
