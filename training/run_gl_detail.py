"""Start (or, with its .state present, resume) the GL small run with the detail term.

GL small (tension-spline seed + a learned correction), reconstruction only: hole MSE +
0.02 x (1 - SSIM) + DETAIL x losses.detail_loss (target ratio TARGET), no discriminator.
Run from the repository root with inpaintkit importable; see TRAINING.md. Environment:
DATA (training set folder), MINUTES (wall-time budget), LR, DETAIL, TARGET; STOP_AFTER=0 validates the saved state and writes its curve and
metadata without training further.
"""

import os
import subprocess
import sys
from pathlib import Path

import torch

from inpaintkit.learned.train import TrainOptions, state_path, train

data = os.environ.get("DATA", "/tmp/inpaintkit-trainset")
if not Path(data, "train").is_dir():
    subprocess.run([sys.executable, "scripts/build_training_set.py", data], check=True)
out = "training/gl_detail/gl_detail.pt"
options = TrainOptions(
    model="gl", data=data, out=out, config="small", size=128, batch=8, steps=1_000_000,
    lr=float(os.environ.get("LR", "1e-3")), time_limit=60 * float(os.environ.get("MINUTES", "88")),
    seed=0, device="cpu", checkpoint_every=300.0, val_every=250,
    detail=float(os.environ.get("DETAIL", "0.005")), detail_target=float(os.environ.get("TARGET", "0.75")),
    adversarial=False, progress=False,
    stop_after=int(os.environ["STOP_AFTER"]) if os.environ.get("STOP_AFTER") else None)
torch.set_num_threads(1)
resume = state_path(out) if state_path(out).exists() else None
try:
    result = train(options, resume=resume)
except KeyboardInterrupt:
    print("stopped: state saved", flush=True)
    sys.exit(0)
print(f"done: step {result['step']}, {result['elapsed'] / 60:.1f} min, validation {result['validation']}",
      flush=True)
