"""Routes of call attempts: one attempt (the evidence of a call) and its disposition."""

from __future__ import annotations

import uuid

from litestar import get, post
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import CALLING, READ
from api.campaigns.schemas import AttemptOut, DispositionRequest, LeadOut
from api.principal import Principal
from campaigns import attempts, leads
from core.db import utcnow
from core.errors import PermissionDeniedError
from core.models import Role
from core.runtime import Runtime


@get("/api/call-attempts/{attempt_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_attempt(attempt_id: uuid.UUID, session: Session) -> AttemptOut:
    return AttemptOut.of(leads.get_attempt(session, attempt_id))


@post(
    "/api/call-attempts/{attempt_id:uuid}/disposition",
    opt=roles(*CALLING),
    sync_to_thread=True,
    status_code=200,
)
def dispose_attempt(
    attempt_id: uuid.UUID, data: DispositionRequest, principal: Principal, session: Session, runtime: Runtime
) -> LeadOut:
    attempt = leads.get_attempt(session, attempt_id)
    if principal.role is Role.AGENT and attempt.agent_id not in (None, principal.user_id):
        raise PermissionDeniedError("this call was handled by another agent")
    lead_id = attempt.lead_id
    session.commit()
    attempts.set_disposition(
        runtime.db,
        attempt_id,
        code=data.code,
        agent_id=principal.user_id,
        at=utcnow(),
        callback_at=data.callback_at,
        callback_same_agent=data.same_agent,
    )
    return LeadOut.of(leads.get_lead(session, lead_id))


ROUTES = [get_attempt, dispose_attempt]
