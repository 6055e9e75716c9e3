"""Hostile and broken files, failing writes, interrupts: one line, nothing written.

Also the checks made before any work (output path and format, options, the image
size from its header) and the scoped ``--param METHOD.KEY``.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import inpaintkit
from inpaintkit import io
from inpaintkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def one_line(code, err):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("inpaintkit: error: ") and "Traceback" not in err
    return lines[0]


def _photo(shape=(32, 40, 3)):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 60 * np.sin(xx / 4.0) * np.cos(yy / 5.0)
    return np.clip(base[..., None] + rng.normal(0, 4, shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def folder(tmp_path):
    image = _photo()
    hole = np.zeros(image.shape[:2], bool)
    hole[12:16, 5:35] = True
    io.write_image(tmp_path / "photo.png", image)
    io.write_image(tmp_path / "mask.png", hole.astype(np.uint8) * 255)
    return tmp_path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(path: Path, width=100_000, height=100_000) -> Path:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
                     + _chunk(b"IEND", b""))
    return path


def jpeg_bomb(path: Path, side=65_000) -> Path:
    # A real JPEG with its start-of-frame size patched (JPEG sizes stop at 65535).
    small = io.write_image(path.with_name("small.jpg"), _photo()).read_bytes()
    at = small.index(b"\xff\xc0") + 5
    path.write_bytes(small[:at] + struct.pack(">HH", side, side) + small[at + 4:])
    return path


def tiff_bomb(path: Path, side=100_000) -> Path:
    # Little-endian TIFF, one IFD: 100000x100000 gray, one tiny deflated strip.
    data = zlib.compress(b"\x00" * 100)
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 8),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, side),
               (279, 4, 1, len(data))]
    ifd_at = 8 + len(data)
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries
    ) + struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", ifd_at) + data + ifd)
    return path


@pytest.mark.parametrize("make", [png_bomb, jpeg_bomb, tiff_bomb])
def test_header_bombs_are_refused_before_decoding(folder, capsys, make):
    suffix = {"png_bomb": ".png", "jpeg_bomb": ".jpg", "tiff_bomb": ".tif"}[make.__name__]
    bomb = make(folder / f"bomb{suffix}")
    assert bomb.stat().st_size < 10_000
    header = io.image_header(bomb)
    assert header.pixels > 4 * 10**9
    start = time.perf_counter()
    code, _, err = run(["fill", bomb, folder / "mask.png", "-o", folder / "out.png"], capsys)
    line = one_line(code, err)
    assert "too large" in line and "nothing was decoded" in line, line
    assert time.perf_counter() - start < 20  # decoding 10 gigapixels would take far longer
    assert not (folder / "out.png").exists()


def test_max_pixels_option_and_environment(folder, capsys, monkeypatch):
    args = ["fill", folder / "photo.png", folder / "mask.png", "-o", folder / "out.png"]
    line = one_line(*run(args + ["--max-pixels", "1000"], capsys)[::2])
    assert "header says 40x32 pixels (1280 pixels), the limit is 1000 pixels" in line, line
    line = one_line(*run(args + ["--max-pixels", "lots"], capsys)[::2])
    assert "--max-pixels must be a pixel count" in line
    monkeypatch.setenv("INPAINTKIT_MAX_PIXELS", "1K")
    assert "too large" in one_line(*run(args, capsys)[::2])
    with pytest.raises(ValueError, match="too large"):
        io.read_image(folder / "photo.png")
    with pytest.raises(ValueError, match="too large"):  # arrays too, not only files
        inpaintkit.inpaint(_photo(), np.eye(32, 40, dtype=bool), method="diffusion")
    # The option beats the variable.
    code, _, err = run(args + ["--max-pixels", "2M", "-m", "diffusion", "-q"], capsys)
    assert code == 0, err
    assert (folder / "out.png").exists()


def _formats(folder: Path) -> dict[str, bytes]:
    image = _photo()
    return {ext: io.write_image(folder / f"good{ext}", image).read_bytes()
            for ext in (".png", ".jpg", ".tif")}


def test_broken_files_one_line_nothing_written(folder, capsys):
    rng = np.random.default_rng(5)
    cases = {}
    for ext, data in _formats(folder).items():
        cases[f"empty{ext}"] = b""
        cases[f"random{ext}"] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
        for cut in (1, 8, 30, len(data) // 2, len(data) - 1):
            cases[f"cut{cut}{ext}"] = data[:cut]
    cases["text.png"] = b"hello, I am not a picture\n" * 20
    cases["gif_named.png"] = b"GIF89a" + bytes(40)
    for name, data in cases.items():
        path = folder / name
        path.write_bytes(data)
        for argv in (["fill", path, folder / "mask.png"], ["fill", folder / "photo.png", path]):
            code, _, err = run(argv + ["-o", folder / "out.png", "-m", "diffusion"], capsys)
            line = one_line(code, err)
            assert "cannot read" in line and name in line, line
            for jargon in ("libpng", "index `0`", "Errno", "Traceback", "struct.error"):
                assert jargon not in line, line
        assert not (folder / "out.png").exists()
        assert path.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_messages_in_plain_words(folder):
    data = (folder / "photo.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"the PNG file is cut short"):
        io.read_image(folder / "cut.png")
    (folder / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"the file is empty \(0 bytes\)"):
        io.read_image(folder / "empty.jpg")
    damaged = bytearray(data)
    damaged[60] ^= 0xFF
    (folder / "flip.png").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="fails its checksum"):
        io.read_image(folder / "flip.png")


def test_format_is_read_from_content_and_masks_in_other_formats(folder, capsys):
    image = _photo()
    hole = np.zeros(image.shape[:2], bool)
    hole[12:16, 5:35] = True
    contents = _formats(folder)
    # A PNG named .jpg, a TIFF named .png, a JPEG named .tif: read as what they are.
    for real, named in ((".png", ".jpg"), (".tif", ".png"), (".jpg", ".tif")):
        (folder / f"wrong{named}").write_bytes(contents[real])
        read = io.read_image(folder / f"wrong{named}")
        assert np.array_equal(read, io.read_image(folder / f"good{real}"))
    mask_png = io.write_image(folder / "m.png", hole.astype(np.uint8) * 255)
    mask_tif = io.write_image(folder / "m.tif", hole.astype(np.uint16) * 65535)
    mask_jpg = io.write_image(folder / "m.jpg", hole.astype(np.uint8) * 255)
    for photo, mask in ((folder / "good.jpg", mask_png), (folder / "good.png", mask_tif),
                        (folder / "good.tif", mask_jpg), (folder / "wrong.jpg", mask_tif)):
        out = folder / "out.png"
        code, _, err = run(["fill", photo, mask, "-o", out, "-m", "diffusion", "-q",
                            "--overwrite"], capsys)
        assert code == 0, err
        result = io.read_image(out)
        assert np.array_equal(result[~hole], io.read_image(photo)[~hole])


def test_checks_come_before_reading(folder, capsys, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the image was read before a check that needs no pixels")

    monkeypatch.setattr(io, "read_image", no_reading)
    base = ["fill", folder / "photo.png", folder / "mask.png"]
    cases = [
        (["-o", folder / "out.webp"], "unsupported extension .webp"),
        (["-o", folder / "missing" / "out.png"], "output folder does not exist"),
        (["-o", folder / "out.png", "-m", "nosuch"], "unknown method 'nosuch'"),
        (["-o", folder / "out.png", "-p", "nosuch=1"], "no method takes it"),
        (["-o", folder / "out.png", "-p", "patchmatch.nosuch=1"],
         "unknown parameter 'nosuch' for method 'patchmatch'"),
        (["-o", folder / "out.png", "-p", "planarz.patch_size=1"], "unknown method 'planarz'"),
        (["-o", folder / "out.png", "-m", "diffusion", "-p", "patch_size=9"],
         "unknown parameter 'patch_size' for method 'diffusion'"),
        (["-o", folder / "out.png", "--max-pixels", "0"], "positive pixel count"),
    ]
    for extra, expected in cases:
        line = one_line(*run(base + extra, capsys)[::2])
        assert expected in line, (extra, line)
    monkeypatch.setattr(io.os, "access", lambda path, mode: not mode & os.W_OK)
    line = one_line(*run(base + ["-o", folder / "out.png"], capsys)[::2])
    assert "is not writable" in line


def test_scoped_params_under_auto(folder, capsys):
    base = ["fill", folder / "photo.png", folder / "mask.png", "-o", folder / "out.png",
            "--overwrite"]
    # A thin hole: auto picks diffusion; the patchmatch option waits for patchmatch.
    code, _, err = run(base + ["-p", "patchmatch.patch_size=9", "-p", "diffusion.variant=tv"],
                       capsys)
    assert code == 0 and "auto -> diffusion" in err and "warning" not in err, err
    code, _, err = run(base + ["-p", "patch_size=9"], capsys)
    assert code == 0, err
    assert "warning: parameter 'patch_size' is not used: method auto picked 'diffusion'" in err
    # The API says the same.
    image, hole = _photo(), np.zeros((32, 40), bool)
    hole[12:16, 5:35] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scoped = inpaintkit.inpaint(image, hole, **{"patchmatch.patch_size": 9,
                                                    "diffusion.variant": "tv"})
    assert np.array_equal(scoped, inpaintkit.inpaint(image, hole, method="diffusion",
                                                     variant="tv"))
    with pytest.warns(UserWarning, match="not used: method auto picked 'diffusion'"):
        inpaintkit.inpaint(image, hole, patch_size=9)
    with pytest.raises(ValueError, match="no method takes it"):
        inpaintkit.inpaint(image, hole, nosuch=1)
    with pytest.raises(ValueError, match="unknown parameter 'nosuch' for method 'patchmatch'"):
        inpaintkit.inpaint(image, hole, **{"patchmatch.nosuch": 1})
    with pytest.warns(UserWarning, match="is for 'patchmatch' and the method is 'diffusion'"):
        inpaintkit.inpaint(image, hole, method="diffusion", **{"patchmatch.patch_size": 9})


@pytest.mark.parametrize("failure, expected", [
    (errno.ENOSPC, "no space left on the device"),
    (errno.EROFS, "the file system is read-only"),
])
def test_failing_writes_leave_nothing(folder, capsys, monkeypatch, failure, expected):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(name, *args, **kwargs):
        with open(name, "wb") as half:
            half.write(b"\x89PNG half a file")
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(io, "_write_file", full_disk)
    code, _, err = run(["fill", folder / "photo.png", folder / "mask.png", "-o",
                        folder / "out.png", "-m", "diffusion"], capsys)
    line = one_line(code, err)
    assert f"cannot write {folder / 'out.png'}: {expected}" in line, line
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_read_only_folder_at_write_time(folder, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(io.tempfile, "mkstemp", refuse)
    code, _, err = run(["fill", folder / "photo.png", folder / "mask.png", "-o",
                        folder / "out.png", "-m", "diffusion"], capsys)
    assert "permission denied" in one_line(code, err)
    assert not (folder / "out.png").exists()


def test_interrupt_during_write_removes_the_temporary(folder, monkeypatch):
    def interrupted(name, *args, **kwargs):
        with open(name, "wb") as half:
            half.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "_write_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.write_image(folder / "out.png", _photo())
    assert sorted(p.name for p in folder.iterdir()) == ["mask.png", "photo.png"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_fill_leaves_no_output(tmp_path, signum):
    # A fill that lasts a few seconds: patchmatch on a 300x300 photo with a big hole.
    image = _photo((300, 300, 3))
    hole = np.zeros((300, 300), bool)
    hole[60:240, 60:240] = True
    io.write_image(tmp_path / "photo.png", image)
    io.write_image(tmp_path / "mask.png", hole.astype(np.uint8) * 255)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "inpaintkit", "fill", str(tmp_path / "photo.png"),
         str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.png"), "--param",
         "iterations=20"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        # A shell without job control starts background jobs with SIGINT ignored, and
        # the child inherits that (Python then keeps it ignored, as it should for
        # `nohup ... &`): give the child the default disposition a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = process.stderr.readline()  # "method auto -> patchmatch": the fill starts
    assert "auto -> patchmatch" in first, first
    time.sleep(0.5)
    assert process.poll() is None, "the fill ended before it could be interrupted"
    process.send_signal(signum)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, rest
    lines = [line for line in rest.splitlines() if line.strip()]
    assert lines == ["inpaintkit: error: interrupted; nothing was written"], rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png", "photo.png"]


def test_without_torch_learned_methods_say_which_extra(folder):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from inpaintkit.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    listing = subprocess.run([sys.executable, "-c", code, "methods"], capture_output=True,
                             text=True, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "diffusion" in listing.stdout
    for name in ("gl", "pconv", "gdn", "edgeconnect"):
        row = listing.stdout.split(f"\n{name} ")[1].split("\n")[1]
        assert "unavailable" in row and "pip install 'inpaintkit[learned]'" in row, row
    fill = subprocess.run([sys.executable, "-c", code, "fill", str(folder / "photo.png"),
                           str(folder / "mask.png"), "-o", str(folder / "out.png"), "-m",
                           "pconv"], capture_output=True, text=True, env=env)
    lines = [line for line in fill.stderr.splitlines() if line.strip()]
    assert fill.returncode != 0 and len(lines) == 1, fill.stderr
    assert "pip install 'inpaintkit[learned]'" in lines[0] and "Traceback" not in fill.stderr
    assert not (folder / "out.png").exists()


def test_memory_estimate_refuses_before_starting(monkeypatch, folder, capsys):
    from inpaintkit import _image

    monkeypatch.setattr(_image, "available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match="not enough memory: patchmatch on a 40x32 image"):
        inpaintkit.inpaint(_photo(), np.eye(32, 40, dtype=bool), method="patchmatch")
    line = one_line(*run(["fill", folder / "photo.png", folder / "mask.png", "-o",
                          folder / "out.png"], capsys)[::2])
    assert "not enough memory" in line
    assert not (folder / "out.png").exists()


def test_large_images_filled_by_windows_match_one_global_fill(monkeypatch):
    import cv2

    from inpaintkit import _windows
    from inpaintkit.algorithms.diffusion import inpaint_diffusion

    rng = np.random.default_rng(0)
    image = _photo((300, 320, 3))
    canvas = np.zeros((300, 320), np.uint8)
    for _ in range(5):
        points = rng.integers(0, 300, (2, 2))
        cv2.line(canvas, tuple(map(int, points[0])), tuple(map(int, points[1])), 1,
                 int(rng.integers(2, 7)))
    canvas[140:170, 150:175] = 1  # one deeper blob: its window grows
    hole = canvas.view(bool)
    monkeypatch.setattr(_windows, "MIN_PIXELS", 1000)
    monkeypatch.setattr(_windows, "CORE", 64)
    calls = []
    real = _windows.fill
    monkeypatch.setattr(_windows, "fill", lambda *a, **k: calls.append(1) or real(*a, **k))
    for variant in ("tension", "biharmonic", "telea"):
        windowed = inpaintkit.inpaint(image, hole, method="diffusion", variant=variant)
        whole = inpaint_diffusion(image, hole, variant=variant)
        assert np.array_equal(windowed, whole), variant
    assert len(calls) == 3
    inpaintkit.inpaint(image, hole, method="diffusion", variant="tv")  # not local: global
    assert len(calls) == 3


def test_auto_choice_by_erosion_matches_the_distance_transform():
    import cv2

    rng = np.random.default_rng(2)
    for trial in range(60):
        shape = tuple(rng.integers(10, 60, 2))
        hole = rng.random(shape) < rng.uniform(0.3, 0.995)
        depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        deep = np.count_nonzero(depth[hole] > inpaintkit.THIN_HOLE_RADIUS) / hole.sum()
        expected = "diffusion" if deep < inpaintkit.DEEP_HOLE_FRACTION else "patchmatch"
        assert inpaintkit.choose_method(hole) == expected


def test_rgba_to_jpeg_is_refused_before_the_fill(folder, capsys, monkeypatch):
    image = np.dstack([_photo(), np.full((32, 40), 255, np.uint8)])
    image[12:16, 5:35, 3] = 0
    io.write_image(folder / "cutout.png", image)

    def no_fill(*args, **kwargs):
        raise AssertionError("the fill ran before the output format was checked")

    monkeypatch.setattr(inpaintkit, "inpaint", no_fill)
    line = one_line(*run(["fill", folder / "cutout.png", "-o", folder / "out.jpg"], capsys)[::2])
    assert "JPEG, which cannot store the alpha channel" in line


def test_memory_refusal_before_decoding_for_a_named_method(folder, capsys, monkeypatch):
    from inpaintkit import _image

    def no_reading(*args, **kwargs):
        raise AssertionError("decoded before the memory check")

    monkeypatch.setattr(_image, "available_memory", lambda: 1000)
    monkeypatch.setattr(io, "read_image", no_reading)
    line = one_line(*run(["fill", folder / "photo.png", folder / "mask.png", "-o",
                          folder / "out.png", "-m", "patchmatch"], capsys)[::2])
    assert "not enough memory: patchmatch on a 40x32 image" in line


def test_deep_holes_are_not_windowed_and_estimated_whole(monkeypatch):
    from inpaintkit import _image, _windows

    monkeypatch.setattr(_windows, "MIN_PIXELS", 1000)
    monkeypatch.setattr(_windows, "MAX_DEPTH", 4)
    thin = np.zeros((60, 60), bool)
    thin[30:33, 5:55] = True
    deep = np.zeros((60, 60), bool)
    deep[10:50, 10:50] = True
    assert _windows.worth_it("diffusion", deep.shape, {}, thin)
    assert not _windows.worth_it("diffusion", deep.shape, {}, deep)
    # The estimate for a deep hole is the one-piece estimate, so it can refuse.
    monkeypatch.setattr(_image, "available_memory", lambda: 4 * 2**20)
    monkeypatch.setattr(_image, "IMPORT_COST", {"classical": 0, "learned": 0})
    monkeypatch.setitem(_image.MEMORY_COST, "diffusion", (60.0, 3000.0))
    with pytest.raises(MemoryError, match="not enough memory: diffusion"):
        inpaintkit.inpaint(np.zeros((60, 60, 3), np.uint8), deep, method="diffusion")
