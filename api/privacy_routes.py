"""Requests of a person over their data: file one, follow it, download the access export. Thin: the
rules are in `campaigns.privacy` (a called person) and `core.privacy` (every request)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.privacy import export_csv, file_lead_request
from core.db import utcnow
from core.errors import ConflictError, PermissionDeniedError, ValidationError
from core.models import Role
from core.privacy import PrivacyRequest, get_request, is_overdue, list_requests
from core.runtime import Runtime
from dialer.account_privacy import file_user_request

PRIVACY_ROLES = (Role.COMPLIANCE, Role.ORG_ADMIN)


class PrivacyRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str  # access | deletion | correction
    phone: str = ""  # the called person's number (E.164, or as typed: it is normalized)
    name: str | None = None
    email: str | None = None
    corrections: dict[str, Any] | None = None  # correction only: first_name, last_name, email
    org_id: uuid.UUID | None = None  # a platform admin names the organization
    # Instead of a phone: a user of the organization (an agent leaving); org admins only, access or deletion.
    user_id: uuid.UUID | None = None


class PrivacyRequestOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    subject: str  # lead | user
    phone: str | None
    subject_user_id: uuid.UUID | None
    status: str  # received | running | completed | failed
    received_at: datetime
    due_at: datetime
    overdue: bool
    completed_at: datetime | None
    job_id: uuid.UUID | None
    error: str | None
    # What was done: deleted, anonymized, minimized, kept (each kept item with its rule and reason).
    evidence: dict[str, Any]
    export_available: bool

    @classmethod
    def of(cls, r: PrivacyRequest) -> PrivacyRequestOut:
        return cls(
            id=r.id, kind=r.kind, subject=r.subject, phone=r.phone_e164, subject_user_id=r.subject_user_id,
            status=r.status, received_at=r.received_at, due_at=r.due_at, overdue=is_overdue(r, utcnow()),
            completed_at=r.completed_at, job_id=r.job_id, error=r.error, evidence=r.evidence or {},
            export_available=r.export is not None,
        )  # fmt: skip


@post("/api/privacy/requests", opt=roles(*PRIVACY_ROLES), sync_to_thread=True, status_code=202,
      tags=["privacy"])  # fmt: skip
def create_privacy_request(
    data: PrivacyRequestIn, principal: Principal, runtime: Runtime, session: Session
) -> PrivacyRequestOut:
    """File a called person's request (access, deletion or correction), due in 30 days; a job carries it
    out at once. Poll `GET /api/privacy/requests/{id}` for its status and evidence. With `user_id`
    instead of `phone` (org admins): a platform user's account data, exported or anonymized."""
    if data.user_id is not None:
        if principal.role not in (Role.ORG_ADMIN, Role.PLATFORM_ADMIN):
            raise PermissionDeniedError("only an org admin files requests over a user's account data")
        if data.phone or data.corrections or data.name or data.email:
            raise ValidationError("give either phone (a called person) or user_id (a user), not both",
                                  field="user_id")  # fmt: skip
        request_id = file_user_request(runtime, org_id=principal.org_for_write(data.org_id), kind=data.kind,
                                       user_id=data.user_id, requested_by=principal.user_id)  # fmt: skip
        return PrivacyRequestOut.of(get_request(session, request_id))
    request_id = file_lead_request(
        runtime,
        org_id=principal.org_for_write(data.org_id),
        kind=data.kind,
        phone=data.phone,
        name=data.name,
        email=data.email,
        corrections=data.corrections,
        requested_by=principal.user_id,
    )
    return PrivacyRequestOut.of(get_request(session, request_id))


@get("/api/privacy/requests", opt=roles(*PRIVACY_ROLES), sync_to_thread=True, tags=["privacy"])
def list_privacy_requests(session: Session, limit: int = 200) -> list[PrivacyRequestOut]:
    """The organization's requests, newest first, with status and due date."""
    return [PrivacyRequestOut.of(r) for r in list_requests(session, limit=limit)]


@get("/api/privacy/requests/{request_id:uuid}", opt=roles(*PRIVACY_ROLES), sync_to_thread=True,
     tags=["privacy"])  # fmt: skip
def get_privacy_request(session: Session, request_id: uuid.UUID) -> PrivacyRequestOut:
    return PrivacyRequestOut.of(get_request(session, request_id))


def _export(session: Session, request_id: uuid.UUID) -> tuple[PrivacyRequest, dict[str, Any]]:
    request = get_request(session, request_id)
    if request.kind != "access":
        raise ConflictError(f"privacy request {request_id} is a {request.kind} request: it has no export")
    if request.export is None:
        state = "removed (30 days after completion, or by a later deletion request)"
        raise ConflictError(f"the export of request {request_id} is not available: it is "
                            f"{request.status if request.status != 'completed' else state}")  # fmt: skip
    return request, request.export


@get("/api/privacy/requests/{request_id:uuid}/export.json", opt=roles(*PRIVACY_ROLES), sync_to_thread=True,
     tags=["privacy"], media_type="application/json")  # fmt: skip
def download_export_json(session: Session, request_id: uuid.UUID) -> Response[dict[str, Any]]:
    """The access export: everything held about the person, as one JSON document."""
    request, export = _export(session, request_id)
    name = f"privacy-export-{request.id}.json"
    return Response(export, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@get("/api/privacy/requests/{request_id:uuid}/export.csv", opt=roles(*PRIVACY_ROLES), sync_to_thread=True,
     tags=["privacy"], media_type="text/csv")  # fmt: skip
def download_export_csv(session: Session, request_id: uuid.UUID) -> Response[str]:
    """The access export as CSV: one line per field of every record (section, record, field, value)."""
    request, export = _export(session, request_id)
    name = f"privacy-export-{request.id}.csv"
    return Response(export_csv(export), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


ROUTES: list[ControllerRouterHandler] = [
    create_privacy_request, list_privacy_requests, get_privacy_request, download_export_json,
    download_export_csv,
]  # fmt: skip
