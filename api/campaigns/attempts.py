"""Routes of call attempts: one attempt (the evidence of a call) and its disposition."""

from __future__ import annotations

import uuid

from litestar import get, post
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import CALLING, READ
from api.campaigns.schemas import AttemptOut, DispositionRequest, LeadOut
from api.principal import Principal
from campaigns import leads
from core.db import utcnow
from core.runtime import Runtime
from dialer.engine.sessions import dispose


@get("/api/call-attempts/{attempt_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_attempt(attempt_id: uuid.UUID, principal: Principal, session: Session) -> AttemptOut:
    return AttemptOut.of(
        leads.get_attempt(session, attempt_id, role=principal.role, user_id=principal.user_id)
    )


@post(
    "/api/call-attempts/{attempt_id:uuid}/disposition",
    opt=roles(*CALLING),
    sync_to_thread=True,
    status_code=200,
    description=(
        "Give or correct a call's disposition. Agents: only calls they handled, corrections within the "
        "campaign's wrap-up time after the call ended; managers and org admins correct any at any time "
        "(recorded as a manager correction, audited)."
    ),
)
def dispose_attempt(
    attempt_id: uuid.UUID, data: DispositionRequest, principal: Principal, session: Session, runtime: Runtime
) -> LeadOut:
    attempt = leads.get_attempt(session, attempt_id, role=principal.role, user_id=principal.user_id)
    lead_id = attempt.lead_id
    session.commit()
    # The one disposition path (also POST /api/agents/me/disposition and the demo): the rules of who may,
    # the lead's next step, and the end of the agent's wrap-up when it was for this call.
    dispose(
        runtime.db,
        runtime.redis,
        attempt_id=attempt.id,
        agent_id=principal.user_id,
        code=data.code,
        at=utcnow(),
        callback_at=data.callback_at,
        callback_same_agent=data.same_agent,
        role=principal.role,
        note=data.note,
    )
    return LeadOut.of(leads.get_lead(session, lead_id))


ROUTES = [get_attempt, dispose_attempt]
