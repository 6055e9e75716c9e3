"""``inpaintkit planes``: draw the planar structure that the ``planar`` method sees."""

from __future__ import annotations

from pathlib import Path

import click

from ._shared import check_output, user_errors


@click.command("planes")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("mask", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the picture (PNG, JPEG or TIFF, by extension).")
@click.option("--max-vps", default=3, show_default=True, type=int,
              help="Vanishing points sought (as the planar method's max_vps).")
@click.option("--regularity/--no-regularity", default=True, show_default=True,
              help="Detect and draw each plane's regularity vectors.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--invert-mask", is_flag=True, help="Treat the mask's black pixels as the hole.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def command(image: Path, mask: Path | None, out: Path, max_vps: int, regularity: bool, seed: int,
            invert_mask: bool, overwrite: bool, quiet: bool) -> None:
    """Draw the vanishing points, planes and regularity found in IMAGE.

    Three panels side by side: the line segments coloured by vanishing point; the
    plane posterior (each plane a colour, the fronto-parallel plane gray; the hole
    outlined), continued into the hole as the planar method uses it; and each
    plane's regularity vectors as arrows. MASK (optional, non-black = hole) is
    ignored for detection, as in "inpaintkit fill --method planar". Use it to see
    why a planar fill went wrong: a missing vanishing point, a plane posterior that
    does not reach into the hole, or no regularity.
    """
    import numpy as np

    from inpaintkit import io, structure
    from inpaintkit.algorithms.planar import analyse

    inputs = [image] + ([mask] if mask is not None else [])
    check_output(out, inputs, overwrite)
    with user_errors():
        if max_vps < 2:
            raise click.ClickException(f"--max-vps must be >= 2 (a plane needs two), got {max_vps}")
        pixels = io.read_image(image)
        if mask is not None:
            hole = io.read_mask(mask, pixels.shape[:2])
            if invert_mask:
                hole = ~hole
        else:
            hole = np.zeros(pixels.shape[:2], bool)
        planes = analyse(pixels, hole, max_vps=max_vps, use_regularity=regularity, seed=seed)
        io.write_image(out, structure.render_planes(pixels, planes, hole))
    if not quiet:
        counts = ", ".join(str(len(v)) for v in planes.regularity[:-1]) or "none"
        click.echo(
            f"inpaintkit: {len(planes.vanishing_points)} vanishing points, "
            f"{len(planes.planes) - 1} planes (+ fronto-parallel), regularity vectors per "
            f"plane: {counts} -> {out}",
            err=True,
        )
