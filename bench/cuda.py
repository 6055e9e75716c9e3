"""GPU timing of every learned backend's paper configuration, and CPU/CUDA agreement.

For GL, PConv, GDN, EdgeConnect and LaMa (big-lama), paper configs with seeded random
weights (cost does not depend on the values), at 256 and 512 px with batch 1 and 8:
milliseconds per batch and images per second of one network call
(``Backend._predict``: NumPy -> device, padding, the networks, device -> NumPy; for
EdgeConnect also its CPU Canny of the known region), after warm-up runs, with
``torch.cuda.synchronize`` around each timed call. ``--amp`` adds float16 autocast rows.

Agreement: the same weights and inputs through a CPU backend and a CUDA backend (TF32
off, float32), max absolute difference of the predictions in [0, 1], at 256 px batch 1
(and batch 2 to catch batch-dependent kernels); a difference above ``--tolerance``
fails the run (exit status 1).

Without CUDA the script says so; ``--device cpu`` runs the same timing table on the CPU
(``--quick``: 64 px, batch 1 and 2, one repeat), which is how it is tested on machines
without a GPU. CPU rows add the process's CPU time per batch (repeatable on a machine
shared with other jobs, where wall time is not) and its ratio to LaMa's.

Run from the repository root: ``python bench/cuda.py [--amp] [--json out.json]``, or
``python bench/cuda.py --device cpu --quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

MODELS = ("gl", "pconv", "gdn", "edgeconnect", "lama")


def _inputs(size: int, batch: int, seed: int = 0):
    """``batch`` photos at ``size`` with seeded free-form holes of 10-20 %."""
    import numpy as np

    from _common import PHOTOS, load_photos
    from inpaintkit import masks

    photos = list(load_photos(size).values())
    images = np.stack([photos[i % len(PHOTOS)] for i in range(batch)]).astype(np.float64) / 255.0
    holes = np.stack([masks.in_ratio_bucket((size, size), 0.1, 0.2, seed=seed + i) for i in range(batch)])
    return images, holes


def _backend(model: str, device: str, seed: int = 0):
    from inpaintkit import learned

    return learned.load(model, weights="random", config="paper", device=device, seed=seed)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_case(backend, size: int, batch: int, repeat: int, warmup: int, amp: bool) -> dict:
    """Median seconds of ``repeat`` calls of the network on a batch, after ``warmup``."""
    import contextlib

    import torch

    images, holes = _inputs(size, batch)
    device = str(backend.device)
    context = (torch.autocast("cuda", dtype=torch.float16) if amp else contextlib.nullcontext())
    times, cpu_times = [], []
    with context:
        for i in range(warmup + repeat):
            _sync(device)
            start, cpu_start = time.perf_counter(), time.process_time()
            backend._predict(images, holes, {})
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
    seconds = statistics.median(times)
    row = {"model": backend.name, "size": size, "batch": batch, "precision": "fp16" if amp else "fp32",
           "ms_per_batch": 1000 * seconds, "ms_per_image": 1000 * seconds / batch,
           "images_per_s": batch / seconds,
           # On a CPU shared with other jobs the process's CPU time is the repeatable figure.
           "cpu_ms_per_batch": 1000 * statistics.median(cpu_times)}
    if device.startswith("cuda"):
        row["peak_GiB"] = torch.cuda.max_memory_allocated() / 2 ** 30
        torch.cuda.reset_peak_memory_stats()
    return row


def agreement(model: str, size: int, batch: int) -> dict:
    """Max |CPU - CUDA| of the predictions for the same weights and inputs."""
    import numpy as np
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    images, holes = _inputs(size, batch, seed=7)
    cpu = _backend(model, "cpu", seed=1)
    gpu = _backend(model, "cuda", seed=1)
    for (name, a), b in zip(cpu.networks.items(), gpu.networks.values()):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y.cpu()), f"{model} {name} {key}: weights differ between devices"
    out_cpu, _ = cpu._predict(images, holes, {})
    out_gpu, _ = gpu._predict(images, holes, {})
    diff = np.abs(out_cpu - out_gpu)
    return {"model": model, "size": size, "batch": batch, "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean()), "hole_max_abs_diff": float(diff[holes].max())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--amp", action="store_true", help="also time float16 autocast (CUDA)")
    parser.add_argument("--tolerance", type=float, default=2e-3,
                        help="largest accepted |CPU - CUDA| of a prediction in [0, 1]")
    parser.add_argument("--quick", action="store_true", help="64 px, batch 1 and 2, one repeat")
    parser.add_argument("--threads", type=int, default=0, help="CPU torch threads (0: default)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    import torch

    from _common import print_table

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.batches, args.repeat, args.warmup = [64], [1, 2], 1, 1
    on_cuda = args.device.startswith("cuda")
    if on_cuda and not torch.cuda.is_available():
        print(f"bench/cuda.py: CUDA is not available here (torch {torch.__version__}); nothing "
              "timed. Run it on a machine with a GPU, or pass --device cpu for the CPU path.",
              file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(args.device) if on_cuda else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"device: {name}; torch {torch.__version__}", flush=True)

    rows = []
    for model in args.models:
        backend = _backend(model, args.device)
        params = backend.parameter_count / 1e6
        for size in args.sizes:
            for batch in args.batches:
                for amp in ([False, True] if args.amp and on_cuda else [False]):
                    row = time_case(backend, size, batch, args.repeat, args.warmup, amp)
                    row["params_M"] = params
                    rows.append(row)
                    print(f"  {model} {size}px batch {batch} {row['precision']}: "
                          f"{row['ms_per_batch']:.1f} ms", file=sys.stderr, flush=True)
        del backend
        if on_cuda:
            torch.cuda.empty_cache()
    columns = ["model", "params_M", "size", "batch", "precision", "ms_per_batch", "ms_per_image", "images_per_s"]
    if on_cuda:
        columns.append("peak_GiB")
    else:
        columns.append("cpu_ms_per_batch")
        reference = {(r["size"], r["batch"]): r["cpu_ms_per_batch"] for r in rows if r["model"] == "lama"}
        for row in rows:
            if (row["size"], row["batch"]) in reference:
                row["cpu_x_lama"] = row["cpu_ms_per_batch"] / reference[(row["size"], row["batch"])]
        if reference:
            columns.append("cpu_x_lama")
    print_table(rows, columns, title=f"Paper configs, random weights, median of {args.repeat} after "
                                     f"{args.warmup} warm-up runs, on {name}")
    checks = []
    failed = False
    if on_cuda:
        for model in args.models:
            for batch in (1, 2):
                check = agreement(model, 256, batch)
                check["ok"] = check["max_abs_diff"] <= args.tolerance
                failed |= not check["ok"]
                checks.append(check)
        print()
        print_table(checks, ["model", "size", "batch", "max_abs_diff", "mean_abs_diff", "hole_max_abs_diff", "ok"],
                    title=f"CPU vs CUDA predictions (float32, TF32 off), tolerance {args.tolerance}")
    else:
        print("\nCPU vs CUDA agreement: skipped (no CUDA device in this run)")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": name, "timing": rows, "agreement": checks}, file, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
