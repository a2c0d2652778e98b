"""Starting an agent's session and ending a wrap-up with a disposition: shared by the API and the demo.

Callers look the campaign and the attempt up through their own (scoped) session first; these functions
then record the session, set the live state and ask the engine to call the agent's phone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import attempts
from campaigns.models import DEFAULT_PAUSE_CODES, CallAttempt, Campaign, CampaignAgent, CampaignStatus
from core.db import ALL_ORGS, Database, utcnow
from core.errors import ConflictError, NotFoundError, ValidationError
from core.models import Role
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.requests import EngineRequest, push_request
from dialer.models import AgentSession
from dialer.phone_policy import require_allowed_phone
from dialer.phone_rules import parse_agent_uri


def assigned_campaigns(session: Session, agent_id: uuid.UUID) -> list[Campaign]:
    """The active campaigns the agent is assigned to, by name: those they may log in to."""
    return list(
        session.scalars(
            select(Campaign)
            .join(CampaignAgent, CampaignAgent.campaign_id == Campaign.id)
            .where(CampaignAgent.user_id == agent_id, Campaign.status == CampaignStatus.ACTIVE.value)
            .order_by(Campaign.name)
        )
    )


def assigned_campaign(session: Session, agent_id: uuid.UUID, requested: uuid.UUID | None) -> Campaign:
    """The campaign to log in to: `requested` if it is an active campaign of the agent's, else their only one."""
    campaigns = assigned_campaigns(session, agent_id)
    if requested is not None:
        for campaign in campaigns:
            if campaign.id == requested:
                return campaign
        raise NotFoundError(f"campaign {requested} is not an active campaign you are assigned to")
    if len(campaigns) != 1:
        raise ValidationError(
            f"you are assigned to {len(campaigns)} active campaigns: name one in campaign_id",
            field="campaign_id",
        )
    return campaigns[0]


def agent_sip_uri(uri: str) -> str:
    """The phone URI an agent typed, checked (`dialer.phone_rules.parse_agent_uri`) and in canonical form."""
    uri = uri.strip()
    if any(c in uri for c in "\r\n <>\"'"):
        raise ValidationError(
            "sip_uri must not contain spaces, quotes, angle brackets or line breaks", field="sip_uri"
        )
    return parse_agent_uri(uri).uri()


def open_agent_session(
    session: Session,
    client: redis.Redis,
    *,
    agent_id: uuid.UUID,
    sip_uri: str,
    campaign_id: uuid.UUID | None,
) -> AgentSession:
    """An agent logs in with their phone: the URI checked, the campaign chosen among their active ones,
    then `start_agent_session`. The API's `POST /api/agents/me/session` and the console's agent screen."""
    uri = agent_sip_uri(sip_uri)
    campaign = assigned_campaign(session, agent_id, campaign_id)
    return start_agent_session(session, client, agent_id=agent_id, campaign=campaign, sip_uri=uri)


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


def own_attempt(session: Session, agent_id: uuid.UUID, attempt_id: uuid.UUID) -> CallAttempt:
    """A call attempt that was connected to this agent (through the caller's scoped session), or 404."""
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one_or_none()
    if attempt is None or attempt.agent_id != agent_id:
        raise NotFoundError(f"call attempt {attempt_id} was not connected to you")
    return attempt


def dispose_own_call(
    session: Session,
    db: Database,
    client: redis.Redis,
    *,
    attempt_id: uuid.UUID,
    agent_id: uuid.UUID,
    code: str,
    at: datetime,
    callback_at: datetime | None = None,
    callback_same_agent: bool = False,
    role: Role = Role.AGENT,
    note: str = "",
) -> AgentState:
    """The agent's disposition of a call they took (`own_attempt`, then `dispose`): the API's
    `POST /api/agents/me/disposition` and the console's disposition buttons."""
    attempt = own_attempt(session, agent_id, attempt_id)
    return dispose(
        db,
        client,
        attempt_id=attempt.id,
        agent_id=agent_id,
        code=code,
        at=at,
        callback_at=callback_at,
        callback_same_agent=callback_same_agent,
        role=role,
        note=note,
    )


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
    role: Role = Role.AGENT,
    note: str = "",
) -> AgentState:
    """Apply (or correct, `campaigns.attempts.dispose_attempt` says who may) the disposition to the attempt
    and its lead, then end the agent's wrap-up if it was for this call. Returns the agent's state."""
    with db.session(ALL_ORGS) as s:
        attempt = s.get(CallAttempt, attempt_id)
        if attempt is None:
            raise NotFoundError(f"call attempt {attempt_id} was not connected to you")
        s.expunge(attempt)
    attempts.dispose_attempt(
        db,
        attempt,
        code=code,
        by=agent_id,
        role=role,
        at=at,
        callback_at=callback_at,
        callback_same_agent=callback_same_agent,
        note=note,
    )
    board = AgentBoard(client)
    status = board.status(str(agent_id))
    if status is None:
        return AgentState.LOGGED_OUT
    if status.state is AgentState.WRAP and status.last_attempt_id == str(attempt_id):
        return board.end_wrap(str(agent_id))
    return status.state


def pause_codes_of(campaign: Campaign | None) -> list[str]:
    """The reasons an agent of the campaign may pause with (the default list when it names none)."""
    return (
        list(campaign.pause_codes)
        if campaign is not None and campaign.pause_codes
        else list(DEFAULT_PAUSE_CODES)
    )


def pause_agent(
    session: Session, client: redis.Redis, *, agent_id: uuid.UUID, code: str | None
) -> AgentState:
    """Pause with one of the campaign's pause codes (its first when none is given): at once when READY,
    when the wrap-up ends when on a call. Returns the agent's state afterwards."""
    board = AgentBoard(client)
    status = board.status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        raise ConflictError("cannot pause: you are not logged in")
    allowed = pause_codes_of(session.get(Campaign, uuid.UUID(status.campaign_id)))
    chosen = (code or allowed[0]).strip().upper()
    if chosen not in allowed:
        raise ValidationError(
            f"unknown pause code {chosen}; the campaign's pause codes are {', '.join(allowed)}", field="code"
        )
    try:
        return board.pause(str(agent_id), code=chosen)
    except AgentStateError as exc:
        raise ConflictError(f"cannot pause: {exc}") from exc


def log_out(session: Session, client: redis.Redis, *, agent_id: uuid.UUID) -> AgentState:
    """Log an agent out. During a call or its wrap-up the logout is only requested: it takes effect when
    they end (the engine then hangs up the phone's leg), so the customer is never left on dead air.
    Returns the agent's state afterwards (LOGGED_OUT, or INCALL/WRAP with the logout pending)."""
    board = AgentBoard(client)
    status = board.status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        raise ConflictError("you are not logged in")
    if status.state in (AgentState.INCALL, AgentState.WRAP):
        try:
            board.request_logout(str(agent_id))
            return status.state
        except AgentStateError:
            status = board.status(str(agent_id)) or status  # the call ended meanwhile: log out now
    before = board.logout(str(agent_id))
    if before is None:
        return AgentState.LOGGED_OUT
    if before.session_id:
        row = session.get(AgentSession, uuid.UUID(before.session_id))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            row.end_reason = "logout"
    push_request(
        client,
        EngineRequest(
            kind="agent_logout",
            agent_id=str(agent_id),
            org_id=before.org_id,
            campaign_id=before.campaign_id,
            session_id=before.session_id,
            worker=before.worker,
            leg_id=before.leg_id,
        ),
    )
    return AgentState.LOGGED_OUT


def hang_up_customer(client: redis.Redis, *, agent_id: uuid.UUID, attempt_id: uuid.UUID | None) -> str:
    """Ask the engine to hang up the customer's call the agent is on (`attempt_id`, when given, must be
    that call). The agent's phone stays connected: the agent goes to wrap-up as when the customer hangs
    up, and the attempt records `ended_by = agent`. Returns the attempt id."""
    status = AgentBoard(client).status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        raise ConflictError("cannot hang up: you are not logged in")
    if status.state is not AgentState.INCALL or not status.attempt_id:
        raise ConflictError(f"cannot hang up: you are not on a call (you are {status.state.value})")
    if attempt_id is not None and str(attempt_id) != status.attempt_id:
        raise ConflictError(
            f"cannot hang up call attempt {attempt_id}: the call you are on is {status.attempt_id}"
        )
    push_request(
        client,
        EngineRequest(
            kind="agent_hangup",
            agent_id=str(agent_id),
            org_id=status.org_id,
            campaign_id=status.campaign_id,
            session_id=status.session_id,
            attempt_id=status.attempt_id,
        ),
    )
    return status.attempt_id


_SIP_REASONS = {
    "404": "the phone's SIP address does not exist (404)",
    "408": "the phone did not answer in time (408)",
    "480": "the phone is not registered or not available (480)",
    "486": "the phone was busy (486)",
    "487": "the call to the phone was cancelled (487)",
    "603": "the phone declined the call (603)",
}


def describe_end(reason: str) -> str:
    """Why a session ended, in words for the agent (the stored end_reason is terse)."""
    if not reason:
        return ""
    if reason == "logout":
        return "you logged out"
    if reason == "dialer_stopped":
        return "the dialer stopped; log in again when it is back"
    if reason == "rejected":
        return "the dialer could not call your phone (no line worker could take the call); try again"
    if reason.startswith("leg_down:"):
        _, status, detail = [*reason.split(":", 2), "", ""][:3]
        if status in ("200", "0", ""):
            return "your phone hung up" + (f" ({detail})" if detail else "")
        words = _SIP_REASONS.get(status, f"the call to your phone failed (SIP {status})")
        return f"could not reach your phone: {words}" + (f" - {detail}" if detail else "")
    return reason


def last_session(session: Session, agent_id: uuid.UUID) -> AgentSession | None:
    """The agent's latest session, ended or not (None if they never logged in)."""
    return session.scalars(
        select(AgentSession)
        .where(AgentSession.agent_id == agent_id)
        .order_by(AgentSession.started_at.desc())
        .limit(1)
    ).first()


def last_session_end(session: Session, agent_id: uuid.UUID) -> str:
    """Why the agent's last session ended, in words ("" if they never logged in)."""
    row = last_session(session, agent_id)
    if row is None or row.ended_at is None:
        return ""
    return describe_end(row.end_reason)
