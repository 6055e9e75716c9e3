"""LaMa (Suvorov et al. 2022): the fast-Fourier-convolution ResNet generator, and the
PatchGAN discriminator it is trained against.

A fast Fourier convolution (FFC, Chi, Jiang, Mu 2020) splits its channels into a
*local* part, convolved as usual, and a *global* part whose ``global -> global`` path
is a spectral transform: a 1x1 convolution applied to the real FFT of the whole feature
map, so a single layer sees the entire image. LaMa's generator is a ResNet of FFC
blocks between three strided downsamplings and three transposed-convolution
upsamplings; three quarters of the bottleneck channels are global.

The module and parameter names follow the authors' release (``FFCResNetGenerator`` of
advimman/lama, ``saicinpainting/training/modules/ffc.py``): ``model.N.ffc.convl2l``,
``.convl2g``, ``.convg2l``, ``.convg2g.conv1/fu/conv2``, ``.bn_l``, ``.bn_g`` and so
on, so the ``generator.*`` weights of the published ``big-lama/models/best.ckpt`` load
strictly into :class:`LamaGenerator` (see :mod:`inpaintkit.learned.checkpoints`).

Input convention (the authors'): the image in [0, 1] with the hole zeroed, the mask as a
fourth channel, height and width multiples of ``2 ** downsamplings`` (8 for big-lama);
the output is a sigmoid image in [0, 1].

Reference: R. Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier
Convolutions", WACV 2022, https://doi.org/10.1109/WACV51458.2022.00323. FFC: L. Chi,
B. Jiang, Y. Mu, "Fast Fourier Convolution", NeurIPS 2020.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = [
    "LamaConfig",
    "FourierUnit",
    "SpectralTransform",
    "FFC",
    "FFCNormAct",
    "FFCResidualBlock",
    "LamaGenerator",
    "PatchDiscriminator",
    "build",
]


@dataclass(frozen=True)
class LamaConfig:
    """Shape of the FFC ResNet generator (and of the discriminator used to train it).

    ``paper()`` is *big-lama* (``configs/training/big-lama.yaml``): 64 base channels,
    3 downsamplings, 18 residual FFC blocks, global ratio 0.75 in the blocks, about
    51 M parameters. ``fourier()`` is the paper's standard *LaMa-Fourier* (9 blocks,
    about 27 M). ``small()`` keeps every kind of layer with 16 base channels and 3
    blocks, so it trains and runs on a CPU.
    """

    width: int = 64            # ngf: channels after the first 7x7 convolution
    downsamplings: int = 3     # strided 3x3 FFCs; channels double at each
    blocks: int = 18           # residual FFC blocks at the bottleneck
    global_ratio: float = 0.75  # ratio_gin = ratio_gout of the residual blocks
    max_width: int = 1024      # channel cap (the release's max_features)
    disc_width: int = 64       # PatchGAN discriminator (pix2pixhd_nlayer: ndf 64, 4 layers)
    disc_layers: int = 4

    @classmethod
    def paper(cls) -> "LamaConfig":
        return cls()

    @classmethod
    def fourier(cls) -> "LamaConfig":
        return cls(blocks=9)

    @classmethod
    def small(cls) -> "LamaConfig":
        return cls(width=16, blocks=3, disc_width=16, disc_layers=3)

    def __post_init__(self):
        for name in ("width", "downsamplings", "blocks", "max_width", "disc_width", "disc_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "blocks" else 1):
                raise ValueError(f"LamaConfig.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= float(self.global_ratio) < 1.0:
            raise ValueError(f"LamaConfig.global_ratio must be in [0, 1), got {self.global_ratio!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class FourierUnit(nn.Module):
    """The spectral 1x1 convolution: real FFT over (H, W) with orthonormal scaling, a
    1x1 convolution + BN + ReLU on the stacked real and imaginary parts, inverse FFT.

    The real and imaginary parts of channel ``c`` sit at channels ``2c`` and ``2c + 1``
    of the convolution's input and output, as in the release (which the weights assume).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv_layer = nn.Conv2d(2 * in_channels, 2 * out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        # FFTs in at least float32 (under autocast too: half-precision FFTs need power-of-2 sizes).
        fft_dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
        spectrum = torch.fft.rfftn(x.to(fft_dtype), dim=(-2, -1), norm="ortho")
        # (B, C, H, W', 2) -> (B, C, 2, H, W') -> (B, 2C, H, W'): re/im interleaved per channel.
        stacked = torch.stack((spectrum.real, spectrum.imag), dim=2).reshape(batch, -1, height, spectrum.shape[-1])
        mixed = self.relu(self.bn(self.conv_layer(stacked.to(x.dtype))))
        mixed = mixed.to(fft_dtype).reshape(batch, -1, 2, height, spectrum.shape[-1])
        spectrum = torch.complex(mixed[:, :, 0], mixed[:, :, 1])
        return torch.fft.irfftn(spectrum, s=(height, width), dim=(-2, -1), norm="ortho").to(x.dtype)


class SpectralTransform(nn.Module):
    """The global -> global path of an FFC: 1x1 conv to half the channels (+ BN + ReLU),
    a Fourier unit with a residual connection, 1x1 conv back (FFC paper Fig. 2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        half = out_channels // 2
        self.downsample = nn.AvgPool2d(2, stride=2) if stride == 2 else nn.Identity()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, half, 1, bias=False),
                                   nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.fu = FourierUnit(half, half)
        self.conv2 = nn.Conv2d(half, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.downsample(x))
        return self.conv2(x + self.fu(x))


def _split(channels: int, ratio: float) -> tuple[int, int]:
    """(local, global) channel counts; the release rounds the global part down."""
    global_channels = int(channels * ratio)
    return channels - global_channels, global_channels


class FFC(nn.Module):
    """Fast Fourier convolution on a (local, global) pair of tensors.

    Four paths, each present only when both its ends have channels: local -> local,
    local -> global and global -> local are ordinary (reflect-padded) convolutions,
    global -> global is a :class:`SpectralTransform`. ``forward((x_local, x_global))``
    with ``x_global`` None when there are no global input channels; returns the pair
    (``None`` for an empty side).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, ratio_in: float,
                 ratio_out: float, *, stride: int = 1, padding: int = 0, dilation: int = 1):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"FFC stride must be 1 or 2, got {stride}")
        in_local, in_global = _split(in_channels, ratio_in)
        out_local, out_global = _split(out_channels, ratio_out)
        self.in_channels = (in_local, in_global)
        self.out_channels = (out_local, out_global)

        def conv(cin, cout):
            if cin == 0 or cout == 0:
                return nn.Identity()  # parameter-free placeholder, as in the release
            return nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation, bias=False,
                             padding_mode="reflect")

        self.convl2l = conv(in_local, out_local)
        self.convl2g = conv(in_local, out_global)
        self.convg2l = conv(in_global, out_local)
        self.convg2g = (SpectralTransform(in_global, out_global, stride)
                        if in_global and out_global else nn.Identity())

    def forward(self, x):
        x_local, x_global = x if isinstance(x, tuple) else (x, None)
        (in_local, in_global), (out_local, out_global) = self.in_channels, self.out_channels
        out_l = out_g = None
        if out_local:
            parts = ([self.convl2l(x_local)] if in_local else []) + ([self.convg2l(x_global)] if in_global else [])
            out_l = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        if out_global:
            parts = ([self.convl2g(x_local)] if in_local else []) + ([self.convg2g(x_global)] if in_global else [])
            out_g = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        return out_l, out_g


class FFCNormAct(nn.Module):
    """FFC, then batch norm and an activation on each side (the release's FFC_BN_ACT)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, ratio_in: float,
                 ratio_out: float, *, stride: int = 1, padding: int = 0, dilation: int = 1,
                 activation: bool = True):
        super().__init__()
        self.ffc = FFC(in_channels, out_channels, kernel_size, ratio_in, ratio_out,
                       stride=stride, padding=padding, dilation=dilation)
        out_local, out_global = self.ffc.out_channels
        self.bn_l = nn.BatchNorm2d(out_local) if out_local else nn.Identity()
        self.bn_g = nn.BatchNorm2d(out_global) if out_global else nn.Identity()
        self.act_l = nn.ReLU(inplace=True) if activation and out_local else nn.Identity()
        self.act_g = nn.ReLU(inplace=True) if activation and out_global else nn.Identity()

    def forward(self, x):
        x_local, x_global = self.ffc(x)
        if x_local is not None:
            x_local = self.act_l(self.bn_l(x_local))
        if x_global is not None:
            x_global = self.act_g(self.bn_g(x_global))
        return x_local, x_global


class FFCResidualBlock(nn.Module):
    """Two 3x3 :class:`FFCNormAct` layers with an identity shortcut on both sides."""

    def __init__(self, channels: int, ratio: float, dilation: int = 1):
        super().__init__()
        self.conv1 = FFCNormAct(channels, channels, 3, ratio, ratio, padding=dilation, dilation=dilation)
        self.conv2 = FFCNormAct(channels, channels, 3, ratio, ratio, padding=dilation, dilation=dilation)

    def forward(self, x):
        x_local, x_global = x
        y_local, y_global = self.conv2(self.conv1((x_local, x_global)))
        return (x_local + y_local if x_local is not None else None,
                x_global + y_global if x_global is not None else None)


class JoinLocalGlobal(nn.Module):
    """Concatenate the local and global halves back into one tensor (local first)."""

    def forward(self, x):
        x_local, x_global = x
        if x_global is None:
            return x_local
        if x_local is None:
            return x_global
        return torch.cat((x_local, x_global), dim=1)


class LamaGenerator(nn.Module):
    """The FFC ResNet generator (the release's ``FFCResNetGenerator`` with big-lama's
    settings: reflect padding, batch norm, ReLU, sigmoid output).

    ``forward(image, hole)``: ``image`` (B, 3, H, W) in [0, 1], ``hole`` (B, 1, H, W),
    1 = hole, H and W multiples of :attr:`multiple`. The network sees
    ``cat(image * (1 - hole), hole)`` and returns its prediction (B, 3, H, W) in [0, 1]
    for the whole image (compositing with the known pixels is the caller's job).
    """

    def __init__(self, config: LamaConfig = LamaConfig()):
        super().__init__()
        self.config = config
        self.multiple = 2 ** config.downsamplings
        width, cap, ratio = config.width, config.max_width, config.global_ratio
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), FFCNormAct(4, width, 7, 0.0, 0.0)]
        for i in range(config.downsamplings):
            # The last downsampling already splits its output into local and global.
            ratio_out = ratio if i == config.downsamplings - 1 else 0.0
            layers.append(FFCNormAct(min(cap, width * 2 ** i), min(cap, width * 2 ** (i + 1)), 3, 0.0,
                                     ratio_out, stride=2, padding=1))
        bottleneck = min(cap, width * 2 ** config.downsamplings)
        layers += [FFCResidualBlock(bottleneck, ratio) for _ in range(config.blocks)]
        layers.append(JoinLocalGlobal())
        for i in range(config.downsamplings):
            cin = min(cap, width * 2 ** (config.downsamplings - i))
            cout = min(cap, width * 2 ** (config.downsamplings - i - 1))
            layers += [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                       nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, 3, 7), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        if height % self.multiple or width % self.multiple:
            raise ValueError(f"LaMa needs height and width multiples of {self.multiple}, got {height}x{width}")
        return self.model(torch.cat((image * (1 - hole), hole), dim=1))


class PatchDiscriminator(nn.Module):
    """The pix2pixHD N-layer PatchGAN LaMa trains against (``pix2pixhd_nlayer``: 4x4
    convolutions, stride 2 then 1, batch norm and LeakyReLU 0.2). For training.

    ``forward(image)`` returns ``(logits, features)``: per-patch logits (B, 1, h, w) and
    the activations of every layer before the last (for the feature-matching loss).
    """

    def __init__(self, config: LamaConfig = LamaConfig()):
        super().__init__()
        width, layers = config.disc_width, config.disc_layers
        stages = [nn.Sequential(nn.Conv2d(3, width, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        channels = width
        for i in range(1, layers + 1):
            out = min(channels * 2, 512)
            stride = 2 if i < layers else 1
            stages.append(nn.Sequential(nn.Conv2d(channels, out, 4, stride, 2), nn.BatchNorm2d(out),
                                        nn.LeakyReLU(0.2, True)))
            channels = out
        stages.append(nn.Sequential(nn.Conv2d(channels, 1, 4, 1, 2)))
        self.stages = nn.ModuleList(stages)

    def forward(self, image: torch.Tensor):
        features = []
        x = image
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return x, features[:-1]


def build(config: LamaConfig) -> dict[str, nn.Module]:
    """The inference networks of LaMa, by part name."""
    return {"generator": LamaGenerator(config)}
