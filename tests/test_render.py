"""The comparison page: files, rows, failures, best marks, no network; and in a real browser."""

import os
import re
import shutil
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import inpaintkit
from inpaintkit import registry, render
from inpaintkit.comparison import best_methods

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class _Page(HTMLParser):
    """Collects every element's tag and attributes, and the text of table cells."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.cells = []  # (row method, column, classes, text)
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "tr":
            self._row = attrs.get("data-method")
        if tag == "td" and self._row is not None:
            self._cell = [self._row, attrs.get("data-column"), attrs.get("class") or "", ""]

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[3] += data


@pytest.fixture()
def fake_methods(tmp_path, monkeypatch):
    module = tmp_path / "render_fakes.py"
    module.write_text(textwrap.dedent("""
        import numpy as np

        def shifted(image, mask, *, offset=10, seed=0):
            out = image.copy()
            hole = np.asarray(mask, bool)
            out[hole] = np.clip(image[hole].astype(int) * 0 + 128 + offset, 0, 255).astype(image.dtype)
            return out

        def broken(image, mask, *, seed=0):
            raise ValueError("no weights for 'broken': pass weights=PATH")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, kind in (("shifted", "classical"), ("broken", "learned")):
        monkeypatch.setitem(registry._METHODS, name,
                            registry.MethodSpec(name, kind, f"render_fakes:{name}", name))


@pytest.fixture()
def comparison(fake_methods):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)
    hole = np.zeros((48, 64), bool)
    hole[10:30, 20:44] = True
    return inpaintkit.compare(truth, hole, methods=["diffusion", "shifted", "broken"], truth=truth,
                              warm_up=False)


@pytest.fixture()
def page(comparison, tmp_path):
    path = render.write_page(comparison, tmp_path / "site", title="A <test> page")
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return path, parser


def test_every_image_exists_and_decodes(page):
    path, parser = page
    sources = [attrs["src"] for tag, attrs in parser.elements if tag == "img"]
    assert sources
    for source in sources:
        image = inpaintkit.io.read_image(path.parent / source)
        assert image.ndim == 3 and image.shape[0] > 0
    assert (path.parent / "images" / "result-diffusion.png").is_file()
    assert (path.parent / "images" / "result-shifted.png").is_file()
    assert not (path.parent / "images" / "result-broken.png").exists()
    for tag, attrs in parser.elements:
        if tag in ("link", "script"):
            assert (path.parent / (attrs.get("href") or attrs.get("src"))).is_file()


def test_every_method_has_a_row_and_failures_show_their_error(page, comparison):
    path, parser = page
    rows = [attrs["data-method"] for tag, attrs in parser.elements
            if tag == "tr" and "data-method" in attrs]
    assert rows == ["diffusion", "shifted", "broken"]
    failed = [cell for cell in parser.cells if cell[0] == "broken"]
    assert any("error" in cell[2] and "no weights for 'broken'" in cell[3] for cell in failed)
    cards = [attrs["id"] for tag, attrs in parser.elements if tag == "article"]
    assert cards == ["input", "m-diffusion", "m-shifted", "m-broken"]
    html = path.read_text()
    assert "A &lt;test&gt; page" in html and "<test>" not in html
    # One slider per successful method, plus the input-vs-truth one.
    assert sum(1 for tag, attrs in parser.elements
               if tag == "input" and attrs.get("type") == "range") == 3


def test_best_values_are_marked(page, comparison):
    _, parser = page
    best = best_methods(comparison.table())
    marked = {(cell[0], cell[1]) for cell in parser.cells if "best" in cell[2].split()}
    expected = {(method, column) for column, methods in best.items() for method in methods}
    assert marked == expected
    # diffusion beats a flat grey on noise in L1? Not necessarily; but each column has one.
    assert {column for _, column in marked} == {"seconds", "psnr", "ssim", "l1", "texture"}


def test_page_and_static_files_reference_no_network(page):
    path, parser = page
    for tag, attrs in parser.elements:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert not re.match(r"^\s*(https?:)?//", value), (tag, value)
    texts = [path.read_text()] + [p.read_text() for p in (path.parent / "static").iterdir()]
    for text in texts:
        assert not re.search(r"https?://", text)
        assert "@import" not in text


def test_page_html_takes_a_plain_table(tmp_path):
    table = [{"method": "a", "kind": "classical", "seconds": 1.5, "params": {"x": 1}},
             {"method": "b", "kind": "learned", "error": "boom"}]
    images = render.PageImages(masked="/img/masked.png", results={"a": "/img/a.png"},
                               crops={"a": "/img/a-crop.png"})
    html = render.page_html(table, images, title="served", static="/static")
    assert 'href="/static/inpaintkit.css"' in html and 'src="/img/a.png"' in html
    assert "failed: boom" in html and "x=1" in html
    assert "PSNR" not in html  # no truth: no metric columns


def test_crop_box_covers_the_deepest_part_of_the_hole():
    hole = np.zeros((200, 300), bool)
    hole[50, :] = True                 # a scratch across
    hole[120:160, 200:250] = True      # and a block: the deepest part
    top, left, height, width = render.crop_box(hole)
    assert 0 <= top and top + height <= 200 and 0 <= left and left + width <= 300
    assert top <= 120 and top + height >= 160 and left <= 200 and left + width >= 250
    assert height <= 100 and width <= 150
    assert render.crop_box(np.zeros((10, 20), bool)) == (0, 5, 10, 10)


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)])
def test_display_image_and_masked_view(dtype, top):
    image = np.full((8, 8), top, dtype)
    shown = render.display_image(image)
    assert shown.dtype == np.uint8 and shown.shape == (8, 8) and shown.max() == 255
    hole = np.zeros((8, 8), bool)
    hole[2:4, 2:4] = True
    view = render.masked_view(image, hole, opacity=1.0)
    assert view.shape == (8, 8, 3)
    assert tuple(view[2, 2]) == render.HOLE_COLOUR and tuple(view[0, 0]) == (255, 255, 255)


def test_comparison_strip(comparison):
    strip = render.comparison_strip(comparison, height=40)
    # input, diffusion, shifted, truth (broken has no picture); 64x48 scaled to 53x40.
    assert strip.dtype == np.uint8 and strip.shape[0] == 40 + 26
    assert strip.shape[1] == 4 * (53 + 4)
    wrapped = render.comparison_strip(comparison, height=40, columns=3)
    assert wrapped.shape == (2 * (40 + 26), 3 * (53 + 4), 3)


# --------------------------------------------------------------------- in a real browser

def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: install the Debian package {package}"
    return None


@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_page_in_headless_chromium(page, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, _ = page
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(path.resolve().as_uri())
        images = driver.find_elements(By.TAG_NAME, "img")
        assert images
        for image in images:
            driver.execute_script("arguments[0].scrollIntoView(); arguments[0].loading = 'eager';", image)
        driver.execute_script("window.scrollTo(0, 0)")
        decoded = driver.execute_script(
            "return Promise.all(Array.from(document.images).map(function (img) {"
            "  return img.decode().then(function () { return img.naturalWidth; },"
            "                           function () { return 0; }); }));")
        assert all(width > 0 for width in decoded), decoded

        figure = driver.find_element(By.CSS_SELECTOR, "#m-diffusion figure.ba")
        after = figure.find_element(By.CLASS_NAME, "ba-after")
        slider = figure.find_element(By.CLASS_NAME, "ba-range")
        clip = lambda: driver.execute_script("return getComputedStyle(arguments[0]).clipPath", after)
        before = clip()
        assert "50%" in before
        slider.click()  # focus the slider, then move it with the keyboard as a user would
        for _ in range(40):
            slider.send_keys(Keys.ARROW_RIGHT)
        moved = clip()
        assert moved != before and float(slider.get_attribute("value")) > 50
        # "Move all sliders together" (on by default) carried the other results along...
        other = driver.find_element(By.CSS_SELECTOR, "#m-shifted figure.ba .ba-after")
        other_clip = lambda: driver.execute_script("return getComputedStyle(arguments[0]).clipPath", other)
        assert other_clip() == moved
        # ...and, unticked, leaves them where they are.
        driver.find_element(By.ID, "sync-sliders").click()
        slider.send_keys(Keys.ARROW_LEFT)
        assert clip() != moved and other_clip() == moved

        shot = tmp_path / "compare-page.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        keep = os.environ.get("INPAINTKIT_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, Path(keep) / shot.name)

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_rows_with_names_get_their_own_pictures(fake_methods, tmp_path):
    image = np.full((32, 40, 3), 100, np.uint8)
    hole = np.zeros((32, 40), bool)
    hole[10:20, 10:30] = True
    comparison = inpaintkit.compare(image, hole, warm_up=False,
                                    methods=["shifted", ("shifted more", "shifted", {"offset": 60})])
    page = render.write_page(comparison, tmp_path)
    html = page.read_text()
    assert (tmp_path / "images" / "result-shifted.png").is_file()
    assert (tmp_path / "images" / "result-shifted-more.png").is_file()
    assert 'data-method="shifted more"' in html and 'id="m-shifted-more"' in html
