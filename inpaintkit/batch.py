"""Fill many image files on a Dask cluster, resumably, with a ledger of every item.

:func:`run` turns input paths (files, folders, glob patterns, or (image, mask) pairs)
into items, skips the ones whose output already exists, and sends the rest to
``dask.distributed`` workers a bounded window at a time. Workers get paths, not
arrays: each reads its image and mask, calls :func:`inpaintkit.inpaint` and writes the
result atomically through :mod:`inpaintkit.io`. The client appends one JSON line per
item to ``OUT_DIR/inpaintkit-batch.jsonl`` (done, failed with a one-line error, or
skipped), so a re-run redoes exactly the failed and missing items.

>>> import inpaintkit.batch
>>> summary = inpaintkit.batch.run(["scans/"], "filled/", mask_suffix="_mask",
...                                method="diffusion", workers=2)  # doctest: +SKIP
>>> summary.done, summary.failed, summary.ledger  # doctest: +SKIP
(198, 2, PosixPath('filled/inpaintkit-batch.jsonl'))
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

__all__ = [
    "run",
    "collect_items",
    "fill_file",
    "fill_files",
    "warm_up",
    "read_ledger",
    "latest_states",
    "Item",
    "Summary",
    "BatchInterrupted",
    "IMAGE_EXTENSIONS",
    "LEDGER_NAME",
]

logger = logging.getLogger("inpaintkit.batch")

#: File extensions picked up from folders and glob patterns (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: The ledger's file name inside OUT_DIR.
LEDGER_NAME = "inpaintkit-batch.jsonl"
#: Formats an output can be written in (``output_format``); others become PNG.
_WRITABLE = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
#: Errors that are the item's own fault (unreadable file, mask of another size, ...):
#: recorded as failed at once, never retried.
_ITEM_ERRORS = (ValueError, TypeError, OSError, ImportError)


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class Item:
    """One image to fill.

    Attributes
    ----------
    name : str
        The output's path relative to OUT_DIR, with forward slashes; the ledger key.
    image : Path
    mask : Path or None
        None: the image's transparent pixels are the hole.
    output : Path
    problem : str or None
        Why the item cannot be filled, known before any work (e.g. no mask found for
        it); such items are recorded as failed without being sent to a worker.
    """

    name: str
    image: Path
    mask: Path | None
    output: Path
    problem: str | None = None


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _glob_base(pattern: str) -> Path:
    """The leading folders of ``pattern`` that contain no wildcard."""
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _sources(inputs: Iterable[Any]) -> Iterator[tuple[Path, Path | None, Path, bool]]:
    """Yield (image, explicit mask or None, path relative to the output folder,
    found_by_scan) for each input: a file, a folder, a glob pattern or a pair."""
    for entry in inputs:
        if isinstance(entry, (tuple, list)):
            if len(entry) != 2:
                raise ValueError(f"an item pair must be (image_path, mask_path), got {entry!r}")
            image, mask = Path(entry[0]), Path(entry[1])
            if not image.is_file():
                raise FileNotFoundError(f"image file not found: {image}")
            if not mask.is_file():
                raise FileNotFoundError(f"mask file not found: {mask}")
            yield image, mask, Path(image.name), False
            continue
        text = os.fspath(entry)
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_image_file(p)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            for image in found:
                yield image, None, image.relative_to(path), True
        elif path.is_file():
            yield path, None, Path(path.name), False
        elif glob.has_magic(text):
            base = _glob_base(text)
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            for image in matches:
                if image.is_file() and _is_image_file(image):
                    yield image, None, image.relative_to(base), True
        else:
            raise FileNotFoundError(f"input not found: {text} (not a file, a folder or a glob "
                                    "pattern that matches)")


def _find_beside(folder: Path, stem: str, preferred_suffix: str) -> Path | None:
    """``folder/stem.EXT`` for the preferred extension first, then any image extension."""
    for suffix in (preferred_suffix, *IMAGE_EXTENSIONS):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _output_suffix(image: Path, output_format: str | None) -> str:
    if output_format:
        suffix = "." + output_format.lower().lstrip(".")
        if suffix not in _WRITABLE:
            raise ValueError(f"output_format must be png, jpg or tif, got {output_format!r}")
        return suffix
    suffix = image.suffix.lower()
    return suffix if suffix in _WRITABLE else ".png"


def collect_items(inputs: Iterable[Any], out_dir, *, mask=None, masks=None,
                  mask_suffix: str | None = None, output_format: str | None = None) -> list[Item]:
    """Expand inputs into :class:`Item` s, with their masks and output paths.

    Parameters
    ----------
    inputs : iterable of str, Path or (image, mask) pairs
        Image files, folders (searched recursively for ``IMAGE_EXTENSIONS``; hidden
        files and folders skipped), glob patterns (``**`` allowed), or pairs of an
        image file and its mask file.
    out_dir : str or Path
        Outputs mirror the input tree here: a folder's images keep their path
        relative to the folder, a glob's their path below its first wildcard, and
        files their name.
    mask : str or Path, optional
        One mask file for every image.
    masks : str or Path, optional
        A folder of masks matched by the image's relative path, then by its name
        alone; any image extension (``scans/a/b.jpg`` -> ``MASKS/a/b.png`` or
        ``MASKS/b.png``).
    mask_suffix : str, optional
        The mask lies beside each image with this suffix after the stem
        (``photo.jpg`` -> ``photo_mask.png`` for ``"_mask"``); such files are not
        taken as images themselves.
    output_format : {"png", "jpg", "tif"}, optional
        The outputs' format; by default the input's, or PNG for formats that
        cannot be written.

    Without any mask option, an image's transparent pixels are its hole.

    Returns
    -------
    list of Item
        Sorted by name. An item without a mask has its ``problem`` set.

    Raises
    ------
    ValueError, FileNotFoundError
        For more than one mask option, a missing input, mask or masks folder, no
        images found, two inputs that map to the same output, or an output that
        would replace an input.
    """
    if sum(option is not None for option in (mask, masks, mask_suffix)) > 1:
        raise ValueError("give at most one of mask, masks and mask_suffix")
    if mask_suffix is not None and (not mask_suffix or "/" in mask_suffix):
        raise ValueError(f"mask_suffix must be a non-empty name suffix, got {mask_suffix!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder is a file: {out_dir}")
    shared_mask = Path(mask) if mask is not None else None
    if shared_mask is not None and not shared_mask.is_file():
        raise FileNotFoundError(f"mask file not found: {shared_mask}")
    masks_dir = Path(masks) if masks is not None else None
    if masks_dir is not None and not masks_dir.is_dir():
        raise FileNotFoundError(f"masks folder not found: {masks_dir}")

    inputs = list(inputs)
    for entry in inputs:
        if not isinstance(entry, (tuple, list)) and Path(entry).is_dir() and _inside(Path(entry), out_dir):
            raise ValueError(f"the output folder {out_dir} holds the input folder {entry}: "
                             "choose an output folder outside the inputs")
    items: dict[str, Item] = {}
    for image, pair_mask, relative, scanned in _sources(inputs):
        if scanned and (_inside(image, out_dir) or _inside(image, masks_dir)):
            continue  # our own outputs on a re-run, or the masks themselves
        if scanned and shared_mask is not None and image.resolve() == shared_mask.resolve():
            continue
        if mask_suffix is not None and image.stem.endswith(mask_suffix):
            if scanned:
                continue
            raise ValueError(f"{image} looks like a mask (its name ends with {mask_suffix!r})")
        problem = None
        item_mask = pair_mask or shared_mask
        if masks_dir is not None and pair_mask is None:
            item_mask = (_find_beside(masks_dir / relative.parent, image.stem, image.suffix)
                         or _find_beside(masks_dir, image.stem, image.suffix))
            if item_mask is None:
                looked = sorted({f"{(relative.parent / image.stem).as_posix()}.*",
                                 f"{image.stem}.*"}, key=len, reverse=True)
                problem = (f"no mask for {relative.as_posix()} in {masks_dir} "
                           f"(looked for {' and '.join(looked)})")
        elif mask_suffix is not None and pair_mask is None:
            item_mask = _find_beside(image.parent, image.stem + mask_suffix, image.suffix)
            if item_mask is None:
                problem = f"no mask {image.stem}{mask_suffix}.* beside {image}"
        relative_out = relative.with_suffix(_output_suffix(image, output_format))
        name = relative_out.as_posix()
        output = out_dir / relative_out
        if name in items:
            if items[name].image.resolve() == image.resolve():
                continue  # the same file named twice (a folder and a glob, say)
            raise ValueError(f"{items[name].image} and {image} would both be written to {output}; "
                             "give them separate runs or output folders")
        for source in (image, item_mask):
            if source is not None and output.resolve() == source.resolve():
                raise ValueError(f"refusing to write over the input file {source}: "
                                 "choose another output folder")
        items[name] = Item(name, image, item_mask, output, problem)
    if not items:
        raise ValueError("no images found in the inputs (extensions: "
                         f"{', '.join(IMAGE_EXTENSIONS)})")
    return [items[name] for name in sorted(items)]


# --------------------------------------------------------------------------- the worker side


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if not isinstance(exc, _ITEM_ERRORS) or not line else line


@contextlib.contextmanager
def _numba_threads(count: int | None) -> Iterator[None]:
    """Run Numba kernels (and OpenCV's) inside the block on ``count`` threads (None:
    leave as is).

    One thread per worker task makes N single-threaded workers use N cores instead
    of N x cores threads fighting over them. Numba's setting is per calling thread;
    OpenCV's (image decoding and colour conversion) is per process and restored.
    """
    if count is None:
        yield
        return
    import cv2
    import numba

    cv2_before = cv2.getNumThreads()
    if cv2_before != count:
        cv2.setNumThreads(count)
    before = numba.get_num_threads()
    try:
        if before == count or count > numba.config.NUMBA_NUM_THREADS:
            yield
            return
        numba.set_num_threads(count)
        try:
            yield
        finally:
            numba.set_num_threads(before)
    finally:
        if cv2_before != count:
            cv2.setNumThreads(cv2_before)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def fill_file(image_path, mask_path, output_path, *, method: str = "auto",
              params: dict[str, Any] | None = None, seed: int = 0,
              numba_threads: int | None = 1) -> dict[str, Any]:
    """Fill one image file and write the result; what a batch worker runs per item.

    Parameters
    ----------
    image_path, output_path : str or Path
    mask_path : str, Path or None
        None: the image's transparent pixels are the hole.
    method, params, seed
        As for :func:`inpaintkit.inpaint`. Parameters named ``*_mask`` whose value is
        a string are mask files, read at the image's size.
    numba_threads : int or None
        Numba threads for this item (None: the process's setting).

    Returns
    -------
    dict
        ``state`` ("done" or "failed"), ``method`` (what ``auto`` picked), ``error``
        (one line, for failures), ``hole_pixels``, ``seconds`` (all of it) and
        ``fill_seconds`` (the ``inpaint`` call alone), ``cpu_seconds`` (the worker
        process's CPU time over the item, every thread), ``worker``.

    Unexpected errors (a bug, ``MemoryError``) propagate, so the engine can retry
    the item; errors that are the item's own (a corrupt file, a mask of another
    size, an empty mask) come back as ``state="failed"`` at once.
    """
    import inpaintkit
    from inpaintkit import io

    start = time.perf_counter()
    cpu_start = time.process_time()
    record: dict[str, Any] = {"state": "failed", "method": method, "error": None,
                              "hole_pixels": None, "fill_seconds": None,
                              "worker": _worker_name()}
    try:
        with _numba_threads(numba_threads):
            image = io.read_image(image_path)
            hole = (io.read_mask(mask_path, image.shape[:2]) if mask_path is not None
                    else io.alpha_hole(image))
            record["hole_pixels"] = hole_pixels = int(hole.sum())
            if hole_pixels == 0:
                raise ValueError("the mask marks no hole pixels: nothing to fill")
            chosen = inpaintkit.choose_method(hole, image) if method == "auto" else method
            record["method"] = chosen
            options = dict(params or {})
            for key, value in options.items():
                if key.endswith("_mask") and isinstance(value, (str, os.PathLike)):
                    options[key] = io.read_mask(value, image.shape[:2])
            fill_start = time.perf_counter()
            result = inpaintkit.inpaint(image, hole, method=chosen, seed=seed, **options)
            record["fill_seconds"] = time.perf_counter() - fill_start
            output_path = Path(output_path)
            output_path.parent.mkdir(parents=True, exist_ok=True)
            io.write_image(output_path, result)
        record["state"] = "done"
    except _ITEM_ERRORS as exc:
        record["error"] = _one_line(exc)
    record["seconds"] = time.perf_counter() - start
    record["cpu_seconds"] = time.process_time() - cpu_start
    return record


def fill_files(jobs: Sequence[tuple[str, str | None, str]], *, method: str = "auto",
               params: dict[str, Any] | None = None, seed: int = 0,
               numba_threads: int | None = 1) -> list[dict[str, Any]]:
    """Fill several image files one after the other: one batch task of a chunk.

    ``jobs`` are ``(image_path, mask_path, output_path)`` triples; returns one
    :func:`fill_file` record per job, in order. A single job behaves exactly as
    :func:`fill_file`: an unexpected error propagates (the engine retries the task).
    In a longer chunk such an error is caught so the chunk's other items still
    count: that item's record has ``state="raised"`` and the one-line ``error``, and
    the engine retries it alone.
    """
    if len(jobs) == 1:
        return [fill_file(*jobs[0], method=method, params=params, seed=seed,
                          numba_threads=numba_threads)]
    records = []
    for image_path, mask_path, output_path in jobs:
        try:
            records.append(fill_file(image_path, mask_path, output_path, method=method,
                                     params=params, seed=seed, numba_threads=numba_threads))
        except Exception as exc:  # a bug, MemoryError: retried alone by the engine
            records.append({"state": "raised", "error": _one_line(exc), "method": method,
                            "worker": _worker_name()})
    return records


def dask_setup(worker) -> None:
    """Dask preload hook (``preload=["inpaintkit.batch"]``) for the local cluster's
    workers: ignore SIGINT. Ctrl-C in a terminal reaches the whole process group; the
    client then stops the batch cleanly and closes the workers itself, instead of the
    workers dying mid-item with a traceback each."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_up(methods: Sequence[str] = ("diffusion", "patchmatch"), *,
            numba_threads: int | None = 1) -> dict[str, float]:
    """Compile (or load from Numba's disk cache) the kernels of ``methods`` on a tiny
    image; returns the seconds each took. Run it on every worker with
    ``client.run(inpaintkit.batch.warm_up)`` to prime a cluster."""
    import numpy as np

    import inpaintkit

    yy, xx = np.mgrid[0:48, 0:48]
    image = np.stack([yy * 5, xx * 5, (yy + xx) * 2], axis=2).astype(np.uint8)
    hole = np.zeros((48, 48), bool)
    hole[18:30, 12:36] = True
    seconds = {}
    with _numba_threads(numba_threads):
        for method in methods:
            start = time.perf_counter()
            inpaintkit.inpaint(image, hole, method=method)
            seconds[method] = time.perf_counter() - start
    return seconds


# --------------------------------------------------------------------------- the ledger


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class _Ledger:
    """Append-only JSON lines; each record goes out in one ``write`` on an
    ``O_APPEND`` descriptor, so a crash leaves at worst a torn last line, which
    :func:`read_ledger` ignores and the next append starts after."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._last_sync = time.monotonic()
        size = os.fstat(self._fd).st_size
        if size:
            with open(path, "rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        while written < len(line):  # only on a full disk or similar
            written += os.write(self._fd, line[written:])
        if time.monotonic() - self._last_sync > 2.0:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def read_ledger(path) -> list[dict[str, Any]]:
    """The records of a ledger file, oldest first (a torn last line is ignored)."""
    records = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def latest_states(path) -> dict[str, dict[str, Any]]:
    """Each item's latest record in a ledger file, by item name."""
    return {record["item"]: record for record in read_ledger(path) if "item" in record}


# --------------------------------------------------------------------------- the client side


@dataclass
class Summary:
    """What a batch did.

    Attributes
    ----------
    total : int
        Items found.
    to_fill : int or None
        Items sent to the workers (set once the outputs that exist are skipped).
    done, failed, skipped : int
        Items filled now, that failed now, and skipped (their output existed).
    not_run : int
        Items left undone because the batch was interrupted.
    seconds : float
        Wall time from the first submission to the last result.
    first_result_seconds : float or None
        Wall time from the start of ``run`` (cluster start included) to the first
        finished item.
    fill_seconds : float
        Sum of the items' ``inpaint`` times on the workers.
    work_seconds : float
        Sum of the items' whole times on the workers (read, fill, write).
    cpu_seconds : float
        Sum of the workers' CPU time over the items.
    workers : int
        Worker threads when the batch started.
    tasks : int
        Tasks submitted to the cluster (a task fills a chunk of items; retries count).
    failures : list of (str, str)
        (item name, one-line error) for each failed item.
    ledger : Path
    interrupted : bool
    """

    total: int = 0
    to_fill: int | None = None
    done: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    seconds: float = 0.0
    first_result_seconds: float | None = None
    fill_seconds: float = 0.0
    work_seconds: float = 0.0
    cpu_seconds: float = 0.0
    workers: int = 0
    tasks: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    ledger: Path | None = None
    interrupted: bool = False

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch; ``summary`` says what was finished. The ledger is
    valid and no partial file is left: re-run to do the rest."""

    def __init__(self, summary: Summary):
        super().__init__("batch interrupted")
        self.summary = summary


class _Interrupts:
    """SIGINT handling while the batch runs in the main thread: the first Ctrl-C
    stops submitting and lets the items in flight finish, the second drops them,
    a third raises ``KeyboardInterrupt`` at once."""

    def __init__(self, notify: Callable[[str], None]):
        self.count = 0
        self.notify = notify
        self._previous = None

    def _handle(self, signum, frame):
        self.count += 1
        if self.count == 1:
            self.notify("interrupted: finishing the items in flight (Ctrl-C again to drop them)")
        elif self.count == 2:
            self.notify("interrupted again: dropping the items in flight")
        else:
            raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _remove_partial_writes(items: Sequence[Item]) -> int:
    """Delete temporary files that :func:`inpaintkit.io.write_image` left beside
    outputs when a worker died mid-write (``.STEM.XXXXXXXX.EXT`` from ``mkstemp``)."""
    removed = 0
    by_folder: dict[Path, list[Item]] = {}
    for item in items:
        by_folder.setdefault(item.output.parent, []).append(item)
    for folder, folder_items in by_folder.items():
        try:
            names = [entry.name for entry in os.scandir(folder) if entry.name.startswith(".")]
        except OSError:
            continue
        if not names:
            continue
        patterns = {(f".{item.output.stem}.", item.output.suffix.lower()) for item in folder_items}
        for name in names:
            for prefix, suffix in patterns:
                if (name.startswith(prefix) and name.endswith(suffix)
                        and len(name) == len(prefix) + 8 + len(suffix)):
                    with contextlib.suppress(OSError):
                        os.unlink(folder / name)
                        removed += 1
                    break
    return removed


def _check_options(method: str, params: dict[str, Any]) -> None:
    from . import registry

    if method == "auto":
        if params:
            raise ValueError("params need an explicit method: 'auto' picks diffusion or "
                             "patchmatch image by image")
        return
    spec = registry.get(method)
    registry.check_params(spec, params)
    extras = [key for key, value in params.items() if key.startswith("return_") and value]
    if extras:
        raise ValueError(f"param {extras[0]} makes {method} return more than an image, "
                         "which a batch cannot write")
    for key, value in params.items():
        if key.endswith("_mask") and isinstance(value, (str, os.PathLike)) and not Path(value).is_file():
            raise FileNotFoundError(f"{key} file not found: {value}")
        if key.endswith("_mask") and not isinstance(value, (str, os.PathLike, type(None))):
            raise TypeError(f"{key} must be a mask file path in a batch, got {type(value).__name__}")


#: The scheduler's HTTP server (health and metrics routes, started even without a
#: dashboard) on a free loopback port, not on 8787 where another cluster may be.
_NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


#: A finished task whose result as_completed has not delivered after this many
#: seconds is fetched directly (checked every _LOST_CHECK_S seconds while idle). The
#: loss (a tornado AssertionError in as_completed's fetch) was seen about once per
#: few hundred tasks on the busy 2-core machine; each cost the batch this long. A
#: late delivery after the direct fetch is ignored, so a short wait is safe.
_LOST_AFTER_S = 3.0
_LOST_CHECK_S = 1.0
#: Chunks sized from the work aim at this many seconds of a worker per task: long
#: enough that the engine's cost per task (a few ms of scheduler, client and transfer)
#: is well under 1 % of it, short enough that results, the progress bar and a first
#: Ctrl-C still come within seconds, and that a worker's death redoes little.
_TASK_SECONDS = 1.5
#: Tasks a second that chunks sized from the work aim at, at most, from all the
#: workers together. The engine spends ~9 ms of CPU per task (client, scheduler,
#: nannies and the worker's Dask side, measured on a local cluster with tiny items),
#: most of it in the client and the scheduler, one core each at best: 50 tasks a
#: second keep them under half a core. Beyond 75 worker threads this lengthens tasks.
_TASKS_PER_SECOND = 50
#: The most items in a task sized from the work.
_LARGEST_CHUNK = 32
#: Items whose times size the chunks (the median of the latest ones).
_RECENT = 16


def _cpu_count() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextlib.contextmanager
def _client_for(client, scheduler: str | None, workers: int | None,
                retries: int) -> Iterator[Any]:
    """The given client, one connected to ``scheduler``, or a fresh LocalCluster."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("batch runs need dask.distributed: pip install 'inpaintkit[batch]'") from None
    if client is not None:
        yield client
        return
    if scheduler is not None:
        with Client(scheduler, timeout="20s") as connected:
            try:
                connected.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise RuntimeError(f"no workers connected to the scheduler at {scheduler} "
                                   "within 60 s") from None
            yield connected
        return
    with _local_cluster(workers or _cpu_count()) as cluster, Client(cluster) as local:
        yield local


#: Dask settings for the local cluster's scheduler, nannies and workers. Dask's
#: defaults suit interactive work; left as they are, the idle engine of a 2-worker
#: cluster drew ~11 % of a core (event-loop ticks every 20 ms in every server, a
#: statistical profiler sampling the worker's task thread every 10 ms, memory and
#: system monitors polling psutil), which on 2 cores is CPU taken from the workers;
#: with these it draws ~2 %. A worker's memory is still checked twice a second.
#: And no ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers' environment (Dask's nanny
#: sets it to hand freed memory back to the OS at once): it also turns off glibc's
#: adaptive mmap threshold, so every large NumPy temporary is a fresh mmap whose
#: pages fault in again; patchmatch at 512 px took ~45 % more CPU (5x the page
#: faults, 4x the system time) in such a worker than in a plain process.
_QUIET_CLUSTER = {
    # A worker that dies mid-item makes the item KilledWorker at once (no silent
    # scheduler retries); run() resubmits it up to `retries` times itself, so the
    # count is the same on this cluster and on the user's.
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.daemon": True,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.deploy.cluster-repr-interval": "5s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


@contextlib.contextmanager
def _local_cluster(count: int) -> Iterator[Any]:
    """A LocalCluster of ``count`` single-threaded worker processes, as
    ``inpaintkit batch`` starts it (``_QUIET_CLUSTER`` settings, no dashboard)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(_QUIET_CLUSTER):
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR,
                               env={"NUMBA_NUM_THREADS": "1"}, preload=[__name__],
                               scheduler_kwargs=_NO_DASHBOARD)
    try:
        yield cluster
    finally:
        cluster.close()


def run(items: Iterable[Any], out_dir, *, method: str = "auto",
        params: dict[str, Any] | None = None, seed: int = 0, client=None,
        scheduler: str | None = None, workers: int | None = None, mask=None, masks=None,
        mask_suffix: str | None = None, output_format: str | None = None,
        overwrite: bool = False, retries: int = 2, max_in_flight: int | None = None,
        chunk_size: int | None = None, numba_threads: int | None = 1,
        progress: Callable[[dict[str, Any], Summary], None] | None = None,
        notify: Callable[[str], None] | None = None) -> Summary:
    """Fill many image files on a Dask cluster; resumable, one ledger line per item.

    Parameters
    ----------
    items : iterable of str, Path, (image, mask) pairs or :class:`Item`
        Files, folders, glob patterns or pairs (see :func:`collect_items`).
    out_dir : str or Path
        Created if needed. Outputs mirror the input tree; the ledger is
        ``out_dir / LEDGER_NAME``.
    method : str
        A registered method or ``"auto"`` (chosen per image).
    params : dict, optional
        The method's options (needs an explicit ``method``); ``*_mask`` options
        are mask file paths.
    seed : int
    client : distributed.Client, optional
        Use this client's cluster.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``) to connect to.
    workers : int, optional
        Without ``client`` or ``scheduler``: the LocalCluster's worker processes
        (one thread each; default: the CPU cores), started and closed here.
    mask, masks, mask_suffix, output_format
        See :func:`collect_items`.
    overwrite : bool
        Fill items whose output exists instead of skipping them.
    retries : int
        Extra attempts for an item whose worker died or that raised an unexpected
        error; then it is recorded as failed.
    max_in_flight : int, optional
        Items submitted and not yet finished, at most: a sliding window, never the
        whole batch at once. Default: three tasks per worker thread (at least 8), each
        of up to 32 items.
    chunk_size : int, optional
        Items per task. Default: sized from the work, about 1.5 s of a worker per
        task (longer on clusters of more than 75 worker threads; one item per task
        until the first results are in). Either way chunks shrink near the end of
        the batch, so the workers finish together. Each item still gets its own
        ledger line; the items of a task whose worker dies are retried one by one.
    numba_threads : int or None
        Numba threads per item on a worker (default 1: N workers use N cores).
    progress : callable, optional
        Called as ``progress(record, summary)`` after each item is recorded.
    notify : callable, optional
        Called with one-line messages (start, interruption); default: log them.

    Returns
    -------
    Summary

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        For bad options or inputs, before any work starts.
    BatchInterrupted
        After Ctrl-C, once the batch has stopped cleanly; it carries the summary.
    """
    started = time.perf_counter()
    notify = notify or logger.info
    params = dict(params or {})
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if max_in_flight is not None and max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if sum(option is not None for option in (client, scheduler)) > 1:
        raise ValueError("give client or scheduler, not both")
    if workers is not None and (client is not None or scheduler is not None):
        raise ValueError("workers sizes the local cluster; it cannot be combined with "
                         "client or scheduler")
    _check_options(method, params)
    out_dir = Path(out_dir)
    items = list(items)
    if items and all(isinstance(entry, Item) for entry in items):
        collected = items
    else:
        collected = collect_items(items, out_dir, mask=mask, masks=masks,
                                  mask_suffix=mask_suffix, output_format=output_format)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = Summary(total=len(collected), ledger=out_dir / LEDGER_NAME)
    ledger = _Ledger(summary.ledger)

    def record(item: Item, state: str, *, error: str | None = None, attempts: int = 0,
               result: dict[str, Any] | None = None) -> None:
        result = result or {}
        entry = {"item": item.name, "state": state, "time": _now(),
                 "method": result.get("method", method), "params": params, "seed": seed,
                 "image": str(item.image.absolute()),
                 "mask": None if item.mask is None else str(item.mask.absolute()),
                 "output": str(item.output.absolute()), "error": error, "attempts": attempts,
                 "seconds": result.get("seconds"), "fill_seconds": result.get("fill_seconds"),
                 "cpu_seconds": result.get("cpu_seconds"),
                 "worker": result.get("worker")}
        ledger.append(entry)
        if state == "done":
            summary.done += 1
            summary.fill_seconds += result.get("fill_seconds") or 0.0
        elif state == "failed":
            summary.failed += 1
            summary.failures.append((item.name, error or ""))
        else:
            summary.skipped += 1
        if result:  # from a worker
            summary.work_seconds += result.get("seconds") or 0.0
            summary.cpu_seconds += result.get("cpu_seconds") or 0.0
            if summary.first_result_seconds is None:
                summary.first_result_seconds = time.perf_counter() - started
        if progress is not None:
            progress(entry, summary)

    todo: list[Item] = []
    try:
        for item in collected:
            if item.problem is not None:
                record(item, "failed", error=item.problem)
            elif item.output.exists() and not overwrite:
                record(item, "skipped")
            else:
                todo.append(item)
        summary.to_fill = len(todo)
        if todo:
            _remove_partial_writes(todo)  # left by an earlier run that was killed
            with _client_for(client, scheduler, workers, retries) as active:
                _run_on(active, todo, summary, record, method=method, params=params,
                        seed=seed, retries=retries, max_in_flight=max_in_flight,
                        chunk_size=chunk_size, numba_threads=numba_threads, notify=notify)
            # After the cluster we started is closed no task can still be writing.
            _remove_partial_writes(todo)
    finally:
        ledger.close()
    if summary.interrupted:
        raise BatchInterrupted(summary)
    return summary


def _chunk_size(seconds: Sequence[float], *, pending: int, threads: int,
                fixed: int | None, largest: int) -> int:
    """Items in the next task.

    ``fixed`` if given; else from the work: as many items as fill in about
    ``_TASK_SECONDS`` at the median time of the recent items (one item until a
    first result is in: the first results come as early as they can), at most
    ``largest``. On a large cluster the tasks are longer, so all the workers
    together send at most ``_TASKS_PER_SECOND`` tasks a second to the client and
    the scheduler. Either way, near the end of the batch the chunks shrink so every
    worker thread still gets about two (``pending / (2 * threads)``) and the last
    worker to finish does not finish long after the others.
    """
    if fixed is not None:
        size = fixed
    elif not seconds:
        size = 1
    else:
        recent = sorted(seconds)
        median = recent[len(recent) // 2]
        target = max(_TASK_SECONDS, threads / _TASKS_PER_SECOND)
        size = int(target / median) if median > 0 else largest
    guided = -(-pending // (2 * max(1, threads)))
    return max(1, min(size, largest, guided))


def _run_on(client, todo: list[Item], summary: Summary, record, *, method: str,
            params: dict[str, Any], seed: int, retries: int, max_in_flight: int | None,
            chunk_size: int | None, numba_threads: int | None,
            notify: Callable[[str], None]) -> None:
    """Submit ``todo`` to ``client`` a sliding window at a time, in chunks of items
    per task, and record each item's result."""
    from distributed import KilledWorker, as_completed

    threads = sum(client.nthreads().values())
    summary.workers = threads
    where = ("a local cluster" if getattr(client, "cluster", None) is not None
             and type(client.cluster).__name__ == "LocalCluster" else client.scheduler.address)
    notify(f"filling {len(todo)} of {summary.total} images on {where} "
           f"({threads} worker thread{'s' if threads != 1 else ''})"
           + (f"; {summary.skipped} skipped (output exists)" if summary.skipped else ""))
    # Three tasks per worker thread: each has its next task queued while a result
    # travels back. Given max_in_flight bounds the items, and chunks are cut so it
    # still holds two tasks per thread.
    if max_in_flight is None:
        task_window, item_window, largest = max(8, 3 * threads), None, _LARGEST_CHUNK
    else:
        task_window = item_window = max_in_flight
        largest = max(1, max_in_flight // (2 * max(1, threads)))
    if chunk_size is not None:
        largest = chunk_size
    pending = list(reversed(todo))  # pop() from the end keeps the sorted order
    retry: list[tuple[Item, int]] = []  # items to run again, alone
    finished = as_completed(with_results=True, raise_errors=False)
    in_flight: dict[Any, tuple[list[Item], int, int]] = {}  # future: items, attempt, dask retries
    items_in_flight = 0
    recent: list[float] = []  # the latest items' seconds on a worker
    batch_id = uuid.uuid4().hex[:8]
    dropped = 0
    tasks = 0

    # Absolute paths, for mask-file options as for items: a remote worker's working
    # folder is not ours.
    worker_params = {key: str(Path(value).absolute())
                     if key.endswith("_mask") and isinstance(value, (str, os.PathLike)) else value
                     for key, value in params.items()}

    def submit(items: list[Item], attempt: int) -> None:
        nonlocal items_in_flight, tasks
        jobs = [(str(item.image.absolute()),
                 None if item.mask is None else str(item.mask.absolute()),
                 str(item.output.absolute())) for item in items]
        # One item alone: an unexpected error is retried by Dask, up to the item's
        # attempts left. In a chunk it is caught per item and the item resubmitted.
        dask_retries = max(0, retries + 1 - attempt) if len(items) == 1 else 0
        name = items[0].name if len(items) == 1 else f"{items[0].name}+{len(items) - 1}"
        future = client.submit(
            fill_files, jobs, method=method, params=worker_params, seed=seed,
            numba_threads=numba_threads, key=f"inpaintkit-fill-{batch_id}-{name}-{attempt}",
            retries=dask_retries, pure=False)
        in_flight[future] = (items, attempt, dask_retries)
        items_in_flight += len(items)
        tasks += 1
        finished.add(future)

    def submit_more() -> None:
        while len(in_flight) < task_window and (retry or pending):
            if retry:
                item, attempt = retry.pop()
                batch = [item]
            else:
                size = _chunk_size(recent, pending=len(pending), threads=threads,
                                   fixed=chunk_size, largest=largest)
                if item_window is not None:
                    size = min(size, item_window - items_in_flight)
                    if size < 1:
                        return
                batch, attempt = [pending.pop() for _ in range(min(size, len(pending)))], 1
            submit(batch, attempt)

    def again(item: Item, attempt: int, why: str) -> None:
        """The item's attempt ``attempt`` did not finish: queue it alone, or record it
        as failed once its retries are spent."""
        nonlocal dropped
        if interrupts.count:
            dropped += 1  # not retried after Ctrl-C: left for the re-run
        elif attempt <= retries:
            retry.append((item, attempt + 1))
        else:
            record(item, "failed", attempts=attempt, error=why)

    def handle(items: list[Item], attempt: int, dask_retries: int, future, result) -> None:
        nonlocal items_in_flight
        items_in_flight -= len(items)
        if future.status == "finished":
            for item, one in zip(items, result):
                if one["state"] == "raised":  # an unexpected error inside a chunk
                    again(item, attempt, one["error"])
                    continue
                if one.get("seconds"):
                    recent.append(one["seconds"])
                record(item, one["state"], error=one.get("error"), attempts=attempt,
                       result=one)
            del recent[:-_RECENT]
            return
        error = result[1] if isinstance(result, tuple) else result
        if isinstance(error, KilledWorker):
            # Every item of the task is run again, alone: one that kills its worker
            # (out of memory) then fails by itself, and the others succeed.
            why = (f"its worker died while filling it ({attempt} attempt"
                   f"{'s' if attempt > 1 else ''}: killed, or out of memory?)")
            for item in items:
                again(item, attempt, why)
        elif future.status == "cancelled" or isinstance(error, BaseException) and \
                not isinstance(error, Exception):
            for item in items:
                record(item, "failed", error="cancelled on the cluster", attempts=attempt)
        elif len(items) == 1:  # raised by the task after Dask's retries: a bug, MemoryError
            record(items[0], "failed", error=_one_line(error), attempts=attempt + dask_retries)
        else:  # the chunk itself failed (fill_files catches the items' errors)
            for item in items:
                again(item, attempt, _one_line(error))

    done_since: dict[Any, float] = {}
    last_check = time.monotonic()

    def collect_lost() -> None:
        """Fetch the results that as_completed lost. Its background fetch can die
        with an exception of the transport (a tornado AssertionError was seen on the
        busy machine), which would leave the item in flight for ever."""
        now = time.monotonic()
        for future in [future for future in in_flight if future.done()]:
            if now - done_since.setdefault(future, now) < _LOST_AFTER_S:
                continue
            items, attempt, dask_retries = in_flight.pop(future)
            done_since.pop(future, None)
            try:
                if future.status == "finished":
                    result = future.result(timeout=60)
                else:
                    result = future.exception(timeout=60)
            except Exception as exc:  # the fetch itself failed: run the items again
                logger.warning("could not fetch the result of %s (%s)",
                               ", ".join(item.name for item in items), _one_line(exc))
                unfetched(items, attempt, exc)
                continue
            handle(items, attempt, dask_retries, future, result)

    def unfetched(items: list[Item], attempt: int, exc: Exception) -> None:
        nonlocal items_in_flight
        items_in_flight -= len(items)
        for item in items:
            again(item, attempt, f"could not fetch its result: {_one_line(exc)}")

    # Waiting on as_completed's condition, not polling: the client (which on a
    # LocalCluster also hosts the scheduler and the nannies) sleeps until a result
    # is in, and leaves the cores to the workers.
    condition = getattr(finished, "thread_condition", None)
    start = time.perf_counter()
    with _Interrupts(notify) as interrupts:
        try:
            submit_more()
            while in_flight or retry:
                if interrupts.count >= 2:
                    client.cancel(list(in_flight), force=True)
                    dropped += items_in_flight
                    in_flight.clear()
                    items_in_flight = 0
                    break
                if not in_flight:  # only retries left, after Ctrl-C they are dropped
                    if interrupts.count:
                        dropped += len(retry)
                        retry.clear()
                        break
                    submit_more()
                    continue
                if not finished.has_ready():
                    if time.monotonic() - last_check > _LOST_CHECK_S:
                        last_check = time.monotonic()
                        collect_lost()
                    if condition is not None:
                        with condition:
                            if not finished.has_ready():
                                condition.wait(timeout=_LOST_CHECK_S / 4)
                    else:
                        time.sleep(0.01)
                    continue
                # Results are fetched from the workers in the background, many at a
                # time; a blocking future.result() per task would cost a round trip each.
                for future, result in finished.next_batch(block=False):
                    entry = in_flight.pop(future, None)
                    done_since.pop(future, None)
                    if entry is not None:  # else collect_lost() had it already
                        handle(*entry, future, result)
                if interrupts.count == 0:
                    submit_more()
        finally:
            summary.seconds = time.perf_counter() - start
            summary.tasks = tasks
            summary.not_run = len(pending) + items_in_flight + len(retry) + dropped
            summary.interrupted = interrupts.count > 0
