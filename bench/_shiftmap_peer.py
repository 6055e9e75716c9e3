"""Run OpenCV contrib's ``xphoto.inpaint(..., INPAINT_SHIFTMAP)`` on one case, in its own venv.

``opencv-contrib-python-headless`` only installs below version 5 and would replace the
main environment's OpenCV, so ``bench/offsets.py`` runs this script with the
interpreter of a separate venv (``--shiftmap-python``; see bench/README.md), one
process per case: SHIFTMAP aborts the process on some masks, and a crash must cost one
case, not the run. Usage: ``python _shiftmap_peer.py IN.npz OUT.npz``; IN holds
``image`` (uint8 RGB) and ``mask`` (bool, True = hole); OUT gets ``result`` (uint8 RGB,
known pixels put back) and ``seconds``.
"""

import sys
import time

import cv2
import numpy as np


def main(source: str, target: str) -> None:
    case = np.load(source)
    image, hole = case["image"], case["mask"]
    # SHIFTMAP wants an intensity-first colour space (its docs suggest CIE Lab) and a
    # mask whose zeros are the hole.
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2Lab)
    valid = np.where(hole, 0, 255).astype(np.uint8)
    out = np.zeros_like(lab)
    start = time.perf_counter()
    cv2.xphoto.inpaint(lab, valid, out, cv2.xphoto.INPAINT_SHIFTMAP)
    seconds = time.perf_counter() - start
    result = cv2.cvtColor(out, cv2.COLOR_Lab2RGB)
    result[~hole] = image[~hole]
    np.savez(target, result=result, seconds=seconds)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
