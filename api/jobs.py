"""Progress of long jobs, and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Router, get, post
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from core import job_workers
from core.db import utcnow
from core.errors import ConflictError, NotFoundError
from core.models import AuditEntry, Job, JobStatus, Role
from core.runtime import Runtime

ANY_ROLE = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)


class JobOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    status: str
    progress_pct: float
    counts: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, j: Job) -> JobOut:
        return cls(
            id=j.id,
            kind=j.kind,
            status=j.status.value,
            progress_pct=j.progress_pct,
            counts=j.counts,
            result=j.result,
            error=j.error,
            created_at=j.created_at,
            started_at=j.started_at,
            finished_at=j.finished_at,
        )


def _job(session: Session, job_id: uuid.UUID) -> Job:
    job = session.scalars(select(Job).where(Job.id == job_id)).one_or_none()
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


@get("/api/jobs/{job_id:uuid}", opt=roles(*ANY_ROLE), sync_to_thread=True, tags=["jobs"])
def get_job(job_id: uuid.UUID, session: Session) -> JobOut:
    return JobOut.of(_job(session, job_id))


@post(
    "/api/jobs/{job_id:uuid}/cancel",
    opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE),
    sync_to_thread=True,
    status_code=202,
    tags=["jobs"],
)
def cancel_job(job_id: uuid.UUID, session: Session, runtime: Runtime) -> JobOut:
    job = _job(session, job_id)
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise ConflictError(f"job {job_id} is already {job.status.value}")
    job_workers.cancel(job, job_workers.live_workers(runtime.redis), utcnow())
    return JobOut.of(job)


class AuditOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    client_ip: str | None


@get("/api/audit", opt=roles(Role.ORG_ADMIN, Role.COMPLIANCE), sync_to_thread=True, tags=["audit"])
def list_audit(session: Session, limit: int = 100) -> list[AuditOut]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000))))
    return [
        AuditOut(
            id=a.id,
            at=a.at,
            actor=a.actor,
            action=a.action,
            target=a.target,
            outcome=a.outcome,
            client_ip=str(a.client_ip) if a.client_ip else None,
        )
        for a in rows
    ]


router = Router("/", route_handlers=[get_job, cancel_job, list_audit])
