"""EdgeConnect (Nazeri et al. 2019): complete the edge map first, then the image.

Stage 1, the edge generator, sees the grey image (hole set to 1), the Canny edges of the
known region and the mask, and draws the missing edges. Stage 2, the image generator,
sees the RGB image (hole set to 1) and the completed edge map. Both are the dilated
residual generator of :class:`~inpaintkit.learned.layers.ResnetGenerator`; the edge
generator is trained with spectral norm (folded into plain weights for inference). The
70x70 PatchGAN discriminator is here for training.

Reference: K. Nazeri, E. Ng, T. Joseph, F. Z. Qureshi, M. Ebrahimi, "EdgeConnect:
Structure Guided Image Inpainting using Edge Prediction", ICCV Workshops 2019,
https://doi.org/10.1109/ICCVW.2019.00408.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import ResnetGenerator


@dataclass(frozen=True)
class EdgeConnectConfig:
    """``paper()``: 64 base channels, 8 residual blocks with dilation 2 (both generators).
    ``small()``: 16 channels, 2 blocks."""

    width: int = 64
    residual_blocks: int = 8
    dilation: int = 2
    sigma: float = 2.0   # Canny sigma used to build the known edges (paper Sec. 4.1)

    @classmethod
    def paper(cls) -> "EdgeConnectConfig":
        return cls()

    @classmethod
    def small(cls) -> "EdgeConnectConfig":
        return cls(width=16, residual_blocks=2)

    def to_dict(self) -> dict:
        return asdict(self)


class EdgeGenerator(nn.Module):
    """``forward(gray, edges, hole)``, each (B, 1, H, W): returns the edge probability
    map (B, 1, H, W) (sigmoid). The hole of ``gray`` is set to 1 and ``edges`` zeroed
    there, as in the release."""

    multiple = 4

    def __init__(self, config: EdgeConnectConfig = EdgeConnectConfig()):
        super().__init__()
        self.config = config
        # Release layout: convolutions with bias, except in the (spectral-norm) residual blocks.
        net = ResnetGenerator(3, 1, width=config.width, residual_blocks=config.residual_blocks,
                              dilation=config.dilation, bias=True, residual_bias=False,
                              output="sigmoid")
        self.encoder, self.middle, self.decoder = net.encoder, net.middle, net.decoder

    def forward(self, gray, edges, hole):
        gray = gray * (1 - hole) + hole
        edges = edges * (1 - hole)
        x = torch.cat([gray, edges, hole], dim=1)
        return torch.sigmoid(self.decoder(self.middle(self.encoder(x))))


class InpaintGenerator(nn.Module):
    """``forward(image, edges, hole)``: image (B, 3, H, W), edges (B, 1, H, W) completed
    edge map, hole (B, 1, H, W). Returns (B, 3, H, W) in [0, 1] ((tanh + 1) / 2)."""

    multiple = 4

    def __init__(self, config: EdgeConnectConfig = EdgeConnectConfig()):
        super().__init__()
        self.config = config
        net = ResnetGenerator(4, 3, width=config.width, residual_blocks=config.residual_blocks,
                              dilation=config.dilation, bias=True, residual_bias=True,
                              output="tanh01")
        self.encoder, self.middle, self.decoder = net.encoder, net.middle, net.decoder

    def forward(self, image, edges, hole):
        image = image * (1 - hole) + hole
        x = torch.cat([image, edges], dim=1)
        return (torch.tanh(self.decoder(self.middle(self.encoder(x)))) + 1) / 2


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (Isola et al. 2017) as EdgeConnect uses it: 4x4 convolutions with
    strides 2, 2, 2, 1, 1, LeakyReLU 0.2, one logit per 70x70 patch. Wrap it with
    :func:`~inpaintkit.learned.layers.add_spectral_norm` for training.

    ``forward(x)`` returns (logits, [features of each layer]) for the feature-matching loss.
    """

    def __init__(self, in_channels: int, width: int = 64, use_sigmoid: bool = True):
        super().__init__()
        self.use_sigmoid = use_sigmoid
        widths = (width, width * 2, width * 4, width * 8)
        strides = (2, 2, 2, 1)
        layers = []
        cin = in_channels
        for w, s in zip(widths, strides):
            layers.append(nn.Sequential(nn.Conv2d(cin, w, 4, s, 1, bias=False),
                                        nn.LeakyReLU(0.2, inplace=True)))
            cin = w
        layers.append(nn.Sequential(nn.Conv2d(cin, 1, 4, 1, 1, bias=False)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return (torch.sigmoid(x) if self.use_sigmoid else x), features


def build(config: EdgeConnectConfig) -> dict[str, nn.Module]:
    return {"edge": EdgeGenerator(config), "inpaint": InpaintGenerator(config)}
