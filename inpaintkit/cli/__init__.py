"""The ``inpaintkit`` command line: a click group whose commands live one per module.

Every module ``inpaintkit/cli/<name>.py`` that defines ``command`` becomes the
subcommand ``<name>`` (underscores become dashes); packages can add more through the
``inpaintkit.commands`` entry-point group. A command that fails to import is skipped
with a warning: one broken command does not break the others.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import sys

import click

from .. import __version__


_GROUP = "inpaintkit.commands"


@functools.lru_cache(maxsize=None)
def _builtin_modules() -> dict[str, str]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            found[info.name.replace("_", "-")] = f"{__name__}.{info.name}"
    return found


def _may_have_plugins() -> bool:
    """Whether some installed distribution may declare ``inpaintkit.commands`` entry
    points: a look at the ``entry_points.txt`` files on ``sys.path`` (a few ms),
    instead of importing ``importlib.metadata`` and parsing every distribution's
    metadata (about 0.1 s, half of ``inpaintkit --help``). True where the look cannot
    tell (a zip archive on the path)."""
    header = f"[{_GROUP}]"
    for entry in sys.path:
        try:
            listing = os.scandir(entry or ".")
        except NotADirectoryError:
            return True  # a zip archive: let importlib.metadata read it
        except OSError:
            continue  # a path entry that does not exist
        with listing:
            for item in listing:
                if not item.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(item.path, "entry_points.txt"),
                              encoding="utf-8", errors="replace") as handle:
                        if header in handle.read():
                            return True
                except OSError:
                    continue
    return False


def _plugins():
    """The ``inpaintkit.commands`` entry points (importlib.metadata is imported only
    here, and only when some distribution declares that group: running a built-in
    command or listing them does not need it)."""
    if not _may_have_plugins():
        return ()
    from importlib.metadata import entry_points

    return entry_points(group=_GROUP)


class _LazyGroup(click.Group):
    """Imports a command's module only when the command is listed or run."""

    def list_commands(self, ctx):
        names = set(_builtin_modules())
        names.update(ep.name for ep in _plugins())
        return sorted(names)

    def get_command(self, ctx, name):
        builtin = _builtin_modules()
        try:
            if name in builtin:
                return importlib.import_module(builtin[name]).command
            for ep in _plugins():
                if ep.name == name:
                    return ep.load()
        except Exception as exc:  # a broken command must not break the CLI
            click.echo(f"inpaintkit: warning: command {name!r} is unavailable: {exc}", err=True)
        return None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inpaintkit")
def cli():
    """Fill the holes of images: scratches, watermarks, removed objects.

    \b
    Examples:
      inpaintkit fill photo.png mask.png -o filled.png
      inpaintkit fill photo.png mask.png -o out.png --method patchmatch --param patch_size=9
      inpaintkit fill cutout.png -o out.png        (transparent pixels are the hole)
      inpaintkit compare photo.png mask.png -o cmp/   (every method side by side)
      inpaintkit batch scans/ -o filled/ --mask-suffix _mask
      inpaintkit serve --open                       (paint the hole in a browser)
      inpaintkit methods
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors end with one line on stderr and a non-zero exit."""
    try:
        code = cli.main(args=argv, prog_name="inpaintkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("inpaintkit: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"inpaintkit: error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"inpaintkit: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
