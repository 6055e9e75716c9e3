"""Numba first-use compile: detection, the warmup command, and start-up without imports."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from inpaintkit import registry, warmup
from inpaintkit.cli import cli


def _in_subprocess(code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **env}, check=True)
    return result.stdout.strip()


def test_an_empty_cache_needs_compiling_and_learned_methods_never_do(tmp_path):
    out = _in_subprocess("from inpaintkit import warmup; "
                         "print(warmup.needs_compile('diffusion'), warmup.needs_compile('gl'), "
                         "warmup.compile_notice('patchmatch'))",
                         NUMBA_CACHE_DIR=str(tmp_path))
    assert out.startswith("True False compiling patchmatch's kernels for first use")
    assert "inpaintkit warmup" in out


def test_after_a_fill_the_kernels_count_as_cached():
    warmup.warmup(["diffusion"])  # compiles (or loads) and caches
    assert not warmup.needs_compile("diffusion")
    assert warmup.compile_notice("diffusion") is None


def test_warmup_command_lists_each_method_and_refuses_learned_ones():
    runner = CliRunner()
    result = runner.invoke(cli, ["warmup", "--methods", "diffusion"])
    assert result.exit_code == 0, result.output
    assert "diffusion" in result.output and " s " in result.output
    result = runner.invoke(cli, ["warmup", "--methods", "gl"], standalone_mode=True)
    assert result.exit_code != 0 and "learned method" in result.output
    result = runner.invoke(cli, ["warmup", "--methods", "nope"], standalone_mode=True)
    assert result.exit_code != 0 and "unknown method" in result.output


@pytest.mark.parametrize("name", registry.names())
def test_static_params_equal_the_signature(name):
    spec = registry.get(name)
    static = registry._static_params(spec.target)
    signature = inspect.signature(spec.load())
    expected = {p.name: p.default for p in signature.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}
    assert static is None or static == expected
    assert spec.params() == expected


def test_listing_methods_imports_neither_numba_nor_torch():
    out = _in_subprocess("import sys, inpaintkit; inpaintkit.methods(); "
                         "print(sorted(m for m in ('numba', 'torch', 'numpy', 'scipy') "
                         "if m in sys.modules))")
    assert out == "[]"


def test_warmup_reaches_the_multigrid_solvers(monkeypatch):
    # The sample's holes are solved directly; warm_large_holes must take the multigrid
    # CG of both orders, or its kernels compile inside the first large fill.
    from inpaintkit.algorithms import diffusion

    calls = []
    real = diffusion._solve_multigrid

    def counting(matrix, rows, cols, shape, rhs, start=None, **options):
        calls.append(start is not None)
        return real(matrix, rows, cols, shape, rhs, start, **options)

    monkeypatch.setattr(diffusion, "_solve_multigrid", counting)
    diffusion.warm_large_holes()
    assert sorted(calls) == [False, True]  # order 2 from zero, order 1 from a start
