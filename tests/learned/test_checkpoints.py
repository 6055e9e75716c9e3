"""Checkpoints: our format, and files built in each published layout (tensors at the
papers' shapes, random values) loaded and checked against the network they came from."""

import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inpaintkit import learned  # noqa: E402
from inpaintkit.learned import checkpoints, edgeconnect, gdn, gl, pconv  # noqa: E402
from inpaintkit.learned.checkpoints import CheckpointError  # noqa: E402


def _batch(size=64):
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, size, size, generator=gen)
    hole = torch.zeros(1, 1, size, size)
    hole[..., 20:44, 16:40] = 1
    return image, hole


def _randomise_bn(net):
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)


# --- our format ---------------------------------------------------------------------

def test_own_format_round_trip_and_metadata(tmp_path):
    torch.manual_seed(0)
    cfg = gl.GLConfig.small()
    nets = gl.build(cfg)
    _randomise_bn(nets["generator"])
    path = checkpoints.save_checkpoint(tmp_path / "gl.pt", "gl", nets, cfg,
                                       metadata={"data": "places2-val", "steps": 12, "metrics": {"psnr": 20.5}})
    assert not (tmp_path / "gl.pt.tmp").exists()
    backend = learned.load("gl", weights=path, device="cpu")
    assert backend.config == cfg
    assert backend.metadata["steps"] == 12 and backend.metadata["metrics"]["psnr"] == 20.5
    image, hole = _batch()
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole),
                                   nets["generator"].eval()(image, hole))


def test_truncated_wrong_model_wrong_config(tmp_path):
    cfg = pconv.PConvConfig.small()
    path = checkpoints.save_checkpoint(tmp_path / "p.pt", "pconv", pconv.build(cfg), cfg)
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        learned.load("pconv", weights=tmp_path / "cut.pt", device="cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        learned.load("pconv", weights=tmp_path / "junk.pt", device="cpu")
    with pytest.raises(CheckpointError, match="holds weights for 'pconv', not 'gl'"):
        learned.load("gl", weights=path, device="cpu")
    # Weights given for a config they do not fit: the first mismatch is named.
    with pytest.raises(CheckpointError, match=r"key 'enc_1.conv.input_conv.weight' has shape \(16, 3, 7, 7\)"):
        learned.load("pconv", weights=path, config="paper", device="cpu")
    with pytest.raises(CheckpointError, match="missing key 'enc_6"):
        learned.load("pconv", weights=path, config={"levels": 6, "widths": [16, 32, 64, 128, 128, 128],
                                                    "kernels": [7, 5, 5, 3, 3, 3]}, device="cpu")
    with pytest.raises(CheckpointError, match="not found"):
        learned.load("pconv", weights=tmp_path / "missing.pt", device="cpu")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="unrecognised checkpoint layout"):
        learned.load("pconv", weights=tmp_path / "other.pt", device="cpu")


def test_strict_load_names_unexpected_key():
    net = gl.CompletionNetwork(gl.GLConfig.small())
    state = dict(net.state_dict())
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="unexpected key 'extra.weight'"):
        checkpoints.strict_load(net, state, what="test")


# --- EdgeConnect release ------------------------------------------------------------

def _edgeconnect_release_state(net, spectral):
    """State dict in the release's layout: spectral-norm triples (edge generator),
    DataParallel 'module.' prefix."""
    if spectral:
        sn_net = edgeconnect.EdgeGenerator()
        sn_net.load_state_dict(net.state_dict())
        for name, module in list(sn_net.named_modules()):
            if isinstance(module, torch.nn.ConvTranspose2d):
                torch.nn.utils.spectral_norm(module, dim=1)
            elif isinstance(module, torch.nn.Conv2d) and name != "decoder.7":
                torch.nn.utils.spectral_norm(module)
        sn_net.train()
        with torch.no_grad():
            sn_net(*_edge_inputs())  # one power iteration, so u and v are not the init
        sn_net.eval()
        return sn_net, {"module." + k: v for k, v in sn_net.state_dict().items()}
    return net, {"module." + k: v for k, v in net.state_dict().items()}


def _edge_inputs():
    image, hole = _batch()
    gen = torch.Generator().manual_seed(5)
    return image[:, :1], (torch.rand(hole.shape, generator=gen) > 0.9).float(), hole


def test_edgeconnect_release_folder(tmp_path):
    torch.manual_seed(0)
    edge_src, edge_state = _edgeconnect_release_state(edgeconnect.EdgeGenerator(), spectral=True)
    inpaint_src = edgeconnect.InpaintGenerator()
    torch.save({"iteration": 2000000, "generator": edge_state}, tmp_path / "EdgeModel_gen.pth")
    torch.save({"iteration": 1500000, "generator": {"module." + k: v for k, v in inpaint_src.state_dict().items()}},
               tmp_path / "InpaintingModel_gen.pth")
    assert any(k.endswith("weight_orig") for k in edge_state)
    for weights in (tmp_path, tmp_path / "InpaintingModel_gen.pth"):
        backend = learned.load("edgeconnect", weights=weights, device="cpu")
        assert backend.config == edgeconnect.EdgeConnectConfig.paper()
        assert backend.metadata["iterations"] == {"edge": 2000000, "inpaint": 1500000}
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["edge"](*_edge_inputs()), edge_src(*_edge_inputs()),
                                   rtol=1e-4, atol=1e-5)
        image, hole = _batch()
        edges = torch.rand_like(hole)
        torch.testing.assert_close(backend.networks["inpaint"](image, edges, hole),
                                   inpaint_src.eval()(image, edges, hole), rtol=1e-4, atol=1e-5)
    # One file alone is not enough; the wrong model is named.
    (tmp_path / "EdgeModel_gen.pth").unlink()
    with pytest.raises(CheckpointError, match="needs both"):
        learned.load("edgeconnect", weights=tmp_path / "InpaintingModel_gen.pth", device="cpu")
    with pytest.raises(CheckpointError, match="is an EdgeConnect checkpoint, not one for 'gdn'"):
        learned.load("gdn", weights=tmp_path / "InpaintingModel_gen.pth", device="cpu")


# --- PConv (naoto0804) release ------------------------------------------------------

def test_naoto_pconv_release(tmp_path):
    torch.manual_seed(0)
    cfg = pconv.PConvConfig.release(7)
    src = pconv.PConvUNet(cfg)
    _randomise_bn(src)
    state = dict(src.state_dict())
    # The release also stores each layer's constant all-ones mask kernel.
    for name, module in src.named_modules():
        if isinstance(module, pconv.PartialConv2d):
            state[name + ".mask_conv.weight"] = torch.ones_like(module.input_conv.weight)
    optimizer = torch.optim.Adam(src.parameters(), lr=2e-4)
    torch.save({"n_iter": 1000000, "model": state, "optimizer": optimizer.state_dict()}, tmp_path / "1000000.pth")
    backend = learned.load("pconv", weights=tmp_path / "1000000.pth", device="cpu")
    assert backend.config.levels == 7 and backend.config.renormalize == "mean"
    assert backend.config.normalize_input
    image, hole = _batch(128)
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole), src.eval()(image, hole))
    # A mask kernel that is not all ones is not a partial convolution.
    state["enc_1.conv.mask_conv.weight"] = torch.zeros_like(state["enc_1.conv.mask_conv.weight"])
    torch.save({"n_iter": 1, "model": state, "optimizer": {}}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="not all ones"):
        learned.load("pconv", weights=tmp_path / "bad.pth", device="cpu")


# --- GL Torch7 release --------------------------------------------------------------

class _T7Writer:
    """Minimal Torch7 binary serializer (the subset torch.save wrote for GL's file):
    numbers, strings, tables, nn objects and FloatTensors."""

    def __init__(self, f):
        self.f = f
        self.index = 0

    def _int(self, v):
        self.f.write(struct.pack("<i", v))

    def _long(self, v):
        self.f.write(struct.pack("<q", v))

    def _string(self, s):
        b = s.encode()
        self._int(len(b))
        self.f.write(b)

    def _next(self):
        self.index += 1
        return self.index

    def obj(self, value):
        if value is None:
            self._int(0)
        elif isinstance(value, (int, float)):
            self._int(1)
            self.f.write(struct.pack("<d", float(value)))
        elif isinstance(value, str):
            self._int(2)
            self._string(value)
        elif isinstance(value, np.ndarray):
            self._tensor(value)
        elif isinstance(value, tuple) and value[0] == "object":
            self._int(4)
            self._int(self._next())
            self._string("V 1")
            self._string(value[1])
            self.obj(value[2])
        elif isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else enumerate(value, start=1)
            items = list(items)
            self._int(3)
            self._int(self._next())
            self._int(len(items))
            for k, v in items:
                self.obj(k)
                self.obj(v)
        else:
            raise TypeError(type(value))

    def _tensor(self, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        self._int(4)
        self._int(self._next())
        self._string("V 1")
        self._string("torch.FloatTensor")
        self._int(array.ndim)
        for s in array.shape:
            self._long(s)
        for s in np.array(array.strides) // 4:
            self._long(int(s))
        self._long(1)
        self._int(4)
        self._int(self._next())
        self._string("V 1")
        self._string("torch.FloatStorage")
        self._long(array.size)
        self.f.write(array.tobytes())


def _gl_as_t7_table(net, mean):
    modules = []
    for index, block in enumerate(net.layers):
        c = block.conv
        fields = {"weight": c.weight.detach().numpy(), "bias": c.bias.detach().numpy()}
        if isinstance(c, torch.nn.ConvTranspose2d):
            kind = "nn.SpatialFullConvolution"
            fields.update(nInputPlane=c.in_channels, nOutputPlane=c.out_channels, kH=4, kW=4, dW=2, dH=2)
        else:
            kind = "nn.SpatialDilatedConvolution" if c.dilation[0] > 1 else "nn.SpatialConvolution"
            # Old-style 2-D weight, as early torch7 stored it.
            fields.update(nInputPlane=c.in_channels, nOutputPlane=c.out_channels, kH=c.kernel_size[0],
                          kW=c.kernel_size[1], dilationH=c.dilation[0], dilationW=c.dilation[1],
                          weight=c.weight.detach().numpy().reshape(c.out_channels, -1))
        modules.append(("object", kind, fields))
        b = block.bn
        modules.append(("object", "nn.SpatialBatchNormalization", {
            "weight": b.weight.detach().numpy(), "bias": b.bias.detach().numpy(),
            "running_mean": b.running_mean.numpy(), "running_var": b.running_var.numpy(), "eps": 1e-5}))
        modules.append(("object", "nn.ReLU", {"inplace": True}))
    out = net.output
    modules.append(("object", "nn.SpatialConvolution", {
        "weight": out.weight.detach().numpy(), "bias": out.bias.detach().numpy(),
        "nInputPlane": out.in_channels, "nOutputPlane": 3, "kH": 3, "kW": 3}))
    modules.append(("object", "nn.Sigmoid", {}))
    # Nest part of it, as nngraph/Sequential containers do.
    model = ("object", "nn.Sequential", {"modules": [("object", "nn.Sequential", {"modules": modules[:10]}),
                                                      *modules[10:]]})
    return {"model": model, "mean": np.asarray(mean, dtype=np.float32)}


def test_gl_torch7_release(tmp_path):
    pytest.importorskip("torchfile")
    torch.manual_seed(0)
    mean = (0.4560, 0.4472, 0.4155)
    src = gl.CompletionNetwork(gl.GLConfig(mean=mean))
    _randomise_bn(src)
    path = tmp_path / "completionnet_places2.t7"
    with open(path, "wb") as f:
        _T7Writer(f).obj(_gl_as_t7_table(src, mean))
    backend = learned.load("gl", weights=path, device="cpu")
    assert backend.config.width == 64 and backend.config.dilations == (2, 4, 8, 16)
    np.testing.assert_allclose(backend.config.mean, mean, rtol=1e-6)
    image, hole = _batch()
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole), src.eval()(image, hole))
    # Truncated Torch7 file.
    data = path.read_bytes()
    (tmp_path / "cut.t7").write_bytes(data[:1000])
    with pytest.raises(CheckpointError, match="truncated or not a Torch7 file"):
        learned.load("gl", weights=tmp_path / "cut.t7", device="cpu")


def test_gl_t7_layer_count_checked(tmp_path):
    table = {"model": ("object", "nn.Sequential", {"modules": []}), "mean": np.zeros(3)}
    with pytest.raises(CheckpointError, match="17 convolutions"):
        checkpoints.read_gl_t7(tmp_path / "x.t7", reader=lambda p: _parsed(table))


def _parsed(table):
    """Parse ``table`` the way torchfile would, by writing and reading it."""
    import tempfile

    torchfile = pytest.importorskip("torchfile")
    with tempfile.NamedTemporaryFile(suffix=".t7") as f:
        _T7Writer(f).obj(table)
        f.flush()
        return torchfile.load(f.name)


# --- GDN TensorFlow release ---------------------------------------------------------

def _as_tf_variables(networks, config):
    variables = {}
    state = {f"{part}.{k}": v for part, net in networks.items() for k, v in net.state_dict().items()}
    for key, (tf_name, kind) in gdn.tf_variable_map(config).items():
        value = state[key].detach().numpy()
        if kind in ("conv", "deconv"):
            value = value.transpose(2, 3, 1, 0)  # torch -> TF kernel layout
        variables[tf_name] = value
    return variables


def test_gdn_tensorflow_conversion(tmp_path):
    torch.manual_seed(0)
    cfg = gdn.GDNConfig.paper()
    src = gdn.build(cfg)
    for net in src.values():
        for name, p in net.named_parameters():
            if name.endswith("bias") or p.dim() == 1:
                p.data.uniform_(-0.1, 0.1)  # make the affine norms non-trivial
    variables = _as_tf_variables(src, cfg)
    assert "inpaint_generator/resblock_8/res2/conv/conv2d/kernel" in variables
    assert variables["inpaint_generator/encoder_1/conv/conv2d/kernel"].shape == (7, 7, 4, 64)
    # An outer scope and optimiser slots, as a training graph may add, are tolerated.
    variables = {"Inpainting/" + k: v for k, v in variables.items()}
    variables["Inpainting/inpaint_discriminator/conv1/kernel/Adam"] = np.zeros(3)
    out = checkpoints.convert_gdn_tensorflow("model-1", tmp_path / "gdn.pt", variables=variables)
    backend = learned.load("gdn", weights=out, device="cpu")
    assert backend.config == cfg
    image, hole = _batch()
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole), src["generator"].eval()(image, hole))
        torch.testing.assert_close(backend.networks["detector"](image), src["detector"].eval()(image))
    del variables["Inpainting/inpaint_discriminator/conv3/bias"]
    with pytest.raises(CheckpointError, match="'inpaint_discriminator/conv3/bias' not found"):
        checkpoints.convert_gdn_tensorflow("model-1", tmp_path / "g2.pt", variables=variables)
    # A small GDN converts too: the config comes from the shapes.
    small = gdn.GDNConfig.small()
    out = checkpoints.convert_gdn_tensorflow("m", tmp_path / "small.pt", variables=_as_tf_variables(gdn.build(small), small))
    assert learned.load("gdn", weights=out, device="cpu").config == small


def test_convert_gdn_without_tensorflow(tmp_path):
    try:
        import tensorflow  # noqa: F401
        pytest.skip("TensorFlow is installed here")
    except ImportError:
        pass
    with pytest.raises(CheckpointError, match="needs TensorFlow"):
        checkpoints.convert_gdn_tensorflow(tmp_path / "model-1", tmp_path / "out.pt")
    from click.testing import CliRunner

    from inpaintkit.cli.convert_gdn import command

    result = CliRunner().invoke(command, [str(tmp_path / "model-1"), "-o", str(tmp_path / "out.pt")])
    assert result.exit_code != 0
    assert "needs TensorFlow" in result.output
    assert not (tmp_path / "out.pt").exists()
