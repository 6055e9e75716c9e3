"""PatchMatch benchmark: inpaintkit's ``patchmatch`` against PyPatchMatch, one run.

Tables printed:

1. Quality and time per hole-ratio bucket (and object-removal holes) at 256x256 on
   the skimage.data photos: mean PSNR, SSIM (whole image), hole texture ratio,
   median seconds, and our time over PyPatchMatch's (patch radius 3, its examples'
   setting, and 15, its default), over 3 mask seeds (12 cases a bucket), with the
   paired PSNR gain over each peer and its standard error. A reference row per
   bucket gives the photos' own detail outside the hole over the truth's inside it.
2. Scaling: wall and CPU seconds at 512, 1024 and 2048 px side with a ~10 % free-form
   hole, ours over r3 in both, and the load average (timings on a shared machine
   move with its load; compare the ratios of one run).
3. The NNF alone on 128x128 photo pairs: mean patch distance after 5 iterations
   over the exact nearest neighbour's (brute force), and candidates tried per second.
4. First-call cost: JIT compile into an empty Numba cache, then a cached start.

With ``--curve`` the quality table also runs ours at several ``sharpness`` values and
prints each one's per-bucket PSNR/SSIM/texture deltas to r3 and r15 (the trade-off
curve). The quality table marks, per bucket, whether our mean PSNR, SSIM and texture
are each at least r3's (issue 17's dominance target).

With ``--param KEY=VALUE`` (repeatable) the "inpaintkit" rows run with those options
(e.g. ``usage_penalty=0.1``) and an "inpaintkit default" row runs the defaults on the
same cases (its paired gain is the options' effect); ``--quality-only`` skips the other
tables; ``--object-strips FILE`` writes one image of every object-removal case (rows:
photo and mask seed; columns: masked input | defaults | with the options | r3 | truth).
``--removal-strips FILE`` writes, instead of the tables, one image of whole objects
removed (the shuttle, the spoon, the rocket, a tower: ``_common.REMOVALS``; there is
no truth behind them, so they are judged by eye): masked input | ours (with the
options) | defaults (with options only) | criminisi | r3.

Run from the repository root: ``python bench/patchmatch.py [--quick] [--seeds N]
[--curve] [--out DIR] [--param KEY=VALUE ...] [--quality-only] [--object-strips FILE]
[--removal-strips FILE]``. PyPatchMatch is the PyPI package ``pypatchmatch`` (``pip install
pypatchmatch``).
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    bucket_cases, import_pypatchmatch, known_texture, load_photos, masked, object_cases,
    print_table, removal_cases, save_strip, score, timed,
)

from inpaintkit import inpaint_patchmatch, masks, patchmatch_nnf  # noqa: E402


pypatchmatch = import_pypatchmatch()
HAVE_PEER = pypatchmatch is not None


def run_peer(image, mask, radius):
    pypatchmatch.set_random_seed(0)
    return pypatchmatch.inpaint(image, mask.astype(np.uint8), patch_size=radius)


#: ``--param``: options of the "inpaintkit" rows (empty: the defaults).
PARAMS: dict = {}


def run_ours(image, mask, **options):
    return inpaint_patchmatch(image, mask, seed=0, **{**PARAMS, **options})


def run_default(image, mask):
    return inpaint_patchmatch(image, mask, seed=0)


def parse_param(text: str):
    """``KEY=VALUE`` -> (key, value): the value as a Python literal where it is one."""
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


#: ``--curve``: the sharpness values run besides the default (``DEFAULT_SHARPNESS``,
#: the "inpaintkit" row) whose per-bucket deltas to the peers are printed.
CURVE = (0.0, 0.4, 1.0)
DEFAULT_SHARPNESS = inspect.signature(inpaint_patchmatch).parameters["sharpness"].default
#: The scored numbers that r3-dominance asks to be at least r3's.
DOMINANCE = ("psnr", "ssim", "texture")


def _bucket_means(recs):
    return {m: float(np.nanmean([r[m] for r in recs])) for m in DOMINANCE}


def methods():
    out = [("inpaintkit", run_ours)]
    if PARAMS:
        out.append(("inpaintkit default", run_default))
    if HAVE_PEER:
        out.append(("pypatchmatch r3", lambda i, m: run_peer(i, m, 3)))
        out.append(("pypatchmatch r15", lambda i, m: run_peer(i, m, 15)))
    return out


def write_object_strips(path: str, strips) -> None:
    """One image: a row per object-removal case (masked | defaults | with ``--param``
    | r3 | truth; columns without a result are left out)."""
    import cv2

    rows = [np.concatenate([masked(case), *results, case["image"]], axis=1)
            for case, results in strips]
    cv2.imwrite(path, np.ascontiguousarray(np.concatenate(rows, axis=0)[..., ::-1]))


def write_removal_strips(path: str, size: int = 256) -> None:
    """One image: a row per :func:`_common.removal_cases` case (masked | ours | the
    defaults, with ``--param`` only | criminisi | r3 where PyPatchMatch is here)."""
    import cv2

    from inpaintkit import inpaint_criminisi

    columns = [("ours" + (f" {PARAMS}" if PARAMS else ""), run_ours)]
    if PARAMS:
        columns.append(("defaults", run_default))
    columns.append(("criminisi", inpaint_criminisi))
    if HAVE_PEER:
        columns.append(("r3", lambda image, mask: run_peer(image, mask, 3)))
    rows = []
    for case in removal_cases(size):
        rows.append(np.concatenate([masked(case)] + [run(case["image"], case["mask"])
                                                     for _, run in columns], axis=1))
        print(f"removed: {case['name']} {case['object']}", flush=True)
    cv2.imwrite(path, np.ascontiguousarray(np.concatenate(rows, axis=0)[..., ::-1]))
    print(f"object-removal strips (masked | {' | '.join(n for n, _ in columns)}) in {path}")


def quality_table(quick: bool, out_dir: str | None = None, seeds: int = 3, curve=(),
                  object_strips: str | None = None):
    """Per bucket over ``seeds`` mask seeds (4 photos each): with 4 cases a bucket's
    mean PSNR moves by about 0.2 dB from one mask seed to the next, more than many
    of the differences between the methods."""
    cases = []
    for seed in range(seeds):
        cases += [dict(case, seed=seed) for case in (
            bucket_cases(256, per_bucket=2 if quick else None, seed=seed)
            + object_cases(256, names=("astronaut", "coffee") if quick else None, seed=seed))]
    rows = []
    records = {}
    reference = {}  # bucket -> the known pixels' texture ratio per case
    strips = []  # (case, [defaults, with --param, r3]) of the object-removal cases
    for case in cases:
        results = []
        for name, fn in methods():
            result, seconds = timed(fn, case["image"], case["mask"])
            rec = score(case["image"], result, case["mask"])
            rec["time_s"] = seconds
            records.setdefault((case["bucket"], name), []).append(rec)
            results.append(result)
        for sharpness in curve:
            rec = score(case["image"], run_ours(case["image"], case["mask"], sharpness=sharpness),
                        case["mask"])
            records.setdefault((case["bucket"], f"sharpness {sharpness:g}"), []).append(rec)
        reference.setdefault(case["bucket"], []).append(
            known_texture(case["image"], case["mask"]))
        if out_dir is not None and case["seed"] == 0:
            save_strip(out_dir, case, results + [case["image"]])
        if object_strips is not None and case["bucket"] == "object":
            named = dict(zip((n for n, _ in methods()), results))
            strips.append((case, [named[n] for n in ("inpaintkit default", "inpaintkit",
                                                      "pypatchmatch r3") if n in named]))
    buckets = list(dict.fromkeys(c["bucket"] for c in cases))
    for bucket in buckets:
        ours = records[(bucket, "inpaintkit")]
        ours_t = statistics.median(r["time_s"] for r in ours)
        for name, _ in methods():
            recs = records[(bucket, name)]
            t = statistics.median(r["time_s"] for r in recs)
            row = {"bucket": bucket, "method": name, "n": len(recs),
                   "psnr": float(np.mean([r["psnr"] for r in recs])),
                   "ssim": float(np.mean([r["ssim"] for r in recs])),
                   "texture": float(np.nanmean([r["texture"] for r in recs])),
                   "time_s": t}
            if name == "inpaintkit" and HAVE_PEER:
                # r3-dominance: each bucket mean at least r3's (issue 17's target).
                peer = _bucket_means(records[(bucket, "pypatchmatch r3")])
                for metric in DOMINANCE:
                    row[f"{metric[:3]}>=r3"] = "yes" if row[metric] >= peer[metric] else "NO"
            if name != "inpaintkit":
                # Paired over the same cases: mean and standard error of ours - peer.
                gain = np.array([a["psnr"] - b["psnr"] for a, b in zip(ours, recs)])
                row["ours-peer dB"] = float(gain.mean())
                row["s.e."] = float(gain.std(ddof=1) / math.sqrt(gain.size)) if gain.size > 1 else math.nan
                row["ours wins"] = f"{int(np.sum(gain > 0))}/{gain.size}"
                row["ours/peer time"] = ours_t / t
            rows.append(row)
        rows.append({"bucket": bucket, "method": "(known pixels)", "n": len(reference[bucket]),
                     "texture": float(np.mean(reference[bucket]))})
    print_table(rows, ["bucket", "method", "n", "psnr", "ssim", "texture", "time_s",
                       "ours-peer dB", "s.e.", "ours wins", "ours/peer time",
                       "psn>=r3", "ssi>=r3", "tex>=r3"],
                title=f"Quality at 256x256 over {seeds} mask seed(s) (mean PSNR/SSIM whole image, "
                      "hole texture ratio, median s;\n'ours-peer dB': mean PSNR gain over the "
                      "peer on the same cases, its standard error, and the cases ours wins;\n"
                      "'(known pixels)': the photo's own detail outside the hole over the truth's "
                      "inside it, the texture ratio of a fill as detailed as its surroundings;\n"
                      "'psn/ssi/tex>=r3': the bucket's mean PSNR, SSIM, texture at least r3's)")
    if curve and HAVE_PEER:
        curve_table(records, buckets, curve)
    if object_strips is not None:
        strips.sort(key=lambda item: (item[0]["name"], item[0]["seed"]))
        write_object_strips(object_strips, strips)
        print(f"object-removal strips in {object_strips}")
    return rows


def curve_table(records, buckets, curve):
    """The PSNR-texture trade-off of ``sharpness``: per bucket, the mean PSNR, SSIM
    and texture of each setting minus r3's and r15's (same cases)."""
    rows = []
    for sharpness in sorted({*curve, DEFAULT_SHARPNESS}):
        name = "inpaintkit" if sharpness == DEFAULT_SHARPNESS else f"sharpness {sharpness:g}"
        for bucket in buckets:
            ours = _bucket_means(records[(bucket, name)])
            row = {"sharpness": sharpness, "bucket": bucket}
            for peer in ("r3", "r15"):
                theirs = _bucket_means(records[(bucket, f"pypatchmatch {peer}")])
                for metric in DOMINANCE:
                    row[f"{metric[:3]} -{peer}"] = ours[metric] - theirs[metric]
            row["dominates r3"] = "yes" if all(row[f"{m[:3]} -r3"] >= 0 for m in DOMINANCE) else "no"
            rows.append(row)
    print_table(rows, ["sharpness", "bucket", "psn -r3", "ssi -r3", "tex -r3", "dominates r3",
                       "psn -r15", "ssi -r15", "tex -r15"],
                title="sharpness curve: bucket means (PSNR dB, SSIM, hole texture ratio) minus "
                      "PyPatchMatch r3's and r15's on the same cases")


def _cpu_timed(fn, *args, repeat=1):
    """``timed`` plus the median CPU seconds of the process (all threads) per call."""
    cpu = []

    def call(*a):
        start = time.process_time()
        try:
            return fn(*a)
        finally:
            cpu.append(time.process_time() - start)

    result, seconds = timed(call, *args, repeat=repeat)
    return result, seconds, statistics.median(cpu)


def scaling_table(quick: bool):
    """Wall and CPU seconds side by side, ours then r3 then r15 on each size. Ours
    uses every Numba thread, PyPatchMatch one: on a loaded machine the wall ratio
    moves with the load (printed per row), the CPU ratio much less."""
    sizes = (512, 1024) if quick else (512, 1024, 2048)
    rows = []
    for size in sizes:
        image = load_photos(size, ["astronaut"])["astronaut"]
        mask = masks.in_ratio_bucket((size, size), 0.09, 0.11, seed=5)
        row = {"size": size, "hole %": 100.0 * mask.mean()}
        repeat = 3 if size <= 1024 else 1  # medians where affordable; timings are noisy
        result, ours, ours_cpu = _cpu_timed(run_ours, image, mask, repeat=repeat)
        row["inpaintkit s"] = ours
        row["ours cpu s"] = ours_cpu
        row["inpaintkit psnr"] = score(image, result, mask)["psnr"]
        if HAVE_PEER:
            for radius in (3, 15):
                if radius == 15 and size > 1024:
                    continue  # minutes per call; left out to keep one run short
                result, peer, peer_cpu = _cpu_timed(run_peer, image, mask, radius,
                                                    repeat=repeat if radius == 3 else 1)
                row[f"r{radius} s"] = peer
                row[f"r{radius} psnr"] = score(image, result, mask)["psnr"]
                row[f"ours/r{radius}"] = ours / peer
                if radius == 3:
                    row["r3 cpu s"] = peer_cpu
                    row["cpu ours/r3"] = ours_cpu / peer_cpu
        row["load 1 min"] = os.getloadavg()[0]
        rows.append(row)
    print_table(rows, ["size", "hole %", "inpaintkit s", "ours cpu s", "inpaintkit psnr", "r3 s",
                       "r3 cpu s", "r3 psnr", "ours/r3", "cpu ours/r3", "r15 s", "r15 psnr",
                       "ours/r15", "load 1 min"],
                title=f"Scaling (free-form hole of about 10 %; median of 3 runs up to 1024 "
                      f"except r15, one run at 2048; {numba_threads()} Numba threads, "
                      "PyPatchMatch one; wall s and CPU s of all threads; the load average "
                      "after each row)")
    return rows


def numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def exact_nnf_distance(source, target, patch_size):
    """Brute force: for each interior target patch, the smallest mean squared
    distance to any source patch (BLAS in blocks: |t|^2 + |s|^2 - 2 t.s)."""
    from numpy.lib.stride_tricks import sliding_window_view

    def patches(img):
        win = sliding_window_view(img, (patch_size, patch_size), axis=(0, 1))
        return np.ascontiguousarray(win.reshape(-1, win.shape[2] * patch_size * patch_size),
                                    dtype=np.float64)

    src = patches(source)
    tgt = patches(target)
    src_sq = (src * src).sum(1)
    best = np.empty(len(tgt))
    for start in range(0, len(tgt), 2048):
        block = tgt[start:start + 2048]
        d = (block * block).sum(1)[:, None] + src_sq[None, :] - 2.0 * block @ src.T
        best[start:start + 2048] = np.maximum(d.min(1), 0.0)
    return best / (patch_size * patch_size)


def nnf_table(quick: bool):
    size, patch_size, iterations = 128, 7, 5
    photos = {k: v.astype(np.float32) / 255 for k, v in load_photos(size).items()}
    pairs = [("astronaut", "chelsea"), ("coffee", "rocket")]
    if not quick:
        pairs += [("chelsea", "coffee"), ("rocket", "astronaut")]
    patchmatch_nnf(photos["astronaut"][:32, :32], photos["coffee"][:32, :32])  # compile
    r = patch_size // 2
    rows = []
    for src_name, tgt_name in pairs:
        src, tgt = photos[src_name], photos[tgt_name]
        start = time.perf_counter()
        exact = exact_nnf_distance(src, tgt, patch_size)
        exact_s = time.perf_counter() - start
        (nnf, dist), seconds = timed(patchmatch_nnf, src, tgt, patch_size=patch_size,
                                     iterations=iterations, seed=0, repeat=3)
        interior = dist[r:-r, r:-r].astype(np.float64).ravel()
        # Candidates tried: the initial one, then per iteration 2 propagation
        # candidates and ``search_samples`` (default 3) per halving of the search
        # radius (early termination makes most of them cheaper than a full
        # patch comparison).
        per_iter = 2 + 3 * (int(math.log2(size)) + 1)
        candidates = size * size * (1 + iterations * per_iter)
        rows.append({"source": src_name, "target": tgt_name,
                     "patchmatch mean d": float(interior.mean()),
                     "exact mean d": float(exact.mean()),
                     "excess %": 100.0 * (interior.mean() / exact.mean() - 1.0),
                     "time s": seconds, "brute force s": exact_s,
                     "Mcand/s": candidates / seconds / 1e6,
                     "full-cmp equiv M/s": size * size * (size - 2 * r) ** 2 / exact_s / 1e6})
    print_table(rows, ["source", "target", "patchmatch mean d", "exact mean d", "excess %",
                       "time s", "Mcand/s", "brute force s", "full-cmp equiv M/s"],
                title=f"NNF {size}x{size}, patch {patch_size}, {iterations} iterations "
                      "(interior target patches; brute force = BLAS exact search)")
    return rows


# 400x400 with a 260x260 hole: large enough that both the serial and the parallel
# kernel variants run (and compile), so "empty cache" includes every compile.
_FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
from inpaintkit import inpaint_patchmatch
yy, xx = np.mgrid[:400, :400]
image = np.stack([0.5 + 0.4 * np.sin(xx / 5.0), 0.5 + 0.4 * np.cos(yy / 7.0),
                  0.5 + 0.2 * np.sin((xx + yy) / 9.0)], axis=2)
mask = np.zeros((400, 400), bool); mask[70:330, 70:330] = True
inpaint_patchmatch(image, mask)
print(time.perf_counter() - t0)
"""


def first_call_table():
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty cache (compile)", "cached"):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                                 capture_output=True, text=True).stdout
            rows.append({"first call": label, "seconds": float(out.strip().splitlines()[-1])})
    print_table(rows, ["first call", "seconds"],
                title="First call in a fresh process (import + 400x400 fill with a 260x260 hole; "
                      "empty cache minus cached = JIT compile)")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 photos per bucket, scaling up to 1024, 2 NNF pairs")
    parser.add_argument("--seeds", type=int, default=None,
                        help="mask seeds of the quality table (default 3; 1 with --quick)")
    parser.add_argument("--curve", action="store_true",
                        help=f"also run ours at sharpness {', '.join(map(str, CURVE))} and print "
                             "each one's (and the default's) per-bucket deltas to r3 and r15")
    parser.add_argument("--out", default=None,
                        help="folder for PNG strips of the 256x256 cases of seed 0 (masked input | "
                             "methods of the quality table | truth), to look at")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="an option of ours for the 'inpaintkit' rows (repeatable), e.g. "
                             "usage_penalty=0.1; adds an 'inpaintkit default' row")
    parser.add_argument("--quality-only", action="store_true",
                        help="only the quality table (no NNF, scaling or first-call tables)")
    parser.add_argument("--object-strips", default=None, metavar="FILE",
                        help="one image (PNG or JPEG by the name) of all object-removal cases: "
                             "masked | defaults | with "
                             "--param | r3 | truth")
    parser.add_argument("--removal-strips", default=None, metavar="FILE",
                        help="only write one image of whole objects removed (no truth; judged "
                             "by eye): masked | ours | defaults (with --param) | criminisi | r3")
    args = parser.parse_args(argv)
    PARAMS.update(args.param)
    if args.removal_strips:
        write_removal_strips(args.removal_strips)
        return
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if seeds < 1:
        parser.error("--seeds must be >= 1")
    import numba

    print(f"threads: {numba.get_num_threads()}, peer available: {HAVE_PEER}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
          + (f", options {PARAMS}" if PARAMS else ""))
    if not args.quality_only:
        first_call_table()
        print()
    run_ours(*next((c["image"], c["mask"]) for c in object_cases(256, names=["coffee"])))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    quality_table(args.quick, args.out, seeds, CURVE if args.curve else (), args.object_strips)
    if args.out:
        print(f"PNG strips (masked input | {' | '.join(n for n, _ in methods())} | truth) "
              f"in {args.out}")
    if args.quality_only:
        return
    print()
    nnf_table(args.quick)
    print()
    scaling_table(args.quick)


if __name__ == "__main__":
    main()
