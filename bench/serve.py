"""``inpaintkit serve`` under load: round-trip overhead at 1024x768 and 20 concurrent fills.

Starts the server on a free loopback port in a subprocess and measures

1. a 1024x768 diffusion fill three ways: ``inpaint()`` in this process, ``inpaintkit fill``
   as a command (process start, read, write) and the web API (upload, decode, queue,
   fill, PNG encode, poll, download); the API's overhead is its time beyond the fill
   itself as the server timed it;
2. 20 concurrent fill requests against a small queue: every request must be answered
   202 (queued) or 429 (refused), every queued fill must finish, and the server's
   memory must come back to its idle level once the results are deleted;
3. optionally (``--browser``) the page's first contentful paint in headless Chromium.

Run from the repository root: ``python bench/serve.py [--quick] [--browser]``.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inpaintkit import io, masks  # noqa: E402


def photo_1024x768() -> np.ndarray:
    """skimage's coffee photo (600x400, public domain) resized to 1024x768."""
    return cv2.resize(skdata.coffee(), (1024, 768), interpolation=cv2.INTER_CUBIC)


def scratches(shape, seed=0) -> np.ndarray:
    return masks.in_ratio_bucket(shape, 0.01, 0.1, seed=seed)


def start_server(*args: str):
    """``inpaintkit serve --port 0 ARGS`` with its stderr in a temporary file."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = tempfile.NamedTemporaryFile("w+", prefix="inpaintkit-serve-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "inpaintkit", "serve", "--port", "0", *args],
                               stderr=log, stdout=subprocess.DEVNULL, text=True, env=env)
    while process.poll() is None:
        match = re.search(r"serving on (http://\S+/)", Path(log.name).read_text())
        if match:
            return process, match.group(1)
        time.sleep(0.05)
    raise RuntimeError("the server did not start:\n" + Path(log.name).read_text())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill_once(client: httpx.Client, image_png: bytes, mask_png: bytes, method="diffusion"):
    """POST, poll, download, delete; returns (total seconds, fill seconds, status)."""
    start = time.perf_counter()
    response = client.post("/api/fill", files={"image": ("photo.png", image_png),
                                                 "mask": ("mask.png", mask_png)},
                           data={"method": method, "params": "{}"})
    if response.status_code != 202:
        return time.perf_counter() - start, None, response.status_code
    job = response.json()["id"]
    while True:
        state = client.get(f"/api/jobs/{job}").json()
        if state["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.01)
    result = client.get(f"/api/jobs/{job}/result")
    total = time.perf_counter() - start
    client.delete(f"/api/jobs/{job}")
    assert result.status_code == 200, result.text
    return total, state["fill_seconds"], 202


def bench_round_trip(url: str, repeats: int) -> list[dict]:
    import inpaintkit

    image, mask = photo_1024x768(), scratches((768, 1024))
    image_png, mask_png = io.encode_png(image), io.encode_png(mask.astype(np.uint8) * 255)
    inpaintkit.inpaint(image, mask, method="diffusion")  # compile once
    direct = []
    for _ in range(repeats):
        start = time.perf_counter()
        inpaintkit.inpaint(image, mask, method="diffusion")
        direct.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as folder:
        io.write_image(f"{folder}/photo.png", image)
        io.write_image(f"{folder}/mask.png", mask.astype(np.uint8) * 255)
        command = []
        env = dict(os.environ, PYTHONPATH=str(REPO))
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "inpaintkit", "fill", f"{folder}/photo.png",
                            f"{folder}/mask.png", "-o", f"{folder}/out.png", "--overwrite", "-q",
                            "-m", "diffusion"], check=True, env=env)
            command.append(time.perf_counter() - start)
    api, fills = [], []
    with httpx.Client(base_url=url, timeout=120) as client:
        fill_once(client, image_png, mask_png)  # the server's first fill compiles
        for _ in range(repeats):
            total, fill_seconds, _ = fill_once(client, image_png, mask_png)
            api.append(total)
            fills.append(fill_seconds)
    base = statistics.median(direct)
    overhead = [t - f for t, f in zip(api, fills)]
    return [
        {"way": "inpaint() in process", "seconds": base, "ratio": 1.0, "overhead": 0.0},
        {"way": "inpaintkit fill (command)", "seconds": statistics.median(command),
         "ratio": statistics.median(command) / base, "overhead": statistics.median(command) - base},
        {"way": "web API round trip", "seconds": statistics.median(api),
         "ratio": statistics.median(api) / base, "overhead": statistics.median(overhead),
         "overhead_max": max(overhead)},
    ]


def bench_load(url: str, pid: int, concurrent: int) -> dict:
    image, mask = photo_1024x768(), scratches((768, 1024), seed=1)
    image_png, mask_png = io.encode_png(image), io.encode_png(mask.astype(np.uint8) * 255)
    with httpx.Client(base_url=url, timeout=300) as client:
        fill_once(client, image_png, mask_png)
        time.sleep(0.5)
        idle = rss_mib(pid)
        peak = idle
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrent) as pool:
            futures = [pool.submit(fill_once, client, image_png, mask_png) for _ in range(concurrent)]
            while not all(f.done() for f in futures):
                peak = max(peak, rss_mib(pid))
                time.sleep(0.05)
            outcomes = [f.result() for f in futures]
        seconds = time.perf_counter() - start
        health = client.get("/api/health").json()
        time.sleep(0.5)
        after = rss_mib(pid)
    statuses = [status for _, _, status in outcomes]
    return {"requests": concurrent, "queued_202": statuses.count(202), "refused_429": statuses.count(429),
            "other": len(statuses) - statuses.count(202) - statuses.count(429),
            "seconds": seconds, "idle_mib": idle, "peak_mib": peak, "after_mib": after,
            "health": health["status"], "left": health["queued"] + health["running"] + health["results"]}


#: A brush stroke dispatched by the page's own clock: 120 frames, 4 pointer samples each.
STROKE_SCRIPT = """
            const done = arguments[arguments.length - 1];
            const canvas = document.getElementById('paint-canvas');
            const r = canvas.getBoundingClientRect();
            const s = window.inpaintkit; s.stats.pointerEvents = 0;
            const at = (t) => ({clientX: r.left + r.width * (0.1 + 0.8 * t),
                                clientY: r.top + r.height * (0.5 + 0.3 * Math.sin(12 * t)),
                                pointerId: 1, button: 0, buttons: 1, bubbles: true});
            canvas.dispatchEvent(new PointerEvent('pointerdown', at(0)));
            const frames = [], frameCount = 120, perFrame = 4;
            let frame = 0;
            function step(now) {
              frames.push(now);
              if (frame === frameCount) {
                canvas.dispatchEvent(new PointerEvent('pointerup', at(1)));
                const gaps = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b) => a - b);
                done({sent: 1 + frameCount * perFrame, painted: s.stats.pointerEvents,
                      median: gaps[gaps.length >> 1], p95: gaps[Math.floor(gaps.length * 0.95)]});
                return;
              }
              for (let k = 1; k <= perFrame; k++)
                canvas.dispatchEvent(new PointerEvent('pointermove', at((frame * perFrame + k) / (frameCount * perFrame))));
              frame++;
              requestAnimationFrame(step);
            }
            requestAnimationFrame(step);
        """


def bench_page(url: str) -> dict:
    """First contentful paint, and a brush stroke on a 4000x3000 photo in headless Chromium.

    The stroke is 120 animation frames with 4 pointer samples each (a 240 Hz pen at
    60 fps), dispatched by the page's own clock; smooth means frame intervals near
    16.7 ms and every sample painted.
    """
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    try:
        paints = []
        for _ in range(3):
            driver.get(url)
            time.sleep(0.5)
            paints.append(driver.execute_script(
                "const p = performance.getEntriesByType('paint').find(e => e.name === "
                "'first-contentful-paint'); return p ? p.startTime : null"))
        strokes = {}
        for width, height in ((600, 400), (4000, 3000)):
            with tempfile.TemporaryDirectory() as folder:
                photo = cv2.resize(skdata.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
                io.write_image(f"{folder}/photo.png", photo)
                field = driver.find_element(By.ID, "file-input")
                driver.execute_script("arguments[0].hidden = false", field)
                start = time.perf_counter()
                field.send_keys(f"{folder}/photo.png")
                WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                    f"return !!window.inpaintkit.photo && window.inpaintkit.info.width === {width}"))
                opened = time.perf_counter() - start
            stroke = driver.execute_async_script(STROKE_SCRIPT)
            strokes[f"{width}x{height}"] = {"open_s": opened, **stroke}
        return {"first_paint_ms": statistics.median(paints), "strokes": strokes}
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--browser", action="store_true", help="also time the page's first paint")
    parser.add_argument("--queue", type=int, default=4, help="the server's --queue (default 4)")
    args = parser.parse_args()
    process, url = start_server("--queue", str(args.queue))
    try:
        print(f"server {url}, --workers 1 --queue {args.queue}; {os.cpu_count()} CPUs")
        rows = bench_round_trip(url, 3 if args.quick else 7)
        print("\n1024x768 diffusion fill, median wall time")
        print(f"{'way':<28} {'seconds':>8} {'ratio':>6} {'beyond the fill':>16}")
        for row in rows:
            print(f"{row['way']:<28} {row['seconds']:>8.3f} {row['ratio']:>6.2f} {row['overhead']:>15.3f}s")
        print(f"(web API overhead: worst of the repeats {rows[2]['overhead_max']:.3f} s; target < 2 s)")
        load = bench_load(url, process.pid, 20)
        print("\n20 concurrent 1024x768 fill requests")
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in load.items()}, indent=1))
        if args.browser:
            page = bench_page(url)
            print(f"\npage (headless Chromium, software rendering): first contentful paint "
                  f"{page['first_paint_ms']:.0f} ms (median of 3; target < 1000 ms)")
            print(f"{'photo':<10} {'opened':>7} {'samples painted':>16} {'frame median':>13} {'frame p95':>10}")
            for size, row in page["strokes"].items():
                print(f"{size:<10} {row['open_s']:>6.2f}s {row['painted']:>7} of {row['sent']:<5} "
                      f"{row['median']:>10.1f} ms {row['p95']:>7.1f} ms")
            print("(a brush stroke, 4 pointer samples a frame; 60 fps = 16.7 ms a frame)")
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
