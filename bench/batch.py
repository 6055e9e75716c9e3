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
  workers (started as ``inpaintkit batch`` starts them, ``batch._local_cluster``;
  workers warm: ``warm_up`` ran on each first), and the ratios. The modes run
  interleaved, in ``--rounds`` chunks of the photos (loop, 1, 2, 2, 1, loop, ...), so a
  change in the machine's load during the run hits them alike;
- the engine's overhead per item as the issue defines it: the batch's time minus the
  sum of the fill times (the ``inpaint`` calls), per item. With W workers the batch's
  time is W x the wall time of the ``batch.run`` calls (worker-seconds), whole: folder
  scan, ledger, the first submissions and the tail where the last items run while
  the other workers wait. Each round is one ``batch.run`` call, so ``--rounds 2`` of
  200 photos times two batches of 100. The overhead is split into the workers' file
  reading and writing (``io``) and the rest (``engine``: scheduling, transfer,
  ledger, the tail); ``img/task`` is the chunk size ``batch.run`` chose;
- the time to the first result with cold workers: the cluster's start, then the first
  item on its fresh workers (imports, Numba's kernels from its disk cache, which the
  warm-up in this process filled), as ``inpaintkit batch`` on a fresh machine;
- CPU seconds per image on the workers (``cpu s/img``; the worker process's CPU time
  over each item) and of this process during the batch (``engine cpu ms/img``: the
  client, and on a LocalCluster the scheduler and the nannies, less their idle draw,
  ``idle draw cpu %``, of this process with every cluster up, measured for 3 s before
  the rounds), and from them the
  images/s the run would reach on idle cores (``idle est. img/s``: each worker busy one
  core for its CPU time per item, the engine sharing the cores). CPU time is what a
  busy machine changes least.

Wall-clock timings need a quiet machine. On a shared one, Linux's autogroup
scheduler gives each login session one share of the CPU however many processes it
runs: there, two workers cannot be faster than one, and only the CPU columns and
the idle estimate say how the engine scales.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
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
    """Read, fill and write each pair in this process, one at a time (kernels warm)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fill = work = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for image_path, mask_path in pairs:
        record = batch.fill_file(image_path, mask_path, out_dir / image_path.name, method=method)
        assert record["state"] == "done", record
        fill += record["fill_seconds"]
        work += record["seconds"]
    return {"seconds": time.perf_counter() - start, "fill": fill, "work": work, "engine_cpu": 0.0,
            "cpu": time.process_time() - cpu_start, "tasks": len(pairs)}


def start_cluster(workers: int, method: str, probe, chunk_size: int | None) -> tuple:
    """A LocalCluster as ``inpaintkit batch`` starts it (``batch._local_cluster``);
    times its start and the first result on its cold workers (``probe``: one pair),
    then warms every worker."""
    from distributed import Client

    start = time.perf_counter()
    stack = contextlib.ExitStack()
    cluster = stack.enter_context(batch._local_cluster(workers))
    client = stack.enter_context(Client(cluster))
    cluster_start = time.perf_counter() - start
    first = batch.run([probe[0]], probe[1], method=method, client=client, chunk_size=chunk_size)
    client.run(batch.warm_up, (method,))
    return stack, client, {"cluster_start": cluster_start,
                           "first_item": first.first_result_seconds}


def idle_draw() -> float:
    """This process's CPU draw while its clusters idle (heartbeats, the nannies' memory
    monitors, every cluster's scheduler), in cores: a cost per second of wall time,
    not per item, which a busy machine (longer wall times) inflates."""
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    time.sleep(3.0)
    return (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)


def on_cluster(pairs, out_dir: Path, method: str, client, chunk_size: int | None) -> dict:
    # This process's CPU time over the batch: the client and, on a LocalCluster, the
    # scheduler and the nannies (the engine's own cost, besides the workers').
    cpu_start = time.process_time()
    start = time.perf_counter()
    summary = batch.run(pairs, out_dir, method=method, client=client, chunk_size=chunk_size)
    seconds = time.perf_counter() - start  # the whole call: scan, ledger, tail
    engine_cpu = time.process_time() - cpu_start
    assert summary.done == len(pairs) and summary.failed == 0, summary.failures
    assert len(list(out_dir.glob("*.png"))) == len(pairs)
    return {"seconds": seconds, "fill": summary.fill_seconds, "work": summary.work_seconds,
            "cpu": summary.cpu_seconds, "engine_cpu": engine_cpu, "tasks": summary.tasks}


def measure(pairs, root: Path, method: str, worker_counts, rounds: int,
            chunk_size: int | None) -> dict:
    """Every run mode on the same photos, in ``rounds`` interleaved chunks (loop,
    1 worker, 2 workers, loop, ...), so a change in the machine's load hits every mode
    alike; returns per mode the summed seconds, fill and work seconds."""
    batch.warm_up((method,))
    clusters = {}
    for workers in worker_counts:
        clusters[workers] = start_cluster(workers, method, (pairs[0], root / f"first{workers}"),
                                          chunk_size)
    # Measured with every cluster up, as during the rounds: the draw of the cluster
    # not in use counts in this process's CPU too.
    idle_rate = idle_draw()
    keys = ("seconds", "fill", "work", "cpu", "engine_cpu", "tasks")
    totals = {"loop": {**dict.fromkeys(keys, 0.0), "workers": 1}}
    for workers in worker_counts:
        totals[workers] = {**dict.fromkeys(keys, 0.0), "workers": workers, **clusters[workers][2],
                           "idle_rate": idle_rate}
    try:
        chunks = [pairs[i::rounds] for i in range(rounds)]
        for index, chunk in enumerate(chunks):
            modes = ["loop", *worker_counts]
            for mode in modes if index % 2 == 0 else reversed(modes):
                out = root / f"{mode}" / f"round{index}"
                result = (plain_loop(chunk, out, method) if mode == "loop"
                          else on_cluster(chunk, out, method, clusters[mode][1], chunk_size))
                for key in keys:
                    totals[mode][key] += result.get(key, 0)
            print(f"  {method}: round {index + 1}/{rounds} done", flush=True)
    finally:
        for stack, _, _ in clusters.values():
            stack.close()
    return totals


def engine_cpu_per_item(result: dict, count: int) -> float:
    """This process's CPU seconds per item during the batches, less its idle draw
    over the same wall time (which a busy machine stretches)."""
    idle = result.get("idle_rate", 0.0) * result["seconds"]
    return max(0.0, result["engine_cpu"] - idle) / count


def idle_estimate(result: dict, count: int, cores: int) -> float:
    """Images/s the run would reach on ``cores`` idle cores, from CPU times (which
    contention barely changes): each worker busy one core for its CPU time per
    item; the workers, the engine's per-item CPU and its idle draw sharing the cores."""
    worker_cpu = result["cpu"] / count
    workers = result["workers"]
    spare = cores - result.get("idle_rate", 0.0)
    return min(workers / worker_cpu, spare / (worker_cpu + engine_cpu_per_item(result, count)))


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") \
        else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="photos (default 200)")
    parser.add_argument("--methods", nargs="+", default=["diffusion", "patchmatch"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved chunks per mode (default 2)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="images per task (default: batch.run's, sized from the work)")
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
        cores = len(os.sched_getaffinity(0))
        print(f"CPU cores here: {cores}, load average {_load()} (1, 5, 15 min; other work on "
              "the machine distorts every number)", flush=True)
        rows, cpu_rows = [], []
        for method in args.methods:
            runs = measure(pairs, root / method, method, args.workers, args.rounds,
                           args.chunk_size)
            loop_rate = count / runs["loop"]["seconds"]
            one = runs.get(1)
            one_estimate = idle_estimate(one, count, cores) if one else float("nan")
            for mode, result in runs.items():
                label = mode if mode == "loop" else f"{mode} worker{'s' if mode > 1 else ''}"
                rate = count / result["seconds"]
                # The definition: the batch's time (worker-seconds: wall time of
                # the batch.run calls x workers) minus the sum of the fill times, per item.
                used = result["seconds"] * result["workers"]
                overhead = (used - result["fill"]) / count
                engine = (used - result["work"]) / count
                rows.append({
                    "method": method, "run": label, "images/s": rate,
                    "x loop": rate / loop_rate,
                    "x 1 worker": rate / (count / one["seconds"]) if one else float("nan"),
                    "fill s/img": result["fill"] / count,
                    "overhead ms/img": 1000 * overhead,
                    "overhead %": 100 * overhead / (result["fill"] / count),
                    "io ms/img": 1000 * (result["work"] - result["fill"]) / count,
                    "engine ms/img": 1000 * engine,
                    "img/task": count / result["tasks"]})
                estimate = idle_estimate(result, count, cores)
                cpu_rows.append({
                    "method": method, "run": label,
                    "cpu s/img": result["cpu"] / count,
                    "engine cpu ms/img": 1000 * engine_cpu_per_item(result, count),
                    "idle draw cpu %": 100 * result.get("idle_rate", float("nan")),
                    "idle est. img/s": estimate,
                    "idle est. x 1 worker": estimate / one_estimate,
                    "cluster start s": result.get("cluster_start", float("nan")),
                    "first item s": result.get("first_item", float("nan")),
                    "first result s": result.get("cluster_start", float("nan"))
                    + result.get("first_item", float("nan"))})
                print(f"  {method} {label}: {rate:.2f} images/s", flush=True)
        print()
        print_table(rows, ["method", "run", "images/s", "x loop", "x 1 worker", "fill s/img",
                           "overhead ms/img", "overhead %", "io ms/img", "engine ms/img",
                           "img/task"],
                    title=f"batch: {count} photos {SIZE}x{SIZE}, ~10 % holes, {args.rounds} "
                          "rounds (overhead = batch time x workers minus the sum of the fill "
                          "times, per image; io = the workers' read + write; engine = the rest)")
        print()
        print_table(cpu_rows, ["method", "run", "cpu s/img", "engine cpu ms/img",
                               "idle draw cpu %", "idle est. img/s", "idle est. x 1 worker",
                               "cluster start s", "first item s", "first result s"],
                    title="CPU times, and the time to the first result with cold workers "
                          "(cluster start + first item on the fresh workers)")
        print(f"load average at the end: {_load()}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
