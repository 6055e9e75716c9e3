"""The fill queue: a bounded FIFO, worker threads, and finished results kept in memory.

Each job holds its decoded image and mask until it runs; then only the encoded PNG of
the result (at the input's bit depth) is kept, until it is downloaded-and-deleted,
pushed out by the result cap, or expires. Progress comes from the library's progress
hook (:mod:`inpaintkit._progress`), installed in the worker thread's own context.
Cancelling or timing out is cooperative: the reporter raises at the method's next
progress report, so a long solve between two reports runs to its end first.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import reporting
from . import _memory

logger = logging.getLogger("inpaintkit.web")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class QueueFull(Exception):
    """Raised by :meth:`JobQueue.submit` when ``max_queued`` jobs already wait."""


class _Stop(BaseException):
    """Raised inside a running fill by its reporter; a BaseException so that a method's
    own ``except Exception`` cannot swallow it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Job:
    """One fill request and, once run, its result."""

    id: str
    method: str
    params: dict[str, Any]
    seed: int
    image: np.ndarray | None
    mask: np.ndarray | None
    filename: str = "result"
    requested: str = ""
    state: str = QUEUED
    stage: str = ""
    progress: float = 0.0
    error: str | None = None
    result_png: bytes | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    fill_seconds: float | None = None
    number: int = 0
    width: int = 0
    height: int = 0
    dtype: str = ""
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def public(self, position: int | None = None) -> dict[str, Any]:
        """The JSON the API returns for this job."""
        now = time.monotonic()
        row = {
            "id": self.id,
            "state": "cancelling" if self.state == RUNNING and self.cancel_requested.is_set()
            else self.state,
            "method": self.method, "requested": self.requested, "params": self.params,
            "seed": self.seed, "stage": self.stage, "progress": round(self.progress, 4),
            "error": self.error, "width": self.width, "height": self.height, "dtype": self.dtype,
            "queued_seconds": round((self.started or self.finished or now) - self.created, 3),
            "fill_seconds": None if self.started is None
            else round(self.fill_seconds if self.fill_seconds is not None
                       else (self.finished or now) - self.started, 3),
        }
        if position is not None:
            row["position"] = position
        return row


class JobQueue:
    """A bounded fill queue served by ``workers`` threads.

    Parameters
    ----------
    workers : int
        Fills run at once.
    max_queued : int
        Jobs that may wait; one more is refused with :class:`QueueFull` (HTTP 429).
    max_results : int
        Finished jobs kept; the oldest finished one is dropped beyond it.
    result_ttl : float
        Seconds a finished job's result is kept.
    job_timeout : float or None
        Seconds a fill may run before it is stopped (at its next progress report).
    """

    def __init__(self, *, workers: int = 1, max_queued: int = 8, max_results: int = 16,
                 result_ttl: float = 1800.0, job_timeout: float | None = 900.0):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        _memory.pin_mmap_threshold()
        self.workers = workers
        self.max_queued = max_queued
        self.max_results = max_results
        self.result_ttl = result_ttl
        self.job_timeout = job_timeout
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._threads = [threading.Thread(target=self._serve, name=f"inpaintkit-fill-{n}", daemon=True)
                         for n in range(workers)]
        for thread in self._threads:
            thread.start()
        # Expired results are dropped on every request, and by this sweeper when none come.
        self._closed = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="inpaintkit-sweep", daemon=True)
        self._sweeper.start()

    # --- the API's side ---------------------------------------------------------------

    def submit(self, *, method: str, params: dict[str, Any], seed: int, image: np.ndarray,
               mask: np.ndarray, filename: str = "result", requested: str = "") -> Job:
        """Queue a fill; :class:`QueueFull` when ``max_queued`` jobs already wait."""
        with self._lock:
            self._expire_locked()
            if self._count_locked(QUEUED) >= self.max_queued:
                raise QueueFull(f"the fill queue is full ({self.max_queued} waiting); "
                                "try again when a fill has finished")
            job = Job(id=secrets.token_urlsafe(9), method=method, params=params, seed=seed,
                      image=image, mask=mask, filename=filename, requested=requested or method,
                      number=next(self._counter),
                      width=image.shape[1], height=image.shape[0], dtype=image.dtype.name)
            self._jobs[job.id] = job
        self._waiting.put(job)
        return job

    def has_room(self) -> bool:
        """Whether a job submitted now would be queued (checked again by :meth:`submit`)."""
        with self._lock:
            return self._count_locked(QUEUED) < self.max_queued

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._expire_locked()
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        """How many queued jobs are ahead of ``job`` (None once it runs)."""
        with self._lock:
            if job.state != QUEUED:
                return None
            return sum(1 for other in self._jobs.values()
                       if other.state == QUEUED and other.number < job.number)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a waiting or running job, or forget a finished one; frees its memory.

        A running fill stops at its next progress report; until then its state stays
        ``running`` with ``cancel_requested`` set, and it is dropped when it stops.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.cancel_requested.set()
            if job.state == RUNNING:
                return job
            if job.state == QUEUED:
                job.state, job.finished = CANCELLED, time.monotonic()
            job.image = job.mask = job.result_png = None
            del self._jobs[job_id]
        _memory.trim()
        return job

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._expire_locked()
            return {
                "workers": self.workers, "max_queued": self.max_queued,
                "queued": self._count_locked(QUEUED), "running": self._count_locked(RUNNING),
                "results": sum(1 for j in self._jobs.values() if j.state in FINISHED),
                "result_bytes": sum(len(j.result_png or b"") for j in self._jobs.values()),
            }

    def close(self) -> None:
        """Cancel everything and stop the workers (running fills stop at their next report)."""
        with self._lock:
            ids = list(self._jobs)
        for job_id in ids:
            self.cancel(job_id)
        for _ in self._threads:
            self._waiting.put(None)
        self._closed.set()

    # --- the workers' side ------------------------------------------------------------

    def _sweep(self) -> None:
        interval = min(60.0, max(0.5, self.result_ttl / 2))
        while not self._closed.wait(interval):
            with self._lock:
                before = len(self._jobs)
                self._expire_locked()
                dropped = before - len(self._jobs)
            if dropped:
                _memory.trim()

    def _count_locked(self, state: str) -> int:
        return sum(1 for job in self._jobs.values() if job.state == state)

    def _expire_locked(self) -> None:
        now = time.monotonic()
        finished = [job for job in self._jobs.values() if job.state in FINISHED]
        for job in finished:
            if now - job.finished > self.result_ttl:
                del self._jobs[job.id]
        finished = [job for job in self._jobs.values() if job.state in FINISHED]
        for job in finished[:max(0, len(finished) - self.max_results)]:
            del self._jobs[job.id]

    def _serve(self) -> None:
        while True:
            job = self._waiting.get()
            if job is None:
                return
            with self._lock:
                if job.state != QUEUED:  # cancelled while waiting
                    continue
                job.state, job.started = RUNNING, time.monotonic()
            # A fresh copy of the context per job, so the reporter installed for this
            # fill is seen only by this fill.
            contextvars.copy_context().run(self._run, job)

    def _reporter(self, job: Job):
        deadline = None if self.job_timeout is None else job.started + self.job_timeout

        def report(stage: str, done: float, total: float) -> None:
            if job.cancel_requested.is_set():
                raise _Stop("cancelled")
            if deadline is not None and time.monotonic() > deadline:
                raise _Stop(f"stopped after the {self.job_timeout:g} s time limit")
            job.stage = stage
            job.progress = min(1.0, max(0.0, done / total)) if total > 0 else 0.0

        return report

    def _run(self, job: Job) -> None:
        import inpaintkit
        from .. import io

        state, error, png = FAILED, None, None
        try:
            with reporting(self._reporter(job)):
                result = inpaintkit.inpaint(job.image, job.mask, method=job.method,
                                            seed=job.seed, **job.params)
            job.fill_seconds = time.monotonic() - job.started
            if not isinstance(result, np.ndarray):
                raise TypeError(f"{job.method} returned {type(result).__name__}, not an image")
            # Level 1: files about 3 % larger than level 3 and faster to write
            # (1024x768 photo: 0.26 s against 0.32 s on a busy 2-core machine).
            png = io.encode_png(result, compression=1)
            state = DONE
        except _Stop as stop:
            state = CANCELLED if stop.reason == "cancelled" else FAILED
            error = None if state == CANCELLED else stop.reason
        except Exception as exc:  # a failing fill is reported to the page; the server goes on
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if isinstance(exc, (ValueError, TypeError, ImportError, OSError)) and message:
                error = message  # the library's own one-line messages
            else:
                error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            logger.warning("fill %s with %s failed: %s", job.id, job.method, error)
        with self._lock:
            job.image = job.mask = result = None
            job.state, job.error, job.result_png = state, error, png
            job.finished = time.monotonic()
            if job.state == DONE:
                job.progress = 1.0
            if job.cancel_requested.is_set():  # cancelled while running: forget it now
                job.result_png = None
                job.state = CANCELLED
                self._jobs.pop(job.id, None)
            self._expire_locked()
        _memory.trim()
