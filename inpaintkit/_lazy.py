"""Modules that are imported on their first use, so start-up pays only for what runs.

A module-level ``sparse = LazyModule("scipy.sparse")`` reads like the import it
replaces; the import happens (thread-safely, through :func:`importlib.import_module`)
when an attribute is first read. ``inpaintkit fill`` of a small scratch then never
imports SciPy or Numba (about 0.6 s of start-up).
"""

from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands for the module ``name``: attribute reads are forwarded to it, importing
    it on the first one. ``vars()`` of the stand-in is not the module's: use
    :func:`resolve` to get the module itself."""

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self.__name__), attribute)


def resolve(module: types.ModuleType) -> types.ModuleType:
    """The real module behind ``module`` (imported now if it is a :class:`LazyModule`)."""
    if isinstance(module, LazyModule):
        return importlib.import_module(module.__name__)
    return module
