"""``inpaintkit serve`` on the command line: help, loopback warning, a busy port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from inpaintkit.cli.serve import _is_loopback

from .conftest import REPO, start_server


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "inpaintkit", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_help_lists_the_options():
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--open", "--workers", "--queue", "--allow-host",
                   "--max-upload-mb", "--max-megapixels"):
        assert option in result.stdout


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False),
])
def test_is_loopback(host, loopback):
    assert _is_loopback(host) is loopback


def test_busy_port_is_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"inpaintkit: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_non_loopback_host_prints_a_warning():
    process, url = start_server("--host", "0.0.0.0")
    try:
        log = Path(process.log_path).read_text()
        assert "warning: listening on 0.0.0.0, not loopback" in log
        assert url.startswith("http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(10)
