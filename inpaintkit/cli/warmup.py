"""``inpaintkit warmup``: compile and cache the classical methods' kernels ahead of use."""

from __future__ import annotations

import click

from ._shared import user_errors


@click.command("warmup")
@click.option("-m", "--methods", default=None, metavar="A,B",
              help="Comma-separated methods (default: every classical method).")
def command(methods: str | None) -> None:
    """Compile the Numba kernels once, so the first fill is as fast as the next.

    Kernels are cached on disk; run this after installing or upgrading, or on each
    worker of a cluster before a batch (the cache lives beside the installed package
    or in NUMBA_CACHE_DIR when that is set).
    """
    from inpaintkit import registry, warmup

    with user_errors():
        names = None
        if methods:
            names = [m.strip() for m in methods.split(",") if m.strip()]
            for name in names:
                if registry.get(name).kind != "classical":
                    raise click.ClickException(
                        f"{name!r} is a learned method: it has no kernels to compile")
        for row in warmup.warmup(names):
            state = "already cached" if row["was_cached"] else "compiled and cached"
            click.echo(f"{row['method']:>12}  {row['seconds']:6.1f} s  {state}")
