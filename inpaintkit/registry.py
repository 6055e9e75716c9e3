"""The one method table: name -> where the function lives, its kind and a description.

Modules are imported lazily, so listing methods or running a classical one never
imports torch. Parameters and their defaults are read from the function's
keyword-only arguments: the signature is the single source of truth.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    Attributes
    ----------
    name : str
        The name users pass as ``method=``.
    kind : {"classical", "learned"}
    target : str
        ``"module:function"``; the function takes ``(image, mask, *, seed=0, **params)``.
    description : str
        One line.
    """

    name: str
    kind: str
    target: str
    description: str

    def load(self) -> Callable[..., Any]:
        module_name, func_name = self.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a missing optional dependency
            missing = getattr(exc, "name", None) or str(exc)
            if missing.split(".")[0] == "inpaintkit":
                raise ImportError(f"method {self.name!r} is not available: {exc}") from exc
            extra = " with pip install 'inpaintkit[learned]'" if self.kind == "learned" else ""
            raise ImportError(
                f"method {self.name!r} needs {missing!r}, which is not installed; install it{extra}"
            ) from exc
        try:
            return getattr(module, func_name)
        except AttributeError:
            raise ImportError(f"method {self.name!r} is not available: {self.target} not found") from None

    def params(self) -> dict[str, Any]:
        """Keyword options and their defaults (``seed`` excluded: every method has it)."""
        signature = inspect.signature(self.load())
        return {
            p.name: p.default
            for p in signature.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"
        }


_METHODS: dict[str, MethodSpec] = {}


def register(name: str, kind: str, target: str, description: str) -> None:
    """Add a method to the table (used below and by plugins)."""
    if kind not in ("classical", "learned"):
        raise ValueError(f"kind must be 'classical' or 'learned', got {kind!r}")
    if name in _METHODS or name == "auto":
        raise ValueError(f"method name {name!r} is already taken")
    _METHODS[name] = MethodSpec(name, kind, target, description)


register("diffusion", "classical", "inpaintkit.algorithms.diffusion:inpaint_diffusion",
         "PDE diffusion family: tension (default), harmonic, biharmonic, TV, transport, Telea, coherence")
register("patchmatch", "classical", "inpaintkit.algorithms.patchmatch:inpaint_patchmatch",
         "multi-scale PatchMatch completion (Wexler et al. 2007): textures, large holes")
register("criminisi", "classical", "inpaintkit.algorithms.criminisi:inpaint_criminisi",
         "Criminisi exemplar filling: continues linear structures first")
register("offsets", "classical", "inpaintkit.algorithms.offsets:inpaint_offsets",
         "He & Sun 2012 offset statistics + graph cuts: regular scenes (brick, grids, windows)")
register("gl", "learned", "inpaintkit.learned:inpaint_gl",
         "Globally and Locally consistent completion network (Iizuka et al. 2017)")
register("pconv", "learned", "inpaintkit.learned:inpaint_pconv",
         "Partial-convolution U-Net (Liu et al. 2018)")
register("gdn", "learned", "inpaintkit.learned:inpaint_gdn",
         "Pixel-wise dense detector generator (Zhang et al. 2020)")
register("edgeconnect", "learned", "inpaintkit.learned:inpaint_edgeconnect",
         "EdgeConnect: edge completion then image completion (Nazeri et al. 2019)")


def get(name: str) -> MethodSpec:
    """Return the spec for ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return _METHODS[name]
    except (KeyError, TypeError):
        valid = ", ".join(["auto", *_METHODS])
        raise ValueError(f"unknown method {name!r}; valid methods: {valid}") from None


def names() -> list[str]:
    return list(_METHODS)


def check_params(spec: MethodSpec, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming any unknown parameter and listing the valid ones."""
    valid = spec.params()
    unknown = [key for key in params if key not in valid]
    if unknown:
        listed = ", ".join(valid) or "none"
        raise ValueError(
            f"unknown parameter {unknown[0]!r} for method {spec.name!r}; valid parameters: {listed}"
        )
