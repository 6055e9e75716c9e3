"""GDN: generator plus pixel-wise dense detector (Zhang et al. 2020).

The detector predicts, per pixel, the probability that the generator's output is an
artifact; in training it weights the reconstruction loss. At inference it is exposed as
an artifact map: where the fill probably looks wrong.

Reference: R. Zhang, W. Quan, B. Wu, Z. Li, D.-M. Yan, "Pixel-wise Dense Detector for
Image Inpainting", Computer Graphics Forum 39(7), 2020,
https://doi.org/10.1111/cgf.14160. Layer shapes follow the paper's Sec. 3 and the
authors' TensorFlow release (so its checkpoint converts one to one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import ResnetGenerator, TFSamePad2d


@dataclass(frozen=True)
class GDNConfig:
    """``paper()``: 64 base channels, 8 dilated residual blocks, detector widths 32, 64,
    128, 256, 256 then 128 and 2. ``small()``: a quarter of the widths, 2 blocks."""

    width: int = 64
    residual_blocks: int = 8
    dilation: int = 2
    detector_widths: tuple = (32, 64, 128, 256, 256, 128)

    @classmethod
    def paper(cls) -> "GDNConfig":
        return cls()

    @classmethod
    def small(cls) -> "GDNConfig":
        return cls(width=16, residual_blocks=2, detector_widths=(8, 16, 32, 64, 64, 32))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class GDNGenerator(nn.Module):
    """``forward(image, hole)``: (B, 3, H, W) in [0, 1], hole (B, 1, H, W), 1 = hole;
    H, W multiples of 4. The hole is set to 1 (white) and the mask appended, as in the
    release. Output (tanh + 1) / 2 in [0, 1]. Convolutions carry no bias; instance
    norms are affine."""

    multiple = 4

    def __init__(self, config: GDNConfig = GDNConfig()):
        super().__init__()
        self.config = config
        self.net = ResnetGenerator(4, 3, width=config.width,
                                   residual_blocks=config.residual_blocks,
                                   dilation=config.dilation, bias=False, residual_bias=False,
                                   final_bias=False, affine=True, output="tanh01")

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        masked = image * (1 - hole) + hole
        return self.net(torch.cat([masked, hole], dim=1))


class DenseDetector(nn.Module):
    """Seven-layer fully convolutional detector: five 4x4 convolutions (strides 1, 1, 2,
    2, 1, TensorFlow "SAME" padding, LeakyReLU 0.2), two 4x4 stride-2 deconvolutions
    back to full size, two output classes. ``forward(image)`` returns the logits (B, 2,
    H, W); :meth:`artifact_map` the softmax probability of class 1 (artifact), (B, 1, H, W).
    """

    multiple = 4
    strides = (1, 1, 2, 2, 1)

    def __init__(self, config: GDNConfig = GDNConfig()):
        super().__init__()
        widths = config.detector_widths
        layers = []
        cin = 3
        for width, stride in zip(widths[:5], self.strides):
            layers += [TFSamePad2d(4, stride), nn.Conv2d(cin, width, 4, stride),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = width
        self.convs = nn.Sequential(*layers)
        # TF conv2d_transpose, SAME, k=4, s=2 == ConvTranspose2d(padding=1); no activation
        # between the two in the release.
        self.deconv_1 = nn.ConvTranspose2d(cin, widths[5], 4, stride=2, padding=1)
        self.deconv_2 = nn.ConvTranspose2d(widths[5], 2, 4, stride=2, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.deconv_2(self.deconv_1(self.convs(image)))

    def artifact_map(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(image), dim=1)[:, 1:2]


def build(config: GDNConfig) -> dict[str, nn.Module]:
    return {"generator": GDNGenerator(config), "detector": DenseDetector(config)}


def tf_variable_map(config: GDNConfig) -> dict[str, tuple[str, str]]:
    """Our state-dict key -> (TensorFlow variable name, kind) for the authors' release.

    ``kind`` is "conv" (TF (kh, kw, in, out) -> (out, in, kh, kw)), "deconv" (TF (kh, kw,
    out, in) -> (in, out, kh, kw)) or "vector". Scope names are those of the release's
    ``inpaint_generator`` / ``inpaint_discriminator``.
    """
    g = "inpaint_generator/"
    mapping = {
        "generator.net.encoder.1.weight": (g + "encoder_1/conv/conv2d/kernel", "conv"),
        "generator.net.encoder.2.weight": (g + "encoder_1/ins_norm/gamma", "vector"),
        "generator.net.encoder.2.bias": (g + "encoder_1/ins_norm/beta", "vector"),
    }
    for i, (conv, norm) in enumerate(((4, 5), (7, 8)), start=2):
        scope = f"{g}encoder_downsample_{i}/"
        mapping[f"generator.net.encoder.{conv}.weight"] = (scope + "conv_1/conv2d/kernel", "conv")
        mapping[f"generator.net.encoder.{norm}.weight"] = (scope + "ins_norm_1/gamma", "vector")
        mapping[f"generator.net.encoder.{norm}.bias"] = (scope + "ins_norm_1/beta", "vector")
    for k in range(config.residual_blocks):
        scope = f"{g}resblock_{k + 1}/"
        base = f"generator.net.middle.{k}.conv_block."
        for part, (conv, norm) in (("res1", (1, 2)), ("res2", (5, 6))):
            mapping[f"{base}{conv}.weight"] = (f"{scope}{part}/conv/conv2d/kernel", "conv")
            mapping[f"{base}{norm}.weight"] = (f"{scope}{part}/ins_norm/gamma", "vector")
            mapping[f"{base}{norm}.bias"] = (f"{scope}{part}/ins_norm/beta", "vector")
    for i, (conv, norm) in enumerate(((0, 1), (3, 4)), start=1):
        scope = f"{g}decoder_upsample_{i}/"
        mapping[f"generator.net.decoder.{conv}.weight"] = (scope + "deconv/conv2d_transpose/kernel", "deconv")
        mapping[f"generator.net.decoder.{norm}.weight"] = (scope + "ins_norm_1/gamma", "vector")
        mapping[f"generator.net.decoder.{norm}.bias"] = (scope + "ins_norm_1/beta", "vector")
    mapping["generator.net.decoder.7.weight"] = (g + "decoder3/conv/conv2d/kernel", "conv")
    d = "inpaint_discriminator/"
    for i in range(5):
        mapping[f"detector.convs.{3 * i + 1}.weight"] = (f"{d}conv{i + 1}/kernel", "conv")
        mapping[f"detector.convs.{3 * i + 1}.bias"] = (f"{d}conv{i + 1}/bias", "vector")
    for i in (1, 2):
        mapping[f"detector.deconv_{i}.weight"] = (f"{d}deconv_{i}/conv2d_transpose/kernel", "deconv")
        mapping[f"detector.deconv_{i}.bias"] = (f"{d}deconv_{i}/conv2d_transpose/bias", "vector")
    return mapping
