"""Privacy requests of called persons, for compliance staff: the organization's requests with their
status and due date, a form to file one, the evidence of a completed one and the access export's
download. The same functions as `/api/privacy/requests` (`campaigns.privacy`, `core.privacy`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.compliance import COMPLIANCE, FormData, compliance_page, form_value
from api.principal import Principal
from campaigns.privacy import CORRECTABLE, export_csv, file_lead_request
from core.db import utcnow
from core.errors import ConflictError, PermissionDeniedError, ValidationError
from core.privacy import RequestStatus, get_request, is_overdue, list_requests
from core.runtime import Runtime

KINDS = (
    ("access", "Access: export everything held about the person"),
    ("deletion", "Deletion: delete their data (their number stays on the internal DNC list)"),
    ("correction", "Correction: correct their name or email"),
)
FIELD_OF = {"corrections": "fix_first_name", **{f"corrections.{k}": f"fix_{k}" for k in CORRECTABLE}}


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    requests = list_requests(session)
    now = utcnow()
    pending = any(r.status in (RequestStatus.RECEIVED.value, RequestStatus.RUNNING.value) for r in requests)
    return compliance_page(
        request,
        "compliance/privacy.html",
        "privacy",
        status_code=status_code,
        requests=requests,
        overdue={r.id for r in requests if is_overdue(r, now)},
        pending=pending,
        kinds=KINDS,
        errors=errors or FormErrors(),
        v=typed or {"kind": "access"},
        notice=notice,
    )


@get("/console/compliance/privacy", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def privacy_requests(request: Request[Any, Any, Any], session: Session) -> Template:
    return _page(request, session)


@post("/console/compliance/privacy", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def file_privacy_request(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    if principal.org_id is None:
        raise PermissionDeniedError("privacy requests belong to an organization; use an organization account")
    kind = form_value(data, "kind")
    corrections = {k: form_value(data, f"fix_{k}") for k in CORRECTABLE if form_value(data, f"fix_{k}")}
    try:
        request_id = file_lead_request(
            runtime,
            org_id=principal.org_id,
            kind=kind,
            phone=form_value(data, "phone"),
            name=form_value(data, "name"),
            email=form_value(data, "email"),
            corrections=corrections or None,
            requested_by=principal.user_id,
        )
    except ValidationError as exc:
        errors = FormErrors()
        errors.add(FIELD_OF.get(exc.field or "", exc.field or "phone"), str(exc))
        typed = {k: form_value(data, k) for k in data}
        return _page(request, session, errors=errors, typed=typed, status_code=422)
    notice = f"The {kind} request was received (reference {request_id}); it is due in 30 days."
    return _page(request, session, notice=notice)


@get("/console/compliance/privacy/{request_id:uuid}", opt=COMPLIANCE.opt, include_in_schema=False,
     sync_to_thread=True)  # fmt: skip
def privacy_request(request: Request[Any, Any, Any], session: Session, request_id: uuid.UUID) -> Template:
    found = get_request(session, request_id)
    return compliance_page(
        request, "compliance/privacy_request.html", "privacy", r=found, overdue=is_overdue(found, utcnow()),
        evidence_json=json.dumps(found.evidence or {}, indent=2, ensure_ascii=False),
    )  # fmt: skip


def _export(session: Session, request_id: uuid.UUID) -> dict[str, Any]:
    found = get_request(session, request_id)
    if found.export is None:
        raise ConflictError(f"request {request_id} has no export to download (status {found.status})")
    return found.export


@get("/console/compliance/privacy/{request_id:uuid}/export.json", opt=COMPLIANCE.opt,
     include_in_schema=False, sync_to_thread=True)  # fmt: skip
def privacy_export_json(session: Session, request_id: uuid.UUID) -> Response[bytes]:
    body = json.dumps(_export(session, request_id), ensure_ascii=False, indent=2).encode()
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="privacy-export-{request_id}.json"'})  # fmt: skip


@get("/console/compliance/privacy/{request_id:uuid}/export.csv", opt=COMPLIANCE.opt,
     include_in_schema=False, sync_to_thread=True)  # fmt: skip
def privacy_export_csv(session: Session, request_id: uuid.UUID) -> Response[str]:
    return Response(export_csv(_export(session, request_id)), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="privacy-export-{request_id}.csv"'})  # fmt: skip


PAGES = [privacy_requests, file_privacy_request, privacy_request, privacy_export_json, privacy_export_csv]
