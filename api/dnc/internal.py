"""Routes of the internal (entity-specific) DNC list and area-code blocks."""

from __future__ import annotations

from litestar import get, post
from sqlalchemy.orm import Session

from api.auth import roles
from api.dnc.access import ANY_ROLE, STAFF, own_org
from api.dnc.schemas import AreaCodeIn, InternalIn, InternalOut
from api.principal import Principal
from dnc.internal import add_area_code_block, add_internal_dnc, internal_entries


@post("/api/dnc/internal", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=201)
def post_internal(data: InternalIn, principal: Principal, session: Session) -> dict[str, str]:
    own_org(principal)
    add_internal_dnc(
        session,
        e164=data.e164,
        campaign_id=data.campaign_id,
        source=data.source,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added"}


@get("/api/dnc/internal", opt=roles(*STAFF), sync_to_thread=True)
def get_internal(session: Session, e164: str | None = None, limit: int = 100) -> list[InternalOut]:
    return [InternalOut.of(e) for e in internal_entries(session, e164=e164, limit=limit)]


@post("/api/dnc/area-code-blocks", opt=roles(*STAFF), sync_to_thread=True, status_code=201)
def post_area_code_block(data: AreaCodeIn, principal: Principal, session: Session) -> dict[str, str]:
    own_org(principal)
    add_area_code_block(
        session,
        area_code=data.area_code,
        campaign_id=data.campaign_id,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added"}


ROUTES = [post_internal, get_internal, post_area_code_block]
