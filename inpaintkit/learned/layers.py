"""Building blocks shared by the learned networks: partial convolution, residual blocks,
TensorFlow-style "SAME" padding, and spectral-norm helpers.

Conventions: tensors are (B, C, H, W) float; hole masks are (B, 1, H, W), 1 = hole. The
partial convolution works with the complementary *valid* mask (1 = known), as in the
paper, and names it ``valid`` to make the switch visible.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PartialConv2d",
    "partial_conv2d",
    "ResnetBlock",
    "ResnetGenerator",
    "TFSamePad2d",
    "fold_spectral_norm",
    "add_spectral_norm",
    "count_parameters",
    "pull_push_fill",
    "tension_fill",
]


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters (buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


def _neighbour_mean(values: torch.Tensor) -> torch.Tensor:
    padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
    return 0.25 * (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
                   + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:])


def pull_push_fill(image: torch.Tensor, hole: torch.Tensor, *, sweeps: int = 8) -> torch.Tensor:
    """Fill the hole smoothly by pull-push interpolation (Gortler et al., "The
    Lumigraph", SIGGRAPH 1996, Sec. 3.3) with Jacobi relaxation of Laplace's equation at
    every level (a multigrid-style harmonic fill): a classical fill of any hole at any
    size in a few pooling passes, for seeding a network's input.

    Pull: average the known pixels 2x2 by 2x2 (weights = known fraction) until a level
    has no empty cell or is one pixel. Push: from the coarsest level down, each level
    keeps its own average where its weight is 1, takes the upsampled coarser level where
    it is 0 and blends in between; then ``sweeps`` Jacobi sweeps move each cell towards
    its 4-neighbour mean in proportion to its missing weight.

    Parameters
    ----------
    image : Tensor, shape (B, C, H, W)
    hole : Tensor, shape (B, 1, H, W), 1 = hole
        An all-hole image is filled with 0.
    sweeps : int
        Jacobi sweeps per level (8: within about 0.5-0.9 dB of a converged tension-spline
        diffusion fill on 256-pixel photos with 30-60 % holes, in 0.05 s).

    Returns
    -------
    Tensor, shape (B, C, H, W)
        ``image`` outside the hole, the interpolation inside it (hole values of
        ``image`` are never read).
    """
    def settle(filled, own, alpha, shape):
        for _ in range(sweeps):
            filled = alpha * own + (1 - alpha) * _neighbour_mean(filled)
        return filled

    filled = _push(*_pull(image, hole), settle)
    return hole * filled + (1 - hole) * image


def _pull(image, hole):
    """Pull-push's pull: known-weighted 2x2 averages until no cell is empty."""
    weight = 1 - hole
    sums = [image * weight]
    weights = [weight]
    while min(sums[-1].shape[-2:]) > 1 and bool((weights[-1] <= 0).any()):
        s, w = sums[-1], weights[-1]
        pad = (0, s.shape[-1] % 2, 0, s.shape[-2] % 2)
        if any(pad):
            s = F.pad(s, pad, mode="replicate")
            w = F.pad(w, pad, mode="replicate")
        sums.append(F.avg_pool2d(s, 2))
        weights.append(F.avg_pool2d(w, 2))
    return sums, weights


def _push(sums, weights, settle):
    """Pull-push's push, coarse to fine: each level keeps its own known averages where
    it has them (weight 1), blends towards the upsampled coarser fill where it has fewer,
    and ``settle(filled, own, alpha, shape)`` relaxes the result at that level."""
    filled = sums[-1] / weights[-1].clamp(min=1e-6)
    for s, w in zip(reversed(sums[:-1]), reversed(weights[:-1])):
        up = F.interpolate(filled, scale_factor=2, mode="bilinear", align_corners=False)
        up = up[..., :s.shape[-2], :s.shape[-1]]
        alpha = w.clamp(max=1.0)
        own = s / w.clamp(min=1e-6)
        filled = settle(alpha * own + (1 - alpha) * up, own, alpha, s.shape[-2:])
    return filled


def tension_fill(image: torch.Tensor, hole: torch.Tensor, *, tension: float = 0.25,
                 sweeps: int = 128, relaxation: float = 0.5) -> torch.Tensor:
    """Fill the hole with a continuous-curvature spline in tension (Smith and Wessel,
    Geophysics 55(3) 1990, https://doi.org/10.1190/1.1442837, Eq. 5:
    ``(1 - T) Laplacian^2 u - T Laplacian u = 0``), solved coarse to fine on the
    pull-push pyramid (Gortler et al. 1996): at each level, starting from the upsampled
    coarser solution, ``sweeps`` damped Jacobi sweeps of the 13-point stencil. The same
    equation as our ``diffusion`` method's default (``variant="tension"``, T = 0.25),
    approximated in milliseconds for seeding a network: unlike a harmonic fill it
    continues the gradients at the hole's border, which is what SSIM rewards.

    Parameters
    ----------
    image : Tensor, shape (B, C, H, W)
    hole : Tensor, shape (B, 1, H, W), 1 = hole
    tension : float in [0, 1]
        0: biharmonic (minimum curvature); 1: harmonic.
    sweeps : int
        Jacobi sweeps per pyramid level up to 64 pixels; a quarter of that on the finer
        levels, which start from the coarse solution.
    relaxation : float
        Jacobi damping; the undamped iteration diverges for the biharmonic operator
        (its stencil's largest eigenvalue is 64 against a diagonal of 20), 0.5 converges
        for every ``tension``.

    Returns
    -------
    Tensor, shape (B, C, H, W)
        ``image`` outside the hole, the spline inside it.
    """
    # Coefficients of (1 - T) * (13-point biharmonic) - T * (5-point Laplacian).
    bend = 1.0 - tension
    centre = 20.0 * bend + 4.0 * tension
    near, diagonal, far = 8.0 * bend + tension, -2.0 * bend, -bend

    def settle(filled, own, alpha, shape):
        known, free = alpha * own, 1 - alpha
        # Coarse levels carry the smooth shape and cost little: full sweeps there; the
        # fine levels start from them and only need to settle the detail.
        count = sweeps if max(shape) <= 64 else max(1, sweeps // 4)
        for _ in range(count):
            p = F.pad(filled, (2, 2, 2, 2), mode="replicate")
            ring = p[..., 1:-3, 2:-2] + p[..., 3:-1, 2:-2] + p[..., 2:-2, 1:-3] + p[..., 2:-2, 3:-1]
            corners = p[..., 1:-3, 1:-3] + p[..., 1:-3, 3:-1] + p[..., 3:-1, 1:-3] + p[..., 3:-1, 3:-1]
            reach = p[..., :-4, 2:-2] + p[..., 4:, 2:-2] + p[..., 2:-2, :-4] + p[..., 2:-2, 4:]
            jacobi = (near * ring + diagonal * corners + far * reach) / centre
            filled = known + free * (filled + relaxation * (jacobi - filled))
        return filled

    filled = _push(*_pull(image, hole), settle)
    return hole * filled + (1 - hole) * image


def partial_conv2d(
    features: torch.Tensor,
    valid: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    renormalize: str = "paper",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Partial convolution (Liu et al. 2018, Eq. 1 and 2), as a function.

    Parameters
    ----------
    features : Tensor, shape (B, C_in, H, W)
    valid : Tensor, shape (B, 1, H, W) or (B, C_in, H, W)
        1 where the input is known, 0 in the hole. A single channel stands for all
        ``C_in`` channels.
    weight : Tensor, shape (C_out, C_in, k, k)
    bias : Tensor, shape (C_out,), or None
    renormalize : {"paper", "mean"}
        ``"paper"`` scales by sum(1)/sum(M) (Eq. 1); ``"mean"`` scales by 1/sum(M), the
        variant used by the naoto0804 PyTorch release (needed to run its weights).

    Returns
    -------
    output : Tensor, shape (B, C_out, H', W')
        Zero wherever the window holds no valid input.
    new_valid : Tensor, shape (B, 1, H', W')
        Eq. 2: 1 where the window held at least one valid input.
    """
    in_channels = weight.shape[1]
    kernel = weight.shape[-1]
    if valid.shape[1] == 1:
        valid_count = valid * in_channels
    elif valid.shape[1] == in_channels:
        valid_count = valid.sum(dim=1, keepdim=True)
    else:
        raise ValueError(
            f"valid mask must have 1 or {in_channels} channels, got {valid.shape[1]}"
        )
    raw = F.conv2d(features * valid, weight, None, stride, padding, dilation)
    # sum(M) over each window: one convolution of the channel-summed mask with ones.
    ones = torch.ones(1, 1, kernel, kernel, dtype=valid.dtype, device=valid.device)
    window_sum = F.conv2d(valid_count, ones, None, stride, padding, dilation)
    has_valid = window_sum > 0
    numerator = float(in_channels * kernel * kernel) if renormalize == "paper" else 1.0
    scale = torch.where(has_valid, numerator / window_sum.clamp(min=1e-8),
                        torch.zeros_like(window_sum))
    output = raw * scale
    if bias is not None:
        output = output + bias.view(1, -1, 1, 1)
    new_valid = has_valid.to(features.dtype)
    # Eq. 1, second case: no valid input under the window gives 0 (bias included).
    return output * new_valid, new_valid


class PartialConv2d(nn.Module):
    """Partial convolution layer (Liu et al. 2018, https://doi.org/10.1007/978-3-030-01252-6_6).

    ``forward(features, valid) -> (output, new_valid)``; see :func:`partial_conv2d`.
    The mask is an input, never state: nothing is carried between calls. The learnable
    convolution is ``input_conv`` (the name the published PyTorch release uses, so its
    state dict loads without renaming).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, bias: bool = True,
                 renormalize: str = "paper"):
        super().__init__()
        if renormalize not in ("paper", "mean"):
            raise ValueError(f"renormalize must be 'paper' or 'mean', got {renormalize!r}")
        self.input_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                    padding, dilation, bias=bias)
        self.renormalize = renormalize

    def forward(self, features: torch.Tensor, valid: torch.Tensor):
        conv = self.input_conv
        return partial_conv2d(features, valid, conv.weight, conv.bias, stride=conv.stride[0],
                              padding=conv.padding[0], dilation=conv.dilation[0],
                              renormalize=self.renormalize)


class TFSamePad2d(nn.Module):
    """Zero padding that reproduces TensorFlow's ``padding="SAME"`` (extra pixel at the
    bottom/right), so convolutions converted from TensorFlow see the same pixels."""

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            out = math.ceil(size / self.stride)
            total = max((out - 1) * self.stride + self.kernel_size - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


class ResnetBlock(nn.Module):
    """Residual block of two 3x3 convolutions, the first dilated, each followed by
    instance norm (ReLU after the first only), reflection padded. Used by EdgeConnect
    and GDN; the Sequential layout matches EdgeConnect's published state dicts."""

    def __init__(self, channels: int, dilation: int = 2, bias: bool = True,
                 affine: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(channels, channels, 3, padding=0, dilation=dilation, bias=bias),
            nn.InstanceNorm2d(channels, affine=affine, track_running_stats=False),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, padding=0, bias=bias),
            nn.InstanceNorm2d(channels, affine=affine, track_running_stats=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Encoder (7x7, two 4x4 stride-2 convolutions) - dilated residual blocks - decoder
    (two 4x4 stride-2 transposed convolutions, 7x7 output): the generator shape shared
    by EdgeConnect's two generators and GDN's generator.

    The module names (``encoder.1``, ``middle.k.conv_block.1``, ``decoder.5``) follow
    EdgeConnect's release, so its state dicts load as they are.

    Parameters
    ----------
    in_channels, out_channels : int
    width : int
        Channels after the first convolution (64 in the papers); doubled per stride.
    residual_blocks : int
        8 in the papers.
    dilation : int
        Dilation of the first convolution of each residual block (2 in the papers).
    bias : bool
        Bias in the encoder/decoder convolutions; ``residual_bias`` in the blocks.
    affine : bool
        Learnable scale/shift in the instance norms (GDN: True; EdgeConnect: False).
    output : {"sigmoid", "tanh01"}
        Final activation: sigmoid, or (tanh + 1) / 2.
    """

    def __init__(self, in_channels: int, out_channels: int, *, width: int = 64,
                 residual_blocks: int = 8, dilation: int = 2, bias: bool = True,
                 residual_bias: bool = True, final_bias: bool = True, affine: bool = False,
                 output: str = "tanh01"):
        super().__init__()
        if output not in ("sigmoid", "tanh01"):
            raise ValueError(f"output must be 'sigmoid' or 'tanh01', got {output!r}")
        self.output = output

        def norm(channels):
            return nn.InstanceNorm2d(channels, affine=affine, track_running_stats=False)

        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, padding=0, bias=bias),
            norm(width), nn.ReLU(True),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1, bias=bias),
            norm(width * 2), nn.ReLU(True),
            nn.Conv2d(width * 2, width * 4, 4, stride=2, padding=1, bias=bias),
            norm(width * 4), nn.ReLU(True),
        )
        self.middle = nn.Sequential(*[
            ResnetBlock(width * 4, dilation, bias=residual_bias, affine=affine)
            for _ in range(residual_blocks)
        ])
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(width * 4, width * 2, 4, stride=2, padding=1, bias=bias),
            norm(width * 2), nn.ReLU(True),
            nn.ConvTranspose2d(width * 2, width, 4, stride=2, padding=1, bias=bias),
            norm(width), nn.ReLU(True),
            nn.ReflectionPad2d(3),
            nn.Conv2d(width, out_channels, 7, padding=0, bias=final_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.decoder(self.middle(self.encoder(x)))
        if self.output == "sigmoid":
            return torch.sigmoid(x)
        return (torch.tanh(x) + 1) / 2


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Conv2d/ConvTranspose2d weight of ``module`` in spectral normalisation
    (Miyato et al. 2018), in place, for training. Inference runs on folded weights
    (:func:`fold_spectral_norm`), so the networks themselves stay plain."""
    from torch.nn.utils.parametrizations import spectral_norm

    for child in list(module.modules()):
        if isinstance(child, nn.ConvTranspose2d):
            spectral_norm(child, dim=1)
        elif isinstance(child, nn.Conv2d):
            spectral_norm(child)
    return module


def fold_spectral_norm(state: dict, transposed: set[str] = frozenset()) -> dict:
    """Replace ``weight_orig``/``weight_u``/``weight_v`` triples by the normalised weight.

    ``W = W_orig / sigma`` with ``sigma = u^T W_mat v`` from the stored power-iteration
    vectors: exactly what ``torch.nn.utils.spectral_norm`` computes in eval mode.
    ``transposed`` names the module prefixes (without ``.weight``) that are transposed
    convolutions, whose spectral norm is taken over dim 1.
    """
    out = {}
    folded = set()
    for key, value in state.items():
        if not key.endswith(".weight_orig"):
            continue
        prefix = key[: -len(".weight_orig")]
        u = state.get(prefix + ".weight_u")
        v = state.get(prefix + ".weight_v")
        if u is None or v is None:
            raise ValueError(f"spectral-norm weight {key!r} has no weight_u/weight_v next to it")
        dim = 1 if prefix in transposed else 0
        weight = value
        matrix = weight.transpose(0, dim).reshape(weight.shape[dim], -1) if dim else \
            weight.reshape(weight.shape[0], -1)
        if u.numel() != matrix.shape[0] or v.numel() != matrix.shape[1]:
            raise ValueError(
                f"spectral-norm vectors of {prefix!r} have sizes {u.numel()}, {v.numel()}; "
                f"expected {matrix.shape[0]}, {matrix.shape[1]}"
            )
        sigma = torch.dot(u.reshape(-1), matrix @ v.reshape(-1))
        out[prefix + ".weight"] = weight / sigma
        folded.update({prefix + ".weight_orig", prefix + ".weight_u", prefix + ".weight_v"})
    for key, value in state.items():
        if key not in folded:
            out[key] = value
    return out
