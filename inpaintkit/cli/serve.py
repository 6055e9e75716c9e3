"""``inpaintkit serve``: run the local web app (paint the hole in a browser, fill, compare)."""

from __future__ import annotations

import threading

import click


def _is_loopback(host: str) -> bool:
    import ipaddress  # here, as socket below: `inpaintkit --help` imports this module
    import socket

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except (OSError, ValueError):
            return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets other machines use it.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Fills run at once.")
@click.option("--queue", "max_queued", default=8, show_default=True, type=click.IntRange(0, 1000),
              help="Fills that may wait; more are refused with HTTP 429.")
@click.option("--max-results", default=16, show_default=True, type=click.IntRange(1, 10000),
              help="Finished results kept in memory (oldest dropped first).")
@click.option("--result-ttl", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Minutes a result is kept in memory.")
@click.option("--job-timeout", default=15.0, show_default=True, type=click.FloatRange(0),
              help="Minutes a fill may run (0: no limit).")
@click.option("--max-upload-mb", default=256, show_default=True, type=click.IntRange(1),
              help="Largest upload, in MiB (HTTP 413 beyond).")
@click.option("--max-megapixels", default=50.0, show_default=True, type=click.FloatRange(0.001),
              help="Largest image, in megapixels (HTTP 413 beyond).")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name the server answers to besides localhost and IP addresses "
                   "(repeatable). Other names are refused, against DNS rebinding.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def command(host: str, port: int, open_browser: bool, workers: int, max_queued: int,
            max_results: int, result_ttl: float, job_timeout: float, max_upload_mb: int,
            max_megapixels: float, allowed_hosts: tuple[str, ...], log_level: str) -> None:
    """Serve the inpainting page on http://HOST:PORT/ until Ctrl+C.

    Open a photo, paint over what should go, pick a method, Run; compare methods side
    by side and download the result as PNG at the photo's bit depth. Everything stays
    in memory; the API is documented at /docs.
    """
    try:
        import uvicorn

        from ..web import Settings, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"serve needs {getattr(exc, 'name', None) or exc}: install it with "
            "pip install 'inpaintkit[web]'") from None
    if not _is_loopback(host):
        click.echo(f"inpaintkit: warning: listening on {host}, not loopback: anyone who can reach "
                   "this machine can use the server (there is no login)", err=True)
    settings = Settings(
        max_upload_bytes=max_upload_mb * 2**20, max_pixels=int(max_megapixels * 1e6),
        allowed_hosts=tuple(allowed_hosts), workers=workers, max_queued=max_queued,
        max_results=max_results, result_ttl=result_ttl * 60,
        job_timeout=job_timeout * 60 or None)
    app = create_app(settings)
    import socket

    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown_host}:{sock.getsockname()[1]}/"
    click.echo(f"inpaintkit: serving on {url} (Ctrl+C to stop)", err=True)
    if open_browser:
        import webbrowser  # here, not at the top: `inpaintkit --help` imports this module

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
