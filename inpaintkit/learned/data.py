"""Training data for the learned backends: a folder of images, random crops and flips, and
seeded holes from :mod:`inpaintkit.masks` of every kind and ratio bucket.

Every batch is a pure function of ``(seed, step)``, so a run resumed at step ``k`` sees
exactly the batches an uninterrupted run would have seen.

Split: a folder holding ``train/`` and ``val/`` subfolders uses them as they are;
otherwise a fixed fraction of the files (chosen by a permutation that does not depend
on the training seed) is held out for validation.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .. import masks as mask_generators

__all__ = ["IMAGE_SUFFIXES", "InpaintingData", "random_hole", "list_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: Mask kinds drawn for training, with their probabilities: free-form masks of a
#: uniformly drawn ratio bucket (what the benchmarks use), object-shaped holes (a blob
#: or box as :func:`~inpaintkit.masks.object_removal` draws them, and person, car, sign
#: and animal outlines from :func:`~inpaintkit.masks.silhouette`: object removal is
#: what users do most), free brush strokes, rectangles, and thin scratches.
HOLE_KINDS = (("bucket", 0.35), ("object", 0.15), ("silhouette", 0.2), ("free_form", 0.1),
              ("boxes", 0.1), ("thin_strokes", 0.1))

#: Colour jitter of training crops: brightness and contrast factors drawn in
#: 1 +- this, saturation in 1 +- 1.5 x this.
COLOUR_JITTER = 0.15


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def random_hole(size: int, rng: np.random.Generator) -> np.ndarray:
    """One training hole (size, size) bool: a kind drawn from :data:`HOLE_KINDS`, then a
    seeded generator of :mod:`inpaintkit.masks`. Never empty, never all hole."""
    kinds, weights = zip(*HOLE_KINDS)
    kind = kinds[int(rng.choice(len(kinds), p=np.asarray(weights) / sum(weights)))]
    seed = int(rng.integers(0, 2 ** 31 - 1))
    shape = (size, size)
    if kind == "bucket":
        lo, hi = mask_generators.RATIO_BUCKETS[int(rng.integers(len(mask_generators.RATIO_BUCKETS)))]
        hole = mask_generators.in_ratio_bucket(shape, lo, hi, seed=seed)
    elif kind == "free_form":
        hole = mask_generators.free_form(shape, seed=seed)
    elif kind == "object":
        hole = mask_generators.object_removal(shape, seed=seed, ratio=(0.05, 0.4))
    elif kind == "silhouette":
        hole = mask_generators.silhouette(shape, seed=seed, ratio=(0.05, 0.4))
    elif kind == "boxes":
        hole = mask_generators.boxes(shape, seed=seed, count=int(rng.integers(1, 4)),
                                     min_size=0.1, max_size=0.5)
    else:
        hole = mask_generators.thin_strokes(shape, seed=seed, count=int(rng.integers(3, 10)),
                                            max_width=int(rng.integers(2, 6)))
    if not hole.any():
        hole[size // 2, size // 2] = True
    if hole.all():
        hole[0, 0] = False
    return hole


def _read_rgb(path: Path) -> np.ndarray:
    from ..io import read_image

    image = read_image(path)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=2)
    image = image[..., :3]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def _resize_short_side(image: np.ndarray, short: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = short / min(height, width)
    size = (max(short, round(width * scale)), max(short, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(image, size, interpolation=interpolation), 0.0, 1.0)


class InpaintingData:
    """Random crops with holes from a folder of images.

    Parameters
    ----------
    folder : path
        Image files (PNG, JPEG, TIFF...), or ``train/`` and ``val/`` subfolders.
    size : int, default 128
        Side of the square training crops.
    seed : int
        Seeds every batch together with the step number.
    val_fraction : float, default 0.15
        Share of the files held out when there is no ``val/`` subfolder (at least one).
    zoom : (float, float), default (1.0, 3.0)
        Before cropping, an image is resized so its short side is ``zoom * size`` with
        the factor drawn uniformly: at 1 a crop shows the whole picture, as the
        benchmarks' 256-pixel photos do; at 3 it shows a third of it.

    Attributes
    ----------
    train_files, val_files : list of Path
    """

    def __init__(self, folder, *, size: int = 128, seed: int = 0, val_fraction: float = 0.15,
                 zoom: tuple[float, float] = (1.0, 3.0)):
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"training data folder not found: {folder}")
        if not isinstance(size, (int, np.integer)) or size < 32 or size % 16:
            raise ValueError(f"size must be a multiple of 16, at least 32, got {size!r}")
        if not 0 < zoom[0] <= zoom[1]:
            raise ValueError(f"zoom must satisfy 0 < lo <= hi, got {zoom!r}")
        self.size = int(size)
        self.seed = int(seed)
        self.zoom = (float(zoom[0]), float(zoom[1]))
        if (folder / "train").is_dir() and (folder / "val").is_dir():
            self.train_files = list_images(folder / "train")
            self.val_files = list_images(folder / "val")
        else:
            files = list_images(folder)
            if len(files) < 2:
                raise ValueError(f"{folder} holds {len(files)} image file(s); training needs at least 2 "
                                 "(one is held out for validation)")
            if not 0 < val_fraction < 1:
                raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
            # The split must not move with the training seed: a fixed permutation.
            order = np.random.default_rng(20240607).permutation(len(files))
            held = max(1, int(round(val_fraction * len(files))))
            self.val_files = [files[i] for i in sorted(order[:held])]
            self.train_files = [files[i] for i in sorted(order[held:])]
        if not self.train_files:
            raise ValueError(f"no training images found in {folder} ({', '.join(IMAGE_SUFFIXES)})")
        if not self.val_files:
            raise ValueError(f"no validation images found in {folder / 'val'}")
        # Keep each image once, at the largest scale a crop can ask for.
        largest = int(np.ceil(self.zoom[1] * self.size))
        self._train = [self._prescale(_read_rgb(p), largest) for p in self.train_files]
        self._val = [_read_rgb(p) for p in self.val_files]

    @staticmethod
    def _prescale(image, short):
        if min(image.shape[:2]) > short:
            return _resize_short_side(image, short)
        return image

    def describe(self) -> dict:
        return {"train_files": [p.name for p in self.train_files],
                "val_files": [p.name for p in self.val_files],
                "crop": self.size, "zoom": list(self.zoom),
                "holes": {kind: weight for kind, weight in HOLE_KINDS}}

    def _crop(self, image, rng):
        short = max(self.size, int(round(rng.uniform(*self.zoom) * self.size)))
        scaled = _resize_short_side(image, short)
        height, width = scaled.shape[:2]
        top = int(rng.integers(0, height - self.size + 1))
        left = int(rng.integers(0, width - self.size + 1))
        crop = scaled[top:top + self.size, left:left + self.size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return self._jitter(crop, rng)

    @staticmethod
    def _jitter(crop, rng):
        """Random brightness, contrast and saturation (grey images stay grey)."""
        brightness, contrast, saturation = 1 + rng.uniform(-1, 1, 3) * COLOUR_JITTER * np.array([1, 1, 1.5])
        grey = crop @ np.array([0.299, 0.587, 0.114], np.float32)
        out = crop * brightness
        out = (out - out.mean()) * contrast + out.mean()
        grey = grey * brightness
        grey = (grey - grey.mean()) * contrast + grey.mean()
        out = grey[..., None] + (out - grey[..., None]) * saturation
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def batch(self, step: int, batch_size: int):
        """The batch of training step ``step``: images (B, 3, S, S) float32 in [0, 1] and
        holes (B, 1, S, S) float32, 1 = hole; a function of ``(seed, step)`` only."""
        rng = np.random.default_rng([self.seed, int(step)])
        images = np.empty((batch_size, 3, self.size, self.size), np.float32)
        holes = np.empty((batch_size, 1, self.size, self.size), np.float32)
        for i in range(batch_size):
            image = self._train[int(rng.integers(len(self._train)))]
            images[i] = self._crop(image, rng).transpose(2, 0, 1)
            holes[i, 0] = random_hole(self.size, rng)
        return images, holes

    def validation(self, count: int = 12, size: int | None = None):
        """Fixed validation cases: held-out images resized so the short side is ``size``
        (default: the crop size), centre-cropped, with one free-form hole per ratio bucket
        in turn, and every fourth case an object-shaped hole (label ``"object"``). Returns
        a list of (image (S, S, 3) float64, hole (S, S) bool, label)."""
        size = size or self.size
        cases = []
        buckets = mask_generators.RATIO_BUCKETS
        for i in range(count):
            image = _resize_short_side(self._val[i % len(self._val)], size)
            height, width = image.shape[:2]
            top, left = (height - size) // 2, (width - size) // 2
            image = image[top:top + size, left:left + size].astype(np.float64)
            if i % 4 == 3:
                maker = mask_generators.silhouette if i % 8 == 7 else mask_generators.object_removal
                hole = maker((size, size), seed=10_000 + i, ratio=(0.1, 0.3))
                cases.append((image, hole, "object"))
                continue
            lo, hi = buckets[i % len(buckets)]
            hole = mask_generators.in_ratio_bucket((size, size), lo, hi, seed=10_000 + i)
            cases.append((image, hole, mask_generators.bucket_label(lo, hi)))
        return cases
