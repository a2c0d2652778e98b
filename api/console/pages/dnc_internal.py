"""The internal (entity-specific) DNC list and area-code blocks: search a number (its entries and the
history of removed ones), add, remove with a reason (the history is kept; the domain refuses agents and
keeps the person's own opt-outs), and the area-code blocks. The same `dnc.internal` functions as
`/api/dnc/internal`, `/api/dnc/area-code-blocks` and `/api/dnc/removals`."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.compliance import COMPLIANCE, FormData, compliance_page, form_value
from api.dnc.access import own_org
from api.principal import Principal
from core.errors import ValidationError
from dnc.internal import (
    NumberHistory,
    add_area_code_block,
    add_internal_dnc,
    area_code_blocks,
    internal_entries,
    is_persons_request,
    number_history,
    removals,
    remove_area_code_block,
    remove_internal_dnc,
)

RECENT = 50
SOURCE_LABELS = {
    "agent": "the person, told an agent",
    "opt_out_key": "the person, opt-out key",
    "compliance": "compliance staff",
    "import": "imported file",
    "api": "API",
    "privacy_request": "the person, deletion request",
}


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    *,
    phone: str = "",
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    errors = errors or FormErrors()
    found: NumberHistory | None = None
    if phone.strip():
        try:
            found = number_history(session, phone)
        except ValidationError as exc:
            errors.add("phone", str(exc))
    return compliance_page(
        request,
        "compliance/internal_dnc.html",
        "internal",
        status_code=status_code,
        phone=phone,
        found=found,
        entries=found.entries if found else internal_entries(session, limit=RECENT),
        removed=found.removed if found else removals(session, limit=20),
        blocks=area_code_blocks(session),
        errors=errors,
        v=typed or {},
        notice=notice,
        source_labels=SOURCE_LABELS,
        persons_request=is_persons_request,
    )


@get("/console/compliance/internal-dnc", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def internal_dnc(request: Request[Any, Any, Any], session: Session, phone: str = "") -> Template:
    return _page(request, session, phone=phone)


def _refused(
    request: Request[Any, Any, Any],
    session: Session,
    exc: ValidationError,
    field: str,
    data: FormData,
    phone: str,
) -> Template:
    session.rollback()  # nothing of a refused form is kept
    errors = FormErrors()
    errors.add(field, str(exc))
    typed = {k: form_value(data, k) for k in data}
    return _page(request, session, phone=phone, errors=errors, typed=typed, status_code=422)


@post("/console/compliance/internal-dnc", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def add_entry(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Template:
    own_org(principal)
    phone = form_value(data, "new_phone")
    try:
        added = add_internal_dnc(
            session,
            e164=phone,
            campaign_id=None,
            source="compliance",
            reason=form_value(data, "new_reason"),
            added_by=principal.user_id,
        )
    except ValidationError as exc:
        return _refused(request, session, exc, "new_phone", data, "")
    notice = (
        "Added to the internal DNC list." if added else "Already on the internal DNC list (kept as it was)."
    )
    return _page(request, session, phone=phone, notice=notice)


@post(
    "/console/compliance/internal-dnc/{entry_id:int}/remove",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_entry(
    request: Request[Any, Any, Any], entry_id: int, session: Session, principal: Principal, data: FormData
) -> Template:
    phone = form_value(data, "phone")
    try:
        removal = remove_internal_dnc(
            session,
            entry_id,
            removed_by=principal.user_id,
            role=principal.role,
            reason=form_value(data, f"reason_{entry_id}"),
        )
    except ValidationError as exc:
        return _refused(request, session, exc, f"reason_{entry_id}", data, phone)
    notice = f"{removal.value} removed from the internal DNC list; its history is kept below."
    return _page(request, session, phone=phone or removal.value, notice=notice)


@post(
    "/console/compliance/area-code-blocks", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True
)
def add_block(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Template:
    own_org(principal)
    try:
        added = add_area_code_block(
            session,
            area_code=form_value(data, "area_code"),
            campaign_id=None,
            reason=form_value(data, "area_reason"),
            added_by=principal.user_id,
        )
    except ValidationError as exc:
        return _refused(request, session, exc, "area_code", data, "")
    return _page(
        request, session, notice="Area code blocked." if added else "That area code was already blocked."
    )


@post(
    "/console/compliance/area-code-blocks/{block_id:int}/remove",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_block(
    request: Request[Any, Any, Any], block_id: int, session: Session, principal: Principal, data: FormData
) -> Template:
    try:
        removal = remove_area_code_block(
            session,
            block_id,
            removed_by=principal.user_id,
            role=principal.role,
            reason=form_value(data, f"block_reason_{block_id}"),
        )
    except ValidationError as exc:
        return _refused(request, session, exc, f"block_reason_{block_id}", data, "")
    return _page(request, session, notice=f"Area code {removal.value} unblocked; its history is kept.")


PAGES = [internal_dnc, add_entry, remove_entry, add_block, remove_block]
