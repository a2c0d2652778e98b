"""The audit log: who did what, from where and when, filtered by who, action, outcome and a range of
days, paged, and exported as CSV. The same query as `GET /api/audit` and `GET /api/audit.csv`
(`core.audit_log.audit_page`, `audit_csv`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors, utc_day
from api.console.pages.compliance import COMPLIANCE, compliance_page
from api.principal import Principal
from core.audit_log import OUTCOMES, AuditFilter, audit_csv, audit_page
from core.errors import ValidationError
from core.runtime import Runtime

PAGE_SIZE = 100


def _day(text: str, name: str, errors: FormErrors, *, end: bool = False) -> datetime | None:
    try:
        return utc_day(text, name, end=end)
    except ValidationError as exc:
        errors.add_error(exc)
        return None


def _filters(
    actor: str, action: str, outcome: str, since: str, until: str, errors: FormErrors
) -> AuditFilter:
    return AuditFilter(
        actor=actor,
        action=action,
        outcome=outcome,
        since=_day(since, "since", errors),
        until=_day(until, "until", errors, end=True),
    )


@get("/console/compliance/audit", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def audit_log(
    request: Request[Any, Any, Any],
    session: Session,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
    cursor: int | None = None,
) -> Template:
    errors = FormErrors()
    filters = _filters(actor, action, outcome, since, until, errors)
    rows, next_cursor = [], None
    if not errors:
        try:
            found = audit_page(session, filters, limit=PAGE_SIZE, cursor=cursor)
        except ValidationError as exc:
            message = str(exc)
            if exc.field == "until" and since and until:  # the form's days, not the bounds they became
                message = f"the last day ({until}) must not be before the first day ({since})"
            errors.add(exc.field or "form", message)
        else:
            rows, next_cursor = found.rows, found.next_cursor
    query = {
        k: v
        for k, v in dict(actor=actor, action=action, outcome=outcome, since=since, until=until).items()
        if v
    }
    return compliance_page(
        request,
        "compliance/audit.html",
        "audit",
        status_code=422 if errors else 200,
        rows=rows,
        next_cursor=next_cursor,
        cursor=cursor,
        v=query,
        errors=errors,
        outcomes=OUTCOMES,
        query=urlencode(query),
    )


@get("/console/compliance/audit.csv", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def audit_download(
    principal: Principal,
    runtime: Runtime,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
) -> Stream:
    errors = FormErrors()
    filters = _filters(actor, action, outcome, since, until, errors)
    if errors:
        name, message = next(iter(errors.by_field.items()))
        raise ValidationError(message, field=name)
    return Stream(
        audit_csv(runtime.db, principal.scope, filters),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


PAGES = [audit_log, audit_download]
