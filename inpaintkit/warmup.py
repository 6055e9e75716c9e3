"""Numba's first-use compile: tell whether a method still has to pay it, and pay it ahead.

The classical methods' kernels are compiled by Numba on their first call and cached on
disk (``cache=True`` in :mod:`inpaintkit.algorithms._jit`), so only the first run on
a machine (or after an upgrade) is slow: about 5 s for ``diffusion``, 10-15 s for
``patchmatch`` and ``criminisi`` on 2 cores. :func:`needs_compile` lets a front end
say so before the wait; :func:`warmup` (``inpaintkit warmup``) compiles every
classical method once, e.g. right after installing or when priming cluster workers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import registry

#: Measured first-call compile times (s) on 2 cores, for the notice; other methods
#: are announced without a number.
COMPILE_SECONDS = {"diffusion": 5, "patchmatch": 15, "criminisi": 14}


def _kernel_dispatchers(method: str) -> list:
    """The Numba dispatchers of the kernel modules (``_*_kernels``) that ``method``'s
    own module imports."""
    import importlib
    import types

    from numba.core.registry import CPUDispatcher

    from ._lazy import resolve

    module = importlib.import_module(registry.get(method).target.split(":")[0])
    found = []
    for value in vars(module).values():
        if isinstance(value, types.ModuleType) and value.__name__.endswith("_kernels"):
            kernels = resolve(value)  # a module imported lazily is imported now
            found.extend(v for v in vars(kernels).values() if isinstance(v, CPUDispatcher))
    return found


def _has_cache(dispatcher) -> bool:
    """True if the on-disk cache holds a compiled version of ``dispatcher`` for the
    current source (Numba's own index check; stale entries count as missing)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # a Numba without this layout: assume warm, say nothing
        return True


def needs_compile(method: str) -> bool:
    """True if ``method`` is classical and none of its kernels is cached yet."""
    spec = registry.get(method)
    if spec.kind != "classical":
        return False
    dispatchers = _kernel_dispatchers(method)
    return bool(dispatchers) and not any(_has_cache(d) for d in dispatchers)


def uses_kernels(method: str, hole, options: dict[str, Any]) -> bool:
    """Whether filling ``hole`` (H, W) bool with ``method`` and ``options`` runs Numba
    kernels: a method's module may say it does not for some inputs with a
    ``needs_kernels(hole, **options)`` function (diffusion solves small holes in NumPy);
    otherwise every classical method does."""
    import importlib

    module = importlib.import_module(registry.get(method).target.split(":")[0])
    check = getattr(module, "needs_kernels", None)
    return check is None or bool(check(hole, **options))


def compile_notice(method: str, hole=None, options: dict[str, Any] | None = None) -> str | None:
    """One line for a user about to wait for ``method``'s first compile, else None.

    With ``hole`` (and the method's ``options``), None also when this fill runs no
    kernels (:func:`uses_kernels`); Numba is then not even imported.
    """
    if registry.get(method).kind != "classical":
        return None
    if hole is not None and not uses_kernels(method, hole, options or {}):
        return None
    if not needs_compile(method):
        return None
    seconds = COMPILE_SECONDS.get(method)
    about = f"about {seconds} s, " if seconds else ""
    return (f"compiling {method}'s kernels for first use ({about}cached after; "
            "'inpaintkit warmup' does it ahead of time)")


def _sample() -> tuple[np.ndarray, np.ndarray]:
    """A small textured RGB image with a box and a scratch: every stage of every
    classical method runs on it (pyramid levels, several EM iterations)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:96]
    base = 0.5 + 0.25 * np.sin(xx / 3.0)[:, :, None] * np.array([1.0, 0.6, 0.3])
    image = np.clip(base + 0.05 * rng.standard_normal((96, 96, 3)), 0, 1)
    hole = np.zeros((96, 96), bool)
    hole[30:60, 40:70] = True
    hole[80:82, 5:90] = True
    return (image * 255).astype(np.uint8), hole


def warmup(methods: list[str] | None = None) -> list[dict[str, Any]]:
    """Run each classical method once on a small image so its kernels compile and cache.

    Parameters
    ----------
    methods : list of str, optional
        Default: every classical method in the registry.

    Returns
    -------
    list of dict
        ``method``, ``seconds`` and ``was_cached`` (whether the kernels were already
        on disk) per method.
    """
    import inpaintkit

    if methods is None:
        methods = [n for n in registry.names() if registry.get(n).kind == "classical"]
    image, hole = _sample()
    rows = []
    for method in methods:
        cached = not needs_compile(method)
        start = time.perf_counter()
        if method == "diffusion":
            for variant in ("tension", "harmonic", "biharmonic", "tv", "transport", "telea",
                            "coherence"):
                inpaintkit.inpaint(image, hole, method=method, variant=variant, iterations=10)
            from .algorithms.diffusion import warm_large_holes

            warm_large_holes()  # the sample's holes are solved directly, not by multigrid
        else:
            inpaintkit.inpaint(image, hole, method=method)
        rows.append({"method": method, "seconds": time.perf_counter() - start,
                     "was_cached": cached})
    return rows
