"""``inpaintkit batch``: fill folders of images on a Dask cluster, resumably, with a ledger."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._shared import parse_params, user_errors

#: Failed items listed by name in the closing lines; the rest are in the ledger.
_FAILURES_SHOWN = 5


class _Bar:
    """A tqdm bar over the items to fill: count, rate and ETA, failures in the postfix."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None

    def start(self, total: int) -> None:
        if self.enabled and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="img", desc="filling", file=sys.stderr,
                             dynamic_ncols=True, smoothing=0.1)

    def __call__(self, record, summary) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if summary.failed:
                self._bar.set_postfix_str(f"{summary.failed} failed", refresh=False)

    def write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUTS...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output folder; outputs mirror the input tree, the ledger "
                   "inpaintkit-batch.jsonl is written here.")
@click.option("--mask", "mask", type=click.Path(path_type=Path), default=None,
              help="One mask file for every image.")
@click.option("--masks", "masks", type=click.Path(path_type=Path), default=None,
              help="A folder of masks matched by the image's relative path or name "
                   "(any image extension).")
@click.option("--mask-suffix", default=None, metavar="SUFFIX",
              help="The mask lies beside each image: photo.jpg -> photo_mask.png for "
                   "--mask-suffix _mask. Without any mask option, transparent pixels "
                   "are the hole.")
@click.option("-m", "--method", default="auto", show_default=True,
              help="A method from 'inpaintkit methods', or auto (chosen per image).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A method option, repeatable (needs --method). Options named *_mask "
                   "take a mask file, read by each worker.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--format", "output_format", type=click.Choice(["png", "jpg", "tif"]),
              default=None, help="Output format [default: the input's; PNG for formats "
                                 "that cannot be written].")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster, one thread each "
                   "[default: the CPU cores].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Use a running Dask cluster, e.g. tcp://head:8786, instead of a local one.")
@click.option("--overwrite", is_flag=True,
              help="Fill images whose output exists (by default they are skipped).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Extra attempts for an item whose worker died (killed, out of memory).")
@click.option("--max-in-flight", type=click.IntRange(min=1), default=None,
              help="Items submitted at once [default: three tasks per worker, at least "
                   "8, of up to 32 items each].")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Images per task [default: sized from the work, about 1.5 s per "
                   "task].")
@click.option("-q", "--quiet", is_flag=True, help="Print only the closing summary.")
@click.option("--progress/--no-progress", default=None,
              help="Force the progress bar on or off (default: on a terminal).")
@click.pass_context
def command(ctx: click.Context, inputs: tuple[str, ...], out_dir: Path, mask: Path | None,
            masks: Path | None, mask_suffix: str | None, method: str, params: tuple[str, ...],
            seed: int, output_format: str | None, workers: int | None, scheduler: str | None,
            overwrite: bool, retries: int, max_in_flight: int | None,
            chunk_size: int | None, quiet: bool,
            progress: bool | None) -> None:
    """Fill every image in INPUTS and write the results under OUTPUT.

    INPUTS are image files, folders (searched recursively) or glob patterns (quote
    them: 'scans/**/*.tif'). Work runs on a local Dask cluster of worker processes,
    or on a running cluster with --scheduler. Outputs that exist are skipped, so
    running the same command again redoes only the failed and missing images.
    Every image's outcome is appended to OUTPUT/inpaintkit-batch.jsonl.
    The exit code is 1 if any image failed, 130 after Ctrl-C.

    \b
    Examples:
      inpaintkit batch scans/ -o filled/ --mask-suffix _mask --method diffusion
      inpaintkit batch 'frames/*.png' -o clean/ --mask logo.png --workers 4
      inpaintkit batch photos/ -o out/ --masks masks/ --scheduler tcp://head:8786
    """
    from inpaintkit import batch, registry

    if sum(option is not None for option in (mask, masks, mask_suffix)) > 1:
        raise click.UsageError("give at most one of --mask, --masks and --mask-suffix")
    if scheduler is not None and workers is not None:
        raise click.UsageError("--workers sizes the local cluster; with --scheduler the "
                               "cluster's own workers are used")
    if params and method == "auto":
        raise click.UsageError("--param needs --method: auto picks diffusion or patchmatch "
                               "image by image")
    with user_errors():
        options = parse_params(params, registry.get(method).params(), method) if params else {}
    bar = _Bar(enabled=(progress if progress is not None else sys.stderr.isatty()) and not quiet)

    def notify(line: str) -> None:
        if not quiet or line.startswith("interrupted"):
            bar.write(f"inpaintkit: {line}")

    def on_record(record, summary) -> None:
        if summary.to_fill is None:
            return  # skipped outputs and items failed before the start are not on the bar
        if bar._bar is None:
            bar.start(summary.to_fill)
        bar(record, summary)

    interrupted = False
    with user_errors():
        try:
            summary = batch.run(
                inputs, out_dir, method=method, params=options, seed=seed,
                scheduler=scheduler, workers=workers, mask=mask, masks=masks,
                mask_suffix=mask_suffix, output_format=output_format, overwrite=overwrite,
                retries=retries, max_in_flight=max_in_flight, chunk_size=chunk_size,
                progress=on_record,
                notify=notify)
        except batch.BatchInterrupted as stop:
            summary, interrupted = stop.summary, True
        finally:
            bar.close()
    _print_summary(summary, interrupted)
    if interrupted:
        ctx.exit(130)
    if summary.failed:
        ctx.exit(1)


def _print_summary(summary, interrupted: bool) -> None:
    rate = f", {summary.images_per_second:.2f} images/s" if summary.done else ""
    line = (f"inpaintkit: batch: {summary.done} done, {summary.failed} failed, "
            f"{summary.skipped} skipped of {summary.total}")
    if summary.not_run:
        line += f", {summary.not_run} not run"
    if summary.workers:
        line += f" in {summary.seconds:.1f} s on {summary.workers} worker" \
                f"{'s' if summary.workers != 1 else ''}{rate}"
    click.echo(line, err=True)
    for name, error in summary.failures[:_FAILURES_SHOWN]:
        click.echo(f"inpaintkit: failed: {name}: {error}", err=True)
    if len(summary.failures) > _FAILURES_SHOWN:
        click.echo(f"inpaintkit: ... and {len(summary.failures) - _FAILURES_SHOWN} more failed",
                   err=True)
    if interrupted:
        advice = "interrupted; run the same command again to do the rest"
    elif summary.failed:
        advice = "run the same command again to retry the failed items"
    else:
        advice = "every item is recorded there"
    click.echo(f"inpaintkit: ledger: {summary.ledger} ({advice})", err=True)
