"""``inpaintkit convert-gdn``: turn GDN's TensorFlow checkpoint into an inpaintkit one."""

from __future__ import annotations

import click

from ._shared import user_errors


@click.command("convert-gdn")
@click.argument("ckpt_prefix", type=click.Path())
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the converted checkpoint (.pt).")
def command(ckpt_prefix: str, output: str) -> None:
    """Convert the GDN authors' TensorFlow checkpoint CKPT_PREFIX (the path without
    .index/.data-*) into an inpaintkit checkpoint usable as
    `--method gdn --param weights=OUT`. Needs TensorFlow, once."""
    try:
        import tensorflow  # noqa: F401  (checked first: the message must be about TF)
    except ImportError:
        raise click.ClickException(
            "convert-gdn needs TensorFlow, which is not installed here; run it where "
            "TensorFlow is installed (pip install tensorflow)"
        ) from None
    with user_errors():
        from ..learned.checkpoints import convert_gdn_tensorflow

        path = convert_gdn_tensorflow(ckpt_prefix, output)
    click.echo(f"wrote {path}")
