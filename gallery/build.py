"""Build inpaintkit's comparison gallery: every method on curated cases, as a static site.

Run from the repository root::

    python gallery/build.py                 # -> gallery/out/site/index.html
    python gallery/build.py -o site/ --cases caption,ladybird

The site has an index with thumbnails, a page per case (as ``inpaintkit compare``
writes: sliders, zoomed crops, times, scores where the truth is known) and a summary
page with plots (PSNR and texture ratio against hole ratio per method over the six
ratio buckets; time against image size per method). Methods come from the registry,
so a method added to inpaintkit appears here without editing this file; a method that
fails (e.g. missing weights) shows its one-line error.

Results are cached under ``gallery/out/cache`` keyed by the method, its parameters,
the seed, the inpaintkit version and a hash of the input image and mask, so a rebuild
redoes only what changed (``--no-cache`` redoes everything). The README's picture,
``gallery/strip.png``, is rewritten by each full build.

The cases are made here from scikit-image's sample images and from Debian photos in
``gallery/photos`` (see ``gallery/photos/LICENSES.md``); each page states its licence.
Needs matplotlib for the plots: ``pip install 'inpaintkit[gallery]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent
if str(ROOT.parent) not in sys.path:  # run as a script from a clone without installing
    sys.path.insert(0, str(ROOT.parent))

import inpaintkit  # noqa: E402
from inpaintkit import io, masks, registry, render  # noqa: E402
from inpaintkit.comparison import Comparison, MethodRun, score  # noqa: E402

PHOTOS = ROOT / "photos"
STRIP = ROOT / "strip.png"
STRIP_CASE = "large-holes"

SKIMAGE_CREDITS = {
    "astronaut": "scikit-image sample 'astronaut': Eileen Collins, NASA; public domain",
    "chelsea": "scikit-image sample 'chelsea': CC0 by Stefan van der Walt",
    "coffee": "scikit-image sample 'coffee': CC0 by Rachel Michetti",
    "rocket": "scikit-image sample 'rocket': SpaceX, public domain",
    "camera": "scikit-image sample 'camera': CC0 by Lav Varshney",
    "brick": "scikit-image sample 'brick': CC0 Textures (Bricks25), CC0",
}
DEBIAN_CREDITS = {
    "dune.jpg": "Debian mate-backgrounds 'Dune': 2007 Marco Cogoni, 2008 Hylke Bons; GPL-2+",
    "ladybird.jpg": "Debian mate-backgrounds 'LadyBird': 2008 Charles Barbin; GPL-2+",
    "wood.jpg": "Debian mate-backgrounds 'Wood': 2008 Jean-François Fortin Tam; GPL-2+",
}


@dataclass
class Case:
    """One gallery case: the input as a user would have it, the hole, the truth if known."""

    name: str
    title: str
    description: str
    credit: str
    image: np.ndarray
    mask: np.ndarray
    truth: np.ndarray | None = None
    group: str = "curated"  # "curated", "bucket" (summary plots) or "size" (timing only)
    bucket: str | None = None


# --------------------------------------------------------------------------- the cases

def _skimage(name: str) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(getattr(data, name)())


def _photo(name: str) -> np.ndarray:
    return io.read_image(PHOTOS / name)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=interpolation))


def _square(image: np.ndarray, side: int) -> np.ndarray:
    height, width = image.shape[:2]
    crop = min(height, width)
    top, left = (height - crop) // 2, (width - crop) // 2
    return _resize(image[top:top + crop, left:left + crop], side, side)


def _painted(truth: np.ndarray, hole: np.ndarray, colour=(255, 255, 255)) -> np.ndarray:
    """The input a user would have: the hole's pixels overwritten (so no method, and no
    picture of the input, can show the truth through them)."""
    image = truth.copy()
    image[hole] = colour if image.ndim == 3 else colour[0]
    return image


def case_scratches() -> Case:
    truth = _skimage("astronaut")
    hole = masks.thin_strokes(truth.shape[:2], seed=4, count=14, max_width=3)
    return Case("scratches", "Scratches over a portrait",
                "Fourteen thin curved scratches (1-3 px) across a 512x512 photo: the case for "
                "diffusion.", SKIMAGE_CREDITS["astronaut"],
                _painted(truth, hole, (236, 234, 226)), hole, truth)


def case_caption() -> Case:
    truth = _photo("dune.jpg")
    text = np.zeros(truth.shape[:2], np.uint8)
    for line, (x, y) in (("DUNES, SARDINIA", (28, 318)), ("(c) 2007 photo archive", (30, 362))):
        cv2.putText(text, line, (x, y), cv2.FONT_HERSHEY_DUPLEX, 1.25 if y < 340 else 0.95, 255, 3,
                    cv2.LINE_AA)
    hole = cv2.dilate((text > 40).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=1) > 0
    image = truth.copy()
    image[text > 40] = (250, 250, 250)
    return Case("caption", "A caption burnt into a photo",
                "Two lines of white text over the grass and the sea; the mask is the text "
                "grown by one pixel.", DEBIAN_CREDITS["dune.jpg"], image, hole, truth)


def case_ladybird() -> Case:
    image = _photo("ladybird.jpg")
    hole = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(hole, (450, 208), (37, 33), 0, 0, 360, 1, -1)
    cv2.ellipse(hole, (452, 236), (20, 12), 0, 0, 360, 1, -1)  # legs and head below
    hole = cv2.dilate(hole, np.ones((5, 5), np.uint8), iterations=2) > 0
    return Case("ladybird", "Object removal: a ladybird on a stem",
                "Remove the ladybird: the stem must run on through the hole, the background "
                "stay soft. There is no truth, so there are no scores: judge by eye.",
                DEBIAN_CREDITS["ladybird.jpg"], image, hole, None)


def case_tower() -> Case:
    image = _skimage("camera")
    hole = np.zeros(image.shape[:2], np.uint8)
    tower = np.array([[404, 196], [404, 128], [414, 116], [424, 108], [436, 116], [446, 130],
                      [446, 196]], np.int32)
    cv2.fillPoly(hole, [tower], 1)
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8), iterations=2) > 0
    return Case("tower", "Object removal: a tower on the skyline (grey photo)",
                "Remove the white tower behind the photographer: sky above, a low building "
                "line below. A grey image; learned methods see it as RGB.",
                SKIMAGE_CREDITS["camera"], image, hole, None)


def case_large_holes() -> Case:
    truth = _skimage("chelsea")
    hole = masks.in_ratio_bucket(truth.shape[:2], 0.3, 0.4, seed=11)
    return Case("large-holes", "Large free-form holes over a cat",
                "Free-form strokes covering 30-40 % of the photo, the hardest standard bucket "
                "shown here.", SKIMAGE_CREDITS["chelsea"], _painted(truth, hole), hole, truth)


def case_facade() -> Case:
    brick = np.ascontiguousarray(np.rot90(_skimage("brick")))  # courses horizontal
    source = np.float32([[0, 0], [511, 0], [511, 511], [0, 511]])
    target = np.float32([[-40, -90], [560, 10], [560, 374], [-40, 474]])
    warp = cv2.getPerspectiveTransform(source, target)
    truth = cv2.warpPerspective(brick, warp, (512, 384), flags=cv2.INTER_CUBIC,
                                borderMode=cv2.BORDER_REFLECT)
    truth = np.stack([truth] * 3, axis=2)
    tint = np.float32([1.0, 0.82, 0.7])  # brick red
    truth = np.clip(truth.astype(np.float32) * tint, 0, 255).astype(np.uint8)
    hole = np.zeros(truth.shape[:2], bool)
    hole[130:250, 200:330] = True
    return Case("facade", "A brick wall in perspective",
                "A 120x130 px sign removed from a brick wall whose courses converge to the "
                "right: the fill must continue the slanted mortar lines.",
                SKIMAGE_CREDITS["brick"] + " (warped in perspective and tinted here)",
                _painted(truth, hole, (40, 40, 40)), hole, truth)


def case_texture() -> Case:
    truth = _photo("wood.jpg")
    hole = masks.object_removal(truth.shape[:2], seed=5, ratio=(0.12, 0.18))
    return Case("texture", "Wood grain texture",
                "A compact 12-18 % hole in weathered planks: the grain and a plank joint "
                "must continue.", DEBIAN_CREDITS["wood.jpg"], _painted(truth, hole), hole, truth)


CURATED = {
    "scratches": case_scratches,
    "caption": case_caption,
    "ladybird": case_ladybird,
    "tower": case_tower,
    "large-holes": case_large_holes,
    "facade": case_facade,
    "texture": case_texture,
}

#: Photos of the hole-ratio benchmark (one free-form mask per bucket each), 256x256.
BUCKET_PHOTOS = ("coffee", "rocket")
#: Widths of the timing series (coffee, 3:2), for the time-against-size plot.
SIZE_WIDTHS = (192, 384, 768, 1152)


def bucket_cases() -> list[Case]:
    cases = []
    for index, photo in enumerate(BUCKET_PHOTOS):
        truth = _square(_skimage(photo), 256)
        for number, (low, high) in enumerate(masks.RATIO_BUCKETS):
            hole = masks.in_ratio_bucket((256, 256), low, high, seed=100 * number + index)
            label = masks.bucket_label(low, high)
            cases.append(Case(f"bucket-{number + 1}-{photo}", f"{photo}, hole ratio {label}",
                              f"Free-form hole covering {100 * hole.mean():.1f} % of a 256x256 "
                              f"crop (bucket {label}).", SKIMAGE_CREDITS[photo],
                              _painted(truth, hole), hole, truth, group="bucket", bucket=label))
    return cases


def size_cases() -> list[Case]:
    photo = _skimage("coffee")
    cases = []
    for width in SIZE_WIDTHS:
        height = width * 2 // 3
        truth = _resize(photo, width, height)
        base = masks.object_removal((400, 600), seed=3, ratio=(0.1, 0.12)).view(np.uint8)
        hole = cv2.resize(base, (width, height), interpolation=cv2.INTER_NEAREST) > 0
        cases.append(Case(f"size-{width}", f"coffee {width}x{height}", "",
                          SKIMAGE_CREDITS["coffee"], _painted(truth, hole), hole, truth,
                          group="size"))
    return cases


# ---------------------------------------------------------------------- cached compare

def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def cache_key(method: str, params: dict, seed: int, image: np.ndarray, hole: np.ndarray, *,
              repeat: int = 1, threads: int | None = None) -> str:
    """Method + parameters + seed + inpaintkit version + input and mask bytes (+ the
    number of timed repeats and the thread count, which change the time stored)."""
    recipe = {"method": method, "params": params, "seed": seed, "version": inpaintkit.__version__}
    if repeat != 1:
        recipe["repeat"] = repeat
    if threads is not None:
        recipe["threads"] = threads
    recipe = json.dumps(recipe, sort_keys=True, default=repr)
    return hashlib.sha256((recipe + _digest(image, hole)).encode()).hexdigest()[:32]


def weights_digest(path: Path) -> str:
    """A hash of a weights file (or of every file in a weights folder), for cache keys."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


Entry = tuple  # (row name, registered method, params): see inpaintkit.comparison


def run_case(case: Case, methods: list, cache: Path | None, *, seed: int = 0,
             repeat: int = 1, threads: int | None = None, digests: dict | None = None,
             log=print) -> tuple[Comparison, int]:
    """Compare ``methods`` on ``case``, taking results from ``cache`` where present.

    ``methods`` holds method names or (name, method, params) entries; ``digests`` maps
    a weights path to its :func:`weights_digest`, so new weights at the same path
    miss the cache. Returns the comparison and how many methods actually ran.
    """
    entries = [item if isinstance(item, tuple) else (item, item, {}) for item in methods]
    digests = digests or {}
    cached: dict[str, MethodRun] = {}
    keys = {}
    for name, method, params in entries:
        keyed = {key: (f"{value} ({digests[value]})" if isinstance(value, str) and value in digests
                       else value) for key, value in params.items()}
        keys[name] = cache_key(method, keyed, seed, case.image, case.mask, repeat=repeat,
                               threads=threads)
    if cache is not None:
        for name, method, params in entries:
            path = cache / f"{keys[name]}.npz"
            if path.is_file():
                with np.load(path) as stored:
                    run = MethodRun(method=method, kind=registry.get(method).kind, params=params,
                                    result=stored["result"], seconds=float(stored["seconds"]),
                                    name=name)
                if case.truth is not None:
                    run.scores = score(case.truth, run.result, case.mask)
                cached[name] = run
    missing = [entry for entry in entries if entry[0] not in cached]
    fresh: dict[str, MethodRun] = {}
    if missing:
        def progress(name, stage, done, total):
            if stage in ("end", "failed"):
                log(f"    {name:<12} {'done' if stage == 'end' else 'FAILED'}")

        comparison = inpaintkit.compare(case.image, case.mask, methods=missing, truth=case.truth,
                                        seed=seed, repeat=repeat, progress=progress)
        for run in comparison.rows:
            fresh[run.name] = run
            if cache is not None and run.ok:  # failures are cheap: always retried
                cache.mkdir(parents=True, exist_ok=True)
                target = cache / f"{keys[run.name]}.npz"
                temporary = target.with_suffix(".tmp.npz")
                np.savez_compressed(temporary, result=run.result, seconds=run.seconds)
                temporary.replace(target)
    rows = [cached.get(name) or fresh[name] for name, _, _ in entries]
    hole = case.mask.astype(bool)
    return Comparison(image=case.image, mask=hole, truth=case.truth, rows=rows), len(missing)


# ---------------------------------------------------------------------------- the site

def _thumbnail(case: Case, path: Path) -> None:
    view = render.masked_view(case.image, case.mask)
    height = 200
    width = int(round(view.shape[1] * height / view.shape[0]))
    io.write_image(path, cv2.resize(view[..., :3], (width, height), interpolation=cv2.INTER_AREA))


def _case_notes(case: Case) -> str:
    import html

    return (f"{html.escape(case.description)}<br><span class=\"credits\">Image: "
            f"{html.escape(case.credit)}.</span>")


def _summary_plots(records: list[dict], site: Path, kinds: dict[str, str]) -> list[tuple[str, str]]:
    """Write the three plots into ``site``; ``kinds``: row name -> "classical"/"learned"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    buckets = [masks.bucket_label(lo, hi) for lo, hi in masks.RATIO_BUCKETS]
    centres = [100 * (lo + hi) / 2 for lo, hi in masks.RATIO_BUCKETS]
    styles = {}
    cmap = plt.get_cmap("tab10")
    methods = list(kinds)
    for index, name in enumerate(methods):
        kind = kinds[name]
        classical = kind == "classical"
        styles[name] = {"color": cmap(index % 10), "linestyle": "-" if classical else "--",
                        "marker": "o" if classical else "s"}
    for metric, heading, filename, note in (
            ("psnr", "PSNR over the hole (dB)", "psnr-vs-hole.png", "higher is better"),
            ("texture", "texture ratio (fill detail / truth detail)", "texture-vs-hole.png",
             "1 = as detailed as the truth")):
        figure, axes = plt.subplots(figsize=(7.2, 4.4), dpi=110)
        for name in methods:
            xs, ys = [], []
            for centre, bucket in zip(centres, buckets):
                values = [r[metric] for r in records
                          if r["group"] == "bucket" and r["bucket"] == bucket
                          and r["method"] == name and r.get(metric) is not None
                          and math.isfinite(r[metric])]
                if values:
                    xs.append(centre)
                    ys.append(float(np.mean(values)))
            if xs:
                axes.plot(xs, ys, label=name, linewidth=1.8, markersize=5, **styles[name])
        if metric == "texture":
            axes.axhline(1.0, color="0.4", linewidth=1, linestyle=":")
        axes.set_xticks(centres, buckets)
        axes.set_xlabel("hole ratio bucket (% of the image)")
        axes.set_ylabel(heading)
        axes.set_title(f"{heading.split(' (')[0]} against hole ratio ({note}); "
                       f"mean of {len(BUCKET_PHOTOS)} photos", fontsize=10)
        axes.grid(True, color="0.9")
        axes.legend(fontsize=8, ncol=2, frameon=False)
        figure.tight_layout()
        figure.savefig(site / filename)
        plt.close(figure)
        plots.append((filename, f"{heading} against the hole ratio, per method "
                                f"(solid: classical, dashed: learned)"))

    figure, axes = plt.subplots(figsize=(7.2, 4.4), dpi=110)
    for name in methods:
        points = sorted((r["pixels"], r["seconds"]) for r in records
                        if r["group"] == "size" and r["method"] == name and r.get("seconds"))
        if points:
            axes.plot(*zip(*points), label=name, linewidth=1.8, markersize=5, **styles[name])
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("image size (pixels)")
    axes.set_ylabel("time (s)")
    axes.set_title("Time against image size (about 11 % hole; lower is better)", fontsize=10)
    axes.grid(True, which="both", color="0.92")
    axes.legend(fontsize=8, ncol=2, frameon=False)
    figure.tight_layout()
    figure.savefig(site / "time-vs-size.png")
    plt.close(figure)
    plots.append(("time-vs-size.png", "Time against image size per method, log scales "
                                      "(CPU, Numba and torch on one thread unless --threads "
                                      "says otherwise; best of two runs after a warm-up: no "
                                      "compilation or model loading)"))
    return plots


def _bucket_table(records: list[dict], kinds: dict[str, str]) -> str:
    methods = list(kinds)
    buckets = [masks.bucket_label(lo, hi) for lo, hi in masks.RATIO_BUCKETS]
    head = "".join(f"<th>{b}</th>" for b in buckets)
    lines = ['<table class="scores"><thead><tr><th>method</th><th class="kind">kind</th>'
             f"{head}</tr></thead><tbody>"]
    best = {}
    for bucket in buckets:
        means = {}
        for name in methods:
            values = [r["psnr"] for r in records
                      if r["group"] == "bucket" and r["bucket"] == bucket and r["method"] == name
                      and r.get("psnr") is not None and math.isfinite(r["psnr"])]
            if values:
                means[name] = float(np.mean(values))
        best[bucket] = means
    for name in methods:
        cells = []
        for bucket in buckets:
            value = best[bucket].get(name)
            top = max(best[bucket].values()) if best[bucket] else None
            css = ' class="best"' if value is not None and value == top else ""
            cells.append(f"<td{css}>{'&ndash;' if value is None else f'{value:.2f}'}</td>")
        lines.append(f"<tr><td>{name}</td><td class=\"kind\">{kinds[name]}</td>"
                     f"{''.join(cells)}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def set_threads(threads: int) -> None:
    """Limit Numba's and (when installed) torch's threads: on a machine shared with other
    jobs, fewer threads than cores give steadier times (torch's thread pool degrades
    badly when its cores are busy)."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def build(out: Path, *, cases: list[str] | None = None, methods: list[str] | None = None,
          cache: Path | None, seed: int = 0, summary: bool = True, threads: int | None = None,
          weights: list[tuple[str, Path]] = (), log=print) -> Path:
    """Build the site into ``out``; returns the index page's path.

    ``weights``: (method, path) pairs, each adding a row ``"METHOD (file stem)"`` that
    runs the method with those weights (e.g. a published release), beside the row
    with the shipped ones.
    """
    import html

    if threads is not None:
        set_threads(threads)
    started = time.perf_counter()
    # The README's strip is the full default build's: a partial build leaves it alone.
    full_build = cases is None and methods is None and not weights
    methods = list(methods or registry.names())
    digests = {}
    for method, path in weights:
        registry.get(method)
        digests[str(path)] = weights_digest(path)
        methods.append((f"{method} ({Path(path).stem})", method, {"weights": str(path)}))
    kinds = {(item[0] if isinstance(item, tuple) else item):
             registry.get(item[1] if isinstance(item, tuple) else item).kind for item in methods}
    out.mkdir(parents=True, exist_ok=True)
    render.copy_static(out)
    (out / "thumbs").mkdir(exist_ok=True)
    chosen = list(CURATED) if cases is None else cases
    unknown = [name for name in chosen if name not in CURATED]
    if unknown:
        raise SystemExit(f"build.py: error: unknown case {unknown[0]!r}; "
                         f"cases: {', '.join(CURATED)}")
    all_cases = [CURATED[name]() for name in chosen]
    if summary:
        all_cases += bucket_cases() + size_cases()

    pages = [case.name for case in all_cases if case.group != "size"]
    records, cards, bucket_cards = [], [], []
    ran_total = 0
    for number, case in enumerate(all_cases, 1):
        log(f"[{number}/{len(all_cases)}] {case.name} "
            f"({case.image.shape[1]}x{case.image.shape[0]}, "
            f"{100 * case.mask.mean():.1f} % hole)")
        # The timing series takes the best of two runs: steadier on a busy machine.
        comparison, ran = run_case(case, methods, cache, seed=seed, threads=threads,
                                   digests=digests, repeat=2 if case.group == "size" else 1,
                                   log=log)
        ran_total += ran
        for row in comparison.rows:
            records.append({"case": case.name, "group": case.group, "bucket": case.bucket,
                            "pixels": int(case.mask.size), "method": row.name,
                            "seconds": row.seconds, "error": row.error, **row.scores})
        if case.group == "size":
            continue
        page_dir = out / "cases" / case.name
        nav = [("gallery", "../../index.html"), ("summary", "../../summary.html")]
        position = pages.index(case.name)
        if position > 0:
            nav.append(("\u2190 previous case", f"../{pages[position - 1]}/index.html"))
        if position + 1 < len(pages):
            nav.append(("next case \u2192", f"../{pages[position + 1]}/index.html"))
        render.write_page(comparison, page_dir, title=case.title, static="../../static", nav=nav,
                          notes=_case_notes(case))
        _thumbnail(case, out / "thumbs" / f"{case.name}.png")
        ok = [row for row in comparison.rows if row.ok]
        best = comparison.best().get("psnr", [])
        facts = (f"{case.image.shape[1]}&times;{case.image.shape[0]}, "
                 f"{100 * case.mask.mean():.1f} % hole"
                 + (f"; best PSNR: {html.escape(', '.join(best))}" if best else "; no truth")
                 + (f"; {len(comparison.rows) - len(ok)} failed"
                    if len(ok) < len(comparison.rows) else ""))
        card = (f'<a class="thumb" href="cases/{case.name}/index.html">'
                f'<img src="thumbs/{case.name}.png" alt="{html.escape(case.title)}">'
                f"<strong>{html.escape(case.title)}</strong><span>{facts}</span></a>")
        (cards if case.group == "curated" else bucket_cards).append(card)
        if case.name == STRIP_CASE and full_build:
            strip = render.comparison_strip(comparison, height=150, columns=5)
            io.write_image(STRIP, strip)
            log(f"    wrote {STRIP}")

    (out / "records.json").write_text(json.dumps(records, indent=1, default=float))
    credits = sorted({case.credit for case in all_cases})
    body = ['<p class="note">Every method of inpaintkit on the same holes, classical and learned '
            '(the learned ones with the small weights that ship with inpaintkit, trained on a CPU; '
            'see their model cards). Open a case to compare the results with sliders and zoomed '
            'crops. <a href="summary.html">The summary</a> plots quality against hole size and '
            'time against image size.</p>',
            "<h2>Curated cases</h2>", f'<div class="thumbs">{"".join(cards)}</div>']
    if bucket_cards:
        body += ["<h2>Hole-ratio benchmark</h2>",
                 '<p class="note">The six standard hole-ratio buckets on two photos; these feed '
                 'the summary plots.</p>', f'<div class="thumbs">{"".join(bucket_cards)}</div>']
    body += ["<h2>Image credits</h2>", '<ul class="credits">'
             + "".join(f"<li>{html.escape(c)}</li>" for c in credits) + "</ul>"]
    index = out / "index.html"
    render.write_text(index, render.site_html(
        title="inpaintkit gallery", body="\n".join(body), static="static",
        subtitle=f"{len(methods)} methods on {len(cards) + len(bucket_cards)} cases",
        nav=[("summary", "summary.html")]))

    if summary:
        plots = _summary_plots(records, out, kinds)
        figures = "".join(f'<figure><img src="{name}" alt="{html.escape(caption)}">'
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                          for name, caption in plots)
        failed: dict[tuple[str, str], list[str]] = {}
        for r in records:
            if r["error"]:
                failed.setdefault((r["method"], r["error"]), []).append(r["case"])
        failures = "".join(f"<li><strong>{html.escape(m)}</strong> on {html.escape(', '.join(c))}: "
                           f"{html.escape(e)}</li>" for (m, e), c in sorted(failed.items()))
        body = ['<p class="note">Scores are over the hole pixels, as on the case pages. '
                'Times were taken on the CPU of the machine that built this page, after a '
                'warm-up call (no compilation or model loading); the time series takes the '
                'best of two runs.</p>',
                f'<div class="plots">{figures}</div>',
                "<h2>Mean PSNR (dB) per hole-ratio bucket</h2>", _bucket_table(records, kinds)]
        if failures:
            body += ["<h2>Methods that failed</h2>", f'<ul class="credits">{failures}</ul>']
        render.write_text(out / "summary.html", render.site_html(
            title="inpaintkit gallery: summary", body="\n".join(body), static="static",
            subtitle=f"{len(methods)} methods, {len(BUCKET_PHOTOS) * len(masks.RATIO_BUCKETS)} "
                     "hole-ratio cases, "
                     f"{len(SIZE_WIDTHS)} image sizes",
            nav=[("gallery", "index.html")]))
    log(f"built {index} in {time.perf_counter() - started:.0f} s ({ran_total} method runs, "
        f"the rest from the cache)")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "out" / "site",
                        help="site folder (default: gallery/out/site)")
    parser.add_argument("--cases", help=f"comma-separated curated cases (default all: "
                                        f"{', '.join(CURATED)})")
    parser.add_argument("--methods", help="comma-separated methods (default: every registered one)")
    parser.add_argument("--no-summary", action="store_true",
                        help="skip the hole-ratio and timing series and the summary page")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "cache",
                        help="result cache folder (default: gallery/out/cache)")
    parser.add_argument("--no-cache", action="store_true", help="recompute every result")
    parser.add_argument("--weights", action="append", default=[], metavar="METHOD=PATH",
                        help="also run METHOD with these weights (e.g. a published release), "
                             "as its own row; repeatable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for Numba and torch (default 1: steady, comparable times, "
                             "and no thread contention on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    methods = None
    if args.methods:
        methods = [name.strip() for name in args.methods.split(",") if name.strip()]
        try:
            for name in methods:
                registry.get(name)
        except ValueError as exc:
            parser.error(str(exc))
    if not args.no_summary:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("the summary plots need matplotlib: pip install 'inpaintkit[gallery]' "
                         "(or pass --no-summary)")
    weights = []
    for item in args.weights:
        method, sep, path = item.partition("=")
        if not sep or not method.strip() or not path.strip():
            parser.error(f"--weights must look like METHOD=PATH, got {item!r}")
        try:
            registry.get(method.strip())
        except ValueError as exc:
            parser.error(str(exc))
        if not Path(path).exists():
            parser.error(f"--weights {method}: no such file or folder: {path}")
        weights.append((method.strip(), Path(path)))
    cases = [name.strip() for name in args.cases.split(",")] if args.cases else None
    index = build(args.out, cases=cases, methods=methods,
                  cache=None if args.no_cache else args.cache, seed=args.seed,
                  summary=not args.no_summary, threads=args.threads, weights=weights)
    print(f"open {index.resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
