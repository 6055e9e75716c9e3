"""``inpaintkit weights``: list, fetch, add and locate published checkpoints."""

from __future__ import annotations

import json
import sys

import click

from ._shared import user_errors


@click.group("weights")
def command():
    """Published checkpoints: list them, download one, register a file you have.

    \b
    Examples:
      inpaintkit weights list
      inpaintkit weights fetch big-lama
      inpaintkit weights add big-lama ~/Downloads/big-lama.zip
      inpaintkit fill photo.png mask.png -o out.png --method lama --param weights=big-lama

    Nothing is downloaded except by `fetch`. The cache folder is printed by
    `inpaintkit weights path` (INPAINTKIT_CACHE overrides it).
    """


def _size(value):
    if not value:
        return "size not published"
    return f"{value / 2 ** 20:.1f} MiB"


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json):
    """Every published checkpoint inpaintkit reads, and what is cached."""
    with user_errors():
        from ..learned import manager

        records = manager.entries()
    if as_json:
        click.echo(json.dumps(records, indent=1, default=str))
        return
    for record in records:
        click.echo(f"{record['name']}  [{record['model']}]  {record['status']}")
        if record.get("path"):
            click.echo(f"  path:     {record['path']}")
        if record["network"] == "added by the user":
            click.echo(f"  source:   {record.get('source')}")
            click.echo("")
            continue
        click.echo(f"  network:  {record['network']}")
        click.echo(f"  config:   {record['config']}")
        click.echo(f"  paper:    {record['paper']}")
        click.echo(f"  data:     {record['data']}")
        click.echo(f"  licence:  {record['licence']}")
        click.echo(f"  files:    {', '.join(record['files'])}")
        click.echo(f"  from:     {record['page']}")
        if record.get("url"):
            checks = ", ".join(f"{k} {record[k]}" for k in ("sha256", "md5") if record.get(k)) or "no checksum published"
            click.echo(f"  download: {record['url']} ({_size(record.get('size'))}; {checks})")
        if record.get("note"):
            click.echo(f"  note:     {record['note']}")
        click.echo("")


@command.command("fetch")
@click.argument("name")
@click.option("--url", default=None, help="Download from this mirror instead of the published URL.")
@click.option("--force", is_flag=True, help="Download again even if the file is cached.")
@click.option("--retries", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Automatic resumes after a dropped connection.")
def fetch_command(name, url, force, retries):
    """Download NAME into the cache (resumable: run it again after an interruption)."""
    with user_errors():
        from ..learned import manager

        try:
            path = manager.fetch(name, url=url, force=force, retries=retries)
        except KeyboardInterrupt:
            click.echo(f"\ninpaintkit weights: interrupted; the partial download is kept in "
                       f"{manager.cache_dir() / name} (run the same command again to resume)", err=True)
            sys.exit(130)
    click.echo(f"{name}: {path}")


@command.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True))
@click.option("--model", default=None,
              help="The method the file is for (gl, pconv, gdn, edgeconnect, lama); by default "
                   "the catalogue's, or found by trying each reader.")
def add_command(name, path, model):
    """Register the checkpoint PATH you already have under NAME (it is checked by a
    strict load and copied into the cache)."""
    with user_errors():
        from ..learned import manager

        cached = manager.add(name, path, model=model)
    click.echo(f"{name}: {cached}")


@command.command("path")
@click.argument("name", required=False)
def path_command(name):
    """Print the cached file of NAME, or the cache folder without NAME."""
    with user_errors():
        from ..learned import manager

        click.echo(str(manager.path_of(name) if name else manager.cache_dir()))
