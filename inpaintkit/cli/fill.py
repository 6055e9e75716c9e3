"""``inpaintkit fill``: inpaint one image file, write the result atomically."""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path
from typing import Iterator

import click

from ._shared import (
    ProgressDisplay, check_not_input, check_output, interruptible, parse_scoped_params,
    user_errors,
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
              help="A method option, repeatable, e.g. --param variant=tv. Scope it to one "
                   "method with METHOD.KEY=VALUE (--param patchmatch.patch_size=9 applies "
                   "only if patchmatch runs, handy with auto). Options named *_mask take an "
                   "image file of the same size (non-black = marked), e.g. "
                   "--param source_mask=people.png for patchmatch.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--invert-mask", is_flag=True, help="Treat the mask's black pixels as the hole.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--max-pixels", default=None, metavar="N",
              help="Refuse images with more pixels, from the file header before decoding "
                   "(e.g. 500M, 2G; default: $INPAINTKIT_MAX_PIXELS or 500M).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option("--progress/--no-progress", default=None,
              help="Force the progress bar on or off (default: on a terminal).")
def command(image: Path, mask: Path | None, out: Path, method: str, params: tuple[str, ...],
            seed: int, invert_mask: bool, overwrite: bool, max_pixels: str | None, quiet: bool,
            progress: bool | None) -> None:
    """Fill the hole of IMAGE marked by MASK and write the result to OUTPUT.

    MASK is any image of the same size (in any format) whose non-black pixels mark the
    hole. Without MASK, the transparent pixels of an RGBA IMAGE are the hole. IMAGE
    and MASK are never modified; OUTPUT is written atomically, and Ctrl-C leaves no
    partial file. Everything that can be checked before the fill (the output path and
    format, the options, the image size from its header, the memory needed) is
    checked first.
    """
    # Imported here, not at the top: `inpaintkit --help` imports every command's module
    # for its summary line and then needs no NumPy.
    import numpy as np

    import inpaintkit
    from inpaintkit import _windows, io, registry
    from inpaintkit._image import check_memory

    with interruptible(), user_errors(), _limit(max_pixels):
        inputs = [image] + ([mask] if mask is not None else [])
        check_output(out, inputs, overwrite)
        io.check_output_path(out)
        if method != "auto":
            registry.get(method).load()  # unknown or not installed: said before reading
        options = parse_scoped_params(params, method)
        if method != "auto":
            # The least the method can need (one 8-bit channel, no hole), from the header:
            # a machine that cannot hold even that is told before anything is decoded.
            header = io.image_header(image)
            check_memory(method, (header.height, header.width), np.uint8, 0,
                         windowed=_windows.worth_it(method, (header.height, header.width),
                                                    options))
        pixels = io.read_image(image)
        hole = (io.read_mask(mask, pixels.shape[:2]) if mask is not None
                else io.alpha_hole(pixels))
        if invert_mask:
            hole = ~hole
        if not hole.any():
            raise click.ClickException(
                "the mask marks no hole pixels: nothing to fill"
                + ("" if invert_mask else " (if the hole is black, pass --invert-mask)")
            )
        chosen = inpaintkit.choose_method(hole, pixels) if method == "auto" else method
        spec = registry.get(chosen)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            options = registry.resolve_params(method, chosen, options)
        for warning in caught:
            click.echo(f"inpaintkit: warning: {warning.message}", err=True)
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
        if out.suffix.lower() in (".jpg", ".jpeg") and pixels.ndim == 3 and pixels.shape[2] == 4:
            raise click.ClickException(
                f"{out} is JPEG, which cannot store the alpha channel of {image}; "
                "write PNG or TIFF instead")
        spec.load()  # what auto picked: a missing dependency is reported before the work
        check_memory(chosen, pixels.shape, pixels.dtype, int(np.count_nonzero(hole)),
                     windowed=_windows.worth_it(chosen, pixels.shape, options, hole),
                     hole=hole, params=options)
        if method == "auto" and not quiet:
            click.echo(f"inpaintkit: method auto -> {chosen}", err=True)
        if not quiet:
            from inpaintkit.warmup import compile_notice

            notice = compile_notice(chosen, hole, options)
            if notice:
                click.echo(f"inpaintkit: {notice}", err=True)
        if spec.kind == "learned" and "weights" not in options and not quiet:
            from inpaintkit import learned

            if chosen in learned.MODELS and learned.shipped_weights(chosen) is not None:
                click.echo(f"inpaintkit: {chosen}: {learned.weights_summary(chosen)}", err=True)
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



@contextlib.contextmanager
def _limit(text: str | None) -> Iterator[None]:
    """--max-pixels for the whole command: the header checks and the array checks."""
    from inpaintkit._image import parse_pixel_count, pixel_limit

    with user_errors():
        limit = None if text is None else parse_pixel_count(text, name="--max-pixels")
    with pixel_limit(limit):
        yield
