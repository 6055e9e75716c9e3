"""``inpaintkit fill``: inpaint one image file, write the result atomically."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from ._shared import (
    ProgressDisplay, check_not_input, check_output, parse_params, user_errors,
)


@click.command("fill")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("mask", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the result (PNG, JPEG or TIFF, by extension).")
@click.option("-m", "--method", default="auto", show_default=True,
              help="A method from 'inpaintkit methods', or auto (diffusion for thin holes, "
                   "patchmatch for large ones).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A method option, repeatable, e.g. --param variant=tv. Options named "
                   "*_mask take an image file of the same size (non-black = marked), e.g. "
                   "--param source_mask=people.png for patchmatch.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--invert-mask", is_flag=True, help="Treat the mask's black pixels as the hole.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option("--progress/--no-progress", default=None,
              help="Force the progress bar on or off (default: on a terminal).")
def command(image: Path, mask: Path | None, out: Path, method: str, params: tuple[str, ...],
            seed: int, invert_mask: bool, overwrite: bool, quiet: bool,
            progress: bool | None) -> None:
    """Fill the hole of IMAGE marked by MASK and write the result to OUTPUT.

    MASK is any image of the same size whose non-black pixels mark the hole. Without
    MASK, the transparent pixels of an RGBA IMAGE are the hole. IMAGE and MASK are
    never modified.
    """
    import inpaintkit
    from inpaintkit import io, registry

    inputs = [image] + ([mask] if mask is not None else [])
    check_output(out, inputs, overwrite)
    with user_errors():
        pixels = io.read_image(image)
        hole = io.read_mask(mask, pixels.shape[:2]) if mask is not None else io.alpha_hole(pixels)
        if invert_mask:
            hole = ~hole
        if not hole.any():
            raise click.ClickException(
                "the mask marks no hole pixels: nothing to fill"
                + ("" if invert_mask else " (if the hole is black, pass --invert-mask)")
            )
        chosen = inpaintkit.choose_method(hole, pixels) if method == "auto" else method
        spec = registry.get(chosen)
        options = parse_params(params, spec.params(), chosen)
        # Mask options name files: inputs too, never to be written over.
        mask_files = {key: Path(value) for key, value in options.items()
                      if key.endswith("_mask") and isinstance(value, str)}
        check_not_input(out, list(mask_files.values()))
        for key, path in mask_files.items():
            options[key] = io.read_mask(path, pixels.shape[:2])
        extras = [key for key, value in options.items() if key.startswith("return_") and value]
        if extras:
            raise click.ClickException(
                f"--param {extras[0]} makes {chosen} return more than an image, which fill "
                "cannot write; call inpaintkit.inpaint from Python for it"
            )
        if method == "auto" and not quiet:
            click.echo(f"inpaintkit: method auto -> {chosen}", err=True)
        display = ProgressDisplay(f"filling with {chosen}", force=bool(progress))
        if progress is False:
            display.enabled = False
        start = time.perf_counter()
        with display.running():
            result = inpaintkit.inpaint(pixels, hole, method=chosen, seed=seed, **options)
        seconds = time.perf_counter() - start
        io.write_image(out, result)
    if not quiet:
        click.echo(
            f"inpaintkit: filled {int(np.count_nonzero(hole))} pixels with {chosen} "
            f"in {seconds:.2f} s -> {out}",
            err=True,
        )
