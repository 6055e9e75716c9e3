"""Learned inpainting backends (PyTorch): GL, PConv, GDN, EdgeConnect and LaMa.

This module imports nothing heavy: torch and the networks load on the first call, so
listing methods or running a classical one never pays for torch.

>>> import numpy as np
>>> from inpaintkit import learned
>>> backend = learned.load("pconv", weights="random", config="small", device="cpu")
>>> image = np.random.default_rng(0).random((64, 64, 3))
>>> mask = np.zeros((64, 64), bool); mask[20:40, 20:40] = True
>>> out = backend.inpaint(image, mask)
>>> out.shape, bool(np.array_equal(out[~mask], image[~mask]))
((64, 64, 3), True)

Without ``weights``, the small configuration of each model runs on the weights that ship
inside the package (``inpaintkit/learned/weights/<model>_small.pt``, trained by the
project on CPU; each has a model card ``<model>_small.md`` beside it), so every method
works offline out of the box. Other configurations need a checkpoint, see :func:`load`;
``weights="random"`` gives untrained networks (for tests and timing only). Published
checkpoints (the authors' big-lama and the others) are listed, fetched on request and
cached by :mod:`inpaintkit.learned.manager`; ``weights=NAME`` then names one.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = [
    "load",
    "inpaint_gl",
    "inpaint_pconv",
    "inpaint_gdn",
    "inpaint_edgeconnect",
    "inpaint_lama",
    "MODELS",
    "WeightsNotFoundError",
    "WEIGHTS_DIR",
    "shipped_weights",
    "weights_summary",
]

MODELS = ("gl", "pconv", "gdn", "edgeconnect", "lama")

_HOW_TO_GET = {
    "gl": "the authors' Torch7 file completionnet_places2.t7 "
          "(github.com/satoshiiizuka/siggraph2017_inpainting, download_model.sh; reading it "
          "needs pip install torchfile)",
    "pconv": "a checkpoint of naoto0804/pytorch-inpainting-with-partial-conv (a .pth with "
             "'n_iter' and 'model')",
    "gdn": "the authors' TensorFlow checkpoint, converted once with "
           "`inpaintkit convert-gdn CKPT_PREFIX -o gdn.pt` (needs TensorFlow)",
    "edgeconnect": "the folder with EdgeModel_gen.pth and InpaintingModel_gen.pth from "
                   "github.com/knazeri/edge-connect (scripts/download_model.sh)",
    "lama": "the authors' big-lama/models/best.ckpt or the TorchScript big-lama.pt "
            "(`inpaintkit weights fetch big-lama` downloads it, then weights='big-lama')",
}


#: Where the shipped weights live (package data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsNotFoundError(ValueError):
    """``load()`` was called without weights for a configuration that has no shipped file."""


def shipped_weights(name: str):
    """Path of the weights shipped for ``name`` (small config), or None if there is none."""
    _check_name(name)
    path = WEIGHTS_DIR / f"{name}_small.pt"
    return path if path.is_file() else None


def _shipped_info(name: str) -> dict:
    """The facts ``scripts/train_shipped.py`` records beside shipped weights
    (``<name>_small.json``: photos, steps, hours, parameters, benchmark verdict)."""
    import json

    path = WEIGHTS_DIR / f"{name}_small.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def weights_summary(name: str) -> str:
    """One line saying which weights ``method=name`` uses when none are given: the small
    weights trained here (on how many photos, for how long) and where the published
    ones come from, or that none are shipped and ``weights=PATH`` is needed. Reads no
    weights and imports no torch."""
    _check_name(name)
    published = f"published weights: weights=PATH to {_HOW_TO_GET[name]}"
    if shipped_weights(name) is None:
        return (f"no weights shipped (the small weights trained here did not beat cv2 TELEA on "
                f"large holes, issue 15's bar); it needs weights=PATH (--param weights=PATH); "
                f"{published}")
    info = _shipped_info(name)
    facts = []
    if info.get("photos"):
        facts.append(f"on {info['photos']} photos")
    if info.get("steps"):
        facts.append(f"for {info['steps']} steps")
    if info.get("hours"):
        facts.append(f"({info['hours']:.1f} h on one CPU thread)")
    trained = " ".join(facts)
    note = f"; {info['note']}" if info.get("note") else ""
    return (f"small weights trained by inpaintkit{' ' + trained if trained else ''}, not the "
            f"authors' (model card: inpaintkit/learned/weights/{name}_small.md){note}; {published}")


def _wants_small(name, config):
    """True when ``config`` (as passed to :func:`load`) is the small configuration."""
    if config is None or (isinstance(config, str) and config == "small"):
        return True
    if isinstance(config, str):
        return False
    from .checkpoints import MODELS as TABLE

    small = TABLE[name][0].small()
    try:
        return _resolve_config(name, config, small) == small
    except (TypeError, ValueError):
        return False


def _check_name(name):
    if name not in MODELS:
        raise ValueError(f"unknown learned model {name!r}; valid models: {', '.join(MODELS)}")


def _resolve_config(name, config, checkpoint_config=None):
    from .checkpoints import MODELS as TABLE, config_from_dict

    config_class = TABLE[name][0]
    if config is None:
        return checkpoint_config if checkpoint_config is not None else config_class.paper()
    if isinstance(config, config_class):
        return config
    if isinstance(config, str):
        presets = {"paper": config_class.paper, "small": config_class.small}
        if hasattr(config_class, "release"):
            presets["release"] = config_class.release
        if hasattr(config_class, "fourier"):
            presets["fourier"] = config_class.fourier
        if config not in presets:
            raise ValueError(
                f"config for {name!r} must be one of {', '.join(presets)}, a dict or a "
                f"{config_class.__name__}, got {config!r}"
            )
        return presets[config]()
    if isinstance(config, dict):
        base = (checkpoint_config or config_class.paper()).to_dict()
        base.update(config)
        return config_from_dict(name, base)
    raise TypeError(f"config must be None, a preset name, a dict or a {config_class.__name__}, got {config!r}")


def load(name: str, *, weights=None, config=None, device: str = "auto", max_size: int = 1024,
         large: str = "crop", seed: int = 0):
    """Load a learned backend.

    Parameters
    ----------
    name : {"gl", "pconv", "gdn", "edgeconnect"}
    weights : None, path, name or "random"
        None (default): the weights shipped with inpaintkit for the small configuration
        (``WEIGHTS_DIR / f"{name}_small.pt"``, loaded strictly), where there are any
        (:func:`weights_summary` says; only weights that beat cv2 TELEA on large holes
        are shipped); only valid when ``config`` is None or the small configuration. A path: a checkpoint in our own
        format (:func:`~inpaintkit.learned.checkpoints.save_checkpoint`, e.g. from
        ``inpaintkit train``) or a published release (GL ``.t7``, naoto0804 PConv
        ``.pth``, EdgeConnect folder, GDN converted with ``inpaintkit convert-gdn``).
        ``"random"``: untrained networks (seeded by ``seed``), for tests and timing only.
        A name from ``inpaintkit weights list`` (e.g. ``"big-lama"``): that published
        checkpoint, once fetched (``inpaintkit weights fetch``) or added
        (:mod:`inpaintkit.learned.manager`); nothing is downloaded here.
    config : None, "paper", "small", dict or config object
        Network configuration. By default the checkpoint's own (the small one for the
        shipped weights, ``"paper"`` for random weights). Given with a checkpoint, the
        weights must fit it (strict check).
    device : str, default "auto"
        ``"auto"`` uses CUDA when available, else the CPU; ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``. Asking for CUDA where there is none raises ``ValueError``.
    max_size : int, default 1024
        Longer image side the network sees at once.
    large : {"crop", "downscale"}, default "crop"
        Beyond ``max_size``: run on a crop around each hole group (full resolution), or
        on the whole image downscaled to ``max_size`` with the prediction upsampled.

    Returns
    -------
    Backend
        With ``.inpaint(image, mask)`` and ``.inpaint_batch(images, masks)``.

    Raises
    ------
    WeightsNotFoundError
        Without ``weights`` for a model or configuration that has no shipped file
        (e.g. ``config="paper"``): the message says where to get published weights.
    ValueError
        For an unknown name or config, CUDA without CUDA, or weights that do not fit
        (the first mismatching key is named).
    """
    _check_name(name)
    from .manager import resolve as resolve_weights_name

    weights = resolve_weights_name(weights, name)  # weights="big-lama" -> its cached file
    import torch

    from .backend import Backend, resolve_device
    from .checkpoints import MODELS as TABLE, read_checkpoint, strict_load

    dev = resolve_device(device)
    if weights is None:
        shipped = shipped_weights(name)
        if shipped is None or not _wants_small(name, config):
            if shipped is None:
                reason = ("inpaintkit ships no weights for it (the small weights trained here "
                          "did not beat cv2 TELEA on large holes, so they are not shipped)")
            else:
                reason = ("inpaintkit ships weights for its small configuration only, not for "
                          "this one")
            raise WeightsNotFoundError(
                f"method {name!r} needs weights=PATH: {reason}. Pass weights=PATH (on the "
                f"command line --param weights=PATH) to "
                f"{_HOW_TO_GET[name]}, or to a checkpoint written by `inpaintkit train "
                f"{name}`; weights='random' gives an untrained network for tests only"
            )
        weights = shipped
    build = TABLE[name][1]
    if isinstance(weights, str) and weights == "random":
        cfg = _resolve_config(name, config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            networks = build(cfg)
        return Backend(name, networks, cfg, dev, max_size=max_size, large=large,
                       metadata={"weights": "random", "seed": seed})
    checkpoint = read_checkpoint(weights, name)
    cfg = _resolve_config(name, config, checkpoint.config)
    networks = build(cfg)
    for part, net in networks.items():
        if part not in checkpoint.state:
            from .checkpoints import CheckpointError

            raise CheckpointError(f"{weights}: no weights for the {part!r} network of {name!r}")
        strict_load(net, checkpoint.state[part], what=f"{name} {part} weights from {weights}")
    meta = dict(checkpoint.metadata, weights=str(weights), format=checkpoint.source)
    return Backend(name, networks, cfg, dev, max_size=max_size, large=large, metadata=meta)


def _config_key(config):
    if isinstance(config, dict):
        return ("dict", tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                     for k, v in config.items())))
    return config


@functools.lru_cache(maxsize=4)
def _cached(name, weights, config_key, device, max_size, large, seed):
    config = dict(config_key[1]) if isinstance(config_key, tuple) and config_key[:1] == ("dict",) else config_key
    return load(name, weights=weights, config=config, device=device, max_size=max_size,
                large=large, seed=seed)


def _backend(name, weights, config, device, max_size, large, seed):
    weights_key = str(weights) if weights is not None else None
    try:
        return _cached(name, weights_key, _config_key(config), device, max_size, large, seed)
    except TypeError as exc:  # an unhashable config object: load without the cache
        if "unhashable" not in str(exc):
            raise
        return load(name, weights=weights, config=config, device=device, max_size=max_size,
                    large=large, seed=seed)


def _unfilled(image, prep, options):
    """The result for a mask with no hole: a copy of ``image`` (and, when asked, an
    all-zero artifact map), shaped as a fill would be. Shared with ``Backend.inpaint``;
    kept here so an empty mask never imports torch."""
    import numpy as np

    out = np.array(image, copy=True)
    if options.get("return_artifact_map"):
        return out, np.zeros(prep.mask.shape, np.float32)
    return out


def _run(name, image, mask, weights, config, device, max_size, large, seed, **options):
    from .._image import check_has_hole, prepare

    prep = prepare(image, mask)
    if not check_has_hole(prep):
        return _unfilled(image, prep, options)
    backend = _backend(name, weights, config, device, max_size, large, seed)
    return backend.inpaint_prepared(prep, **options)


def inpaint_gl(image, mask, *, weights=None, config=None, device="auto", max_size=1024,
               large="crop", poisson_blend=False, seed=0):
    """Globally and Locally consistent completion network (Iizuka et al. 2017).

    The hole is filled with the training set's mean colour and completed by a 17-layer
    dilated convolutional network, optionally followed by the paper's Poisson blending.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4; grey is expanded to RGB (and the result averaged back), alpha is
        carried through.
    mask : ndarray, shape (H, W), bool or integer
        Non-zero = hole.
    weights, config, device, max_size, large
        See :func:`load`. By default the shipped small-config weights are used.
    poisson_blend : bool, default False
        Blend the network output into the image by solving Poisson's equation over the
        hole (the paper's post-processing; the official code's ``--postproc``):
        removes colour seams at the hole border, at the cost of a sparse solve.
    seed : int
        Initialisation seed for ``weights="random"``; the networks are deterministic.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole unchanged.

    References
    ----------
    S. Iizuka, E. Simo-Serra, H. Ishikawa, ACM TOG 36(4) 2017,
    https://doi.org/10.1145/3072959.3073659

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((64, 64, 3), 0.5); mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = 1
    >>> inpaint_gl(image, mask, weights="random", config="small", device="cpu").shape
    (64, 64, 3)
    """
    if not isinstance(poisson_blend, bool):
        raise TypeError(f"poisson_blend must be True or False, got {poisson_blend!r}")
    options = {"poisson_blend": True} if poisson_blend else {}
    return _run("gl", image, mask, weights, config, device, max_size, large, seed, **options)


def inpaint_pconv(image, mask, *, weights=None, config=None, device="auto", max_size=1024,
                  large="crop", seed=0):
    """Partial-convolution U-Net (Liu et al. 2018) for irregular holes.

    Parameters are those of :func:`inpaint_gl`. Images are padded to a multiple of
    ``2 ** levels`` (256 for the paper's 8 levels).

    References
    ----------
    G. Liu et al., ECCV 2018, https://doi.org/10.1007/978-3-030-01252-6_6

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((64, 64), 0.5); mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = 1
    >>> inpaint_pconv(image, mask, weights="random", config="small", device="cpu").shape
    (64, 64)
    """
    return _run("pconv", image, mask, weights, config, device, max_size, large, seed)


def inpaint_gdn(image, mask, *, weights=None, config=None, device="auto", max_size=1024,
                large="crop", return_artifact_map=False, seed=0):
    """GDN generator with its pixel-wise dense artifact detector (Zhang et al. 2020).

    Parameters are those of :func:`inpaint_gl`, plus:

    return_artifact_map : bool, default False
        Also return the detector's per-pixel artifact probability, float32 (H, W) in
        [0, 1], 0 outside the hole: where the fill probably looks wrong.

    Returns
    -------
    ndarray, or (ndarray, ndarray) with ``return_artifact_map``

    References
    ----------
    R. Zhang et al., Computer Graphics Forum 39(7) 2020, https://doi.org/10.1111/cgf.14160

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((64, 64, 3), 0.5); mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = 1
    >>> out, artifacts = inpaint_gdn(image, mask, weights="random", config="small",
    ...                              device="cpu", return_artifact_map=True)
    >>> artifacts.shape, float(artifacts[~mask].max())
    ((64, 64), 0.0)
    """
    if not isinstance(return_artifact_map, (bool,)):
        raise TypeError(f"return_artifact_map must be True or False, got {return_artifact_map!r}")
    options = {"return_artifact_map": True} if return_artifact_map else {}
    return _run("gdn", image, mask, weights, config, device, max_size, large, seed, **options)


def inpaint_edgeconnect(image, mask, *, weights=None, config=None, device="auto",
                        max_size=1024, large="crop", edges=None, seed=0):
    """EdgeConnect (Nazeri et al. 2019): complete the Canny edge map, then the image.

    Parameters are those of :func:`inpaint_gl`, plus:

    edges : ndarray, shape (H, W), bool or float in [0, 1], or path, optional
        A user's edge drawing (or an image file of it: non-zero pixels are edges):
        inside the hole it replaces the edge generator's prediction, guiding the fill
        (outside the hole the image's own Canny edges, sigma 2, are used).

    References
    ----------
    K. Nazeri et al., ICCV Workshops 2019, https://doi.org/10.1109/ICCVW.2019.00408

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((64, 64, 3), 0.5); mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = 1
    >>> drawing = np.zeros((64, 64), bool); drawing[32, :] = True
    >>> inpaint_edgeconnect(image, mask, weights="random", config="small", device="cpu",
    ...                     edges=drawing).shape
    (64, 64, 3)
    """
    options = {"edges": edges} if edges is not None else {}
    return _run("edgeconnect", image, mask, weights, config, device, max_size, large, seed, **options)


def inpaint_lama(image, mask, *, weights=None, config=None, device="auto", max_size=1024,
                 large="crop", seed=0):
    """LaMa (Suvorov et al. 2022): a ResNet of fast Fourier convolutions whose receptive
    field covers the whole image, for large masks and high resolutions.

    The network sees the image in [0, 1] with the hole zeroed and the mask as a fourth
    channel, padded to a multiple of 8 (``2 ** downsamplings``), as in the authors' code.

    Parameters
    ----------
    image, mask, device, max_size, large, seed
        See :func:`inpaint_gl`.
    weights : None, path, name or "random"
        None: the shipped small-config weights. A path: the authors' PyTorch Lightning
        ``big-lama/models/best.ckpt`` (or the ``big-lama`` folder holding it), the
        TorchScript ``big-lama.pt`` that other tools cache, or an inpaintkit
        checkpoint. A name from ``inpaintkit weights list`` (e.g. ``"big-lama"``) once
        fetched or added (:mod:`inpaintkit.learned.manager`).
    config : None, "paper", "fourier", "small", dict or LamaConfig
        By default the checkpoint's own (read from its tensor shapes for the authors'
        files). ``"paper"`` is big-lama (18 blocks, 51 M parameters), ``"fourier"`` the
        paper's LaMa-Fourier (9 blocks).

    References
    ----------
    R. Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier
    Convolutions", WACV 2022, https://doi.org/10.1109/WACV51458.2022.00323

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((64, 64, 3), 0.5); mask = np.zeros((64, 64), bool); mask[24:40, 24:40] = 1
    >>> inpaint_lama(image, mask, weights="random", config="small", device="cpu").shape
    (64, 64, 3)
    """
    return _run("lama", image, mask, weights, config, device, max_size, large, seed)

def __getattr__(name):
    # Submodules on demand (checkpoints, backend, networks) without importing torch eagerly.
    if name in ("layers", "gl", "pconv", "gdn", "edgeconnect", "lama", "checkpoints", "backend",
                "manager"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
