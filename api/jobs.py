"""Progress of long jobs, and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response, Router, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.response import Stream
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from core import job_workers
from core.audit_log import AuditFilter, audit_csv, audit_page
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
    process: str = ""  # which process acted: api, console, cli <command>, job <kind> <id>, or a service
    detail: dict[str, Any] = msgspec.field(default_factory=dict)  # before/after of a change, never secrets


AUDIT_READERS = (Role.ORG_ADMIN, Role.COMPLIANCE)
AUDIT_FILTER_DOC = (
    "`actor`, `action`, `target`: text found anywhere in the field (case-insensitive); `outcome`: ok, "
    "denied or error; `since` (inclusive) and `until` (exclusive): ISO 8601 times with a zone."
)


def audit_filter(
    actor: str = "",
    action: str = "",
    target: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    """The audit filters of a request's query string (the API's and the console's audit pages)."""
    return AuditFilter(actor=actor, action=action, target=target, outcome=outcome, since=since, until=until)


def _audit_out(a: AuditEntry) -> AuditOut:
    return AuditOut(
        id=a.id,
        at=a.at,
        actor=a.actor,
        action=a.action,
        target=a.target,
        outcome=a.outcome,
        client_ip=str(a.client_ip) if a.client_ip else None,
        process=a.process,
        detail=dict(a.detail or {}),
    )


@get(
    "/api/audit",
    opt=roles(*AUDIT_READERS),
    sync_to_thread=True,
    tags=["audit"],
    dependencies={"filters": Provide(audit_filter, sync_to_thread=False)},
    response_headers=[
        ResponseHeader(
            name="X-Next-Cursor",
            description="Present when older rows match: pass it back as `cursor` for the next page.",
            documentation_only=True,
        )
    ],
    description="The organization's audit rows, newest first, filtered. " + AUDIT_FILTER_DOC,
)
def list_audit(
    session: Session, filters: AuditFilter, limit: int = 100, cursor: int | None = None
) -> Response[list[AuditOut]]:
    page = audit_page(session, filters, limit=limit, cursor=cursor)
    headers = {"X-Next-Cursor": str(page.next_cursor)} if page.next_cursor is not None else {}
    return Response([_audit_out(a) for a in page.rows], headers=headers)


@get(
    "/api/audit.csv",
    opt=roles(*AUDIT_READERS),
    media_type="text/csv",
    sync_to_thread=True,
    tags=["audit"],
    dependencies={"filters": Provide(audit_filter, sync_to_thread=False)},
    description="Every audit row matching the filters as CSV (streamed, newest first). " + AUDIT_FILTER_DOC,
)
def export_audit(principal: Principal, runtime: Runtime, filters: AuditFilter) -> Stream:
    chunks = audit_csv(runtime.db, principal.scope, filters)
    return Stream(
        chunks,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


router = Router("/", route_handlers=[get_job, cancel_job, list_audit, export_audit])
