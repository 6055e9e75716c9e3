"""Read and write network weights: our own format and the published releases.

Formats read by :func:`read_checkpoint`:

- ours (:func:`save_checkpoint`): one ``torch.save`` file per model holding
  ``{"format": "inpaintkit", "version", "model", "config", "state": {part: state_dict},
  "metadata"}``; metadata says what data, how many steps, which metrics.
- EdgeConnect (knazeri/edge-connect): ``EdgeModel_gen.pth`` and
  ``InpaintingModel_gen.pth``, each ``{"iteration", "generator"}``; spectral-norm triples
  are folded and a ``module.`` (DataParallel) prefix is stripped. ``weights=`` may be the
  folder that holds both, as the authors publish them.
- PConv (naoto0804/pytorch-inpainting-with-partial-conv): ``{"n_iter", "model",
  "optimizer"}``; its constant ``mask_conv`` weights are checked and dropped.
- GL: the official Torch7 ``completionnet_places2.t7`` (``{model, mean}``), read with the
  optional ``torchfile`` package.
- GDN: the authors' TensorFlow checkpoint, converted once with ``inpaintkit convert-gdn``
  (needs TensorFlow) into our format.
- LaMa (advimman/lama): the PyTorch Lightning ``big-lama/models/best.ckpt`` (or the
  ``big-lama`` folder holding ``models/best.ckpt``), whose ``state_dict`` holds
  ``generator.*`` beside the discriminator, losses and evaluators of training (ignored,
  by name); and the TorchScript ``big-lama.pt`` (the release traced by the authors'
  ``bin/to_jit.py``, the file other tools cache). The configuration is read from the
  tensor shapes. A Lightning file pickles classes of packages that are not installed
  here (Lightning, OmegaConf): they are read as inert placeholders by a restricted
  unpickler that never imports or calls anything outside an allow-list.

Every load is strict: keys and shapes are compared first and the first mismatch is
named; ``load_state_dict(strict=False)`` is never used.
"""

from __future__ import annotations

import datetime
import io
import os
import pickle
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import edgeconnect, gdn, gl, lama, pconv
from .layers import fold_spectral_norm

FORMAT = "inpaintkit"
FORMAT_VERSION = 1

#: name -> (config class, build function)
MODELS = {
    "gl": (gl.GLConfig, gl.build),
    "pconv": (pconv.PConvConfig, pconv.build),
    "gdn": (gdn.GDNConfig, gdn.build),
    "edgeconnect": (edgeconnect.EdgeConnectConfig, edgeconnect.build),
    "lama": (lama.LamaConfig, lama.build),
}

EDGECONNECT_FILES = ("EdgeModel_gen.pth", "InpaintingModel_gen.pth")


class CheckpointError(ValueError):
    """A weights file that cannot be read or does not fit the model."""


@dataclass
class Checkpoint:
    """Weights in our layout, whatever file they came from.

    Attributes
    ----------
    model : str
        "gl", "pconv", "gdn" or "edgeconnect".
    config : dataclass instance
        The network configuration the weights were made for.
    state : dict
        Part name ("generator", "detector", "edge", "inpaint") -> state dict.
    metadata : dict
    source : str
        Which format it was read from.
    """

    model: str
    config: Any
    state: dict
    metadata: dict = field(default_factory=dict)
    source: str = FORMAT


def config_from_dict(model: str, values: dict | None):
    """Build the config dataclass of ``model`` from a dict (lists become tuples)."""
    config_class = MODELS[model][0]
    values = dict(values or {})
    known = set(config_class.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown config field {unknown[0]!r} for {model!r}; valid fields: {', '.join(sorted(known))}"
        )
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def save_checkpoint(path, model: str, networks: dict[str, nn.Module], config, *,
                    metadata: dict | None = None) -> Path:
    """Write ``networks``' weights with their config and ``metadata`` to ``path``.

    ``metadata`` should say what the weights were trained on (data set, mask generator),
    for how many steps, and with which validation metrics; the date and torch version
    are added. The file is written to a temporary name and renamed, so a crash never
    leaves a half-written checkpoint under ``path``.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    path = Path(path)
    meta = {"saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": str(torch.__version__)}
    meta.update(metadata or {})
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": model,
        "config": config.to_dict(),
        "state": {name: {k: v.detach().cpu() for k, v in net.state_dict().items()}
                  for name, net in networks.items()},
        "metadata": meta,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def strict_load(module: nn.Module, state: dict, *, what: str) -> None:
    """Load ``state`` into ``module`` after checking keys and shapes.

    Raises
    ------
    CheckpointError
        Naming the first missing key, unexpected key or shape mismatch.
    """
    expected = module.state_dict()
    for key, value in expected.items():
        if key not in state:
            raise CheckpointError(f"{what}: missing key {key!r} (the weights do not fit this network)")
        got = tuple(state[key].shape)
        if got != tuple(value.shape):
            raise CheckpointError(
                f"{what}: key {key!r} has shape {got} in the weights but {tuple(value.shape)} "
                "in the network (weights for another configuration?)"
            )
    for key in state:
        if key not in expected:
            raise CheckpointError(f"{what}: unexpected key {key!r} (the weights are for another network)")
    module.load_state_dict(state, strict=True)


def _torch_load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc) and "Unsupported global" not in str(exc):
            raise _unreadable(path, exc) from exc
        # A complete file whose pickle names classes of packages not installed here (a
        # Lightning checkpoint's callbacks and hyper-parameters): read it again with the
        # restricted unpickler, which turns those into inert placeholders.
        try:
            return torch.load(path, map_location="cpu", weights_only=False,
                              pickle_module=_RESTRICTED_PICKLE)
        except Exception as inner:
            raise _unreadable(path, inner) from inner
    except Exception as exc:  # truncated zip, pickle garbage, wrong file type
        raise _unreadable(path, exc) from exc


def _unreadable(path, exc) -> "CheckpointError":
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return CheckpointError(
        f"cannot read {path}: it is truncated or not a PyTorch checkpoint ({type(exc).__name__}: {detail})"
    )


def _strip_module_prefix(state: dict) -> dict:
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def read_checkpoint(path, model: str) -> Checkpoint:
    """Read weights for ``model`` from ``path`` in any supported format.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, in an unknown layout, or for another model.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"weights not found: {path}")
    if path.is_dir():
        if model == "lama":
            path = _lama_folder_checkpoint(path)
        elif model != "edgeconnect":
            raise CheckpointError(
                f"{path} is a folder; a folder of weights is only accepted for 'edgeconnect' "
                f"(holding {' and '.join(EDGECONNECT_FILES)}) and 'lama' (holding models/best.ckpt)"
            )
        else:
            return _read_edgeconnect_folder(path)
    if path.suffix == ".t7":
        if model != "gl":
            raise CheckpointError(f"{path} is a Torch7 file; only the 'gl' release is read from .t7")
        return read_gl_t7(path)
    if _is_torchscript(path):
        if model != "lama":
            raise CheckpointError(f"{path} is a TorchScript archive; only LaMa's big-lama.pt is read "
                                  f"in that form, not weights for {model!r}")
        return read_lama_torchscript(path)
    data = _torch_load(path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(data).__name__}")
    if data.get("format") == FORMAT:
        found = data.get("model")
        if found != model:
            raise CheckpointError(f"{path} holds weights for {found!r}, not {model!r}")
        try:
            config = config_from_dict(model, data["config"])
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: bad config in checkpoint ({exc})") from exc
        return Checkpoint(model, config, data["state"], data.get("metadata", {}), FORMAT)
    if "generator" in data and "iteration" in data:
        if model != "edgeconnect":
            raise CheckpointError(f"{path} is an EdgeConnect checkpoint, not one for {model!r}")
        folder = path.parent
        if not all((folder / name).exists() for name in EDGECONNECT_FILES):
            raise CheckpointError(
                f"EdgeConnect needs both {' and '.join(EDGECONNECT_FILES)}; pass the folder "
                f"holding them (not found next to {path})"
            )
        return _read_edgeconnect_folder(folder)
    if "model" in data and "n_iter" in data:
        if model != "pconv":
            raise CheckpointError(f"{path} is a PConv (naoto0804) checkpoint, not one for {model!r}")
        return _convert_naoto_pconv(data, path)
    if isinstance(data.get("state_dict"), dict):
        if not any(str(k).startswith("generator.") for k in data["state_dict"]):
            raise CheckpointError(f"{path}: a PyTorch Lightning checkpoint without generator.* weights "
                                  "(not LaMa's best.ckpt)")
        if model != "lama":
            raise CheckpointError(f"{path} is LaMa's PyTorch Lightning checkpoint, not one for {model!r}")
        return read_lama_lightning(path, data)
    keys = ", ".join(sorted(map(str, data))[:6])
    raise CheckpointError(
        f"{path}: unrecognised checkpoint layout (top-level keys: {keys}); expected an inpaintkit "
        "checkpoint or a published release (EdgeConnect *_gen.pth, naoto0804 PConv, GL .t7, "
        "LaMa best.ckpt or big-lama.pt)"
    )



# --- restricted unpickling (Lightning checkpoints) -----------------------------------

#: Globals the restricted unpickler resolves for real: tensor rebuilding and plain data.
#: Anything else becomes an inert placeholder class (never imported, never called).
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("builtins", "bytearray"), ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"),
    ("builtins", "int"), ("builtins", "float"), ("builtins", "str"), ("builtins", "bool"),
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"), ("torch", "Size"), ("torch", "device"),
    ("_codecs", "encode"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class ForeignObject:
    """Stands for an object of a class the restricted unpickler did not load (e.g. a
    Lightning callback or an OmegaConf config). Holds the pickled arguments and state."""

    _pickled_name = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<unloaded {self._pickled_name}>"


_placeholders: dict[tuple[str, str], type] = {}


def _placeholder(module: str, name: str) -> type:
    key = (module, name)
    if key not in _placeholders:  # one class per name: placeholders can be distinct dict keys
        _placeholders[key] = type(name, (ForeignObject,), {"_pickled_name": f"{module}.{name}"})
    return _placeholders[key]


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return _placeholder(module, name)


_RESTRICTED_PICKLE = types.ModuleType("inpaintkit_restricted_pickle")
_RESTRICTED_PICKLE.Unpickler = _RestrictedUnpickler
_RESTRICTED_PICKLE.load = lambda file, **kw: _RestrictedUnpickler(file, **kw).load()
_RESTRICTED_PICKLE.loads = lambda data, **kw: _RestrictedUnpickler(io.BytesIO(data), **kw).load()


# --- LaMa ------------------------------------------------------------------------------

#: The attributes of the authors' training module (saicinpainting/training/trainers/
#: base.py, default.py) other than ``generator``: their weights in best.ckpt are ignored.
LAMA_TRAINING_PARTS = ("discriminator", "adversarial_loss", "visualizer", "val_evaluator",
                       "test_evaluator", "extra_evaluators", "loss_l1", "loss_mse", "loss_pl",
                       "loss_resnet_pl", "generator_average", "fake_fakes_gen")

_LAMA_FIRST_KEY = "model.1.ffc.convl2l.weight"


def _lama_folder_checkpoint(folder: Path) -> Path:
    for candidate in (folder / "models" / "best.ckpt", folder / "best.ckpt"):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"{folder} is a folder without models/best.ckpt (the layout of the authors' "
                          "big-lama folder); pass the checkpoint file itself")


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip holding ``<name>/code/`` and ``constants.pkl``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return any(n.split("/", 1)[-1].startswith("code/") for n in names) and any(
        n.endswith("/constants.pkl") for n in names)


def _split_lama_state(state: dict, prefix: str, where) -> tuple[dict, dict]:
    """The generator's weights (``prefix`` stripped) and a count of the ignored keys per
    training part; any other key is an error."""
    generator, ignored = {}, {}
    parent = prefix[: -len("generator.")] if prefix.endswith("generator.") else None
    for key, value in state.items():
        key = str(key)
        if key.startswith(prefix):
            generator[key[len(prefix):]] = value
            continue
        part = key[len(parent):].split(".", 1)[0] if parent is not None and key.startswith(parent) else None
        if part not in LAMA_TRAINING_PARTS:
            raise CheckpointError(f"{where}: unexpected key {key!r} beside the LaMa generator (expected "
                                  f"only {prefix}* and the training parts {', '.join(LAMA_TRAINING_PARTS)})")
        ignored[part] = ignored.get(part, 0) + 1
    return generator, ignored


def lama_config_from_state(state: dict, where) -> lama.LamaConfig:
    """Read a :class:`~inpaintkit.learned.lama.LamaConfig` from generator weights in the
    release's layout (``model.N...`` keys)."""
    first = state.get(_LAMA_FIRST_KEY)
    if first is None or getattr(first, "ndim", 0) != 4:
        raise CheckpointError(f"{where}: no {_LAMA_FIRST_KEY!r}; not an FFC ResNet (LaMa) generator")
    index = 2
    downs = []
    while f"model.{index}.ffc.convl2l.weight" in state:
        downs.append(index)
        index += 1
    blocks = 0
    while f"model.{index}.conv1.ffc.convl2l.weight" in state:
        blocks += 1
        index += 1
    if not downs:
        raise CheckpointError(f"{where}: no strided FFC layers after the first one; not LaMa's generator")
    last = f"model.{downs[-1]}.ffc."
    local = int(state[last + "convl2l.weight"].shape[0])
    glob = int(state[last + "convl2g.weight"].shape[0]) if last + "convl2g.weight" in state else 0
    channels = local + glob
    ratio = glob / channels
    if int(channels * ratio) != glob:  # float rounding: the release rounds down
        ratio = (glob + 1e-6) / channels
    width = int(first.shape[0])
    bottleneck_uncapped = width * 2 ** len(downs)
    max_width = channels if channels < bottleneck_uncapped else lama.LamaConfig.max_width
    return lama.LamaConfig(width=width, downsamplings=len(downs), blocks=blocks, global_ratio=ratio,
                           max_width=max_width)


def _lama_checkpoint(generator: dict, where, metadata: dict, source: str) -> Checkpoint:
    config = lama_config_from_state(generator, where)
    generator = {k: v.float() if v.is_floating_point() else v for k, v in generator.items()}
    return Checkpoint("lama", config, {"generator": generator}, metadata, source)


def read_lama_lightning(path, data: dict | None = None) -> Checkpoint:
    """Read the authors' PyTorch Lightning checkpoint (``big-lama/models/best.ckpt``).

    ``state_dict`` must hold ``generator.*``; the keys of the other parts of the
    training module (:data:`LAMA_TRAINING_PARTS`: discriminator, losses, evaluators)
    are ignored, any other key is an error. The config is read from the shapes.
    """
    path = Path(path)
    if data is None:
        data = _torch_load(path)
    state = data.get("state_dict") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no state_dict; not a PyTorch Lightning checkpoint")
    generator, ignored = _split_lama_state(state, "generator.", path)
    if not generator:
        raise CheckpointError(f"{path}: no generator.* weights in state_dict (not LaMa's best.ckpt)")
    meta = {"source": "advimman/lama PyTorch Lightning checkpoint",
            "epoch": data.get("epoch"), "global_step": data.get("global_step"),
            "lightning_version": data.get("pytorch-lightning_version"),
            "ignored": ignored}
    return _lama_checkpoint(generator, path, meta, "lama-lightning")


def read_lama_torchscript(path) -> Checkpoint:
    """Read the TorchScript ``big-lama.pt`` (the release traced by ``bin/to_jit.py``:
    a wrapper whose ``model.generator`` is the FFC ResNet).

    Only the archive's tensors are used: the weights are copied into
    :class:`~inpaintkit.learned.lama.LamaGenerator`, the traced code is never run.
    """
    path = Path(path)
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    state = dict(module.state_dict())
    prefixes = sorted({k[: -len(_LAMA_FIRST_KEY)] for k in state if k.endswith(_LAMA_FIRST_KEY)}, key=len)
    if not prefixes:
        raise CheckpointError(f"{path}: a TorchScript archive without LaMa generator weights "
                              f"(no *{_LAMA_FIRST_KEY} tensor)")
    generator, ignored = _split_lama_state(state, prefixes[0], path)
    meta = {"source": "LaMa TorchScript export (advimman/lama bin/to_jit.py)", "prefix": prefixes[0],
            "ignored": ignored}
    return _lama_checkpoint(generator, path, meta, "lama-torchscript")

# --- EdgeConnect -------------------------------------------------------------------

def _edgeconnect_transposed(config) -> set[str]:
    return {name for name, m in edgeconnect.EdgeGenerator(config).named_modules()
            if isinstance(m, nn.ConvTranspose2d)}


def _read_edgeconnect_folder(folder: Path) -> Checkpoint:
    states = {}
    iterations = {}
    for part, filename in zip(("edge", "inpaint"), EDGECONNECT_FILES):
        file = folder / filename
        if not file.exists():
            raise CheckpointError(f"EdgeConnect folder {folder} has no {filename}")
        data = _torch_load(file)
        if not isinstance(data, dict) or "generator" not in data:
            raise CheckpointError(f"{file}: expected {{'iteration', 'generator'}}, got another layout")
        states[part] = _strip_module_prefix(data["generator"])
        iterations[part] = data.get("iteration")
    config = _edgeconnect_config(states["edge"], folder)
    transposed = {name for name in ("decoder.0", "decoder.3")}
    for part in states:
        states[part] = fold_spectral_norm(states[part], transposed)
    meta = {"source": "knazeri/edge-connect release", "iterations": iterations}
    return Checkpoint("edgeconnect", config, states, meta, "edgeconnect")


def _edgeconnect_config(state: dict, where) -> edgeconnect.EdgeConnectConfig:
    first = state.get("encoder.1.weight_orig", state.get("encoder.1.weight"))
    if first is None:
        raise CheckpointError(f"{where}: EdgeModel_gen.pth has no encoder.1 weight; not an EdgeConnect generator")
    blocks = {k.split(".")[1] for k in state if k.startswith("middle.")}
    return edgeconnect.EdgeConnectConfig(width=int(first.shape[0]), residual_blocks=len(blocks))


# --- PConv (naoto0804) -------------------------------------------------------------

def _convert_naoto_pconv(data: dict, path: Path) -> Checkpoint:
    state = _strip_module_prefix(data["model"])
    levels = 0
    while f"enc_{levels + 1}.conv.input_conv.weight" in state:
        levels += 1
    if levels < 2:
        raise CheckpointError(f"{path}: no enc_1..enc_N partial-convolution weights found")
    widths = tuple(int(state[f"enc_{i}.conv.input_conv.weight"].shape[0]) for i in range(1, levels + 1))
    kernels = tuple(int(state[f"enc_{i}.conv.input_conv.weight"].shape[-1]) for i in range(1, levels + 1))
    config = pconv.PConvConfig(levels=levels, widths=widths, kernels=kernels, renormalize="mean",
                               normalize_input=True)
    out = {}
    for key, value in state.items():
        if ".mask_conv." in key:
            # The release stores its constant all-ones mask kernel; ours is implicit.
            if not torch.all(value == 1):
                raise CheckpointError(f"{path}: {key} is not all ones; not a partial convolution mask kernel")
            continue
        out[key] = value
    meta = {"source": "naoto0804/pytorch-inpainting-with-partial-conv", "iterations": data.get("n_iter")}
    return Checkpoint("pconv", config, {"generator": out}, meta, "naoto0804")


# --- GL (Torch7) -------------------------------------------------------------------

def _t7_get(obj, name):
    """Field ``name`` of a Torch7 table or object (torchfile keys are bytes)."""
    if isinstance(obj, dict):
        return obj.get(name, obj.get(name.encode()))
    try:
        return obj[name]
    except Exception:
        return None


def _t7_leaves(obj):
    typename = getattr(obj, "_typename", b"")
    typename = typename.decode() if isinstance(typename, bytes) else str(typename)
    children = _t7_get(obj, "modules")
    if children:
        for child in children:
            yield from _t7_leaves(child)
    else:
        yield typename.split(".")[-1], obj


def _t7_array(obj, name):
    value = _t7_get(obj, name)
    if value is None:
        return None
    return torch.from_numpy(np.array(value, dtype=np.float32))


def read_gl_t7(path, *, reader=None) -> Checkpoint:
    """Read the official GL completion network (Torch7 ``{model, mean}`` file).

    ``reader`` (for tests) replaces ``torchfile.load``. Needs the optional ``torchfile``
    package otherwise.
    """
    path = Path(path)
    if reader is None:
        try:
            import torchfile
        except ImportError:
            raise CheckpointError(
                "reading GL's Torch7 file needs the 'torchfile' package: pip install torchfile"
            ) from None
        reader = torchfile.load
    try:
        data = reader(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read {path}: truncated or not a Torch7 file ({exc})") from exc
    model = _t7_get(data, "model")
    mean = _t7_get(data, "mean")
    if model is None or mean is None:
        raise CheckpointError(f"{path}: expected a table with 'model' and 'mean' (GL's completionnet file)")
    convs, norms = [], []
    for kind, layer in _t7_leaves(model):
        if kind in ("SpatialConvolution", "SpatialDilatedConvolution", "SpatialFullConvolution"):
            convs.append((kind, layer))
        elif kind == "SpatialBatchNormalization":
            norms.append(layer)
    if len(convs) != 17 or len(norms) != 16:
        raise CheckpointError(
            f"{path}: expected GL's 17 convolutions and 16 batch norms, found {len(convs)} and {len(norms)}"
        )
    state = {}
    dilations = []
    for index, (kind, layer) in enumerate(convs):
        n_in, n_out = int(_t7_get(layer, "nInputPlane")), int(_t7_get(layer, "nOutputPlane"))
        kh, kw = int(_t7_get(layer, "kH")), int(_t7_get(layer, "kW"))
        weight = _t7_array(layer, "weight")
        if kind == "SpatialFullConvolution":
            weight = weight.reshape(n_in, n_out, kh, kw)
        else:
            weight = weight.reshape(n_out, n_in, kh, kw)  # old files store it 2-D
        if kind == "SpatialDilatedConvolution":
            dilations.append(int(_t7_get(layer, "dilationH")))
        prefix = "output" if index == 16 else f"layers.{index}.conv"
        state[prefix + ".weight"] = weight
        state[prefix + ".bias"] = _t7_array(layer, "bias")
    for index, layer in enumerate(norms):
        prefix = f"layers.{index}.bn"
        var = _t7_array(layer, "running_var")
        if var is None:  # files from before torch7 stored 1/sqrt(var + eps)
            std = _t7_array(layer, "running_std")
            var = 1.0 / std ** 2 - float(_t7_get(layer, "eps") or 1e-5)
        state[prefix + ".weight"] = _t7_array(layer, "weight")
        state[prefix + ".bias"] = _t7_array(layer, "bias")
        state[prefix + ".running_mean"] = _t7_array(layer, "running_mean")
        state[prefix + ".running_var"] = var
        state[prefix + ".num_batches_tracked"] = torch.tensor(0)
    mean = tuple(float(v) for v in np.asarray(mean, dtype=np.float64).reshape(-1)[:3])
    state["mean"] = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    width = int(_t7_get(convs[0][1], "nOutputPlane"))
    config = gl.GLConfig(width=width, last_width=int(_t7_get(convs[15][1], "nOutputPlane")),
                         dilations=tuple(dilations) or (2, 4, 8, 16), mean=mean)
    meta = {"source": "satoshiiizuka/siggraph2017_inpainting Torch7 release"}
    return Checkpoint("gl", config, {"generator": state}, meta, "torch7")


# --- GDN (TensorFlow) --------------------------------------------------------------

def convert_gdn_tensorflow(prefix, out, *, variables=None) -> Path:
    """Convert the GDN authors' TensorFlow checkpoint into our format.

    Variable names are matched by their scope path under ``inpaint_generator/`` and
    ``inpaint_discriminator/`` (an outer scope, if the training graph added one, is
    accepted; optimiser slots are ignored). The config (width, residual blocks) is read
    from the variables' shapes.

    Parameters
    ----------
    prefix : str
        The checkpoint prefix (``.../model-NNN``, without ``.index``/``.data``).
    out : path
        Where to write our checkpoint.
    variables : dict of str to ndarray, optional
        The checkpoint's variables; by default read with TensorFlow's checkpoint reader
        (TensorFlow must be installed). Tests pass a dict.
    """
    if variables is None:
        try:
            import tensorflow as tf
        except ImportError:
            raise CheckpointError(
                "converting GDN's TensorFlow checkpoint needs TensorFlow, which is not installed "
                "(pip install tensorflow, then run the conversion once)"
            ) from None
        try:
            reader = tf.train.load_checkpoint(str(prefix))
        except Exception as exc:
            raise CheckpointError(f"cannot read TensorFlow checkpoint {prefix}: {exc}") from exc
        names = [n for n in reader.get_variable_to_shape_map() if "Adam" not in n]
        variables = {n: reader.get_tensor(n) for n in names}
    variables = {n: v for n, v in variables.items() if "/Adam" not in n}

    def find(name):
        if name in variables:
            return variables[name]
        matches = [n for n in variables if n.endswith("/" + name)]
        if len(matches) == 1:
            return variables[matches[0]]
        if matches:
            raise CheckpointError(f"{prefix}: variable {name!r} is ambiguous ({', '.join(matches[:3])})")
        raise CheckpointError(f"{prefix}: variable {name!r} not found in the TensorFlow checkpoint")

    first = np.asarray(find("inpaint_generator/encoder_1/conv/conv2d/kernel"))
    blocks = {n.split("/resblock_")[1].split("/")[0] for n in variables if "inpaint_generator/resblock_" in n}
    detector = tuple(int(np.asarray(find(f"inpaint_discriminator/conv{i}/kernel")).shape[-1]) for i in range(1, 6))
    detector += (int(np.asarray(find("inpaint_discriminator/deconv_1/conv2d_transpose/kernel")).shape[-2]),)
    config = gdn.GDNConfig(width=int(first.shape[-1]), residual_blocks=len(blocks),
                           detector_widths=detector)
    networks = gdn.build(config)
    states = {part: {} for part in networks}
    for key, (tf_name, kind) in gdn.tf_variable_map(config).items():
        value = np.asarray(find(tf_name), dtype=np.float32)
        if kind in ("conv", "deconv"):
            if value.ndim != 4:
                raise CheckpointError(f"{prefix}: {tf_name!r} has shape {value.shape}, expected a 4-D kernel")
            value = value.transpose(3, 2, 0, 1)  # TF (kh, kw, a, b) -> torch (b, a, kh, kw)
        part, name = key.split(".", 1)
        states[part][name] = torch.from_numpy(np.ascontiguousarray(value))
    for part, net in networks.items():
        strict_load(net, states[part], what=f"GDN {part} from {prefix}")
    return save_checkpoint(out, "gdn", networks, config,
                           metadata={"source": f"converted from TensorFlow checkpoint {prefix}"})
