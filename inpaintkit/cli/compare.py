"""``inpaintkit compare``: run several methods on one image, write a self-contained page."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import click

from ._shared import check_not_input, parse_params, user_errors

#: What the page writes inside DIR; inputs there would be overwritten.
_WRITTEN = ("index.html", "images", "static")


class _MethodBars:
    """A progress bar per method on stderr (with a ticker so the time keeps moving),
    and one summary line per method when it ends."""

    def __init__(self, *, bars: bool, quiet: bool, width: int):
        self.bars = bars
        self.quiet = quiet
        self.width = width
        self._bar = None
        self._start = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = None

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()

    def __call__(self, method: str, stage: str, done: float, total: float) -> None:
        with self._lock:
            if stage == "start":
                self._start = time.monotonic()
                if self.bars:
                    from tqdm import tqdm

                    self._bar = tqdm(total=100, desc=method.ljust(self.width), file=sys.stderr,
                                     leave=False,
                                     bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}")
                    if self._ticker is None:
                        self._ticker = threading.Thread(target=self._tick, daemon=True)
                        self._ticker.start()
                return
            if stage in ("end", "failed"):
                if self._bar is not None:
                    self._bar.close()
                    self._bar = None
                if not self.quiet:
                    took = time.monotonic() - self._start
                    state = "done" if stage == "end" else "FAILED"
                    click.echo(f"  {method:<{self.width}} {state:<6} {took:7.2f} s", err=True)
                return
            if self._bar is not None and total > 0:
                self._bar.n = min(100.0, 100.0 * done / total)
                self._bar.set_description_str(f"{method.ljust(self.width)} ({stage})",
                                              refresh=False)
                self._bar.refresh()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def _set_threads(threads: int, *, learned: bool) -> None:
    """Limit Numba's threads, and torch's when a learned method will run."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if learned:
        try:
            import torch
        except ImportError:  # the learned rows will say so
            return
        torch.set_num_threads(threads)


def _parse_methods(text: str) -> dict[str, str]:
    """``--methods`` as row name -> registered method (``NAME=METHOD`` names a row)."""
    from inpaintkit import registry

    if text.strip() == "all":
        return {name: name for name in registry.names()}
    rows: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, method = item.partition("=")
        name, method = name.strip(), (method.strip() if sep else name.strip())
        if not name or not method:
            raise click.ClickException(f"--methods: {item!r} must be METHOD or NAME=METHOD")
        if "." in name:
            raise click.ClickException(f"--methods: the row name {name!r} must not contain '.'")
        registry.get(method)  # ValueError listing the valid methods
        if name in rows:
            raise click.ClickException(f"--methods lists {name!r} twice; name the second "
                                       f"NAME={method}")
        rows[name] = method
    if not rows:
        raise click.ClickException("--methods is empty: name at least one method, or all")
    return rows


def _parse_method_params(items: tuple[str, ...], names: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for item in items:
        key, sep, _ = item.partition("=")
        method, dot, option = key.partition(".")
        if not sep or not dot or not method.strip() or not option.strip():
            raise click.ClickException(f"--param must look like METHOD.KEY=VALUE, got {item!r}")
        method = method.strip()
        if method not in names:
            raise click.ClickException(
                f"--param {item!r} names method {method!r}, which is not compared "
                f"(methods: {', '.join(names)})"
            )
        grouped.setdefault(method, []).append(item[len(method) + 1:])
    return grouped


@click.command("compare")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("mask", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Folder for the page: DIR/index.html, DIR/images/, DIR/static/.")
@click.option("-m", "--methods", default="all", show_default=True,
              help="Comma-separated method names, or all (every method of 'inpaintkit "
                   "methods'). NAME=METHOD adds a second row of a method under its own name, "
                   "whose options -p NAME.KEY=VALUE sets, e.g. -m diffusion,tv=diffusion "
                   "-p tv.variant=tv.")
@click.option("-t", "--truth", type=click.Path(path_type=Path),
              help="The complete image: adds PSNR, SSIM, L1 and texture ratio over the hole.")
@click.option("-p", "--param", "params", multiple=True, metavar="METHOD.KEY=VALUE",
              help="A method option, repeatable, e.g. --param diffusion.variant=tv or "
                   "--param gl.weights=completionnet_places2.t7.")
@click.option("--title", default=None, help="Page title (default: the image's file name).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed for every method.")
@click.option("--invert-mask", is_flag=True, help="Treat the mask's black pixels as the hole.")
@click.option("--warm-up/--no-warm-up", default=True, show_default=True,
              help="Run each method once on a small crop first, so the times shown exclude "
                   "compilation and model loading.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Fill this many times per method and show the shortest time.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads for Numba and torch (default: their own, one per core); 1 gives "
                   "steadier times on a machine busy with other jobs.")
@click.option("--overwrite", is_flag=True, help="Replace a page already in DIR.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--progress/--no-progress", default=None,
              help="Force the progress bars on or off (default: on a terminal).")
def command(image: Path, mask: Path | None, out: Path, methods: str, truth: Path | None,
            params: tuple[str, ...], title: str | None, seed: int, invert_mask: bool,
            warm_up: bool, repeat: int, threads: int | None, overwrite: bool, quiet: bool,
            progress: bool | None) -> None:
    """Fill IMAGE's hole with several methods and write a page comparing them.

    MASK is any image of IMAGE's size whose non-black pixels mark the hole; without
    it, IMAGE's transparent pixels are the hole. The page DIR/index.html shows every
    result with a before/after slider, a zoomed crop of the hole and the time each
    method took; with --truth, the scores too, best of each column marked. A method
    that fails (e.g. a learned configuration without weights) shows its error on the
    page instead of stopping the others. The page needs no network: open it from disk.

    \b
    Examples:
      inpaintkit compare photo.png mask.png -o cmp/
      inpaintkit compare photo.png mask.png -o cmp/ --methods diffusion,patchmatch,pconv
      inpaintkit compare holed.png mask.png -o cmp/ --truth photo.png -p diffusion.variant=tv
    """
    import inpaintkit
    from inpaintkit import io, registry, render

    inputs = [path for path in (image, mask, truth) if path is not None]
    if out.exists() and not out.is_dir():
        raise click.ClickException(f"output path is a file, not a folder: {out}")
    for written in _WRITTEN:
        check_not_input(out / written, inputs)
        for source in inputs:
            if source.resolve().is_relative_to((out / written).resolve()):
                raise click.ClickException(f"refusing to write over the input file {source}")
    if (out / "index.html").exists() and not overwrite:
        raise click.ClickException(
            f"{out / 'index.html'} exists; pass --overwrite to replace the page")
    if not out.parent.is_dir() and str(out.parent):
        raise click.ClickException(f"output folder's parent does not exist: {out.parent}")

    with user_errors():
        rows = _parse_methods(methods)
        names = list(rows)
        grouped = _parse_method_params(params, names)
        options: dict[str, dict] = {}
        mask_files: list[Path] = []
        for name, items in grouped.items():
            spec = registry.get(rows[name])
            try:
                defaults = spec.params()
            except ImportError as exc:
                raise click.ClickException(f"--param for {name}: {exc}") from None
            parsed = parse_params(tuple(items), defaults, rows[name])
            for key, value in parsed.items():
                if key.startswith("return_") and value:
                    raise click.ClickException(
                        f"--param {name}.{key} makes {name} return more than an image; "
                        "the page shows the image only"
                    )
                if key.endswith("_mask") and isinstance(value, str):
                    mask_files.append(Path(value))
            options[name] = parsed

        pixels = io.read_image(image)
        hole = io.read_mask(mask, pixels.shape[:2]) if mask is not None else io.alpha_hole(pixels)
        if invert_mask:
            hole = ~hole
        if not hole.any():
            raise click.ClickException(
                "the mask marks no hole pixels: nothing to compare"
                + ("" if invert_mask else " (if the hole is black, pass --invert-mask)")
            )
        for parsed in options.values():
            for key, value in list(parsed.items()):
                if key.endswith("_mask") and isinstance(value, str):
                    parsed[key] = io.read_mask(Path(value), pixels.shape[:2])
        complete = None
        if truth is not None:
            complete = io.read_image(truth)
            if complete.shape != pixels.shape or complete.dtype != pixels.dtype:
                raise click.ClickException(
                    f"--truth {truth} is {complete.shape[1]}x{complete.shape[0]} "
                    f"{complete.dtype} with {complete.shape[2] if complete.ndim == 3 else 1} "
                    f"channel(s); IMAGE is {pixels.shape[1]}x{pixels.shape[0]} {pixels.dtype} "
                    f"with {pixels.shape[2] if pixels.ndim == 3 else 1}: they must match"
                )

        if threads is not None:
            learned = any(registry.get(method).kind == "learned" for method in rows.values())
            _set_threads(threads, learned=learned)
        show_bars = sys.stderr.isatty() if progress is None else progress
        display = _MethodBars(bars=bool(show_bars) and not quiet, quiet=quiet,
                              width=max(len(name) for name in names))
        if not quiet:
            click.echo(f"inpaintkit: comparing {len(names)} methods on {image.name} "
                       f"({pixels.shape[1]}x{pixels.shape[0]}, "
                       f"{100.0 * hole.mean():.1f} % hole)", err=True)
        start = time.perf_counter()
        try:
            entries = [name if rows[name] == name else (name, rows[name]) for name in names]
            comparison = inpaintkit.compare(pixels, hole, methods=entries, truth=complete,
                                            params=options, seed=seed, warm_up=warm_up,
                                            repeat=repeat, progress=display)
        finally:
            display.close()
        out.mkdir(exist_ok=True)
        page = render.write_page(comparison, out,
                                 title=title or f"{image.name}: inpainting methods compared")
    if not quiet:
        failed = [row.method for row in comparison.rows if not row.ok]
        note = f"; failed: {', '.join(failed)}" if failed else ""
        click.echo(f"inpaintkit: compared {len(names)} methods in "
                   f"{time.perf_counter() - start:.1f} s{note} -> {page}", err=True)
