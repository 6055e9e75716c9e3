"""The command line: fill end to end, refusals, one-line errors, exit codes."""

import subprocess
import sys

import numpy as np
import pytest

from inpaintkit import io
from inpaintkit.cli import main


def run(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    image = np.stack([yy * 5, xx * 4, (yy + xx) * 2], axis=2).astype(np.uint8)
    image = np.clip(image.astype(int) + rng.integers(-2, 3, image.shape), 0, 255).astype(np.uint8)
    hole = np.zeros((40, 48), bool)
    hole[15:20, 10:40] = True
    image_path = io.write_image(tmp_path / "photo.png", image)
    mask_path = io.write_image(tmp_path / "mask.png", hole.astype(np.uint8) * 255)
    return tmp_path, image, hole, image_path, mask_path


def one_line_error(code, err):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("inpaintkit: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_fill_writes_result_and_keeps_known_pixels(files, capsys):
    folder, image, hole, image_path, mask_path = files
    out = folder / "out.png"
    before = image_path.read_bytes(), mask_path.read_bytes()
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(out),
                        "--method", "diffusion"], capsys)
    assert code == 0, err
    result = io.read_image(out)
    assert result.shape == image.shape and result.dtype == np.uint8
    assert np.array_equal(result[~hole], image[~hole])
    # A smooth ramp: the fill is close to the truth.
    assert np.abs(result[hole].astype(int) - image[hole].astype(int)).mean() < 6
    assert (image_path.read_bytes(), mask_path.read_bytes()) == before
    assert "filled 150 pixels with diffusion" in err


def test_auto_says_what_it_picked(files, capsys):
    folder, _, _, image_path, mask_path = files
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(folder / "o.png")], capsys)
    assert code == 0, err
    assert "method auto -> diffusion" in err


def test_params_are_parsed_and_checked(files, capsys):
    folder, _, _, image_path, mask_path = files
    out = str(folder / "o.png")
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", out, "-m", "diffusion",
                        "--param", "variant=harmonic"], capsys)
    assert code == 0, err
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", out, "--overwrite",
                        "-m", "diffusion", "--param", "variant"], capsys)
    assert "--param must look like KEY=VALUE" in one_line_error(code, err)
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", out, "--overwrite",
                        "-m", "diffusion", "--param", "nope=1"], capsys)
    line = one_line_error(code, err)
    assert "unknown parameter 'nope'" in line and "variant" in line
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", out, "--overwrite",
                        "-m", "nosuch"], capsys)
    line = one_line_error(code, err)
    assert "unknown method 'nosuch'" in line and "diffusion" in line and "patchmatch" in line


def test_refusals(files, capsys):
    folder, _, _, image_path, mask_path = files
    before = image_path.read_bytes()
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(image_path), "--overwrite"], capsys)
    assert "refusing to write over the input" in one_line_error(code, err)
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(mask_path), "--overwrite"], capsys)
    assert "refusing to write over the input" in one_line_error(code, err)
    assert image_path.read_bytes() == before
    existing = folder / "exists.png"
    existing.write_bytes(b"keep me")
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(existing)], capsys)
    assert "pass --overwrite" in one_line_error(code, err)
    assert existing.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: ["fill", str(d / "none.png"), str(d / "mask.png")], "image file not found"),
        (lambda d: ["fill", str(d), str(d / "mask.png")], "is a folder"),
        (lambda d: ["fill", str(d / "junk.png"), str(d / "mask.png")], "cannot read image"),
        (lambda d: ["fill", str(d / "photo.png"), str(d / "small.png")], "but the image is 48x40"),
        (lambda d: ["fill", str(d / "photo.png"), str(d / "blank.png")], "marks no hole pixels"),
        (lambda d: ["fill", str(d / "photo.png"), str(d / "full.png")], "covers the whole image"),
        (lambda d: ["fill", str(d / "photo.png")], "no alpha channel"),
    ],
)
def test_bad_input_one_line_nothing_written(files, capsys, make, expected):
    folder = files[0]
    (folder / "junk.png").write_bytes(b"garbage")
    io.write_image(folder / "small.png", np.zeros((10, 10), np.uint8))
    io.write_image(folder / "blank.png", np.zeros((40, 48), np.uint8))
    io.write_image(folder / "full.png", np.full((40, 48), 255, np.uint8))
    out = folder / "never.png"
    code, _, err = run(make(folder) + ["-o", str(out), "-m", "diffusion"], capsys)
    assert expected in one_line_error(code, err)
    assert not out.exists()


def test_invert_mask_and_alpha_as_mask(files, capsys):
    folder, image, hole, image_path, _ = files
    inverted = io.write_image(folder / "inv.png", (~hole).astype(np.uint8) * 255)
    out = folder / "inv_out.png"
    code, _, err = run(["fill", str(image_path), str(inverted), "-o", str(out), "--invert-mask",
                        "-m", "diffusion"], capsys)
    assert code == 0, err
    assert np.array_equal(io.read_image(out)[~hole], image[~hole])
    rgba = np.concatenate([image, np.full((40, 48, 1), 255, np.uint8)], axis=2)
    rgba[hole, 3] = 0
    cut = io.write_image(folder / "cut.png", rgba)
    code, _, err = run(["fill", str(cut), "-o", str(folder / "cut_out.png"), "-m", "diffusion"], capsys)
    assert code == 0, err
    result = io.read_image(folder / "cut_out.png")
    assert np.all(result[..., 3] == 255)  # the hole takes the nearest alpha: opaque
    assert np.abs(result[hole, :3].astype(int) - image[hole].astype(int)).mean() < 6


def test_usage_error_is_one_line(capsys):
    code, _, err = run(["fill"], capsys)
    assert "Missing argument 'IMAGE'" in one_line_error(code, err)


def test_version_methods_and_help(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and "inpaintkit, version" in out
    code, out, _ = run(["methods"], capsys)
    assert code == 0
    for name in ("diffusion", "patchmatch", "criminisi", "pconv"):
        assert name in out
    code, out, _ = run(["fill", "--help"], capsys)
    assert code == 0 and "--invert-mask" in out and "--overwrite" in out


def test_console_script_runs_as_a_process(files):
    """The installed entry point: exit status and stderr of a real process."""
    folder, _, _, image_path, mask_path = files
    proc = subprocess.run([sys.executable, "-m", "inpaintkit", "fill", str(image_path),
                           str(folder / "missing_mask.png"), "-o", str(folder / "x.png")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"inpaintkit: error: mask file not found: {folder / 'missing_mask.png'}"


def test_fill_refuses_options_that_return_more_than_an_image(files, capsys):
    folder, _, _, image_path, mask_path = files
    out = folder / "o.png"
    code, _, err = run(["fill", str(image_path), str(mask_path), "-o", str(out), "-m", "criminisi",
                        "--param", "return_fill_order=true"], capsys)
    assert "return_fill_order makes criminisi return more than an image" in one_line_error(code, err)
    assert not out.exists()


def test_mask_params_are_read_from_files(files, capsys):
    folder, image, hole, image_path, mask_path = files
    image = image.copy()
    image[20:, :] = (230, 10, 10)  # red below the hole: copied from unless excluded
    image_path = io.write_image(folder / "red.png", image)
    red = np.zeros(hole.shape, bool)
    red[20:, :] = True
    exclude_path = io.write_image(folder / "exclude.png", red.astype(np.uint8) * 255)

    def reds(out):
        result = io.read_image(out)
        assert np.array_equal(result[~hole], image[~hole])
        fill = result[hole].astype(int)
        return int(((fill[:, 0] > 150) & (fill[:, 1] < 60)).sum())

    # The mean vote: hole pixels are means of source pixels only (the default
    # gradient-domain vote also blends towards the known border, red included).
    base = ["fill", str(image_path), str(mask_path), "-m", "patchmatch", "-p", "patch_size=5",
            "-p", "final_vote=mean"]
    code, _, err = run(base + ["-o", str(folder / "free.png")], capsys)
    assert code == 0, err
    assert reds(folder / "free.png") > 0
    code, _, err = run(base + ["-p", f"source_mask={exclude_path}", "-o", str(folder / "kept.png")],
                       capsys)
    assert code == 0, err
    assert reds(folder / "kept.png") == 0
    # The mask option's file is an input: never written over, and read with checks.
    before = exclude_path.read_bytes()
    code, _, err = run(base + ["-p", f"source_mask={exclude_path}", "-o", str(exclude_path),
                               "--overwrite"], capsys)
    assert "refusing to write over the input" in one_line_error(code, err)
    assert exclude_path.read_bytes() == before
    code, _, err = run(base + ["-p", f"source_mask={folder / 'gone.png'}", "-o",
                               str(folder / "x.png")], capsys)
    assert "not found" in one_line_error(code, err)
    io.write_image(folder / "small.png", np.zeros((10, 10), np.uint8))
    code, _, err = run(base + ["-p", f"source_mask={folder / 'small.png'}", "-o",
                               str(folder / "x.png")], capsys)
    assert "but the image is 48x40" in one_line_error(code, err)
    assert not (folder / "x.png").exists()
