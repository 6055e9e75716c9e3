"""``inpaintkit methods``: list the registered methods and their options."""

from __future__ import annotations

import json

import click


@click.command("methods")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def command(as_json: bool) -> None:
    """List the methods, their kind, and their options with defaults."""
    import inpaintkit

    rows = inpaintkit.methods()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=repr))
        return
    for row in rows:
        click.echo(f"{row['name']:<12} {row['kind']:<10} {row['description']}")
        # What stops a method comes first; then which weights it uses, then its options.
        if row["params"] is None:
            click.echo(f"{'':<12} unavailable: {row['error']}")
        if row.get("weights"):
            click.echo(f"{'':<12} weights: {row['weights']}")
        if row["params"]:
            options = ", ".join(f"{k}={v!r}" for k, v in row["params"].items())
            click.echo(f"{'':<12} options: {options}")
