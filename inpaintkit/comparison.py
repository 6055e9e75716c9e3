"""Run several inpainting methods on the same image and hole, and tabulate time and quality.

:func:`compare` is the library side of ``inpaintkit compare`` and of the gallery: it
returns a :class:`Comparison` holding every method's result and a table (one
:class:`MethodRun` per method) that notebooks use directly and that
:mod:`inpaintkit.render` turns into a page. A method that fails (a learned
configuration without weights, a missing optional dependency) becomes a row with a
one-line error; it never stops the others.

>>> import numpy as np, inpaintkit
>>> image = np.linspace(0, 1, 48 * 48).reshape(48, 48)
>>> mask = np.zeros((48, 48), bool); mask[20:26, 8:40] = True
>>> comparison = inpaintkit.compare(image, mask, methods=["diffusion"], truth=image)
>>> comparison.rows[0].ok, sorted(comparison.rows[0].scores)
(True, ['l1', 'psnr', 'ssim', 'texture'])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from . import registry
from ._image import check_image, check_mask
from ._progress import reporting

__all__ = ["compare", "Comparison", "MethodRun", "METRICS", "ProgressCallback", "best_methods",
           "score"]

#: The quality columns, in table order: name -> (heading, which value is best).
#: ``"max"`` / ``"min"``: highest / lowest; ``"one"``: closest to 1 (texture ratio:
#: below 1 is a blurred fill, above 1 adds edges the truth does not have).
METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR (dB)", "max"),
    "ssim": ("SSIM", "max"),
    "l1": ("L1", "min"),
    "texture": ("texture ratio", "one"),
}

#: ``progress(label, stage, done, total)``: ``stage`` is ``"start"`` and ``"end"`` around
#: each method (``"failed"`` instead of ``"end"`` on an error), and the method's own
#: stage names (e.g. a pyramid level) in between.
ProgressCallback = Callable[[str, str, float, float], None]


@dataclass
class MethodRun:
    """One method's row of a comparison.

    Attributes
    ----------
    method : str
        The registered method name.
    kind : {"classical", "learned"}
    params : dict
        The options passed (beyond the defaults).
    result : ndarray or None
        The filled image (shape and dtype of the input); None when the method failed.
    seconds : float or None
        Wall time of the fill itself (after the warm-up, see :func:`compare`).
    error : str or None
        One line saying why the method failed; None on success.
    scores : dict
        ``psnr``, ``ssim``, ``l1``, ``texture`` over the hole pixels, when a truth was
        given and the method succeeded; empty otherwise.
    name : str
        The row's name: the method's, or the label given with it (e.g. ``"gl (paper)"``
        for a second ``gl`` row with other weights); unique within a comparison.
    """

    method: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    result: np.ndarray | None = None
    seconds: float | None = None
    error: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self):
        if not self.name:
            self.name = self.method

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The row without the image: name, method, kind, params, seconds, error, scores."""
        row = {"name": self.name, "method": self.method, "kind": self.kind,
               "params": dict(self.params),
               "seconds": self.seconds, "error": self.error}
        for name in METRICS:
            row[name] = self.scores.get(name)
        return row


@dataclass
class Comparison:
    """Every method's result on one input, and the table of times and scores.

    Attributes
    ----------
    image : ndarray
        The input (holes not painted).
    mask : ndarray, shape (H, W), bool
        True = hole.
    truth : ndarray or None
        The complete image, when known.
    rows : list of MethodRun
        In the order the methods were asked for.
    """

    image: np.ndarray
    mask: np.ndarray
    truth: np.ndarray | None
    rows: list[MethodRun]

    def __getitem__(self, name: str) -> MethodRun:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no row {name!r} in this comparison; it has {', '.join(self.methods)}")

    @property
    def methods(self) -> list[str]:
        """The rows' names, in order (the method names unless labels were given)."""
        return [row.name for row in self.rows]

    @property
    def results(self) -> dict[str, np.ndarray]:
        """Row name -> filled image, for the methods that succeeded."""
        return {row.name: row.result for row in self.rows if row.result is not None}

    @property
    def hole_ratio(self) -> float:
        return float(np.count_nonzero(self.mask)) / self.mask.size

    def table(self) -> list[dict[str, Any]]:
        """One dict per method (see :meth:`MethodRun.as_dict`), ready for pandas or JSON."""
        return [row.as_dict() for row in self.rows]

    def best(self) -> dict[str, list[str]]:
        """For ``seconds`` and each metric, the method(s) with the best value
        (see :func:`best_methods`)."""
        return best_methods(self.table())


def best_methods(table: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For ``seconds`` and each metric, the method(s) with the best value in ``table``.

    Parameters
    ----------
    table : iterable of dict
        Rows as :meth:`Comparison.table` gives them (``name`` or else ``method``,
        ``seconds`` and the :data:`METRICS` keys; missing or None values are skipped).

    Returns
    -------
    dict
        Column -> list of row names. Ties share the mark; columns where no row has
        a finite value are left out. Texture ratio: closest to 1 on a log scale.
    """
    columns = {"seconds": "min", **{name: rule for name, (_, rule) in METRICS.items()}}
    rows = list(table)
    marked = {}
    for column, rule in columns.items():
        values = {}
        for row in rows:
            value = row.get(column)
            if value is not None and not math.isnan(value):
                values[row.get("name") or row["method"]] = _goodness(float(value), rule)
        if values:
            top = max(values.values())
            marked[column] = [name for name, good in values.items()
                              if good >= top - 1e-12 * max(1.0, abs(top))]
    return marked


def _goodness(value: float, rule: str) -> float:
    """Bigger is better, whatever the column's rule."""
    if rule == "max":
        return value
    if rule == "min":
        return -value
    # "one": closest to 1 on a log scale (0.5 and 2 are equally far from right).
    if value <= 0:
        return -math.inf
    return -abs(math.log(value))


def _entries(methods) -> list[tuple[str, str, dict[str, Any]]]:
    """``methods`` as (row name, registered method, options) triples, checked."""
    if methods is None or (isinstance(methods, str) and methods == "all"):
        return [(name, name, {}) for name in registry.names()]
    if isinstance(methods, str):
        methods = [part.strip() for part in methods.split(",") if part.strip()]
    entries = []
    for item in methods:
        if isinstance(item, str):
            entries.append((item, item, {}))
        elif (isinstance(item, tuple) and len(item) in (2, 3)
              and all(isinstance(value, str) for value in item[:2])):
            options = dict(item[2]) if len(item) == 3 else {}
            entries.append((item[0], item[1], options))
        else:
            raise TypeError(
                f"methods must hold method names or (name, method[, params]) tuples, got {item!r}"
            )
    if not entries:
        raise ValueError("methods is empty: name at least one method, or pass 'all'")
    names = [name for name, _, _ in entries]
    for name, method, _ in entries:
        registry.get(method)  # ValueError listing the valid names
        if not name.strip():
            raise ValueError(f"the row name for method {method!r} is empty")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"method {duplicated[0]!r} is listed twice; give the second a name, "
                         f"e.g. ({duplicated[0]!r} + ' (paper)', {duplicated[0]!r}, {{...}})")
    return entries


def _check_params(entries, params) -> dict[str, dict[str, Any]]:
    params = dict(params or {})
    names = [name for name, _, _ in entries]
    for name, options in params.items():
        if name not in names:
            raise ValueError(
                f"params given for {name!r}, which is not among the compared methods "
                f"({', '.join(names)})"
            )
        if not isinstance(options, Mapping):
            raise TypeError(f"params[{name!r}] must be a dict of options, got {options!r}")
    checked = {}
    for name, method, base in entries:
        options = {**base, **dict(params.get(name, {}))}
        if options:
            spec = registry.get(method)
            try:
                registry.check_params(spec, options)
            except ImportError:
                pass  # the method cannot load: its row will say so
        checked[name] = options
    return checked


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    if isinstance(exc, (ValueError, TypeError, OSError, ImportError)):
        return line
    return f"{type(exc).__name__}: {line}"


def _data_range(image: np.ndarray) -> float:
    return 1.0 if np.issubdtype(image.dtype, np.floating) else float(np.iinfo(image.dtype).max)


def score(truth: np.ndarray, result: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM and L1 over the hole pixels, and the hole's texture ratio.

    Parameters
    ----------
    truth, result : ndarray
        Same shape and dtype (any contract dtype; floats in [0, 1]). An alpha channel
        is left out of the scores.
    hole : ndarray, shape (H, W), bool
    """
    from . import metrics  # scipy and skimage.metrics: only when scoring

    if truth.ndim == 3 and truth.shape[2] == 4:
        truth, result = truth[..., :3], result[..., :3]
    span = _data_range(truth)
    return {
        "psnr": metrics.psnr(truth, result, mask=hole, data_range=span),
        "ssim": metrics.ssim(truth, result, mask=hole, data_range=span),
        "l1": metrics.l1(truth, result, mask=hole, data_range=span),
        "texture": metrics.texture_ratio(truth, result, hole),
    }


def _warm_up(method: str, image: np.ndarray, hole: np.ndarray, options: dict, seed: int) -> None:
    """Fill a small square hole in a 64x64 corner of the image once, so that the timed
    run does not include Numba compilation, torch start-up or loading weights.

    The warm-up's own hole is a centred square (not the user's mask, which may cover
    the whole crop); any error here is ignored: the real run reports its own.
    """
    from . import inpaint

    size_h, size_w = min(64, image.shape[0]), min(64, image.shape[1])
    small = np.ascontiguousarray(image[:size_h, :size_w])
    small_hole = np.zeros((size_h, size_w), bool)
    small_hole[size_h // 2 - size_h // 8: size_h // 2 + size_h // 8 + 1,
               size_w // 2 - size_w // 8: size_w // 2 + size_w // 8 + 1] = True
    sized = {key: (np.ascontiguousarray(value[:size_h, :size_w])
                   if isinstance(value, np.ndarray) and value.shape[:2] == hole.shape else value)
             for key, value in options.items()}
    try:
        with reporting(None):
            inpaint(small, small_hole, method=method, seed=seed, **sized)
    except Exception:  # noqa: BLE001 - the timed run reports the real error
        pass


def compare(image, mask, *, methods="all", truth=None, params=None, seed: int = 0,
            warm_up: bool = True, repeat: int = 1,
            progress: ProgressCallback | None = None) -> Comparison:
    """Fill the same hole with several methods and tabulate their time and quality.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any image :func:`inpaintkit.inpaint` accepts.
    mask : ndarray, shape (H, W), bool or integer
        Non-zero / True marks the hole; it must mark at least one pixel.
    methods : "all", str or sequence
        Registered method names (a comma-separated string works too); ``"all"``
        (default) takes every method of :func:`inpaintkit.methods`, classical and
        learned, in the registry's order. An item may also be a tuple
        ``(name, method)`` or ``(name, method, params)`` to compare one method twice,
        e.g. ``("gl (paper)", "gl", {"weights": "completionnet_places2.t7"})``.
    truth : ndarray, optional
        The complete image (shape and dtype of ``image``). With it every successful
        row gets PSNR, SSIM and L1 over the hole pixels and the texture ratio
        (:mod:`inpaintkit.metrics`).
    params : dict, optional
        Options per row name, e.g. ``{"diffusion": {"variant": "tv"}}``; each option
        is checked against the method's options before anything runs.
    seed : int
        Passed to every method.
    warm_up : bool, default True
        Fill a small hole in a 64x64 crop with each method before timing it, so
        ``seconds`` measures the fill, not the first call's Numba compilation or torch
        and weight loading.
    repeat : int, default 1
        Fill this many times and report the shortest time (the results are the same:
        methods are deterministic for a seed); more repeats give steadier times on a
        busy machine.
    progress : callable, optional
        ``progress(name, stage, done, total)``, see :data:`ProgressCallback`.

    Returns
    -------
    Comparison
        The results and the table; failed methods have ``error`` set and no result.

    Raises
    ------
    ValueError, TypeError
        Before any work, for an invalid image, mask or truth, an unknown method or an
        unknown option.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((40, 40, 3), 128, np.uint8); mask = np.zeros((40, 40), bool)
    >>> mask[15:25, 15:25] = True
    >>> table = compare(image, mask, methods="diffusion,patchmatch").table()
    >>> [row["method"] for row in table]
    ['diffusion', 'patchmatch']
    """
    from . import inpaint

    image = check_image(image)
    hole = check_mask(mask, image.shape[:2])
    if not hole.any():
        raise ValueError("mask marks no hole pixel: there is nothing to compare")
    if truth is not None:
        truth = check_image(truth, name="truth")
        if truth.shape != image.shape or truth.dtype != image.dtype:
            raise ValueError(
                f"truth must have the image's shape and dtype {image.shape} {image.dtype}, "
                f"got {truth.shape} {truth.dtype}"
            )
    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    entries = _entries(methods)
    options_by_name = _check_params(entries, params)
    notify = progress or (lambda *args: None)

    rows = []
    for name, method, _ in entries:
        spec = registry.get(method)
        options = options_by_name[name]
        row = MethodRun(method=method, kind=spec.kind, params=options, name=name)
        notify(name, "start", 0.0, 1.0)
        try:
            if warm_up:
                _warm_up(method, image, hole, options, seed)
            times = []
            def relay(stage, done, total, _name=name):
                notify(_name, stage, done, total)

            with reporting(relay):
                for _ in range(int(repeat)):
                    start = time.perf_counter()
                    result = inpaint(image, hole, method=method, seed=seed, **options)
                    times.append(time.perf_counter() - start)
            row.seconds = min(times)
            if isinstance(result, tuple):  # options such as return_artifact_map
                result = result[0]
            row.result = result
            if truth is not None:
                row.scores = score(truth, result, hole)
        except Exception as exc:  # one method's failure must not stop the others
            row.error = _one_line(exc)
            row.result = None
            row.seconds = None
            notify(name, "failed", 1.0, 1.0)
        else:
            notify(name, "end", 1.0, 1.0)
        rows.append(row)
    return Comparison(image=image, mask=hole, truth=truth, rows=rows)
