"""Batch benchmark: a plain Python loop against ``inpaintkit.batch`` on 1 and 2 workers.

Run from the repository root::

    python bench/batch.py                         # 200 photos, diffusion and patchmatch
    python bench/batch.py --count 40 --methods patchmatch
    python bench/batch.py --quick                 # 24 photos

The photos are 512 x 512 crops of skimage.data pictures (random position, scale and
flip, seeded), each with a seeded free-form mask of about 10 % (``masks.in_ratio_bucket``
in (0.09, 0.11]), written as PNG files. For each method it prints:

- images/s of a plain loop in this process (read, ``inpaint``, write; Numba on one
  thread, kernels warm), of ``batch.run`` on a LocalCluster of 1 worker and of 2
  workers (workers warm: ``warm_up`` ran on each first), and the ratios;
- the engine's overhead per item: the worker-seconds the batch used
  (wall time x workers) minus the sum of the fill times, per item, split into the
  workers' file reading and writing and the rest (scheduling, transfer, ledger);
- the time to the first result with cold workers: cluster start, then the first
  item (imports, Numba's disk cache) on a fresh cluster.

Timings are wall clock: run on a quiet machine, or read the ratios with care.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage import data as skdata
from skimage.transform import rescale

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported anywhere

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import print_table  # noqa: E402

from inpaintkit import batch, io, masks  # noqa: E402

#: skimage.data pictures cropped for the photos (colour or gray, natural scenes/objects).
SOURCES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry",
           "hubble_deep_field", "coins", "moon", "cat")
SIZE = 512


def make_photos(folder: Path, count: int, *, seed: int = 0) -> list[tuple[Path, Path]]:
    """``count`` 512 x 512 RGB crops with a ~10 % mask each, as PNG pairs in ``folder``."""
    rng = np.random.default_rng(seed)
    pictures = []
    for name in SOURCES:
        picture = getattr(skdata, name)()
        if picture.ndim == 2:
            picture = np.stack([picture] * 3, axis=2)
        pictures.append(picture[..., :3])
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for index in range(count):
        picture = pictures[index % len(pictures)]
        scale = max(SIZE / min(picture.shape[:2]), rng.uniform(0.8, 1.2))
        scale = max(scale, (SIZE + 1) / min(picture.shape[:2]))
        scaled = rescale(picture, scale, channel_axis=2, anti_aliasing=scale < 1,
                         preserve_range=True)
        top = int(rng.integers(0, scaled.shape[0] - SIZE + 1))
        left = int(rng.integers(0, scaled.shape[1] - SIZE + 1))
        crop = scaled[top:top + SIZE, left:left + SIZE]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        photo = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
        hole = masks.in_ratio_bucket((SIZE, SIZE), 0.09, 0.11, seed=seed + index)
        image_path = folder / f"photo{index:03d}.png"
        mask_path = folder / f"photo{index:03d}_mask.png"
        io.write_image(image_path, photo)
        io.write_image(mask_path, hole.astype(np.uint8) * 255)
        pairs.append((image_path, mask_path))
    return pairs


def plain_loop(pairs, out_dir: Path, method: str) -> dict:
    """Read, fill and write each pair in this process, one at a time."""
    batch.warm_up((method,))
    out_dir.mkdir(parents=True, exist_ok=True)
    fills, works = [], []
    start = time.perf_counter()
    for image_path, mask_path in pairs:
        record = batch.fill_file(image_path, mask_path, out_dir / image_path.name, method=method)
        assert record["state"] == "done", record
        fills.append(record["fill_seconds"])
        works.append(record["seconds"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "fill": sum(fills), "work": sum(works), "workers": 1,
            "median_fill": statistics.median(fills)}


def on_cluster(pairs, out_dir: Path, method: str, workers: int) -> dict:
    """Cold first result on a fresh LocalCluster, then the timed batch with warm workers."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR,
                               env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)
    cluster_start = time.perf_counter() - start
    try:
        first = batch.run([pairs[0]], out_dir / "first", method=method, client=client)
        client.run(batch.warm_up, (method,))
        summary = batch.run(pairs, out_dir / "all", method=method, client=client)
    finally:
        client.close()
        cluster.close()
    assert summary.done == len(pairs) and summary.failed == 0, summary.failures
    assert len(list((out_dir / "all").glob("*.png"))) == len(pairs)
    return {"seconds": summary.seconds, "fill": summary.fill_seconds,
            "work": summary.work_seconds, "workers": workers, "cluster_start": cluster_start,
            "first_result": first.first_result_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="photos (default 200)")
    parser.add_argument("--methods", nargs="+", default=["diffusion", "patchmatch"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="24 photos")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the photos and outputs here instead of a temporary folder")
    args = parser.parse_args()
    count = 24 if args.quick else args.count
    root = args.keep or Path(tempfile.mkdtemp(prefix="inpaintkit-bench-batch-"))
    try:
        start = time.perf_counter()
        pairs = make_photos(root / "photos", count)
        print(f"{count} photos {SIZE}x{SIZE}, ~10 % masks, made in "
              f"{time.perf_counter() - start:.1f} s under {root}", flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"CPU cores here: {len(os.sched_getaffinity(0))}, load average {load:.1f} "
              "(other work on the machine distorts every number)", flush=True)
        rows = []
        for method in args.methods:
            runs = {"loop": plain_loop(pairs, root / method / "loop", method)}
            for workers in args.workers:
                runs[f"{workers} worker{'s' if workers > 1 else ''}"] = on_cluster(
                    pairs, root / method / f"w{workers}", method, workers)
            loop_rate = count / runs["loop"]["seconds"]
            one = runs.get("1 worker")
            for label, result in runs.items():
                rate = count / result["seconds"]
                used = result["seconds"] * result["workers"]
                overhead = (used - result["fill"]) / count
                engine = (used - result["work"]) / count
                row = {"method": method, "run": label, "images/s": rate,
                       "x loop": rate / loop_rate,
                       "x 1 worker": rate / (count / one["seconds"]) if one else float("nan"),
                       "fill s/img": result["fill"] / count,
                       "overhead ms/img": 1000 * overhead,
                       "overhead %": 100 * overhead / (result["fill"] / count),
                       "io ms/img": 1000 * (result["work"] - result["fill"]) / count,
                       "engine ms/img": 1000 * engine,
                       "cluster start s": result.get("cluster_start", float("nan")),
                       "first result s": result.get("first_result", float("nan"))}
                rows.append(row)
                print(f"  {method} {label}: {rate:.2f} images/s", flush=True)
        print()
        print_table(rows, ["method", "run", "images/s", "x loop", "x 1 worker", "fill s/img",
                           "overhead ms/img", "overhead %", "io ms/img", "engine ms/img",
                           "cluster start s", "first result s"],
                    title=f"batch: {count} photos {SIZE}x{SIZE}, ~10 % holes (overhead = "
                          "worker-seconds not spent in inpaint, per image; io = the workers' "
                          "read + write; engine = the rest)")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"load average at the end: {load:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
