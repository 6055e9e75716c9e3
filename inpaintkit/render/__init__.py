"""Render a comparison table and its images as a static, self-contained HTML page.

Used by ``inpaintkit compare``, the gallery (``gallery/build.py``) and the web UI. The
page needs no network: its CSS and JavaScript (``static/`` beside this module) are
copied next to it, and every image is a local file. The before/after slider is an
``<input type=range>`` driving a CSS ``clip-path``.

Two levels of API:

- :func:`write_page` takes a :class:`~inpaintkit.comparison.Comparison` and writes a
  folder: ``index.html``, ``images/`` (PNG) and ``static/``.
- :func:`page_html` takes the table (list of row dicts, as
  :meth:`Comparison.table` gives them) and the image URLs, and returns the HTML, for
  callers that serve images themselves (the web UI). :func:`copy_static` or
  :data:`STATIC_DIR` give the CSS and JS; :func:`site_html` wraps any body in the same
  page shell (the gallery's index and summary pages).

>>> import numpy as np, inpaintkit, tempfile
>>> from inpaintkit import render
>>> image = np.full((32, 32, 3), 90, np.uint8); hole = np.zeros((32, 32), bool)
>>> hole[10:20, 10:20] = True
>>> comparison = inpaintkit.compare(image, hole, methods=["diffusion"], warm_up=False)
>>> page = render.write_page(comparison, tempfile.mkdtemp())
>>> page.name
'index.html'
"""

from __future__ import annotations

import html
import math
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .._image import check_image

__all__ = [
    "STATIC_DIR",
    "PageImages",
    "page_html",
    "site_html",
    "write_page",
    "write_images",
    "copy_static",
    "write_text",
    "crop_box",
    "display_image",
    "masked_view",
    "comparison_strip",
]

#: The CSS and JavaScript every page links to; copy it beside the page (copy_static).
STATIC_DIR = Path(__file__).resolve().parent / "static"
_TEMPLATE = Path(__file__).resolve().parent / "page.html"

#: Colour the hole is painted with in the "input" views (magenta, rarely in photos).
HOLE_COLOUR = (255, 0, 255)


@dataclass
class PageImages:
    """URLs (relative to the page, or absolute paths on a server) of a page's images.

    Attributes
    ----------
    masked : str
        The input with its hole painted.
    results : dict
        Row name (the method's, or its label) -> the filled image.
    crops : dict
        Row name -> the zoomed crop of the filled image around the hole.
    masked_crop : str
        The same crop of the masked input.
    truth, truth_crop : str, optional
        The complete image and its crop, when known.
    """

    masked: str
    results: dict[str, str] = field(default_factory=dict)
    crops: dict[str, str] = field(default_factory=dict)
    masked_crop: str | None = None
    truth: str | None = None
    truth_crop: str | None = None


# ----------------------------------------------------------------------------- images

def display_image(image: np.ndarray) -> np.ndarray:
    """Any contract image as 8-bit for display: uint8 (H, W), (H, W, 3) or (H, W, 4)."""
    image = check_image(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.rint(image / 257.0).astype(np.uint8)
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def masked_view(image: np.ndarray, mask: np.ndarray, *, opacity: float = 0.6) -> np.ndarray:
    """The input as a user sees the problem: 8-bit RGB(A), the hole tinted magenta.

    ``opacity`` 1 paints the hole solid; below 1 the defect (a caption, an object)
    stays visible under the tint.
    """
    shown = display_image(image)
    if shown.ndim == 2:
        shown = np.stack([shown] * 3, axis=2)
    shown = shown.copy()
    hole = np.asarray(mask, bool)
    colour = np.array(HOLE_COLOUR, np.float64)
    rgb = shown[..., :3].astype(np.float64)
    rgb[hole] = (1.0 - opacity) * rgb[hole] + opacity * colour
    shown[..., :3] = np.rint(rgb).astype(np.uint8)
    if shown.shape[2] == 4:
        shown[..., 3][hole] = 255
    return shown


def crop_box(mask: np.ndarray, *, min_side: int = 64,
             margin: float = 0.35) -> tuple[int, int, int, int]:
    """A square-ish window over the most telling part of the hole: ``(top, left, height, width)``.

    The window is centred on the connected hole region that holds the pixel farthest
    from any known pixel (where methods differ most), padded by ``margin`` of its
    size, at least ``min_side`` pixels a side and at most half the image side (unless
    the image is smaller), clipped to the image.
    """
    import cv2
    from scipy import ndimage

    hole = np.asarray(mask, bool)
    height, width = hole.shape
    if not hole.any():
        side = min(height, width)
        return (height - side) // 2, (width - side) // 2, side, side
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, 3)
    deep_y, deep_x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    labels, _ = ndimage.label(hole)
    rows, cols = np.nonzero(labels == labels[deep_y, deep_x])
    cy, cx = (rows.min() + rows.max()) / 2.0, (cols.min() + cols.max()) / 2.0
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    side = int(round(extent * (1.0 + 2.0 * margin)))
    cap = max(min_side, min(height, width) // 2)
    side = max(min_side, min(side, cap))
    if side > cap:  # a small hole whose padded box would be most of the picture
        cy, cx = float(deep_y), float(deep_x)
    box_h, box_w = min(side, height), min(side, width)
    top = int(np.clip(round(cy - box_h / 2.0), 0, height - box_h))
    left = int(np.clip(round(cx - box_w / 2.0), 0, width - box_w))
    return top, left, box_h, box_w


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, box_h, box_w = box
    return np.ascontiguousarray(image[top:top + box_h, left:left + box_w])


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def write_images(comparison, folder, *, prefix: str = "images") -> PageImages:
    """Write a comparison's images as PNG under ``folder/prefix`` and return their URLs.

    Written: ``masked.png`` (hole tinted), ``truth.png`` when known, one
    ``result-<method>.png`` per successful method, and the zoomed crops
    ``crop-*.png`` (see :func:`crop_box`). Every write is atomic.
    """
    from .. import io

    folder = Path(folder)
    (folder / prefix).mkdir(parents=True, exist_ok=True)
    box = crop_box(comparison.mask)

    def save(name: str, image: np.ndarray) -> str:
        io.write_image(folder / prefix / name, image)
        return f"{prefix}/{name}"

    masked = masked_view(comparison.image, comparison.mask)
    urls = PageImages(masked=save("masked.png", masked),
                      masked_crop=save("crop-masked.png", _crop(masked, box)))
    if comparison.truth is not None:
        truth = display_image(comparison.truth)
        urls.truth = save("truth.png", truth)
        urls.truth_crop = save("crop-truth.png", _crop(truth, box))
    for row in comparison.rows:
        if row.result is None:
            continue
        shown = display_image(row.result)
        urls.results[row.name] = save(f"result-{_slug(row.name)}.png", shown)
        urls.crops[row.name] = save(f"crop-{_slug(row.name)}.png", _crop(shown, box))
    return urls


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file beside it, then rename."""
    import os
    import tempfile

    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_name, 0o666 & ~umask)
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise
    return path


def copy_static(folder) -> Path:
    """Copy the pages' CSS and JavaScript into ``folder/static``; return that folder."""
    target = Path(folder) / "static"
    target.mkdir(parents=True, exist_ok=True)
    for source in STATIC_DIR.iterdir():
        if source.is_file():
            shutil.copyfile(source, target / source.name)
    return target


# ------------------------------------------------------------------------------- HTML

def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if math.isinf(value):
        return "&infin;"
    if column == "seconds":
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if column == "psnr":
        return f"{value:.2f}"
    if column == "l1":
        return f"{value:.4f}"
    return f"{value:.3f}"


def _params_text(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    return ", ".join(f"{key}={value!r}" for key, value in params.items()
                     if not isinstance(value, np.ndarray))


def site_html(*, title: str, body: str, subtitle: str = "", static: str = "static",
              nav: Sequence[tuple[str, str]] = ()) -> str:
    """Wrap ``body`` (HTML) in the page shell shared by every inpaintkit page.

    Parameters
    ----------
    title, subtitle : str
        Plain text (escaped here).
    body : str
        HTML, inserted as is.
    static : str
        URL of the folder holding ``inpaintkit.css`` and ``slider.js``.
    nav : sequence of (label, href)
        Links shown above the title.
    """
    from .. import __version__

    links = "".join(f'<a href="{_esc(href)}">{_esc(label)}</a>' for label, href in nav)
    template = string.Template(_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        title=_esc(title), subtitle=_esc(subtitle), static=_esc(static.rstrip("/")),
        nav=f'<nav class="crumbs">{links}</nav>' if links else "", body=body,
        version=_esc(__version__),
    )


def _table_html(table: list[Mapping[str, Any]], has_truth: bool) -> str:
    from ..comparison import METRICS, best_methods

    best = best_methods(table)
    metric_columns = list(METRICS) if has_truth else []
    head = ["<th>method</th>", "<th class=\"kind\">kind</th>", "<th>time (s)</th>"]
    head += [f"<th>{_esc(METRICS[name][0])}</th>" for name in metric_columns]
    lines = ['<table class="scores">', "<thead><tr>" + "".join(head) + "</tr></thead>", "<tbody>"]
    for row in table:
        method = row.get("name") or row["method"]
        name_cell = f'<td><a href="#m-{_esc(_slug(method))}">{_esc(method)}</a></td>'
        kind_cell = f'<td class="kind">{_esc(row.get("kind", ""))}</td>'
        if row.get("error"):
            span = 1 + len(metric_columns)
            lines.append(f'<tr class="failed" data-method="{_esc(method)}">{name_cell}{kind_cell}'
                         f'<td class="error" colspan="{span}">failed: {_esc(row["error"])}'
                         '</td></tr>')
            continue
        cells = []
        for column in ["seconds", *metric_columns]:
            marked = method in best.get(column, ())
            css = ' class="best"' if marked else ""
            cells.append(f'<td{css} data-column="{column}">{_number(row.get(column), column)}</td>')
        lines.append(f'<tr data-method="{_esc(method)}">{name_cell}{kind_cell}'
                     f'{"".join(cells)}</tr>')
    lines.append("</tbody></table>")
    legend = ("&#9733; marks the best value of each column. Scores are over the hole pixels: "
              "PSNR and SSIM higher is better, L1 lower is better, texture ratio (detail in the "
              "fill over detail in the truth) closest to 1 is best. Times exclude the first "
              "call's compilation and model loading.") if has_truth else (
              "&#9733; marks the fastest. No truth image was given, so there are no quality "
              "scores: judge with the sliders and the zoomed crops. Times exclude the first "
              "call's compilation and model loading.")
    lines.append(f'<p class="legend">{legend}</p>')
    return "\n".join(lines)


def _slider(before: str, after: str, method: str, *, left: str = "input") -> str:
    return (
        '<figure class="ba">'
        '<div class="ba-frame">'
        f'<img class="ba-before" src="{_esc(before)}" alt="{_esc(left)}">'
        f'<img class="ba-after" src="{_esc(after)}" alt="{_esc(method)} result">'
        f'<span class="ba-label left">{_esc(left)}</span>'
        f'<span class="ba-label right">{_esc(method)}</span>'
        '</div>'
        f'<input class="ba-range" type="range" min="0" max="100" step="0.1" value="50" '
        f'aria-label="split between {_esc(left)} and {_esc(method)}">'
        '</figure>'
    )


def _zoom_pair(first: str | None, first_caption: str, second: str | None,
               second_caption: str) -> str:
    parts = []
    for url, caption in ((first, first_caption), (second, second_caption)):
        if url:
            parts.append(f'<figure><img src="{_esc(url)}" alt="{_esc(caption)}" loading="lazy">'
                         f'<figcaption>{_esc(caption)}</figcaption></figure>')
    if not parts:
        return ""
    return f'<div class="zoom pair">{"".join(parts)}</div>'


def page_html(table: Iterable[Mapping[str, Any]], images: PageImages, *, title: str,
              subtitle: str = "", static: str = "static", has_truth: bool | None = None,
              nav: Sequence[tuple[str, str]] = (), notes: str = "") -> str:
    """The comparison page as HTML.

    Parameters
    ----------
    table : iterable of dict
        One row per method, as :meth:`~inpaintkit.comparison.Comparison.table` gives
        them: ``name`` (optional, default ``method``), ``method``, ``kind``,
        ``params``, ``seconds``, ``error`` and the metric keys. Rows with ``error`` are
        shown failed, with the error.
    images : PageImages
        URLs of the images; a successful method without a result URL is shown
        without pictures.
    title, subtitle : str
        Plain text.
    static : str
        URL of the folder with the CSS and JS (see :func:`copy_static`).
    has_truth : bool, optional
        Show the metric columns; default: whether ``images.truth`` is set.
    nav : sequence of (label, href)
        Links above the title.
    notes : str
        HTML shown under the title (e.g. a case's description and licence).

    Returns
    -------
    str
    """
    table = list(table)
    if has_truth is None:
        has_truth = images.truth is not None
    sections = []
    if notes:
        sections.append(f'<p class="note">{notes}</p>')
    sections.append("<h2>Results</h2>")
    sections.append(_table_html(table, has_truth))

    cards = ['<div class="cards">']
    input_card = ['<article class="card" id="input">'
                  '<h3>Input <span class="kind">hole in magenta</span></h3>']
    if images.truth:
        input_card.append('<p class="facts">slide to compare with the truth</p>')
        input_card.append(_slider(images.masked, images.truth, "truth"))
        input_card.append(_zoom_pair(images.masked_crop, "input, zoomed",
                                     images.truth_crop, "truth, zoomed"))
    else:
        input_card.append('<p class="facts">&nbsp;</p>')
        input_card.append(f'<img src="{_esc(images.masked)}" alt="input with the hole marked">')
        input_card.append(_zoom_pair(images.masked_crop, "input, zoomed", None, ""))
    input_card.append("</article>")
    cards.append("".join(input_card))

    for row in table:
        method = row.get("name") or row["method"]
        anchor = f"m-{_slug(method)}"
        params = _params_text(row.get("params"))
        head = (f'<h3>{_esc(method)} <span class="kind">{_esc(row.get("kind", ""))}</span></h3>')
        if row.get("error"):
            cards.append(f'<article class="card failed" id="{_esc(anchor)}">{head}'
                         + (f'<p class="params">{_esc(params)}</p>' if params else "")
                         + f'<p class="error">failed: {_esc(row["error"])}</p></article>')
            continue
        facts = [f'{_number(row.get("seconds"), "seconds")} s']
        if has_truth and row.get("psnr") is not None:
            facts.append(f'PSNR {_number(row.get("psnr"), "psnr")} dB')
            facts.append(f'SSIM {_number(row.get("ssim"), "ssim")}')
            facts.append(f'texture {_number(row.get("texture"), "texture")}')
        body = [f'<article class="card" id="{_esc(anchor)}">{head}',
                f'<p class="facts">{" &middot; ".join(facts)}</p>']
        if params:
            body.append(f'<p class="params">{_esc(params)}</p>')
        result = images.results.get(method)
        if result:
            body.append(_slider(images.masked, result, method))
            if images.truth_crop:
                body.append(_zoom_pair(images.crops.get(method), f"{method}, zoomed",
                                       images.truth_crop, "truth, zoomed"))
            else:
                body.append(_zoom_pair(images.crops.get(method), f"{method}, zoomed",
                                       images.masked_crop, "input, zoomed"))
        body.append("</article>")
        cards.append("".join(body))
    cards.append("</div>")
    sections.append("<h2>Side by side</h2>")
    sections.append('<p class="note">Drag on a picture or move its slider: left of the line is '
                    'the input, right of it the result. The zoomed crops show the deepest part '
                    'of the hole at full resolution.</p>')
    sections.append('<p class="sync"><label><input type="checkbox" id="sync-sliders" checked> '
                    'move all sliders together</label></p>')
    sections.append("\n".join(cards))
    return site_html(title=title, subtitle=subtitle, static=static, nav=nav,
                     body="\n".join(sections))


def write_page(comparison, folder, *, title: str = "inpaintkit comparison",
               subtitle: str | None = None,
               static: str | None = None, nav: Sequence[tuple[str, str]] = (),
               notes: str = "") -> Path:
    """Write ``folder/index.html`` with its images (and, by default, its static files).

    Parameters
    ----------
    comparison : Comparison
        From :func:`inpaintkit.compare`.
    folder : str or Path
        Created if missing; files already there with the same names are replaced.
    title, subtitle : str
        Plain text; the subtitle defaults to the image size, hole ratio and methods.
    static : str, optional
        URL of an existing static folder (the gallery shares one); by default the CSS
        and JS are copied into ``folder/static``.
    nav, notes
        See :func:`page_html`.

    Returns
    -------
    Path
        The page's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = write_images(comparison, folder)
    if static is None:
        copy_static(folder)
        static = "static"
    if subtitle is None:
        height, width = comparison.mask.shape
        ok = sum(row.ok for row in comparison.rows)
        subtitle = (f"{width}\u00d7{height} pixels, {100 * comparison.hole_ratio:.1f} % hole, "
                    f"{ok} of {len(comparison.rows)} methods succeeded")
    text = page_html(comparison.table(), images, title=title, subtitle=subtitle, static=static,
                     has_truth=comparison.truth is not None, nav=nav, notes=notes)
    return write_text(folder / "index.html", text)


def comparison_strip(comparison, *, methods: Sequence[str] | None = None, height: int = 200,
                     crop: bool = False, columns: int | None = None) -> np.ndarray:
    """One row of labelled pictures, uint8 RGB: the masked input, each result, the truth.

    Parameters
    ----------
    methods : sequence of str, optional
        Which successful methods to show (default all), in this order.
    height : int
        Height of each picture in pixels (the label band is added above).
    crop : bool
        Show the zoomed crop (:func:`crop_box`) instead of the whole image.
    columns : int, optional
        Wrap into rows of this many pictures (default: one row); the last row is
        padded with white.
    """
    import cv2

    box = crop_box(comparison.mask) if crop else None
    panels = [("input", masked_view(comparison.image, comparison.mask))]
    chosen = methods if methods is not None else [row.name for row in comparison.rows]
    for name in chosen:
        row = comparison[name]
        if row.result is not None:
            panels.append((name, display_image(row.result)))
    if comparison.truth is not None:
        panels.append(("truth", display_image(comparison.truth)))
    tiles = []
    band = 26
    for label, picture in panels:
        if picture.ndim == 2:
            picture = np.stack([picture] * 3, axis=2)
        picture = picture[..., :3]
        if box is not None:
            picture = _crop(picture, box)
        width = max(1, int(round(picture.shape[1] * height / picture.shape[0])))
        interpolation = cv2.INTER_NEAREST if picture.shape[0] < height else cv2.INTER_AREA
        scaled = cv2.resize(picture, (width, height), interpolation=interpolation)
        tile = np.full((height + band, width + 4, 3), 255, np.uint8)
        tile[band:, 2:2 + width] = scaled
        cv2.putText(tile, label, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1,
                    cv2.LINE_AA)
        tiles.append(tile)
    if not columns or columns >= len(tiles):
        return np.concatenate(tiles, axis=1)
    rows = [np.concatenate(tiles[start:start + columns], axis=1)
            for start in range(0, len(tiles), columns)]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)
            for row in rows]
    return np.concatenate(rows, axis=0)
