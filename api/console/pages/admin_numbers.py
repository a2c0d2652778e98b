"""Admin > Caller IDs: the organization's TN inventory (the numbers it may present), through the same
`attestation.inventory` services as `/api/attestation/numbers`: add a number or a range (the E.164,
range and overlap rules are the service's), remove one. Numbers are added as pending; only the platform
verifies them (attestation A must be earned), so the verify / reject buttons are a platform admin's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.nav import console_opt
from api.console.pages.admin import (
    ADMIN,
    FormData,
    Organizations,
    admin_page,
    field_errors,
    form_value,
)
from api.principal import Principal
from attestation import inventory
from core.errors import ConflictError, ValidationError

PLATFORM_ONLY = console_opt()  # no organization role: platform admins only


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return admin_page(
        request,
        "admin/caller_ids.html",
        "caller-ids",
        status_code=status_code,
        blocks=inventory.list_blocks(session),
        orgs=Organizations(session, principal),
        can_verify=principal.is_platform_admin,
        v=values or {},
        errors=errors or FormErrors(),
        notice=notice,
        max_range=inventory.MAX_RANGE_SIZE,
    )


@get("/console/admin/caller-ids", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def caller_ids(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    return _page(request, session, principal)


@post("/console/admin/caller-ids/new", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def add_caller_ids(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Response[Any]:
    values = {k: form_value(data, k).strip() for k in ("first", "last", "label", "org_id")}
    errors = FormErrors()
    orgs = Organizations(session, principal)
    try:
        org_id = orgs.for_write(values["org_id"], errors)
        if org_id is not None:
            block = inventory.add_numbers(
                session,
                org_id=org_id,
                first=values["first"],
                last=values["last"] or None,
                label=values["label"],
            )
            added = f"+{block.first_tn}" + ("" if block.size == 1 else f" to +{block.last_tn}")
            notice = {
                "kind": "ok",
                "title": "Added.",
                "message": f"{added}: pending the platform's verification.",
            }
            return _page(request, session, principal, notice=notice)
    except ValidationError as exc:
        session.rollback()
        field_errors(errors, exc, {})
    except ConflictError as exc:  # overlaps an entry, or verified for another organization
        session.rollback()
        errors.add("first", str(exc))
    return _page(request, session, principal, values, errors, status_code=422)


@post(
    "/console/admin/caller-ids/{tn_id:uuid}/remove",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_caller_ids(
    request: Request[Any, Any, Any], tn_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    block = inventory.get_block(session, tn_id)
    shown = f"+{block.first_tn}" + ("" if block.size == 1 else f" to +{block.last_tn}")
    inventory.remove_block(session, tn_id)
    notice = {"kind": "ok", "title": "Removed.", "message": f"{shown} is no longer in the inventory."}
    return _page(request, session, principal, notice=notice)


@post(
    "/console/admin/caller-ids/{tn_id:uuid}/status",
    opt=PLATFORM_ONLY,
    include_in_schema=False,
    sync_to_thread=True,
)
def set_caller_id_status(
    request: Request[Any, Any, Any], tn_id: uuid.UUID, session: Session, principal: Principal, data: FormData
) -> Template:
    block = inventory.set_status(session, tn_id, form_value(data, "status"), at=datetime.now(UTC))
    notice = {"kind": "ok", "title": "Saved.", "message": f"+{block.first_tn} is now {block.status}."}
    return _page(request, session, principal, notice=notice)


PAGES = [caller_ids, add_caller_ids, remove_caller_ids, set_caller_id_status]
