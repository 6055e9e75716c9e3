"""Start-up benchmark: CLI wall time cold and warm, and where import time goes.

Run from the repository root::

    python bench/startup.py            # 5 repeats each
    python bench/startup.py --repeat 10
    python bench/startup.py --against /path/to/other/checkout   # before/after, one run

Prints, in one run:

1. wall and CPU time of ``inpaintkit --help``, ``inpaintkit methods`` and ``inpaintkit
   fill`` of a 64x64 image with a scratch (quiet, and with its messages), with a warm
   Numba cache (median of the repeats) and with an empty one (``NUMBA_CACHE_DIR``
   pointed at a fresh folder: the first use on a new machine, compile included), and
   the best warm run (on a loaded machine the least disturbed one);
   with ``--against``, the same for that checkout and the ratios (this / that);
2. the modules that cost the most import time in that fill (``python -X importtime``,
   cumulative microseconds), so a regression names its culprit, and which of the heavy
   libraries (Numba, SciPy, imageio, torch) the fill loaded;
3. the same for ``inpaintkit warmup`` (compiling every classical method ahead of time).

The targets (issue 22): fill under 0.4 s warm, --help and methods under 0.2 s.
Wall times depend on machine load: CPU time (user + sys) is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), ROOT]  # this checkout's inpaintkit
from _common import print_table  # noqa: E402
HEAVY = ("numba", "scipy", "imageio", "torch")


#: Bytecode of the checkouts' own modules is cached here (not in the checkouts), as an
#: installed package has it: with PYTHONDONTWRITEBYTECODE set (as in some CI and
#: container set-ups) every run would compile inpaintkit's sources again (~0.05 s).
_PYCACHE = tempfile.mkdtemp(prefix="inpaintkit-bench-pycache-")


def _checkout_env(checkout: str, env: dict) -> dict:
    """``env`` with ``checkout``'s inpaintkit first on the path, bytecode cached."""
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return dict(env, PYTHONPYCACHEPREFIX=_PYCACHE, PYTHONPATH=os.pathsep.join(
        [checkout] + [p for p in [env.get("PYTHONPATH", "")] if p]))


def _run(args: list[str], env: dict, cwd: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m inpaintkit ARGS`` subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "inpaintkit", *args], env=env, check=True, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _files(folder: str) -> tuple[str, str, str]:
    import imageio.v3 as iio

    image = os.path.join(folder, "tiny.png")
    mask = os.path.join(folder, "tiny_mask.png")
    # A smooth photo-like gradient: auto sends the scratch to diffusion (over noise it
    # would weigh the texture and pick patchmatch).
    ramp = np.linspace(0.2, 0.8, 64)
    pixels = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (64, 1)),
                       np.tile(ramp[:, None], (1, 64))], axis=2)
    iio.imwrite(image, (pixels * 255).astype(np.uint8))
    hole = np.zeros((64, 64), np.uint8)
    hole[30:33, 10:50] = 255
    iio.imwrite(mask, hole)
    return image, mask, os.path.join(folder, "out.png")


def _commands(image: str, mask: str, out: str) -> dict[str, list[str]]:
    fill = ["fill", image, mask, "-o", out, "--overwrite"]
    return {"--help": ["--help"], "methods": ["methods"],
            "fill 64x64 (auto, -q)": fill + ["-q"], "fill 64x64 (auto)": fill}


def cli_table(repeat: int, against: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        image, mask, out = _files(folder)
        # (label, environment, working folder): this checkout from its root; another
        # one from a folder of its own, so that the current folder does not shadow it.
        setups = [("this", _checkout_env(ROOT, dict(os.environ)), ROOT)]
        if against:
            setups.append(("against", _checkout_env(os.path.abspath(against),
                                                    dict(os.environ)), folder))
        rows, ratios = [], []
        for name, args in _commands(image, mask, out).items():
            measured = {}
            for label, env, cwd in setups:
                _run(args, env, cwd)  # warm the cache and the OS file cache
                runs = [_run(args, env, cwd) for _ in range(repeat)]
                cold_env = dict(env, NUMBA_CACHE_DIR=tempfile.mkdtemp(dir=folder))
                cold = _run(args, cold_env, cwd)
                measured[label] = row = {
                    "command": name, "checkout": label,
                    "warm wall s": statistics.median(r[0] for r in runs),
                    "best wall s": min(r[0] for r in runs),
                    "warm cpu s": statistics.median(r[1] for r in runs),
                    "cold wall s": cold[0], "cold cpu s": cold[1]}
                rows.append(row)
            if against:
                this, that = measured["this"], measured["against"]
                ratios.append({"command": name, **{
                    key: this[key] / that[key] for key in ("warm wall s", "best wall s",
                                                           "warm cpu s", "cold wall s",
                                                           "cold cpu s")}})
        columns = list(rows[0]) if against else [c for c in rows[0] if c != "checkout"]
        title = (f"CLI start-up (median of {repeat}; cold = empty Numba cache, compile "
                 "included)" + (f"; this = {ROOT}, against = {against}" if against else ""))
        print_table(rows, columns, title=title)
        print()
        if against:
            print_table(ratios, list(ratios[0]), title="Ratio this / against (below 1: faster)")
            print()


def heavy_modules() -> list[str]:
    """The heavy libraries a quiet ``inpaintkit fill`` of the tiny image loads."""
    with tempfile.TemporaryDirectory() as folder:
        image, mask, out = _files(folder)
        code = ("import sys\n"
                "from inpaintkit.cli import main\n"
                "try:\n"
                f"    main({['fill', image, mask, '-o', out, '-q']!r})\n"
                "except SystemExit:\n"
                "    pass\n"
                f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, cwd=ROOT, env=_checkout_env(ROOT, dict(os.environ)))
    return result.stdout.split()


def import_table(top: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        image, mask, out = _files(folder)
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "inpaintkit", "fill", image, mask,
             "-o", out, "--overwrite", "-q"], capture_output=True, text=True, check=True,
            cwd=ROOT, env=_checkout_env(ROOT, dict(os.environ)))
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        name = parts[2].rstrip()[1:]  # "| name", deeper imports indented further
        if not name.startswith(" "):  # top-level imports only
            rows.append({"module": name.strip(), "cumulative ms": cumulative / 1000})
    rows.sort(key=lambda r: -r["cumulative ms"])
    total = sum(row["cumulative ms"] for row in rows)
    print_table(rows[:top], ["module", "cumulative ms"],
                title=f"Top-level imports of 'inpaintkit fill' (python -X importtime; "
                      f"{total:.0f} ms in all)")
    heavy = heavy_modules()
    print(f"Heavy libraries the fill loads ({', '.join(HEAVY)}): "
          f"{' '.join(heavy) if heavy else 'none'}")
    print()


def small_solve_table() -> None:
    """diffusion's small-hole path (NumPy, banded Cholesky) against the kernels and
    SuperLU, in this process with both warm: the price of skipping Numba and SciPy."""
    from inpaintkit.algorithms import diffusion

    rng = np.random.default_rng(0)
    rows = []
    for height, width in ((3, 40), (12, 12), (3, 300), (20, 50), (31, 31)):
        data = rng.random((height + 10, width + 10, 3))
        hole = np.zeros(data.shape[:2], bool)
        hole[5:5 + height, 5:5 + width] = True
        times = {}
        for name, solve in (("small", diffusion._solve_small),
                            ("sparse", diffusion._solve_elliptic)):
            solve(data.copy(), hole, 2, 0.25)  # warm (kernels loaded, SciPy imported)
            spent = []
            for _ in range(5):
                start = time.process_time()
                result = solve(data.copy(), hole, 2, 0.25)
                spent.append(time.process_time() - start)
            times[name] = (min(spent), result)
        rows.append({"hole": f"{height}x{width}", "unknowns": int(hole.sum()),
                     "band": diffusion._band(hole, 2)[1],
                     "small path": diffusion._small_system(hole, 2),
                     "numpy ms": 1e3 * times["small"][0],
                     "kernels+SuperLU ms": 1e3 * times["sparse"][0],
                     "max abs diff":
                         f"{np.abs(times['small'][1] - times['sparse'][1]).max():.1e}"})
    print_table(rows, list(rows[0]), title="tension on a small hole, in process, warm (CPU ms, "
                                           "best of 5): NumPy path vs kernels and SuperLU")
    print()


def warmup_table() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = dict(_checkout_env(ROOT, dict(os.environ)), NUMBA_CACHE_DIR=folder)
        cold = _run(["warmup"], env, ROOT)
        warm = _run(["warmup"], env, ROOT)
    print_table([{"run": "empty cache", "wall s": cold[0], "cpu s": cold[1]},
                 {"run": "cached", "wall s": warm[0], "cpu s": warm[1]}],
                ["run", "wall s", "cpu s"],
                title="inpaintkit warmup (every classical method compiled once)")
    print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=12, help="import rows to show")
    parser.add_argument("--skip-warmup", action="store_true",
                        help="skip the warmup table (about a minute of compiling)")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="another inpaintkit checkout (e.g. main's) to time in the same "
                             "run, with the ratios")
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats and no warmup table")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.skip_warmup = 2, True
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    print(f"inpaintkit start-up benchmark; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}\n")
    try:
        cli_table(args.repeat, args.against)
        import_table(args.top)
        small_solve_table()
        if not args.skip_warmup:
            warmup_table()
    finally:
        shutil.rmtree(_PYCACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
