"""Requests of a person over their data (access, deletion, correction): the request row, its due date,
its status, and the evidence its completion leaves. The one home of what every request has in common.

What a request does depends on whose data it is: a called person's (`subject = "lead"`, identified by
their phone number; carried out by `campaigns.privacy`) or a platform user's (`subject = "user"`, an
agent leaving; `core.account_privacy`). Each runs as a job (`core.jobs`), so a request is received at
once and answered by a worker; `due_at` is 30 days after receipt (`core.legal.PRIVACY_REQUEST_DAYS`).
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import ALL_ORGS, Base, Database, OrgScoped, utcnow
from core.errors import NotFoundError, ValidationError
from core.jobs import JobReporter
from core.legal import PRIVACY_REQUEST_DAYS
from core.runtime import Runtime

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]


class RequestKind(enum.StrEnum):
    ACCESS = "access"
    DELETION = "deletion"
    CORRECTION = "correction"


class RequestStatus(enum.StrEnum):
    RECEIVED = "received"  # queued for its job
    RUNNING = "running"
    COMPLETED = "completed"  # `evidence` says what was done
    FAILED = "failed"  # `error` says why; filing the request again runs it again


class PrivacyRequest(OrgScoped, Base):
    """One request of a person over their data, and, once completed, the evidence of what was done."""

    __tablename__ = "privacy_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(8))  # lead | user
    phone_e164: Mapped[str | None] = mapped_column(String(16), default=None)  # a lead's number
    subject_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # a platform user
    # What the person gave to be found and answered; cleared when a deletion completes.
    subject_name: Mapped[str | None] = mapped_column(Text, default=None)
    subject_email: Mapped[str | None] = mapped_column(Text, default=None)
    corrections: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.RECEIVED.value)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    evidence: Mapped[JsonDict] = mapped_column(JSONB, default=dict)
    # The access export (a JSON document), removed by retention 30 days after completion.
    export: Mapped[JsonDict | None] = mapped_column(JSONB(none_as_null=True), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


JOB_KIND = "privacy_request"
MAX_TEXT = 500


def due_date(received_at: datetime) -> datetime:
    return received_at + timedelta(days=PRIVACY_REQUEST_DAYS)


def parse_kind(value: str) -> RequestKind:
    try:
        return RequestKind(value)
    except ValueError:
        raise ValidationError(
            f"kind {value!r} is not a request kind; one of {', '.join(k.value for k in RequestKind)}",
            field="kind",
        ) from None


def optional_text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{field} is longer than {MAX_TEXT} characters", field=field)
    return value.strip()


def list_requests(session: Session, *, limit: int = 200) -> list[PrivacyRequest]:
    """The organization's requests, newest first (the session's scope decides whose)."""
    if not 1 <= limit <= 1000:
        raise ValidationError(f"limit must be between 1 and 1000, got {limit}", field="limit")
    query = select(PrivacyRequest).order_by(PrivacyRequest.received_at.desc(), PrivacyRequest.id)
    return list(session.scalars(query.limit(limit)))


def get_request(session: Session, request_id: uuid.UUID) -> PrivacyRequest:
    found = session.scalars(select(PrivacyRequest).where(PrivacyRequest.id == request_id)).one_or_none()
    if found is None:
        raise NotFoundError(f"privacy request {request_id} not found")
    return found


def is_overdue(request: PrivacyRequest, now: datetime) -> bool:
    return request.status != RequestStatus.COMPLETED.value and now > request.due_at


def request_of_job(db: Database, job_id: uuid.UUID) -> uuid.UUID:
    with db.session(ALL_ORGS) as s:
        found = s.scalars(select(PrivacyRequest.id).where(PrivacyRequest.job_id == job_id)).one_or_none()
    if found is None:
        raise LookupError(f"job {job_id} runs no privacy request")
    return found


def mark(db: Database, request_id: uuid.UUID, **values: Any) -> None:
    """Set a request's status fields in a transaction of their own (the job's bookkeeping)."""
    with db.session(ALL_ORGS) as s:
        request = s.get(PrivacyRequest, request_id)
        if request is None:
            raise LookupError(f"privacy request {request_id} does not exist")
        for key, value in values.items():
            setattr(request, key, value)


# subject -> what carries out its requests: (transaction of the request's organization, the data
# directory, the request, now) -> evidence. Registered by the package whose data it is ("lead":
# campaigns.privacy, "user": dialer.account_privacy); the job worker imports both.
Handler = Callable[[Session, Path, PrivacyRequest, datetime], JsonDict]
HANDLERS: dict[str, Handler] = {}


def run_privacy_job(runtime: Runtime, job_id: uuid.UUID) -> None:
    """Carry out the request of a job in one transaction, then store its evidence; a failure changes
    nothing and says why on the request and its job."""
    from core.db import Scope

    request_id = request_of_job(runtime.db, job_id)
    reporter = JobReporter(runtime.db, job_id)
    try:
        reporter.started()
        mark(runtime.db, request_id, status=RequestStatus.RUNNING.value, error=None)
        with runtime.db.session(ALL_ORGS) as s:
            org_id = s.scalars(select(PrivacyRequest.org_id).where(PrivacyRequest.id == request_id)).one()
        with runtime.db.session(Scope(org_id)) as s:
            request = s.get(PrivacyRequest, request_id)
            assert request is not None
            handler = HANDLERS.get(request.subject)
            if handler is None:
                raise LookupError(f"no handler for {request.subject} requests is loaded in this process")
            evidence = handler(s, runtime.settings.home, request, utcnow())
            request.status = RequestStatus.COMPLETED.value
            request.completed_at = utcnow()
            request.evidence = evidence
        reporter.succeeded(result={"privacy_request": str(request_id), "kind": evidence.get("kind")})
    except Exception as exc:
        log.exception("privacy request %s failed", request_id)
        message = str(exc) if isinstance(exc, ValidationError) else f"unexpected error ({type(exc).__name__})"
        error = f"{message}; nothing was changed, file the request again to retry"
        mark(runtime.db, request_id, status=RequestStatus.FAILED.value, error=error)
        reporter.failed(error)
