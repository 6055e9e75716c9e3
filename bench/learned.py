"""CPU inference cost of the learned backends: time, peak memory, parameters.

Every backend in its paper and small config (random weights: cost does not depend on
the values) at 256x256 and 512x512, one free-form hole of 10-20 %, next to OpenCV's
Telea inpainting as the classical reference. Each case runs in its own subprocess so
its peak resident memory (``ru_maxrss``) is its own; "peak MB" is that peak minus the
process's resident size after importing torch and before building the networks
(weights + activations + padding copies).

Torch runs with ``--threads`` intra-op threads (default 1): on a machine shared with
other jobs, OpenMP threads that spin-wait for a busy core make multi-threaded timings
swing by 10x; one thread gives repeatable numbers. Pass ``--threads 0`` for torch's
default.

Quality (issues 6 and 15): each shipped model (``weights=None``: the small-config
weights in ``inpaintkit/learned/weights``) and any ``--weights MODEL=PATH`` candidate
beside cv2 TELEA, our default diffusion and our patchmatch on the six ratio buckets and
on object-removal holes at 256x256 (``bucket_cases``, ``object_cases``, benchmark photos
only): mean PSNR, SSIM, texture ratio and median CPU time, then issue 15's targets
(ship: PSNR and SSIM >= TELEA from the 0.3 bucket up and on objects; best: also PSNR >=
diffusion and texture >= 0.6). ``--strips DIR`` writes object-removal strips of the
bundled sample and of hand-drawn objects on real photos (a tripod, a model shuttle, a
spoon, a launch tower) to look at.

Run from the repository root: ``python bench/learned.py [--threads N]`` (about 7
minutes), or ``python bench/learned.py --quality [--quick] [--weights gl=PATH]
[--strips DIR] [--json out.json]`` for the quality tables alone.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ("gl", "pconv", "gdn", "edgeconnect", "lama")
SIZES = (256, 512)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_case(model: str, config: str, size: int, repeat: int, threads: int) -> dict:
    """Inside the subprocess: build, warm up, time ``repeat`` calls."""
    import numpy as np
    import torch

    if threads > 0:
        torch.set_num_threads(threads)

    sys.path.insert(0, HERE)
    from _common import load_photos

    from inpaintkit import learned, masks

    image = load_photos(size, ["astronaut"])["astronaut"]
    mask = masks.in_ratio_bucket((size, size), 0.1, 0.2, seed=0)
    torch.zeros(1).sum()  # torch's own lazy initialisation is not the model's cost
    baseline = _rss_mb()
    backend = learned.load(model, weights="random", config=config, device="cpu")
    backend.inpaint(image, mask)  # warm-up: first-call allocations, oneDNN kernels
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = backend.inpaint(image, mask)
        times.append(time.perf_counter() - start)
    assert out.shape == image.shape
    return {"model": model, "config": config, "size": size,
            "params_M": backend.parameter_count / 1e6,
            "time_s": float(np.median(times)), "peak_MB": _rss_mb() - baseline,
            "threads": torch.get_num_threads(), "hole": float(mask.mean())}


def run_opencv(size: int, repeat: int) -> dict:
    import cv2
    import numpy as np

    sys.path.insert(0, HERE)
    from _common import load_photos

    from inpaintkit import masks

    image = load_photos(size, ["astronaut"])["astronaut"]
    mask = masks.in_ratio_bucket((size, size), 0.1, 0.2, seed=0).astype(np.uint8)
    baseline = _rss_mb()
    cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)
        times.append(time.perf_counter() - start)
    return {"model": "cv2.telea", "config": "-", "size": size, "params_M": 0.0,
            "time_s": float(np.median(times)), "peak_MB": _rss_mb() - baseline}


def run_extras(threads: int) -> list[dict]:
    """Batching and GL's Poisson post-process at 256x256: per-image seconds."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    sys.path.insert(0, HERE)
    from _common import load_photos

    from inpaintkit import learned, masks

    photos = list(load_photos(256).values())
    holes = [masks.in_ratio_bucket((256, 256), 0.1, 0.2, seed=i) for i in range(len(photos))]
    rows = []
    for model, config in (("pconv", "paper"), ("gl", "paper"), ("gdn", "small")):
        backend = learned.load(model, weights="random", config=config, device="cpu")
        backend.inpaint_batch(photos[:1], holes[:1])
        start = time.perf_counter()
        for image, hole in zip(photos, holes):
            backend.inpaint(image, hole)
        single = (time.perf_counter() - start) / len(photos)
        start = time.perf_counter()
        backend.inpaint_batch(photos, holes)
        batched = (time.perf_counter() - start) / len(photos)
        rows.append({"case": f"{model} {config}: batch of {len(photos)}", "per_image_s": batched,
                     "one_by_one_s": single, "ratio": batched / single})
    backend = learned.load("gl", weights="random", config="paper", device="cpu")
    plain = min(_time(lambda: backend.inpaint(photos[0], holes[0])) for _ in range(2))
    blended = min(_time(lambda: backend.inpaint(photos[0], holes[0], poisson_blend=True)) for _ in range(2))
    rows.append({"case": "gl paper + poisson_blend", "per_image_s": blended, "one_by_one_s": plain,
                 "ratio": blended / plain})
    return rows


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _subprocess(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"case {args} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(threads: int) -> None:
    sys.path.insert(0, HERE)
    from _common import print_table

    rows = []
    for size in SIZES:
        reference = _subprocess(["--opencv", str(size)])
        rows.append(reference)
        for model in MODELS:
            for config in ("paper", "small"):
                row = _subprocess(["--case", model, config, str(size), str(threads)])
                row["x_telea"] = row["time_s"] / reference["time_s"]
                rows.append(row)
                print(f"  done {model} {config} {size}: {row['time_s']:.3f} s", file=sys.stderr, flush=True)
    print_table(rows, ["model", "config", "size", "params_M", "time_s", "x_telea", "peak_MB"],
                title=f"Learned backends, CPU inference, {rows[1]['threads']} torch thread(s) (random "
                      "weights; median of 2 after a warm-up; x_telea = time / cv2.inpaint Telea "
                      "time at the same size; peak_MB = peak RSS over the post-import baseline)")
    print()
    extras = _subprocess(["--extras", str(threads)])["rows"]
    print_table(extras, ["case", "per_image_s", "one_by_one_s", "ratio"],
                title="256x256, 4 photos: inpaint_batch vs one call per image; GL with vs without "
                      "Poisson blending (ratio = first / second column)")


# --- issues 6 and 15: quality of the shipped weights -----------------------------------

QUALITY_PEERS = ("cv2 TELEA", "diffusion", "patchmatch")
_QUALITY_THREADS = [1]
LARGE_BUCKETS = ("(0.3,0.4]", "(0.4,0.5]", "(0.5,0.6]")

#: Hand-drawn object-removal masks on photos none of the models trained on (256x256
#: as ``bench/_common.load_photos`` crops them): polygons (x, y) of objects a user would
#: remove.
STRIP_OBJECTS = {
    "camera_tripod": ("camera", [(134, 96), (170, 96), (212, 256), (106, 256)]),
    "astronaut_shuttle": ("astronaut", [(178, 0), (226, 0), (230, 142), (176, 142)]),
    "coffee_spoon": ("coffee", [(188, 36), (212, 46), (200, 140), (204, 200), (182, 214),
                                (146, 202), (142, 160), (172, 138)]),
    "rocket_tower": ("rocket", [(188, 66), (214, 66), (222, 256), (182, 256)]),
}


def _load_learned(label, weights):
    from inpaintkit import learned

    return learned.load(label.split()[0], weights=weights, device="cpu")


def _quality_fill(method, image, mask, backends):
    import cv2
    import numpy as np

    import inpaintkit

    if method == "cv2 TELEA":
        return cv2.inpaint(image, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    if method in ("diffusion", "patchmatch"):
        return inpaintkit.inpaint(image, mask, method=method)
    import torch

    # Numba's OpenMP layer (diffusion, patchmatch) resets the shared thread count; set
    # torch's again so every learned timing runs on the requested threads.
    if _QUALITY_THREADS[0] > 0:
        torch.set_num_threads(_QUALITY_THREADS[0])
    return backends[method].inpaint(image, mask)


def strip_cases():
    """The bundled sample with its object mask, and :data:`STRIP_OBJECTS`."""
    import cv2
    import numpy as np
    from skimage import data as skdata

    sys.path.insert(0, HERE)
    from _common import _square, load_photos

    from inpaintkit.io import read_image, read_mask

    root = os.path.join(os.path.dirname(HERE), "inpaintkit", "data")
    sample = read_image(os.path.join(root, "sample.png"))
    cases = [{"bucket": "strip", "name": "sample_object", "image": sample,
              "mask": read_mask(os.path.join(root, "sample_object.png"), sample.shape[:2])}]
    photos = load_photos(256, ["astronaut", "coffee", "rocket"])
    photos["camera"] = _square(skdata.camera(), 256)
    for name, (photo, polygon) in STRIP_OBJECTS.items():
        mask = np.zeros((256, 256), np.uint8)
        cv2.fillPoly(mask, [np.array(polygon, np.int32)], 1)
        cases.append({"bucket": "strip", "name": name, "image": photos[photo], "mask": mask.astype(bool)})
    return cases


def run_quality(threads: int, candidates: dict, quick: bool, strips: str | None) -> dict:
    """Every shipped model and each candidate (``{label: weights path}``) beside cv2
    TELEA, our default diffusion and our patchmatch: the six ratio buckets and
    object-removal holes at 256x256, benchmark photos only (``quick``: two photos a
    bucket, the buckets from 0.3 up)."""
    import numpy as np
    import torch

    _QUALITY_THREADS[0] = threads
    if threads > 0:
        torch.set_num_threads(threads)
    sys.path.insert(0, HERE)
    from _common import bucket_cases, object_cases, save_strip, score, summarise, timed

    from inpaintkit import learned

    backends = {f"{m} small": _load_learned(m, learned.shipped_weights(m)) for m in MODELS
                if learned.shipped_weights(m) is not None}
    for label, path in candidates.items():
        backends[label] = _load_learned(label, path)
    methods = list(QUALITY_PEERS) + list(backends)
    if quick:
        cases = [c for c in bucket_cases(256, per_bucket=2) if c["bucket"] in LARGE_BUCKETS]
        cases += object_cases(256, names=("astronaut", "coffee"))
    else:
        cases = bucket_cases(256) + object_cases(256)
    for method in methods:  # warm-up: JIT compilation, weight loading, oneDNN kernels
        _quality_fill(method, cases[0]["image"], cases[0]["mask"], backends)
    records = []
    for case in cases:
        for method in methods:
            out, seconds = timed(_quality_fill, method, case["image"], case["mask"], backends)
            records.append({"bucket": case["bucket"], "method": method, "time_s": seconds,
                            **score(case["image"], out, case["mask"])})
    # The off-colour blob check on the bundled sample: chroma shift of each fill.
    from inpaintkit.learned.train import colour_shift

    sample = strip_cases()[0]
    truth = sample["image"].astype(np.float64) / 255.0
    sample_shift = {m: colour_shift(truth, _quality_fill(m, sample["image"], sample["mask"], backends)
                                    .astype(np.float64) / 255.0, sample["mask"]) for m in methods}
    if strips:
        os.makedirs(strips, exist_ok=True)
        for case in strip_cases():
            results = [_quality_fill(m, case["image"], case["mask"], backends) for m in methods]
            save_strip(strips, case, results)
        with open(os.path.join(strips, "COLUMNS.txt"), "w") as handle:
            handle.write("input (hole in magenta), " + ", ".join(methods) + "\n")
    rows = summarise(records)
    return {"rows": rows, "models": list(backends), "sample_shift": sample_shift,
            "threads": threads if threads > 0 else torch.get_num_threads(),
            "images": sorted({c["name"] for c in cases}), "quick": quick,
            "weights": {label: str(b.metadata.get("weights")) for label, b in backends.items()},
            "n_cases": len(cases), "mean_hole": float(np.mean([c["mask"].mean() for c in cases]))}


#: Most chroma shift (8-bit levels, ``inpaintkit.learned.train.colour_shift``) a fill of
#: the bundled sample may have: above it the fill is an off-colour blob. Measured: cv2
#: TELEA 4.1, diffusion 3.7, patchmatch 5.4, the pull-push-seeded GL small 6.4; the
#: removed weights gl 20.7 (green blob), gdn 55.4, edgeconnect 62.5. PConv's removed
#: weights scored 5.5 although they painted cyan and green patches: a mean shift misses
#: tints that cancel, so the strips are still looked at.
SAMPLE_SHIFT_LIMIT = 10.0


def quality_verdicts(rows, models, sample_shift=None):
    """Issue 15's targets per model, in the buckets from 0.3 up and on object removal:
    every shipped model PSNR and SSIM >= cv2 TELEA and no off-colour blob on the bundled
    sample (chroma shift <= :data:`SAMPLE_SHIFT_LIMIT`) ("ship"); the best one also PSNR
    >= our diffusion and texture ratio >= 0.6 ("best"); CPU time < 0.2 s at 256 px."""
    sample_shift = sample_shift or {}
    import numpy as np

    by = {(r["bucket"], r["method"]): r for r in rows}
    targets = [b for b in (*LARGE_BUCKETS, "object") if (b, "cv2 TELEA") in by]
    verdicts = []
    for method in models:
        row = {"model": method}
        d_telea_psnr = [by[(b, method)]["psnr"] - by[(b, "cv2 TELEA")]["psnr"] for b in targets]
        d_telea_ssim = [by[(b, method)]["ssim"] - by[(b, "cv2 TELEA")]["ssim"] for b in targets]
        d_diff_psnr = [by[(b, method)]["psnr"] - by[(b, "diffusion")]["psnr"] for b in targets]
        texture = [by[(b, method)]["texture"] for b in targets]
        times = [r["time_s"] for r in rows if r["method"] == method]
        row.update({
            "min_dPSNR_telea": min(d_telea_psnr), "min_dSSIM_telea": min(d_telea_ssim),
            "min_dPSNR_diffusion": min(d_diff_psnr), "min_texture": min(texture),
            "time_s": float(np.median(times)),
        })
        row["sample_shift"] = sample_shift.get(method, float("nan"))
        blob = not row["sample_shift"] <= SAMPLE_SHIFT_LIMIT
        row["ship"] = "yes" if min(d_telea_psnr) >= 0 and min(d_telea_ssim) >= 0 and not blob else "no"
        row["best"] = ("yes" if row["ship"] == "yes" and min(d_diff_psnr) >= 0 and min(texture) >= 0.6
                       else "no")
        row["time_ok"] = "yes" if row["time_s"] < 0.2 else "no"
        verdicts.append(row)
    return verdicts


def main_quality(threads: int, json_path: str | None = None, candidates=(), quick=False,
                 strips=None) -> None:
    sys.path.insert(0, HERE)
    from _common import print_table

    args = ["--quality-case", str(threads), json.dumps(dict(candidates)), "1" if quick else "0",
            strips or ""]
    result = _subprocess(args)
    rows = sorted(result["rows"], key=lambda r: (r["bucket"], r["method"]))
    print_table(rows, ["bucket", "method", "psnr", "ssim", "texture", "time_s", "n"],
                title=f"Learned weights vs classical fills, 256x256, photos "
                      f"{', '.join(result['images'])}, one free-form hole per photo and bucket "
                      f"(object: one blob or box of 10-25 %); mean PSNR/SSIM (whole image), mean "
                      f"texture ratio (hole), median CPU seconds ({result['threads']} torch "
                      f"thread(s)){'; QUICK: 2 photos a bucket, buckets from 0.3 up' if quick else ''}")
    print()
    verdicts = quality_verdicts(rows, result["models"], result.get("sample_shift"))
    print_table(verdicts, ["model", "min_dPSNR_telea", "min_dSSIM_telea", "sample_shift", "ship",
                           "min_dPSNR_diffusion", "min_texture", "best", "time_s", "time_ok"],
                title="Issue-15 targets over the buckets from 0.3 up and object removal (worst case "
                      "shown): ship = PSNR and SSIM >= cv2 TELEA everywhere and chroma shift on the "
                      f"bundled sample <= {SAMPLE_SHIFT_LIMIT:g} levels (no off-colour blob); best = "
                      "also PSNR >= diffusion and texture ratio >= 0.6; CPU time < 0.2 s")
    print("  chroma shift on the bundled sample (8-bit levels): " + ", ".join(
        f"{m} {v:.1f}" for m, v in result.get("sample_shift", {}).items()))
    for label, path in result["weights"].items():
        print(f"  {label}: {path}")
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"rows": rows, "verdicts": verdicts, **{k: v for k, v in result.items() if k != "rows"}},
                      handle, indent=1)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2], sys.argv[3], int(sys.argv[4]), repeat=2,
                                  threads=int(sys.argv[5]))))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--extras":
        print(json.dumps({"rows": run_extras(int(sys.argv[2]))}))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--opencv":
        print(json.dumps(run_opencv(int(sys.argv[2]), repeat=5)))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--quality-case":
        print(json.dumps(run_quality(int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "1",
                                     sys.argv[5] or None)))
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--threads", type=int, default=1,
                            help="torch intra-op threads (0: torch's default)")
        parser.add_argument("--quality", action="store_true",
                            help="only the quality table of the shipped weights (about 2 minutes)")
        parser.add_argument("--json", default=None, help="also write the quality results here")
        parser.add_argument("--quick", action="store_true",
                            help="quality on 2 photos a bucket, buckets from 0.3 up, 2 object holes")
        parser.add_argument("--weights", action="append", default=[], metavar="MODEL=PATH",
                            help="also evaluate these weights (e.g. a training checkpoint); repeatable")
        parser.add_argument("--strips", default=None, metavar="DIR",
                            help="write object-removal strips (bundled sample, real photos) here")
        args = parser.parse_args()
        candidates = []
        for item in args.weights:
            model, sep, path = item.partition("=")
            if not sep or model not in MODELS:
                parser.error(f"--weights wants MODEL=PATH with MODEL in {', '.join(MODELS)}, got {item!r}")
            candidates.append((f"{model} {os.path.basename(path)}", path))
        if not args.quality:
            main(args.threads)
            print()
        main_quality(args.threads, args.json, candidates, args.quick, args.strips)
