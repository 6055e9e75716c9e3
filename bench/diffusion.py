"""PDE diffusion benchmark: every variant of inpaint_diffusion beside cv2.inpaint and skimage.

Run from the repository root::

    python bench/diffusion.py            # full run (several minutes)
    python bench/diffusion.py --quick    # one photo per bucket, scaling up to 1024 px

Prints, in one run:

1. first-call JIT compile time of each variant's kernels (a subprocess with an empty
   NUMBA_CACHE_DIR) and the first-call time with that cache warm (a second subprocess);
2. per ratio bucket (skimage.data photos at 256 x 256, seeded free-form masks): mean
   PSNR, SSIM and texture ratio and the median time of every variant, of
   ``cv2.inpaint`` (TELEA and NS, radius 3) and of ``skimage.restoration.inpaint_biharmonic``,
   then the quality target of the default variant against the best peer per bucket;
3. a scaling table (256, 1024, 4096 px side, ~5 % hole, RGB) of time with ratios to
   the peers, and how closely ``variant="biharmonic"`` matches scikit-image;
4. a solver table (CPU time): scikit-image's ``inpaint_biharmonic``, our whole
   ``biharmonic`` / ``tension`` call, and their systems solved by the SuperLU
   factorisation and by multigrid CG alone, side by side as ratios, with the time
   per hole pixel, the CG steps, the cost of one fine-level product (the unit of
   a CG step's work) and how closely the answers agree; then the spread of the time
   per hole pixel over the sizes (target: within 2x);
5. ``inpaint(method="auto")`` on an 8000x6000 photo with 0.1 % and 0.3 % of 2 px
   scratches (target: under 1 s at 0.1 %), with auto's choice and the windowing
   test timed apart.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import bucket_cases, load_photos, print_table, score, summarise, timed  # noqa: E402

from inpaintkit import masks  # noqa: E402
from inpaintkit.algorithms.diffusion import VARIANTS, inpaint_diffusion  # noqa: E402

DEFAULT = inspect.signature(inpaint_diffusion).parameters["variant"].default
PEERS = ("cv2 TELEA", "cv2 NS", "skimage biharmonic")
#: Skip a method at a scaling size when a linear extrapolation from the previous size
#: says it would take longer than this (seconds).
SKIP_ABOVE_S = 120.0


def run_method(method: str, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill with ``method`` ("ours <variant>" or a peer); returns the image's dtype."""
    if method.startswith("ours "):
        return inpaint_diffusion(image, mask, variant=method[5:])
    hole = mask.astype(np.uint8)
    if method == "cv2 TELEA":
        return cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA)
    if method == "cv2 NS":
        return cv2.inpaint(image, hole, 3, cv2.INPAINT_NS)
    if method == "skimage biharmonic":
        out = inpaint_biharmonic(image, mask, channel_axis=-1)
        if image.dtype == np.uint8:
            return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
        return out
    raise ValueError(method)


def methods() -> list[str]:
    return [f"ours {v}" for v in VARIANTS] + list(PEERS)


# --------------------------------------------------------------------------------------
# 1. JIT compile time
# --------------------------------------------------------------------------------------

_JIT_PROBE = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np
from inpaintkit.algorithms import _diffusion_kernels as K
from inpaintkit.algorithms.diffusion import VARIANTS, inpaint_diffusion
times = {"import inpaintkit.algorithms.diffusion": time.perf_counter() - start}

def clock(name, fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    times[name] = time.perf_counter() - start
    return out

# Each kernel of _diffusion_kernels on its own (tiny inputs), in call order.
data = np.random.default_rng(0).random((12, 12, 3))
hole = np.zeros((12, 12), bool)
hole[4:8, 3:9] = True
rows, cols = np.nonzero(hole)
index = clock("kernel hole_index_map", K.hole_index_map, rows, cols, 12, 12)
clock("kernel known_range", K.known_range, data, hole)
clock("kernel assemble_system", K.assemble_system, rows, cols, index, data, 2, 0.25)
dr, dc, dnb, hnb = clock("kernel tv_tables", K.tv_tables, rows, cols, index, 12, 12)
u = np.zeros((rows.size, 3))
clock("kernel tv_iterate", K.tv_iterate, data, dr, dc, dnb, hnb, u, u.copy(),
      np.zeros((dr.size, 3, 2)), 2, 0.3, 0.3, np.zeros(3), np.ones(3))
br, bc, nb = clock("kernel transport_tables", K.transport_tables, rows, cols, index, 12, 12)
clock("kernel transport_cycle", K.transport_cycle, data, rows, cols, br, bc, nb,
      np.zeros((br.size, 3)), np.zeros((rows.size, 3)), 2, 1, 0.1, 1e-10)
# Then each variant's first call through the wrapper (telea/coherence compile their
# own kernels here; the others find theirs compiled above).
image = np.random.default_rng(0).random((24, 24, 3))
mask = np.zeros((24, 24), bool)
mask[8:14, 6:18] = True
for variant in VARIANTS:
    start = time.perf_counter()
    inpaint_diffusion(image, mask, variant=variant, iterations=20)
    times[f"first call variant={variant}"] = time.perf_counter() - start
print(json.dumps(times))
"""


def _cli_seconds(env: dict, folder: str) -> float:
    """Wall time of one ``inpaintkit fill`` (64x64 PNG, diffusion) in a fresh process."""
    import imageio.v3 as iio

    image = os.path.join(folder, "in.png")
    mask = os.path.join(folder, "mask.png")
    if not os.path.exists(image):
        iio.imwrite(image, load_photos(64, ["astronaut"])["astronaut"])
        iio.imwrite(mask, (masks.thin_strokes((64, 64), seed=1) * 255).astype(np.uint8))
    out = os.path.join(folder, "out.png")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "inpaintkit", "fill", image, mask, "-o", out,
                    "--method", "diffusion", "--overwrite", "--quiet"],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def jit_table() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):  # cold (empty cache), then warm
            proc = subprocess.run([sys.executable, "-c", _JIT_PROBE], env=env,
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        with tempfile.TemporaryDirectory() as cli_cache:
            cli_env = dict(os.environ, NUMBA_CACHE_DIR=cli_cache)
            cli = [_cli_seconds(cli_env, folder) for _ in range(3)]
    for key in runs[0]:
        rows.append({"step": key, "cold_cache_s": runs[0][key], "warm_cache_s": runs[1][key]})
    rows.append({"step": "inpaintkit fill (whole process, default variant)",
                 "cold_cache_s": cli[0], "warm_cache_s": min(cli[1:])})
    print_table(rows, ["step", "cold_cache_s", "warm_cache_s"],
                title="First calls in a fresh process: cold = empty NUMBA_CACHE_DIR (compile), "
                      "warm = the same cache dir again (load from disk)")
    print()


# --------------------------------------------------------------------------------------
# 2. quality per ratio bucket
# --------------------------------------------------------------------------------------

def quality_table(size: int, per_bucket: int | None) -> None:
    cases = bucket_cases(size, per_bucket=per_bucket)
    # Warm up every method (JIT compile, imports) outside the timings.
    for method in methods():
        run_method(method, cases[0]["image"], cases[0]["mask"])
    records = []
    for case in cases:
        for method in methods():
            result, seconds = timed(run_method, method, case["image"], case["mask"])
            rec = {"bucket": case["bucket"], "method": method, "time_s": seconds}
            rec.update(score(case["image"], result, case["mask"]))
            records.append(rec)
    rows = summarise(records)
    photos = sorted({c["name"] for c in cases})
    print_table(rows, ["bucket", "method", "psnr", "ssim", "texture", "time_s", "n"],
                title=f"Quality per hole-ratio bucket ({size}x{size} RGB, photos: {', '.join(photos)}; "
                      "whole-image PSNR/SSIM, texture ratio in the hole, median time)")
    print()
    target_rows = []
    for bucket in dict.fromkeys(r["bucket"] for r in rows):
        by = {r["method"]: r for r in rows if r["bucket"] == bucket}
        ours = by[f"ours {DEFAULT}"]
        best_psnr = max(by[p]["psnr"] for p in PEERS)
        best_ssim = max(by[p]["ssim"] for p in PEERS)
        target_rows.append({
            "bucket": bucket, f"{DEFAULT} psnr": ours["psnr"], "best peer psnr": best_psnr,
            f"{DEFAULT} ssim": ours["ssim"], "best peer ssim": best_ssim,
            "met": "yes" if ours["psnr"] >= best_psnr and ours["ssim"] >= best_ssim else "NO",
        })
    print_table(target_rows, list(target_rows[0]),
                title=f"Target: default variant ({DEFAULT!r}) >= best of {', '.join(PEERS)} "
                      "in PSNR and SSIM, every bucket")
    print()


# --------------------------------------------------------------------------------------
# 3. scaling
# --------------------------------------------------------------------------------------

def scaling_table(sizes: list[int]) -> None:
    rows = []
    last_time: dict[str, tuple[int, float]] = {}
    notes = []
    for size in sizes:
        image = load_photos(size, ["astronaut"])["astronaut"]
        mask = masks.in_ratio_bucket((size, size), 0.04, 0.06, seed=5)
        holes = int(mask.sum())
        times = {}
        for method in methods():
            if method in last_time:
                prev_holes, prev_s = last_time[method]
                # Sparse direct solvers of 2-D problems grow like n^1.5; iterative ones
                # with a fixed iteration cap linearly but need more iterations on
                # wider holes: n^1.5 is the estimate for every method.
                estimate = prev_s * (holes / prev_holes) ** 1.5
                if estimate > SKIP_ABOVE_S:
                    notes.append(f"{size}px: skipped {method}: estimated {estimate:.0f} s "
                                 f"(> {SKIP_ABOVE_S:.0f} s; {prev_s:.2f} s at the previous size "
                                 "scaled by (hole pixels ratio)^1.5)")
                    continue
            if size <= 1024:
                run_method(method, image[:32, :32], mask[:32, :32] | _dot(32))  # warm-up
            _, seconds = timed(run_method, method, image, mask, repeat=3 if size <= 256 else 1)
            times[method] = seconds
            last_time[method] = (holes, seconds)
        for method, seconds in times.items():
            row = {"size": size, "hole_px": holes, "method": method, "time_s": seconds,
                   "us_per_hole_px": 1e6 * seconds / holes}
            for peer in PEERS:
                if peer in times and not method == peer:
                    row[f"x vs {peer}"] = times[peer] / seconds
            rows.append(row)
    print_table(rows, ["size", "hole_px", "method", "time_s", "us_per_hole_px",
                       *(f"x vs {p}" for p in PEERS)],
                title="Scaling (RGB, ~5 % free-form hole; 'x vs P' = P's time / this time, "
                      ">1 means faster than P)")
    for note in notes:
        print(note)
    print()


def _dot(size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[size // 2, size // 2] = True
    return mask


def match_table(sizes: list[int]) -> None:
    rows = []
    warm = load_photos(32, ["astronaut"])["astronaut"] / 255.0
    inpaint_diffusion(warm, _dot(32), variant="biharmonic")  # load the compiled kernels
    for size in sizes:
        image = load_photos(size, ["astronaut"])["astronaut"] / 255.0
        mask = masks.in_ratio_bucket((size, size), 0.04, 0.06, seed=5)
        ours, ours_s = timed(inpaint_diffusion, image, mask, variant="biharmonic")
        theirs, theirs_s = timed(inpaint_biharmonic, image, mask, channel_axis=-1)
        diff = np.abs(ours - theirs)
        rows.append({"size": size, "hole_px": int(mask.sum()),
                     "mean_abs_diff_hole": f"{diff[mask].mean():.1e}",
                     "max_abs_diff": f"{diff.max():.1e}", "ours_s": ours_s, "skimage_s": theirs_s,
                     "speedup": theirs_s / ours_s})
    print_table(rows, list(rows[0]),
                title="variant='biharmonic' vs skimage inpaint_biharmonic (float64 RGB input, "
                      "~5 % hole; target mean abs diff < 1e-3 and speed-up >= 10 at 1024)")
    print()


#: Wall seconds of the last :func:`_cpu` call's best run (by CPU time).
LAST_WALL = [float("nan")]


def _cpu(function, *args, repeat=1, **kwargs):
    """Best CPU time (time.process_time, all threads) of ``repeat`` calls, and the last
    result; that run's wall time is left in ``LAST_WALL[0]``.

    CPU time on a shared machine measures our work rather than the neighbours'; with
    the multigrid's kernels on two threads, wall time is what a user waits for (CPU
    time then counts both threads), so both are printed.
    """
    best = float("inf")
    for _ in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        out = function(*args, **kwargs)
        if time.process_time() - start < best:
            best = time.process_time() - start
            LAST_WALL[0] = time.perf_counter() - wall
    return out, best


#: Skip a solver at a size when (its time at the previous size) x (hole ratio)^1.5
#: exceeds this many CPU seconds.
SOLVER_SKIP_S = 90.0


def solver_table(sizes: list[int], peers_max: int = 1 << 30) -> None:
    """scikit-image, SuperLU and ours side by side on the bilaplacian variants.

    Per size (RGB astronaut, ~5 % free-form hole) and variant: CPU seconds of
    ``inpaint_diffusion`` (the default path: direct below ``_MULTIGRID_MIN`` unknowns,
    multigrid CG above), of scikit-image's ``inpaint_biharmonic`` (both whole calls,
    float64 input; scikit-image has no tension variant, so its time is the
    reference for both rows), and of the system solve alone by the direct SuperLU
    factorisation and by multigrid CG (both forced), with ratios, time per hole
    pixel, how many CG steps the multigrid took and what one pass of its fine
    level costs (the lower-bound argument), and how closely the answers agree.
    """
    from inpaintkit.algorithms import diffusion

    rows = []
    limit = diffusion._MULTIGRID_MIN
    warm = np.zeros((128, 128, 3))
    warm_hole = np.zeros((128, 128), bool)
    warm_hole[8:120, 8:120] = True  # above _MG_COARSEST: every multigrid kernel loads
    steps = []
    original_cg = diffusion._solve_cg

    def counting_cg(multiply, rhs, start, precondition, *rest):
        def counted(residual):
            steps[-1] += 1
            return precondition(residual)
        steps.append(0)
        return original_cg(multiply, rhs, start, counted, *rest)

    last: dict[str, tuple[int, float]] = {}

    def too_long(key, holes):
        if key not in last:
            return False
        prev_holes, prev_s = last[key]
        return prev_s * (holes / prev_holes) ** 1.5 > SOLVER_SKIP_S

    try:
        diffusion._solve_cg = counting_cg
        diffusion._MULTIGRID_MIN = 1
        diffusion._solve_elliptic(warm.copy(), warm_hole, 2, 0.0)  # load the kernels
        inpaint_diffusion(warm, warm_hole, variant="biharmonic")
        for size in sizes:
            image = load_photos(size, ["astronaut"])["astronaut"] / 255.0
            mask = masks.in_ratio_bucket((size, size), 0.04, 0.06, seed=5)
            holes = int(mask.sum())
            data = image.copy()
            data[mask] = 0.0
            repeat = 3 if size <= 1024 else 1
            theirs, skimage_s = None, float("nan")
            if size <= peers_max and not too_long("skimage", holes):
                theirs, skimage_s = _cpu(inpaint_biharmonic, image, mask, channel_axis=-1,
                                         repeat=repeat)
                last["skimage"] = (holes, skimage_s)
            for variant, tension in (("biharmonic", 0.0), ("tension", 0.25)):
                diffusion._MULTIGRID_MIN = limit
                ours, ours_s = _cpu(inpaint_diffusion, image, mask, variant=variant,
                                    repeat=repeat)
                ours_wall = LAST_WALL[0]
                direct, direct_s = None, float("nan")
                if size <= peers_max and not too_long("direct " + variant, holes):
                    diffusion._MULTIGRID_MIN = 1 << 62
                    direct, direct_s = _cpu(diffusion._solve_elliptic, data.copy(), mask, 2,
                                            tension)
                    last["direct " + variant] = (holes, direct_s)
                diffusion._MULTIGRID_MIN = 1
                steps.clear()
                multigrid, multigrid_s = _cpu(diffusion._solve_elliptic, data.copy(), mask, 2,
                                              tension)
                multigrid_wall = LAST_WALL[0]
                row = {"size": size, "hole_px": holes, "variant": variant,
                       "skimage_s": skimage_s, "ours_s": ours_s, "ours_wall_s": ours_wall,
                       "skimage/ours": skimage_s / ours_s,
                       "skimage/ours wall": skimage_s / ours_wall,
                       "ours_us/px": 1e6 * ours_s / holes,
                       "direct_s": direct_s, "multigrid_s": multigrid_s,
                       "mg_wall_s": multigrid_wall, "load": os.getloadavg()[0],
                       "direct/mg": direct_s / multigrid_s,
                       "cg_steps": steps[-1] if steps else 0,
                       "fine_pass_ms": 1e3 * _fine_pass_seconds(data, mask, tension)}
                if direct is not None:
                    diff = np.abs(multigrid - direct)[mask]
                    row["mg-direct mean"] = f"{diff.mean():.1e}"
                    row["mg-direct max"] = f"{diff.max():.1e}"
                if theirs is not None and variant == "biharmonic":
                    row["ours-skimage mean"] = f"{np.abs(ours - theirs)[mask].mean():.1e}"
                rows.append(row)
                print(rows[-1], flush=True)
    finally:
        diffusion._MULTIGRID_MIN = limit
        diffusion._solve_cg = original_cg
    import numba

    print_table(rows, ["size", "hole_px", "variant", "skimage_s", "ours_s", "ours_wall_s",
                       "skimage/ours", "skimage/ours wall", "ours_us/px", "direct_s",
                       "multigrid_s", "mg_wall_s", "direct/mg", "cg_steps", "fine_pass_ms",
                       "mg-direct mean", "mg-direct max", "ours-skimage mean", "load"],
                title="Bilaplacian solvers (RGB, ~5 % free-form hole; CPU seconds of all threads, "
                      "best of 3 up to 1024 px, and that run's wall seconds (_wall_s; "
                      f"{numba.get_num_threads()} Numba threads, scikit-image and SuperLU one); "
                      "skimage_s and ours_s: whole calls (skimage has no tension: its "
                      "biharmonic time is the reference for both rows); direct_s and multigrid_s: "
                      f"the system solve alone; ours switches to multigrid at {limit} unknowns; "
                      "fine_pass_ms: one float32 product with the fine-level matrix, 4 channels)")
    for variant in ("biharmonic", "tension"):
        per_px = [r["ours_us/px"] for r in rows if r["variant"] == variant]
        if per_px:
            print(f"{variant}: time per hole pixel max/min over {', '.join(map(str, sizes))} px = "
                  f"{max(per_px) / min(per_px):.2f} (target <= 2)")
    print()


def _fine_pass_seconds(data, mask, tension):
    """Best CPU time of one product of the fine-level system matrix with a 4-channel
    float32 vector: the unit of work of a multigrid CG step."""
    from scipy import sparse

    from inpaintkit.algorithms import _diffusion_kernels as kernels
    from inpaintkit.algorithms import diffusion

    rows, cols = np.nonzero(mask)
    index = kernels.hole_index_map(rows, cols, *mask.shape)
    a_rows, a_cols, a_vals, _ = kernels.assemble_system(rows, cols, index, data, 2, tension)
    matrix = sparse.csr_array((a_vals, (a_rows, a_cols)), shape=(rows.size, rows.size))
    parts = diffusion._csr_parts(matrix, np.float32)
    x = np.ones((rows.size, 4), np.float32)
    return _cpu(kernels.csr_multiply, *parts, x, repeat=5)[1]


def _scratch_mask(height: int, width: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Straight 2 px scratches, each up to a quarter of the width long, until at least
    ``fraction`` of the pixels are hole (a scanned print's scratches)."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width), np.uint8)
    while cv2.countNonZero(canvas) < fraction * width * height:
        start = rng.integers(0, (width, height))
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.05, 0.25) * width
        end = start + length * np.array([np.cos(angle), np.sin(angle)])
        cv2.line(canvas, tuple(int(v) for v in start), tuple(int(v) for v in end), 1, 2)
    return canvas.view(bool)


def scratch_table(repeat: int = 3) -> None:
    """``inpaint(method="auto")`` on an 8000x6000 RGB photo with a ~0.1 % scratch mask
    (issue 22's target: under 1 s beyond reading and writing), with where the time
    goes: auto's choice of method, the windowing test, the windowed fill."""
    import inpaintkit
    from inpaintkit import _windows

    photo = load_photos(512, ["astronaut"])["astronaut"]
    image = cv2.resize(photo, (8000, 6000), interpolation=cv2.INTER_CUBIC)
    rows = []
    for fraction in (0.001, 0.003):
        mask = _scratch_mask(6000, 8000, fraction)
        inpaintkit.inpaint(image[:600, :800], mask[:600, :800])  # load the kernels
        for _ in range(repeat):
            start = time.perf_counter()
            chosen = inpaintkit.choose_method(mask, image)
            choose_s = time.perf_counter() - start
            start = time.perf_counter()
            windowed = _windows.worth_it(chosen, image.shape, {}, mask)
            worth_s = time.perf_counter() - start
            start, cpu = time.perf_counter(), time.process_time()
            inpaintkit.inpaint(image, mask)
            rows.append({"hole %": f"{100 * mask.mean():.3f}", "method": chosen,
                         "windowed": windowed, "choose_s": choose_s, "worth_it_s": worth_s,
                         "inpaint_wall_s": time.perf_counter() - start,
                         "inpaint_cpu_s": time.process_time() - cpu})
    print_table(rows, list(rows[0]),
                title="8000x6000 RGB uint8, 2 px scratches, inpaint(method='auto') (target: "
                      "under 1 s at 0.1 %); choose_s and worth_it_s are parts of inpaint's own "
                      "work, timed apart before it)")
    print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one photo per bucket; scaling at 256 and 1024 only")
    parser.add_argument("--size", type=int, default=256, help="side of the bucket images")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated scaling sizes (default 256,1024,4096)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: "
                        "jit,quality,scaling,match,solvers,scratch")
    parser.add_argument("--peers-max", type=int, default=1 << 30,
                        help="solver table: run scikit-image and the direct solver only up to "
                             "this size (they grow like n^1.5)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [256, 1024] if args.quick else [256, 1024, 4096])
    print(f"inpaintkit diffusion benchmark; default variant {DEFAULT!r}; cv2 {cv2.__version__}; "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}\n", flush=True)
    if "jit" not in skip:
        jit_table()
    if "quality" not in skip:
        quality_table(args.size, 1 if args.quick else None)
    if "match" not in skip:
        match_table([s for s in sizes if s <= 1024])
    if "solvers" not in skip:
        solver_table(sizes, args.peers_max)
    if "scaling" not in skip:
        scaling_table(sizes)
    if "scratch" not in skip:
        scratch_table()


if __name__ == "__main__":
    main()
