"""The method list as the page's forms need it: each parameter's kind, default and choices.

Kinds and choices come from the method's own signature (defaults) and numpydoc
docstring (``variant : {"tension", "harmonic"}``), so the registry stays the single
source of truth. Parameters that take a file path or an array (weights, masks, edge
maps) or change what a method returns (``return_*``) are not offered over the web:
no endpoint takes a file-system path.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

from .. import registry

#: Parameters that name files or take arrays; the web app never accepts them.
FILE_PARAMS = ("weights", "config", "edges")

_DOC_LINE = re.compile(r"^\s*(\w+)\s*:\s*(.+)$")
_CHOICES = re.compile(r"\{([^}]*)\}")


def _documented_types(*functions) -> dict[str, str]:
    """``name -> type text`` from the numpydoc Parameters sections of ``functions``."""
    found: dict[str, str] = {}
    for function in functions:
        for line in (inspect.getdoc(function) or "").splitlines():
            match = _DOC_LINE.match(line)
            if match and match.group(1) not in found:
                found[match.group(1)] = match.group(2)
    return found


def _skip_reason(name: str, default: Any, doc: str) -> str | None:
    if name.startswith("return_"):
        return "changes what the method returns; use the Python API"
    if name in FILE_PARAMS or name.endswith("_mask") or "ndarray" in doc or "path" in doc.split(","):
        return "takes a file or an array; use the command line or the Python API"
    return None


def describe_param(name: str, default: Any, doc: str) -> dict[str, Any]:
    """One parameter for the form: ``name``, ``kind``, ``default`` and ``choices``/``optional``.

    ``kind`` is ``"bool"``, ``"int"``, ``"float"``, ``"choice"`` or ``"text"`` (a mixed
    type, e.g. ``None, int or "full"``, parsed as the command line parses ``--param``).
    """
    row: dict[str, Any] = {"name": name, "default": default, "doc": doc}
    choices = _CHOICES.search(doc)
    if choices:
        row["kind"] = "choice"
        row["choices"] = [c.strip().strip("'\"") for c in choices.group(1).split(",")]
    elif isinstance(default, bool):
        row["kind"] = "bool"
    elif isinstance(default, int) and "None" not in doc and "or" not in doc.split():
        row["kind"] = "int"
    elif isinstance(default, float) and "None" not in doc:
        row["kind"] = "float"
    else:
        row["kind"] = "text"
        row["default"] = "None" if default is None else str(default)
    return row


def method_table() -> list[dict[str, Any]]:
    """``inpaintkit.methods()`` with each parameter described for a form.

    Returns
    -------
    list of dict
        ``name``, ``kind``, ``description``, ``available`` (bool), ``error`` (the
        one-line reason when not available), ``params`` (list of dicts from
        :func:`describe_param`) and ``not_offered`` (name -> why).
    """
    import inpaintkit

    rows = []
    for method in inpaintkit.methods():
        row = {key: method[key] for key in ("name", "kind", "description")}
        row["available"] = method["params"] is not None
        row["params"], row["not_offered"] = [], {}
        if not row["available"]:
            row["error"] = str(method.get("error", "not available")).splitlines()[0]
            rows.append(row)
            continue
        function = registry.get(method["name"]).load()
        documented = _documented_types(function, *_shared_docs(method["kind"]))
        for name, default in method["params"].items():
            doc = documented.get(name, "")
            reason = _skip_reason(name, default, doc)
            if reason:
                row["not_offered"][name] = reason
            else:
                row["params"].append(describe_param(name, default, doc))
        rows.append(row)
    return rows


def _shared_docs(kind: str) -> list:
    # The learned wrappers document weights/config/device/max_size/large once, on load().
    if kind != "learned":
        return []
    try:
        from ..learned import load
    except ImportError:
        return []
    return [load]


def parse_params(method: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Check the page's parameter values against ``method``'s form; the options to pass.

    Raises
    ------
    ValueError
        Naming the parameter and what was expected (unknown names list the valid ones).
    """
    from ..cli._shared import _coerce  # the command line's --param rules, for "text" kinds

    by_name = {p["name"]: p for p in method["params"]}
    options: dict[str, Any] = {}
    for name, value in given.items():
        if name in method["not_offered"]:
            raise ValueError(f"parameter {name!r} of {method['name']} is not accepted here: "
                             f"it {method['not_offered'][name]}")
        if name not in by_name:
            valid = ", ".join(by_name) or "none"
            raise ValueError(f"unknown parameter {name!r} for method {method['name']!r}; "
                             f"valid parameters: {valid}")
        param = by_name[name]
        kind = param["kind"]
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"parameter {name!r} must be true or false, got {value!r}")
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise ValueError(f"parameter {name!r} must be a whole number, got {value!r}")
            value = int(value)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
            value = float(value)
        elif kind == "choice":
            if value not in param["choices"]:
                raise ValueError(f"parameter {name!r} must be one of {', '.join(param['choices'])}, "
                                 f"got {value!r}")
        else:
            if not isinstance(value, str):
                raise ValueError(f"parameter {name!r} must be given as text, got {value!r}")
            value = _coerce(value, None if param["default"] == "None" else param["default"])
        options[name] = value
    return options
