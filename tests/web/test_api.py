"""The web API through FastAPI's TestClient: methods, fills, limits, checks, the queue."""

from __future__ import annotations

import io as _io
import json
import time

import numpy as np
import pytest

import inpaintkit
from inpaintkit import io, registry

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def png(image) -> bytes:
    return io.encode_png(np.asarray(image))


def photo(height=48, width=64, dtype=np.uint8, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 65535
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = rng.integers(0, top + 1, size=shape).astype(dtype)
    if channels == 4:
        image[..., 3] = top
    return image


def hole(height=48, width=64):
    mask = np.zeros((height, width), np.uint8)
    mask[20:26, 10:50] = 255
    return mask


def submit(client, image_bytes, mask_bytes=None, method="diffusion", params=None, **fields):
    files = {"image": ("photo.png", image_bytes, "application/octet-stream")}
    if mask_bytes is not None:
        files["mask"] = ("mask.png", mask_bytes, "image/png")
    data = {"method": method, "params": json.dumps(params or {}), **fields}
    return client.post("/api/fill", files=files, data=data)


def wait(client, job_id, states=("done", "failed", "cancelled"), timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}")
        if response.status_code == 404 or response.json()["state"] in states:
            return response
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {states}")


@pytest.fixture
def fake_methods(monkeypatch):
    """Register the slow and the broken test methods (and one whose module is missing)."""
    import os

    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    for name, target in [("slow", "_fake_methods:slow"), ("broken", "_fake_methods:broken"),
                         ("missing", "inpaintkit_no_such_module:fill")]:
        monkeypatch.setitem(registry._METHODS, name,
                            registry.MethodSpec(name, "learned", target, f"test method {name}"))


def healthy(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    return response.json()


# --- methods ------------------------------------------------------------------------------

def test_methods_lists_the_registry_with_forms(client):
    rows = {row["name"]: row for row in client.get("/api/methods").json()}
    assert set(registry.names()) <= set(rows)
    params = {p["name"]: p for p in rows["diffusion"]["params"]}
    assert params["variant"]["kind"] == "choice" and "telea" in params["variant"]["choices"]
    assert params["iterations"]["kind"] == "int" and params["tension"]["kind"] == "float"
    assert "source_mask" in rows["patchmatch"]["not_offered"]  # no paths or arrays over the web
    assert "return_fill_order" in rows["criminisi"]["not_offered"]


def test_unavailable_method_shows_its_one_line_error(fake_methods, make_client):
    client = make_client()
    row = next(r for r in client.get("/api/methods").json() if r["name"] == "missing")
    assert row["available"] is False and "not installed" in row["error"] and "\n" not in row["error"]
    response = submit(client, png(photo()), png(hole()), method="missing")
    assert response.status_code == 422 and "not installed" in response.json()["detail"]


# --- fills --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,channels", [(np.uint8, 3), (np.uint16, 4), (np.uint16, 1)])
def test_fill_round_trip_keeps_known_pixels_and_bit_depth(client, dtype, channels):
    image, mask = photo(dtype=dtype, channels=channels), hole()
    response = submit(client, png(image), png(mask), params={"variant": "harmonic"}, seed="3")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] in ("queued", "running") and job["params"] == {"variant": "harmonic"}
    state = wait(client, job["id"]).json()
    assert state["state"] == "done" and state["progress"] == 1.0 and state["seed"] == 3
    result = client.get(f"/api/jobs/{job['id']}/result")
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    assert "photo-diffusion.png" in result.headers["content-disposition"]
    out = io.decode_image(result.content)
    assert out.shape == image.shape and out.dtype == image.dtype
    known = mask == 0
    np.testing.assert_array_equal(out[known], image[known])
    assert not np.array_equal(out[~known], image[~known])


def test_alpha_is_the_hole_without_a_mask_and_auto_picks_a_method(client):
    image = photo(channels=4)
    image[20:24, 10:40, 3] = 0
    job = submit(client, png(image), None, method="auto").json()
    state = wait(client, job["id"]).json()
    hole = image[..., 3] == 0
    expected = inpaintkit.choose_method(hole, image)  # auto weighs the texture around the hole
    assert state["state"] == "done" and state["requested"] == "auto" and state["method"] == expected
    out = io.decode_image(client.get(f"/api/jobs/{job['id']}/result").content)
    np.testing.assert_array_equal(out[image[..., 3] > 0], image[image[..., 3] > 0])


def test_jpeg_exif_orientation_is_applied(client):
    from PIL import Image

    buffer = _io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(photo(40, 64)).save(buffer, "JPEG", exif=exif)
    response = client.post("/api/preview", files={"image": ("p.jpg", buffer.getvalue())})
    assert response.status_code == 200
    assert (response.headers["x-inpaintkit-width"], response.headers["x-inpaintkit-height"]) == ("40", "64")
    mask = np.zeros((64, 40), np.uint8)
    mask[10:20, 10:20] = 1
    assert submit(client, buffer.getvalue(), png(mask)).status_code == 202
    assert submit(client, buffer.getvalue(), png(mask.T)).status_code == 422


def test_preview_of_16_bit_rgba_keeps_the_transparent_pixels_exactly(client):
    image = photo(dtype=np.uint16, channels=4)
    image[..., 3] = 100   # faint but not transparent: 100/257 rounds to 0 in 8 bits
    image[:5, :5, 3] = 0
    response = client.post("/api/preview", files={"image": ("p.png", png(image))})
    assert response.headers["x-inpaintkit-dtype"] == "uint16"
    assert response.headers["x-inpaintkit-transparent"] == "25"
    preview = io.decode_image(response.content)
    assert preview.dtype == np.uint8 and np.count_nonzero(preview[..., 3] == 0) == 25


# --- bad requests -------------------------------------------------------------------------

def _truncated_png():
    return png(photo())[:120]


@pytest.mark.parametrize("case,status,words", [
    ("truncated", 422, "not a readable PNG"),
    ("text", 422, "not a PNG, JPEG or TIFF"),
    ("one_pixel", 422, "at least 8x8"),
    ("mask_size", 422, "the mask is 32x48 pixels but the image is 64x48"),
    ("unknown_method", 422, "unknown method 'blur'; valid methods: auto, diffusion"),
    ("unknown_param", 422, "unknown parameter 'radius_px' for method 'diffusion'"),
    ("bad_value", 422, "parameter 'iterations' must be a whole number"),
    ("bad_choice", 422, "parameter 'variant' must be one of tension"),
    ("path_param", 422, "parameter 'source_mask' of patchmatch is not accepted here"),
    ("params_json", 422, "params must be a JSON object"),
    ("no_hole", 422, "the mask marks no hole pixels"),
    ("all_hole", 422, "the mask covers the whole image"),
    ("no_mask_no_alpha", 422, "no mask given and the image has no alpha channel"),
    ("no_image", 422, "no image"),
    ("int32_tiff", 422, "unsupported dtype int32"),
])
def test_bad_uploads_get_a_clear_4xx_and_the_server_stays_healthy(client, case, status, words):
    image, mask = png(photo()), png(hole())
    kwargs = {}
    if case == "truncated":
        image = _truncated_png()
    elif case == "text":
        image = b"just some text, not an image at all\n" * 10
    elif case == "one_pixel":
        image, mask = png(np.zeros((1, 1, 3), np.uint8)), png(np.ones((1, 1), np.uint8))
    elif case == "mask_size":
        mask = png(hole()[:, :32])
    elif case == "unknown_method":
        kwargs["method"] = "blur"
    elif case == "unknown_param":
        kwargs["params"] = {"radius_px": 3}
    elif case == "bad_value":
        kwargs["params"] = {"iterations": "many"}
    elif case == "bad_choice":
        kwargs["params"] = {"variant": "smudge"}
    elif case == "path_param":
        kwargs.update(method="patchmatch", params={"source_mask": "/etc/passwd"})
    elif case == "params_json":
        response = client.post("/api/fill", files={"image": ("p.png", image), "mask": ("m.png", mask)},
                               data={"method": "diffusion", "params": "[1, 2"})
    elif case == "no_hole":
        mask = png(np.zeros((48, 64), np.uint8))
    elif case == "all_hole":
        mask = png(np.full((48, 64), 255, np.uint8))
    elif case == "no_mask_no_alpha":
        mask = None
    elif case == "int32_tiff":
        import tifffile

        buffer = _io.BytesIO()
        tifffile.imwrite(buffer, np.zeros((48, 64), np.int32))
        image = buffer.getvalue()
    if case == "no_image":
        response = client.post("/api/fill", files={"mask": ("m.png", mask)}, data={"method": "diffusion"})
    elif case != "params_json":
        response = submit(client, image, mask, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert words in detail and "\n" not in detail and "Traceback" not in detail
    assert healthy(client)["queued"] == 0


def test_upload_and_pixel_limits_give_413(make_client):
    small = make_client(max_upload_bytes=4096)
    response = submit(small, png(photo(200, 200, seed=1)), png(hole(200, 200)))
    assert response.status_code == 413 and "the limit is 0 MiB" not in response.json()["detail"]
    assert response.json()["detail"].startswith("the upload is 118.4 KiB; the limit is 4.0 KiB")
    assert "--max-upload-mb" in response.json()["detail"]
    few = make_client(max_pixels=1000)
    response = submit(few, png(photo()), png(hole()))
    assert response.status_code == 413
    assert response.json()["detail"] == "the image is 64x48 = 3,072 pixels; the limit is 1,000 pixels"
    healthy(small), healthy(few)


def test_not_multipart_is_refused(client):
    response = client.post("/api/fill", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415


# --- host and origin checks ---------------------------------------------------------------

@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True),
    ("192.168.1.20:8000", True), ("evil.example.com", False), ("evil.example.com:8000", False),
    ("localhost.evil.example", False), ("", False),
])
def test_host_header_check_against_dns_rebinding(client, host, ok):
    response = client.get("/api/health", headers={"host": host})
    assert (response.status_code == 200) is ok
    if not ok:
        assert response.status_code == 400 and "--allow-host" in response.json()["detail"]


def test_allowed_host_and_cross_origin_posts(make_client):
    client = make_client(allowed_hosts=("studio.lan",))
    assert client.get("/api/health", headers={"host": "studio.lan:8000"}).status_code == 200
    response = client.post("/api/fill", headers={"origin": "http://evil.example.com"},
                           files={"image": ("p.png", png(photo()))})
    assert response.status_code == 403
    assert client.delete("/api/jobs/x", headers={"origin": "http://127.0.0.1:8000"}).status_code == 404


# --- the queue ----------------------------------------------------------------------------

def test_failing_fill_returns_its_one_line_error(fake_methods, make_client):
    client = make_client()
    job = submit(client, png(photo()), png(hole()), method="broken").json()
    state = wait(client, job["id"]).json()
    assert state["state"] == "failed"
    assert state["error"] == "RuntimeError: kaboom: the kernel fell over"
    response = client.get(f"/api/jobs/{job['id']}/result")
    assert response.status_code == 409 and "kaboom" in response.json()["detail"]
    # ... and the next fill still works.
    job = submit(client, png(photo()), png(hole())).json()
    assert wait(client, job["id"]).json()["state"] == "done"


def test_cancel_running_and_queued_jobs_frees_them(fake_methods, make_client):
    client = make_client(workers=1, max_queued=1)
    jobs = client.app.state.jobs
    running = submit(client, png(photo()), png(hole()), method="slow",
                     params={"steps": 2000, "delay": 0.005}).json()
    wait(client, running["id"], states=("running",))
    queued = submit(client, png(photo()), png(hole()), method="slow").json()
    assert queued["state"] == "queued" and queued["position"] == 0
    full = submit(client, png(photo()), png(hole()), method="slow")
    assert full.status_code == 429 and "queue is full" in full.json()["detail"]

    waiting = jobs.get(queued["id"])
    assert client.delete(f"/api/jobs/{queued['id']}").json()["state"] == "cancelled"
    assert waiting.image is None and waiting.mask is None
    assert client.get(f"/api/jobs/{queued['id']}").status_code == 404

    job = jobs.get(running["id"])
    start = time.monotonic()
    assert client.delete(f"/api/jobs/{running['id']}").json()["state"] == "cancelling"
    assert wait(client, running["id"], states=()).status_code == 404
    assert time.monotonic() - start < 2.0  # stopped at its next progress report, not after 10 s
    assert job.image is None and job.result_png is None and job.state == "cancelled"
    stats = healthy(client)
    assert stats["queued"] == stats["running"] == stats["results"] == 0


def test_timeout_stops_a_fill(fake_methods, make_client):
    client = make_client(job_timeout=0.2)
    job = submit(client, png(photo()), png(hole()), method="slow",
                 params={"steps": 1000, "delay": 0.01}).json()
    state = wait(client, job["id"]).json()
    assert state["state"] == "failed" and "0.2 s time limit" in state["error"]


def test_results_are_capped_and_expire(fake_methods, make_client):
    client = make_client(max_results=1, result_ttl=0.5)
    first = submit(client, png(photo()), png(hole()), method="slow", params={"steps": 1}).json()
    wait(client, first["id"])
    second = submit(client, png(photo()), png(hole()), method="slow", params={"steps": 1}).json()
    wait(client, second["id"])
    assert client.get(f"/api/jobs/{first['id']}").status_code == 404   # pushed out by the cap
    assert client.get(f"/api/jobs/{second['id']}/result").status_code == 200
    time.sleep(0.6)
    assert client.get(f"/api/jobs/{second['id']}/result").status_code == 404  # expired
    assert healthy(client)["result_bytes"] == 0


# --- page and docs ------------------------------------------------------------------------

def test_page_static_files_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "://" not in page.text  # no CDN: every file is served from the package
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and "://" not in response.text
    assert client.get("/static/favicon.svg").status_code == 200
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404
    schema = client.get("/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/api/fill"]["post"]["requestBody"]["content"]
    assert {"/api/methods", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result"} <= set(schema["paths"])


def test_chunked_upload_over_the_limit_is_cut_off_with_413(make_client):
    client = make_client(max_upload_bytes=64 * 1024)
    boundary = "inpaintkitboundary"

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
               f"filename=\"big.png\"\r\n\r\n").encode()
        for _ in range(64):
            yield b"\0" * 4096  # 256 KiB, no Content-Length: counted as it arrives
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/api/fill", content=body(),
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413 and "the limit is 64.0 KiB" in response.json()["detail"]
    healthy(client)


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:9999", "http://localhost:8000"])
def test_posts_from_other_origins_are_refused(client, origin):
    response = client.post("/api/fill", headers={"origin": origin},
                           files={"image": ("p.png", png(photo()))})
    assert response.status_code == 403


def test_post_from_its_own_page_is_accepted(client):
    response = client.post("/api/fill", headers={"origin": "http://127.0.0.1:8000"},
                           files={"image": ("p.png", png(photo())), "mask": ("m.png", png(hole()))},
                           data={"method": "diffusion"})
    assert response.status_code == 202


def test_expired_results_are_swept_without_requests(fake_methods, make_client):
    client = make_client(result_ttl=0.3)
    jobs = client.app.state.jobs
    job = submit(client, png(photo()), png(hole()), method="slow", params={"steps": 1}).json()
    wait(client, job["id"])
    time.sleep(1.2)  # no request in between: the sweeper alone drops it
    assert job["id"] not in jobs._jobs
