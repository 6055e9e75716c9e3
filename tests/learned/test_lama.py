"""LaMa: the FFC generator against the release's layer table and a NumPy Fourier unit,
its global receptive field, and the authors' checkpoint layouts (PyTorch Lightning
best.ckpt, TorchScript big-lama.pt) built at big-lama's real shapes and loaded strictly."""

import os
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inpaintkit import inpaint, learned  # noqa: E402
from inpaintkit.learned import checkpoints, lama  # noqa: E402
from inpaintkit.learned.checkpoints import CheckpointError  # noqa: E402
from inpaintkit.learned.layers import count_parameters  # noqa: E402


def big_lama_count(width=64, downs=3, blocks=18, ratio=0.75):
    """Parameters of the release's FFCResNetGenerator with big-lama.yaml, counted from
    its layer list (saicinpainting/training/modules/ffc.py): convolutions without bias
    inside FFCs, batch norms (2 per channel), biased transposed convs and output conv."""
    def conv(cin, cout, k, bias=False):
        return cin * cout * k * k + (cout if bias else 0)

    total = conv(4, width, 7) + 2 * width                       # first FFC, local only
    for i in range(downs):
        cin, cout = width * 2 ** i, width * 2 ** (i + 1)
        total += conv(cin, cout, 3) + 2 * cout                  # l2l (+ l2g on the last)
    c = width * 2 ** downs
    g = int(c * ratio)
    l = c - g
    half = g // 2
    spectral = conv(g, half, 1) + 2 * half + conv(2 * half, 2 * half, 1) + 2 * 2 * half + conv(half, g, 1)
    ffc = conv(l, l, 3) + conv(l, g, 3) + conv(g, l, 3) + spectral + 2 * l + 2 * g
    total += blocks * 2 * ffc
    for i in range(downs):
        cin, cout = width * 2 ** (downs - i), width * 2 ** (downs - i - 1)
        total += conv(cin, cout, 3, bias=True) + 2 * cout
    return total + conv(width, 3, 7, bias=True)


@pytest.fixture(scope="module")
def big_lama():
    torch.manual_seed(0)
    net = lama.LamaGenerator(lama.LamaConfig.paper()).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net


def _batch(size=64, seed=3):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=gen)
    hole = torch.zeros(1, 1, size, size)
    hole[..., size // 4: size // 2 + 4, size // 4: size // 2 + 2] = 1
    return image, hole


# --- the network --------------------------------------------------------------------------

def test_big_lama_parameter_count_and_release_names(big_lama):
    count = count_parameters(big_lama)
    assert count == big_lama_count() == 50_975_875  # "51 M" in the paper and the release
    assert count_parameters(lama.LamaGenerator(lama.LamaConfig.fourier())) == big_lama_count(blocks=9)
    state = big_lama.state_dict()
    expected = {
        "model.1.ffc.convl2l.weight": (64, 4, 7, 7),
        "model.4.ffc.convl2l.weight": (128, 256, 3, 3),
        "model.4.ffc.convl2g.weight": (384, 256, 3, 3),
        "model.4.bn_g.running_var": (384,),
        "model.5.conv1.ffc.convg2l.weight": (128, 384, 3, 3),
        "model.5.conv1.ffc.convg2g.conv1.0.weight": (192, 384, 1, 1),
        "model.5.conv1.ffc.convg2g.conv1.1.running_mean": (192,),
        "model.5.conv1.ffc.convg2g.fu.conv_layer.weight": (384, 384, 1, 1),
        "model.5.conv1.ffc.convg2g.fu.bn.weight": (384,),
        "model.22.conv2.ffc.convg2g.conv2.weight": (384, 192, 1, 1),
        "model.22.conv2.bn_l.num_batches_tracked": (),
        "model.24.weight": (512, 256, 3, 3),
        "model.31.bias": (64,),
        "model.34.weight": (3, 64, 7, 7),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "model.23.weight" not in state and "model.35.weight" not in state  # join, sigmoid
    assert len(state) == 989
    assert big_lama.multiple == 8


def _fourier_unit_numpy(x, weight, bn):
    """NumPy reference of the release's FourierUnit (ortho rfft2, re/im interleaved per
    channel, 1x1 conv, eval-mode BN, ReLU, irfft2)."""
    spectrum = np.fft.rfft2(x, norm="ortho")                     # (B, C, H, W//2+1)
    stacked = np.stack([spectrum.real, spectrum.imag], axis=2)   # (B, C, 2, H, W')
    b, c, _, h, w = stacked.shape
    stacked = stacked.reshape(b, 2 * c, h, w)
    mixed = np.einsum("oi,bihw->bohw", weight[:, :, 0, 0], stacked)
    mean, var, gamma, beta = bn
    mixed = (mixed - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * gamma[:, None, None] + beta[:, None, None]
    mixed = np.maximum(mixed, 0).reshape(b, -1, 2, h, w)
    return np.fft.irfft2(mixed[:, :, 0] + 1j * mixed[:, :, 1], s=x.shape[-2:], norm="ortho")


def test_fourier_unit_matches_numpy_reference():
    torch.manual_seed(1)
    unit = lama.FourierUnit(6, 6).eval()
    unit.bn.running_mean.uniform_(-0.2, 0.2)
    unit.bn.running_var.uniform_(0.5, 2.0)
    unit.bn.weight.data.uniform_(0.5, 1.5)
    unit.bn.bias.data.uniform_(-0.1, 0.1)
    x = torch.randn(2, 6, 12, 10, dtype=torch.float64)
    unit = unit.double()
    with torch.no_grad():
        got = unit(x).numpy()
    bn = [t.detach().numpy() for t in (unit.bn.running_mean, unit.bn.running_var, unit.bn.weight, unit.bn.bias)]
    want = _fourier_unit_numpy(x.numpy(), unit.conv_layer.weight.detach().numpy(), bn)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_hole_pixels_never_read_and_output_range():
    torch.manual_seed(2)
    net = lama.LamaGenerator(lama.LamaConfig.small()).eval()
    image, hole = _batch(64)
    other = torch.where(hole > 0, torch.rand_like(image), image)
    with torch.no_grad():
        a, b = net(image, hole), net(other, hole)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.shape == (1, 3, 64, 64) and 0 <= float(a.min()) and float(a.max()) <= 1
    with pytest.raises(ValueError, match="multiples of 8"):
        net(image[..., :60], hole[..., :60])


def test_global_receptive_field_reaches_the_far_corner():
    # Local convolutions alone reach about 70 px from a pixel at this depth; the spectral transform
    # makes one pixel at a corner change the output at the opposite corner.
    torch.manual_seed(4)
    net = lama.LamaGenerator(lama.LamaConfig.small()).eval().double()
    local_only = lama.LamaGenerator(lama.LamaConfig(width=16, blocks=3, global_ratio=0.0)).eval().double()
    image = torch.rand(1, 3, 128, 128, dtype=torch.float64)
    hole = torch.zeros(1, 1, 128, 128, dtype=torch.float64)
    poked = image.clone()
    poked[..., :4, :4] = 1 - poked[..., :4, :4]
    with torch.no_grad():
        far = [(n(poked, hole) - n(image, hole))[..., -8:, -8:].abs().max().item() for n in (net, local_only)]
    assert far[0] > 1e-9  # float64 round-off is about 1e-16
    assert far[1] == 0.0


def test_small_config_fills_under_the_contract():
    rng = np.random.default_rng(0)
    image = (rng.random((70, 90, 3)) * 255).astype(np.uint8)     # not a multiple of 8
    mask = np.zeros((70, 90), bool)
    mask[20:45, 30:60] = True
    out = inpaint(image, mask, method="lama", weights="random", config="small", device="cpu")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])
    grey = learned.inpaint_lama(image[..., 0] / 255.0, mask, weights="random", config="small", device="cpu")
    assert grey.shape == (70, 90) and grey.dtype == np.float64
    # Beyond max_size the backend's crop strategy applies, as for every learned method.
    big = np.zeros((300, 300, 3), np.float32)
    big_mask = np.zeros((300, 300), bool)
    big_mask[10:20, 10:20] = big_mask[250:270, 260:280] = True
    out = learned.inpaint_lama(big, big_mask, weights="random", config="small", device="cpu", max_size=128)
    assert out.shape == big.shape and np.array_equal(out[~big_mask], big[~big_mask])


def test_config_checks():
    with pytest.raises(ValueError, match="global_ratio"):
        lama.LamaConfig(global_ratio=1.0)
    with pytest.raises(ValueError, match="width"):
        lama.LamaConfig(width=0)
    backend = learned.load("lama", weights="random", config="fourier", device="cpu")
    assert backend.config.blocks == 9


# --- the authors' checkpoint layouts --------------------------------------------------------

def _fake_class(module_name, class_name, installed):
    """A class whose pickled reference names a module that is absent when loading."""
    parts = module_name.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            installed.append(name)
    cls = type(class_name, (), {"__module__": module_name})
    setattr(sys.modules[module_name], class_name, cls)
    return cls


def write_lightning_checkpoint(path, generator, *, extra_keys=None, generator_prefix="generator."):
    """A file in the layout of big-lama/models/best.ckpt: Lightning's top-level keys, the
    ModelCheckpoint class as a callbacks key and an OmegaConf config as hyper-parameters
    (classes of packages not installed when it is read), ``state_dict`` with the
    generator beside discriminator, ResNet-PL loss and evaluator weights."""
    installed = []
    try:
        checkpoint_cls = _fake_class("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint", installed)
        config_cls = _fake_class("omegaconf.dictconfig", "DictConfig", installed)
        hparams = config_cls()
        hparams.__dict__["_content"] = {"generator": {"kind": "ffc_resnet", "ngf": 64, "n_blocks": 18}}
        state = {generator_prefix + k: v for k, v in generator.state_dict().items()}
        state["discriminator.model0.0.weight"] = torch.zeros(64, 3, 4, 4)
        state["discriminator.model4.0.bias"] = torch.zeros(1)
        state["loss_resnet_pl.impl.conv1.weight"] = torch.zeros(64, 3, 3, 3)
        state["val_evaluator.scores.lpips.model.net.slice1.0.weight"] = torch.zeros(64, 3, 3, 3)
        state.update(extra_keys or {})
        payload = {"epoch": 39, "global_step": 1_250_000, "pytorch-lightning_version": "1.2.9",
                   "state_dict": state, "lr_schedulers": [],
                   "callbacks": {checkpoint_cls: {"best_model_score": torch.tensor(0.91),
                                                  "best_model_path": "/tmp/x.ckpt"}},
                   "hparams_name": "config", "hyper_parameters": hparams}
        torch.save(payload, path)
    finally:
        for name in reversed(installed):
            del sys.modules[name]
    return path


class _TrainingModule(torch.nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.generator = generator


class _JitWrapper(torch.nn.Module):
    """bin/to_jit.py's JITWrapper around the predict-only training module. With
    ``run_generator=False`` the traced code skips the network (the archive's tensors are
    what the loader reads, and tracing big-lama's graph costs seconds)."""

    def __init__(self, generator, run_generator=True):
        super().__init__()
        self.model = _TrainingModule(generator)
        self.run_generator = run_generator

    def forward(self, image, mask):
        predicted = self.model.generator(image, mask) if self.run_generator else image
        return mask * predicted + (1 - mask) * image


def _same_outputs(backend, net, size=64):
    image, hole = _batch(size)
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole), net(image, hole))


def test_lightning_best_ckpt_at_big_lama_shapes_loads_strictly_and_fills(tmp_path, big_lama):
    path = write_lightning_checkpoint(tmp_path / "best.ckpt", big_lama)
    assert "pytorch_lightning" not in sys.modules
    with pytest.raises(Exception):  # what torch's safe loader alone does with this file
        torch.load(path, weights_only=True)
    backend = learned.load("lama", weights=path, device="cpu")
    assert backend.config == lama.LamaConfig.paper()
    assert backend.parameter_count == 50_975_875
    assert backend.metadata["global_step"] == 1_250_000
    assert backend.metadata["ignored"] == {"discriminator": 2, "loss_resnet_pl": 1, "val_evaluator": 1}
    _same_outputs(backend, big_lama, size=32)
    image = np.random.default_rng(1).random((30, 36, 3))
    mask = np.zeros((30, 36), bool)
    mask[8:20, 10:24] = True
    out = backend.inpaint(image, mask)
    assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])


def test_authors_folder_layout(tmp_path):
    torch.manual_seed(7)
    net = lama.LamaGenerator(lama.LamaConfig.small()).eval()
    folder = tmp_path / "big-lama"
    (folder / "models").mkdir(parents=True)
    write_lightning_checkpoint(folder / "models" / "best.ckpt", net)
    (folder / "config.yaml").write_text("generator:\n  kind: ffc_resnet\n")
    image = np.random.default_rng(1).random((48, 56, 3))
    mask = np.zeros((48, 56), bool)
    mask[10:30, 20:40] = True
    out = learned.inpaint_lama(image, mask, weights=folder, device="cpu")
    assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])
    _same_outputs(learned.load("lama", weights=folder, device="cpu"), net)


def test_torchscript_big_lama_pt_at_real_shapes(tmp_path, big_lama):
    traced = torch.jit.trace(_JitWrapper(big_lama, run_generator=False), _batch(32), check_trace=False)
    traced.save(str(tmp_path / "big-lama.pt"))
    backend = learned.load("lama", weights=tmp_path / "big-lama.pt", device="cpu")
    assert backend.metadata["format"] == "lama-torchscript"
    assert backend.metadata["prefix"] == "model.generator."
    assert backend.config == lama.LamaConfig.paper()
    _same_outputs(backend, big_lama, size=32)
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        checkpoints.read_checkpoint(tmp_path / "big-lama.pt", "gl")


def test_torchscript_fill_equals_the_traced_wrapper(tmp_path):
    torch.manual_seed(8)
    net = lama.LamaGenerator(lama.LamaConfig.small()).eval()
    traced = torch.jit.trace(_JitWrapper(net), _batch(32), check_trace=False)
    traced.save(str(tmp_path / "small.pt"))
    backend = learned.load("lama", weights=tmp_path / "small.pt", device="cpu")
    # The traced wrapper composites; ours predicts and the backend composites: same fill.
    image, hole = _batch(64)
    with torch.no_grad():
        ours = hole * backend.networks["generator"](image, hole) + (1 - hole) * image
        torch.testing.assert_close(ours, traced(image, hole))


def test_config_read_from_shapes_for_other_layouts(tmp_path):
    torch.manual_seed(5)
    config = lama.LamaConfig(width=8, downsamplings=2, blocks=2, global_ratio=0.5)
    net = lama.LamaGenerator(config).eval()
    path = write_lightning_checkpoint(tmp_path / "best.ckpt", net)
    got = checkpoints.read_checkpoint(path, "lama").config
    assert (got.width, got.downsamplings, got.blocks, got.global_ratio) == (8, 2, 2, 0.5)
    backend = learned.load("lama", weights=path, device="cpu")
    _same_outputs(backend, net, size=32)


def test_truncated_foreign_and_mismatched_files_are_refused(tmp_path):
    torch.manual_seed(6)
    net = lama.LamaGenerator(lama.LamaConfig.small())
    good = write_lightning_checkpoint(tmp_path / "best.ckpt", net)
    data = good.read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        learned.load("lama", weights=tmp_path / "cut.ckpt", device="cpu")
    (tmp_path / "junk.ckpt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        learned.load("lama", weights=tmp_path / "junk.ckpt", device="cpu")
    # A key from no known part of the training module: refused, named.
    odd = write_lightning_checkpoint(tmp_path / "odd.ckpt", net, extra_keys={"mystery.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected key 'mystery.weight'"):
        learned.load("lama", weights=odd, device="cpu")
    # A generator of another shape than the config asked for: strict.
    with pytest.raises(CheckpointError, match="has shape"):
        learned.load("lama", weights=good, config="paper", device="cpu")
    # A Lightning file that is not LaMa's, and LaMa's file given to another method.
    other = write_lightning_checkpoint(tmp_path / "other.ckpt", net, generator_prefix="netG.")
    with pytest.raises(CheckpointError, match="without generator"):
        learned.load("lama", weights=other, device="cpu")
    with pytest.raises(CheckpointError, match="not one for 'pconv'"):
        learned.load("pconv", weights=good, device="cpu")
    # Another model's checkpoint given to lama.
    from inpaintkit.learned import gl

    cfg = gl.GLConfig.small()
    ours = checkpoints.save_checkpoint(tmp_path / "gl.pt", "gl", gl.build(cfg), cfg)
    with pytest.raises(CheckpointError, match="holds weights for 'gl', not 'lama'"):
        learned.load("lama", weights=ours, device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="without models/best.ckpt"):
        learned.load("lama", weights=tmp_path / "empty", device="cpu")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_never_calls_foreign_code(tmp_path):
    marker = tmp_path / "pwned"
    net = lama.LamaGenerator(lama.LamaConfig.small())
    path = tmp_path / "evil.ckpt"
    state = {"generator." + k: v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "pytorch-lightning_version": "1.2.9", "extra": _Payload(marker)}, path)
    checkpoint = checkpoints.read_checkpoint(path, "lama")
    assert not marker.exists()
    assert checkpoint.config.width == 16
