"""The job workers of `clearline up` and `clearline worker`: a dramatiq child process, supervised.

When the child dies without being asked to (a crash, `kill -9` of one of its processes, which makes
the dramatiq parent exit too), the jobs it was running are queued again from a clean state (or failed
after `core.job_workers.MAX_ATTEMPTS`) and a new child is started, with a growing pause if it keeps
dying. Uploads that no queued or running job will read are removed at start and after each restart.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from clearline.retention import DailyRetention
from core.db import ALL_ORGS, utcnow
from core.job_workers import recover_orphaned_jobs
from core.models import Job, JobStatus
from core.processes import spawn, stop_process
from core.runtime import Runtime
from core.uploads import remove_stale_uploads
from core.webhooks import events as webhook_events

log = logging.getLogger("clearline.workers")

RESTART_PAUSE_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 60.0  # a child that ran this long resets the pause
STALE_UPLOAD_AGE = timedelta(minutes=10)


def upload_dirs(runtime: Runtime) -> list[Path]:
    from campaigns.lead_lists import upload_dir as lead_upload_dir
    from dnc.lists import upload_dir as dnc_upload_dir

    return [lead_upload_dir(runtime), dnc_upload_dir()]


def clean_up_after_crashes(runtime: Runtime) -> None:
    """Queue again the jobs of dead workers, and remove uploads no live job will read."""
    from core.broker import broker

    recovered = recover_orphaned_jobs(runtime.db, runtime.redis, broker, utcnow())
    if recovered:
        log.warning("jobs whose worker died: %s", ", ".join(map(str, recovered)))
    with runtime.db.session(ALL_ORGS) as s:
        stalled = webhook_events.requeue_stalled(s, utcnow())
    webhook_events.send(stalled)  # committed: a delivery whose message was lost is sent again
    if stalled:
        log.warning("webhook deliveries sent again (their message was lost): %d", len(stalled))
    with runtime.db.session(ALL_ORGS) as s:
        pending = s.scalars(
            select(Job.params).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        ).all()
    keep = {Path(str(p["path"])) for p in pending if p and p.get("path")}
    removed = remove_stale_uploads(upload_dirs(runtime), keep=keep, older_than=STALE_UPLOAD_AGE)
    if removed:
        log.info("removed %d abandoned upload(s)", len(removed))


class JobWorkerSupervisor:
    """Runs `python -m dramatiq clearline.actors` and restarts it when it dies on its own."""

    def __init__(self, runtime: Runtime, processes: int = 1, threads: int = 4) -> None:
        self.runtime = runtime
        self.argv = [
            sys.executable,
            "-m",
            "dramatiq",
            "clearline.actors",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.retention: DailyRetention | None = None

    def _start_child(self) -> None:
        import os

        self.child = spawn(self.argv, env=os.environ.copy())
        log.info("job workers started (pid %d)", self.child.pid)

    def start(self) -> JobWorkerSupervisor:
        """Start the child and a thread that watches it."""
        clean_up_after_crashes(self.runtime)
        self._start_child()
        self._thread = threading.Thread(target=self._watch, name="job-worker-supervisor", daemon=True)
        self._thread.start()
        if self.runtime.settings.daily_retention:
            self.retention = DailyRetention(self.runtime).start()
        return self

    def _watch(self) -> None:
        failures = 0
        started = time.monotonic()
        while not self._stop.is_set():
            child = self.child
            if child is None or child.poll() is None:
                self._stop.wait(0.5)
                continue
            if self._stop.is_set():
                return
            lived = time.monotonic() - started
            failures = 0 if lived > STABLE_AFTER_S else failures + 1
            pause = RESTART_PAUSE_S[min(failures, len(RESTART_PAUSE_S)) - 1] if failures else 0.0
            log.error(
                "job workers (pid %d) exited with %s; restarting in %.0f s",
                child.pid,
                child.returncode,
                pause,
            )
            try:
                clean_up_after_crashes(self.runtime)
            except Exception:
                log.exception(
                    "recovering the jobs of the dead job workers failed; retrying at the next restart"
                )
            if self._stop.wait(pause):
                return
            self._start_child()
            self.restarts += 1
            started = time.monotonic()

    def wait(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        if self.retention is not None:
            self.retention.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.child is not None:
            stop_process(self.child)
