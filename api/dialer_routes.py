"""HTTP routes of the dialer: an agent's session (log in with a SIP phone, pause, resume, log out,
disposition, current lead), a campaign's live view for managers, and trunk alarms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Router, delete, get, post
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.models import CallAttempt, Campaign, CampaignAgent, CampaignStatus, Disposition, Lead
from campaigns.service import get_campaign
from core.db import utcnow
from core.errors import ConflictError, NotFoundError, ValidationError
from core.models import Role
from core.runtime import Runtime
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError, AgentStatus
from dialer.engine.live import read_campaign_live
from dialer.engine.requests import EngineRequest, push_request
from dialer.engine.sessions import dispose, start_agent_session
from dialer.models import AgentSession, TrunkAlarm
from dialer.phone_rules import parse_agent_uri


class SessionStart(msgspec.Struct, forbid_unknown_fields=True):
    sip_uri: str
    campaign_id: uuid.UUID | None = None  # optional when the agent is assigned to exactly one active campaign


class DispositionIn(msgspec.Struct, forbid_unknown_fields=True):
    attempt_id: uuid.UUID
    disposition: str
    callback_at: datetime | None = None  # required by callback dispositions
    callback_same_agent: bool = False


class AgentSessionOut(msgspec.Struct):
    session_id: uuid.UUID | None
    agent_id: uuid.UUID
    campaign_id: uuid.UUID | None
    state: str
    since: datetime | None
    sip_uri: str
    attempt_id: uuid.UUID | None  # the call the agent is on (INCALL) or must disposition (WRAP)
    wrap_until: datetime | None
    pause_requested: bool

    @classmethod
    def of(cls, agent_id: uuid.UUID, status: AgentStatus | None) -> AgentSessionOut:
        if status is None or status.state is AgentState.LOGGED_OUT:
            return cls(None, agent_id, None, AgentState.LOGGED_OUT.value, None, "", None, None, False)
        current = status.attempt_id or (status.last_attempt_id if status.state is AgentState.WRAP else "")
        return cls(
            session_id=uuid.UUID(status.session_id) if status.session_id else None,
            agent_id=agent_id,
            campaign_id=uuid.UUID(status.campaign_id),
            state=status.state.value,
            since=_from_ms(status.since_ms),
            sip_uri=status.sip_uri,
            attempt_id=uuid.UUID(current) if current else None,
            wrap_until=_from_ms(status.wrap_until_ms) if status.state is AgentState.WRAP else None,
            pause_requested=status.pause_requested,
        )


class LeadOut(msgspec.Struct):
    attempt_id: uuid.UUID
    lead_id: int
    e164: str
    first_name: str | None
    last_name: str | None
    state: str | None
    zip_code: str | None
    extra: dict[str, Any]
    answered_at: datetime | None
    agent_connected_at: datetime | None


class AgentLiveOut(msgspec.Struct):
    agent_id: uuid.UUID
    state: str
    since: datetime | None
    worker: str


class CampaignLiveOut(msgspec.Struct):
    campaign_id: uuid.UUID
    status: str
    engine_running: bool
    calls_placed: int
    calls_in_progress: int
    answered: int
    connected: int
    abandoned: int
    dnc_blocked: int
    abandon_rate: float
    dial_level: float
    agents: list[AgentLiveOut]
    agent_states: dict[str, int]
    updated_at: datetime | None


class TrunkAlarmOut(msgspec.Struct):
    id: uuid.UUID
    trunk: str
    campaign_id: uuid.UUID | None
    attempt_id: uuid.UUID | None
    kind: str
    sip_status: int
    reason: str
    raised_at: datetime
    cleared_at: datetime | None


def _from_ms(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def _board(runtime: Runtime) -> AgentBoard:
    return AgentBoard(runtime.redis)


def _assigned_campaign(session: Session, agent_id: uuid.UUID, requested: uuid.UUID | None) -> Campaign:
    query = (
        select(Campaign)
        .join(CampaignAgent, CampaignAgent.campaign_id == Campaign.id)
        .where(CampaignAgent.user_id == agent_id, Campaign.status == CampaignStatus.ACTIVE.value)
    )
    if requested is not None:
        campaign = session.scalars(query.where(Campaign.id == requested)).one_or_none()
        if campaign is None:
            raise NotFoundError(f"campaign {requested} is not an active campaign you are assigned to")
        return campaign
    campaigns = list(session.scalars(query))
    if len(campaigns) != 1:
        raise ValidationError(
            f"you are assigned to {len(campaigns)} active campaigns: name one in campaign_id",
            field="campaign_id",
        )
    return campaigns[0]


def _validate_sip_uri(uri: str) -> str:
    uri = uri.strip()
    if any(c in uri for c in "\r\n <>\"'"):
        raise ValidationError(
            "sip_uri must not contain spaces, quotes, angle brackets or line breaks", field="sip_uri"
        )
    return parse_agent_uri(uri).uri()


@post("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=201)
def start_session(
    data: SessionStart, principal: Principal, session: Session, runtime: Runtime
) -> AgentSessionOut:
    """Log in: the engine calls the agent's phone once and keeps the leg up; the agent is READY after it answers.
    The phone must be allowed by the organization's agent-phone rules (`/api/agent-phones`): otherwise 403
    naming the URI and the rule, and no call is placed."""
    sip_uri = _validate_sip_uri(data.sip_uri)
    campaign = _assigned_campaign(session, principal.user_id, data.campaign_id)
    start_agent_session(
        session, runtime.redis, agent_id=principal.user_id, campaign=campaign, sip_uri=sip_uri
    )
    board = _board(runtime)
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@get("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True)
def get_session(principal: Principal, runtime: Runtime) -> AgentSessionOut:
    return AgentSessionOut.of(principal.user_id, _board(runtime).status(str(principal.user_id)))


@delete("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def end_session(principal: Principal, session: Session, runtime: Runtime) -> AgentSessionOut:
    """Log out: the engine hangs up the agent's leg. A call in progress stays up until the lead hangs up."""
    board = _board(runtime)
    before = board.logout(str(principal.user_id))
    if before is None:
        raise ConflictError("you are not logged in")
    if before.session_id:
        row = session.get(AgentSession, uuid.UUID(before.session_id))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            row.end_reason = "logout"
    push_request(
        runtime.redis,
        EngineRequest(
            kind="agent_logout",
            agent_id=str(principal.user_id),
            org_id=before.org_id,
            campaign_id=before.campaign_id,
            session_id=before.session_id,
            worker=before.worker,
            leg_id=before.leg_id,
        ),
    )
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@post("/me/pause", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def pause(principal: Principal, runtime: Runtime) -> AgentSessionOut:
    """READY → PAUSED now; during a call or wrap-up the pause starts when the wrap-up ends."""
    board = _board(runtime)
    try:
        board.pause(str(principal.user_id))
    except AgentStateError as exc:
        raise ConflictError(f"cannot pause: {exc}") from exc
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@post("/me/resume", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def resume(principal: Principal, runtime: Runtime) -> AgentSessionOut:
    board = _board(runtime)
    try:
        board.resume(str(principal.user_id))
    except AgentStateError as exc:
        raise ConflictError(f"cannot resume: {exc}; only a PAUSED agent can resume") from exc
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


def _own_attempt(session: Session, principal: Principal, attempt_id: uuid.UUID) -> CallAttempt:
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one_or_none()
    if attempt is None or attempt.agent_id != principal.user_id:
        raise NotFoundError(f"call attempt {attempt_id} was not connected to you")
    return attempt


@post("/me/disposition", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def set_disposition(
    data: DispositionIn, principal: Principal, session: Session, runtime: Runtime
) -> AgentSessionOut:
    """Record what the call was (`campaigns.attempts.set_disposition`: a DNC disposition puts the number on
    the internal DNC list at once). Ends the agent's wrap-up (READY again, or PAUSED if a pause was asked)."""
    attempt = _own_attempt(session, principal, data.attempt_id)
    code = data.disposition.strip()
    if not code:
        raise ValidationError("disposition must not be empty", field="disposition")
    if attempt.disposition is not None:
        raise ConflictError(f"call attempt {attempt.id} already has disposition {attempt.disposition!r}")
    configured = session.scalars(
        select(Disposition).where(Disposition.campaign_id == attempt.campaign_id, Disposition.code == code)
    ).one_or_none()
    if configured is None:
        known = sorted(
            session.scalars(select(Disposition.code).where(Disposition.campaign_id == attempt.campaign_id))
        )
        raise ValidationError(
            f"unknown disposition {code!r} for this campaign; one of {known}", field="disposition"
        )
    dispose(
        runtime.db,
        runtime.redis,
        attempt_id=attempt.id,
        agent_id=principal.user_id,
        code=code,
        at=utcnow(),
        callback_at=data.callback_at,
        callback_same_agent=data.callback_same_agent,
    )
    board = _board(runtime)
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@get("/me/lead", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True)
def current_lead(principal: Principal, session: Session, runtime: Runtime) -> LeadOut:
    """The lead of the call the agent is on, or is wrapping up."""
    status = _board(runtime).status(str(principal.user_id))
    current = ""
    if status is not None:
        current = status.attempt_id or (status.last_attempt_id if status.state is AgentState.WRAP else "")
    if not current:
        raise NotFoundError("you are not on a call")
    attempt = _own_attempt(session, principal, uuid.UUID(current))
    lead = session.scalars(select(Lead).where(Lead.id == attempt.lead_id)).one()
    return LeadOut(
        attempt_id=attempt.id,
        lead_id=lead.id,
        e164=lead.phone_e164,
        first_name=lead.first_name,
        last_name=lead.last_name,
        state=lead.state,
        zip_code=lead.zip_code,
        extra=dict(lead.extra),
        answered_at=attempt.answered_at,
        agent_connected_at=attempt.agent_connected_at,
    )


@get("/campaigns/{campaign_id:uuid}/live", opt=roles(Role.MANAGER, Role.ORG_ADMIN), sync_to_thread=True)
def campaign_live(campaign_id: uuid.UUID, session: Session, runtime: Runtime) -> CampaignLiveOut:
    """What the campaign is doing right now: the engine's running counters and every agent's state."""
    campaign = get_campaign(session, campaign_id)
    live = read_campaign_live(runtime.redis, str(campaign.id))
    stats, agents, states = live.stats, live.agents, live.agent_states
    return CampaignLiveOut(
        campaign_id=campaign.id,
        status=campaign.status,
        engine_running=stats.running,
        calls_placed=stats.calls_placed,
        calls_in_progress=stats.calls_in_progress,
        answered=stats.answered,
        connected=stats.connected,
        abandoned=stats.abandoned,
        dnc_blocked=stats.blocked,
        abandon_rate=stats.abandon_rate,
        dial_level=stats.dial_level,
        agents=[
            AgentLiveOut(uuid.UUID(a.agent_id), a.state.value, _from_ms(a.since_ms), a.worker) for a in agents
        ],
        agent_states=states,
        updated_at=_from_ms(stats.updated_ms),
    )


@get("/alarms", opt=roles(Role.MANAGER, Role.ORG_ADMIN, Role.COMPLIANCE), sync_to_thread=True)
def trunk_alarms(session: Session, open_only: bool = True) -> list[TrunkAlarmOut]:
    query = select(TrunkAlarm).order_by(TrunkAlarm.raised_at.desc()).limit(500)
    if open_only:
        query = query.where(TrunkAlarm.cleared_at.is_(None))
    return [
        TrunkAlarmOut(
            a.id,
            a.trunk,
            a.campaign_id,
            a.attempt_id,
            a.kind,
            a.sip_status,
            a.reason,
            a.raised_at,
            a.cleared_at,
        )
        for a in session.scalars(query)
    ]


agents_router = Router(
    "/api/agents",
    route_handlers=[start_session, get_session, end_session, pause, resume, set_disposition, current_lead],
    tags=["agents"],
)
dialer_router = Router("/api/dialer", route_handlers=[campaign_live, trunk_alarms], tags=["dialer"])

ROUTES: list[ControllerRouterHandler] = [agents_router, dialer_router]
