"""Routes of the internal (entity-specific) DNC list and area-code blocks."""

from __future__ import annotations

from litestar import delete, get, post
from sqlalchemy.orm import Session

from api.auth import roles
from api.dnc.access import ANY_ROLE, STAFF, own_org
from api.dnc.schemas import AreaCodeIn, AreaCodeOut, InternalIn, InternalOut, RemovalOut
from api.principal import Principal
from dnc.internal import (
    add_area_code_block,
    add_internal_dnc,
    area_code_blocks,
    internal_entries,
    removals,
    remove_area_code_block,
    remove_internal_dnc,
)


@post(
    "/api/dnc/internal",
    opt=roles(*ANY_ROLE),
    sync_to_thread=True,
    status_code=201,
    description="Add a number (organization-wide, or one campaign's); a number already listed stays one entry.",
)
def post_internal(data: InternalIn, principal: Principal, session: Session) -> dict[str, str]:
    own_org(principal)
    added = add_internal_dnc(
        session,
        e164=data.e164,
        campaign_id=data.campaign_id,
        source=data.source,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added" if added else "already listed"}


@get("/api/dnc/internal", opt=roles(*STAFF), sync_to_thread=True)
def get_internal(session: Session, e164: str | None = None, limit: int = 100) -> list[InternalOut]:
    return [InternalOut.of(e) for e in internal_entries(session, e164=e164, limit=limit)]


@post("/api/dnc/area-code-blocks", opt=roles(*STAFF), sync_to_thread=True, status_code=201)
def post_area_code_block(data: AreaCodeIn, principal: Principal, session: Session) -> dict[str, str]:
    own_org(principal)
    added = add_area_code_block(
        session,
        area_code=data.area_code,
        campaign_id=data.campaign_id,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added" if added else "already listed"}


@get("/api/dnc/area-code-blocks", opt=roles(*STAFF), sync_to_thread=True)
def get_area_code_blocks(session: Session) -> list[AreaCodeOut]:
    return [AreaCodeOut.of(b) for b in area_code_blocks(session)]


REMOVAL_DOC = (
    "Remove it (compliance staff and org admins only; `reason` is required). Its history (what it was, who "
    "added it and why, who removed it, when and why) stays in GET /api/dnc/removals, and the request is audited."
)


@delete(
    "/api/dnc/internal/{entry_id:int}",
    opt=roles(*STAFF),
    sync_to_thread=True,
    status_code=200,
    description=REMOVAL_DOC,
)
def delete_internal(entry_id: int, principal: Principal, session: Session, reason: str = "") -> RemovalOut:
    return RemovalOut.of(
        remove_internal_dnc(
            session, entry_id, removed_by=principal.user_id, role=principal.role, reason=reason
        )
    )


@delete(
    "/api/dnc/area-code-blocks/{block_id:int}",
    opt=roles(*STAFF),
    sync_to_thread=True,
    status_code=200,
    description=REMOVAL_DOC,
)
def delete_area_code_block(
    block_id: int, principal: Principal, session: Session, reason: str = ""
) -> RemovalOut:
    return RemovalOut.of(
        remove_area_code_block(
            session, block_id, removed_by=principal.user_id, role=principal.role, reason=reason
        )
    )


@get("/api/dnc/removals", opt=roles(*STAFF), sync_to_thread=True)
def get_removals(session: Session, value: str | None = None, limit: int = 100) -> list[RemovalOut]:
    """Removed internal DNC entries and area-code blocks, newest first (`value`: one number or area code)."""
    return [RemovalOut.of(r) for r in removals(session, value=value, limit=limit)]


ROUTES = [
    post_internal,
    get_internal,
    delete_internal,
    post_area_code_block,
    get_area_code_blocks,
    delete_area_code_block,
    get_removals,
]
