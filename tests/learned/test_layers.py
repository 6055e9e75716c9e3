"""Layers: partial convolution against a plain reference, spectral-norm folding,
TensorFlow SAME padding, residual blocks."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from inpaintkit.learned.layers import (  # noqa: E402
    PartialConv2d, ResnetBlock, TFSamePad2d, fold_spectral_norm, partial_conv2d)


def reference_partial_conv(x, valid, weight, bias, stride, padding, renormalize):
    """Plain loop version of Eq. 1-2 of Liu et al. 2018 with a full-channel mask."""
    x = x.numpy().astype(np.float64)
    valid = np.broadcast_to(valid.numpy(), x.shape).astype(np.float64)
    w = weight.numpy().astype(np.float64)
    b = None if bias is None else bias.numpy().astype(np.float64)
    cout, cin, k, _ = w.shape
    xp = np.pad(x * valid, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    mp = np.pad(valid, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    hout = (x.shape[2] + 2 * padding - k) // stride + 1
    wout = (x.shape[3] + 2 * padding - k) // stride + 1
    out = np.zeros((x.shape[0], cout, hout, wout))
    new = np.zeros((x.shape[0], 1, hout, wout))
    for n in range(x.shape[0]):
        for i in range(hout):
            for j in range(wout):
                window = xp[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
                mwin = mp[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
                total = mwin.sum()
                if total == 0:
                    continue  # zero output, zero new mask
                scale = (cin * k * k if renormalize == "paper" else 1.0) / total
                out[n, :, i, j] = (w * window[None]).sum(axis=(1, 2, 3)) * scale
                if b is not None:
                    out[n, :, i, j] += b
                new[n, 0, i, j] = 1.0
    return out, new


@pytest.mark.parametrize("renormalize", ["paper", "mean"])
@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 5)])
@pytest.mark.parametrize("mask_channels", [1, 3])
def test_partial_conv_matches_reference(renormalize, stride, kernel, mask_channels):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 9, 10, generator=gen, dtype=torch.float64)
    valid = (torch.rand(2, mask_channels, 9, 10, generator=gen) > 0.6).double()
    valid[0, :, :6, :6] = 0  # a block big enough to leave windows with no valid input
    layer = PartialConv2d(3, 4, kernel, stride, kernel // 2, renormalize=renormalize).double()
    out, new = layer(x, valid)
    ref_out, ref_new = reference_partial_conv(x, valid, layer.input_conv.weight.detach(),
                                              layer.input_conv.bias.detach(), stride,
                                              kernel // 2, renormalize)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(new.numpy(), ref_new)
    assert (ref_new == 0).any() and (ref_new == 1).any()


def test_partial_conv_all_valid_is_plain_conv_and_stateless():
    layer = PartialConv2d(3, 5, 3, 1, 1).double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    out, new = layer(x, ones)
    # Border windows hold fewer (zero-padded) inputs, so only the interior equals conv2d.
    np.testing.assert_allclose(out[..., 1:-1, 1:-1].detach().numpy(),
                               layer.input_conv(x)[..., 1:-1, 1:-1].detach().numpy(), rtol=1e-12)
    assert torch.all(new == 1)
    # No state between calls: a call with another mask does not change the next result.
    layer(x, torch.zeros_like(ones))
    out2, _ = layer(x, ones)
    assert torch.equal(out, out2)
    assert not [name for name, _ in layer.named_buffers()]


def test_partial_conv_ignores_hole_values_and_has_gradients():
    layer = PartialConv2d(2, 3, 3, 1, 1).double()
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    valid = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    valid[..., 2:4, 2:4] = 0
    out, _ = layer(x, valid)
    garbage = x.detach().clone()
    garbage[..., 2:4, 2:4] = 1e6
    out2, _ = layer(garbage, valid)
    np.testing.assert_allclose(out.detach().numpy(), out2.detach().numpy(), rtol=1e-12)
    assert torch.autograd.gradcheck(
        lambda inp: partial_conv2d(inp, valid, layer.input_conv.weight, layer.input_conv.bias,
                                   padding=1)[0], (x,))


def test_partial_conv_rejects_bad_mask_channels_and_renormalize():
    with pytest.raises(ValueError, match="renormalize"):
        PartialConv2d(3, 3, 3, renormalize="sum")
    layer = PartialConv2d(3, 3, 3, padding=1)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        layer(torch.rand(1, 3, 5, 5), torch.ones(1, 2, 5, 5))


@pytest.mark.parametrize("transposed", [False, True])
def test_fold_spectral_norm_equals_torch_eval(transposed):
    torch.manual_seed(0)
    conv = (torch.nn.ConvTranspose2d(6, 4, 4, 2, 1) if transposed else torch.nn.Conv2d(6, 4, 3, padding=1))
    sn = torch.nn.utils.spectral_norm(conv, dim=1 if transposed else 0)
    sn.train()
    x = torch.rand(1, 6, 8, 8)
    for _ in range(5):  # power iterations update u and v
        sn(x)
    sn.eval()
    expected = sn(x)
    state = {"layer." + k: v for k, v in sn.state_dict().items()}
    folded = fold_spectral_norm(state, {"layer"} if transposed else set())
    assert set(folded) == {"layer.weight", "layer.bias"}
    plain = (torch.nn.ConvTranspose2d(6, 4, 4, 2, 1) if transposed else torch.nn.Conv2d(6, 4, 3, padding=1))
    plain.load_state_dict({k[len("layer."):]: v for k, v in folded.items()})
    torch.testing.assert_close(plain(x), expected, rtol=1e-5, atol=1e-6)


def test_fold_spectral_norm_reports_bad_vectors():
    state = {"c.weight_orig": torch.rand(4, 3, 3, 3), "c.weight_u": torch.rand(5),
             "c.weight_v": torch.rand(27)}
    with pytest.raises(ValueError, match="spectral-norm vectors of 'c'"):
        fold_spectral_norm(state)


@pytest.mark.parametrize("size,stride,expected", [(8, 1, (1, 2)), (8, 2, (1, 1)), (7, 2, (1, 2))])
def test_tf_same_pad_follows_tensorflow_formula(size, stride, expected):
    # TF SAME: out = ceil(in / s); pad_total = max((out - 1) * s + k - in, 0); the extra
    # pixel goes after (bottom/right).
    x = torch.ones(1, 1, size, size)
    y = TFSamePad2d(4, stride)(x)
    before, after = expected
    assert y.shape[-1] == size + before + after
    assert torch.all(y[..., :before, :] == 0) and torch.all(y[..., size + before:, :] == 0)
    conv_out = F.conv2d(y, torch.ones(1, 1, 4, 4), stride=stride)
    assert conv_out.shape[-1] == -(-size // stride)


def test_resnet_block_keeps_shape_and_is_residual():
    block = ResnetBlock(8, dilation=2)
    x = torch.rand(1, 8, 12, 12)
    assert block(x).shape == x.shape
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    torch.testing.assert_close(block(x), x)
