"""Train the learned backends with their papers' objectives and phases.

One :class:`Trainer` per model holds every network it trains (generators and
discriminators), their optimisers, and one ``step`` that applies the paper's losses for
the current phase. :func:`train` runs the loop: seeded batches from
:class:`~inpaintkit.learned.data.InpaintingData`, a progress bar with running losses, a
JSON-lines log of losses and validation metrics (PSNR, SSIM, texture ratio on held-out
images), a checkpoint every few minutes and on Ctrl-C, and ``resume``.

Two files per run:

- ``out`` (e.g. ``pconv_small.pt``): the inference weights in our checkpoint format
  (:func:`~inpaintkit.learned.checkpoints.save_checkpoint`), loadable by
  ``inpaintkit.learned.load(name, weights=out)``;
- ``out`` + ``.state`` : everything needed to continue the same run (all networks,
  optimisers, step, elapsed time); ``resume`` takes either file;
- ``name.best.pt`` beside ``out`` (:func:`best_path`): the weights of the best
  validation so far (:func:`validation_score`), since adversarial phases can trade the
  numbers the shipping bar compares for texture.

Phases are placed by *progress*, the fraction of the run done: ``step / steps``, or,
with a ``time_limit``, the larger of that and ``elapsed / time_limit`` (then the run is
no longer bit-for-bit reproducible, since wall time decides when a phase starts).

Objectives (weights as in the papers; VGG-based terms only with a local VGG-16 file):

- ``pconv``: ``L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp)
  + 0.1 L_tv``; last 20 % of the run: the paper's fine-tuning (encoder batch norms
  frozen, learning rate 5e-5).
- ``gl``: phase 1 (first 60 %) the completion network on the hole MSE; phase 2 (next
  10 %) the context discriminators alone; phase 3 both, the generator on
  ``MSE + 0.0004 * adversarial``. The seeded small config (``residual``) adds
  ``0.02 * (1 - SSIM)`` over the hole's windows to the generator's objective.
- ``gdn``: the detector on the balanced focal loss (gamma 2) with the hole as the
  artifact label for generated images and 0 for real ones; the generator on plain L1
  for the first 30 % (a reconstruction-only warm-up), then on the reconstruction
  weighted by ``10 ** detector_output`` plus an adversarial term (``0.01``) asking the
  detector to see no artifact; Adam betas (0, 0.9).
- ``edgeconnect``: the edge generator (spectral norm) on binary cross-entropy to the
  Canny edges for the first 30 % (warm-up), then on ``adversarial + 10 * feature
  matching`` against a spectral-norm PatchGAN; the image generator on
  ``L1 / hole ratio + 0.1 perceptual + 250 style + 0.1 adversarial`` (adversarial from
  30 % on), fed the ground-truth Canny edges, then for the last 30 % the edge
  generator's predictions in the hole (the paper's joint stage).

Learning rate: ``lr`` (default 5e-4, chosen for budgets of minutes on a CPU; the papers
use 1e-4 to 2e-4 over days) for generators and detectors, 0.1 x for EdgeConnect's
discriminators (the paper's ratio), times :func:`lr_factor`: a linear warm-up over the
first 2 % of the run and a cosine decay to 1 % at its end, placed by progress so that
it scales with the budget.

Validation (every ``val_every`` steps, on held-out photos with free-form and
object-shaped holes): PSNR, SSIM, texture ratio, PSNR on object holes and on holes over
30 %, and a colour-consistency check (the fill's mean colour against the truth's,
:func:`colour_shift`), written to the log and drawn as ``out + ".curve.png"``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .checkpoints import MODELS as TABLE, save_checkpoint

__all__ = ["TrainOptions", "train", "TRAINERS", "state_path", "read_state", "lr_factor",
           "colour_shift", "plot_curves", "reference_scores", "best_path", "validation_score"]

STATE_FORMAT = "inpaintkit-train"


@dataclasses.dataclass
class TrainOptions:
    """Everything a run depends on (also what ``inpaintkit train`` exposes)."""

    model: str
    data: str
    out: str
    config: str = "small"
    size: int = 128
    steps: int = 2000
    batch: int = 8
    device: str = "auto"
    seed: int = 0
    vgg: str | None = None
    lr: float = 5e-4
    time_limit: float | None = None      # seconds
    checkpoint_every: float = 180.0      # seconds
    val_every: int = 250                 # steps
    val_count: int = 12
    log_every: int = 10                  # steps
    stop_after: int | None = None        # steps in this call (the schedule still follows ``steps``)
    log: str | None = None               # JSON lines; default out + ".log.jsonl"
    progress: bool = True
    curves: bool = True                  # draw out + ".curve.png" at each validation
    # GL (seeded small config) only: weight of losses.detail_loss (0 = off), its target
    # ratio, and whether the paper's discriminator phases run (False: reconstruction only).
    detail: float = 0.0
    detail_target: float = 0.7
    adversarial: bool = True


def state_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".state")


# --- trainers ------------------------------------------------------------------------

#: Share of the run over which the learning rate ramps up linearly from 0.
WARMUP_FRACTION = 0.02
#: The cosine schedule ends at this fraction of the base learning rate.
FINAL_LR_FRACTION = 0.01


def lr_factor(progress: float) -> float:
    """Learning-rate multiplier at ``progress`` (0 to 1) of the run: a linear warm-up over
    the first 2 %, then a cosine decay to 1 % at the end (Loshchilov and Hutter, SGDR,
    ICLR 2017, without restarts). Placed by progress, so it scales with the budget
    (``steps`` or ``time_limit``)."""
    import math

    if progress < WARMUP_FRACTION:
        return max(progress / WARMUP_FRACTION, 0.01)
    span = (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(span, 1.0)))


class Trainer:
    """Networks, optimisers and the per-step objective of one model."""

    name = ""

    def __init__(self, config, device, *, lr: float, vgg: str | None, size: int):
        self.config = config
        self.device = device
        self.base_lr = lr
        self.size = size
        self.vgg = losses.VGG16Features(vgg).to(device) if vgg else None
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.lr_scale: dict[str, float] = {}

    # Subclasses fill networks/optimizers; these are shared.
    def add(self, name, net, *, lr_scale=1.0, betas=(0.5, 0.999), train=True):
        net = net.to(self.device)
        self.networks[name] = net
        if train:
            self.optimizers[name] = torch.optim.Adam(net.parameters(), lr=self.base_lr * lr_scale,
                                                     betas=betas)
            self.lr_scale[name] = lr_scale

    def set_lr(self, progress):
        factor = lr_factor(progress)
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr * self.lr_scale[name] * factor

    def set_train(self, progress):
        for net in self.networks.values():
            net.train()

    def configure(self, options: "TrainOptions") -> None:
        """Read the model-specific objective options of ``options`` (default: none)."""

    def phase(self, progress) -> str:
        return "train"

    def losses_used(self) -> list[str]:
        raise NotImplementedError

    def step(self, image, hole, progress) -> dict[str, float]:
        raise NotImplementedError

    def inference_networks(self) -> dict[str, nn.Module]:
        """The parts ``build(config)`` makes, as plain modules (spectral norm folded)."""
        return {part: self.networks[part] for part in TABLE[self.name][1](self.config)}

    @staticmethod
    def _update(optimizer, loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def _vgg_terms(self, out, comp, gt):
        """Perceptual and style terms (PConv Eq. 5-7) or None without VGG weights."""
        if self.vgg is None:
            return None
        f_out, f_comp = self.vgg(out), self.vgg(comp)
        with torch.no_grad():
            f_gt = self.vgg(gt)
        return (losses.perceptual_loss(f_out, f_comp, f_gt),
                losses.style_loss(f_out, f_gt) + losses.style_loss(f_comp, f_gt))


class PConvTrainer(Trainer):
    name = "pconv"
    finetune_from = 0.8

    def __init__(self, config, device, **kw):
        super().__init__(config, device, **kw)
        from .pconv import PConvUNet

        self.add("generator", PConvUNet(config), betas=(0.9, 0.999))

    def phase(self, progress):
        return "finetune" if progress >= self.finetune_from else "train"

    def set_lr(self, progress):
        if progress >= self.finetune_from:   # the paper's fine-tuning learning rate
            for group in self.optimizers["generator"].param_groups:
                group["lr"] = 5e-5
        else:
            super().set_lr(progress)

    def set_train(self, progress):
        net = self.networks["generator"]
        net.train()
        if progress >= self.finetune_from:
            # Fine-tuning freezes the encoder's batch norms (paper Sec. 4.1).
            for name, module in net.named_modules():
                if name.startswith("enc_") and isinstance(module, nn.BatchNorm2d):
                    module.eval()

    def losses_used(self):
        used = ["L_valid x1", "L_hole x6", "L_tv x0.1"]
        if self.vgg is not None:
            used += ["L_perceptual x0.05 (VGG-16 pool1-3)", "L_style_out + L_style_comp x120"]
        return used

    def step(self, image, hole, progress):
        net = self.networks["generator"]
        out = net(image * (1 - hole), hole)
        comp = hole * out + (1 - hole) * image
        l_hole, l_valid = losses.l1_hole_valid(out, image, hole)
        l_tv = losses.total_variation(comp, hole)
        total = l_valid + 6 * l_hole + 0.1 * l_tv
        record = {"hole": l_hole.item(), "valid": l_valid.item(), "tv": l_tv.item()}
        vgg = self._vgg_terms(out, comp, image)
        if vgg is not None:
            total = total + 0.05 * vgg[0] + 120 * vgg[1]
            record.update(perceptual=vgg[0].item(), style=vgg[1].item())
        self._update(self.optimizers["generator"], total)
        record["total"] = total.item()
        return record


def _local_patches(images, hole, size):
    """GL's local discriminator input: a ``size`` square centred on each hole's bounding
    box (clamped to the image)."""
    patches = []
    height, width = images.shape[2:]
    for b in range(images.shape[0]):
        rows = torch.nonzero(hole[b, 0].any(dim=1)).flatten()
        cols = torch.nonzero(hole[b, 0].any(dim=0)).flatten()
        cy = int(rows[0] + rows[-1]) // 2 if rows.numel() else height // 2
        cx = int(cols[0] + cols[-1]) // 2 if cols.numel() else width // 2
        top = min(max(0, cy - size // 2), height - size)
        left = min(max(0, cx - size // 2), width - size)
        patches.append(images[b:b + 1, :, top:top + size, left:left + size])
    return torch.cat(patches)


class GLTrainer(Trainer):
    name = "gl"
    completion_until = 0.6      # T_C
    discriminator_until = 0.7   # T_C + T_D
    alpha = 0.0004
    #: Weight of ``1 - SSIM`` over the hole's windows (seeded small config only): with the
    #: hole MSE near 0.003, it makes the two terms' gradients comparable.
    ssim_weight = 0.02

    def __init__(self, config, device, **kw):
        super().__init__(config, device, **kw)
        from .gl import CompletionNetwork, ContextDiscriminator

        if self.size < 64:
            raise ValueError(f"GL's discriminators need crops of at least 64 pixels, got size={self.size}")
        self.add("generator", CompletionNetwork(config), betas=(0.9, 0.999))
        # The discriminators see the training crop whole and a half-size local patch.
        disc_config = dataclasses.replace(config, global_size=self.size, local_size=self.size // 2)
        self.add("discriminator", ContextDiscriminator(disc_config))

    detail_weight = 0.0
    detail_target = 0.7
    adversarial = True

    def configure(self, options):
        if options.detail < 0 or not 0 < options.detail_target <= 2:
            raise ValueError(f"detail must be >= 0 and detail_target in (0, 2], got {options.detail!r}, "
                             f"{options.detail_target!r}")
        if options.detail and not self.config.residual:
            raise ValueError("detail is for the seeded residual config (GL small)")
        self.detail_weight, self.detail_target = float(options.detail), float(options.detail_target)
        self.adversarial = bool(options.adversarial)
        if not self.adversarial:  # reconstruction only: no discriminator to build or save
            del self.networks["discriminator"], self.optimizers["discriminator"], self.lr_scale["discriminator"]

    def phase(self, progress):
        if not self.adversarial or progress < self.completion_until:
            return "completion"
        if progress < self.discriminator_until:
            return "discriminator"
        return "joint"

    def losses_used(self):
        structure = (f" + {self.ssim_weight} x (1 - SSIM) over the hole's 7x7 windows"
                     if self.config.residual else "")
        if self.detail_weight:
            structure += (f" + {self.detail_weight} x detail shortfall (local Sobel gradient of the fill "
                          f"under {self.detail_target} x the truth's, losses.detail_loss)")
        if not self.adversarial:
            return [f"hole MSE{structure} (reconstruction only, no discriminator)"]
        return [f"phase 1: hole MSE{structure}", "phase 2: discriminator BCE alone",
                f"phase 3: hole MSE{structure} + 0.0004 x adversarial (BCE)"]

    def _discriminate(self, images, hole):
        return self.networks["discriminator"](images, _local_patches(images, hole, self.size // 2))

    def step(self, image, hole, progress):
        gen = self.networks["generator"]
        phase = self.phase(progress)
        record = {}
        if phase == "discriminator":
            with torch.no_grad():
                out = gen(image * (1 - hole), hole)
        else:
            out = gen(image * (1 - hole), hole)
        comp = hole * out + (1 - hole) * image
        if phase != "completion":
            real = self._discriminate(image, hole)
            fake = self._discriminate(comp.detach(), hole)
            d_loss = losses.nsgan_d(real, fake, logits=False)
            self._update(self.optimizers["discriminator"], d_loss)
            record["disc"] = d_loss.item()
        if phase != "discriminator":
            mse = losses.masked_mse(out, image, hole)
            total = mse
            if self.config.residual:
                # The seeded small config also learns the structure a smooth seed lacks.
                structure = losses.ssim_loss(comp, image, hole)
                total = total + self.ssim_weight * structure
                record["ssim_loss"] = structure.item()
            if self.detail_weight:
                detail = losses.detail_loss(comp, image, hole, target_ratio=self.detail_target)
                total = total + self.detail_weight * detail
                record["detail"] = detail.item()
            if phase == "joint":
                adv = losses.nsgan_g(self._discriminate(comp, hole), logits=False)
                total = total + self.alpha * adv
                record["adv"] = adv.item()
            self._update(self.optimizers["generator"], total)
            record["mse"] = mse.item()
            record["total"] = total.item()
        return record


class GDNTrainer(Trainer):
    name = "gdn"
    base = 10.0
    adversarial_weight = 0.01
    adversarial_from = 0.3

    def __init__(self, config, device, **kw):
        super().__init__(config, device, **kw)
        from .gdn import DenseDetector, GDNGenerator

        self.add("generator", GDNGenerator(config), betas=(0.0, 0.9))
        self.add("detector", DenseDetector(config), betas=(0.0, 0.9))

    def phase(self, progress):
        return "reconstruction" if progress < self.adversarial_from else "adversarial"

    def losses_used(self):
        return ["detector: focal loss (gamma 2, balanced by the hole ratio), label = hole for "
                "generated images, 0 for real ones",
                f"generator: L1 reconstruction alone for the first {self.adversarial_from:.0%} of "
                "the run (warm-up), then mean(10 ** D(out) * |out - gt|) + 0.01 x focal(D(out), "
                "no artifact)"]

    def step(self, image, hole, progress):
        gen, det = self.networks["generator"], self.networks["detector"]
        out = gen(image * (1 - hole), hole)
        # Detector: the generated image's artifacts are the hole (weak label), a real
        # image has none; one balanced focal loss over both.
        logits = det(torch.cat([out.detach(), image]))
        labels = torch.cat([hole, torch.zeros_like(hole)])
        d_loss = losses.focal_loss(logits, labels, gamma=2.0)
        self._update(self.optimizers["detector"], d_loss)
        # Generator: reconstruction weighted by base ** artifact probability.
        fake_logits = det(out)
        if progress < self.adversarial_from:
            # Warm-up: plain L1 reconstruction; the detector learns meanwhile but does
            # not yet steer the generator (its early, noisy maps made checkerboards).
            rec = losses.weighted_reconstruction(out, image, torch.zeros_like(hole), base=self.base)
        else:
            probability = torch.softmax(fake_logits, dim=1)[:, 1:2]
            rec = losses.weighted_reconstruction(out, image, probability.detach(), base=self.base)
        total = rec
        record = {"detector": d_loss.item(), "rec": rec.item()}
        if progress >= self.adversarial_from:
            adv = losses.focal_loss(fake_logits, torch.zeros_like(hole), gamma=2.0)
            total = rec + self.adversarial_weight * adv
            record["adv"] = adv.item()
        self._update(self.optimizers["generator"], total)
        record["total"] = total.item()
        return record


_GRAY = torch.tensor((0.2125, 0.7154, 0.0721)).view(1, 3, 1, 1)


class EdgeConnectTrainer(Trainer):
    name = "edgeconnect"
    adversarial_from = 0.3
    joint_from = 0.7

    def __init__(self, config, device, **kw):
        super().__init__(config, device, **kw)
        from .edgeconnect import EdgeGenerator, InpaintGenerator, PatchDiscriminator
        from .layers import add_spectral_norm

        self.add("edge", add_spectral_norm(EdgeGenerator(config)), lr_scale=1.0, betas=(0.0, 0.9))
        self.add("edge_discriminator", add_spectral_norm(PatchDiscriminator(2, config.width, use_sigmoid=False)),
                 lr_scale=0.1, betas=(0.0, 0.9))
        self.add("inpaint", InpaintGenerator(config), betas=(0.0, 0.9))
        self.add("inpaint_discriminator", add_spectral_norm(PatchDiscriminator(3, config.width, use_sigmoid=False)),
                 lr_scale=0.1, betas=(0.0, 0.9))

    def phase(self, progress):
        return "joint" if progress >= self.joint_from else "separate"

    def losses_used(self):
        used = [f"edge generator: binary cross-entropy to the Canny edges for the first "
                f"{self.adversarial_from:.0%} (warm-up), then nsgan adversarial x1 + feature "
                "matching x10 (spectral norm, PatchGAN discriminator)",
                "image generator: L1 / hole ratio x1 + nsgan adversarial x0.1 (from "
                f"{self.adversarial_from:.0%} of the run)"]
        if self.vgg is not None:
            used.append("image generator: perceptual x0.1 + style x250 (VGG-16)")
        return used

    def _edges(self, gray, hole):
        from ..edges import canny

        sigma = self.config.sigma
        g = gray[:, 0].cpu().numpy().astype(np.float64)
        h = hole[:, 0].cpu().numpy() > 0.5
        target = np.stack([canny(g[i], sigma=sigma) for i in range(len(g))])
        # Known edges as inference computes them: Canny of the known region only.
        known = np.stack([canny(g[i], sigma=sigma, mask=h[i]) for i in range(len(g))])
        as_t = lambda a: torch.from_numpy(a.astype(np.float32))[:, None].to(gray.device)  # noqa: E731
        return as_t(target), as_t(known)

    def inference_networks(self):
        from .edgeconnect import EdgeGenerator

        # Fold spectral norm: copy W / sigma into a plain generator. In eval mode the
        # parametrisation runs no power iteration, so folding leaves the run untouched.
        trained = self.networks["edge"]
        mode = trained.training
        trained.eval()
        plain = EdgeGenerator(self.config).to(self.device).eval()
        with torch.no_grad():
            for name, module in plain.named_modules():
                source = trained.get_submodule(name) if name else trained
                for pname in ("weight", "bias"):
                    if module._parameters.get(pname) is not None:
                        module._parameters[pname].copy_(getattr(source, pname))
        trained.train(mode)
        return {"edge": plain, "inpaint": self.networks["inpaint"]}

    def _edge_adversarial(self, gray, target_edges, pred):
        """EdgeConnect Eq. 1-3: the edge generator against its PatchGAN, plus feature
        matching."""
        nets, opts = self.networks, self.optimizers
        real_logits, real_feats = nets["edge_discriminator"](torch.cat([target_edges, gray], 1))
        fake_logits, _ = nets["edge_discriminator"](torch.cat([pred.detach(), gray], 1))
        d_edge = losses.nsgan_d(real_logits, fake_logits)
        self._update(opts["edge_discriminator"], d_edge)
        fake_logits, fake_feats = nets["edge_discriminator"](torch.cat([pred, gray], 1))
        adv_edge = losses.nsgan_g(fake_logits)
        fm = losses.feature_matching(real_feats, fake_feats)
        self._update(opts["edge"], adv_edge + 10 * fm)
        return {"edge_d": d_edge.item(), "edge_adv": adv_edge.item(), "edge_fm": fm.item()}

    def step(self, image, hole, progress):
        nets, opts = self.networks, self.optimizers
        gray = (image * _GRAY.to(image.device)).sum(dim=1, keepdim=True)
        target_edges, known_edges = self._edges(gray, hole)
        record = {}
        # Stage 1: edge model (EdgeConnect Eq. 1-3).
        pred = nets["edge"](gray, known_edges, hole)
        if progress < self.adversarial_from:
            # Warm-up: the edge generator learns the Canny edges by binary cross-entropy
            # before any adversarial term (adversarial-only edges start as noise).
            bce = F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), target_edges)
            self._update(opts["edge"], bce)
            record["edge_bce"] = bce.item()
            pred = pred.detach()
        else:
            record.update(self._edge_adversarial(gray, target_edges, pred))
        # Stage 2: image model on ground-truth edges, then (joint) on predicted ones.
        if progress >= self.joint_from:
            edges = pred.detach() * hole + known_edges * (1 - hole)
        else:
            edges = target_edges
        out = nets["inpaint"](image * (1 - hole), edges, hole)
        l1 = F.l1_loss(out, image) / hole.mean().clamp(min=1e-3)
        total = l1
        record["l1"] = l1.item()
        comp = hole * out + (1 - hole) * image
        vgg = self._vgg_terms(out, comp, image)
        if vgg is not None:
            total = total + 0.1 * vgg[0] + 250 * vgg[1]
            record.update(perceptual=vgg[0].item(), style=vgg[1].item())
        if progress >= self.adversarial_from:
            real_logits, _ = nets["inpaint_discriminator"](image)
            fake_logits, _ = nets["inpaint_discriminator"](out.detach())
            d_img = losses.nsgan_d(real_logits, fake_logits)
            self._update(opts["inpaint_discriminator"], d_img)
            fake_logits, _ = nets["inpaint_discriminator"](out)
            adv = losses.nsgan_g(fake_logits)
            total = total + 0.1 * adv
            record.update(inpaint_d=d_img.item(), adv=adv.item())
        self._update(opts["inpaint"], total)
        record["total"] = total.item()
        return record


class LamaTrainer(Trainer):
    """LaMa (Suvorov et al. 2022, Sec. 3 and ``configs/training/big-lama.yaml``): the
    generator on ``10 * L1(known) + 10 * adversarial + 100 * feature matching``, the
    PatchGAN on the non-saturating loss with an R1 penalty (0.001) on real images and the
    mask as the fake target (known pixels of a generated image count as real).

    The paper's high-receptive-field perceptual loss (ResNet-50 trained for ADE20k
    segmentation, weight 30) needs weights that cannot be downloaded here; in its place
    the hole gets an L1 term of weight ``hole_l1`` (the paper's L1 covers only the
    known pixels).
    """

    name = "lama"
    hole_l1 = 3.0
    known_l1 = 10.0
    adversarial_weight = 10.0
    feature_matching_weight = 100.0
    r1_weight = 0.001

    def __init__(self, config, device, **kw):
        super().__init__(config, device, **kw)
        from .lama import LamaGenerator, PatchDiscriminator

        # The release's optimiser ratio: discriminator at 0.1 x the generator's rate.
        self.add("generator", LamaGenerator(config), betas=(0.9, 0.999))
        self.add("discriminator", PatchDiscriminator(config), lr_scale=0.1, betas=(0.9, 0.999))

    def losses_used(self):
        return [f"generator: L1 known x{self.known_l1:g} + L1 hole x{self.hole_l1:g} (in place of the "
                "segmentation perceptual loss) + non-saturating adversarial x10 + feature matching x100",
                "discriminator: non-saturating, mask as fake target, R1 penalty x0.001 on real images"]

    def step(self, image, hole, progress):
        gen, disc = self.networks["generator"], self.networks["discriminator"]
        out = gen(image, hole)
        # Discriminator: real images real; a generated image fake inside the hole only.
        real = image.detach().requires_grad_(True)
        real_logits, _ = disc(real)
        fake_logits, _ = disc(out.detach())
        target = F.interpolate(hole, size=fake_logits.shape[-2:], mode="bilinear", align_corners=False)
        (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        r1 = grad.pow(2).flatten(1).sum(1).mean()
        d_loss = (F.softplus(-real_logits).mean() + self.r1_weight * r1
                  + (target * F.softplus(fake_logits) + (1 - target) * F.softplus(-fake_logits)).mean())
        self._update(self.optimizers["discriminator"], d_loss)
        # Generator.
        diff = (out - image).abs()
        l1 = (diff * (self.known_l1 * (1 - hole) + self.hole_l1 * hole)).mean()
        fake_logits, fake_feats = disc(out)
        with torch.no_grad():
            _, real_feats = disc(image)
        adv = F.softplus(-fake_logits).mean()
        fm = torch.stack([F.mse_loss(f, r) for f, r in zip(fake_feats, real_feats)]).mean()
        total = l1 + self.adversarial_weight * adv + self.feature_matching_weight * fm
        self._update(self.optimizers["generator"], total)
        return {"disc": d_loss.item(), "l1": l1.item(), "adv": adv.item(), "fm": fm.item(),
                "total": total.item()}


TRAINERS = {"pconv": PConvTrainer, "gl": GLTrainer, "gdn": GDNTrainer,
            "edgeconnect": EdgeConnectTrainer,
            "lama": LamaTrainer}


# --- validation -------------------------------------------------------------------

#: A fill whose mean chroma in the hole is further than this (in 8-bit levels, averaged
#: over the validation cases) from the truth's is logged as tinted. Smooth classical
#: fills score 2.7 (diffusion) and 3.7 (cv2 TELEA) on the validation set.
COLOUR_SHIFT_LIMIT = 4.0


def colour_shift(truth, result, hole) -> float:
    """How far the fill's mean colour in ``hole`` is from the truth's in chroma, in 8-bit
    levels: the larger of the red-green and yellow-blue opponent differences (the
    luminance is left out: a fill may be lighter or darker than what it replaces, but a
    green or red cast over a grey area is a defect). Grey images give 0 for a grey fill."""
    def opponents(pixels):
        red, green, blue = pixels[:, 0], pixels[:, 1], pixels[:, 2]
        return np.stack([red - green, (red + green) / 2 - blue], axis=1).mean(axis=0)

    return float(np.abs(opponents(result[hole]) - opponents(truth[hole])).max() * 255.0)


def validate(trainer: Trainer, cases) -> dict[str, float]:
    """Mean PSNR, SSIM and texture ratio of the composited fills of ``cases`` (through
    the same :class:`~inpaintkit.learned.backend.Backend` that inference uses), the PSNR
    on the object-shaped holes and on holes of 30 % and more alone, and the colour
    consistency check (:func:`colour_shift`, mean and worst case; ``val_tinted`` is 1
    when the mean is over :data:`COLOUR_SHIFT_LIMIT`)."""
    from .. import metrics
    from .backend import Backend

    backend = Backend(trainer.name, trainer.inference_networks(), trainer.config, trainer.device)
    scores = {"psnr": [], "ssim": [], "texture": [], "colour_shift": [], "object_psnr": [],
              "large_psnr": []}
    for image, hole, label in cases:
        out = backend.inpaint(image, hole)
        psnr = metrics.psnr(image, out, data_range=1.0)
        scores["psnr"].append(psnr)
        scores["ssim"].append(metrics.ssim(image, out, data_range=1.0))
        scores["colour_shift"].append(colour_shift(image, out, hole))
        if label == "object":
            scores["object_psnr"].append(psnr)
        elif hole.mean() > 0.3:
            scores["large_psnr"].append(psnr)
        texture = metrics.texture_ratio(image, out, hole)
        if texture == texture:
            scores["texture"].append(texture)
    result = {f"val_{k}": float(np.mean(v)) if v else float("nan") for k, v in scores.items()}
    result["val_colour_shift_max"] = float(np.max(scores["colour_shift"]))
    result["val_tinted"] = int(result["val_colour_shift"] > COLOUR_SHIFT_LIMIT)
    return result


def reference_scores(cases) -> dict[str, dict[str, float]]:
    """What classical fills score on the validation cases (cv2 TELEA and our default
    diffusion), with the keys :func:`validate` uses: the lines a model must clear."""
    import cv2

    from .. import metrics
    from ..algorithms.diffusion import inpaint_diffusion

    fills = {
        "cv2 TELEA": lambda image, hole: cv2.inpaint(
            np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), hole.astype(np.uint8), 3,
            cv2.INPAINT_TELEA) / 255.0,
        "diffusion": lambda image, hole: inpaint_diffusion(image, hole),
    }
    result = {}
    for name, fill in fills.items():
        psnr, ssim, shift = [], [], []
        for image, hole, _ in cases:
            out = fill(image, hole)
            psnr.append(metrics.psnr(image, out, data_range=1.0))
            ssim.append(metrics.ssim(image, out, data_range=1.0))
            shift.append(colour_shift(image, out, hole))
        result[name] = {"val_psnr": float(np.mean(psnr)), "val_ssim": float(np.mean(ssim)),
                        "val_colour_shift": float(np.mean(shift))}
    return result


def plot_curves(log_path, png_path) -> Path | None:
    """Draw the validation curves (PSNR, SSIM, texture ratio, colour shift) and the
    running reconstruction loss of a training log as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    val = [r for r in records if r.get("event") == "validation"]
    train_rows = [r for r in records if "event" not in r and "step" in r]
    if not val:
        return None
    panels = [("val_psnr", "PSNR (dB)"), ("val_large_psnr", "PSNR, holes > 30 % (dB)"),
              ("val_object_psnr", "PSNR, object holes (dB)"), ("val_ssim", "SSIM"),
              ("val_texture", "texture ratio"), ("val_colour_shift", "colour shift (8-bit levels)")]
    references = next((r["scores"] for r in reversed(records) if r.get("event") == "reference"), {})
    figure, axes = plt.subplots(2, 4, figsize=(16, 6.5))
    for axis, (key, title) in zip(axes.flat, panels):
        points = [(r["step"], r[key]) for r in val if r.get(key) == r.get(key) and key in r]
        if points:
            axis.plot(*zip(*points), marker=".", label="model")
        for (name, scores), colour in zip(references.items(), ("tab:orange", "tab:green")):
            if key in scores:
                axis.axhline(scores[key], color=colour, linestyle="--", linewidth=1, label=name)
        if key == "val_colour_shift":
            axis.axhline(COLOUR_SHIFT_LIMIT, color="red", linestyle=":", linewidth=1, label="tint limit")
        if key in ("val_psnr", "val_ssim", "val_colour_shift") and (references or key == "val_colour_shift"):
            axis.legend(fontsize=7)
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    loss_key = next((k for k in ("mse", "hole", "rec", "l1", "total") if train_rows and k in train_rows[-1]), None)
    axis = axes.flat[6]
    if loss_key:
        points = [(r["step"], r[loss_key]) for r in train_rows if loss_key in r]
        axis.plot(*zip(*points), linewidth=0.5, alpha=0.4)
        steps, values = np.array(points).T
        width = max(1, len(values) // 20)
        smooth = np.convolve(values, np.ones(width) / width, mode="valid")
        axis.plot(steps[width - 1:], smooth, linewidth=1.5)
        axis.set_yscale("log")
    axis.set_title(f"training loss ({loss_key})")
    axis.set_xlabel("step")
    axis.grid(alpha=0.3)
    axis = axes.flat[7]
    points = [(r["step"], r["lr"]) for r in train_rows if "lr" in r]
    if points:
        axis.plot(*zip(*points))
    axis.set_title("learning rate")
    axis.set_xlabel("step")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    tmp = Path(png_path).with_name(Path(png_path).name + ".tmp.png")
    figure.savefig(tmp, dpi=80)
    plt.close(figure)
    tmp.replace(png_path)
    return Path(png_path)


# --- checkpoints -----------------------------------------------------------------------

def read_state(path) -> dict:
    """Read a ``.state`` training file (``path`` may be it or the weights file beside it)."""
    path = Path(path).expanduser()
    if path.suffix != ".state" and state_path(path).exists():
        path = state_path(path)
    if not path.exists():
        raise FileNotFoundError(f"training state not found: {path} (resume takes the .state file "
                                "written next to the weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read training state {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not an inpaintkit training state")
    return state


def best_path(out) -> Path:
    """Where the best-validating weights of a run go: ``name.best.pt`` beside ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.best{out.suffix}")


def validation_score(val: dict) -> float:
    """What "best" means for :func:`best_path`: SSIM x 100 + PSNR (0.01 SSIM weighs as
    1 dB: both are what the shipping bar compares with cv2 TELEA)."""
    return 100.0 * val["val_ssim"] + val["val_psnr"]


def _save_best(trainer, options, step, elapsed, data, last_val):
    save_checkpoint(best_path(options.out), trainer.name, trainer.inference_networks(), trainer.config,
                    metadata=_metadata(trainer, options, step, elapsed, data, last_val, final=False))


def _metadata(trainer, options, step, elapsed, data, last_val, *, final):
    metadata = {
        "trained_by": "inpaintkit train",
        "data": {"folder": str(options.data), **data.describe()},
        "steps": step, "batch": options.batch, "crop": options.size, "seed": options.seed,
        "wall_time_s": round(elapsed, 1), "device": str(trainer.device),
        "torch_threads": torch.get_num_threads(),
        "losses": trainer.losses_used(),
        "vgg": options.vgg or "none: perceptual/style terms off (no VGG-16 weights file given)",
        "lr": options.lr, "complete": final,
    }
    if last_val:
        metadata["validation"] = last_val
    return metadata


def _save(trainer, options, step, elapsed, data, last_val, *, final=False, best=None):
    out = Path(options.out)
    metadata = _metadata(trainer, options, step, elapsed, data, last_val, final=final)
    save_checkpoint(out, trainer.name, trainer.inference_networks(), trainer.config, metadata=metadata)
    payload = {
        "format": STATE_FORMAT, "model": trainer.name, "config": trainer.config.to_dict(),
        "options": dataclasses.asdict(options), "step": step, "elapsed": elapsed,
        "networks": {k: v.state_dict() for k, v in trainer.networks.items()},
        "optimizers": {k: v.state_dict() for k, v in trainer.optimizers.items()},
        "torch_rng": torch.get_rng_state(), "last_val": last_val, "best_score": best,
    }
    tmp = state_path(out).with_name(state_path(out).name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(state_path(out))


# --- the loop ------------------------------------------------------------------------

def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _interrupt_on_sigterm():
    """SIGTERM (``kill``, a batch scheduler) saves like Ctrl-C does; background jobs
    started from a non-interactive shell ignore SIGINT, so this is their way to stop."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def _restore_sigterm(previous):
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


class _Log:
    def __init__(self, path, append):
        self.path = Path(path)
        self.file = open(self.path, "a" if append else "w")

    def write(self, record):
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


def _curves(log, options):
    """Refresh the validation-curve PNG beside the weights (``out`` + ``.curve.png``)."""
    if not options.curves:
        return
    try:
        plot_curves(log.path, str(options.out) + ".curve.png")
    except Exception as exc:  # a plotting problem must never stop a long run
        print(f"inpaintkit train: could not draw the validation curves: {exc}", file=sys.stderr)


def _check(options: TrainOptions):
    if options.model not in TRAINERS:
        raise ValueError(f"unknown model {options.model!r}; valid models: {', '.join(TRAINERS)}")
    if options.config not in ("small", "paper"):
        raise ValueError(f"config must be 'small' or 'paper', got {options.config!r}")
    for name in ("steps", "batch"):
        value = getattr(options, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(options.size, int) or options.size < 32 or options.size % 16:
        raise ValueError(f"size must be a multiple of 16, at least 32, got {options.size!r}")
    if not options.lr > 0:
        raise ValueError(f"lr must be > 0, got {options.lr!r}")
    if options.time_limit is not None and not options.time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds, got {options.time_limit!r}")


def train(options: TrainOptions, *, resume=None) -> dict:
    """Train ``options.model`` and write ``options.out`` (weights) and its ``.state``.

    Parameters
    ----------
    options : TrainOptions
    resume : path, optional
        A ``.state`` file (or the weights file beside it) of an earlier run with the same
        model: networks, optimisers and step are restored and the run continues; the
        batches are those an uninterrupted run would have drawn.

    Returns
    -------
    dict
        ``step`` reached, ``elapsed`` seconds, ``history`` (the loss records of the steps
        run in this call), ``validation`` (the last metrics), ``interrupted``.

    On ``KeyboardInterrupt`` the current state is saved, then the exception propagates.
    """
    from .backend import resolve_device
    from .data import InpaintingData

    _check(options)
    device = resolve_device(options.device)
    config_class = TABLE[options.model][0]
    config = getattr(config_class, options.config)()
    state = read_state(resume) if resume is not None else None
    if state is not None and state["model"] != options.model:
        raise ValueError(f"cannot resume: {resume} is a {state['model']!r} run, not {options.model!r}")

    torch.manual_seed(options.seed)
    data = InpaintingData(options.data, size=options.size, seed=options.seed)
    trainer = TRAINERS[options.model](config, device, lr=options.lr, vgg=options.vgg, size=options.size)
    trainer.configure(options)
    start, elapsed_before, last_val, best_score = 0, 0.0, {}, None
    if state is not None:
        for name, net in trainer.networks.items():
            net.load_state_dict(state["networks"][name], strict=True)
        for name, opt in trainer.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["torch_rng"])
        start, elapsed_before = int(state["step"]), float(state["elapsed"])
        last_val = state.get("last_val") or {}
        best_score = state.get("best_score")
    validation_cases = data.validation(options.val_count)

    log = _Log(options.log or str(options.out) + ".log.jsonl", append=state is not None)
    if state is None:
        log.write({"event": "start", "model": options.model, "config": options.config,
                   "options": dataclasses.asdict(options), "losses": trainer.losses_used(),
                   "vgg": options.vgg or "no VGG-16 weights: perceptual and style terms are off",
                   "data": data.describe()})
    else:
        log.write({"event": "resume", "step": start})
    if options.curves:
        log.write({"event": "reference", "step": start, "scores": reference_scores(validation_cases)})
    if trainer.vgg is None and options.model in ("pconv", "edgeconnect"):
        print(f"inpaintkit train: no VGG-16 weights (--vgg): {options.model}'s perceptual and "
              "style losses are off", file=sys.stderr)

    bar = None
    if options.progress:
        from tqdm import tqdm

        bar = tqdm(total=options.steps, initial=start, desc=f"train {options.model}", file=sys.stderr,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)
    clock = time.monotonic()
    last_save = clock
    running: dict[str, float] = {}
    window: dict[str, list[float]] = {}
    history = []
    step = start
    interrupted = False

    def elapsed():
        return elapsed_before + time.monotonic() - clock

    def progress_at(s):
        value = s / options.steps
        if options.time_limit:
            value = max(value, elapsed() / options.time_limit)
        return min(value, 1.0)

    previous_handler = _interrupt_on_sigterm()
    try:
        while step < options.steps:
            if options.time_limit and elapsed() >= options.time_limit:
                break
            if options.stop_after is not None and step - start >= options.stop_after:
                break
            progress = progress_at(step)
            trainer.set_lr(progress)
            trainer.set_train(progress)
            images, holes = data.batch(step, options.batch)
            image_t = torch.from_numpy(images).to(device)
            hole_t = torch.from_numpy(holes).to(device)
            record = trainer.step(image_t, hole_t, progress)
            step += 1
            history.append(record)
            for key, value in record.items():
                running[key] = value if key not in running else 0.98 * running[key] + 0.02 * value
                window.setdefault(key, []).append(value)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(" ".join(f"{k}={v:.4f}" for k, v in running.items()), refresh=False)
            if step % options.log_every == 0 or step == options.steps:
                log.write({"step": step, "phase": trainer.phase(progress), "elapsed_s": round(elapsed(), 1),
                           "lr": lr_factor(progress) * options.lr,
                           **{k: float(np.mean(v)) for k, v in window.items()}})
                window = {}
            if step % options.val_every == 0 or step == options.steps:
                last_val = validate(trainer, validation_cases)
                log.write({"step": step, "event": "validation", **last_val})
                _curves(log, options)
                score = validation_score(last_val)
                if best_score is None or score > best_score:
                    best_score = score
                    _save_best(trainer, options, step, elapsed(), data, last_val)
                    log.write({"step": step, "event": "best", "score": score,
                               "path": str(best_path(options.out))})
            if time.monotonic() - last_save >= options.checkpoint_every:
                _save(trainer, options, step, elapsed(), data, last_val, best=best_score)
                log.write({"step": step, "event": "checkpoint", "elapsed_s": round(elapsed(), 1)})
                last_save = time.monotonic()
    except KeyboardInterrupt:
        interrupted = True
        _save(trainer, options, step, elapsed(), data, last_val, best=best_score)
        log.write({"step": step, "event": "interrupted", "elapsed_s": round(elapsed(), 1)})
        log.close()
        if bar is not None:
            bar.close()
        raise
    finally:
        _restore_sigterm(previous_handler)
    if not history or "val_psnr" not in last_val or step % options.val_every:
        last_val = validate(trainer, validation_cases)
        log.write({"step": step, "event": "validation", **last_val})
        _curves(log, options)
    # Complete: all steps done, or stopped by the time limit (not by stop_after).
    timed_out = bool(options.time_limit) and elapsed() >= options.time_limit
    _save(trainer, options, step, elapsed(), data, last_val, final=step >= options.steps or timed_out,
          best=best_score)
    log.write({"step": step, "event": "done", "elapsed_s": round(elapsed(), 1)})
    log.close()
    if bar is not None:
        bar.close()
    return {"step": step, "elapsed": elapsed(), "history": history, "validation": last_val,
            "interrupted": interrupted}
