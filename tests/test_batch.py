"""Batch runs on dask.distributed: items, masks, ledger, resume, failures, a killed
worker, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from inpaintkit import batch, io  # noqa: E402
from inpaintkit.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def smooth_photo(index: int, size: int = 48) -> np.ndarray:
    """A smooth colour ramp with a little noise: diffusion fills it closely."""
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.stack([120 * yy + 60, 100 * xx + 40 + index, 80 * (yy + xx) + 30], axis=2)
    image = image + rng.normal(0, 1.0, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def stroke_mask(index: int, size: int = 48, *, square: bool = False) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    if square:  # a large hole: about 0.2 s of diffusion at 160 px
        hole[size // 4:size * 3 // 4, size // 4 + index % 5:size * 3 // 4] = True
        return hole
    row = 8 + (index * 7) % (size - 20)
    hole[row:row + 4, 6:size - 6] = True
    hole[6:size - 6, size // 2:size // 2 + 3] = True
    return hole


def make_folder(root: Path, count: int, *, size: int = 48, nested: bool = True,
                square: bool = False) -> dict:
    """``count`` photos with ``_mask`` files beside them, some in a subfolder; returns
    {relative name: (image, hole)}."""
    truth = {}
    for index in range(count):
        folder = root / "sub" if nested and index % 4 == 0 else root
        folder.mkdir(parents=True, exist_ok=True)
        image, hole = smooth_photo(index, size), stroke_mask(index, size, square=square)
        io.write_image(folder / f"photo{index:02d}.png", image)
        io.write_image(folder / f"photo{index:02d}_mask.png", hole.astype(np.uint8) * 255)
        truth[(folder / f"photo{index:02d}.png").relative_to(root).as_posix()] = (image, hole)
    return truth


def check_output(path: Path, image: np.ndarray, hole: np.ndarray) -> None:
    """The output decodes, has the input's shape, keeps every known pixel and fills
    the hole close to the smooth truth."""
    result = io.read_image(path)
    assert result.shape == image.shape and result.dtype == image.dtype
    assert np.array_equal(result[~hole], image[~hole])
    assert np.abs(result[hole].astype(int) - image[hole].astype(int)).mean() < 6


def stray_files(folder: Path) -> list[Path]:
    """Hidden files under ``folder``: what a partial write would leave."""
    return [p for p in folder.rglob(".*")]


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.err


# ----------------------------------------------------------------- items, no cluster


def test_collect_items_mirrors_folders_and_matches_masks(tmp_path):
    make_folder(tmp_path / "in", 6)
    (tmp_path / "in" / ".hidden.png").write_bytes(b"x")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    items = batch.collect_items([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask")
    names = [item.name for item in items]
    assert names == ["photo01.png", "photo02.png", "photo03.png", "photo05.png",
                     "sub/photo00.png", "sub/photo04.png"]
    for item in items:
        assert item.problem is None
        assert item.mask.name == item.image.stem + "_mask.png"
        assert item.output == tmp_path / "out" / item.name

    # A masks folder, matched by relative path first, then by name; any extension.
    masks = tmp_path / "masks"
    (masks / "sub").mkdir(parents=True)
    io.write_image(masks / "sub" / "photo00.tif", np.ones((48, 48), np.uint8))
    io.write_image(masks / "photo01.png", np.ones((48, 48), np.uint8))
    io.write_image(masks / "photo04.png", np.ones((48, 48), np.uint8))
    by_name = {item.name: item for item in batch.collect_items(
        [tmp_path / "in"], tmp_path / "out", masks=masks)}
    assert by_name["sub/photo00.png"].mask == masks / "sub" / "photo00.tif"
    assert by_name["sub/photo04.png"].mask == masks / "photo04.png"  # by name alone
    assert by_name["photo01.png"].mask == masks / "photo01.png"
    assert by_name["photo02.png"].mask is None
    assert by_name["photo02.png"].problem == f"no mask for photo02.png in {masks} (looked for photo02.*)"
    assert "(looked for sub/photo04.* and photo04.*)" not in by_name["photo03.png"].problem


def test_collect_items_globs_pairs_and_formats(tmp_path):
    make_folder(tmp_path / "in", 4)
    items = batch.collect_items([str(tmp_path / "in" / "**" / "photo0[0-3].png")],
                                tmp_path / "out", output_format="tif")
    assert [item.name for item in items] == ["photo01.tif", "photo02.tif", "photo03.tif",
                                             "sub/photo00.tif"]
    assert all(item.mask is None for item in items)  # alpha as the hole
    pair = (tmp_path / "in" / "photo01.png", tmp_path / "in" / "photo02_mask.png")
    [item] = batch.collect_items([pair], tmp_path / "out")
    assert (item.image, item.mask, item.name) == (pair[0], pair[1], "photo01.png")


def test_collect_items_refusals(tmp_path):
    make_folder(tmp_path / "in", 2, nested=False)
    (tmp_path / "other").mkdir()
    io.write_image(tmp_path / "other" / "photo00.png", smooth_photo(0))
    with pytest.raises(ValueError, match="would both be written to"):
        batch.collect_items([tmp_path / "in", tmp_path / "other"], tmp_path / "out",
                            mask_suffix="_mask")
    with pytest.raises(ValueError, match="holds the input folder"):
        batch.collect_items([tmp_path / "in"], tmp_path / "in", mask_suffix="_mask")
    with pytest.raises(ValueError, match="refusing to write over the input file"):
        batch.collect_items([tmp_path / "in" / "photo00.png"], tmp_path / "in")
    with pytest.raises(FileNotFoundError, match="input not found"):
        batch.collect_items([tmp_path / "nope"], tmp_path / "out")
    with pytest.raises(ValueError, match="no images found"):
        batch.collect_items([str(tmp_path / "*.jpg")], tmp_path / "out")
    with pytest.raises(ValueError, match="at most one of"):
        batch.collect_items([tmp_path / "in"], tmp_path / "out", mask=tmp_path / "in" / "photo00_mask.png",
                            mask_suffix="_mask")
    with pytest.raises(FileNotFoundError, match="masks folder not found"):
        batch.collect_items([tmp_path / "in"], tmp_path / "out", masks=tmp_path / "nomasks")


def test_outputs_inside_an_input_folder_are_not_inputs(tmp_path):
    make_folder(tmp_path, 3, nested=False)
    (tmp_path / "out").mkdir()
    io.write_image(tmp_path / "out" / "photo00.png", smooth_photo(0))
    items = batch.collect_items([tmp_path], tmp_path / "out", mask_suffix="_mask")
    assert [item.name for item in items] == ["photo00.png", "photo01.png", "photo02.png"]
    assert all("out" not in item.image.parts for item in items)


def test_fill_file_records_done_and_failed(tmp_path):
    image, hole = smooth_photo(1), stroke_mask(1)
    io.write_image(tmp_path / "a.png", image)
    io.write_image(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    io.write_image(tmp_path / "empty.png", np.zeros((48, 48), np.uint8))
    io.write_image(tmp_path / "small.png", np.ones((20, 20), np.uint8))
    record = batch.fill_file(tmp_path / "a.png", tmp_path / "m.png", tmp_path / "o" / "a.png",
                             method="auto")
    assert record["state"] == "done" and record["method"] == "diffusion"
    assert record["hole_pixels"] == hole.sum() and 0 < record["fill_seconds"] <= record["seconds"]
    check_output(tmp_path / "o" / "a.png", image, hole)
    for mask, expected in [("empty.png", "no hole pixels"), ("small.png", "is 20x20 pixels"),
                           (None, "no alpha channel")]:
        record = batch.fill_file(tmp_path / "a.png", None if mask is None else tmp_path / mask,
                                 tmp_path / "o" / "b.png", method="diffusion")
        assert record["state"] == "failed" and expected in record["error"]
        assert "\n" not in record["error"]
    assert not (tmp_path / "o" / "b.png").exists()

    # No mask: an RGBA image's transparent pixels are the hole.
    rgba = np.concatenate([image, np.full((48, 48, 1), 255, np.uint8)], axis=2)
    rgba[hole, 3] = 0
    io.write_image(tmp_path / "cutout.png", rgba)
    record = batch.fill_file(tmp_path / "cutout.png", None, tmp_path / "o" / "cutout.png",
                             method="diffusion")
    assert record["state"] == "done" and record["hole_pixels"] == hole.sum()
    result = io.read_image(tmp_path / "o" / "cutout.png")
    assert np.array_equal(result[~hole], rgba[~hole])
    assert np.abs(result[hole][:, :3].astype(int) - image[hole].astype(int)).mean() < 6


def test_numba_runs_single_threaded_inside_an_item():
    import numba

    with batch._numba_threads(1):
        assert numba.get_num_threads() == 1
    before = numba.get_num_threads()
    with batch._numba_threads(None):
        assert numba.get_num_threads() == before


def test_ledger_survives_a_torn_last_line(tmp_path):
    path = tmp_path / batch.LEDGER_NAME
    path.write_text('{"item":"a.png","state":"done"}\n{"item":"b.png","sta')
    ledger = batch._Ledger(path)
    ledger.append({"item": "c.png", "state": "failed", "error": "x"})
    ledger.close()
    assert [r["item"] for r in batch.read_ledger(path)] == ["a.png", "c.png"]
    assert set(batch.latest_states(path)) == {"a.png", "c.png"}


def test_partial_writes_are_removed(tmp_path):
    item = batch.Item("a.png", tmp_path / "in.png", None, tmp_path / "a.png")
    (tmp_path / ".a.k3j_9xq2.png").write_bytes(b"half")  # what mkstemp names
    (tmp_path / ".a.keep.png").write_bytes(b"not ours")
    (tmp_path / ".b.k3j_9xq2.png").write_bytes(b"another output's")
    assert batch._remove_partial_writes([item]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.keep.png", ".b.k3j_9xq2.png"]


def test_bad_options_are_refused_before_any_work(tmp_path):
    make_folder(tmp_path / "in", 2)
    with pytest.raises(ValueError, match="unknown method"):
        batch.run([tmp_path / "in"], tmp_path / "out", method="nosuch")
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        batch.run([tmp_path / "in"], tmp_path / "out", method="diffusion", params={"nope": 1})
    with pytest.raises(ValueError, match="explicit method"):
        batch.run([tmp_path / "in"], tmp_path / "out", params={"variant": "tv"})
    assert not (tmp_path / "out").exists()


def test_chunk_sizes_follow_the_work_and_shrink_at_the_end():
    size = batch._chunk_size
    # No result yet: one item per task, so the first results come early.
    assert size([], pending=1000, threads=2, fixed=None, largest=32) == 1
    # About _TASK_SECONDS of work per task, from the median of the recent items
    # (a cold worker's slow first item does not count much).
    assert size([0.3] * 5 + [9.0], pending=1000, threads=2, fixed=None, largest=32) == \
        int(batch._TASK_SECONDS / 0.3)
    assert size([4.0, 5.0], pending=1000, threads=2, fixed=None, largest=32) == 1
    assert size([0.001], pending=1000, threads=2, fixed=None, largest=32) == 32
    assert size([0.3], pending=1000, threads=2, fixed=7, largest=7) == 7
    # Many workers: longer tasks, so the engine gets at most _TASKS_PER_SECOND.
    assert size([0.3], pending=10**6, threads=256, fixed=None, largest=32) == \
        int(256 / batch._TASKS_PER_SECOND / 0.3)
    # Near the end: about two tasks per worker thread for what is left.
    assert size([0.01], pending=10, threads=2, fixed=None, largest=32) == 3
    assert size([0.3], pending=3, threads=2, fixed=7, largest=7) == 1


# ----------------------------------------------------------------- on a LocalCluster


def test_the_local_cluster_runs_single_threaded_workers(monkeypatch):
    """As `inpaintkit batch` starts it: one thread per worker, Numba on one thread,
    and not Dask's MALLOC_TRIM_THRESHOLD_ (which slows NumPy-heavy items down)."""
    from distributed import Client

    # A cluster started earlier in this process with Dask's defaults leaves it here.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)

    def inside() -> dict:
        import numba

        return {"numba": numba.config.NUMBA_NUM_THREADS,
                "malloc": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                "omp": os.environ.get("OMP_NUM_THREADS")}

    with batch._local_cluster(2) as cluster, Client(cluster) as client:
        assert sorted(client.nthreads().values()) == [1, 1]
        assert list(client.run(inside).values()) == [{"numba": 1, "malloc": None, "omp": "1"}] * 2


def test_batch_fills_a_folder_and_resumes(tmp_path, dask_client):
    truth = make_folder(tmp_path / "in", 20)
    seen = []
    summary = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                        method="diffusion", client=dask_client, max_in_flight=4,
                        progress=lambda record, s: seen.append(record["state"]))
    assert (summary.total, summary.done, summary.failed, summary.skipped) == (20, 20, 0, 0)
    assert summary.workers == 2 and seen == ["done"] * 20
    assert 0 < summary.fill_seconds <= summary.work_seconds
    for name, (image, hole) in truth.items():
        check_output(tmp_path / "out" / name, image, hole)
    states = batch.latest_states(summary.ledger)
    assert set(states) == set(truth)
    record = states["sub/photo04.png"]
    assert record["state"] == "done" and record["method"] == "diffusion"
    assert record["image"] == str(tmp_path / "in" / "sub" / "photo04.png")
    assert record["worker"].startswith("tcp://") and record["seconds"] > 0
    assert stray_files(tmp_path / "out") == []

    # Re-run: every output exists, nothing is sent to the cluster.
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.png")}
    again = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                      method="diffusion", client=dask_client)
    assert (again.done, again.failed, again.skipped, again.to_fill) == (0, 0, 20, 0)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    records = batch.read_ledger(summary.ledger)
    assert len(records) == 40 and [r["state"] for r in records[20:]] == ["skipped"] * 20

    # A missing output is redone, and only that one.
    (tmp_path / "out" / "photo05.png").unlink()
    third = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                      method="diffusion", client=dask_client)
    assert (third.done, third.skipped) == (1, 19)
    check_output(tmp_path / "out" / "photo05.png", *truth["photo05.png"])


def test_chunks_of_items_keep_one_record_per_item(tmp_path, dask_client):
    truth = make_folder(tmp_path / "in", 14)
    (tmp_path / "in" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    io.write_image(tmp_path / "in" / "corrupt_mask.png", np.ones((48, 48), np.uint8))
    seen = []
    summary = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                        method="diffusion", client=dask_client, chunk_size=4,
                        progress=lambda record, s: seen.append(record["item"]))
    assert (summary.done, summary.failed) == (14, 1)
    # 15 items: chunks of 4, 3, 2, 2, 1, 1, 1, 1 (smaller near the end).
    assert summary.tasks == 8
    assert sorted(seen) == sorted([*truth, "corrupt.png"])
    records = batch.read_ledger(summary.ledger)
    assert sorted(r["item"] for r in records) == sorted(seen)  # one line per item
    assert batch.latest_states(summary.ledger)["corrupt.png"]["error"].startswith(
        "cannot read image")
    for name, (image, hole) in truth.items():
        check_output(tmp_path / "out" / name, image, hole)
    assert stray_files(tmp_path / "out") == []


def test_cli_records_bad_items_and_goes_on(tmp_path, dask_client, capsys):
    truth = make_folder(tmp_path / "in", 6, nested=False)
    (tmp_path / "in" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    io.write_image(tmp_path / "in" / "corrupt_mask.png", np.ones((48, 48), np.uint8))
    io.write_image(tmp_path / "in" / "other.png", smooth_photo(9, 40))
    io.write_image(tmp_path / "in" / "other_mask.png", np.ones((48, 48), np.uint8))
    argv = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--mask-suffix", "_mask",
            "-m", "diffusion", "--scheduler", dask_client.scheduler.address]
    code, err = run_cli(argv, capsys)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert lines[-4].startswith("inpaintkit: batch: 6 done, 2 failed, 0 skipped of 8 in ")
    assert any(line.startswith("inpaintkit: failed: corrupt.png: cannot read image") for line in lines)
    assert any(line.startswith("inpaintkit: failed: other.png: mask") and "40x40" in line
               for line in lines)
    assert lines[-1] == (f"inpaintkit: ledger: {tmp_path / 'out' / batch.LEDGER_NAME} "
                         "(run the same command again to retry the failed items)")
    states = batch.latest_states(tmp_path / "out" / batch.LEDGER_NAME)
    assert {name: r["state"] for name, r in states.items()} == {
        **{name: "done" for name in truth}, "corrupt.png": "failed", "other.png": "failed"}
    assert "\n" not in states["corrupt.png"]["error"]
    assert not (tmp_path / "out" / "corrupt.png").exists()
    for name, (image, hole) in truth.items():
        check_output(tmp_path / "out" / name, image, hole)

    # Fix one input: the re-run retries the two failed items only.
    io.write_image(tmp_path / "in" / "other_mask.png", stroke_mask(1, 40).astype(np.uint8))
    code, err = run_cli(argv, capsys)
    assert code == 1
    assert "inpaintkit: batch: 1 done, 1 failed, 6 skipped of 8" in err
    (tmp_path / "in" / "corrupt.png").unlink()
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "inpaintkit: batch: 0 done, 0 failed, 7 skipped of 7" in err


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_an_unexpected_error_is_retried_then_recorded(tmp_path, dask_client, chunk_size):
    """A task that raises something other than an input error (a bug, MemoryError) is
    retried by Dask (``retries=``), then recorded as failed; the others succeed. In a
    chunk, the item that raised is retried alone and the chunk's others count."""
    truth = make_folder(tmp_path / "in", 8, nested=False)
    io.write_image(tmp_path / "in" / "odd.png", smooth_photo(7, 40))
    io.write_image(tmp_path / "in" / "odd_mask.png", stroke_mask(7, 40).astype(np.uint8))

    def break_inpaint():
        import inpaintkit

        original = inpaintkit.inpaint

        def broken(image, mask, method="auto", **options):
            if image.shape[0] == 40:
                raise RuntimeError("kernel exploded\nsecond line")
            return original(image, mask, method, **options)

        broken.original = original
        inpaintkit.inpaint = broken

    def restore_inpaint():
        import inpaintkit

        inpaintkit.inpaint = getattr(inpaintkit.inpaint, "original", inpaintkit.inpaint)

    dask_client.run(break_inpaint)
    try:
        summary = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                            method="diffusion", client=dask_client, retries=1,
                            chunk_size=chunk_size)
    finally:
        dask_client.run(restore_inpaint)
    # chunk_size 4: odd.png and two others, 2, 1, 1, 1, 1; then odd.png alone.
    assert summary.tasks == (9 if chunk_size is None else 7)
    assert (summary.done, summary.failed) == (8, 1)
    assert summary.failures == [("odd.png", "RuntimeError: kernel exploded")]
    record = batch.latest_states(summary.ledger)["odd.png"]
    assert record["state"] == "failed" and record["attempts"] == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == sorted(truth)


def test_a_result_lost_by_as_completed_is_fetched(tmp_path, dask_client, monkeypatch):
    """If as_completed's background fetch of a result dies, the item is not left in
    flight for ever: it is fetched directly after a while."""
    import distributed

    truth = make_folder(tmp_path / "in", 5, nested=False)

    class Forgetful(distributed.as_completed):
        added = 0

        def add(self, future):
            Forgetful.added += 1
            if Forgetful.added != 2:  # never tracks the second item
                super().add(future)

    monkeypatch.setattr(distributed, "as_completed", Forgetful)
    monkeypatch.setattr(batch, "_LOST_AFTER_S", 0.5)
    monkeypatch.setattr(batch, "_LOST_CHECK_S", 0.2)
    summary = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                        method="diffusion", client=dask_client)
    assert (summary.done, summary.failed) == (5, 0)
    assert sorted(batch.latest_states(summary.ledger)) == sorted(truth)


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    make_folder(tmp_path / "in", 2)
    base = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out")]
    for extra, expected in [
        (["--mask", "x.png", "--mask-suffix", "_m"], "at most one of --mask"),
        (["-p", "variant=tv"], "--param needs --method"),
        (["-m", "diffusion", "-p", "bogus=1"], "unknown parameter 'bogus'"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers sizes the local"),
        (["--masks", str(tmp_path / "nomasks")], "masks folder not found"),
    ]:
        code, err = run_cli(base + extra, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0 and len(lines) == 1 and expected in lines[0], err
        assert lines[0].startswith("inpaintkit: error:")


# ----------------------------------------------------------------- faults


def _python_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NUMBA_NUM_THREADS"] = "1"
    return env


@pytest.mark.parametrize("chunk_size", [1, 3])
def test_killed_worker_loses_nothing_and_duplicates_nothing(tmp_path, chunk_size):
    """A scheduler and two `dask worker` processes on loopback; one worker is killed
    (SIGKILL) in the middle of the batch, with one item or a chunk of items in flight:
    each of them is retried, alone, and done exactly once."""
    from distributed import Client

    truth = make_folder(tmp_path / "in", 16, size=160, square=True)
    env = _python_env()
    # No silent scheduler retries: the killed items come back to run() as KilledWorker
    # and are resubmitted by it.
    env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "0"
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for name in ("w1", "w2"):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                 str(scheduler_file), "--nthreads", "1", "--no-dashboard", "--name", name],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            client.run(batch.warm_up, methods=("diffusion",))
            worker_pids = client.run(os.getpid)
            victim = sorted(worker_pids)[1]
            killed = []

            def kill_one(record, summary):
                if summary.done >= 3 and not killed:
                    os.kill(worker_pids[victim], signal.SIGKILL)
                    killed.append(victim)

            summary = batch.run([tmp_path / "in"], tmp_path / "out", mask_suffix="_mask",
                                method="diffusion", client=client,
                                max_in_flight=6 if chunk_size == 1 else None,
                                chunk_size=chunk_size, retries=2, progress=kill_one)
        assert killed
        assert (summary.done, summary.failed) == (16, 0)
        outputs = sorted(p.relative_to(tmp_path / "out").as_posix()
                         for p in (tmp_path / "out").rglob("*.png"))
        assert outputs == sorted(truth)  # every output exactly once, nothing else
        assert stray_files(tmp_path / "out") == []
        for name, (image, hole) in truth.items():
            check_output(tmp_path / "out" / name, image, hole)
        records = batch.read_ledger(tmp_path / "out" / batch.LEDGER_NAME)
        assert sorted(r["item"] for r in records) == sorted(truth)  # one line per item
        assert all(r["state"] == "done" for r in records)
        # The items in flight on the killed worker were run again, elsewhere.
        retried = [r for r in records if r["attempts"] > 1]
        assert retried and all(r["worker"] != victim for r in retried)
        if chunk_size > 1:  # the victim's chunk in flight: its items, each once
            assert len(retried) >= 2
    finally:
        for process in processes:  # a worker's own process exits with its nanny
            process.kill()
            process.wait(timeout=30)


def test_ctrl_c_stops_cleanly_and_a_rerun_completes(tmp_path, dask_client, capsys):
    """SIGINT to the CLI mid-batch: the items in flight finish and are recorded, no
    partial file, a valid ledger, exit 130; the same command then does the rest."""
    truth = make_folder(tmp_path / "in", 20, size=160, square=True)
    out = tmp_path / "out"
    ledger = out / batch.LEDGER_NAME
    argv = ["batch", str(tmp_path / "in"), "-o", str(out), "--mask-suffix", "_mask",
            "-m", "diffusion", "--param", "variant=tension"]
    process = subprocess.Popen([sys.executable, "-m", "inpaintkit", *argv, "--workers", "1",
                                "--max-in-flight", "2"],
                               env=_python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if ledger.exists() and len(ledger.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        # To the whole process group, as Ctrl-C in a terminal: the worker processes
        # get it too, and must leave the stopping to the client.
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "interrupted: finishing the items in flight" in err and "Traceback" not in err, err
    assert "interrupted; run the same command again to do the rest" in err.splitlines()[-1]
    assert stray_files(out) == []
    records = batch.read_ledger(ledger)
    assert len(records) == len(ledger.read_text().splitlines())  # every line is whole
    done = {r["item"] for r in records if r["state"] == "done"}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert done == written and 3 <= len(done) < 20
    for name in written:
        check_output(out / name, *truth[name])

    code, err = run_cli(argv + ["--scheduler", dask_client.scheduler.address], capsys)
    assert code == 0, err
    records = batch.read_ledger(ledger)
    assert sorted(r["item"] for r in records if r["state"] == "done") == sorted(truth)
    assert {name: r["state"] for name, r in batch.latest_states(ledger).items()} == \
        {name: ("skipped" if name in done else "done") for name in truth}
    for name, (image, hole) in truth.items():
        check_output(out / name, image, hole)
