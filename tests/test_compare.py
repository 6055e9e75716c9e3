"""compare(): every method's row, failures as one-line rows, scores, best marks; the CLI."""

import math
import textwrap

import numpy as np
import pytest

import inpaintkit
from inpaintkit import io, registry
from inpaintkit.cli import main
from inpaintkit.comparison import Comparison, MethodRun, best_methods


@pytest.fixture()
def case():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    truth = np.stack([yy * 5, xx * 4, (yy + xx) * 2], axis=2).astype(np.int64)
    truth = np.clip(truth + rng.integers(-3, 4, truth.shape), 0, 255).astype(np.uint8)
    hole = np.zeros((40, 48), bool)
    hole[14:22, 10:38] = True
    image = truth.copy()
    image[hole] = 255  # what the methods get: the hole's pixels must not matter
    return image, hole, truth


@pytest.fixture()
def broken_method(tmp_path, monkeypatch):
    """Register 'broken' (raises inside) and 'copycat' (fills with the mean): methods
    that arrive from outside the built-in list, as plugins or later merges do."""
    module = tmp_path / "fake_methods.py"
    module.write_text(textwrap.dedent("""
        import numpy as np

        def broken(image, mask, *, strength=1, seed=0):
            raise RuntimeError("kernel exploded\\nsecond line that must not show")

        def copycat(image, mask, *, seed=0):
            out = image.copy()
            out[np.asarray(mask, bool)] = image[~np.asarray(mask, bool)].mean(axis=0).astype(image.dtype)
            return out
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry._METHODS, "broken",
                        registry.MethodSpec("broken", "classical", "fake_methods:broken", "raises"))
    monkeypatch.setitem(registry._METHODS, "copycat",
                        registry.MethodSpec("copycat", "classical", "fake_methods:copycat", "mean"))


def test_rows_results_and_scores(case):
    image, hole, truth = case
    comparison = inpaintkit.compare(image, hole, methods=["diffusion"], truth=truth)
    assert isinstance(comparison, Comparison)
    row = comparison["diffusion"]
    assert row.ok and row.kind == "classical" and row.seconds > 0
    assert row.result.shape == image.shape and row.result.dtype == image.dtype
    np.testing.assert_array_equal(row.result[~hole], image[~hole])
    assert set(row.scores) == {"psnr", "ssim", "l1", "texture"}
    # Scores are over the hole: a smooth ramp is filled well by diffusion.
    assert row.scores["psnr"] > 25
    assert 0 < row.scores["l1"] < 0.05
    table = comparison.table()
    assert table[0]["method"] == "diffusion" and table[0]["psnr"] == row.scores["psnr"]
    assert "result" not in table[0]  # the table is plain data
    assert comparison.results.keys() == {"diffusion"}
    assert math.isclose(comparison.hole_ratio, hole.mean())


def test_failure_is_a_one_line_row_and_others_run(case, broken_method):
    image, hole, truth = case
    seen = []
    comparison = inpaintkit.compare(image, hole, methods="broken,copycat", truth=truth,
                                    progress=lambda m, stage, d, t: seen.append((m, stage)))
    broken, copycat = comparison.rows
    assert not broken.ok and broken.result is None and broken.seconds is None
    assert broken.error == "RuntimeError: kernel exploded"
    assert broken.scores == {}
    assert copycat.ok and copycat.result is not None
    assert ("broken", "start") in seen and ("broken", "failed") in seen
    assert ("copycat", "end") in seen


def test_all_takes_the_registry_at_call_time(case, broken_method, monkeypatch):
    image, hole, _ = case
    only = {name: registry._METHODS[name] for name in ("copycat", "broken")}
    monkeypatch.setattr(registry, "_METHODS", only)
    comparison = inpaintkit.compare(image, hole, warm_up=False)  # methods="all"
    assert comparison.methods == ["copycat", "broken"]
    assert comparison["copycat"].ok and not comparison["broken"].ok


def test_learned_without_weights_is_a_failed_row(case):
    image, hole, _ = case
    comparison = inpaintkit.compare(image, hole, methods=["diffusion", "pconv"],
                                    params={"pconv": {"config": "paper"}}, warm_up=False)
    assert comparison["diffusion"].ok
    error = comparison["pconv"].error
    assert error and "\n" not in error and "'pconv' needs weights=PATH" in error


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["nope"]}, "unknown method 'nope'"),
    ({"methods": []}, "methods is empty"),
    ({"methods": ["diffusion", "diffusion"]}, "listed twice"),
    ({"methods": ["diffusion", ("diffusion", "diffusion", {"variant": "tv"})]}, "listed twice"),
    ({"methods": [("tv", "nope")]}, "unknown method 'nope'"),
    ({"methods": [("tv", "diffusion", {"bogus": 1})]}, "unknown parameter 'bogus'"),
    ({"methods": ["diffusion"], "params": {"diffusion": {"bogus": 1}}}, "unknown parameter 'bogus'"),
    ({"methods": ["diffusion"], "params": {"patchmatch": {"patch_size": 5}}}, "not among the compared"),
])
def test_bad_requests_fail_before_any_work(case, kwargs, message):
    image, hole, _ = case
    with pytest.raises(ValueError, match=message):
        inpaintkit.compare(image, hole, **kwargs)


def test_bad_inputs(case):
    image, hole, truth = case
    with pytest.raises(ValueError, match="no hole"):
        inpaintkit.compare(image, np.zeros_like(hole), methods=["diffusion"])
    with pytest.raises(ValueError, match="truth must have"):
        inpaintkit.compare(image, hole, methods=["diffusion"], truth=truth[:, :-1])
    with pytest.raises(ValueError, match="mask"):
        inpaintkit.compare(image, hole[:-1], methods=["diffusion"])


def test_best_methods_rules():
    table = [
        {"method": "a", "seconds": 2.0, "psnr": 30.0, "ssim": 0.9, "l1": 0.02, "texture": 0.5},
        {"method": "b", "seconds": 1.0, "psnr": 31.0, "ssim": 0.8, "l1": 0.02, "texture": 1.5},
        {"method": "c", "seconds": None, "psnr": None, "ssim": None, "l1": None, "texture": None,
         "error": "failed"},
        {"method": "d", "seconds": 3.0, "psnr": float("nan"), "ssim": 0.7, "l1": 0.05, "texture": 0.8},
    ]
    best = best_methods(table)
    assert best["seconds"] == ["b"]
    assert best["psnr"] == ["b"]          # higher is better, NaN skipped
    assert best["ssim"] == ["a"]
    assert best["l1"] == ["a", "b"]       # ties share the mark
    assert best["texture"] == ["d"]       # closest to 1 on a log scale: 0.8 beats 1.5 and 0.5
    assert best_methods([{"method": "x", "seconds": None}]) == {}


def test_method_run_as_dict_has_every_column():
    row = MethodRun(method="m", kind="learned", error="no weights")
    assert row.as_dict() == {"name": "m", "method": "m", "kind": "learned", "params": {}, "seconds": None,
                             "error": "no weights", "psnr": None, "ssim": None, "l1": None,
                             "texture": None}


# ----------------------------------------------------------------------------- the CLI

def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture()
def files(tmp_path, case):
    image, hole, truth = case
    image_path = io.write_image(tmp_path / "photo.png", image)
    mask_path = io.write_image(tmp_path / "mask.png", hole.astype(np.uint8) * 255)
    truth_path = io.write_image(tmp_path / "truth.png", truth)
    return tmp_path, image_path, mask_path, truth_path


def test_cli_writes_the_page(files, capsys, broken_method):
    folder, image_path, mask_path, truth_path = files
    before = image_path.read_bytes()
    out = folder / "page"
    code, _, err = run(["compare", str(image_path), str(mask_path), "-o", str(out),
                        "--methods", "diffusion,broken", "--truth", str(truth_path),
                        "-p", "diffusion.variant=harmonic", "--no-progress"], capsys)
    assert code == 0, err
    assert "failed: broken" in err
    html = (out / "index.html").read_text()
    assert "variant=&#x27;harmonic&#x27;" in html
    assert "RuntimeError: kernel exploded" in html
    assert (out / "images" / "result-diffusion.png").is_file()
    assert (out / "static" / "slider.js").is_file()
    assert image_path.read_bytes() == before
    # A second run refuses to replace the page without --overwrite.
    code, _, err = run(["compare", str(image_path), str(mask_path), "-o", str(out),
                        "-m", "diffusion"], capsys)
    assert code != 0 and "--overwrite" in err and "Traceback" not in err


@pytest.mark.parametrize("extra, message", [
    (["-p", "variant=tv"], "METHOD.KEY=VALUE"),
    (["-p", "patchmatch.patch_size=5"], "not compared"),
    (["-p", "diffusion.bogus=1"], "unknown parameter 'bogus'"),
    (["-m", "diffusion,nope"], "unknown method 'nope'"),
    (["-m", "diffusion,diffusion"], "twice"),
    (["-m", "a.b=diffusion"], "must not contain '.'"),
    (["-m", "=diffusion"], "NAME=METHOD"),
])
def test_cli_user_errors_are_one_line(files, capsys, extra, message):
    folder, image_path, mask_path, _ = files
    argv = ["compare", str(image_path), str(mask_path), "-o", str(folder / "out"), "-m", "diffusion"]
    code, _, err = run(argv + extra, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and message in lines[0], err
    assert not (folder / "out").exists()


def test_cli_refuses_to_write_over_inputs(files, capsys):
    folder, image_path, mask_path, _ = files
    (folder / "images").mkdir()
    inside = io.write_image(folder / "images" / "masked.png", np.zeros((40, 48), np.uint8))
    code, _, err = run(["compare", str(image_path), str(inside), "-o", str(folder),
                        "-m", "diffusion"], capsys)
    assert code != 0 and "refusing to write over the input" in err


def test_warm_up_never_fails_a_method_whose_real_run_works(tmp_path, monkeypatch):
    """The warm-up fills its own small hole: a mask covering the image's corner (where
    the warm-up crop lies) must not turn a working method into a failed row."""
    module = tmp_path / "picky_methods.py"
    module.write_text(textwrap.dedent("""
        import numpy as np

        def picky(image, mask, *, seed=0):
            hole = np.asarray(mask, bool)
            if hole.mean() > 0.5:
                raise ValueError("no fully known patch left")
            out = image.copy()
            out[hole] = 0
            return out
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry._METHODS, "picky",
                        registry.MethodSpec("picky", "classical", "picky_methods:picky", "picky"))
    image = np.full((128, 128), 90, np.uint8)
    hole = np.zeros((128, 128), bool)
    hole[:70, :70] = True
    comparison = inpaintkit.compare(image, hole, methods=["picky"])
    assert comparison["picky"].ok, comparison["picky"].error


def test_repeat_keeps_the_shortest_time(case, broken_method):
    image, hole, _ = case
    comparison = inpaintkit.compare(image, hole, methods=["copycat"], repeat=3, warm_up=False)
    assert comparison["copycat"].ok and comparison["copycat"].seconds > 0
    with pytest.raises(ValueError, match="repeat"):
        inpaintkit.compare(image, hole, methods=["copycat"], repeat=0)


def test_one_method_twice_under_two_names(case):
    image, hole, truth = case
    comparison = inpaintkit.compare(
        image, hole, truth=truth, warm_up=False,
        methods=["diffusion", ("diffusion (harmonic)", "diffusion", {"variant": "harmonic"})],
        params={"diffusion (harmonic)": {"iterations": 500}})
    assert comparison.methods == ["diffusion", "diffusion (harmonic)"]
    second = comparison["diffusion (harmonic)"]
    assert second.method == "diffusion" and second.params == {"variant": "harmonic", "iterations": 500}
    assert second.ok and not np.array_equal(second.result, comparison["diffusion"].result)
    assert {row["name"] for row in comparison.table()} == set(comparison.methods)
    assert set(sum(comparison.best().values(), [])) <= set(comparison.methods)


def test_cli_names_a_second_row_of_a_method(files, capsys):
    folder, image_path, mask_path, truth_path = files
    out = folder / "named"
    code, _, err = run(["compare", str(image_path), str(mask_path), "-o", str(out), "--truth",
                        str(truth_path), "-m", "diffusion,harm=diffusion", "-p",
                        "harm.variant=harmonic", "--no-warm-up", "--threads", "1", "-q"], capsys)
    assert code == 0 and err == ""
    html = (out / "index.html").read_text()
    assert 'data-method="diffusion"' in html and 'data-method="harm"' in html
    assert (out / "images" / "result-harm.png").is_file()
