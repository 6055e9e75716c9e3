"""The weights manager: catalogue, cache folder, fetch from a loopback HTTP server
(complete, interrupted then resumed with a Range request, corrupted), add, and
``weights=NAME`` wherever ``weights=PATH`` is accepted."""

import hashlib
import http.server
import io
import json
import threading
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inpaintkit import inpaint, learned  # noqa: E402
from inpaintkit.cli import main  # noqa: E402
from inpaintkit.learned import lama, manager  # noqa: E402
from inpaintkit.learned.manager import WeightsError  # noqa: E402

from test_lama import write_lightning_checkpoint  # noqa: E402  (tests/learned is on the path)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files[path]`` with Range support; ``server.cut[path] = n`` sends
    only the first n bytes of the body of the next full response and closes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        files, log = self.server.files, self.server.log
        body = files.get(self.path)
        log.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        header = self.headers.get("Range")
        if header and self.server.ranges:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = self.server.cut.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[start:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.log, httpd.cut, httpd.ranges = {}, [], {}, True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INPAINTKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A generated checkpoint in the authors' Lightning layout (small config), its bytes,
    and the network it holds."""
    torch.manual_seed(11)
    net = lama.LamaGenerator(lama.LamaConfig.small()).eval()
    path = write_lightning_checkpoint(tmp_path_factory.mktemp("pub") / "best.ckpt", net)
    return path.read_bytes(), net


def _entry(monkeypatch, server, name, body, **fields):
    server.files[f"/{name}"] = body
    url = f"http://127.0.0.1:{server.server_address[1]}/{name}"
    item = manager.Published(name=name, model="lama", network="test", config="small", paper="-",
                             data="-", licence="-", files=fields.pop("files", ("best.ckpt",)),
                             page="-", url=url, **fields)
    monkeypatch.setitem(manager.CATALOGUE, name, item)
    return item


def test_catalogue_is_complete_and_offline():
    for item in manager.CATALOGUE.values():
        assert item.model in learned.MODELS
        assert item.network and item.paper and item.data and item.licence and item.files and item.page
        assert item.url is None or item.url.startswith(("http://", "https://"))
    assert manager.CATALOGUE["big-lama"].member == "models/best.ckpt"
    assert manager.CATALOGUE["big-lama-torchscript"].md5 == "e3aa4aaa15225a33ec84f9f4bc47e500"
    statuses = {e["name"]: e["status"] for e in manager.entries()}
    assert statuses["big-lama"] == "not fetched" and statuses["lama-fourier"] == "manual download"


def test_cache_folder_follows_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.delenv("INPAINTKIT_CACHE")
    monkeypatch.setattr(manager.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert manager.cache_dir() == tmp_path / "xdg" / "inpaintkit" / "weights"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert manager.cache_dir() == tmp_path / "home" / ".cache" / "inpaintkit" / "weights"
    monkeypatch.setattr(manager.sys, "platform", "darwin")
    assert manager.cache_dir() == tmp_path / "home" / "Library" / "Caches" / "inpaintkit" / "weights"
    monkeypatch.setattr(manager.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert manager.cache_dir() == tmp_path / "local" / "inpaintkit" / "Cache" / "weights"


def test_fetch_verifies_registers_and_weights_name_works(monkeypatch, server, published, cache):
    body, net = published
    _entry(monkeypatch, server, "test-lama", body, md5=hashlib.md5(body).hexdigest(),
           sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    path = manager.fetch("test-lama", progress=False)
    assert path == cache / "test-lama" / "best.ckpt" and path.read_bytes() == body
    assert not list(cache.glob("test-lama/*.part")) and not list(cache.glob("test-lama/.staging*"))
    registry = json.loads((cache / "registry.json").read_text())
    assert registry["test-lama"]["source_sha256"] == hashlib.sha256(body).hexdigest()
    assert manager.fetch("test-lama", progress=False) == path and len(server.log) == 1  # cached
    backend = learned.load("lama", weights="test-lama", device="cpu")
    image = torch.rand(1, 3, 32, 32)
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 8:20, 8:20] = 1
    with torch.no_grad():
        torch.testing.assert_close(backend.networks["generator"](image, hole), net(image, hole))
    array = np.random.default_rng(0).random((40, 40, 3))
    mask = np.zeros((40, 40), bool)
    mask[10:25, 10:25] = True
    out = inpaint(array, mask, method="lama", weights="test-lama", device="cpu")
    assert np.array_equal(out[~mask], array[~mask])
    with pytest.raises(WeightsError, match="are for 'lama', not 'gl'"):
        learned.load("gl", weights="test-lama", device="cpu")


def test_interrupted_transfer_resumes_with_a_range_request(monkeypatch, server, published, cache):
    body, _ = published
    _entry(monkeypatch, server, "test-lama", body, md5=hashlib.md5(body).hexdigest())
    server.cut["/test-lama"] = len(body) // 3
    with pytest.raises(WeightsError, match="interrupted.*run the same fetch again to resume"):
        manager.fetch("test-lama", progress=False, retries=0)
    part = cache / "test-lama" / "best.ckpt.part"
    assert part.stat().st_size == len(body) // 3
    with pytest.raises(WeightsError, match="not in the cache"):
        manager.path_of("test-lama")
    path = manager.fetch("test-lama", progress=False)
    assert path.read_bytes() == body and not part.exists()
    assert server.log[-1] == ("/test-lama", f"bytes={len(body) // 3}-")
    # A dropped connection inside one fetch is resumed automatically.
    _entry(monkeypatch, server, "test-lama-2", body)
    server.cut["/test-lama-2"] = len(body) // 2
    manager.fetch("test-lama-2", progress=False, retries=2)
    assert [r for p, r in server.log if p == "/test-lama-2"] == [None, f"bytes={len(body) // 2}-"]
    # A server that ignores Range sends it all again: the part is restarted, not appended.
    _entry(monkeypatch, server, "test-lama-3", body)
    server.ranges = False
    server.cut["/test-lama-3"] = 1000
    assert manager.fetch("test-lama-3", progress=False, retries=1).read_bytes() == body


def test_corrupted_transfers_are_refused_and_removed(monkeypatch, server, published, cache):
    body, _ = published
    flipped = bytearray(body)
    flipped[len(body) // 2] ^= 0xFF
    _entry(monkeypatch, server, "test-lama", bytes(flipped), md5=hashlib.md5(body).hexdigest())
    with pytest.raises(WeightsError, match="md5 .* not the published"):
        manager.fetch("test-lama", progress=False)
    assert not (cache / "test-lama" / "best.ckpt.part").exists()
    assert "test-lama" not in json.loads((cache / "registry.json").read_text() if (cache / "registry.json").exists() else "{}")
    # Without a published checksum the strict load is the check: a truncated file served
    # as if complete is refused, and so is a checkpoint of another shape.
    _entry(monkeypatch, server, "test-cut", body[: len(body) // 2])
    with pytest.raises(ValueError, match="truncated or not a PyTorch checkpoint"):
        manager.fetch("test-cut", progress=False)
    assert not list((cache / "test-cut").iterdir())
    with pytest.raises(WeightsError, match="not in the cache"):
        learned.load("lama", weights="test-cut", device="cpu")
    _entry(monkeypatch, server, "test-size", body, size=len(body) + 1)
    with pytest.raises(WeightsError, match="published file is"):
        manager.fetch("test-size", progress=False)
    server.files.pop("/test-size")
    with pytest.raises(WeightsError, match="HTTP 404"):
        manager.fetch("test-size", progress=False, force=True)


def test_fetch_unpacks_the_authors_zip(monkeypatch, server, published):
    body, net = published
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big-lama/config.yaml", "generator:\n  kind: ffc_resnet\n")
        archive.writestr("big-lama/models/best.ckpt", body)
    _entry(monkeypatch, server, "test-zip", buffer.getvalue(), member="models/best.ckpt",
           files=("big-lama.zip", "big-lama/models/best.ckpt"))
    path = manager.fetch("test-zip", progress=False)
    assert path.name == "best.ckpt" and path.read_bytes() == body
    assert (path.parent / "config.yaml").exists() and not list(path.parent.glob("*.zip*"))


def test_add_checks_and_copies(tmp_path, published, cache):
    body, _ = published
    source = tmp_path / "copied.ckpt"
    source.write_bytes(body)
    cached = manager.add("mine", source)  # model found by trying each reader
    assert cached.read_bytes() == body and cached.parent == cache / "mine"
    assert manager.path_of("mine") == cached and source.exists()
    assert {e["name"]: e["status"] for e in manager.entries()}["mine"] == "cached"
    assert learned.load("lama", weights="mine", device="cpu").config.width == 16
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a checkpoint any inpaintkit model reads"):
        manager.add("junk", junk)
    # A catalogue name: the published checksum must match.
    with pytest.raises(WeightsError, match="not the published"):
        manager.add("big-lama-torchscript", source)
    with pytest.raises(WeightsError, match="letters, digits"):
        manager.add("../evil", source)
    with pytest.raises(WeightsError, match="unknown weights name 'nosuch'"):
        learned.load("lama", weights="nosuch", device="cpu")


def test_cli_weights_commands(tmp_path, monkeypatch, server, published, capsys, cache):
    body, _ = published
    _entry(monkeypatch, server, "test-lama", body)
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", "list"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "big-lama  [lama]  not fetched" in out and "Apache-2.0" in out and "smartywu/big-lama" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", "fetch", "test-lama"])
    assert exit_info.value.code == 0
    assert str(cache / "test-lama" / "best.ckpt") in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["weights", "path", "test-lama"])
    assert capsys.readouterr().out.strip() == str(cache / "test-lama" / "best.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", "fetch", "lama-fourier"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("inpaintkit: error: 'lama-fourier' has no direct download") and err.count("\n") == 1
    (tmp_path / "b.ckpt").write_bytes(body)
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", "add", "other", str(tmp_path / "b.ckpt"), "--model", "lama"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("other: ")
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", "list", "--json"])
    names = {e["name"] for e in json.loads(capsys.readouterr().out)}
    assert {"big-lama", "test-lama", "other"} <= names
