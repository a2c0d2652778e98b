"""Starting an agent's session and ending a wrap-up with a disposition: shared by the API and the demo.

Callers look the campaign and the attempt up through their own (scoped) session first; these functions
then record the session, set the live state and ask the engine to call the agent's phone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import redis
from sqlalchemy.orm import Session

from campaigns import attempts
from campaigns.models import Campaign
from core.db import Database
from core.errors import ConflictError
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.requests import EngineRequest, push_request
from dialer.models import AgentSession
from dialer.phone_policy import require_allowed_phone


def start_agent_session(
    session: Session, client: redis.Redis, *, agent_id: uuid.UUID, campaign: Campaign, sip_uri: str
) -> AgentSession:
    """Record the session, mark the agent CONNECTING and ask the engine to call `sip_uri` once. A phone the
    organization's agent-phone rules do not allow is refused first (`PhoneNotAllowedError`, nothing
    recorded, no INVITE)."""
    require_allowed_phone(session, agent_id=agent_id, sip_uri=sip_uri)
    row = AgentSession(org_id=campaign.org_id, agent_id=agent_id, campaign_id=campaign.id, sip_uri=sip_uri)
    session.add(row)
    session.flush()
    try:
        AgentBoard(client).start_session(
            agent_id=str(agent_id),
            org_id=str(campaign.org_id),
            campaign_id=str(campaign.id),
            session_id=str(row.id),
            sip_uri=sip_uri,
        )
    except AgentStateError as exc:
        raise ConflictError(f"cannot start a session: {exc}") from exc
    push_request(
        client,
        EngineRequest(
            kind="agent_login",
            agent_id=str(agent_id),
            org_id=str(campaign.org_id),
            campaign_id=str(campaign.id),
            session_id=str(row.id),
            sip_uri=sip_uri,
        ),
    )
    return row


def dispose(
    db: Database,
    client: redis.Redis,
    *,
    attempt_id: uuid.UUID,
    agent_id: uuid.UUID,
    code: str,
    at: datetime,
    callback_at: datetime | None = None,
    callback_same_agent: bool = False,
) -> AgentState:
    """Apply the disposition to the attempt and its lead, then end the agent's wrap-up if it was for this
    call. Returns the agent's state afterwards."""
    attempts.set_disposition(
        db,
        attempt_id,
        code=code,
        agent_id=agent_id,
        at=at,
        callback_at=callback_at,
        callback_same_agent=callback_same_agent,
    )
    board = AgentBoard(client)
    status = board.status(str(agent_id))
    if status is None:
        return AgentState.LOGGED_OUT
    if status.state is AgentState.WRAP and status.last_attempt_id == str(attempt_id):
        return board.end_wrap(str(agent_id))
    return status.state
