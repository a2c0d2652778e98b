"""Job workers under `clearline up`'s supervision: a real `kill -9` of the dramatiq worker process in the
middle of an import. The worker is restarted, health says so while it is down, the job is retried from
a clean state (no lead of the dead attempt survives) and cancel works on a job whose worker died."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from campaigns.models import Lead, LeadList
from clearline.workers import JobWorkerSupervisor
from core.db import ALL_ORGS
from core.models import Job
from core.runtime import Runtime
from tests.conftest import Tenant, wait_job

ROWS = 200_000


@pytest.fixture
def supervisor(runtime: Runtime) -> Iterator[JobWorkerSupervisor]:
    sup = JobWorkerSupervisor(runtime, processes=1, threads=2).start()
    try:
        yield sup
    finally:
        sup.stop()


def _lead_file() -> bytes:
    return b"phone,first_name\n" + b"".join(b"+1%d,Ann\n" % (2025550000 + i * 7) for i in range(ROWS))


def _upload(client: TestClient, tenant: Tenant) -> tuple[str, str]:
    r = client.post(
        "/api/campaigns", json={"name": f"c{time.monotonic_ns()}", "caller_id": "+12025550199"},
        headers=tenant.headers("manager"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/campaigns/{r.json()['id']}/lead-lists",
        files={"file": ("big.csv", _lead_file(), "text/csv")},
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 202, r.text
    return r.json()["job_id"], r.json()["list_id"]


def _job(runtime: Runtime, job_id: str) -> Job:
    with runtime.db.session(ALL_ORGS) as s:
        job = s.get(Job, uuid.UUID(job_id))
        assert job is not None
        s.expunge(job)
        return job


def _kill_worker_mid_import(runtime: Runtime, job_id: str, timeout_s: float = 120) -> int:
    """Wait until the import is under way (it reported progress), then kill -9 the process running it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _job(runtime, job_id)
        if job.status.value == "running" and job.worker and job.progress_pct > 0:
            pid = int(job.worker.rpartition(":")[2])
            os.kill(pid, signal.SIGKILL)
            return pid
        assert job.status.value in ("queued", "running"), (job.status, job.error)
        time.sleep(0.05)
    raise AssertionError("the import never got under way")


def _wait(predicate: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_job_whose_worker_was_killed_is_retried_from_a_clean_state_by_a_restarted_worker(
    client: TestClient, runtime: Runtime, tenant: Tenant, supervisor: JobWorkerSupervisor
) -> None:
    _wait(lambda: client.get("/api/health").status_code == 200)
    job_id, list_id = _upload(client, tenant)
    killed = _kill_worker_mid_import(runtime, job_id)
    _wait(lambda: supervisor.restarts >= 1)
    job = wait_job(client, tenant.headers("manager"), job_id, timeout_s=300)
    assert job["status"] == "succeeded", job
    assert f":{killed} died at" in job["error"] and "retried from a clean state (attempt 2)" in job["error"]
    assert job["counts"]["total"] == ROWS
    with runtime.db.session(ALL_ORGS) as s:
        leads = s.scalar(select(func.count()).select_from(Lead).where(Lead.list_id == uuid.UUID(list_id)))
        lists = s.scalar(select(func.count()).select_from(LeadList).where(LeadList.id == uuid.UUID(list_id)))
    assert (leads, lists) == (ROWS, 1)  # nothing of the killed attempt is left over or doubled
    assert _job(runtime, job_id).attempts == 2
    _wait(lambda: client.get("/api/health").json()["checks"]["job_workers"] == "ok (1 running)")


def test_cancel_ends_a_job_whose_worker_died_at_once_and_it_is_not_retried(
    client: TestClient, runtime: Runtime, tenant: Tenant, supervisor: JobWorkerSupervisor
) -> None:
    _wait(lambda: client.get("/api/health").status_code == 200)
    job_id, list_id = _upload(client, tenant)
    _kill_worker_mid_import(runtime, job_id)
    r = client.post(f"/api/jobs/{job_id}/cancel", headers=tenant.headers("manager"))
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("cancelled", "queued"), r.json()  # queued: the supervisor was faster
    job = wait_job(client, tenant.headers("manager"), job_id, timeout_s=120)
    assert job["status"] == "cancelled", job
    _wait(lambda: supervisor.restarts >= 1)
    time.sleep(2)  # a retried message would have started by now
    assert _job(runtime, job_id).status.value == "cancelled"
    with runtime.db.session(ALL_ORGS) as s:
        assert s.scalar(select(func.count()).select_from(Lead).where(Lead.list_id == uuid.UUID(list_id))) == 0
