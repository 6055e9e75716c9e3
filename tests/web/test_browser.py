"""The page in a real browser: open a photo, paint a stroke, fill with diffusion, download.

Drives Debian's headless Chromium through Selenium; skipped, with the reason, where
either is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("INPAINTKIT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INPAINTKIT_CHROMEDRIVER", "/usr/bin/chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(f"no browser: need {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and "
                "chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _browser(download_dir: Path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,900", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("INPAINTKIT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _to_client(driver, x: float, y: float) -> tuple[float, float]:
    """Image coordinates -> offsets from the paint canvas's centre, as the page maps them."""
    view = driver.execute_script("return window.inpaintkit.view")
    return (x - view["cx"]) * view["scale"], (y - view["cy"]) * view["scale"]


def test_paint_fill_download(server, tmp_path):
    from skimage import data

    from inpaintkit import io

    photo = data.coffee()  # 400x600 RGB, public domain (scikit-image's data)
    source = tmp_path / "coffee.png"
    io.write_image(source, photo)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _browser(downloads)
    try:
        start = time.perf_counter()
        driver.get(server)
        # The method list waits for torch to import (the learned methods): slow on a busy machine.
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('#method option').length > 1"))
        # The paint entry is queued after the frame is presented, so it can still be
        # missing when the page is already ready: wait for it (its startTime is when
        # the paint happened, not when it is read).
        first_paint = WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
            "return p ? p.startTime : null"))
        print(f"first contentful paint {first_paint:.0f} ms; page ready {time.perf_counter() - start:.2f} s")
        # The target is 1 s (bench/serve.py measures it); 3 s keeps a busy CI machine green.
        assert first_paint is not None and first_paint < 3000
        _screenshot(driver, tmp_path, "1-empty")

        file_input = driver.find_element(By.ID, "file-input")
        driver.execute_script("arguments[0].hidden = false", file_input)
        file_input.send_keys(str(source))
        driver.execute_script("arguments[0].hidden = true", file_input)
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return !!window.inpaintkit.photo"))
        canvas = driver.find_element(By.ID, "paint-canvas")

        # One stroke, left to right across the cup, as pointer events (mouse down, moves, up).
        row, x0, x1, size = 150, 120, 480, 12
        driver.execute_script(f"document.getElementById('brush-size').value = {size};"
                              "document.getElementById('brush-size').dispatchEvent(new Event('input'))")
        actions = ActionChains(driver, duration=10)
        dx, dy = _to_client(driver, x0, row)
        actions.move_to_element_with_offset(canvas, round(dx), round(dy)).click_and_hold()
        steps = 24
        for step in range(1, steps + 1):
            x = x0 + (x1 - x0) * step / steps
            dx, dy = _to_client(driver, x, row)
            actions.move_to_element_with_offset(canvas, round(dx), round(dy))
        actions.release().perform()
        stats = driver.execute_script("return window.inpaintkit.stats")
        assert stats["strokes"] == 1 and stats["pointerEvents"] >= steps
        _screenshot(driver, tmp_path, "2-painted")

        # Keyboard: ] and [ change the brush size, Ctrl+Z undoes the stroke, Ctrl+Shift+Z redoes it.
        from selenium.webdriver.common.keys import Keys
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("]")
        assert driver.execute_script("return window.inpaintkit.size") > size
        body.send_keys("[")
        assert driver.execute_script("return window.inpaintkit.size") == size
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        assert driver.execute_script("return window.inpaintkit.ops.length") == 0
        assert driver.find_element(By.ID, "run").get_attribute("disabled")
        ActionChains(driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("z") \
            .key_up(Keys.SHIFT).key_up(Keys.CONTROL).perform()
        assert driver.execute_script("return window.inpaintkit.ops.length") == 1

        from selenium.webdriver.support.ui import Select
        Select(driver.find_element(By.ID, "method")).select_by_value("diffusion")
        driver.find_element(By.ID, "run").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return window.inpaintkit.results.length === 1"))
        _screenshot(driver, tmp_path, "3-before-after")
        driver.find_element(By.ID, "download").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            done = [p for p in downloads.iterdir() if p.suffix == ".png"]
            if done:
                break
            time.sleep(0.1)
        assert done, "no file was downloaded"
        result = io.read_image(done[0])

        # Drag and drop a 16-bit RGBA PNG: opened, with its transparent pixels as the hole.
        import base64
        cutout = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]).astype(np.uint16) * 257
        cutout[300:320, 50:250, 3] = 0
        encoded = base64.b64encode(io.encode_png(cutout)).decode()
        driver.execute_script("""
            const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'cutout16.png', {type: 'image/png'}));
            document.getElementById('stage').dispatchEvent(
                new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        """, encoded)
        WebDriverWait(driver, 20).until(
            lambda d: d.execute_script("return window.inpaintkit.info.dtype === 'uint16'"))
        assert driver.execute_script("return window.inpaintkit.info.transparent") == 20 * 200
        assert driver.find_element(By.ID, "alpha-row").is_displayed()
        assert driver.find_element(By.ID, "run").is_enabled()  # the transparency is a ready hole
        _screenshot(driver, tmp_path, "4-dropped-rgba16")
    finally:
        driver.quit()

    assert result.shape == photo.shape and result.dtype == photo.dtype
    # Where the stroke went: the page's own coordinates, so this checks the whole chain.
    ys, xs = np.mgrid[:photo.shape[0], :photo.shape[1]]
    far = (np.abs(ys - row) > size / 2 + 3) | (xs < x0 - size / 2 - 3) | (xs > x1 + size / 2 + 3)
    np.testing.assert_array_equal(result[far], photo[far])
    centre = result[row, x0 + 5:x1 - 5] != photo[row, x0 + 5:x1 - 5]
    assert centre.any(axis=-1).mean() > 0.9
    if os.environ.get("INPAINTKIT_SCREENSHOTS"):
        shutil.copy(done[0], Path(os.environ["INPAINTKIT_SCREENSHOTS"]) / "downloaded.png")
