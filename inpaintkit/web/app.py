"""The FastAPI application behind ``inpaintkit serve``: the API, the checks, the page.

Everything stays in memory: uploads are parsed without temporary files, decoded by
:mod:`inpaintkit.io` from their bytes (the format from the first bytes, never a name
or a content type), and results are kept as PNG bytes in the :class:`JobQueue`.
No endpoint takes a file-system path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, AsyncIterator, Callable

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from .. import __version__
from . import _memory
from .jobs import CANCELLED, DONE, FAILED, RUNNING, JobQueue, QueueFull

logger = logging.getLogger("inpaintkit.web")

#: Smallest side accepted: below it there is nothing to fill from.
MIN_SIDE = 8


@dataclass
class Settings:
    """Limits and queue sizes of one server.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body (image + mask + fields); larger ones get 413.
    max_pixels : int
        Largest image, in pixels, read from the file header before decoding; 413 beyond.
    allowed_hosts : tuple of str
        Host names accepted in the ``Host`` header besides ``localhost`` and IP
        literals (a DNS-rebinding defence: a hostile page's own domain name is refused).
    workers, max_queued, max_results, result_ttl, job_timeout
        See :class:`~inpaintkit.web.jobs.JobQueue`.
    decode_slots : int
        Uploads decoded at once; more wait their turn (bounds memory under a burst).
    """

    max_upload_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 50_000_000
    allowed_hosts: tuple[str, ...] = ()
    workers: int = 1
    max_queued: int = 8
    max_results: int = 16
    result_ttl: float = 1800.0
    job_timeout: float | None = 900.0
    decode_slots: int = 2


def _host_name(host_header: str) -> str:
    """The name part of a Host header (``[::1]:8000`` -> ``::1``, ``a.b:80`` -> ``a.b``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a request's Host header is one this server answers to.

    IP literals and ``localhost`` always pass: a DNS-rebinding page reaches the
    server under its own domain name, which is refused unless listed in ``allowed``.
    """
    if not host_header:
        return False
    name = _host_name(host_header)
    if name == "localhost" or name in {h.lower() for h in allowed}:
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class _InMemoryParser(MultiPartParser):
    # Starlette spools file parts over 1 MiB to a temporary file; uploads here are
    # already bounded by max_upload_bytes, so they stay in memory.
    spool_max_size = 1 << 62


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app with its own job queue.

    Parameters
    ----------
    settings : Settings, optional
        Limits and queue sizes; the defaults of :class:`Settings` otherwise.

    Returns
    -------
    FastAPI
        ``app.state.jobs`` is the :class:`JobQueue`; call ``app.state.jobs.close()``
        (the server does so on shutdown) to stop its workers.
    """
    from contextlib import asynccontextmanager

    settings = settings or Settings()
    jobs = JobQueue(workers=settings.workers, max_queued=settings.max_queued,
                    max_results=settings.max_results, result_ttl=settings.result_ttl,
                    job_timeout=settings.job_timeout)
    table_cache: dict[str, Any] = {}
    decode_slots = asyncio.Semaphore(max(1, settings.decode_slots))

    @asynccontextmanager
    async def lifespan(app):
        # Listing the learned methods imports torch (seconds): do it before the page asks.
        threading.Thread(target=method_table, name="inpaintkit-methods", daemon=True).start()
        yield
        jobs.close()

    app = FastAPI(
        title="inpaintkit",
        version=__version__,
        description="Paint the hole, pick a method, fill. A local server: it binds "
                    "127.0.0.1 unless told otherwise and keeps everything in memory.",
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.settings = settings

    table_lock = threading.Lock()

    def method_table() -> list[dict[str, Any]]:
        with table_lock:
            if "rows" not in table_cache:
                from .params import method_table as build
                table_cache["rows"] = build()
            return table_cache["rows"]

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not host_allowed(request.headers.get("host"), settings.allowed_hosts):
            return _error(400, f"Host {request.headers.get('host')!r} is not allowed: this local "
                          "server answers to localhost and IP addresses only (start it with "
                          "--allow-host NAME to add a name)")
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            # Browsers send Origin with every POST and DELETE: only this server's own page
            # (same host and port) may change state. "null" (sandboxed frames) is refused.
            origin_host = re.sub(r"^[a-z]+://", "", origin.strip().lower()).rstrip("/")
            if origin_host != request.headers.get("host", "").strip().lower():
                return _error(403, f"requests from the page at {origin} are refused")
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'")
        return response

    async def read_form(request: Request) -> dict[str, Any]:
        """The multipart body, bounded by max_upload_bytes (413), parsed in memory."""
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, _too_large(int(declared), limit))
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise HTTPException(415, "send the image and mask as multipart/form-data")

        async def bounded() -> AsyncIterator[bytes]:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise HTTPException(413, _too_large(received, limit, at_least=True))
                yield chunk

        try:
            form = await _InMemoryParser(request.headers, bounded(), max_files=4, max_fields=16,
                                         max_part_size=64 * 1024).parse()
        except MultiPartException as exc:
            raise HTTPException(400, f"malformed upload: {exc.message}") from None
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields[key] = await value.read()
                fields[f"{key}.filename"] = value.filename or ""
                await value.close()
            else:
                fields[key] = value
        return fields

    @app.get("/api/health", summary="Server state and queue counts")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, **jobs.stats(),
                "max_upload_bytes": settings.max_upload_bytes, "max_pixels": settings.max_pixels}

    @app.get("/api/methods", summary="The registered methods with their parameter forms")
    def methods() -> list[dict[str, Any]]:
        """``inpaintkit.methods()`` with each parameter's kind (bool, int, float, choice,
        text), default and choices; unavailable methods carry their one-line ``error``."""
        return method_table()

    @app.post("/api/preview", summary="Decode a photo as the fill will see it",
              openapi_extra=_form_schema(["image"]),
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}})
    async def preview(request: Request) -> Response:
        """Return the photo in 8 bits for the page to paint on (EXIF orientation applied,
        TIFF and 16-bit decoded by the server): PNG, or JPEG quality 95 for opaque photos
        over 4 MP; its size, dtype, channels and number of transparent pixels come in
        ``X-Inpaintkit-*`` headers."""
        fields = await read_form(request)
        async with decode_slots:
            image = await run_in_threadpool(_decode_image, fields, settings)
        encoded, media_type, info = await run_in_threadpool(_preview_png, image)
        del image
        headers = {f"X-Inpaintkit-{key.title()}": str(value) for key, value in info.items()}
        return Response(encoded, media_type=media_type, headers=headers)

    @app.post("/api/fill", status_code=202, summary="Queue a fill",
              openapi_extra=_form_schema(["image", "mask", "method", "params", "seed"]))
    async def fill(request: Request) -> JSONResponse:
        """Queue a fill of ``image`` (PNG, JPEG or TIFF) over the hole in ``mask`` (a PNG
        of the same size, non-black = hole; without it the image's transparent pixels
        are the hole) with ``method`` and ``params`` (a JSON object). Returns the job id
        (202), or 429 when the queue is full; poll ``GET /api/jobs/{id}``."""
        busy = (f"the fill queue is full ({settings.max_queued} waiting); try again when a "
                "fill has finished")
        if not jobs.has_room():  # refuse before decoding the upload
            await _drain(request, settings.max_upload_bytes)
            return _error(429, busy, headers={"Retry-After": "5"})
        fields = await read_form(request)
        async with decode_slots:
            request_args = await run_in_threadpool(_check_fill, fields, settings, method_table)
        try:
            job = jobs.submit(**request_args)
        except QueueFull as exc:
            del request_args
            _memory.trim()
            return _error(429, str(exc), headers={"Retry-After": "5"})
        return JSONResponse(job.public(jobs.position(job)), status_code=202,
                            headers={"Location": f"/api/jobs/{job.id}"})

    def find(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}: it finished long ago, was cancelled "
                                "or never existed")
        return job

    @app.get("/api/jobs/{job_id}", summary="A job's state and progress")
    def job_state(job_id: str) -> dict[str, Any]:
        job = find(job_id)
        return job.public(jobs.position(job))

    @app.get("/api/jobs/{job_id}/result", summary="The filled image as PNG",
             responses={200: {"content": {"image/png": {}}}})
    def job_result(job_id: str) -> Response:
        """The result at the input's bit depth (8- or 16-bit PNG; float TIFF input gives
        16-bit), 409 while the job is not done."""
        job = find(job_id)
        png = job.result_png
        if job.state != DONE or png is None:
            reason = job.error if job.state == FAILED else f"the job is {job.state}"
            raise HTTPException(409, f"no result: {reason}")
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.filename).strip("._") or "result"
        name = f"{stem}-{job.method}.png"
        return Response(png, media_type="image/png",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    @app.delete("/api/jobs/{job_id}", summary="Cancel a job or drop its result")
    def job_cancel(job_id: str) -> dict[str, Any]:
        """A waiting job is removed, a running one stops at its next progress report,
        a finished one's result is dropped; memory is freed in each case."""
        job = jobs.cancel(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        row = job.public()
        if job.state == RUNNING:
            row["state"] = "cancelling"  # it stops at the method's next progress report
        elif job.state in (DONE, FAILED):
            row["state"] = "deleted"
        else:
            row["state"] = CANCELLED
        return row

    static = resources.files("inpaintkit.web") / "static"

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(str(static / "index.html"), media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        allowed = {"app.js": "text/javascript", "style.css": "text/css",
                   "favicon.svg": "image/svg+xml"}
        if name not in allowed:  # a fixed list: no path ever reaches the file system
            raise HTTPException(404, "not found")
        return FileResponse(str(static / name), media_type=allowed[name],
                            headers={"Cache-Control": "no-cache"})

    return app


async def _drain(request: Request, limit: int) -> None:
    """Read and drop the body (up to ``limit``), so the client sees the response rather
    than a connection reset in the middle of its upload."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            break


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.1f} KiB"


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    return (f"the upload is {'over ' if at_least else ''}{_size(size)}; the limit is "
            f"{_size(limit)} (start the server with --max-upload-mb to raise it)")


def _form_schema(names: list[str]) -> dict[str, Any]:
    properties = {
        "image": {"type": "string", "format": "binary",
                  "description": "PNG, JPEG or TIFF; 8/16-bit; RGBA alpha 0 marks a hole"},
        "mask": {"type": "string", "format": "binary",
                 "description": "PNG of the image's size, non-black = hole (optional with alpha)"},
        "method": {"type": "string", "default": "diffusion", "description": "see /api/methods"},
        "params": {"type": "string", "default": "{}", "description": "JSON object of options"},
        "seed": {"type": "integer", "default": 0},
    }
    schema = {"type": "object", "properties": {n: properties[n] for n in names},
              "required": ["image"]}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def _decode_image(fields: dict[str, Any], settings: Settings) -> np.ndarray:
    from .. import io

    data = fields.get("image")
    if not isinstance(data, bytes) or not data:
        raise HTTPException(422, "no image: send the photo as the file field 'image'")
    try:
        image = io.decode_image(data, max_pixels=settings.max_pixels)
    except ValueError as exc:
        status = 413 if "the limit is" in str(exc) else 422
        raise HTTPException(status, _one_line(exc)) from None
    except TypeError as exc:
        raise HTTPException(422, _one_line(exc)) from None
    if min(image.shape[:2]) < MIN_SIDE:
        raise HTTPException(422, f"the image is {image.shape[1]}x{image.shape[0]} pixels; "
                            f"it must be at least {MIN_SIDE}x{MIN_SIDE}")
    return image


#: Above this many pixels an opaque photo's preview is a JPEG (quality 95, no chroma
#: subsampling): a 12 MP PNG takes seconds to write, the JPEG a tenth of a second.
PREVIEW_JPEG_PIXELS = 4_000_000


def _preview_png(image: np.ndarray) -> tuple[bytes, str, dict[str, Any]]:
    """The photo as the page shows it: 8 bits, lossless PNG for small or transparent
    images, JPEG for large opaque ones; with its size, dtype, channels, transparent count."""
    import cv2

    from .. import io

    display = image
    if image.dtype != np.uint8:  # exact rounding to 8 bits, in one pass
        scale = 255.0 / 65535.0 if image.dtype == np.uint16 else 255.0
        display = cv2.convertScaleAbs(image, alpha=scale).reshape(image.shape)
    transparent = 0
    if image.ndim == 3 and image.shape[2] == 4:
        hole = image[..., 3] == 0
        transparent = int(np.count_nonzero(hole))
        # A faint alpha must not round to 0 (that would add it to the hole) or stay 0.
        alpha = display[..., 3]
        alpha[(alpha == 0) & ~hole] = 1
        alpha[hole] = 0
    info = {"width": image.shape[1], "height": image.shape[0], "dtype": image.dtype.name,
            "channels": 1 if image.ndim == 2 else image.shape[2], "transparent": transparent}
    opaque = image.ndim == 2 or image.shape[2] != 4
    if opaque and image.shape[0] * image.shape[1] > PREVIEW_JPEG_PIXELS:
        colour = display if display.ndim == 2 else cv2.cvtColor(
            display.reshape(*display.shape[:2], -1)[..., :3], cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 95,
                                                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        if ok:
            return encoded.tobytes(), "image/jpeg", info
    return io.encode_png(display, compression=1), "image/png", info


def _check_fill(fields: dict[str, Any], settings: Settings,
                method_table: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """Every check of a fill request, before it is queued; HTTPException on the first failure."""
    from .. import io
    from .params import parse_params

    import inpaintkit

    requested = str(fields.get("method") or "auto")
    rows = {row["name"]: row for row in method_table()}
    if requested != "auto" and requested not in rows:
        raise HTTPException(422, f"unknown method {requested!r}; valid methods: auto, "
                            f"{', '.join(rows)}")
    if requested != "auto" and not rows[requested]["available"]:
        raise HTTPException(422, rows[requested]["error"])
    try:
        given = json.loads(fields.get("params") or "{}")
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"params must be a JSON object: {exc.msg}") from None
    if not isinstance(given, dict):
        raise HTTPException(422, f"params must be a JSON object, got {type(given).__name__}")
    if requested == "auto" and given:
        raise HTTPException(422, "method auto takes no parameters; pick a method to set them")
    try:
        params = parse_params(rows[requested], given) if requested != "auto" else {}
    except ValueError as exc:
        raise HTTPException(422, _one_line(exc)) from None
    try:
        seed = int(fields.get("seed") or 0)
    except ValueError:
        raise HTTPException(422, f"seed must be a whole number, got {fields.get('seed')!r}") from None
    image = _decode_image(fields, settings)
    mask_data = fields.get("mask")
    try:
        if isinstance(mask_data, bytes) and mask_data:
            hole = io.decode_mask(mask_data, image.shape[:2])
        else:
            hole = io.alpha_hole(image)
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, _one_line(exc)) from None
    holes = int(np.count_nonzero(hole))
    if holes == 0:
        raise HTTPException(422, "the mask marks no hole pixels: paint over what to remove")
    if holes == hole.size:
        raise HTTPException(422, "the mask covers the whole image: nothing is left to fill from")
    chosen = inpaintkit.choose_method(hole, image) if requested == "auto" else requested
    name = fields.get("filename") or fields.get("image.filename") or "result"
    return {"method": chosen, "requested": requested, "params": params, "seed": seed,
            "image": image, "mask": hole, "filename": str(name)[:80].rsplit(".", 1)[0]}
