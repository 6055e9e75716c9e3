"""Globally and Locally consistent image completion (Iizuka, Simo-Serra, Ishikawa 2017):
the completion network and, for training, the joined local + global discriminator.

Reference: S. Iizuka, E. Simo-Serra, H. Ishikawa, "Globally and Locally Consistent Image
Completion", ACM Trans. Graph. 36(4), 107 (SIGGRAPH 2017),
https://doi.org/10.1145/3072959.3073659. Layer tables: the paper's Tables 1 and 2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import pull_push_fill, tension_fill

#: Default fill colour for the hole when a checkpoint carries no dataset mean (the
#: ImageNet RGB mean; the official Places2 file stores its own mean, which is used).
DEFAULT_MEAN = (0.485, 0.456, 0.406)


@dataclass(frozen=True)
class GLConfig:
    """Widths of the completion network and discriminators.

    ``paper()`` is Table 1/2 of the paper; ``small()`` keeps every layer and dilation but
    has a quarter of the channels, so it trains on a CPU.
    """

    width: int = 64            # first layer; 128 and 256 after the two strides
    last_width: int = 32       # the 3x3 layer before the output
    dilations: tuple = (2, 4, 8, 16)
    mean: tuple = DEFAULT_MEAN
    disc_widths: tuple = (64, 128, 256, 512, 512, 512)  # global; local uses the first 5
    disc_features: int = 1024
    global_size: int = 256
    local_size: int = 128
    prefill: str = "mean"      # hole seed: "mean" (the paper), "pullpush" or "tension"
    residual: bool = False     # predict a correction of the seed instead of the image

    def __post_init__(self):
        if self.prefill not in ("mean", "pullpush", "tension"):
            raise ValueError(f"GLConfig.prefill must be 'mean', 'pullpush' or 'tension', got {self.prefill!r}")
        if self.residual and self.prefill == "mean":
            raise ValueError("GLConfig.residual needs a seed worth correcting: prefill='pullpush' or 'tension'")

    @classmethod
    def paper(cls) -> "GLConfig":
        return cls()

    @classmethod
    def small(cls) -> "GLConfig":
        """A quarter of the channels; the hole is seeded with a spline in tension solved
        on a pull-push pyramid (:func:`~inpaintkit.learned.layers.tension_fill`) and the
        network predicts a correction of it, so a short CPU training starts from a good
        smooth fill instead of a flat colour."""
        return cls(width=16, last_width=8, disc_widths=(16, 32, 64, 128, 128, 128),
                   disc_features=128, global_size=64, local_size=32, prefill="tension",
                   residual=True)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class ConvBNReLU(nn.Sequential):
    """Convolution (or 4x4 stride-2 deconvolution), batch norm, ReLU: every hidden layer
    of the completion network (paper Sec. 3.1)."""

    def __init__(self, cin, cout, kernel=3, stride=1, dilation=1, transposed=False):
        if transposed:
            conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride, padding=dilation * (kernel // 2),
                             dilation=dilation)
        super().__init__()
        self.add_module("conv", conv)
        self.add_module("bn", nn.BatchNorm2d(cout))
        self.add_module("relu", nn.ReLU(inplace=True))


class CompletionNetwork(nn.Module):
    """The 17-layer completion network (paper Table 1).

    ``forward(image, hole)``: ``image`` (B, 3, H, W) in [0, 1], ``hole`` (B, 1, H, W),
    1 = hole; H and W multiples of 4. The hole is filled with the dataset mean (the
    network sees ``image - mean``, 0 in the hole) and the mask is the fourth input
    channel. Returns the completed image (B, 3, H, W) in [0, 1] (sigmoid output).

    With ``config.prefill`` "pullpush" or "tension" the hole is seeded with that
    interpolation (:mod:`~inpaintkit.learned.layers`) instead of the mean; with ``config.residual`` the output is that seed
    plus the last layer's (linear, zero-initialised) correction, not clipped.
    """

    multiple = 4

    def __init__(self, config: GLConfig = GLConfig()):
        super().__init__()
        self.config = config
        w, w2, w4 = config.width, config.width * 2, config.width * 4
        layers = [
            ConvBNReLU(4, w, kernel=5),
            ConvBNReLU(w, w2, stride=2),
            ConvBNReLU(w2, w2),
            ConvBNReLU(w2, w4, stride=2),
            ConvBNReLU(w4, w4),
            ConvBNReLU(w4, w4),
            *[ConvBNReLU(w4, w4, dilation=d) for d in config.dilations],
            ConvBNReLU(w4, w4),
            ConvBNReLU(w4, w4),
            ConvBNReLU(w4, w2, transposed=True),
            ConvBNReLU(w2, w2),
            ConvBNReLU(w2, w, transposed=True),
            ConvBNReLU(w, config.last_width),
        ]
        self.layers = nn.Sequential(*layers)
        self.output = nn.Conv2d(config.last_width, 3, 3, padding=1)
        if config.residual:  # start as the identity on the seed
            nn.init.zeros_(self.output.weight)
            nn.init.zeros_(self.output.bias)
        self.register_buffer("mean", torch.tensor(config.mean, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        if self.config.prefill != "mean":
            fill = tension_fill if self.config.prefill == "tension" else pull_push_fill
            seed = fill(image, hole)
            centred = seed - self.mean
        else:
            centred = (image - self.mean) * (1 - hole)
        x = self.layers(torch.cat([centred, hole], dim=1))
        if self.config.residual:
            return seed + self.output(x)
        return torch.sigmoid(self.output(x))


def _disc_stack(widths, in_channels=3):
    layers = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, 5, stride=2, padding=2),
                   nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        in_channels = width
    return nn.Sequential(*layers)


class ContextDiscriminator(nn.Module):
    """Local (crop around the hole) and global (whole image) discriminators, each ending
    in a 1024-unit fully connected layer, concatenated and joined by a fully connected
    layer with a sigmoid (paper Table 2). For training.

    ``forward(global_image, local_patch)``: (B, 3, G, G) and (B, 3, L, L) with G and L
    the config's ``global_size`` and ``local_size``. Returns (B, 1) probabilities.
    """

    def __init__(self, config: GLConfig = GLConfig()):
        super().__init__()
        self.config = config
        self.global_convs = _disc_stack(config.disc_widths)
        self.local_convs = _disc_stack(config.disc_widths[:5])
        g = config.global_size // 2 ** len(config.disc_widths)
        l = config.local_size // 2 ** 5
        self.global_fc = nn.Linear(config.disc_widths[-1] * g * g, config.disc_features)
        self.local_fc = nn.Linear(config.disc_widths[4] * l * l, config.disc_features)
        self.concat_fc = nn.Linear(2 * config.disc_features, 1)

    def forward(self, global_image: torch.Tensor, local_patch: torch.Tensor) -> torch.Tensor:
        g = self.global_fc(self.global_convs(global_image).flatten(1))
        l = self.local_fc(self.local_convs(local_patch).flatten(1))
        return torch.sigmoid(self.concat_fc(torch.cat([g, l], dim=1)))


def build(config: GLConfig) -> dict[str, nn.Module]:
    """The inference networks of GL, by part name."""
    return {"generator": CompletionNetwork(config)}
