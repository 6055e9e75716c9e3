"""The one inference wrapper every learned method runs through.

It chooses the device, pads to the network's multiple, handles any image size with a
stated strategy, expands grey to RGB, batches images of equal size, and leaves
validation, alpha and compositing to :mod:`inpaintkit._image` (``prepare``/``finish``).

Large images: up to ``max_size`` pixels on the longer side the network sees the whole
image. Beyond it, ``large="crop"`` (default) runs the network on a crop around each
group of hole components with ``CROP_CONTEXT`` of known context (a crop that is still
too large is downscaled), and ``large="downscale"`` runs it on the whole image scaled
to ``max_size`` and pastes the prediction back upsampled (bicubic) into the hole.
Crops keep full resolution, so they are sharper; downscaling sees more context.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .. import _progress
from .._image import Prepared, check_has_hole, prepare
from ..edges import canny
from .layers import count_parameters

LARGE_STRATEGIES = ("crop", "downscale")

#: Context kept around a hole's bounding box in "crop" mode: at least this many pixels,
#: and at least the box's own size, on each side.
CROP_CONTEXT = 64

# skimage.color.rgb2gray weights (what EdgeConnect's data loader uses).
_GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked.

    Raises
    ------
    ValueError
        For an unknown device string, or CUDA asked for where there is none.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available (torch "
                f"{torch.__version__}, {'built without CUDA' if torch.version.cuda is None else 'no GPU found'}); "
                "use device='cpu' or device='auto'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) are present"
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return resolved


def poisson_blend_fill(image, prediction, hole):
    """Poisson image blending of ``prediction`` into ``image`` over ``hole`` (Perez,
    Gangnet, Blake 2003, https://doi.org/10.1145/882262.882269, Eq. 7), the
    post-processing GL applies to its output (Iizuka et al. 2017).

    Inside the hole the result keeps the prediction's gradients (guidance
    ``v_pq = f_p - f_q`` over 4-neighbours) while matching the known pixels on the hole's
    border, so a colour shift between the network output and the image disappears.
    Neighbours outside the image are dropped (Neumann border).

    Parameters
    ----------
    image, prediction : ndarray, shape (H, W, C), float
        ``image`` is read outside the hole only; ``prediction`` around and inside it.
    hole : ndarray, shape (H, W), bool

    Returns
    -------
    ndarray, shape (H, W, C), float64
        ``prediction`` with its hole pixels replaced by the blended values.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    height, width = hole.shape
    rows, cols = np.nonzero(hole)
    count = rows.size
    index = -np.ones(hole.shape, np.int64)
    index[rows, cols] = np.arange(count)
    diag = np.zeros(count)
    rhs = np.zeros((count, image.shape[2]))
    entries_r, entries_c = [], []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = rows + dr, cols + dc
        inside = (nr >= 0) & (nr < height) & (nc >= 0) & (nc < width)
        p = np.nonzero(inside)[0]
        qr, qc = nr[inside], nc[inside]
        diag[p] += 1
        # Eq. 7: sum over neighbours of the guidance f_p - f_q ...
        rhs[p] += prediction[rows[p], cols[p]] - prediction[qr, qc]
        unknown = hole[qr, qc]
        # ... with known neighbours moved to the right-hand side.
        rhs[p[~unknown]] += image[qr[~unknown], qc[~unknown]]
        entries_r.append(p[unknown])
        entries_c.append(index[qr[unknown], qc[unknown]])
    off_r = np.concatenate(entries_r)
    off_c = np.concatenate(entries_c)
    matrix = coo_matrix(
        (np.concatenate([diag, -np.ones(off_r.size)]),
         (np.concatenate([np.arange(count), off_r]), np.concatenate([np.arange(count), off_c]))),
        shape=(count, count)).tocsc()
    solution = splu(matrix).solve(rhs)
    out = np.array(prediction, dtype=np.float64, copy=True)
    out[rows, cols] = solution
    return np.clip(out, 0.0, 1.0)


def _pad_mode(pad: int, size: int) -> str:
    # Reflection needs the image to be wider than the padding; replicate works always.
    return "reflect" if pad < size else "replicate"


#: Smallest canvas side the networks run on: smaller images (down to one pixel) are
#: padded up to it, so every size is filled (GDN and EdgeConnect reflect-pad and
#: instance-normalise feature maps at 1/4 and 1/8 of the input size).
MIN_CANVAS = 64


def _canvas_side(side: int, multiple: int) -> int:
    """The padded side: ``side`` rounded up to ``multiple``, at least :data:`MIN_CANVAS`."""
    return max(-(-side // multiple) * multiple, -(-MIN_CANVAS // multiple) * multiple)


class Backend:
    """A learned inpainting method, loaded and ready.

    Obtain one with :func:`inpaintkit.learned.load`. ``inpaint(image, mask)`` obeys the
    library contract: same shape and dtype back, pixels outside the hole unchanged, the
    result composited as ``mask * prediction + (1 - mask) * image``.

    Attributes
    ----------
    name : str
    networks : dict of str to torch.nn.Module
        In eval mode, on ``device``.
    config : dataclass
    device : torch.device
    max_size : int
        Longer image side the network sees at once.
    large : {"crop", "downscale"}
        What happens beyond ``max_size`` (see the module docstring).
    metadata : dict
        From the checkpoint.
    """

    def __init__(self, name, networks, config, device, *, max_size=1024, large="crop",
                 metadata=None):
        if large not in LARGE_STRATEGIES:
            raise ValueError(f"large must be one of {', '.join(LARGE_STRATEGIES)}, got {large!r}")
        if not isinstance(max_size, (int, np.integer)) or isinstance(max_size, bool) or max_size < 16:
            raise ValueError(f"max_size must be an integer >= 16 (pixels), got {max_size!r}")
        self.name = name
        self.config = config
        self.device = device
        self.max_size = int(max_size)
        self.large = large
        self.metadata = dict(metadata or {})
        self.networks = {k: net.to(device).eval() for k, net in networks.items()}
        self.multiple = max(getattr(net, "multiple", 4) for net in self.networks.values())
        #: PConv only: the downscale factor its last fill needed to reach every hole pixel
        #: (1: none; see ``_run_pconv``).
        self.last_scale = 1

    def __repr__(self):
        params = sum(count_parameters(n) for n in self.networks.values())
        return (f"<inpaintkit learned backend {self.name!r}: {params / 1e6:.2f}M parameters, "
                f"device={self.device}, max_size={self.max_size}, large={self.large!r}>")

    @property
    def parameter_count(self) -> int:
        return sum(count_parameters(n) for n in self.networks.values())

    # --- public -------------------------------------------------------------------

    def inpaint(self, image, mask, **options):
        """Fill the hole of one image; see :func:`inpaintkit.inpaint` for the contract.

        ``options``: ``edges`` (EdgeConnect: an (H, W) edge drawing that replaces the
        predicted edges inside the hole), ``return_artifact_map`` (GDN: also return the
        detector's (H, W) float32 artifact probability, 0 outside the hole),
        ``poisson_blend`` (GL: Poisson-blend the output into the image,
        :func:`poisson_blend_fill`).
        """
        from . import _unfilled

        prep = prepare(image, mask)
        if not check_has_hole(prep):
            return _unfilled(image, prep, options)
        return self.inpaint_prepared(prep, **options)

    def inpaint_batch(self, images, masks, *, return_artifact_map=False) -> list:
        """Fill a batch. Images of the same size (within ``max_size``) go through the
        network together; others one by one. Returns a list in input order (of
        ``(result, artifact_map)`` pairs with ``return_artifact_map``, GDN only)."""
        if return_artifact_map and self.name != "gdn":
            raise ValueError(f"return_artifact_map is only available for 'gdn', not {self.name!r}")
        options = {"return_artifact_map": True} if return_artifact_map else {}
        images, masks = list(images), list(masks)
        if len(images) != len(masks):
            raise ValueError(f"got {len(images)} images but {len(masks)} masks")
        preps = [prepare(image, mask, image_name=f"images[{i}]", mask_name=f"masks[{i}]")
                 for i, (image, mask) in enumerate(zip(images, masks))]
        results = [None] * len(preps)
        groups: dict[tuple, list[int]] = {}
        for i, prep in enumerate(preps):
            if prep.hole_count == 0:
                results[i] = np.array(images[i], copy=True)
                if return_artifact_map:
                    results[i] = (results[i], np.zeros(prep.mask.shape, np.float32))
            elif max(prep.mask.shape) <= self.max_size:
                groups.setdefault(prep.mask.shape, []).append(i)
            else:
                results[i] = self.inpaint_prepared(prep, **options)
        for indices in groups.values():
            rgb = np.stack([self._to_rgb(preps[i].data) for i in indices])
            hole = np.stack([preps[i].mask for i in indices])
            filled, aux = self._predict(rgb, hole, {})
            for j, i in enumerate(indices):
                out = preps[i].finish(self._from_rgb(filled[j], preps[i].data.shape[2]))
                if return_artifact_map:
                    out = (out, self._artifact(aux, j, preps[i].mask))
                results[i] = out
        return results

    def inpaint_prepared(self, prep: Prepared, *, edges=None, return_artifact_map=False,
                         poisson_blend=False):
        """Fill ``prep`` (from :func:`inpaintkit._image.prepare`, with a hole)."""
        if poisson_blend and self.name != "gl":
            raise ValueError(f"poisson_blend is only available for 'gl', not {self.name!r}")
        extras = {}
        if edges is not None:
            if self.name != "edgeconnect":
                raise ValueError(f"edges= is only accepted by 'edgeconnect', not {self.name!r}")
            if isinstance(edges, (str, os.PathLike)):  # from the CLI: an image of the drawing
                from ..io import read_mask

                edges = read_mask(edges, prep.mask.shape)
            drawn = np.asarray(edges)
            if drawn.dtype != np.bool_ and not np.issubdtype(drawn.dtype, np.number):
                raise TypeError(f"edges must be a bool or numeric (H, W) array, got dtype {drawn.dtype}")
            if drawn.shape != prep.mask.shape:
                raise ValueError(f"edges has shape {drawn.shape} but the image is {prep.mask.shape}")
            extras["user_edges"] = np.clip(drawn.astype(np.float64), 0.0, 1.0)
        if return_artifact_map and self.name != "gdn":
            raise ValueError(f"return_artifact_map is only available for 'gdn', not {self.name!r}")
        rgb = self._to_rgb(prep.data)
        filled, aux = self._fill(rgb, prep.mask, extras)
        if poisson_blend:
            filled = poisson_blend_fill(rgb, filled, prep.mask)
        out = prep.finish(self._from_rgb(filled, prep.data.shape[2]))
        if return_artifact_map:
            return out, self._artifact(aux[None], 0, prep.mask)
        return out

    # --- size strategy ------------------------------------------------------------

    def _fill(self, rgb, hole, extras):
        """(H, W, 3) float, (H, W) bool -> (H, W, 3) prediction, (H, W) aux or None."""
        height, width = hole.shape
        if max(height, width) <= self.max_size:
            filled, aux = self._predict(rgb[None], hole[None], {k: v[None] for k, v in extras.items()})
            return filled[0], (aux[0] if aux is not None else None)
        if self.large == "downscale":
            return self._fill_downscaled(rgb, hole, extras)
        return self._fill_crops(rgb, hole, extras)

    def _fill_downscaled(self, rgb, hole, extras):
        height, width = hole.shape
        scale = self.max_size / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        # A low-resolution pixel is hole if any pixel it covers is: no hole pixel is lost.
        small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        if small_hole.all():
            small_hole[0, 0] = False
        small_extras = {k: cv2.resize(v, size, interpolation=cv2.INTER_AREA) for k, v in extras.items()}
        filled, aux = self._predict(small_rgb[None], small_hole[None],
                                    {k: v[None] for k, v in small_extras.items()})
        up = cv2.resize(filled[0], (width, height), interpolation=cv2.INTER_CUBIC)
        up_aux = None if aux is None else cv2.resize(aux[0], (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(up, 0.0, 1.0), up_aux

    def _crop_boxes(self, hole):
        labels, count = ndimage.label(hole, structure=np.ones((3, 3)))
        height, width = hole.shape
        boxes = []
        for sl in ndimage.find_objects(labels):
            r0, r1, c0, c1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
            margin = max(CROP_CONTEXT, r1 - r0, c1 - c0)
            boxes.append([max(0, r0 - margin), min(height, r1 + margin),
                          max(0, c0 - margin), min(width, c1 + margin)])
        # Merge overlapping context boxes until none overlap: one network run per group.
        merged = True
        while merged:
            merged = False
            out = []
            for box in boxes:
                for other in out:
                    if box[0] < other[1] and other[0] < box[1] and box[2] < other[3] and other[2] < box[3]:
                        other[:] = [min(box[0], other[0]), max(box[1], other[1]),
                                    min(box[2], other[2]), max(box[3], other[3])]
                        merged = True
                        break
                else:
                    out.append(box)
            boxes = out
        return boxes

    def _fill_crops(self, rgb, hole, extras):
        # Outside every crop the "prediction" is the image itself; inside a crop it is the
        # network's output for the whole crop (Poisson blending reads it around the hole).
        filled = rgb.copy()
        aux = np.zeros(hole.shape, np.float32)
        boxes = self._crop_boxes(hole)
        for n, (r0, r1, c0, c1) in enumerate(boxes):
            _progress.report(f"{self.name} crops", n, len(boxes))
            sub_rgb = np.ascontiguousarray(rgb[r0:r1, c0:c1])
            sub_hole = np.ascontiguousarray(hole[r0:r1, c0:c1])
            sub_extras = {k: np.ascontiguousarray(v[r0:r1, c0:c1]) for k, v in extras.items()}
            if sub_hole.all():  # no context inside the crop: fall back to the whole image
                return self._fill_downscaled(rgb, hole, extras)
            if max(sub_hole.shape) > self.max_size:
                out, out_aux = self._fill_downscaled(sub_rgb, sub_hole, sub_extras)
            else:
                out, out_aux = self._predict(sub_rgb[None], sub_hole[None],
                                             {k: v[None] for k, v in sub_extras.items()})
                out = out[0]
                out_aux = None if out_aux is None else out_aux[0]
            filled[r0:r1, c0:c1] = out
            if out_aux is not None:
                aux[r0:r1, c0:c1][sub_hole] = out_aux[sub_hole]
        _progress.report(f"{self.name} crops", len(boxes), len(boxes))
        return filled, (aux if self.name == "gdn" else None)

    # --- the network call ---------------------------------------------------------

    @staticmethod
    def _to_rgb(data):
        return np.repeat(data, 3, axis=2) if data.shape[2] == 1 else data

    @staticmethod
    def _from_rgb(filled, channels):
        # Grey in, grey out: the three predicted channels are averaged.
        return filled.mean(axis=2, keepdims=True) if channels == 1 else filled

    @staticmethod
    def _artifact(aux, index, hole):
        if aux is None:
            return np.zeros(hole.shape, np.float32)
        return np.where(hole, aux[index], 0.0).astype(np.float32)

    def _predict(self, rgb, hole, extras):
        """Run the networks on a batch: rgb (N, h, w, 3) float in [0, 1], hole (N, h, w)
        bool, extras (N, h, w) arrays. Pads to the network multiple; returns the
        unpadded prediction (N, h, w, 3) float64 and an auxiliary map (N, h, w) or None."""
        count, height, width = hole.shape
        if self.name == "edgeconnect":
            extras = dict(extras)
            gray = rgb @ np.asarray(_GRAY_WEIGHTS)
            extras["gray"] = gray
            extras["known_edges"] = np.stack([
                canny(gray[i], sigma=self.config.sigma, mask=hole[i]) for i in range(count)
            ]).astype(np.float64)
        # Pad to the network's multiple, and small images onto a canvas of at least
        # MIN_CANVAS pixels a side, so that no reflection padding or instance norm deep
        # in a network meets a feature map smaller than itself.
        pad_h = _canvas_side(height, self.multiple) - height
        pad_w = _canvas_side(width, self.multiple) - width
        device = self.device

        def tensor(array, channels_last):
            t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            t = t.permute(0, 3, 1, 2) if channels_last else t[:, None]
            t = t.to(device)
            if pad_h or pad_w:
                t = F.pad(t, (0, pad_w, 0, pad_h), mode=_pad_mode(max(pad_h, pad_w), min(height, width)))
            return t

        image_t = tensor(rgb, True)
        hole_t = tensor(hole.astype(np.float32), False)
        extra_t = {k: tensor(v, False) for k, v in extras.items()}
        image_t = image_t * (1 - hole_t)  # no network ever reads hole pixels
        with torch.inference_mode():
            out, aux = self._run(image_t, hole_t, extra_t)
        out = out[:, :, :height, :width].permute(0, 2, 3, 1).double().cpu().numpy()
        if aux is not None:
            aux = aux[:, 0, :height, :width].float().cpu().numpy()
        return np.clip(out, 0.0, 1.0), aux

    def _run_pconv(self, image, hole):
        """PConv with every hole pixel filled, at any hole size.

        Why PConv leaves black: each partial convolution marks an output pixel valid
        only if its window held a valid input (Liu et al. 2018, Eq. 2), so the valid
        region grows by a bounded reach per layer. A hole wider than the whole encoder
        and decoder can bridge keeps a core the mask updates never reach, where the
        network outputs 0, its "no information" value (pure black once clipped).

        The fix: where one pass leaves such a core, the network is run again on the
        image downscaled by 2, 4, 8... until at that scale its reach covers the whole
        hole (there it sees the entire context, as in training); that coarse fill,
        upsampled, fills the core and is feathered over 16 pixels into the full-
        resolution fill around it. A core left even at the coarsest scale (only
        possible for a paper-size network on a tiny canvas) gets a pull-push
        interpolation. ``last_scale`` records the factor used (1: none needed).
        """
        net = self.networks["generator"]
        out, valid = net(image, hole, return_valid=True)
        core = hole * (1 - valid)
        self.last_scale = 1
        if not bool(core.any()):
            return out
        coarse = self._pconv_coarse(net, image, hole)
        # 1 in the core and up to 16 px around it, falling to 0 over the next 16.
        near = F.avg_pool2d(core, 33, stride=1, padding=16, count_include_pad=False)
        weight = (near * 4).clamp(max=1.0)
        weight = torch.maximum(weight, core)
        return weight * coarse + (1 - weight) * out

    def _pconv_coarse(self, net, image, hole):
        """The coarse fill of :meth:`_run_pconv`, upsampled to ``image``'s size."""
        from .layers import pull_push_fill

        height, width = image.shape[-2:]
        known = 1 - hole
        factor, previous = 2, None
        while True:
            size = (max(self.multiple, -(-height // (factor * self.multiple)) * self.multiple),
                    max(self.multiple, -(-width // (factor * self.multiple)) * self.multiple))
            weight = F.interpolate(known, size=size, mode="area")
            small = F.interpolate(image * known, size=size, mode="area") / weight.clamp(min=1e-6)
            small_hole = (weight < 0.999).to(image.dtype)
            # Every image keeps a known pixel: its best-known cell stays known.
            flat = weight.flatten(1)
            empty = flat.max(dim=1).values <= 0
            if bool(empty.any()):
                break
            best = flat.argmax(dim=1)
            small_hole.view(small_hole.shape[0], -1)[torch.arange(len(best)), best] = 0
            small_out, small_valid = net(small * (1 - small_hole), small_hole, return_valid=True)
            filled = small * (1 - small_hole) + small_out * small_hole
            self.last_scale = factor
            covered = not bool((small_hole * (1 - small_valid)).any())
            if covered or size == previous or min(size) <= self.multiple:
                if not covered:
                    filled = pull_push_fill(filled, small_hole * (1 - small_valid))
                break
            previous = size
            factor *= 2
        if bool(empty.any()):
            filled = pull_push_fill(image, hole)
            return filled
        return F.interpolate(filled, size=(height, width), mode="bicubic", align_corners=False)

    def _run(self, image, hole, extras):
        nets = self.networks
        if self.name == "pconv":
            return self._run_pconv(image, hole), None
        if self.name in ("gl", "lama"):
            return nets["generator"](image, hole), None
        if self.name == "gdn":
            out = nets["generator"](image, hole)
            # The detector judges the generator's raw output, as in the paper's training.
            return out, nets["detector"].artifact_map(out)
        if self.name == "edgeconnect":
            known = extras["known_edges"]
            drawn = extras.get("user_edges")
            if drawn is None:
                drawn = nets["edge"](extras["gray"], known, hole)
            edges = drawn * hole + known * (1 - hole)
            return nets["inpaint"](image, edges, hole), None
        raise ValueError(f"unknown learned model {self.name!r}")
