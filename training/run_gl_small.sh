#!/bin/sh
# Start (or, with the .state file present, resume) the long CPU training of the shipped
# GL small weights. Run from the repository root; see TRAINING.md.
set -e
DATA=${DATA:-/tmp/inpaintkit-trainset}
OUT=training/gl_small/gl_small.pt
[ -d "$DATA/train" ] || python scripts/build_training_set.py "$DATA"
RESUME=""
[ -f "$OUT.state" ] && RESUME="--resume $OUT.state"
exec python -m inpaintkit train gl --data "$DATA" --out "$OUT" --config small --size 128 \
    --batch 8 --steps 1000000 --time-limit "${MINUTES:-180}" --lr "${LR:-1e-3}" --threads 1 --seed 0 \
    --checkpoint-every 5 --val-every 250 $RESUME
