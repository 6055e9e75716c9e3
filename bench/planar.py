"""Planar structure-guided completion benchmark: ``planar`` against our other methods and the peers.

Tables printed (one run):

1. Synthetic perspective set with ground truth: regular textures (checkerboard,
   skimage's brick, a drawn facade of windows, skimage's text page) rendered by a
   pinhole camera onto one plane (a wall), two (a corner of two walls) and three
   (two walls and a floor), with box and free-form holes of 10-30 %: mean PSNR,
   SSIM, hole texture ratio and median seconds for ``planar``, ``patchmatch``,
   ``criminisi``, ``diffusion``, PyPatchMatch (patch radius 3) and OpenCV's Telea,
   and each method's PSNR/SSIM over ``planar``'s.
2. The vanishing points' angular error on the synthetic set (each true vanishing
   direction against the nearest detected one, on the Gaussian sphere).
3. Photos with planar structure (skimage's brick and text, and a warped
   checkerboard photo), box holes over the structure.
4. Natural photos (the patchmatch benchmark's cases: skimage photos, free-form
   holes per ratio bucket and object holes): ``planar`` against ``patchmatch``,
   which it must match where there are no planes.
5. Vanishing-point error and detection time at 256, 512 and 1024 px; time of
   ``planar`` (its default geometric pyramid and ``pyramid="hole"``) and
   ``patchmatch`` at 256, 512 and 1024 px (20 % box hole), wall and CPU seconds,
   and ``planar``'s first-call JIT compile time into an empty Numba cache.

Run from the repository root: ``python bench/planar.py [--quick] [--out DIR]
[--planar-param KEY=VALUE ...]`` (``--out`` writes PNG strips: masked | planar |
patchmatch | pypatchmatch | truth; ``--planar-param`` passes an option to every
``planar`` call, e.g. ``split_planes=True``). The time table prints the 1-minute load
average after each size.
Timings on a shared machine are contended; read them as upper bounds.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
from skimage import data as skdata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    bucket_cases, import_pypatchmatch, masked, object_cases, print_table, score, summarise, timed,
)

import inpaintkit  # noqa: E402
from inpaintkit import masks, structure  # noqa: E402


pypatchmatch = import_pypatchmatch()
HAVE_PEER = pypatchmatch is not None


# ------------------------------------------------------------------- textures


def texture_checker(side=1024, period=48):
    y, x = np.mgrid[:side, :side]
    board = ((x // period + y // period) % 2).astype(np.float64)
    return np.stack([0.1 + 0.8 * board] * 3, axis=2)


def texture_brick(side=1024):
    brick = skdata.brick().astype(np.float64) / 255.0
    tiled = np.tile(brick, (side // brick.shape[0] + 1, side // brick.shape[1] + 1))[:side, :side]
    return np.stack([tiled * 0.9 + 0.05, tiled * 0.6 + 0.05, tiled * 0.45 + 0.05], axis=2)


def texture_windows(side=1024, period=(96, 80)):
    """A facade: warm wall, a grid of framed windows with a bar and a sill."""
    y, x = np.mgrid[:side, :side]
    py, px = y % period[0], x % period[1]
    wall = np.empty((side, side, 3))
    wall[:] = (0.78, 0.66, 0.52)
    frame = (py >= 20) & (py < 78) & (px >= 18) & (px < 62)
    glass = (py >= 25) & (py < 73) & (px >= 23) & (px < 57)
    bar = glass & ((np.abs(px - 40) < 2) | (np.abs(py - 49) < 2))
    sill = (py >= 78) & (py < 84) & (px >= 14) & (px < 66)
    wall[frame] = (0.95, 0.95, 0.92)
    wall[glass] = (0.18, 0.25, 0.35)
    wall[bar] = (0.95, 0.95, 0.92)
    wall[sill] = (0.55, 0.5, 0.45)
    return wall


def texture_text(side=1024):
    text = skdata.text().astype(np.float64) / 255.0
    tiled = np.tile(text, (side // text.shape[0] + 1, side // text.shape[1] + 1))[:side, :side]
    return np.stack([tiled] * 3, axis=2)


#: Textures drawn here, whose lines run exactly along the texture axes, so the
#: true vanishing points are those of their lines.
DRAWN_TEXTURES = ("checker", "windows")

TEXTURES = {"checker": texture_checker, "brick": texture_brick, "windows": texture_windows,
            "text": texture_text}


# -------------------------------------------------------------------- scenes


def _camera(size):
    focal = 0.9 * size
    return np.array([[focal, 0, size / 2.0], [0, focal, size / 2.0], [0, 0, 1.0]])


#: Planes as (origin, e1, e2) in camera coordinates (x right, y down, z forward);
#: the texture (tiled) covers origin + u e1 + v e2 for u, v >= 0, a quarter of its
#: side per unit.
def _layout(name):
    if name == "wall":  # one wall turned 35 degrees about the vertical axis
        a = np.radians(35)
        e1 = np.array([np.cos(a), 0, np.sin(a)])
        return [(np.array([-1.6, -1.3, 2.2]), e1, np.array([0, 1.0, 0]))]
    if name == "corner":  # the inside corner of a room: two walls meeting ahead
        corner = np.array([0.3, -1.4, 3.2])
        left = np.array([-np.cos(np.radians(40)), 0, -np.sin(np.radians(40))])
        right = np.array([np.cos(np.radians(50)), 0, -np.sin(np.radians(50))])
        return [(corner, left, np.array([0, 1.0, 0])), (corner, right, np.array([0, 1.0, 0]))]
    if name == "corridor":  # left wall, right wall, floor
        return [(np.array([-1.0, -1.2, 0.8]), np.array([0, 0, 1.0]), np.array([0, 1.0, 0])),
                (np.array([1.0, -1.2, 0.8]), np.array([0, 0, 1.0]), np.array([0, 1.0, 0])),
                (np.array([-1.0, 0.6, 0.8]), np.array([1.0, 0, 0]), np.array([0, 0, 1.0]))]
    raise ValueError(name)


def render_scene(texture, layout, size, *, supersample=2):
    """Render ``texture`` (float RGB, square) onto the planes of ``layout`` (list of
    (origin, e1, e2)); returns (uint8 RGB image, true vanishing points (list of
    homogeneous (x, y, w) in pixels))."""
    big = size * supersample
    K = _camera(big)
    units = texture.shape[0] / 4.0  # texture pixels per world unit: 4 units per texture
    ys, xs = np.mgrid[:big, :big].astype(np.float64)
    rays = np.stack([(xs + 0.5 - K[0, 2]) / K[0, 0], (ys + 0.5 - K[1, 2]) / K[1, 1],
                     np.ones_like(xs)], axis=2)
    depth = np.full((big, big), np.inf)
    out = np.zeros((big, big, 3))
    vps = []
    for origin, e1, e2 in layout:
        normal = np.cross(e1, e2)
        denom = rays @ normal
        t = (origin @ normal) / np.where(np.abs(denom) > 1e-9, denom, np.nan)
        points = rays * t[..., None] - origin
        u = points @ e1 * units
        v = points @ e2 * units
        ok = (t > 0) & (u >= 0) & (v >= 0) & (t < depth)
        ok &= np.isfinite(t)
        map_x = np.mod(u, texture.shape[1] - 1).astype(np.float32)
        map_y = np.mod(v, texture.shape[0] - 1).astype(np.float32)
        sampled = cv2.remap(texture.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_WRAP)
        out[ok] = sampled[ok]
        depth[ok] = t[ok]
        for e in (e1, e2):
            vp = _camera(size) @ e
            vps.append(vp / np.linalg.norm(vp))
    out[~np.isfinite(depth)] = 0.5
    small = cv2.resize(out.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    image = np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)
    # Distinct vanishing points (walls of a corridor share theirs).
    unique = []
    for vp in vps:
        if all(abs(float(vp @ q)) < 0.9999 for q in unique):
            unique.append(vp)
    return image, unique


def box_mask(size, ratio, seed):
    rng = np.random.default_rng(seed)
    side = int(round(size * np.sqrt(ratio)))
    aspect = rng.uniform(0.75, 1.33)
    h = min(size - 8, int(side * np.sqrt(aspect)))
    w = min(size - 8, int(ratio * size * size / h))
    top = rng.integers(4, size - h - 4)
    left = rng.integers(4, size - w - 4)
    mask = np.zeros((size, size), bool)
    mask[top:top + h, left:left + w] = True
    return mask


def synthetic_cases(size, quick):
    cases = []
    layouts = ("wall", "corner", "corridor")
    for t_index, (tname, make) in enumerate(TEXTURES.items()):
        texture = make()
        for l_index, layout in enumerate(layouts):
            if quick and l_index != t_index % len(layouts):
                continue
            image, vps = render_scene(texture, _layout(layout), size)
            seed = 100 * t_index + 10 * l_index
            cases.append({"set": "synthetic", "name": f"{tname}-{layout}-box", "image": image,
                          "mask": box_mask(size, 0.2, seed), "vps": vps})
            if not quick:
                free = masks.in_ratio_bucket((size, size), 0.1, 0.3, seed=seed + 1)
                cases.append({"set": "synthetic", "name": f"{tname}-{layout}-free",
                              "image": image, "mask": free, "vps": vps})
    return cases


def photo_cases(size):
    """skimage photos with planar structure, box holes over the structure."""
    from skimage.transform import resize

    def square(image):
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=2)
        side = min(image.shape[:2])
        crop = image[:side, :side, :3]
        return np.clip(np.rint(resize(crop, (size, size), preserve_range=True,
                                      anti_aliasing=True)), 0, 255).astype(np.uint8)

    brick = square(skdata.brick())
    text = np.tile(skdata.text(), (3, 1))[:, :448]
    text = square(text)
    checker = skdata.checkerboard()
    src = np.float32([[0, 0], [200, 0], [200, 200], [0, 200]])
    dst = np.float32([[60, 20], [150, 35], [195, 190], [5, 180]])
    warped = cv2.warpPerspective(checker, cv2.getPerspectiveTransform(src, dst), (200, 200),
                                 flags=cv2.INTER_AREA, borderValue=128)
    photos = {"brick": brick, "text": text, "checker-warped": square(warped)}
    return [{"set": "photos", "name": name, "image": image,
             "mask": box_mask(size, 0.15, 7 * i + 3), "vps": None}
            for i, (name, image) in enumerate(photos.items())]


# ------------------------------------------------------------------- methods


#: Options of ``planar`` (``--planar-param KEY=VALUE``), for every call of it here.
PLANAR_PARAMS: dict = {}


def methods():
    def ours(name, **params):
        return lambda image, mask: inpaintkit.inpaint(image, mask, method=name, **params)

    table = [("planar", ours("planar", **PLANAR_PARAMS)), ("patchmatch", ours("patchmatch")),
             ("criminisi", ours("criminisi")), ("diffusion", ours("diffusion"))]
    if HAVE_PEER:
        def peer(image, mask):
            pypatchmatch.set_random_seed(0)
            return pypatchmatch.inpaint(image, mask.astype(np.uint8), patch_size=3)

        table.append(("pypatchmatch r3", peer))
    table.append(("cv2 telea", lambda image, mask: cv2.inpaint(
        image, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)))
    return table


def vp_errors(cases):
    """Angular error (degrees) of each true vanishing direction to the nearest
    detected one; 90 where none was detected. Returns the table rows and the list
    of errors per case."""
    rows = []
    errors = []
    for case in cases:
        size = case["image"].shape[0]
        Kinv = np.linalg.inv(_camera(size))
        found = structure.vanishing_points(case["image"], mask=case["mask"])
        dirs = [Kinv @ vp.point for vp in found]
        dirs = [d / np.linalg.norm(d) for d in dirs]
        case_errors = []
        for true in case["vps"]:
            t = Kinv @ true
            t /= np.linalg.norm(t)
            best = min((np.degrees(np.arccos(min(1.0, abs(float(t @ d))))) for d in dirs),
                       default=90.0)
            case_errors.append(best)
        errors.append(case_errors)
        rows.append({"case": case["name"], "true": len(case["vps"]), "found": len(found),
                     "median_deg": float(np.median(case_errors)),
                     "max_deg": float(np.max(case_errors))})
    return rows, errors


def vp_by_size(sizes, quick):
    """Median and 90th percentile VP angular error over the synthetic scenes (box
    holes: the free-form ones share their images) rendered at each size, and the
    median seconds of one ``vanishing_points`` call."""
    rows = []
    for size in sizes:
        cases = [case for case in synthetic_cases(size, quick) if case["name"].endswith("-box")]
        seconds = []
        for case in cases:
            start = time.perf_counter()
            structure.vanishing_points(case["image"], mask=case["mask"])
            seconds.append(time.perf_counter() - start)
        _, errors = vp_errors(cases)
        every = [e for case_errors in errors for e in case_errors]
        drawn = [e for case, case_errors in zip(cases, errors) for e in case_errors
                 if case["name"].split("-")[0] in DRAWN_TEXTURES]
        rows.append({"size": size, "scenes": len(cases), "vps": len(every),
                     "median_deg": float(np.median(every)),
                     "p90_deg": float(np.percentile(every, 90)),
                     "median_drawn_deg": float(np.median(drawn)),
                     "vp_seconds": float(np.median(seconds))})
    return rows


def run_quality(cases, out_dir):
    records = []
    for case in cases:
        results = {}
        for name, fn in methods():
            result, seconds = timed(fn, case["image"], case["mask"])
            results[name] = result
            records.append({"set": case["set"], "method": name, "case": case["name"],
                            "time_s": seconds, **score(case["image"], result, case["mask"])})
        print(f"  {case['name']}: " + ", ".join(
            f"{r['method']} {r['psnr']:.2f}" for r in records[-len(results):]), flush=True)
        if out_dir:
            strip = [masked(case), results["planar"], results["patchmatch"]]
            if "pypatchmatch r3" in results:
                strip.append(results["pypatchmatch r3"])
            strip.append(case["image"])
            cv2.imwrite(os.path.join(out_dir, f"{case['set']}_{case['name']}.png"),
                        np.ascontiguousarray(np.concatenate(strip, axis=1)[..., ::-1]))
    return records


def ratio_rows(summary):
    by_set = {}
    for row in summary:
        by_set.setdefault(row["set"], {})[row["method"]] = row
    rows = []
    for set_name, per_method in by_set.items():
        ref = per_method["planar"]
        for method, row in per_method.items():
            rows.append({**row, "psnr_vs_planar": row["psnr"] - ref["psnr"],
                         "ssim_vs_planar": row["ssim"] / ref["ssim"],
                         "time_vs_planar": row["time_s"] / ref["time_s"]})
    return rows


def natural_rows():
    """planar against patchmatch on the patchmatch benchmark's photo cases."""
    rows = []
    for case in bucket_cases(256) + object_cases(256):
        ours = inpaintkit.inpaint(case["image"], case["mask"], method="planar", **PLANAR_PARAMS)
        theirs = inpaintkit.inpaint(case["image"], case["mask"], method="patchmatch")
        a, b = score(case["image"], ours, case["mask"]), score(case["image"], theirs, case["mask"])
        rows.append({"bucket": case["bucket"], "photo": case["name"], "planar": a["psnr"],
                     "patchmatch": b["psnr"], "diff_db": a["psnr"] - b["psnr"]})
    return rows


def first_call_seconds():
    """Seconds of a first ``planar`` call into an empty Numba cache, then a cached one."""
    code = ("import time, numpy as np, inpaintkit; "
            "yy, xx = np.mgrid[:96, :96]; img = (((yy // 8) + (xx // 8)) % 2).astype(np.float32); "
            "m = np.zeros((96, 96), bool); m[30:60, 30:60] = True; t = time.perf_counter(); "
            "inpaintkit.inpaint(img, m, method='planar'); print(time.perf_counter() - t)")
    times = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, check=True)
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one layout per texture, box holes")
    parser.add_argument("--out", help="write PNG strips to this folder")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-natural", action="store_true")
    parser.add_argument("--planar-param", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of planar (Python literal), e.g. split_planes=True")
    args = parser.parse_args()
    for item in args.planar_param:
        key, _, value = item.partition("=")
        PLANAR_PARAMS[key] = ast.literal_eval(value)
    if PLANAR_PARAMS:
        print(f"planar options: {PLANAR_PARAMS}", flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    print("timings on a shared, contended machine: upper bounds", flush=True)

    synthetic = synthetic_cases(args.size, args.quick)
    vp_rows, errors = vp_errors(synthetic)
    print_table(vp_rows, ["case", "true", "found", "median_deg", "max_deg"],
                title="Vanishing points on the synthetic set (angular error, degrees)")
    drawn = [e for row, case_errors in zip(vp_rows, errors) for e in case_errors
             if row["case"].split("-")[0] in DRAWN_TEXTURES]
    every = [e for case_errors in errors for e in case_errors]
    print(f"median VP angular error: {np.median(drawn):.2f} deg over the {len(drawn)} true VPs "
          f"of the drawn textures ({', '.join(DRAWN_TEXTURES)}), whose lines run along the "
          f"texture axes; {np.median(every):.2f} deg over all {len(every)} (the brick and text "
          "photos' own lines are not parallel to their axes: the brick photo is itself in "
          "perspective)\n", flush=True)

    cases = synthetic + photo_cases(args.size)
    records = run_quality(cases, args.out)
    summary = summarise(records, keys=("set", "method"))
    columns = ["set", "method", "psnr", "ssim", "texture", "time_s", "psnr_vs_planar",
               "ssim_vs_planar", "time_vs_planar", "n"]
    print_table(ratio_rows(summary), columns,
                title=f"\nQuality at {args.size} px (PSNR/SSIM whole image; psnr_vs_planar in dB)")

    if not args.skip_natural:
        rows = natural_rows()
        print_table(rows, ["bucket", "photo", "planar", "patchmatch", "diff_db"],
                    title="\nNatural photos (PSNR, dB)")
        diffs = [row["diff_db"] for row in rows]
        print(f"planar - patchmatch: mean {np.mean(diffs):+.3f} dB, largest |diff| "
              f"{np.max(np.abs(diffs)):.3f} dB over {len(rows)} cases", flush=True)

    if not args.skip_timing:
        rows = vp_by_size((256, 512, 1024), args.quick)
        print_table(rows, ["size", "scenes", "vps", "median_deg", "p90_deg", "median_drawn_deg",
                           "vp_seconds"],
                    title="\nVanishing points by image size (synthetic scenes, box holes)")
        rows = []
        texture = texture_windows()
        for size in (256, 512, 1024):
            image, _ = render_scene(texture, _layout("wall"), size, supersample=1)
            mask = box_mask(size, 0.2, 5)
            row = {"size": size}
            for label, method, params in (("planar", "planar", PLANAR_PARAMS),
                                          ("planar_hole", "planar",
                                           {**PLANAR_PARAMS, "pyramid": "hole"}),
                                          ("patchmatch", "patchmatch", {})):
                cpu = time.process_time()
                _, seconds = timed(inpaintkit.inpaint, image, mask, method=method, **params)
                row[f"{label}_s"] = seconds
                row[f"{label}_cpu_s"] = time.process_time() - cpu
            row["planar_vs_patchmatch_cpu"] = row["planar_cpu_s"] / row["patchmatch_cpu_s"]
            row["load_1min"] = os.getloadavg()[0]
            rows.append(row)
        print_table(rows, ["size", "planar_s", "planar_cpu_s", "planar_hole_s", "planar_hole_cpu_s",
                           "patchmatch_s", "patchmatch_cpu_s", "planar_vs_patchmatch_cpu",
                           "load_1min"],
                    title="\nTime, 20 % box hole on the windows wall (wall seconds, and CPU "
                          "seconds of all threads: the wall time of an idle machine is about "
                          "the CPU time over the thread count)")
        first, cached = first_call_seconds()
        print(f"first call (JIT compile into an empty cache) {first:.1f} s, cached start "
              f"{cached:.1f} s (96x96)")


if __name__ == "__main__":
    main()
