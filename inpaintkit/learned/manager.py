"""The weights catalogue: published checkpoints the loaders accept, and a cache of them.

Nothing here touches the network unless :func:`fetch` is called (``inpaintkit weights
fetch NAME``). Everything else works offline:

- :data:`CATALOGUE`: every published checkpoint inpaintkit reads, with its network,
  configuration, paper, training data, licence, file names and where the authors
  publish it (a direct URL where one exists; otherwise the page to download it from by
  hand, then :func:`add`).
- :func:`fetch`: download into the cache folder with a progress bar, resuming an
  interrupted transfer with an HTTP ``Range`` request, checked against the published
  size and checksum where known and by a strict load into the network; the file appears
  under its final name only when all of that passed (atomic rename).
- :func:`add`: register a file the user already has (copied from another machine, or
  downloaded by hand), after the same checks; it is copied into the cache.
- :func:`resolve`: what ``weights=NAME`` means wherever ``weights=PATH`` is accepted.

The cache folder follows the platform's convention: ``$XDG_CACHE_HOME/inpaintkit/weights``
(default ``~/.cache/inpaintkit/weights``) on Linux, ``~/Library/Caches/inpaintkit/weights``
on macOS, ``%LOCALAPPDATA%\\inpaintkit\\Cache\\weights`` on Windows;
``INPAINTKIT_CACHE`` overrides the ``inpaintkit`` folder. ``registry.json`` inside it
lists what is cached.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Published", "CATALOGUE", "cache_dir", "fetch", "add", "resolve", "path_of", "entries",
           "verify_file", "WeightsError"]


class WeightsError(ValueError):
    """A weights name that is unknown or not cached, a failed download, a file that does
    not match what was published."""


@dataclass(frozen=True)
class Published:
    """One published checkpoint.

    Attributes
    ----------
    name : str
        What users pass as ``weights=NAME`` and to ``inpaintkit weights``.
    model : str
        The inpaintkit method that reads it.
    network, config, paper, data, licence : str
        What it is, the configuration (as inpaintkit names it), the paper, what it was
        trained on, and its licence as the authors state it.
    files : tuple of str
        The file names as published.
    page : str
        Where the authors publish it.
    url : str or None
        A direct download URL; None when the authors publish it only through a page
        that needs a browser (then download by hand and ``inpaintkit weights add``).
    member : str or None
        For an archive: the path inside it (matched by its end) of the checkpoint.
    size, sha256, md5 : optional
        The published file's size in bytes and checksums, where known.
    note : str
    """

    name: str
    model: str
    network: str
    config: str
    paper: str
    data: str
    licence: str
    files: tuple
    page: str
    url: str | None = None
    member: str | None = None
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    note: str = ""


_LAMA_PAPER = ("R. Suvorov et al., Resolution-robust Large Mask Inpainting with Fourier Convolutions, "
               "WACV 2022, https://doi.org/10.1109/WACV51458.2022.00323")

CATALOGUE: dict[str, Published] = {p.name: p for p in [
    Published(
        name="big-lama", model="lama",
        network="LaMa FFC ResNet generator, big-lama: 64 base channels, 3 downsamplings, 18 FFC "
                "residual blocks, global ratio 0.75 (51.0 M parameters)",
        config="paper", paper=_LAMA_PAPER,
        data="Places365-Challenge (about 4.5 M images), 256x256 crops, the paper's wide and "
             "segmentation-based masks", licence="Apache-2.0 (advimman/lama)",
        files=("big-lama.zip", "big-lama/models/best.ckpt", "big-lama/config.yaml"),
        page="https://github.com/advimman/lama (README, 'Inference'); hosted at "
             "https://huggingface.co/smartywu/big-lama",
        url="https://huggingface.co/smartywu/big-lama/resolve/main/big-lama.zip",
        member="models/best.ckpt",
        note="PyTorch Lightning checkpoint; the discriminator and loss weights in it are ignored."),
    Published(
        name="big-lama-torchscript", model="lama",
        network="the same big-lama generator, traced to TorchScript by the authors' bin/to_jit.py",
        config="paper", paper=_LAMA_PAPER,
        data="as big-lama", licence="Apache-2.0 (advimman/lama)",
        files=("big-lama.pt",),
        page="https://github.com/Sanster/models/releases/tag/add_big_lama (the file IOPaint / "
             "lama-cleaner caches)",
        url="https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt",
        md5="e3aa4aaa15225a33ec84f9f4bc47e500",
        note="Only the tensors are used; the traced code is not run."),
    Published(
        name="anime-manga-big-lama", model="lama",
        network="big-lama generator fine-tuned on anime and manga images (TorchScript)",
        config="paper", paper=_LAMA_PAPER + "; fine-tuning by dreMaz (AnimeMangaInpainting)",
        data="anime and manga illustrations (dreMaz/AnimeMangaInpainting)",
        licence="not stated by the publisher; check https://huggingface.co/dreMaz/AnimeMangaInpainting",
        files=("anime-manga-big-lama.pt",),
        page="https://github.com/Sanster/models/releases/tag/AnimeMangaInpainting",
        url="https://github.com/Sanster/models/releases/download/AnimeMangaInpainting/anime-manga-big-lama.pt",
        md5="29f284f36a0a510bcacf39ecf4c4d54f",
        note="Layout not verified here: fetch refuses it with the first mismatching key if it "
             "differs from the release's."),
    Published(
        name="lama-fourier", model="lama",
        network="LaMa-Fourier generator: 64 base channels, 3 downsamplings, 9 FFC residual blocks "
                "(27.0 M parameters)",
        config="fourier", paper=_LAMA_PAPER,
        data="Places365-Challenge (lama-places/lama-fourier) or CelebA-HQ (lama-celeba-hq/lama-fourier)",
        licence="Apache-2.0 (advimman/lama)",
        files=("lama-fourier/models/best.ckpt", "lama-fourier/config.yaml"),
        page="https://github.com/advimman/lama (README: the Google Drive folder of all models, "
             "lama-places/ and lama-celeba-hq/)",
        note="Published through Google Drive only: download the folder by hand, then "
             "`inpaintkit weights add lama-fourier lama-fourier/models/best.ckpt`."),
    Published(
        name="gl-places2", model="gl",
        network="GL completion network (17 layers, dilations 2-16)", config="paper",
        paper="S. Iizuka, E. Simo-Serra, H. Ishikawa, Globally and Locally Consistent Image "
              "Completion, SIGGRAPH 2017, https://doi.org/10.1145/3072959.3073659",
        data="Places2", licence="non-commercial use (satoshiiizuka/siggraph2017_inpainting licence)",
        files=("completionnet_places2.t7",),
        page="https://github.com/satoshiiizuka/siggraph2017_inpainting (download_model.sh)",
        url="http://iizuka.cs.tsukuba.ac.jp/data/completionnet_places2.t7",
        md5="b1527543a0ee22c23fca44cefdf48531",
        note="Torch7 file: reading it needs pip install torchfile."),
    Published(
        name="edgeconnect-places2", model="edgeconnect",
        network="EdgeConnect edge and image generators (64 channels, 8 residual blocks)",
        config="paper",
        paper="K. Nazeri et al., EdgeConnect, ICCV Workshops 2019, "
              "https://doi.org/10.1109/ICCVW.2019.00408",
        data="Places2 (celeba and psv folders are published beside it)",
        licence="CC BY-NC 4.0 (knazeri/edge-connect)",
        files=("places2/EdgeModel_gen.pth", "places2/InpaintingModel_gen.pth"),
        page="https://github.com/knazeri/edge-connect (scripts/download_model.sh: Google Drive)",
        note="Google Drive only: download the places2 folder by hand, then "
             "`inpaintkit weights add edgeconnect-places2 places2/`."),
    Published(
        name="gdn-places2", model="gdn",
        network="GDN generator and dense artifact detector", config="paper",
        paper="R. Zhang et al., Pixel-wise Dense Detector for Image Inpainting, Computer Graphics "
              "Forum 39(7) 2020, https://doi.org/10.1111/cgf.14160",
        data="Places2", licence="see the authors' repository",
        files=("TensorFlow checkpoint (model-*.index, model-*.data-*)",),
        page="https://github.com/Evergrow/GDN_Inpainting (README: pretrained models)",
        note="TensorFlow checkpoint: convert it once with `inpaintkit convert-gdn PREFIX -o gdn.pt` "
             "(needs TensorFlow), then `inpaintkit weights add gdn-places2 gdn.pt`."),
]}

_REGISTRY = "registry.json"
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The folder fetched and added weights live in (see the module docstring)."""
    override = os.environ.get("INPAINTKIT_CACHE")
    if override:
        return Path(override).expanduser() / "weights"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "inpaintkit" / "Cache" / "weights"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "inpaintkit" / "weights"
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "inpaintkit" / "weights"


# --- the registry of cached files -------------------------------------------------------

def _read_registry() -> dict:
    path = cache_dir() / _REGISTRY
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot read the weights registry {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _write_registry(registry: dict) -> None:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".registry.", suffix=".json")
    with os.fdopen(handle, "w") as file:
        json.dump(registry, file, indent=1, sort_keys=True)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp makes it private; the registry is not secret
    os.replace(temp, folder / _REGISTRY)


def entries() -> list[dict]:
    """Every catalogue entry and every user-added name, each as a dict with ``status``
    ("cached", "not fetched" or "manual download") and ``path`` when cached."""
    registry = _read_registry()
    out = []
    for name, item in CATALOGUE.items():
        record = asdict(item)
        cached = registry.get(name)
        if cached and Path(cached["path"]).exists():
            record.update(status="cached", path=cached["path"], cached_size=cached.get("size"))
        else:
            record.update(status="not fetched" if item.url else "manual download", path=None)
        out.append(record)
    for name, cached in sorted(registry.items()):
        if name not in CATALOGUE:
            exists = Path(cached["path"]).exists()
            out.append({"name": name, "model": cached["model"], "network": "added by the user",
                        "status": "cached" if exists else "missing", "path": cached["path"],
                        "source": cached.get("source"), "cached_size": cached.get("size")})
    return out


def path_of(name: str) -> Path:
    """The cached file of ``name``.

    Raises
    ------
    WeightsError
        If ``name`` is unknown, or known but not in the cache (the message says how to get it).
    """
    registry = _read_registry()
    cached = registry.get(name)
    if cached is not None:
        path = Path(cached["path"])
        if path.exists():
            return path
        raise WeightsError(f"weights {name!r} were registered at {path}, which no longer exists; "
                           f"run `inpaintkit weights fetch {name}` or `inpaintkit weights add {name} PATH`")
    if name in CATALOGUE:
        item = CATALOGUE[name]
        how = (f"run `inpaintkit weights fetch {name}` (downloads from {item.url})" if item.url else
               f"download it from {item.page}, then `inpaintkit weights add {name} PATH`")
        raise WeightsError(f"weights {name!r} are not in the cache ({cache_dir()}); {how}")
    known = ", ".join(sorted(set(CATALOGUE) | set(registry)))
    raise WeightsError(f"unknown weights name {name!r}; known names: {known} (or pass a file path)")


def _model_of(name: str) -> str | None:
    if name in CATALOGUE:
        return CATALOGUE[name].model
    cached = _read_registry().get(name)
    return cached["model"] if cached else None


def _looks_like_name(text: str) -> bool:
    return bool(text) and os.sep not in text and "/" not in text and not Path(text).suffix


def resolve(weights, model: str):
    """What ``weights=`` means for ``model``: a catalogue or user-added name becomes its
    cached file; anything else (a path, None, "random") is returned unchanged.

    Raises
    ------
    WeightsError
        For a known name that belongs to another model or is not cached, and for a
        name-like string (no folder, no extension) that is neither a file nor a known name.
    """
    if not isinstance(weights, str) or weights == "random" or Path(weights).expanduser().exists():
        return weights
    owner = _model_of(weights)
    if owner is None:
        if _looks_like_name(weights):
            path_of(weights)  # raises: unknown name, listing the known ones
        return weights
    if owner != model:
        raise WeightsError(f"weights {weights!r} are for {owner!r}, not {model!r}")
    return path_of(weights)


# --- verification ---------------------------------------------------------------------

def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _check_published(path: Path, item: Published | None, *, what: str) -> dict:
    """Size and checksums against the catalogue's; returns them."""
    size = path.stat().st_size
    sha, md5 = _digests(path)
    if item is not None:
        if item.size is not None and size != item.size:
            raise WeightsError(f"{what} is {size} bytes but the published file is {item.size} bytes")
        if item.sha256 and sha != item.sha256:
            raise WeightsError(f"{what} has sha256 {sha}, not the published {item.sha256} (corrupted or another file)")
        if item.md5 and md5 != item.md5:
            raise WeightsError(f"{what} has md5 {md5}, not the published {item.md5} (corrupted or another file)")
    return {"size": size, "sha256": sha}


def verify_file(path, model: str):
    """Strictly load ``path`` into ``model``'s networks (its own configuration); returns
    the :class:`~inpaintkit.learned.checkpoints.Checkpoint`. Raises ``CheckpointError``."""
    from .checkpoints import MODELS, read_checkpoint, strict_load

    checkpoint = read_checkpoint(path, model)
    networks = MODELS[model][1](checkpoint.config)
    for part, net in networks.items():
        if part not in checkpoint.state:
            from .checkpoints import CheckpointError

            raise CheckpointError(f"{path}: no weights for the {part!r} network of {model!r}")
        strict_load(net, checkpoint.state[part], what=f"{model} {part} weights from {path}")
    return checkpoint


def _extract_member(archive: Path, member: str, folder: Path) -> Path:
    """Extract the archive entry ending with ``member`` (and its config.yaml sibling, if
    any) into ``folder``; returns the checkpoint's path."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
            matches = [n for n in names if n == member or n.endswith("/" + member)]
            if not matches:
                raise WeightsError(f"{archive} has no {member} inside (found: {', '.join(names[:5])})")
            target = folder / Path(matches[0]).name
            for name in names:
                if name.endswith("config.yaml") and Path(name).parent == Path(matches[0]).parent.parent:
                    _copy_member(zipped, name, folder / "config.yaml")
            _copy_member(zipped, matches[0], target)
            return target
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{archive} is not a complete zip archive ({exc})") from exc


def _copy_member(zipped, name, target: Path) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as out, zipped.open(name) as source:
        shutil.copyfileobj(source, out, _CHUNK)
    os.replace(temp, target)


def _install(name: str, model: str, source_file: Path, *, item: Published | None, origin: str,
             move: bool) -> Path:
    """Check ``source_file`` (size/checksums, strict load), place it in the cache under
    ``name`` atomically and record it. ``move`` renames instead of copying."""
    folder = cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    published = _check_published(source_file, item, what=f"{origin}")
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging."))
    try:
        if item is not None and item.member and zipfile.is_zipfile(source_file):
            checkpoint_file = _extract_member(source_file, item.member, staging)
        else:
            checkpoint_file = staging / _target_name(item, source_file)
            if move:
                os.replace(source_file, checkpoint_file)
            else:
                shutil.copyfile(source_file, checkpoint_file)
        checkpoint = verify_file(checkpoint_file, model)
        final = folder / checkpoint_file.name
        for extra in staging.iterdir():
            os.replace(extra, folder / extra.name)
        final_path = final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if move and source_file.exists():
        source_file.unlink()
    registry = _read_registry()
    registry[name] = {
        "model": model, "path": str(final_path), "size": final_path.stat().st_size,
        "source_sha256": published["sha256"], "source_size": published["size"], "source": origin, "format": checkpoint.source,
        "config": checkpoint.config.to_dict(),
        "added": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    _write_registry(registry)
    return final_path


def _target_name(item: Published | None, source_file: Path) -> str:
    """The cached file's name: the published one when it is a single file, else the
    source's own (without ``.part``)."""
    if item is not None:
        plain = [f for f in item.files if "/" not in f and not f.endswith(".zip")]
        if plain:
            return plain[0]
    name = source_file.name
    return name[: -len(".part")] if name.endswith(".part") else name


def add(name: str, path, *, model: str | None = None) -> Path:
    """Register a weights file the user already has under ``name`` (copied into the cache).

    Parameters
    ----------
    name : str
        A catalogue name (the file is then checked against the published size and
        checksums, and an archive such as ``big-lama.zip`` is unpacked) or a new name of
        the user's choice (letters, digits, ``-``, ``_``, ``.``).
    path : path
        The checkpoint (or the published archive, or the EdgeConnect/LaMa folder).
    model : str, optional
        The method it is for; needed only for a new name when it cannot be told from
        the file (every model's reader is tried in turn).

    Returns
    -------
    Path
        The cached file.
    """
    from .checkpoints import CheckpointError, MODELS

    _check_name(name)
    source = Path(path).expanduser()
    if not source.exists():
        raise WeightsError(f"file not found: {source}")
    item = CATALOGUE.get(name)
    if item is not None:
        if model is not None and model != item.model:
            raise WeightsError(f"{name!r} is a {item.model!r} checkpoint, not {model!r}")
        model = item.model
    if source.is_dir():
        return _add_folder(name, source, model)
    if model is None:
        errors = []
        for candidate in MODELS:
            try:
                verify_file(source, candidate)
            except (CheckpointError, ValueError) as exc:
                errors.append(f"{candidate}: {str(exc).splitlines()[0]}")
                continue
            model = candidate
            break
        if model is None:
            raise WeightsError(f"{source} is not a checkpoint any inpaintkit model reads ({'; '.join(errors)})")
    elif model not in MODELS:
        raise WeightsError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    return _install(name, model, source, item=item, origin=str(source.resolve()), move=False)


def _add_folder(name: str, source: Path, model: str | None) -> Path:
    """A published folder (EdgeConnect's two files, LaMa's big-lama/): copied whole."""
    if model is None:
        model = "edgeconnect" if any(source.glob("*_gen.pth")) else "lama"
    verify_file(source, model)
    folder = cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging."))
    target = folder / source.name
    try:
        shutil.copytree(source, staging / source.name)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / source.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    registry = _read_registry()
    registry[name] = {"model": model, "path": str(target), "size": None, "sha256": None,
                      "source": str(source.resolve()),
                      "added": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    _write_registry(registry)
    return target


def _check_name(name) -> None:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name) \
            or name.startswith(".") or name == _REGISTRY:
        raise WeightsError(f"a weights name is letters, digits, '-', '_' and '.', not starting with "
                           f"'.'; got {name!r}")


# --- download -------------------------------------------------------------------------

def _download(url: str, part: Path, *, progress: bool, retries: int, timeout: float,
              label: str) -> None:
    """Download ``url`` into ``part``, resuming from its current length with a Range
    request; a dropped connection is resumed up to ``retries`` times."""
    attempt = 0
    bar = None
    try:
        while True:
            have = part.stat().st_size if part.exists() else 0
            request = urllib.request.Request(url, headers={"User-Agent": "inpaintkit-weights"})
            if have:
                request.add_header("Range", f"bytes={have}-")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    status = getattr(response, "status", 200)
                    if have and status == 206:
                        mode, start = "ab", have
                    else:
                        mode, start = "wb", 0  # server ignored the range: start over
                    length = response.headers.get("Content-Length")
                    total = start + int(length) if length is not None else None
                    if progress and bar is None:
                        from tqdm import tqdm

                        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True,
                                   unit_divisor=1024, desc=label, file=sys.stderr, dynamic_ncols=True)
                    elif bar is not None:
                        bar.reset(total=total)
                        bar.update(start)
                    received = start
                    with open(part, mode) as out:
                        while True:
                            chunk = response.read(_CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            received += len(chunk)
                            if bar is not None:
                                bar.update(len(chunk))
                    if total is not None and received < total:
                        raise ConnectionError(f"connection closed after {received} of {total} bytes")
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have:  # asked past the end: what we have may be all
                    return
                raise WeightsError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                    OSError) as exc:
                attempt += 1
                if attempt > retries:
                    done = part.stat().st_size if part.exists() else 0
                    raise WeightsError(
                        f"download of {url} interrupted ({getattr(exc, 'reason', exc)}); {done} bytes "
                        f"kept in {part}: run the same fetch again to resume") from exc
                time.sleep(min(2.0 ** attempt, 10.0) * 0.1)
    finally:
        if bar is not None:
            bar.close()


def fetch(name: str, *, url: str | None = None, progress: bool = True, retries: int = 3,
          timeout: float = 60.0, force: bool = False) -> Path:
    """Download the catalogue entry ``name`` into the cache and return the file's path.

    The transfer goes to ``<cache>/<name>/<file>.part``; an interrupted download (a
    dropped connection, Ctrl-C) keeps it, and the next fetch resumes from where it
    stopped (HTTP ``Range``). The finished file is checked against the published size
    and checksums (where known), unpacked if it is an archive, strictly loaded into the
    network, and only then renamed into place and recorded. A file that fails any check
    is deleted and the error says why.

    Parameters
    ----------
    name : str
        A catalogue name with a direct URL (``inpaintkit weights list``).
    url : str, optional
        A mirror to download from instead of the published URL (same file expected).
    progress : bool
        A progress bar on stderr.
    retries : int
        Automatic resumes after a dropped connection.
    force : bool
        Download again even if the cache already holds the file.
    """
    item = CATALOGUE.get(name)
    if item is None:
        known = ", ".join(n for n, p in CATALOGUE.items() if p.url)
        raise WeightsError(f"unknown weights name {name!r}; names that can be fetched: {known}")
    source = url or item.url
    if source is None:
        raise WeightsError(f"{name!r} has no direct download: get it from {item.page}, then "
                           f"`inpaintkit weights add {name} PATH` ({item.note})")
    if not force:
        cached = _read_registry().get(name)
        if cached and Path(cached["path"]).exists():
            return Path(cached["path"])
    folder = cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (Path(item.files[0]).name + ".part")
    _download(source, part, progress=progress, retries=retries, timeout=timeout, label=name)
    try:
        return _install(name, item.model, part, item=item, origin=source, move=True)
    except Exception:
        # A complete but wrong file cannot be resumed into a right one: start afresh next time.
        part.unlink(missing_ok=True)
        raise
