"""Partial-convolution U-Net (Liu et al. 2018) for irregular holes.

Reference: G. Liu, F. A. Reda, K. J. Shih, T.-C. Wang, A. Tao, B. Catanzaro, "Image
Inpainting for Irregular Holes Using Partial Convolutions", ECCV 2018,
https://doi.org/10.1007/978-3-030-01252-6_6. Architecture: the paper's Sec. 3.3 and
supplementary table (PConv1-8 encoder, nearest upsampling decoder with skip links).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import PartialConv2d

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PConvConfig:
    """Depth and widths of the U-Net.

    ``paper()``: 8 levels (512x512 input in the paper), kernels 7, 5, 5, 3..., widths 64,
    128, 256, 512... ``release()``: the 7-level network of the naoto0804 PyTorch release
    (its normalisation variant and ImageNet-normalised input). ``small()``: 5 levels with a
    quarter of the widths.
    """

    levels: int = 8
    widths: tuple = (64, 128, 256, 512, 512, 512, 512, 512)
    kernels: tuple = (7, 5, 5, 3, 3, 3, 3, 3)
    renormalize: str = "paper"       # "paper": sum(1)/sum(M); "mean": 1/sum(M)
    normalize_input: bool = False    # subtract ImageNet mean / divide by std

    def __post_init__(self):
        if len(self.widths) != self.levels or len(self.kernels) != self.levels:
            raise ValueError(
                f"PConvConfig needs {self.levels} widths and kernels, got "
                f"{len(self.widths)} and {len(self.kernels)}"
            )

    @classmethod
    def paper(cls) -> "PConvConfig":
        return cls()

    @classmethod
    def release(cls, levels: int = 7) -> "PConvConfig":
        widths = (64, 128, 256) + (512,) * (levels - 3)
        kernels = (7, 5, 5) + (3,) * (levels - 3)
        return cls(levels=levels, widths=widths, kernels=kernels, renormalize="mean",
                   normalize_input=True)

    @classmethod
    def small(cls) -> "PConvConfig":
        return cls(levels=5, widths=(16, 32, 64, 128, 128), kernels=(7, 5, 5, 3, 3))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class PConvBlock(nn.Module):
    """Partial convolution, optional batch norm, optional activation."""

    def __init__(self, cin, cout, kernel, stride, *, bn, activation, bias, renormalize):
        super().__init__()
        self.conv = PartialConv2d(cin, cout, kernel, stride, kernel // 2, bias=bias,
                                  renormalize=renormalize)
        if bn:
            self.bn = nn.BatchNorm2d(cout)
        self.activation = activation

    def forward(self, x, valid):
        x, valid = self.conv(x, valid)
        if hasattr(self, "bn"):
            x = self.bn(x)
        if self.activation == "relu":
            x = F.relu(x)
        elif self.activation == "leaky":
            x = F.leaky_relu(x, 0.2)
        return x, valid


class PConvUNet(nn.Module):
    """The partial-convolution U-Net.

    Encoder ``enc_1 .. enc_L``: stride-2 partial convolutions, BN (not on the first),
    ReLU. Decoder ``dec_L .. dec_1``: nearest 2x upsampling of features and mask,
    concatenation with the encoder level below (and, for ``dec_1``, the input image and
    its mask), 3x3 partial convolution, BN and LeakyReLU(0.2) except on the last, which
    is linear. Module names match the naoto0804 release.

    ``forward(image, hole)``: (B, 3, H, W) in [0, 1] and (B, 1, H, W), 1 = hole; H, W
    multiples of ``2 ** levels``. Returns (B, 3, H, W) (not clipped).
    """

    def __init__(self, config: PConvConfig = PConvConfig()):
        super().__init__()
        self.config = config
        self.multiple = 2 ** config.levels
        renorm = config.renormalize
        widths = config.widths
        cin = 3
        for level in range(config.levels):
            setattr(self, f"enc_{level + 1}", PConvBlock(
                cin, widths[level], config.kernels[level], 2, bn=level > 0,
                activation="relu", bias=False, renormalize=renorm))
            cin = widths[level]
        for level in range(config.levels, 1, -1):
            cin = widths[level - 1] + widths[level - 2]
            setattr(self, f"dec_{level}", PConvBlock(
                cin, widths[level - 2], 3, 1, bn=True, activation="leaky", bias=False,
                renormalize=renorm))
        self.dec_1 = PConvBlock(widths[0] + 3, 3, 3, 1, bn=False, activation=None, bias=True,
                                renormalize=renorm)
        self.register_buffer("input_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("input_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, image: torch.Tensor, hole: torch.Tensor, *, return_valid: bool = False):
        """See the class docstring; with ``return_valid`` also return the final layer's
        updated mask (B, 1, H, W): 1 where some known pixel reached the output, 0 where
        the partial convolutions' mask updates never got there (the output is 0 there,
        the network's "no information" value)."""
        valid = 1 - hole
        x = image
        if self.config.normalize_input:
            x = (x - self.input_mean) / self.input_std
        x = x * valid
        features, masks = [x], [valid]
        for level in range(1, self.config.levels + 1):
            h, m = getattr(self, f"enc_{level}")(features[-1], masks[-1])
            features.append(h)
            masks.append(m)
        h, m = features[-1], masks[-1]
        for level in range(self.config.levels, 0, -1):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            m = F.interpolate(m, scale_factor=2, mode="nearest")
            skip, skip_mask = features[level - 1], masks[level - 1]
            # The mask of the concatenation has one channel per feature channel.
            cat_mask = torch.cat([m.expand(-1, h.shape[1], -1, -1),
                                  skip_mask.expand(-1, skip.shape[1], -1, -1)], dim=1)
            h, m = getattr(self, f"dec_{level}")(torch.cat([h, skip], dim=1), cat_mask)
        if self.config.normalize_input:
            h = h * self.input_std + self.input_mean
        if return_valid:
            return h, m
        return h


def build(config: PConvConfig) -> dict[str, nn.Module]:
    return {"generator": PConvUNet(config)}
