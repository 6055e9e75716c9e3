"""Start-up benchmark: CLI wall time cold and warm, and where import time goes.

Run from the repository root::

    python bench/startup.py            # 5 repeats each
    python bench/startup.py --repeat 10

Prints, in one run:

1. wall and CPU time of ``inpaintkit --help``, ``inpaintkit methods`` and ``inpaintkit
   fill`` of a 64x64 image with a scratch, with a warm Numba cache (median of the
   repeats) and with an empty one (``NUMBA_CACHE_DIR`` pointed at a fresh folder: the
   first use on a new machine, compile included);
2. the modules that cost the most import time in that fill (``python -X importtime``,
   cumulative microseconds), so a regression names its culprit;
3. the same for ``inpaintkit warmup`` (compiling every classical method ahead of time).

The targets (issue 22): fill under 0.4 s warm, --help and methods under 0.2 s.
Wall times depend on machine load: CPU time (user + sys) is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import print_table  # noqa: E402


def _run(args: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m inpaintkit ARGS`` subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "inpaintkit", *args], env=env, check=True,
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


def cli_table(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        image, mask, out = _files(folder)
        commands = {
            "--help": ["--help"],
            "methods": ["methods"],
            "fill 64x64 (auto)": ["fill", image, mask, "-o", out, "--overwrite", "-q"],
        }
        env = dict(os.environ)
        rows = []
        for name, args in commands.items():
            _run(args, env)  # warm the cache and the OS file cache
            runs = [_run(args, env) for _ in range(repeat)]
            cold_env = dict(env, NUMBA_CACHE_DIR=tempfile.mkdtemp(dir=folder))
            cold = _run(args, cold_env)
            rows.append({"command": name,
                         "warm wall s": statistics.median(r[0] for r in runs),
                         "warm cpu s": statistics.median(r[1] for r in runs),
                         "cold wall s": cold[0], "cold cpu s": cold[1]})
        print_table(rows, list(rows[0]), title=f"CLI start-up (median of {repeat}; cold = "
                                                "empty Numba cache, compile included)")
        print()


def import_table(top: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        image, mask, out = _files(folder)
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "inpaintkit", "fill", image, mask,
             "-o", out, "--overwrite", "-q"], capture_output=True, text=True, check=True)
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
    print_table(rows[:top], ["module", "cumulative ms"],
                title="Top-level imports of 'inpaintkit fill' (python -X importtime)")
    print()


def warmup_table() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, NUMBA_CACHE_DIR=folder)
        cold = _run(["warmup"], env)
        warm = _run(["warmup"], env)
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
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    print(f"inpaintkit start-up benchmark; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}\n")
    cli_table(args.repeat)
    import_table(args.top)
    if not args.skip_warmup:
        warmup_table()


if __name__ == "__main__":
    main()
