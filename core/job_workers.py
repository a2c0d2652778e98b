"""Which job-worker processes are alive, and what happens to the jobs of one that died.

Every dramatiq worker process (started by `clearline up`, `clearline worker`, or a test) keeps a
heartbeat key in Redis (`HeartbeatMiddleware`), and claims each job it runs by writing its worker id
into the job's row together with the message that started it (`JobClaimMiddleware`). A claim succeeds
only for a queued job that nobody cancelled, so a message delivered twice never runs a job twice.

`recover_orphaned_jobs` finds running jobs whose worker is gone (no heartbeat, or, on this host, a dead
pid), and queues them again from a clean state (progress and counts reset; the jobs themselves are all
or nothing, so the dead attempt left nothing behind) up to `MAX_ATTEMPTS`, after which they fail. The
supervisors call it when they start and whenever they restart a worker; `GET /api/health` reports the
live workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dramatiq
import psutil
import redis
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, SkipMessage
from sqlalchemy import select

from core.audit_context import Actor, set_actor
from core.db import ALL_ORGS, Database, utcnow
from core.models import Job, JobStatus, User

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "clearline:job-workers:"
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_TTL_S = 15
MAX_ATTEMPTS = 3  # the first run and two retries after a worker died


def worker_id(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def live_workers(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """The job-worker processes whose heartbeat is fresh, by worker id (a worker of this host whose pid
    is gone does not count, even before its heartbeat expires)."""
    found: dict[str, dict[str, Any]] = {}
    for key in client.scan_iter(match=HEARTBEAT_KEY + "*", count=500):
        raw = client.get(key)
        if raw:
            name = (key.decode() if isinstance(key, bytes) else str(key))[len(HEARTBEAT_KEY) :]
            if not _dead_here(name):
                found[name] = json.loads(raw)
    return found


def _dead_here(worker: str) -> bool:
    """A worker of this host whose process is gone, or a zombie its parent has not reaped yet."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        return psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_is_dead(worker: str | None, live: dict[str, dict[str, Any]]) -> bool:
    """No heartbeat, or a pid on this host that no longer exists (found before the heartbeat expires)."""
    if not worker:
        return True
    return _dead_here(worker) or worker not in live


class HeartbeatMiddleware(Middleware):
    """Keeps `clearline:job-workers:<host>:<pid>` alive in Redis while this worker process runs."""

    def __init__(self, client_factory: Callable[[], redis.Redis]) -> None:
        self.client_factory = client_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        me = worker_id()
        queues = sorted(getattr(worker, "queues", None) or broker.get_declared_queues())
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "queues": queues})
        client = self.client_factory()

        def beat() -> None:
            while True:
                try:
                    client.set(HEARTBEAT_KEY + me, body, ex=HEARTBEAT_TTL_S)
                except redis.RedisError as exc:  # Redis away for a moment: the next beat tries again
                    log.warning("job-worker heartbeat failed: %s", exc)
                if self._stop.wait(HEARTBEAT_EVERY_S):
                    return

        self._thread = threading.Thread(target=beat, name="job-worker-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):
            self.client_factory().delete(HEARTBEAT_KEY + worker_id())


def _job_id(message: MessageProxy) -> uuid.UUID | None:
    if not message.args:
        return None
    try:
        return uuid.UUID(str(message.args[0]))
    except ValueError:
        return None


class JobClaimMiddleware(Middleware):
    """Before an actor runs for a job: claim the queued job for this worker, or skip the message (the
    job was cancelled, finished, or is already running elsewhere)."""

    def __init__(self, db_factory: Callable[[], Database]) -> None:
        self.db_factory = db_factory

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        job_id = _job_id(message)
        if job_id is None:
            return
        if not claim_job(self.db_factory(), job_id, message_record(message), worker_id(), utcnow()):
            raise SkipMessage(f"job {job_id} is not queued any more")
        set_actor(job_actor(self.db_factory(), job_id))

    def after_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy, *, result: Any = None, exception: Any = None
    ) -> None:
        set_actor(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        set_actor(None)


def job_actor(db: Database, job_id: uuid.UUID) -> Actor:
    """Changes a job makes are audited as the job's, on behalf of the user who started it."""
    with db.session(ALL_ORGS) as s:
        row = s.execute(
            select(Job.kind, Job.created_by, User.email)
            .outerjoin(User, User.id == Job.created_by)
            .where(Job.id == job_id)
        ).first()
    if row is None:
        return Actor(process=f"job {job_id}")
    return Actor(actor=row.email or "", user_id=row.created_by, process=f"job {row.kind} {job_id}")


def message_record(message: MessageProxy) -> dict[str, Any]:
    return {
        "queue": message.queue_name,
        "actor": message.actor_name,
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
    }


def claim_job(db: Database, job_id: uuid.UUID, message: dict[str, Any], worker: str, now: datetime) -> bool:
    with db.session(ALL_ORGS) as s:
        job = s.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
        if job is None:
            return True  # not a tracked job: let the actor decide
        if job.status != JobStatus.QUEUED:
            return False
        if job.cancel_requested:
            job.status, job.finished_at = JobStatus.CANCELLED, now
            return False
        job.status, job.started_at = JobStatus.RUNNING, now
        job.worker, job.message = worker, message
        job.attempts = (job.attempts or 0) + 1
        return True


def cancel(job: Job, live: dict[str, dict[str, Any]], now: datetime) -> None:
    """Ask a job to stop. A queued job, or a running one whose worker is dead, is cancelled at once
    (nobody would ever read the request); a running one stops at its next progress report."""
    job.cancel_requested = True
    if job.status == JobStatus.QUEUED or (
        job.status == JobStatus.RUNNING and worker_is_dead(job.worker, live)
    ):
        job.status, job.finished_at = JobStatus.CANCELLED, now
        job.error = (job.error + "; " if job.error else "") + "cancelled"


def recover_orphaned_jobs(
    db: Database, client: redis.Redis, broker: dramatiq.Broker, now: datetime
) -> list[uuid.UUID]:
    """Queue again (or fail, after `MAX_ATTEMPTS`) every running job whose worker died; returns them."""
    live = live_workers(client)
    recovered: list[uuid.UUID] = []
    resend: list[dict[str, Any]] = []
    with db.session(ALL_ORGS) as s:
        running = s.scalars(
            select(Job).where(Job.status == JobStatus.RUNNING).with_for_update(skip_locked=True)
        )
        for job in running:
            if not worker_is_dead(job.worker, live) or job.worker is None:
                continue  # alive, or run outside a tracked worker (the CLI runs imports in-process)
            note = f"its worker {job.worker} died at {job.progress_pct:.0f}% ({now:%Y-%m-%d %H:%M:%S}Z)"
            recovered.append(job.id)
            if job.cancel_requested:
                job.status, job.finished_at, job.error = JobStatus.CANCELLED, now, note + "; cancelled"
            elif job.attempts >= MAX_ATTEMPTS or not job.message:
                job.status, job.finished_at = JobStatus.FAILED, now
                job.error = f"{note}; not retried after {job.attempts} attempts; nothing was kept"
            else:
                job.status, job.progress_pct, job.counts = JobStatus.QUEUED, 0.0, {}
                job.started_at, job.worker = None, None
                job.error = f"{note}; retried from a clean state (attempt {job.attempts + 1})"
                resend.append(dict(job.message))
            log.warning("job %s (%s): %s", job.id, job.kind, job.error)
    for message in resend:
        broker.enqueue(
            dramatiq.Message(
                queue_name=message["queue"],
                actor_name=message["actor"],
                args=tuple(message["args"]),
                kwargs=message["kwargs"],
                options={},
            )
        )
    return recovered
