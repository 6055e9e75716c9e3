"""Criminisi benchmark: inpaintkit's Criminisi beside PyPI's exemplar-based-inpainting and TELEA.

Run from the repository root::

    python bench/criminisi.py            # full run (several minutes: the peer is slow)
    python bench/criminisi.py --quick    # one photo per bucket, smaller scaling table

Prints, in one run: per ratio bucket (and object-removal holes) the mean PSNR, SSIM and
texture ratio, the median time and the time ratio against the peer on the same cases;
then a scaling table at 512 and 1024 px with a 10 % hole. Results of the object-removal
cases are written as PNG strips to ``--out`` to be looked at.

Also: the bundled sample's scratch and object masks (ours with its defaults, with the
paper's settings, and diffusion; hole PSNR and strips), and criminisi's peak traced
memory per pixel at 1024 px.

Peers: ``exemplar-based-inpainting`` (pip install exemplar-based-inpainting; patch 9,
its defaults otherwise) and ``cv2.inpaint`` with ``INPAINT_TELEA`` (radius 3).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    bucket_cases, load_photos, object_cases, print_table, save_strip, score, timed,
)

from inpaintkit import masks  # noqa: E402
from inpaintkit.algorithms.criminisi import inpaint_criminisi  # noqa: E402

PEER = "exemplar-based-inpainting"


def run_ours(image, mask):
    return inpaint_criminisi(image, mask)


def run_ours_paper(image, mask):
    """The paper's distance and copy: known pixels only, the whole patch at each step,
    9x9 (the defaults before the guide and the copy radius)."""
    return inpaint_criminisi(image, mask, patch_size=9, guide_weight=0.0, copy_radius=None)


def run_ours_full(image, mask):
    return inpaint_criminisi(image, mask, search_window="full")


def run_telea(image, mask):
    return cv2.inpaint(image, mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)


class _OpenCV4FindNonZero:
    """cv2 as the peer expects it: OpenCV 5's findNonZero returns (N, 2) where the peer
    (written for OpenCV 4) indexes (N, 1, 2) and crashes on ties. Only the shape changes."""

    def __getattr__(self, name):
        return getattr(cv2, name)

    @staticmethod
    def findNonZero(array):  # noqa: N802 (OpenCV's name)
        found = cv2.findNonZero(array)
        return None if found is None else found.reshape(-1, 1, 2)


def run_peer(image, mask):
    from exemplar_based_inpainting import inpainter
    from exemplar_based_inpainting.inpainter import Inpainter

    inpainter.cv2 = _OpenCV4FindNonZero()
    bgr = np.ascontiguousarray(image[..., ::-1])
    with contextlib.redirect_stdout(io.StringIO()):  # its hidden progress bar prints blank lines
        out = Inpainter(patch_size=9, show_progress_bar=False).inpaint(bgr, mask.astype(np.uint8) * 255)
    return np.ascontiguousarray(out[..., ::-1])


def peer_available() -> bool:
    try:
        import exemplar_based_inpainting  # noqa: F401
    except ImportError:
        return False
    return True


def run_cases(cases, methods, repeat, out_dir=None):
    records = []
    for case in cases:
        image, mask = case["image"], case["mask"]
        results = {}
        for name, (fn, reps) in methods.items():
            result, seconds = timed(fn, image, mask, repeat=reps)
            rec = {"bucket": case["bucket"], "name": case["name"], "method": name,
                   "time_s": seconds, **score(image, result, mask)}
            records.append(rec)
            results[name] = result
        if out_dir is not None:
            save_strip(out_dir, case, list(results.values()))
    return records


def summarise(records, method_order, peer):
    """Per bucket and method: mean scores, median time, median per-case peer/method time."""
    rows = []
    buckets = list(dict.fromkeys(r["bucket"] for r in records))
    for bucket in buckets:
        in_bucket = [r for r in records if r["bucket"] == bucket]
        peer_time = {r["name"]: r["time_s"] for r in in_bucket if r["method"] == peer}
        for method in method_order:
            recs = [r for r in in_bucket if r["method"] == method]
            if not recs:
                continue
            row = {"bucket": bucket, "method": method, "n": len(recs)}
            for metric in ("psnr", "ssim", "texture"):
                vals = [r[metric] for r in recs if r[metric] == r[metric]]
                row[metric] = float(np.mean(vals)) if vals else float("nan")
            row["time_s"] = float(statistics.median(r["time_s"] for r in recs))
            ratios = [peer_time[r["name"]] / r["time_s"] for r in recs if r["name"] in peer_time]
            row["peer_t/t"] = float(statistics.median(ratios)) if ratios else float("nan")
            rows.append(row)
    return rows


def sample_table(out_dir):
    """The bundled sample (cat photo) with its scratch and object masks: hole PSNR of
    the defaults, of the paper's settings and of diffusion, and strips to look at."""
    from inpaintkit import inpaint, io as kit_io

    data = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "inpaintkit", "data")
    image = kit_io.read_image(os.path.join(data, "sample.png"))
    rows = []
    for mask_name in ("sample_scratches", "sample_object"):
        mask = kit_io.read_mask(os.path.join(data, f"{mask_name}.png"), image.shape[:2])
        results = []
        for name, fn in (("criminisi", run_ours), ("criminisi paper", run_ours_paper),
                         ("diffusion", lambda i, m: inpaint(i, m, method="diffusion"))):
            result, seconds = timed(fn, image, mask)
            diff = (result[mask].astype(np.float64) - image[mask]) / 255.0
            rows.append({"mask": mask_name, "method": name,
                         "hole psnr": float(10 * np.log10(1.0 / np.mean(diff ** 2))),
                         "ssim": score(image, result, mask)["ssim"], "time_s": seconds})
            results.append(result)
        save_strip(out_dir, {"bucket": "sample", "name": mask_name, "image": image,
                             "mask": mask}, results)
    print_table(rows, ["mask", "method", "hole psnr", "ssim", "time_s"],
                title="Bundled sample (PSNR over the hole; strips: masked | criminisi | "
                      "paper settings | diffusion)")
    print()


def memory_table(size=1024):
    """Peak traced memory (NumPy allocations) per image pixel at ``size`` px."""
    import tracemalloc

    image = load_photos(size, ["astronaut"])["astronaut"]
    rows = []
    for name, mask in (("scribble 5 %", masks.in_ratio_bucket((size, size), 0.04, 0.06, seed=2)),
                       ("object", masks.object_removal((size, size), seed=3)),
                       ("thin strokes", masks.thin_strokes((size, size), seed=3))):
        tracemalloc.start()
        run_ours(image, mask)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"mask": name, "hole": float(mask.mean()),
                     "peak bytes/px": peak / (size * size)})
    print_table(rows, ["mask", "hole", "peak bytes/px"],
                title=f"Peak traced memory of criminisi per pixel, {size}x{size} RGB uint8 "
                      "(the input's float copy made by prepare() is 24 of them)")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one photo per bucket, 512 only")
    parser.add_argument("--no-peer", action="store_true", help=f"skip {PEER}")
    parser.add_argument("--out", default="/tmp/criminisi_bench", help="where PNG strips go")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    use_peer = not args.no_peer and peer_available()
    if not use_peer and not args.no_peer:
        print(f"note: {PEER} is not installed (pip install {PEER}); running without it")
    per_bucket = 1 if args.quick else 2

    # Pay the Numba compile (or cache load) once, outside the timings, and report it.
    start = time.perf_counter()
    tiny = np.zeros((24, 24, 3), np.uint8)
    tiny_mask = np.zeros((24, 24), bool)
    tiny_mask[10:14, 10:14] = True
    inpaint_criminisi(tiny, tiny_mask)
    inpaint_criminisi(tiny, tiny_mask, search_window="full")
    run_ours_paper(tiny, tiny_mask)
    print(f"first call (Numba compile or cache load): {time.perf_counter() - start:.2f} s")
    print(f"cases: skimage.data photos at 256 px, {per_bucket} per ratio bucket + object removal; "
          f"ours and TELEA median of 3 runs, {PEER} 1 run")

    sample_table(args.out)
    memory_table()

    methods = {"criminisi": (run_ours, 3), "criminisi paper": (run_ours_paper, 3),
               "criminisi full": (run_ours_full, 3), "telea": (run_telea, 3)}
    if use_peer:
        methods[PEER] = (run_peer, 1)
    order = list(methods)

    cases = bucket_cases(256, per_bucket=per_bucket)
    cases += object_cases(256)[:per_bucket]
    records = run_cases(cases, methods, repeat=3, out_dir=args.out)
    rows = summarise(records, order, PEER)
    print()
    print_table(rows, ["bucket", "method", "n", "psnr", "ssim", "texture", "time_s", "peer_t/t"],
                title="Quality and speed at 256x256 (whole-image PSNR/SSIM, texture ratio in "
                      "the hole; peer_t/t = peer time / method time, median over cases)")

    # Scaling: 10 % free-form hole on one photo at growing sizes.
    sizes = (512,) if args.quick else (512, 1024)
    scale_rows = []
    for size in sizes:
        image = load_photos(size, ["astronaut"])["astronaut"]
        mask = masks.in_ratio_bucket((size, size), 0.09, 0.105, seed=11)
        scaled = {"criminisi": (run_ours, 1), "telea": (run_telea, 1)}
        # Exhaustive search costs (area)^2: at 1024 px ours takes minutes and the peer
        # (whose every step also scans the whole image) most of an hour, so both only
        # run at 512 px.
        if size <= 512:
            scaled["criminisi full"] = (run_ours_full, 1)
            if use_peer:
                scaled[PEER] = (run_peer, 1)
        times = {}
        for name, (fn, reps) in scaled.items():
            result, seconds = timed(fn, image, mask, repeat=reps)
            times[name] = seconds
            scale_rows.append({"size": size, "hole": float(mask.mean()), "method": name,
                               "time_s": seconds, **score(image, result, mask)})
        for row in scale_rows:
            if row["size"] == size:
                row["peer_t/t"] = times[PEER] / row["time_s"] if PEER in times else float("nan")
    print()
    print_table(scale_rows, ["size", "hole", "method", "psnr", "ssim", "texture", "time_s", "peer_t/t"],
                title="Scaling: astronaut, ~10 % free-form hole, one run each")
    print(f"\nPNG strips (masked input | {' | '.join(order)}) in {args.out}")


if __name__ == "__main__":
    main()
