"""gallery/build.py: a small build writes the index and a case page; the cache is reused."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BUILD = Path(__file__).resolve().parents[1] / "gallery" / "build.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("gallery_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gallery_build"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("gallery_build", None)


def test_cases_have_credits_and_sane_holes(build):
    for name, make in build.CURATED.items():
        case = make()
        assert case.credit and case.description, name
        assert case.mask.shape == case.image.shape[:2] and 0.005 < case.mask.mean() < 0.6, name
        if case.truth is not None:
            assert case.truth.shape == case.image.shape
            # The input's hole is painted over: the truth cannot show through it.
            assert not np.array_equal(case.image[case.mask], case.truth[case.mask]), name
    for photo in (BUILD.parent / "photos").glob("*.jpg"):
        assert photo.name in (BUILD.parent / "photos" / "LICENSES.md").read_text()


def test_cache_key_follows_method_params_and_input(build):
    image = np.zeros((8, 8), np.uint8)
    hole = np.zeros((8, 8), bool)
    hole[2:4, 2:4] = True
    key = build.cache_key("diffusion", {}, 0, image, hole)
    assert key == build.cache_key("diffusion", {}, 0, image.copy(), hole.copy())
    assert key != build.cache_key("patchmatch", {}, 0, image, hole)
    assert key != build.cache_key("diffusion", {"variant": "tv"}, 0, image, hole)
    assert key != build.cache_key("diffusion", {}, 1, image, hole)
    other = image.copy()
    other[0, 0] = 1
    assert key != build.cache_key("diffusion", {}, 0, other, hole)


def test_small_build_and_rebuild_from_cache(build, tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    lines = []
    index = build.build(site, cases=["tower"], methods=["diffusion"], cache=cache, summary=False,
                        log=lines.append)
    assert index.is_file() and (site / "cases" / "tower" / "index.html").is_file()
    assert (site / "cases" / "tower" / "images" / "result-diffusion.png").is_file()
    assert 'href="cases/tower/index.html"' in index.read_text()
    assert "(1 method runs" in lines[-1]
    lines.clear()
    build.build(site, cases=["tower"], methods=["diffusion"], cache=cache, summary=False,
                log=lines.append)
    assert "(0 method runs" in lines[-1]


def test_extra_weights_make_their_own_row_and_cache_key(build, tmp_path):
    """--weights METHOD=PATH adds a row; a corrupt file fails that row with one line."""
    bogus = tmp_path / "pconv_release.pth"
    bogus.write_bytes(b"not a checkpoint")
    site, lines = tmp_path / "site", []
    build.build(site, cases=["tower"], methods=["diffusion"], cache=tmp_path / "cache",
                summary=False, weights=[("pconv", bogus)], log=lines.append)
    html = (site / "cases" / "tower" / "index.html").read_text()
    assert 'data-method="pconv (pconv_release)"' in html
    assert 'class="failed" data-method="pconv (pconv_release)"' in html
    assert build.weights_digest(bogus) != build.weights_digest(BUILD)


def test_summary_plots_and_bucket_table(build, tmp_path):
    pytest.importorskip("matplotlib")
    from inpaintkit import masks

    records = []
    for number, (low, high) in enumerate(masks.RATIO_BUCKETS):
        for method, psnr in (("diffusion", 30.0 - number), ("patchmatch", 29.0 - number)):
            records.append({"group": "bucket", "bucket": masks.bucket_label(low, high),
                            "method": method, "psnr": psnr, "texture": 0.5, "seconds": 1.0,
                            "pixels": 65536, "error": None, "case": "x"})
    for pixels in (1e4, 1e5, 1e6):
        for method in ("diffusion", "patchmatch"):
            records.append({"group": "size", "bucket": None, "method": method, "pixels": pixels,
                            "seconds": pixels / 1e5, "error": None, "case": "y"})
    kinds = {"diffusion": "classical", "patchmatch": "classical"}
    plots = build._summary_plots(records, tmp_path, kinds)
    assert [name for name, _ in plots] == ["psnr-vs-hole.png", "texture-vs-hole.png", "time-vs-size.png"]
    for name, _ in plots:
        assert (tmp_path / name).stat().st_size > 5_000
    table = build._bucket_table(records, kinds)
    assert table.count('class="best"') == len(masks.RATIO_BUCKETS)
    assert '<td class="best">30.00</td>' in table
