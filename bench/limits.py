"""Peak memory and time of every method on large photos (2k to 16k pixels a side).

Each case runs in its own process, so its peak resident memory (``ru_maxrss``) is
its own. It includes the interpreter, the libraries, the photo and the mask;
"above inputs" is the peak less the resident size once they exist, and "B/px" that
over the image's pixels. The photo is synthesised there (a skimage.data photo
enlarged with OpenCV; a size ``WxH`` such as ``7680x4800`` gives a non-square one),
a hole drawn (``scratch``: thin strokes over 0.5 % of the pixels; ``hole5``: one
blob of 5 %; ``scribble5``: a round brush, 1.5 % of the shorter side wide, scribbled
in random strokes over the middle 45 % x 45 % of the frame until 5 % of the pixels
are covered, as a user paints over an object to remove), the memory estimate of :func:`inpaintkit._image.check_memory` asked
first (a case the machine cannot hold is refused before it starts, as
``inpaint()`` would), then the fill timed. Run from the repository root::

    python bench/limits.py                        # 2k and 4k, every method
    python bench/limits.py --sizes 8000 --methods patchmatch --holes hole5
    python bench/limits.py --sizes 16000 --methods auto --holes scratch
    python bench/limits.py --sizes 7680x4800 --methods patchmatch --holes scribble5
    python bench/limits.py --sizes 2000 --methods patchmatch --params source_margin=None

Big cases take minutes and gigabytes: run them one at a time on a quiet machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time

_CHILD = r"""
import json, os, resource, sys, time
import numpy as np, cv2
size, hole_kind, method = sys.argv[1], sys.argv[2], sys.argv[3]
params = json.loads(sys.argv[4])
width, height = (int(v) for v in size.split("x")) if "x" in size else (int(size), int(size))
from skimage import data as skdata
import inpaintkit
from inpaintkit._image import estimate_memory, available_memory, work_pixels

photo = skdata.astronaut()[..., :3]
image = cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC)
rng = np.random.default_rng(0)
canvas = np.zeros((height, width), np.uint8)
if hole_kind == "scratch":
    # Straight scratches 3-7 px wide over 0.5 % of the pixels, as on a scanned print.
    while cv2.countNonZero(canvas) < 0.005 * width * height:
        points = rng.integers(0, (width, height), (2, 2))
        cv2.line(canvas, tuple(map(int, points[0])), tuple(map(int, points[1])), 1,
                 int(rng.integers(3, 8)))
elif hole_kind == "scribble5":
    # A brush scribbled over the middle of the frame, stroke after stroke.
    brush = max(3, int(0.015 * min(width, height)))
    low = np.array([0.275 * width, 0.275 * height])
    high = np.array([0.725 * width, 0.725 * height])
    point = rng.uniform(low, high)
    while cv2.countNonZero(canvas) < 0.05 * width * height:
        step = rng.normal(0.0, 0.06 * min(width, height), 2)
        nxt = np.clip(point + step, low, high)
        cv2.line(canvas, tuple(int(v) for v in point), tuple(int(v) for v in nxt), 1, brush)
        point = nxt
else:
    radius = int(np.sqrt(0.05 * width * height / np.pi))
    centre = (width // 2 + width // 9, height // 2 - height // 11)
    cv2.ellipse(canvas, centre, (int(radius * 1.25), int(radius * 0.8)), 20, 0, 360, 1, -1)
mask = canvas.view(bool)  # 0/1 bytes: the same memory, no copy
chosen = inpaintkit.choose_method(mask) if method == "auto" else method
from inpaintkit import _windows
work = work_pixels(chosen, mask, params)
need = estimate_memory(chosen, image.shape, image.dtype, int(np.count_nonzero(mask)),
                       windowed=_windows.worth_it(chosen, image.shape, None, mask), work=work)
have = available_memory()
record = {"size": size, "hole": hole_kind, "method": method, "chosen": chosen, "params": params,
          "hole_fraction": np.count_nonzero(mask) / mask.size, "image_mb": image.nbytes / 2**20,
          "estimate_mb": need / 2**20, "work_pixels": int(work or width * height),
          "available_mb": None if have is None else have / 2**20,
          "inputs_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if have is not None and need > have:
    record["status"] = "refused"
    print(json.dumps(record)); sys.exit(0)
if os.environ.get("LIMITS_WARM"):
    # Load the method's libraries and kernels on a small crop of the case first, so
    # that the call below is measured alone: its peak over the resident size before it
    # (Linux: writing 5 to clear_refs resets the high-water mark).
    first = np.argwhere(mask[::7, ::7])[0] * 7  # a hole pixel (a coarse look: no big copy)
    top, left = (max(0, int(v) - 48) for v in first)
    small = (slice(top, top + 96), slice(left, left + 96))
    if mask[small].any() and not mask[small].all():
        inpaintkit.inpaint(image[small], mask[small], method=chosen, **params)
    def status(key):
        with open("/proc/self/status") as lines:
            return next(int(l.split()[1]) for l in lines if l.startswith(key)) / 1024
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    record["before_call_mb"] = status("VmRSS:")
record["load_start"] = os.getloadavg()[0]
start = time.perf_counter()
cpu = resource.getrusage(resource.RUSAGE_SELF)
out = inpaintkit.inpaint(image, mask, method=chosen, **params)
record["seconds"] = time.perf_counter() - start
done = resource.getrusage(resource.RUSAGE_SELF)
record["cpu_seconds"] = (done.ru_utime - cpu.ru_utime) + (done.ru_stime - cpu.ru_stime)
record["load_average"] = os.getloadavg()[0]
record["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if os.environ.get("LIMITS_WARM"):
    record["call_peak_mb"] = status("VmHWM:") - record["before_call_mb"]
record["pixels"] = width * height
record["known_exact"] = bool(np.array_equal(out[~mask], image[~mask]))
record["status"] = "ok"
print(json.dumps(record))
"""


def run_case(size: str, hole: str, method: str, timeout: float, params=None,
             warm: bool = False) -> dict:
    """Run one case in a fresh process; return its record (status ok/refused/timeout/failed)."""
    env = dict(os.environ)
    if warm:
        env["LIMITS_WARM"] = "1"
    env.setdefault("NUMBA_NUM_THREADS", "2")
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(size), hole, method,
                               json.dumps(params or {})],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"size": size, "hole": hole, "method": method, "status": "timeout",
                "seconds": time.perf_counter() - start}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"size": size, "hole": hole, "method": method, "status": "failed",
                "error": tail[:120], "returncode": done.returncode}
    return json.loads(lines[-1])


def _work_ratio(record: dict) -> float:
    """The call's peak over its work area's own size (the bytes of the image's pixels
    that the method works on: patchmatch's crop, else the whole image)."""
    area_mb = record["image_mb"] * record.get("work_pixels", record["pixels"]) / record["pixels"]
    return record["call_peak_mb"] / area_mb


def _row(record: dict) -> str:
    status = record["status"]
    size = str(record["size"])
    size = size if "x" in size else f"{size}^2"
    chosen = record.get("chosen", record["method"])
    name = record["method"] + (f"->{chosen}" if chosen != record["method"] else "")
    name += "".join(f" {key}={value}" for key, value in (record.get("params") or {}).items())
    if status == "ok":
        ratio = record["peak_rss_mb"] / record["image_mb"]
        work = record["peak_rss_mb"] - record["inputs_rss_mb"]
        per_pixel = work * 2**20 / record["pixels"]
        return (f"| {size} | {record['hole']} | {name} | {record['seconds']:.1f} | "
                f"{record.get('cpu_seconds', float('nan')):.1f} | "
                f"{record.get('load_start', float('nan')):.1f}-"
                f"{record.get('load_average', float('nan')):.1f} | "
                f"{record['peak_rss_mb']:.0f} | {ratio:.2f}x | {work:.0f} | {per_pixel:.0f} | "
                f"{record['estimate_mb']:.0f} | {'yes' if record['known_exact'] else 'NO'} |"
                + (f" {record['call_peak_mb']:.0f} | {record['call_peak_mb'] / record['image_mb']:.2f}x |"
                   f" {record['work_pixels'] / record['pixels']:.2f} |"
                   f" {_work_ratio(record):.2f}x |"
                   if "call_peak_mb" in record else ""))
    if status == "refused":
        return (f"| {size} | {record['hole']} | {name} | refused before starting: estimate "
                f"{record['estimate_mb']:.0f} MB > available {record['available_mb']:.0f} MB "
                "| | | | | | | | |")
    detail = record.get("error", f"over {record.get('seconds', 0):.0f} s")
    return f"| {size} | {record['hole']} | {name} | {status}: {detail} | | | | | | | | |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["2000", "4000"],
                        help="Sides (2000) or WIDTHxHEIGHT (7680x4800).")
    parser.add_argument("--holes", nargs="+", default=["scratch", "hole5"],
                        choices=["scratch", "hole5", "scribble5"])
    parser.add_argument("--params", nargs="*", default=[], metavar="KEY=VALUE",
                        help="Method options (values read as Python literals).")
    parser.add_argument("--methods", nargs="+",
                        default=["auto", "diffusion", "patchmatch", "criminisi", "pconv"])
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds per case.")
    parser.add_argument("--json", help="Also append each record to this JSON-lines file.")
    parser.add_argument("--warm", action="store_true",
                        help="Run the method on a 96x96 crop of the case first, and also "
                             "print the call's own peak over the memory before it (Linux), "
                             "libraries and kernels loaded, alone, over the image's size and "
                             "over its work area's (patchmatch's crop, else the image).")
    args = parser.parse_args(argv)
    params = {}
    for item in args.params:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    print("| size | hole | method | seconds | CPU s | load start-end | peak RSS MB | RSS / image "
          "| above inputs MB | B/px | estimate MB | known exact |"
          + (" call's peak MB | call / image | work area / image | call / work area |"
             if args.warm else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|"
          + ("---|---|---|---|" if args.warm else ""))
    for size in args.sizes:
        for hole in args.holes:
            for method in args.methods:
                record = run_case(size, hole, method, args.timeout, params, args.warm)
                print(_row(record), flush=True)
                if args.json:
                    with open(args.json, "a") as log:
                        log.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
