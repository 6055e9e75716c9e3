"""A bounded load test on loopback: 20 concurrent fill requests against a real server.

Every request must be answered (202 queued or 429 refused), every queued fill must
finish, the server must stay healthy, and its memory must come back near its idle
level once the results are deleted. ``bench/serve.py`` runs the same at 1024x768.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from inpaintkit import io

from .conftest import start_server

httpx = pytest.importorskip("httpx")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
def test_twenty_concurrent_fills_are_answered_and_memory_returns():
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[:384, :384])
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[100:106, 40:340] = 255
    mask[200:260, 150:156] = 255
    image_png, mask_png = io.encode_png(image), io.encode_png(mask)
    process, url = start_server("--queue", "2", "--workers", "1")
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            def fill():
                response = client.post("/api/fill", data={"method": "diffusion"},
                                       files={"image": ("a.png", image_png), "mask": ("m.png", mask_png)})
                if response.status_code != 202:
                    return response.status_code, response.json()["detail"]
                job = response.json()["id"]
                while (state := client.get(f"/api/jobs/{job}").json())["state"] not in ("done", "failed"):
                    time.sleep(0.02)
                result = client.get(f"/api/jobs/{job}/result")
                client.delete(f"/api/jobs/{job}")
                return 202, (state["state"], io.decode_image(result.content).shape)

            assert fill()[0] == 202  # warm-up: the first fill compiles
            time.sleep(0.3)
            idle = rss_mib(process.pid)
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda _: fill(), range(20)))
            health = client.get("/api/health").json()
            time.sleep(0.3)
            after = rss_mib(process.pid)
        statuses = [status for status, _ in answers]
        print(f"20 requests: {statuses.count(202)} queued, {statuses.count(429)} refused; "
              f"RSS idle {idle:.0f} MiB, after {after:.0f} MiB")
        assert set(statuses) <= {202, 429} and statuses.count(202) >= 1
        assert all(detail == ("done", image.shape) for status, detail in answers if status == 202)
        assert all("queue is full" in detail for status, detail in answers if status == 429)
        assert health["status"] == "ok" and health["queued"] == health["running"] == health["results"] == 0
        assert process.poll() is None
        assert after < idle + 40, f"memory did not come back: idle {idle:.0f} MiB, after {after:.0f} MiB"
    finally:
        process.terminate()
        process.wait(10)
