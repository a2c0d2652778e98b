"""Routes of leads: search, export, one lead and its attempts, callbacks."""

from __future__ import annotations

import uuid

from litestar import get, post
from litestar.response import Stream
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import CALLING, LEAD_DATA, READ
from api.campaigns.schemas import AttemptOut, CallbackIn, LeadOut
from api.principal import Principal
from campaigns import attempts, leads, service
from campaigns.export import export_csv
from core.db import utcnow
from core.runtime import Runtime


@get("/api/campaigns/{campaign_id:uuid}/leads", opt=roles(*LEAD_DATA), sync_to_thread=True)
def search_leads(
    campaign_id: uuid.UUID,
    session: Session,
    status: str | None = None,
    list_id: uuid.UUID | None = None,
    phone: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[LeadOut]:
    """Leads of a campaign, in a stable order; page with `after_id` = the last id seen (0: from the start).
    Lead ids are opaque: their order and distance say nothing (docs/security.md)."""
    found = leads.search_leads(
        session,
        campaign_id,
        status=status,
        list_id=list_id,
        phone=phone,
        after_id=leads.after_id_from_public(after_id),
        limit=limit,
    )
    return [LeadOut.of(x) for x in found]


@get(
    "/api/campaigns/{campaign_id:uuid}/leads/export",
    opt=roles(*LEAD_DATA),
    sync_to_thread=True,
    media_type="text/csv",
)
def export_leads(campaign_id: uuid.UUID, principal: Principal, session: Session, runtime: Runtime) -> Stream:
    service.get_campaign(session, campaign_id)
    return Stream(
        export_csv(runtime.db, principal.scope, campaign_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-leads.csv"'},
    )


@get("/api/leads/{lead_id:int}", opt=roles(*READ), sync_to_thread=True)
def get_lead(lead_id: int, principal: Principal, session: Session) -> LeadOut:
    """An agent sees only leads of calls they handled and their own callbacks."""
    lead = leads.get_lead(
        session, leads.lead_id_from_public(lead_id), role=principal.role, user_id=principal.user_id
    )
    return LeadOut.of(lead)


@get("/api/leads/{lead_id:int}/attempts", opt=roles(*READ), sync_to_thread=True)
def lead_attempts(lead_id: int, principal: Principal, session: Session) -> list[AttemptOut]:
    internal = leads.lead_id_from_public(lead_id)
    found = leads.lead_attempts(session, internal, role=principal.role, user_id=principal.user_id)
    return [AttemptOut.of(a) for a in found]


@post("/api/leads/{lead_id:int}/callback", opt=roles(*CALLING), sync_to_thread=True, status_code=200)
def schedule_callback(lead_id: int, data: CallbackIn, principal: Principal, session: Session) -> LeadOut:
    internal = leads.lead_id_from_public(lead_id)
    lead = leads.get_lead(session, internal, role=principal.role, user_id=principal.user_id)
    agent_id = principal.user_id if data.same_agent else None
    attempts.schedule_callback(session, lead, callback_at=data.at, agent_id=agent_id, now=utcnow())
    session.flush()
    return LeadOut.of(lead)


@get("/api/campaigns/{campaign_id:uuid}/callbacks", opt=roles(*CALLING), sync_to_thread=True)
def list_callbacks(
    campaign_id: uuid.UUID, principal: Principal, session: Session, mine: bool = False
) -> list[LeadOut]:
    """Scheduled callbacks, soonest first; `mine=true`: those for the caller plus those for anyone."""
    found = leads.scheduled_callbacks(
        session,
        campaign_id,
        for_agent=principal.user_id if mine else None,
        role=principal.role,
        user_id=principal.user_id,
    )
    return [LeadOut.of(x) for x in found]


ROUTES = [search_leads, export_leads, get_lead, lead_attempts, schedule_callback, list_callbacks]
