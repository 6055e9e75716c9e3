"""Start-up: the small-hole diffusion path in NumPy alone, and what `inpaintkit fill` imports.

The NumPy path (``diffusion._solve_small``) must give the kernels' and SuperLU's
solution; the CLI must fill a small scratch without importing Numba, SciPy or imageio.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from inpaintkit.algorithms import _diffusion_kernels as kernels
from inpaintkit.algorithms import diffusion


def _holes():
    """(name, data, hole): small holes of every shape the stencils care about."""
    rng = np.random.default_rng(3)
    cases = []
    for name, shape, make in [
        ("scratch", (20, 30), lambda h: h.__setitem__((slice(9, 12), slice(3, 27)), True)),
        ("column", (25, 12), lambda h: h.__setitem__((slice(2, 23), slice(5, 7)), True)),
        ("corner", (14, 16), lambda h: h.__setitem__((slice(0, 4), slice(0, 5)), True)),
        ("border", (14, 16), lambda h: h.__setitem__((slice(None), slice(14, 16)), True)),
        ("pixel", (9, 9), lambda h: h.__setitem__((4, 4), True)),
        ("one row", (1, 20), lambda h: h.__setitem__((0, slice(5, 9)), True)),
        ("one column", (20, 1), lambda h: h.__setitem__((slice(3, 6), 0), True)),
        ("random", (18, 22), lambda h: h.__setitem__(rng.random(h.shape) < 0.35, True)),
        ("close specks", (12, 12), lambda h: [h.__setitem__((4, 4), True),
                                              h.__setitem__((4, 6), True),
                                              h.__setitem__((6, 5), True)]),
    ]:
        hole = np.zeros(shape, bool)
        make(hole)
        data = rng.random((*shape, 3))
        data[hole] = 0.0
        cases.append((name, data, hole))
    return cases


CASES = _holes()
ORDERS = [(1, 0.0), (2, 0.0), (2, 0.25), (2, 0.9)]


@pytest.mark.parametrize("name, data, hole", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("order, tension", ORDERS)
def test_small_solve_equals_the_kernels_and_superlu(name, data, hole, order, tension):
    sparse_fill = diffusion._solve_elliptic(data.copy(), hole, order, tension)
    small_fill = diffusion._solve_small(data.copy(), hole, order, tension)
    assert np.array_equal(small_fill[~hole], data[~hole])  # known pixels only read
    assert np.abs(small_fill - sparse_fill).max() < 1e-9


@pytest.mark.parametrize("name, data, hole", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("order, tension", ORDERS)
def test_dense_system_is_the_kernel_assembly(name, data, hole, order, tension):
    rows, cols = np.nonzero(hole)
    index = kernels.hole_index_map(rows, cols, *hole.shape)
    a_rows, a_cols, a_vals, rhs = kernels.assemble_system(rows, cols, index, data, order, tension)
    want = np.zeros((rows.size, rows.size))
    np.add.at(want, (a_rows, a_cols), a_vals)
    matrix, got_rhs = diffusion._dense_system(rows, cols, data, order, tension)
    np.testing.assert_allclose(matrix, want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got_rhs, rhs, rtol=0, atol=1e-13)
    # The band the factorisation works in holds every nonzero of the matrix.
    transposed, width = diffusion._band(hole, order)
    if not transposed:
        far = np.abs(np.subtract.outer(np.arange(rows.size), np.arange(rows.size)))
        assert not matrix[far > width].any()
        assert width == 0 or matrix[far == width].any()


def test_banded_cholesky_solves_band_systems():
    rng = np.random.default_rng(1)
    n, width = 60, 7
    far = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    noise = rng.standard_normal((n, n)) * (far <= width)
    matrix = (noise + noise.T) / 2 + np.diag(np.full(n, 2.0 * width + 2))  # dominant: SPD
    rhs = rng.standard_normal((n, 2))
    got = diffusion._banded_cholesky_solve(matrix.copy(), rhs, width)
    np.testing.assert_allclose(got, np.linalg.solve(matrix, rhs), rtol=0, atol=1e-12)


def test_known_range_equals_the_kernel():
    rng = np.random.default_rng(2)
    data = rng.random((13, 17, 3))
    hole = rng.random((13, 17)) < 0.5
    for low, high in zip(diffusion._known_range(data, hole), kernels.known_range(data, hole)):
        assert np.array_equal(low, high)


@pytest.mark.parametrize("variant", ("harmonic", "biharmonic", "tension"))
@pytest.mark.parametrize("channels", (None, 3, 4))
def test_inpaint_diffusion_takes_the_small_path_with_the_same_result(monkeypatch, variant,
                                                                   channels):
    rng = np.random.default_rng(4)
    shape = (40, 44) if channels is None else (40, 44, channels)
    yy, xx = np.mgrid[0:40, 0:44]
    smooth = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    image = np.clip(smooth[..., None] + 0.05 * rng.random(shape[:2] + (shape[2:] or (1,))), 0, 1)
    image = image.reshape(shape)
    mask = np.zeros((40, 44), bool)
    mask[18:21, 4:40] = True
    mask[5, 5] = True
    calls = []
    original = diffusion._solve_small
    monkeypatch.setattr(diffusion, "_solve_small", lambda *a: calls.append(1) or original(*a))
    small = diffusion.inpaint_diffusion(image, mask, variant=variant)
    assert calls, "the small hole did not take the NumPy path"
    monkeypatch.setattr(diffusion, "_SMALL_UNKNOWNS", 0)
    sparse_fill = diffusion.inpaint_diffusion(image, mask, variant=variant)
    assert len(calls) == 1
    assert np.array_equal(small[~mask], image[~mask])
    assert np.abs(small - sparse_fill).max() < 1e-9


def test_small_system_respects_the_size_and_the_band():
    hole = np.zeros((40, 44), bool)
    hole[18:21, 4:40] = True
    assert diffusion._small_system(hole, 2)
    assert not diffusion._small_system(np.zeros((5, 5), bool), 2)  # nothing to solve
    big = np.zeros((60, 60), bool)
    big[10:45, 10:45] = True  # 1225 unknowns
    assert not diffusion._small_system(big, 2)
    assert not diffusion.needs_kernels(hole, variant="tension")
    assert diffusion.needs_kernels(big, variant="tension")
    assert diffusion.needs_kernels(hole, variant="tv")
    assert not diffusion.needs_kernels(np.zeros((5, 5), bool))


def _run_fill(tmp_path, args, **env):
    """Run the fill CLI in a fresh interpreter; the heavy modules it imported."""
    import cv2

    image = np.tile(np.linspace(40, 200, 64, dtype=np.uint8), (64, 1))
    cv2.imwrite(str(tmp_path / "tiny.png"), np.dstack([image, image.T, image]))
    mask = np.zeros((64, 64), np.uint8)
    mask[30:33, 10:50] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    command = ["fill", str(tmp_path / "tiny.png"), str(tmp_path / "mask.png"),
               "-o", str(tmp_path / "out.png"), "--overwrite", *args]
    code = ("import sys\n"
            "from inpaintkit.cli import main\n"
            "try:\n"
            f"    main({command!r})\n"
            "except SystemExit as exit:\n"
            "    assert not exit.code, exit.code\n"
            "print(sorted(m for m in ('numba', 'scipy', 'imageio', 'torch', 'importlib.metadata')"
            " if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **env}, check=True)
    return result.stdout.strip(), result.stderr


def test_fill_of_a_scratch_imports_neither_numba_nor_scipy(tmp_path):
    # Not quiet, with an empty Numba cache: the compile notice is not due either.
    modules, err = _run_fill(tmp_path, [], NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert modules == "[]", err
    assert "auto -> diffusion" in err and "compiling" not in err
    assert (tmp_path / "out.png").exists()


@pytest.mark.parametrize("variant", ("harmonic", "biharmonic"))
def test_fill_with_other_linear_variants_stays_in_numpy(tmp_path, variant):
    modules, err = _run_fill(tmp_path, ["-m", "diffusion", "--param", f"variant={variant}"],
                             NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert modules == "[]", err


def test_compile_notice_only_when_the_fill_runs_kernels(tmp_path):
    code = ("import sys, numpy as np\n"
            "from inpaintkit import warmup\n"
            "small = np.zeros((64, 64), bool); small[30:33, 10:50] = True\n"
            "big = np.zeros((64, 64), bool); big[5:60, 5:60] = True\n"
            "print(warmup.compile_notice('diffusion', small, {}), 'numba' in sys.modules)\n"
            "print(warmup.compile_notice('diffusion', small, {'variant': 'tv'}) is not None)\n"
            "print(warmup.compile_notice('diffusion', big, {}) is not None)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}, check=True)
    assert result.stdout.split() == ["None", "False", "True", "True"]


def _cli_in_fresh_interpreter(args, extra_path=None,
                              watch=("importlib.metadata", "numpy", "ast")):
    """Run ``inpaintkit ARGS`` in a new interpreter; (stdout, the sorted list of the
    ``watch`` modules it loaded, as printed)."""
    code = ("import sys\n"
            + (f"sys.path.insert(0, {str(extra_path)!r})\n" if extra_path else "")
            + "from inpaintkit.cli import main\n"
            "try:\n"
            f"    main({list(args)!r})\n"
            "except SystemExit as exit:\n"
            "    assert not exit.code, exit.code\n"
            f"print(sorted(m for m in {tuple(watch)!r} if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return result.stdout, result.stderr.strip().splitlines()[-1]


def test_help_imports_no_numpy():
    # --help loads every command's module for its summary line: none may import NumPy
    # (or anything heavier) at its top.
    out, modules = _cli_in_fresh_interpreter(["--help"],
                                             watch=("numpy", "numba", "scipy", "cv2", "torch"))
    assert "fill" in out
    assert modules == "[]"


@pytest.mark.parametrize("args", (["--help"], ["methods"]))
def test_help_and_methods_read_no_distribution_metadata(args):
    # importlib.metadata (and the email, csv, zipfile modules it loads) cost about
    # 0.1 s, half of --help: only a distribution that declares plugins needs it.
    out, modules = _cli_in_fresh_interpreter(args)
    assert "fill" in out or "patchmatch" in out
    assert "importlib.metadata" not in modules, modules


def test_plugin_commands_are_still_found(tmp_path):
    # A distribution on the path declares a command in the entry-point group: the
    # quick look at entry_points.txt files must send the CLI to importlib.metadata.
    info = tmp_path / "inpaintkit_hello-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: inpaintkit-hello\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[inpaintkit.commands]\nhello = hello_cmd:command\n")
    (tmp_path / "hello_cmd.py").write_text(
        "import click\n\n@click.command('hello')\ndef command():\n"
        "    '''Say hello from a plugin.'''\n    click.echo('hello')\n")
    out, modules = _cli_in_fresh_interpreter(["--help"], tmp_path)
    assert "Say hello from a plugin" in out and "importlib.metadata" in modules
    out, _ = _cli_in_fresh_interpreter(["hello"], tmp_path)
    assert out.strip() == "hello"


def test_listed_options_are_the_signatures():
    # methods() reads each method's options from its ``def`` line alone (no import):
    # they must be what the imported function's signature says.
    import inspect

    from inpaintkit import registry

    for name in registry.names():
        spec = registry.get(name)
        if spec.kind == "learned":
            continue  # importing them needs torch
        parsed = registry._parse_params(spec.target)
        signature = inspect.signature(spec.load())
        expected = {p.name: p.default for p in signature.parameters.values()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}
        assert parsed == expected, name


def test_parsed_defaults_follow_module_constants(tmp_path, monkeypatch):
    from inpaintkit import registry

    (tmp_path / "fake_method.py").write_text(
        "WEIGHT: float = 2.5  # a comment\nWEIGHT = 3.5\nNAMES = ('a',\n 'b')\n\n"
        "def fill(image, mask, *, weight=WEIGHT, mode='x:y',\n"
        "         size=(1, 2), seed=0) -> None:\n    '''Doc: with a colon.'''\n\n"
        "def other(image, mask, *, names=NAMES):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry._parse_params("fake_method:fill") == {
        "weight": 3.5, "mode": "x:y", "size": (1, 2)}
    assert registry._parse_params("fake_method:other") is None  # multi-line: import instead
    assert registry._parse_params("fake_method:missing") is None
