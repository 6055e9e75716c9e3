"""The training-set builder reads each Debian file's licence from the package's
machine-readable copyright file, and the object-shaped holes it trains on."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from inpaintkit import masks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_training_set",
                                                  ROOT / "scripts" / "build_training_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2014 Someone
License: GPL-2+

Files: po/ca/*
Copyright: KDE
License: LGPL-2.1+3+KDEeV

Files: 16.04/Bridge_by_Sander_Klootwijk.jpg
Copyright: 2018 Sander Klootwijk
License: CC-BY-SA-4.0

Files: debian/*
Copyright: 2020 Packager
License: CC0-1.0
"""


def test_licence_is_the_last_matching_stanza(builder):
    licence = builder.copyright_licence
    assert licence(COPYRIGHT, "usr/share/palapeli/collection/castle.jpg") == "GPL-2+"
    assert licence(COPYRIGHT, "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg") == "CC-BY-SA-4.0"
    assert licence("Files: nature/*\nLicense: GPL-2+\n", "usr/share/x/other/a.jpg") is None


def test_panoramas_keep_the_opaque_band_under_the_sky(builder):
    rgba = np.zeros((300, 200, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[140:, :, 3] = 255
    rgba[150, 3, 3] = 0            # one transparent pixel in a row still counts (99 %)
    band = builder._opaque_rows(rgba)
    assert band.shape == (160, 200, 3)
    grey_alpha = np.zeros((300, 40, 2), np.uint8)
    grey_alpha[250:, :, 1] = 255
    with pytest.raises(ValueError, match="only 50 opaque rows"):
        builder._opaque_rows(grey_alpha)
    plain = np.zeros((10, 10, 3), np.uint8)
    assert builder._opaque_rows(plain) is plain


def test_sources_hold_no_benchmark_or_opencv_image(builder):
    names = set(builder.SKIMAGE) | {name for members in builder.PYPI.values() for _, name, _ in members}
    assert not names & builder.BENCHMARK
    assert builder.VALIDATION <= names | {f"{prefix}_{Path(f).stem}" if f.count("/") < 2 else f"{prefix}_{f.split('/')[0]}"
                                          for prefix, _, _, files in builder.DEBIAN.values() for f in files}
    assert not any("opencv" in package for package in builder.DEBIAN)


@pytest.mark.parametrize("kind", masks.SILHOUETTES)
def test_silhouettes_are_seeded_object_shaped_holes(kind):
    hole = masks.silhouette((120, 160), seed=3, kind=kind)
    assert hole.dtype == bool and hole.shape == (120, 160)
    np.testing.assert_array_equal(hole, masks.silhouette((120, 160), seed=3, kind=kind))
    rows, cols = np.nonzero(hole)
    box = (np.ptp(rows) + 1) * (np.ptp(cols) + 1) / hole.size
    assert 0.03 < box < 0.45
    # An outline, not a box: it fills only part of its bounding box.
    assert hole.sum() < 0.9 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)


def test_silhouette_checks_its_arguments():
    with pytest.raises(ValueError, match="kind must be one of person, car, sign, animal"):
        masks.silhouette((64, 64), kind="tree")
    with pytest.raises(ValueError, match="ratio must satisfy"):
        masks.silhouette((64, 64), ratio=(0.5, 0.2))


def _rcc(files):
    """A version-2 Qt resource bundle holding ``files`` ({name: bytes}, zlib-compressed)
    in one folder ``res``: what ``rcc`` writes, for the reader's test."""
    import struct
    import zlib

    names, data, name_offsets = b"", b"", {}
    for name in ["res", *files]:
        name_offsets[name] = len(names)
        encoded = name.encode("utf-16-be")
        names += struct.pack(">HI", len(name), 0) + encoded
    nodes = [struct.pack(">IHII", 0, 2, 1, 1) + bytes(8),                # root -> res
             struct.pack(">IHII", name_offsets["res"], 2, len(files), 2) + bytes(8)]
    for name, blob in files.items():
        packed = struct.pack(">I", len(blob)) + zlib.compress(blob)
        nodes.append(struct.pack(">IHHHI", name_offsets[name], 1, 0, 0, len(data)) + bytes(8))
        data += struct.pack(">I", len(packed)) + packed
    tree = b"".join(nodes)
    header = 24
    return (b"qres" + struct.pack(">IIIII", 2, header, header + len(tree), header + len(tree) + len(data), 0)
            + tree + data + names)


def test_qt_resource_bundles_and_their_readme_licences(builder):
    readme = ("Copyright: Someone\nLicense: CC0-1.0\nSource: https://example.org/a.jpg\nFiles:\na.webp\n\n"
              "Copyright: Other\nLicense: CC-BY-NC-4.0\nFiles: b.webp c.webp\n")
    files = builder.rcc_files(_rcc({"README": readme.encode(), "a.webp": b"\x01\x02\x03"}))
    assert files == {"res/README": readme.encode(), "res/a.webp": b"\x01\x02\x03"}
    licences = builder.readme_licences(readme)
    assert licences["a.webp"] == ("CC0-1.0", "Someone, https://example.org/a.jpg")
    assert licences["c.webp"][0] == "CC-BY-NC-4.0"
    key = lambda text: text.upper().replace(" ", "").replace("-", "").replace(".0", "")  # noqa: E731
    assert key("CC0-1.0").startswith(builder.FREE_LICENCES)
    assert not key("CC-BY-NC-4.0").startswith(builder.FREE_LICENCES)
    with pytest.raises(ValueError, match="qres"):
        builder.rcc_files(b"nope" + bytes(20))
