"""Pieces shared by the CLI commands: option parsing, error mapping, progress display."""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import click

from .._progress import reporting

#: Exceptions that mean "the user asked for something wrong"; they become one line.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, MemoryError)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into a one-line ``click.ClickException``."""
    try:
        yield
    except click.ClickException:
        raise
    except USER_ERRORS as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(message) from None


def _coerce(text: str, default: Any) -> Any:
    """Convert a --param value, guided by the parameter's default."""
    lowered = text.strip().lower()
    if isinstance(default, bool) or lowered in ("true", "false"):
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if lowered in ("none", "null"):
        return None
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(items: tuple[str, ...], defaults: dict[str, Any], method: str) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` items against a method's parameters and defaults."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.ClickException(f"--param must look like KEY=VALUE, got {item!r}")
        if key not in defaults:
            valid = ", ".join(defaults) or "none"
            raise click.ClickException(
                f"unknown parameter {key!r} for method {method!r}; valid parameters: {valid}"
            )
        try:
            params[key] = _coerce(value, defaults[key])
        except ValueError as exc:
            raise click.ClickException(f"--param {key}: {exc}") from None
    return params


def parse_scoped_params(items: tuple[str, ...], method: str) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` items, where KEY may be scoped as ``METHOD.KEY``.

    Every key is checked before any file is read: a scoped key against its method's
    options; an unscoped one against ``method``'s, or under ``auto`` against every
    method's (see :func:`inpaintkit.registry.resolve_params`, which later picks the
    options of the method that runs). Values are converted guided by the default.
    """
    from .. import registry

    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.ClickException(f"--param must look like KEY=VALUE, got {item!r}")
        scope, dot, name = key.rpartition(".")
        if dot:
            owners = [scope]
        elif method != "auto":
            owners = [method]
        else:
            owners = [spec_name for spec_name in sorted(
                registry.names(), key=lambda n: registry.get(n).kind != "classical")]
        default, found, last_error = None, False, None
        for owner in owners:
            try:
                defaults = registry.get(owner).params()
            except ValueError as exc:  # unknown method scope
                raise click.ClickException(f"--param {key}: {exc}") from None
            except ImportError as exc:
                last_error = exc
                continue
            if name in defaults:
                default, found = defaults[name], True
                break
            if len(owners) == 1:
                valid = ", ".join(defaults) or "none"
                raise click.ClickException(
                    f"unknown parameter {name!r} for method {owner!r}; valid parameters: {valid}")
        if not found:
            if last_error is not None and len(owners) == 1:
                raise click.ClickException(str(last_error))
            raise click.ClickException(
                f"unknown parameter {key!r}: no method takes it; see 'inpaintkit methods'")
        try:
            params[key] = _coerce(value, default)
        except ValueError as exc:
            raise click.ClickException(f"--param {key}: {exc}") from None
    return params


class Interrupted(click.ClickException):
    """Ctrl-C or SIGTERM: one line, exit status 130, nothing written."""

    exit_code = 130


@contextlib.contextmanager
def interruptible(what: str = "nothing was written") -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C inside the block and turn either into one line.

    The block's own cleanup (``finally``, the atomic writer's removal of its temporary
    file) runs before the process exits with status 130.
    """
    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {what}") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(out: Path, inputs: list[Path]) -> None:
    """Refuse to write over an input file."""
    for source in inputs:
        if out.resolve() == source.resolve() or _same_file(out, source):
            raise click.ClickException(f"refusing to write over the input file {source}")


def check_output(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse to write over an input, and over an existing file without --overwrite."""
    check_not_input(out, inputs)
    if out.is_dir():
        raise click.ClickException(f"output path is a folder: {out}")
    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists; pass --overwrite to replace it")


class ProgressDisplay:
    """A progress bar on stderr that appears only once work has lasted ``delay`` seconds.

    Methods report through :func:`inpaintkit._progress.report`; between reports a
    ticker keeps the elapsed time moving. Nothing is shown when stderr is not a
    terminal unless ``force`` is set.
    """

    def __init__(self, label: str, *, delay: float = 1.0, force: bool = False):
        self.label = label
        self.delay = delay
        self.enabled = force or sys.stderr.isatty()
        self._start = time.monotonic()
        self._bar = None
        self._last = ("", 0.0, 0.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def _show(self) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=100, desc=self.label, file=sys.stderr, leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
        stage, done, total = self._last
        if total > 0:
            self._bar.n = min(100.0, 100.0 * done / total)
        if stage:
            self._bar.set_description_str(f"{self.label} ({stage})", refresh=False)
        self._bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            if time.monotonic() - self._start >= self.delay:
                with self._lock:
                    self._show()

    def __call__(self, stage: str, done: float, total: float) -> None:
        with self._lock:
            self._last = (stage, done, total)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not self.enabled:
            with reporting(None):
                yield
            return
        self._ticker.start()
        try:
            with reporting(self):
                yield
        finally:
            self._stop.set()
            self._ticker.join()
            if self._bar is not None:
                self._bar.close()
