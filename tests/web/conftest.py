"""Fixtures for the web app: an in-process TestClient and a real server in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'inpaintkit[web]')")
pytest.importorskip("httpx", reason="httpx is needed by FastAPI's TestClient")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_client():
    """A factory for TestClients on fresh apps (each with its own queue), closed after the test."""
    from fastapi.testclient import TestClient

    from inpaintkit.web import Settings, create_app

    clients = []

    def make(**settings) -> TestClient:
        client = TestClient(create_app(Settings(**settings)), base_url="http://127.0.0.1:8000")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


def start_server(*args: str, timeout: float = 60.0):
    """Run ``inpaintkit serve --port 0 ARGS`` and return (process, base URL).

    The server's stderr goes to a temporary file (a pipe nobody drains would block the
    server once full); ``process.log_path`` names it.
    """
    import tempfile

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               NUMBA_NUM_THREADS=os.environ.get("NUMBA_NUM_THREADS", "1"))
    log = tempfile.NamedTemporaryFile("w+", prefix="inpaintkit-serve-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "inpaintkit", "serve", "--port", "0", *args],
                               stderr=log, stdout=subprocess.DEVNULL, text=True, env=env)
    process.log_path = log.name
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline and process.poll() is None:
        text = Path(log.name).read_text()
        match = re.search(r"serving on (http://\S+/)", text)
        if match:
            return process, match.group(1)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("inpaintkit serve did not start:\n" + Path(log.name).read_text())


@pytest.fixture
def server():
    process, url = start_server()
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
