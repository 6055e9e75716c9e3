"""The one method table: name -> where the function lives, its kind and a description.

Modules are imported lazily, so listing methods or running a classical one never
imports torch. Parameters and their defaults are read from the function's
keyword-only arguments: the signature is the single source of truth.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
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
        for required in _REQUIRES.get(self.kind, ()):
            if _missing(required):
                raise ImportError(
                    f"method {self.name!r} needs {required!r}, which is not installed; "
                    f"install it with pip install 'inpaintkit[{self.kind}]'")
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
        """Keyword options and their defaults (``seed`` excluded: every method has it).

        Read from the function's source without importing its module where the
        defaults are literals (so listing methods costs no Numba or torch import);
        otherwise from the imported function's signature. Either way the signature is
        the single source of truth. A learned method whose dependency is missing
        raises the same ``ImportError`` as :meth:`load`.
        """
        if self.kind == "learned" and importlib.util.find_spec("torch") is None:
            self.load()  # raises the install hint
        static = _static_params(self.target)
        if static is not None:
            return static
        import inspect  # here, as ast below: --help and fill need neither (about 20 ms)

        signature = inspect.signature(self.load())
        return {
            p.name: p.default
            for p in signature.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"
        }


_PARSE_LOCK = threading.Lock()


def _static_params(target: str) -> dict[str, Any] | None:
    """Keyword-only defaults of ``module:function`` read from its source with ``ast``,
    or None when the source is not found or a default is not a literal."""
    # One parse at a time: CPython 3.11's parser is not safe to run from several
    # threads at once (the web app lists methods from worker threads).
    with _PARSE_LOCK:
        if target not in _PARSED:
            try:
                _PARSED[target] = _parse_params(target)
            except (SystemError, RecursionError, MemoryError):
                # CPython 3.11's parser can fail spuriously off the main thread
                # ("AST constructor recursion depth mismatch"): use the signature.
                return None
        return _PARSED[target]


#: Parsed defaults per target (sources do not change while a process runs).
_PARSED: dict[str, dict[str, Any] | None] = {}


def _parse_params(target: str) -> dict[str, Any] | None:
    """Keyword-only defaults of ``module:function`` from its source: only the ``def``
    statement is parsed (a whole module, about 1000 lines, took 20-60 ms; listing
    every method's options parsed half a dozen), and the module-level constants its
    defaults name are read from their own lines."""
    import ast

    module_name, func_name = target.split(":")
    text = _source(module_name)
    if text is None:
        return None
    node = _def_node(text, func_name)
    if node is None:
        return None
    params = {}
    for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults):
        if arg.arg == "seed":
            continue
        if default is None:
            return None  # a required keyword: let the signature say so
        if isinstance(default, ast.Name):
            value = _constant(text, default.id)
            if value is _NOT_LITERAL:
                return None
            params[arg.arg] = value
            continue
        try:
            params[arg.arg] = ast.literal_eval(default)
        except ValueError:
            return None
    return params


#: Source text per module (read once; the learned methods share one module).
_SOURCES: dict[str, str | None] = {}
_NOT_LITERAL = object()


def _source(module_name: str) -> str | None:
    if module_name not in _SOURCES:
        text = None
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            try:
                with open(spec.origin, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                pass
        _SOURCES[module_name] = text
    return _SOURCES[module_name]


def _def_node(text: str, func_name: str) -> ast.FunctionDef | None:
    """The module-level ``def func_name(...)`` statement of ``text``, parsed without
    its body: the lines from ``def`` to the first that ends the signature."""
    import ast
    import re

    match = re.search(rf"^def {re.escape(func_name)}\(", text, re.MULTILINE)
    if match is None:
        return None
    lines = text[match.start():].split("\n")
    for end in range(1, min(len(lines), 200) + 1):
        if not lines[end - 1].rstrip().endswith(":"):
            continue
        try:
            tree = ast.parse("\n".join(lines[:end]) + "\n    pass\n")
        except SyntaxError:
            continue
        node = tree.body[0] if tree.body else None
        return node if isinstance(node, ast.FunctionDef) else None
    return None


def _constant(text: str, name: str):
    """The literal value of the module-level one-line assignment ``name = ...`` (an
    annotation allowed), or ``_NOT_LITERAL`` (then the caller imports the module)."""
    import ast
    import re

    found = re.findall(rf"^{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)(.*)$", text, re.MULTILINE)
    if not found:
        return _NOT_LITERAL
    try:
        return ast.literal_eval(found[-1].strip())  # the last assignment holds
    except (ValueError, SyntaxError):
        return _NOT_LITERAL


_METHODS: dict[str, MethodSpec] = {}

#: Packages each kind of method needs, checked (without importing them) before the
#: method's module is loaded, so a missing one names the extra to install.
_REQUIRES = {"learned": ("torch",)}


def _missing(module: str) -> bool:
    """Whether ``module`` cannot be imported (found without importing it)."""
    import sys
    from importlib.util import find_spec

    if module in sys.modules:
        return sys.modules[module] is None
    try:
        return find_spec(module) is None
    except (ImportError, ValueError):
        return True


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
         "multi-scale PatchMatch completion (Wexler et al. 2007): textures, large holes; "
         "Image Melding options (similarity transforms, gain/bias, gradients)")
register("criminisi", "classical", "inpaintkit.algorithms.criminisi:inpaint_criminisi",
         "Criminisi exemplar filling: continues linear structures first")
register("planar", "classical", "inpaintkit.algorithms.planar:inpaint_planar",
         "planar structure guidance (Huang et al. 2014): perspective grids, facades, regular patterns")
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
register("lama", "learned", "inpaintkit.learned:inpaint_lama",
         "LaMa: fast Fourier convolution ResNet, large masks (Suvorov et al. 2022)")


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
    if not params:
        return  # nothing to check: no parse of the method's source (CLI start-up)
    valid = spec.params()
    unknown = [key for key in params if key not in valid]
    if unknown:
        listed = ", ".join(valid) or "none"
        raise ValueError(
            f"unknown parameter {unknown[0]!r} for method {spec.name!r}; valid parameters: {listed}"
        )


def _takes(name: str, key: str) -> bool:
    try:
        return key in get(name).params()
    except ImportError:
        return False


def resolve_params(requested: str, chosen: str, params: dict[str, Any]) -> dict[str, Any]:
    """The options ``chosen`` receives from ``params``, checked the same way for every caller.

    A key may be scoped to a method, ``"patchmatch.patch_size"``: it applies only when
    that method runs, and is checked against that method's options whichever runs, so
    ``method="auto"`` with scoped options succeeds or fails the same way for every
    mask. An unscoped key under ``requested == "auto"`` must be an option of some
    method; when the method auto picked does not take it, it is dropped with a
    ``UserWarning`` that says so. Under a named method, unscoped keys must be its own.

    Parameters
    ----------
    requested : str
        The method the caller asked for (``"auto"`` or a name).
    chosen : str
        The method that runs.
    params : dict
        The caller's options, scoped or not.

    Returns
    -------
    dict
        The options for ``chosen``, unscoped.

    Raises
    ------
    ValueError
        For an unknown method scope or an option no method (or not the named one) takes,
        listing the valid names.
    """
    import warnings

    spec = get(chosen)
    used: dict[str, Any] = {}
    unscoped = {}
    for key, value in params.items():
        scope, dot, name = str(key).rpartition(".")
        if not dot:
            unscoped[key] = value
            continue
        if scope not in _METHODS:
            valid = ", ".join(_METHODS)
            raise ValueError(f"parameter {key!r} is scoped to an unknown method {scope!r}; "
                             f"valid methods: {valid}")
        check_params(get(scope), {name: value})
        if scope == chosen:
            used[name] = value
        elif requested != "auto":
            warnings.warn(f"parameter {key!r} is ignored: it is for {scope!r} and the method "
                          f"is {chosen!r}", UserWarning, stacklevel=3)
    if requested != "auto":
        check_params(spec, unscoped)
        return {**unscoped, **used}
    own = spec.params() if unscoped else {}
    for key, value in unscoped.items():
        if key in own:
            used.setdefault(key, value)
            continue
        # Classical methods first: checking a learned one imports torch.
        takers = [name for name in sorted(_METHODS, key=lambda n: _METHODS[n].kind != "classical")
                  if name != chosen and _takes(name, key)]
        if not takers:
            raise ValueError(f"unknown parameter {key!r}: no method takes it; see "
                             "'inpaintkit methods' for each method's options")
        warnings.warn(
            f"parameter {key!r} is not used: method auto picked {chosen!r}, which does not "
            f"take it; write {takers[0]}.{key}=... to give it to {takers[0]!r} only",
            UserWarning, stacklevel=3)
    return used
