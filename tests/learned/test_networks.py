"""Networks: parameter counts of the paper configs against the papers' layer tables,
shapes, and the "hole pixels are never read" property, on small configs and 64x64."""

import pytest

torch = pytest.importorskip("torch")

from inpaintkit.learned import edgeconnect, gdn, gl, pconv  # noqa: E402
from inpaintkit.learned.layers import count_parameters  # noqa: E402


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


def gl_completion_count(w=64, last=32):
    # Iizuka et al. 2017, Table 1 (every layer but the output is conv + BN + ReLU);
    # same shapes as yangwangx/inpainting_glcic_pytorch glcic.py, converted from the
    # official completionnet_places2.t7.
    layers = [(4, w, 5), (w, 2 * w, 3), (2 * w, 2 * w, 3), (2 * w, 4 * w, 3)]
    layers += [(4 * w, 4 * w, 3)] * 8          # 2 plain, 4 dilated, 2 plain
    layers += [(4 * w, 2 * w, 4), (2 * w, 2 * w, 3), (2 * w, w, 4), (w, last, 3)]
    total = sum(conv(a, b, k) + bn(b) for a, b, k in layers)
    return total + conv(last, 3, 3)


def pconv_unet_count(levels):
    # Liu et al. 2018, Sec. 3.3 / supplementary table; naoto0804 net.py (bias only on
    # the last layer, BN everywhere but enc_1 and dec_1).
    widths = [64, 128, 256] + [512] * (levels - 3)
    kernels = [7, 5, 5] + [3] * (levels - 3)
    total, cin = 0, 3
    for i, (w, k) in enumerate(zip(widths, kernels)):
        total += conv(cin, w, k, bias=False) + (bn(w) if i else 0)
        cin = w
    for level in range(levels, 1, -1):
        total += conv(widths[level - 1] + widths[level - 2], widths[level - 2], 3, bias=False)
        total += bn(widths[level - 2])
    return total + conv(widths[0] + 3, 3, 3)


def resnet_generator_count(cin, cout, *, bias, res_bias, final_bias, affine, w=64, blocks=8):
    # knazeri/edge-connect src/networks.py; GDN's TF release has the same shape without
    # biases and with affine instance norms.
    norm = (lambda c: 2 * c) if affine else (lambda c: 0)
    total = conv(cin, w, 7, bias) + norm(w)
    total += conv(w, 2 * w, 4, bias) + norm(2 * w) + conv(2 * w, 4 * w, 4, bias) + norm(4 * w)
    total += blocks * 2 * (conv(4 * w, 4 * w, 3, res_bias) + norm(4 * w))
    total += conv(4 * w, 2 * w, 4, bias) + norm(2 * w) + conv(2 * w, w, 4, bias) + norm(w)
    return total + conv(w, cout, 7, final_bias)


def gdn_detector_count():
    # Zhang et al. 2020, Sec. 3.2: five 4x4 convs (32, 64, 128, 256, 256), two deconvs.
    widths = [3, 32, 64, 128, 256, 256]
    total = sum(conv(a, b, 4) for a, b in zip(widths, widths[1:]))
    return total + conv(256, 128, 4) + conv(128, 2, 4)


def test_paper_parameter_counts(capsys):
    counts = {
        "GL completion": (count_parameters(gl.CompletionNetwork(gl.GLConfig.paper())), gl_completion_count()),
        "PConv U-Net (8 levels)": (count_parameters(pconv.PConvUNet(pconv.PConvConfig.paper())), pconv_unet_count(8)),
        "PConv U-Net (7, release)": (count_parameters(pconv.PConvUNet(pconv.PConvConfig.release())), pconv_unet_count(7)),
        "EdgeConnect edge G": (count_parameters(edgeconnect.EdgeGenerator()),
                               resnet_generator_count(3, 1, bias=True, res_bias=False, final_bias=True, affine=False)),
        "EdgeConnect image G": (count_parameters(edgeconnect.InpaintGenerator()),
                                resnet_generator_count(4, 3, bias=True, res_bias=True, final_bias=True, affine=False)),
        "GDN generator": (count_parameters(gdn.GDNGenerator()),
                          resnet_generator_count(4, 3, bias=False, res_bias=False, final_bias=False, affine=True)),
        "GDN detector": (count_parameters(gdn.DenseDetector()), gdn_detector_count()),
    }
    with capsys.disabled():
        print()
        for name, (ours, expected) in counts.items():
            print(f"  {name:<26} {ours / 1e6:8.3f}M parameters (layer table: {expected / 1e6:.3f}M)")
    for name, (ours, expected) in counts.items():
        assert ours == expected, name
    # The round numbers usually quoted: GL ~6.1M, PConv (512 input, 8 levels) ~32.9M,
    # EdgeConnect generators ~10.8M each.
    assert abs(counts["GL completion"][0] / 1e6 - 6.07) < 0.01
    assert abs(counts["PConv U-Net (8 levels)"][0] / 1e6 - 32.86) < 0.01
    assert abs(counts["EdgeConnect image G"][0] / 1e6 - 10.77) < 0.01


def _inputs(size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, size, size, generator=gen)
    hole = torch.zeros(2, 1, size, size)
    hole[:, :, 16:40, 20:44] = 1
    return image, hole


def _small_generators():
    return {
        "gl": lambda: gl.CompletionNetwork(gl.GLConfig.small()),
        "pconv": lambda: pconv.PConvUNet(pconv.PConvConfig.small()),
        "gdn": lambda: gdn.GDNGenerator(gdn.GDNConfig.small()),
        "edgeconnect": lambda: edgeconnect.InpaintGenerator(edgeconnect.EdgeConnectConfig.small()),
    }


@pytest.mark.parametrize("name", ["gl", "pconv", "gdn", "edgeconnect"])
def test_small_generators_shape_and_hole_blindness(name):
    torch.manual_seed(0)
    net = _small_generators()[name]().eval()
    image, hole = _inputs()
    args = (image, hole) if name != "edgeconnect" else (image, torch.zeros_like(hole), hole)
    with torch.no_grad():
        out = net(*args)
        garbage = image.clone()
        garbage[hole.expand_as(image) > 0] = 7.0
        args2 = (garbage, hole) if name != "edgeconnect" else (garbage, torch.zeros_like(hole), hole)
        out2 = net(*args2)
    assert out.shape == image.shape
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, out2)
    if name != "pconv":  # PConv's output layer is linear, the others are bounded
        assert out.min() >= 0 and out.max() <= 1


def test_gl_discriminator_and_mean_fill():
    cfg = gl.GLConfig.small()
    disc = gl.ContextDiscriminator(cfg).eval()
    with torch.no_grad():
        p = disc(torch.rand(2, 3, cfg.global_size, cfg.global_size),
                 torch.rand(2, 3, cfg.local_size, cfg.local_size))
    assert p.shape == (2, 1) and ((p > 0) & (p < 1)).all()
    # Paper-size discriminator: 6 + 5 strided layers, 1024-unit heads.
    paper = gl.ContextDiscriminator(gl.GLConfig.paper())
    assert paper.global_fc.in_features == 512 * 4 * 4 and paper.local_fc.in_features == 512 * 4 * 4
    # The paper's completion network sees the hole filled with the mean (0 after
    # centring); the small config's sees its pull-push seed (test_any_size).
    net = gl.CompletionNetwork(gl.GLConfig(width=16, last_width=8))
    seen = {}
    net.layers[0].conv.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    image, hole = _inputs()
    with torch.no_grad():
        net.eval()(image, hole)
    x = seen["x"]
    assert x.shape[1] == 4
    assert torch.all(x[:, :3][hole.expand(-1, 3, -1, -1) > 0] == 0)
    torch.testing.assert_close(x[:, 3:], hole)


def test_pconv_masks_shrink_through_encoder():
    net = pconv.PConvUNet(pconv.PConvConfig.small()).eval()
    image, hole = _inputs()
    hole[:, :, 8:56, 8:56] = 1
    masks = []
    for level in range(1, 6):
        getattr(net, f"enc_{level}").register_forward_hook(lambda m, i, o: masks.append(o[1]))
    with torch.no_grad():
        net(image, hole)
    holes = [float((1 - m).mean()) for m in masks]
    # Eq. 2: each stride-2 partial convolution fills in part of the hole.
    assert holes[0] > 0 and holes[-1] == 0.0
    assert all(a >= b for a, b in zip(holes, holes[1:]))


def test_gdn_detector_and_edge_generator_outputs():
    det = gdn.DenseDetector(gdn.GDNConfig.small()).eval()
    image, hole = _inputs()
    with torch.no_grad():
        logits = det(image)
        amap = det.artifact_map(image)
    assert logits.shape == (2, 2, 64, 64)
    torch.testing.assert_close(amap, torch.softmax(logits, 1)[:, 1:])
    edge = edgeconnect.EdgeGenerator(edgeconnect.EdgeConnectConfig.small()).eval()
    with torch.no_grad():
        e = edge(image[:, :1], torch.zeros_like(hole), hole)
    assert e.shape == hole.shape and ((e > 0) & (e < 1)).all()


def test_patch_discriminator_is_70x70():
    torch.manual_seed(0)
    disc = edgeconnect.PatchDiscriminator(3, width=8)
    x = torch.rand(1, 3, 160, 160, requires_grad=True)
    logits, features = disc(x)
    assert len(features) == 5
    centre = logits.shape[-1] // 2
    logits[0, 0, centre, centre].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)))
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)))
    # Each logit sees a 70x70 patch of the input.
    assert int(rows.max() - rows.min() + 1) == 70 and int(cols.max() - cols.min() + 1) == 70


def test_config_validation():
    with pytest.raises(ValueError, match="widths and kernels"):
        pconv.PConvConfig(levels=3)


@pytest.mark.parametrize("name", ["gl", "pconv", "gdn", "edgeconnect"])
def test_small_generators_train(name):
    # Gradients flow through every layer (partial-convolution masks included): a few
    # Adam steps on one batch lower the hole L1. (Training proper is the next issue.)
    torch.manual_seed(1)
    net = _small_generators()[name]().train()
    image, hole = _inputs(seed=4)
    target = image.clone()
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)

    def hole_l1():
        args = (image * (1 - hole), hole) if name != "edgeconnect" else \
            (image * (1 - hole), torch.zeros_like(hole), hole)
        return ((net(*args) - target).abs() * hole).sum() / hole.sum() / 3

    first = float(hole_l1().detach())
    for _ in range(8):
        optimiser.zero_grad()
        loss = hole_l1()
        loss.backward()
        optimiser.step()
    assert all(p.grad is not None for p in net.parameters())
    assert float(hole_l1().detach()) < first
