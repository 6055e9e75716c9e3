"""Offset-statistics benchmark: inpaintkit's ``offsets`` against OpenCV's SHIFTMAP, one run.

Tables printed:

1. Quality per hole-ratio bucket and object-removal holes at 256x256 on the
   skimage.data photos (mean PSNR, SSIM, hole texture ratio, median seconds) for
   ``offsets``, OpenCV contrib's ``xphoto.inpaint(..., INPAINT_SHIFTMAP)`` (the
   same paper's published implementation), ``patchmatch`` and PyPatchMatch r3, with
   the paired PSNR / SSIM gain of ``offsets`` over SHIFTMAP and the cases SHIFTMAP
   crashed on.
2. The same on a set of regular scenes (brick, grids, windows), where offsets should
   beat ``patchmatch``.
3. Edge cases (tiny and periodic images, border holes, holes no offset reaches): the
   mean error in the hole, or the crash.
4. Time at 256, 512 and 1024 px with a hole of about 20 %.

SHIFTMAP needs ``opencv-contrib-python-headless``, which only installs below version 5
and would replace the main environment's OpenCV, so it runs in a separate venv, one
process per case (see bench/README.md): ``--shiftmap-python /path/to/venv/bin/python``
(default ``$INPAINTKIT_SHIFTMAP_PYTHON``). Run from the repository root:
``python bench/offsets.py [--quick] [--seeds N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    bucket_cases, import_pypatchmatch, load_photos, object_cases, print_table, save_strip, score,
    timed,
)

from inpaintkit import inpaint_patchmatch, masks  # noqa: E402
from inpaintkit.algorithms.offsets import inpaint_offsets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CRASHED = "crashed"
#: An exact fill has infinite PSNR; means cap each case here (a regular scene restored
#: exactly would otherwise make its bucket's mean infinite).
PSNR_CAP = 60.0


PYPATCHMATCH = import_pypatchmatch()


def run_shiftmap(python: str, image: np.ndarray, mask: np.ndarray):
    """SHIFTMAP in its own process: (result, seconds), or (CRASHED, None)."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(source, image=image, mask=mask)
        done = subprocess.run([python, os.path.join(HERE, "_shiftmap_peer.py"), source, target],
                              capture_output=True, text=True)
        if done.returncode != 0 or not os.path.exists(target):
            return CRASHED, None
        out = np.load(target)
        return out["result"], float(out["seconds"])


def methods(shiftmap_python: str | None):
    out = [("offsets", lambda i, m: timed(inpaint_offsets, i, m, seed=0))]
    if shiftmap_python:
        out.append(("shiftmap", lambda i, m: run_shiftmap(shiftmap_python, i, m)))
    out.append(("patchmatch", lambda i, m: timed(inpaint_patchmatch, i, m, seed=0)))
    if PYPATCHMATCH is not None:
        def r3(image, mask):
            PYPATCHMATCH.set_random_seed(0)
            return timed(PYPATCHMATCH.inpaint, image, mask.astype(np.uint8), patch_size=3)
        out.append(("pypatchmatch r3", r3))
    return out


# ---------------------------------------------------------------------- regular scenes


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def regular_scenes(size: int = 256) -> dict[str, np.ndarray]:
    """Regular scenes, uint8 RGB (size, size, 3): a photographed brick wall
    (``skimage.data.brick``), two grids (skimage's checkerboard; a tiled floor) and two
    facades with rows of windows. The floor and the facades are rendered here from
    the brick photo's texture, with lighting gradients and noise, so that no two
    periods are pixel-identical."""
    from skimage import data as skdata

    rng = np.random.default_rng(0)
    brick = skdata.brick().astype(np.float64) / 255.0
    scenes = {"brick": _resize(_rgb(skdata.brick()), size),
              "checkerboard": _resize(_rgb(skdata.checkerboard()), size)}
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    grain = _resize(brick, size) - _resize(brick, size).mean()
    # Tiled floor: 32 px tiles in two glazes, 3 px grout, light falling off to one side.
    tile = 32 * size // 256
    grout = ((yy % tile) < 3) | ((xx % tile) < 3)
    glaze = ((yy // tile + xx // tile) % 2)[:, :, None] * np.array([0.10, 0.06, 0.0])
    floor = np.array([0.70, 0.62, 0.50]) - glaze + 0.25 * grain[:, :, None]
    floor[grout] = (0.35, 0.33, 0.30)
    floor *= (0.85 + 0.15 * xx / size)[:, :, None]
    scenes["tiles"] = floor
    # Facades: a brick-textured wall with a grid of dark windows with frames and sills.
    for name, (pitch_y, pitch_x, win_h, win_w) in {
            "windows": (48, 40, 26, 18), "windows_wide": (40, 56, 22, 34)}.items():
        py, px = pitch_y * size // 256, pitch_x * size // 256
        wall = np.array([0.75, 0.55, 0.45]) + 0.35 * grain[:, :, None]
        local_y, local_x = yy % py, xx % px
        frame = (local_y >= 8) & (local_y < 8 + win_h) & (local_x >= 8) & (local_x < 8 + win_w)
        glass = ((local_y >= 10) & (local_y < 6 + win_h) & (local_x >= 10)
                 & (local_x < 6 + win_w))
        sill = (local_y >= 8 + win_h) & (local_y < 11 + win_h) & (local_x >= 6) \
            & (local_x < 10 + win_w)
        wall[frame] = (0.92, 0.92, 0.90)
        wall[glass] = np.array([0.15, 0.2, 0.28]) + 0.1 * (local_x[glass] / px)[:, None]
        wall[sill] = (0.8, 0.8, 0.78)
        wall *= (0.9 + 0.1 * yy / size)[:, :, None]
        scenes[name] = wall
    for name in ("tiles", "windows", "windows_wide"):
        noisy = scenes[name] + rng.normal(0.0, 0.015, scenes[name].shape)
        scenes[name] = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
    return scenes


def regular_cases(size: int = 256, seeds: int = 1) -> list[dict]:
    cases = []
    for seed in range(seeds):
        for i, (name, image) in enumerate(regular_scenes(size).items()):
            cases.append({"bucket": "regular", "name": f"{name}_o{seed}", "image": image,
                          "mask": masks.object_removal((size, size), seed=100 + 7 * i + seed),
                          "seed": seed})
            cases.append({"bucket": "regular", "name": f"{name}_f{seed}", "image": image,
                          "mask": masks.in_ratio_bucket((size, size), 0.1, 0.2,
                                                        seed=200 + 7 * i + seed),
                          "seed": seed})
    return cases


# ---------------------------------------------------------------------------- tables


def quality_table(cases, shiftmap_python, out_dir, title, verbose=False):
    listed = methods(shiftmap_python)
    records: dict[tuple[str, str], list] = {}
    crashes: dict[str, list[str]] = {}
    for case in cases:
        results = []
        for name, fn in listed:
            result, seconds = fn(case["image"], case["mask"])
            if isinstance(result, str):
                crashes.setdefault(name, []).append(f"{case['bucket']}/{case['name']}")
                records.setdefault((case["bucket"], name), []).append(None)
                results.append(np.zeros_like(case["image"]))
                continue
            rec = score(case["image"], result, case["mask"])
            rec["psnr"] = min(rec["psnr"], PSNR_CAP)
            rec["time_s"] = seconds
            records.setdefault((case["bucket"], name), []).append(rec)
            results.append(result)
            if verbose:
                print(f"  {case['bucket']}/{case['name']} {name}: PSNR {rec['psnr']:.2f} "
                      f"SSIM {rec['ssim']:.4f} {seconds:.2f} s", flush=True)
        if out_dir is not None and case.get("seed", 0) == 0:
            save_strip(out_dir, case, results + [case["image"]])
    rows = []
    for bucket in dict.fromkeys(c["bucket"] for c in cases):
        ours = records[(bucket, "offsets")]
        for name, _ in listed:
            recs = records[(bucket, name)]
            ok = [r for r in recs if r is not None]
            row = {"bucket": bucket, "method": name, "n": len(ok),
                   "crashes": len(recs) - len(ok)}
            if ok:
                row.update(psnr=float(np.mean([r["psnr"] for r in ok])),
                           ssim=float(np.mean([r["ssim"] for r in ok])),
                           texture=float(np.nanmean([r["texture"] for r in ok])),
                           time_s=float(statistics.median(r["time_s"] for r in ok)))
            if name != "offsets":
                pairs = [(a, b) for a, b in zip(ours, recs) if b is not None]
                if pairs:
                    gain = np.array([a["psnr"] - b["psnr"] for a, b in pairs])
                    row["offsets-peer dB"] = float(gain.mean())
                    row["offsets-peer SSIM"] = float(np.mean([a["ssim"] - b["ssim"]
                                                              for a, b in pairs]))
                    row["offsets wins"] = f"{int(np.sum(gain > 0))}/{gain.size}"
                    row["offsets/peer time"] = (
                        statistics.median(a["time_s"] for a, _ in pairs)
                        / statistics.median(b["time_s"] for _, b in pairs))
            rows.append(row)
    print_table(rows, ["bucket", "method", "n", "crashes", "psnr", "ssim", "texture", "time_s",
                       "offsets-peer dB", "offsets-peer SSIM", "offsets wins",
                       "offsets/peer time"], title=title)
    for name, where in crashes.items():
        print(f"{name} crashed on: {', '.join(where)}")
    return rows


def time_table(shiftmap_python, sizes):
    rows = []
    for size in sizes:
        image = load_photos(size, ["chelsea"])["chelsea"]
        mask = masks.in_ratio_bucket((size, size), 0.18, 0.22, seed=11)
        row = {"size": size, "hole %": 100.0 * mask.mean()}
        for name, fn in methods(shiftmap_python):
            result, seconds = fn(image, mask)
            if isinstance(result, str):
                row[f"{name} s"] = CRASHED
                continue
            row[f"{name} s"] = seconds
        if isinstance(row.get("shiftmap s"), float):
            row["offsets/shiftmap"] = row["offsets s"] / row["shiftmap s"]
        rows.append(row)
    columns = ["size", "hole %"] + [f"{n} s" for n, _ in methods(shiftmap_python)]
    print_table(rows, columns + ["offsets/shiftmap"],
                title="Seconds (one run each) with a free-form hole of about 20 % (chelsea)")
    return rows


def _periodic(height, width, period_y, period_x, seed=0):
    tile = np.random.default_rng(seed).random((period_y, period_x, 3))
    reps = (-(-height // period_y), -(-width // period_x), 1)
    return np.rint(np.tile(tile, reps)[:height, :width] * 255).astype(np.uint8)


def edge_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small, periodic, border and degenerate cases, where a completion method may have
    fewer offset peaks than K, no fully known patch, or no offset reaching the hole."""
    cases = {}

    def box(shape, ys, xs):
        mask = np.zeros(shape, bool)
        mask[ys, xs] = True
        return mask

    noise = np.random.default_rng(1)
    cases["few peaks: 48 px of a 16 px tile"] = (_periodic(48, 48, 16, 16, 8),
                                                 box((48, 48), slice(18, 30), slice(14, 34)))
    cases["24 px periodic image"] = (_periodic(24, 24, 6, 6), box((24, 24), slice(8, 16),
                                                                   slice(8, 16)))
    cases["16 px noise"] = ((noise.random((16, 16, 3)) * 255).astype(np.uint8),
                            box((16, 16), slice(5, 10), slice(5, 10)))
    cases["4 px frame left (noise)"] = ((noise.random((64, 64, 3)) * 255).astype(np.uint8),
                                        box((64, 64), slice(4, 60), slice(4, 60)))
    cases["corner hole, periodic"] = (_periodic(96, 96, 12, 10), box((96, 96), slice(0, 30),
                                                                     slice(0, 40)))
    cases["whole left border"] = (_periodic(64, 64, 8, 8), box((64, 64), slice(None),
                                                               slice(0, 6)))
    cases["75 % hole, periodic"] = (_periodic(64, 64, 8, 8), box((64, 64), slice(8, 56),
                                                                 slice(8, 56)))
    cases["every 4th row"] = (_periodic(64, 64, 8, 8), box((64, 64), slice(1, None, 4),
                                                           slice(None)))
    cases["flat grey"] = (np.full((64, 64, 3), 128, np.uint8), box((64, 64), slice(20, 40),
                                                                   slice(20, 40)))
    cases["tall thin image"] = (_periodic(200, 60, 12, 10), box((200, 60), slice(80, 120),
                                                                slice(10, 50)))
    return cases


def edge_table(shiftmap_python):
    rows = []
    for name, (image, mask) in edge_cases().items():
        row = {"case": name, "hole %": 100.0 * mask.mean()}
        for method, fn in methods(shiftmap_python)[:2]:
            try:
                result, _ = fn(image, mask)
            except Exception as exc:  # noqa: BLE001 - a failure is a result here
                row[f"{method} error"] = f"raised {type(exc).__name__}"
                continue
            if isinstance(result, str):
                row[f"{method} error"] = CRASHED
                continue
            row[f"{method} error"] = float(np.abs(result[mask].astype(np.float64)
                                                  - image[mask]).mean())
        rows.append(row)
    print_table(rows, ["case", "hole %"] + [f"{n} error" for n, _ in methods(shiftmap_python)[:2]],
                title="Edge cases: mean absolute error in the hole (0-255), or how it failed")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 photos per bucket, sizes up to 512")
    parser.add_argument("--seeds", type=int, default=1, help="mask seeds (default 1)")
    parser.add_argument("--shiftmap-python", default=os.environ.get("INPAINTKIT_SHIFTMAP_PYTHON"),
                        help="python of a venv with opencv-contrib-python-headless<5")
    parser.add_argument("--out", default=None, help="folder for PNG strips (masked input | "
                        "methods | truth) of seed 0, to look at")
    parser.add_argument("--verbose", action="store_true", help="print every case's numbers")
    parser.add_argument("--skip", default="", help="comma-separated tables to skip: "
                        "buckets,regular,edges,time")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.shiftmap_python and not os.path.exists(args.shiftmap_python):
        parser.error(f"--shiftmap-python {args.shiftmap_python} does not exist")
    skip = set(filter(None, args.skip.split(",")))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    import numba

    print(f"threads: {numba.get_num_threads()}; methods: "
          f"{', '.join(n for n, _ in methods(args.shiftmap_python))}")
    warm = object_cases(64, names=["coffee"])[0]
    inpaint_offsets(warm["image"], warm["mask"])  # compile outside the timings
    inpaint_patchmatch(warm["image"], warm["mask"])
    if "buckets" not in skip:
        cases = []
        for seed in range(args.seeds):
            cases += [dict(c, seed=seed) for c in (
                bucket_cases(256, per_bucket=2 if args.quick else None, seed=seed)
                + object_cases(256, names=("astronaut", "coffee") if args.quick else None,
                               seed=seed))]
        quality_table(cases, args.shiftmap_python, args.out,
                      f"Photos at 256x256, {args.seeds} mask seed(s): mean PSNR/SSIM (whole "
                      "image; PSNR capped at 60 dB), hole texture ratio, median s; paired gains "
                      "of offsets", args.verbose)
        print()
    if "regular" not in skip:
        quality_table(regular_cases(256, args.seeds), args.shiftmap_python, args.out,
                      "Regular scenes at 256x256 (brick, checkerboard, tiles, two facades; an "
                      "object-removal and a 10-20 % free-form hole each; PSNR capped at 60 dB)",
                      args.verbose)
        print()
    if "edges" not in skip:
        edge_table(args.shiftmap_python)
        print()
    if "time" not in skip:
        time_table(args.shiftmap_python, (256, 512) if args.quick else (256, 512, 1024))


if __name__ == "__main__":
    main()
