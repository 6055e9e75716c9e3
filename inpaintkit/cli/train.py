"""``inpaintkit train``: train a learned backend on a folder of images."""

from __future__ import annotations

import sys

import click

from ._shared import user_errors

MODELS = ("gl", "pconv", "gdn", "edgeconnect", "lama")


@click.command("train")
@click.argument("model", type=click.Choice(MODELS))
@click.option("--data", required=True, type=click.Path(file_okay=False),
              help="Folder of training images (or with train/ and val/ subfolders).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Weights file to write (.pt); the run's state goes to OUT.state, the log "
                   "to OUT.log.jsonl.")
@click.option("--config", type=click.Choice(["small", "paper"]), default="small", show_default=True)
@click.option("--size", type=int, default=128, show_default=True, help="Training crop side (pixels).")
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--resume", type=click.Path(dir_okay=False), default=None,
              help="Continue the run saved in this .state file (or the weights file beside it).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--vgg", type=click.Path(dir_okay=False), default=None,
              help="Local VGG-16 weights (torchvision layout) for the perceptual/style losses; "
                   "without it those terms are off.")
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Generator learning rate.")
@click.option("--time-limit", type=float, default=None,
              help="Stop after this many minutes (phases then follow elapsed time).")
@click.option("--checkpoint-every", type=float, default=3.0, show_default=True,
              help="Minutes between checkpoints.")
@click.option("--val-every", type=int, default=250, show_default=True,
              help="Steps between validation scores.")
@click.option("--threads", type=int, default=0, show_default=True,
              help="torch intra-op threads (0: torch's default).")
def command(model, data, out, config, size, steps, batch, resume, device, seed, vgg, lr,
            time_limit, checkpoint_every, val_every, threads):
    """Train MODEL (gl, pconv, gdn, edgeconnect, lama) with its paper's objective.

    \b
    Examples:
      inpaintkit train pconv --data photos/ --out pconv_small.pt --steps 3000
      inpaintkit train pconv --data photos/ --out pconv_small.pt --resume pconv_small.pt.state
    Ctrl-C saves a usable checkpoint; --resume continues the same run.
    """
    with user_errors():
        import torch

        from ..learned.train import TrainOptions, train

        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        if threads:
            torch.set_num_threads(threads)
        if checkpoint_every <= 0:
            raise ValueError(f"--checkpoint-every must be > 0 minutes, got {checkpoint_every}")
        options = TrainOptions(
            model=model, data=data, out=out, config=config, size=size, steps=steps, batch=batch,
            device=device, seed=seed, vgg=vgg, lr=lr,
            time_limit=None if time_limit is None else time_limit * 60.0,
            checkpoint_every=checkpoint_every * 60.0, val_every=val_every)
        try:
            result = train(options, resume=resume)
        except KeyboardInterrupt:
            click.echo(f"\ninpaintkit train: interrupted; checkpoint saved to {out} "
                       f"(continue with --resume {out}.state)", err=True)
            sys.exit(130)
    val = result["validation"]
    click.echo(f"wrote {out} after {result['step']} steps ({result['elapsed'] / 60:.1f} min); "
               f"validation PSNR {val.get('val_psnr', float('nan')):.2f} dB, "
               f"SSIM {val.get('val_ssim', float('nan')):.3f}, "
               f"texture {val.get('val_texture', float('nan')):.2f}")
