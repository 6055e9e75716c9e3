"""Image Melding options of ``patchmatch``: what each buys against the defaults, one run.

For each option of :func:`inpaintkit.inpaint_patchmatch` from Darabi et al.'s Image
Melding (``transforms="similarity"``, ``gain_bias=True``, ``gradient_weight=W``, and
all three together), on the regular scenes of ``bench/offsets.py`` (brick,
checkerboard, tiles, two facades; an object-removal and a 10-20 % free-form hole
each) and on the object-removal holes of ``bench/patchmatch.py`` (the four
skimage photos, ``--seeds`` mask seeds), at 256x256: mean PSNR / SSIM (whole image,
PSNR capped at 60 dB), hole texture ratio, median seconds, and the paired deltas
against ``patchmatch`` with its defaults (PyPatchMatch r3 alongside when installed).
Strips (masked input | each configuration | truth) of every case go to ``--out``.

Run from the repository root: ``python bench/melding.py [--seeds N] [--out DIR]
[--gradient-weight W]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    import_pypatchmatch, object_cases, print_table, save_strip, score, timed,
)
from offsets import PSNR_CAP, regular_cases  # noqa: E402

from inpaintkit import inpaint_patchmatch  # noqa: E402

PYPATCHMATCH = import_pypatchmatch()
BASELINE = "patchmatch"


def configurations(gradient_weight: float):
    out = [(BASELINE, {}),
           ("+similarity", {"transforms": "similarity"}),
           ("+gain_bias", {"gain_bias": True}),
           (f"+gradient {gradient_weight:g}", {"gradient_weight": gradient_weight}),
           ("+all three", {"transforms": "similarity", "gain_bias": True,
                           "gradient_weight": gradient_weight})]
    return [(name, (lambda options: lambda i, m: timed(inpaint_patchmatch, i, m, seed=0,
                                                       **options))(options))
            for name, options in out]


def peers():
    if PYPATCHMATCH is None:
        return []

    def r3(image, mask):
        PYPATCHMATCH.set_random_seed(0)
        return timed(PYPATCHMATCH.inpaint, image, mask.astype(np.uint8), patch_size=3)
    return [("pypatchmatch r3", r3)]


def quality_table(cases, listed, out_dir, title, verbose=False):
    records: dict[tuple[str, str], list[dict]] = {}
    for case in cases:
        results = []
        for name, fn in listed:
            result, seconds = fn(case["image"], case["mask"])
            rec = score(case["image"], result, case["mask"])
            rec["psnr"] = min(rec["psnr"], PSNR_CAP)
            rec["time_s"] = seconds
            records.setdefault((case["bucket"], name), []).append(rec)
            results.append(result)
            if verbose:
                print(f"  {case['bucket']}/{case['name']} {name}: PSNR {rec['psnr']:.2f} "
                      f"SSIM {rec['ssim']:.4f} texture {rec['texture']:.3f} {seconds:.2f} s",
                      flush=True)
        if out_dir is not None:
            save_strip(out_dir, dict(case, name=f"{case['name']}_s{case.get('seed', 0)}"),
                       results + [case["image"]])
    rows = []
    for bucket in dict.fromkeys(c["bucket"] for c in cases):
        base = records[(bucket, BASELINE)]
        for name, _ in listed:
            recs = records[(bucket, name)]
            row = {"bucket": bucket, "configuration": name, "n": len(recs),
                   "psnr": float(np.mean([r["psnr"] for r in recs])),
                   "ssim": float(np.mean([r["ssim"] for r in recs])),
                   "texture": float(np.nanmean([r["texture"] for r in recs])),
                   "time_s": float(statistics.median(r["time_s"] for r in recs))}
            if name != BASELINE:
                gain = np.array([a["psnr"] - b["psnr"] for a, b in zip(recs, base)])
                row["dPSNR"] = float(gain.mean())
                row["dSSIM"] = float(np.mean([a["ssim"] - b["ssim"] for a, b in zip(recs, base)]))
                row["dtexture"] = float(np.nanmean([a["texture"] - b["texture"]
                                                    for a, b in zip(recs, base)]))
                row["PSNR wins"] = f"{int(np.sum(gain > 0))}/{gain.size}"
                row["time ratio"] = float(statistics.median(
                    a["time_s"] / b["time_s"] for a, b in zip(recs, base)))
            rows.append(row)
    print_table(rows, ["bucket", "configuration", "n", "psnr", "ssim", "texture", "time_s",
                       "dPSNR", "dSSIM", "dtexture", "PSNR wins", "time ratio"], title=title)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3,
                        help="object-removal mask seeds per photo (default 3)")
    parser.add_argument("--gradient-weight", type=float, default=1.0,
                        help="gradient_weight of the gradient rows (default 1)")
    parser.add_argument("--out", default=None, help="folder for PNG strips")
    parser.add_argument("--verbose", action="store_true", help="print every case's numbers")
    parser.add_argument("--skip", default="", help="comma-separated: regular,object")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    skip = set(filter(None, args.skip.split(",")))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    import numba

    listed = configurations(args.gradient_weight) + peers()
    print(f"threads: {numba.get_num_threads()}; configurations: "
          f"{', '.join(n for n, _ in listed)}")
    warm = object_cases(64, names=["coffee"])[0]
    for _, fn in listed:  # compile outside the timings
        fn(warm["image"], warm["mask"])
    if "regular" not in skip:
        quality_table(regular_cases(256, 1), listed, args.out,
                      "Regular scenes at 256x256 (brick, checkerboard, tiles, two facades; an "
                      "object-removal and a 10-20 % free-form hole each; PSNR capped at 60 dB); "
                      "d*: paired mean against patchmatch's defaults", args.verbose)
        print()
    if "object" not in skip:
        cases = []
        for seed in range(args.seeds):
            cases += [dict(c, seed=seed) for c in object_cases(256, seed=seed)]
        quality_table(cases, listed, args.out,
                      f"Object removal at 256x256 (4 photos x {args.seeds} mask seeds); d*: "
                      "paired mean against patchmatch's defaults", args.verbose)


if __name__ == "__main__":
    main()
