"""Rebuild the training set of inpaintkit's shipped weights.

Sources (nothing is downloaded except the Debian package, through apt):

1. scikit-image's bundled photos and textures (``skimage.data``, BSD-3-Clause / public
   domain / CC0 as listed in skimage/data/README.txt), EXCEPT the benchmark photos
   astronaut, coffee, chelsea and rocket (``bench/_common.py`` PHOTOS).
2. The photographs of Debian's ``mate-backgrounds`` package (GPL-2+, see
   /usr/share/doc/mate-backgrounds/copyright inside the package), fetched with
   ``apt-get download`` and unpacked with ``dpkg-deb -x`` (no installation, no root
   needed beyond what apt-get download needs). Skipped with a note when apt is not
   available (``--no-debian``).

Layout written: ``OUT/train/*.png`` and ``OUT/val/*.png`` (held-out validation images:
camera, and two of the MATE photos), plus ``OUT/SOURCES.md`` listing every file with its
origin and licence. Large images are downscaled so the short side is at most 512.

Usage: ``python scripts/build_training_set.py OUT [--no-debian]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCHMARK = {"astronaut", "coffee", "chelsea", "rocket"}

#: name -> loader returning an image; all are files inside the scikit-image wheel.
SKIMAGE = {
    "brick": lambda d: d.brick(),
    "camera": lambda d: d.camera(),
    "coins": lambda d: d.coins(),
    "grass": lambda d: d.grass(),
    "gravel": lambda d: d.gravel(),
    "moon": lambda d: d.moon(),
    "page": lambda d: d.page(),
    "cell": lambda d: d.cell(),
    "hubble_deep_field": lambda d: d.hubble_deep_field(),
    "immunohistochemistry": lambda d: d.immunohistochemistry(),
    "retina": lambda d: d.retina(),
    "microaneurysms": lambda d: d.microaneurysms(),
    "motorcycle_left": lambda d: d.stereo_motorcycle()[0],
    "motorcycle_right": lambda d: d.stereo_motorcycle()[1],
}

MATE_PACKAGE = "mate-backgrounds"
#: Photographs in the package (the rest are synthetic stripes and gradients).
MATE_PHOTOS = ("nature/Aqua.jpg", "nature/Blinds.jpg", "nature/Dune.jpg", "nature/FreshFlower.jpg",
               "nature/Garden.jpg", "nature/GreenMeadow.jpg", "nature/LadyBird.jpg",
               "nature/RainDrops.jpg", "nature/Storm.jpg", "nature/TwoWings.jpg",
               "nature/Wood.jpg", "nature/YellowFlower.jpg", "desktop/GreenTraditional.jpg",
               "abstract/Elephants.jpg")
VALIDATION = {"camera", "mate_YellowFlower", "mate_Wood"}
MAX_SHORT_SIDE = 512


def _save(image: np.ndarray, path: Path) -> None:
    import cv2

    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255 if image.max() <= 1.0 else image), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    short = min(image.shape[:2])
    if short > MAX_SHORT_SIDE:
        scale = MAX_SHORT_SIDE / short
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = image[..., ::-1]  # cv2 writes BGR
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def _target(out: Path, name: str) -> Path:
    return out / ("val" if name in VALIDATION else "train") / f"{name}.png"


def add_skimage(out: Path, sources: list[str]) -> None:
    from skimage import data

    for name, loader in SKIMAGE.items():
        assert name not in BENCHMARK
        _save(np.asarray(loader(data)), _target(out, name))
        sources.append(f"| {name} | scikit-image {__import__('skimage').__version__} skimage.data "
                       "(bundled in the wheel) | see skimage/data/README.txt (BSD-3 / CC0 / public domain) |")


def add_mate(out: Path, sources: list[str]) -> bool:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        print("apt-get/dpkg-deb not available: skipping the MATE photographs", file=sys.stderr)
        return False
    import imageio.v3 as iio

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = subprocess.run(["apt-get", "download", MATE_PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = list(tmp.glob(f"{MATE_PACKAGE}_*.deb"))
        if not debs:
            print(f"apt-get download {MATE_PACKAGE} failed (run apt-get update first?): "
                  f"{result.stderr.strip()[-300:]}", file=sys.stderr)
            return False
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp / "root")], check=True)
        root = tmp / "root" / "usr/share/backgrounds/mate"
        shutil.copy(tmp / "root/usr/share/doc/mate-backgrounds/copyright", out / "mate-backgrounds.copyright")
        for relative in MATE_PHOTOS:
            path = root / relative
            if not path.exists():
                print(f"missing in the package: {relative}", file=sys.stderr)
                continue
            name = "mate_" + path.stem
            _save(np.asarray(iio.imread(path)), _target(out, name))
            sources.append(f"| {name} | Debian package {debs[0].name}, {relative} | GPL-2+ "
                           "(mate-backgrounds.copyright) |")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-debian", action="store_true", help="scikit-image images only")
    args = parser.parse_args(argv)
    out = args.out
    for sub in ("train", "val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    sources = ["| file | origin | licence |", "|---|---|---|"]
    add_skimage(out, sources)
    if not args.no_debian:
        add_mate(out, sources)
    (out / "SOURCES.md").write_text("# Training images\n\nBenchmark photos (astronaut, coffee, chelsea, "
                                    "rocket) are excluded.\n\n" + "\n".join(sources) + "\n")
    counts = {sub: len(list((out / sub).glob("*.png"))) for sub in ("train", "val")}
    print(f"wrote {counts['train']} training and {counts['val']} validation images to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
