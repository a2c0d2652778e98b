"""HTTP routes of the dialer: an agent's session (log in with a SIP phone, pause, resume, log out,
disposition, current lead), a campaign's live view for managers, and trunk alarms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, post
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.service import get_campaign
from core.db import utcnow
from core.errors import ConflictError, NotFoundError
from core.models import Role
from core.public_ids import internal_lead_id, public_lead_id
from core.runtime import Runtime
from dialer.agent_desk import current_call
from dialer.engine.agent_dialing import SKIP_REASONS, dial_preview, manual_dial, preview_offer, skip_preview
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError, AgentStatus
from dialer.engine.live import read_campaign_live
from dialer.engine.sessions import (
    describe_end,
    dispose_own_call,
    hang_up_customer,
    last_session_end,
    log_out,
    open_agent_session,
    pause_agent,
)
from dialer.figures import Figures, today_and_rolling
from dialer.models import TrunkAlarm


class SessionStart(msgspec.Struct, forbid_unknown_fields=True):
    sip_uri: str
    campaign_id: uuid.UUID | None = None  # optional when the agent is assigned to exactly one active campaign


class DispositionIn(msgspec.Struct, forbid_unknown_fields=True):
    attempt_id: uuid.UUID
    disposition: str
    callback_at: datetime | None = None  # required by callback dispositions
    callback_same_agent: bool = False
    # Free text kept with a revocation ("revoke" dispositions such as REVOKED): what the consumer said.
    note: Annotated[str, msgspec.Meta(max_length=10_000)] = ""


class HangupIn(msgspec.Struct, forbid_unknown_fields=True):
    attempt_id: uuid.UUID | None = None  # the call you are on; when given, it must be that call


class HangupOut(msgspec.Struct):
    attempt_id: uuid.UUID
    state: str  # INCALL until the engine has hung up (then WRAP, on the same phone leg)


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
    pause_code: str = ""
    logout_pending: bool = False  # asked during a call: takes effect when the call and its wrap-up end
    ended_reason: str = ""  # LOGGED_OUT: why the last session ended, in words (e.g. the phone did not answer)

    @classmethod
    def of(cls, agent_id: uuid.UUID, status: AgentStatus | None, *, last_end: str = "") -> AgentSessionOut:
        if status is None or status.state is AgentState.LOGGED_OUT:
            return cls(
                None,
                agent_id,
                None,
                AgentState.LOGGED_OUT.value,
                None,
                "",
                None,
                None,
                False,
                ended_reason=last_end,
            )
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
            pause_code=status.pause_code,
            logout_pending=status.logout_requested,
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
    pause_code: str = ""


class PauseIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str | None = None  # one of the campaign's pause_codes; its first when not given


class FiguresOut(msgspec.Struct):
    since: datetime
    calls_placed: int
    answered: int  # answered by a person (human + abandoned)
    connected: int  # bridged to an agent
    abandoned: int
    abandon_rate: float  # abandoned / answered
    machine: int
    dnc_blocked: int
    failed: int

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        return cls(
            f.since,
            f.calls_placed,
            f.answered,
            f.connected,
            f.abandoned,
            f.abandon_rate,
            f.machine,
            f.dnc_blocked,
            f.failed,
        )


class CampaignLiveOut(msgspec.Struct):
    """Right now (calls in progress, dial level, agents) from the engine; `today` and `rolling_30d` from the
    call attempts, so they survive engine restarts. The other counters are since the engine (re)started
    running the campaign."""

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
    today: FiguresOut
    rolling_30d: FiguresOut


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


@post("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=201)
def start_session(
    data: SessionStart, principal: Principal, session: Session, runtime: Runtime
) -> AgentSessionOut:
    """Log in: the engine calls the agent's phone once and keeps the leg up; the agent is READY after it answers.
    The phone must be allowed by the organization's agent-phone rules (`/api/agent-phones`): otherwise 403
    naming the URI and the rule, and no call is placed."""
    open_agent_session(
        session, runtime.redis, agent_id=principal.user_id, sip_uri=data.sip_uri, campaign_id=data.campaign_id
    )
    board = _board(runtime)
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@get("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True)
def get_session(principal: Principal, session: Session, runtime: Runtime) -> AgentSessionOut:
    """The agent's live state; when logged out, why the last session ended (e.g. the phone did not answer)."""
    status = _board(runtime).status(str(principal.user_id))
    last_end = ""
    if status is None or status.state is AgentState.LOGGED_OUT:
        last_end = last_session_end(session, principal.user_id)
    return AgentSessionOut.of(principal.user_id, status, last_end=last_end)


@delete("/me/session", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def end_session(principal: Principal, session: Session, runtime: Runtime) -> AgentSessionOut:
    """Log out: the engine hangs up the agent's leg. During a call (or its wrap-up) the logout is taken
    note of and takes effect when the call and its wrap-up end: the customer is never left on dead air."""
    state = log_out(session, runtime.redis, agent_id=principal.user_id)
    board = _board(runtime)
    status = board.status(str(principal.user_id))
    last_end = "logout" if state is AgentState.LOGGED_OUT else ""
    return AgentSessionOut.of(principal.user_id, status, last_end=describe_end(last_end) if last_end else "")


@post("/me/pause", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def pause(
    principal: Principal, session: Session, runtime: Runtime, data: PauseIn | None = None
) -> AgentSessionOut:
    """READY → PAUSED now; during a call or wrap-up the pause starts when the wrap-up ends. `code` is one
    of the campaign's pause_codes (shown in the live view); the first one when not given."""
    pause_agent(session, runtime.redis, agent_id=principal.user_id, code=data.code if data else None)
    return AgentSessionOut.of(principal.user_id, _board(runtime).status(str(principal.user_id)))


@post("/me/resume", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def resume(principal: Principal, runtime: Runtime) -> AgentSessionOut:
    board = _board(runtime)
    try:
        board.resume(str(principal.user_id))
    except AgentStateError as exc:
        raise ConflictError(f"cannot resume: {exc}; only a PAUSED agent can resume") from exc
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@post("/me/disposition", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def set_disposition(
    data: DispositionIn, principal: Principal, session: Session, runtime: Runtime
) -> AgentSessionOut:
    """Record what the call was (`campaigns.attempts.set_disposition`: a DNC disposition puts the number on
    the internal DNC list at once). Ends the agent's wrap-up (READY again, or PAUSED if a pause was asked)."""
    dispose_own_call(
        session,
        runtime.db,
        runtime.redis,
        attempt_id=data.attempt_id,
        agent_id=principal.user_id,
        code=data.disposition,
        at=utcnow(),
        callback_at=data.callback_at,
        callback_same_agent=data.callback_same_agent,
        role=principal.role,
        note=data.note,
    )
    board = _board(runtime)
    return AgentSessionOut.of(principal.user_id, board.status(str(principal.user_id)))


@post("/me/hangup", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=202)
def hang_up(principal: Principal, runtime: Runtime, data: HangupIn | None = None) -> HangupOut:
    """Hang up the customer's call you are on (202: the engine hangs up within a tick). Your phone stays
    connected and you wrap up the call as when the customer hangs up; the attempt records `ended_by:
    agent`. 409 when you are not on a call, or `attempt_id` is not the call you are on."""
    attempt_id = hang_up_customer(
        runtime.redis, agent_id=principal.user_id, attempt_id=data.attempt_id if data else None
    )
    return HangupOut(attempt_id=uuid.UUID(attempt_id), state=AgentState.INCALL.value)


@get("/me/lead", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True)
def current_lead(principal: Principal, session: Session, runtime: Runtime) -> LeadOut:
    """The lead of the call the agent is on, or is wrapping up."""
    status = _board(runtime).status(str(principal.user_id))
    card = current_call(session, status, now=utcnow())
    if card is None:
        raise NotFoundError("you are not on a call")
    attempt, lead = card.attempt, card.lead
    return LeadOut(
        attempt_id=attempt.id,
        lead_id=public_lead_id(lead.id),
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
    if not stats.running:  # stale figures of a stopped engine: nothing is in progress, no dial level
        stats.calls_in_progress, stats.dial_level = 0, 0.0
    today, rolling = today_and_rolling(session, campaign.id, datetime.now(UTC))
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
            AgentLiveOut(
                uuid.UUID(a.agent_id),
                a.state.value,
                _from_ms(a.since_ms),
                a.worker,
                a.pause_code if a.state is AgentState.PAUSED else "",
            )
            for a in agents
        ],
        agent_states=states,
        updated_at=_from_ms(stats.updated_ms),
        today=FiguresOut.of(today),
        rolling_30d=FiguresOut.of(rolling),
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


class PreviewOut(msgspec.Struct):
    lead_id: int  # public lead id: what the agent sends back to dial or skip it
    campaign_id: uuid.UUID
    e164: str
    first_name: str | None
    last_name: str | None
    state: str | None
    zip_code: str | None
    extra: dict[str, Any]
    attempts: int
    last_outcome: str | None
    offered_at: datetime
    skip_reasons: dict[str, str]


class PreviewDialIn(msgspec.Struct, forbid_unknown_fields=True):
    lead_id: int  # the public lead id of the lead offered


class PreviewSkipIn(msgspec.Struct, forbid_unknown_fields=True):
    lead_id: int
    reason: str  # one of skip_reasons
    note: str = ""


class ManualDialIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: str


class AgentDialOut(msgspec.Struct):
    attempt_id: uuid.UUID
    state: str


def _offered_lead(public: int) -> int:
    internal = internal_lead_id(public)
    if internal is None:
        raise NotFoundError(f"lead {public} is not offered to you")
    return internal


@get("/me/preview", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True)
def get_preview(principal: Principal, session: Session, runtime: Runtime) -> PreviewOut:
    """The lead offered to you in a preview campaign (leased to you while you look at it); 404 when none
    is (not a preview campaign, none left, or you are on a call). Dial it or skip it with a reason."""
    offer = preview_offer(session, runtime.redis, agent_id=principal.user_id)
    if offer is None:
        raise NotFoundError("no lead is offered to you right now")
    lead = offer.lead
    return PreviewOut(
        lead_id=public_lead_id(lead.id),
        campaign_id=offer.campaign.id,
        e164=lead.phone_e164,
        first_name=lead.first_name,
        last_name=lead.last_name,
        state=lead.state,
        zip_code=lead.zip_code,
        extra=dict(lead.extra),
        attempts=lead.attempts,
        last_outcome=lead.last_outcome,
        offered_at=datetime.fromtimestamp(offer.offered_at, UTC),
        skip_reasons=dict(SKIP_REASONS),
    )


@post("/me/preview/dial", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=202)
def dial_offered(data: PreviewDialIn, principal: Principal, runtime: Runtime) -> AgentDialOut:
    """Dial the lead offered to you: the dial-time compliance check runs now (422 naming the reasons when
    it refuses, e.g. added to a DNC list since it was offered; the blocked attempt is recorded), then the
    call is signed, placed and bridged to you when answered (202 with its attempt id)."""
    attempt_id = dial_preview(runtime.redis, agent_id=principal.user_id, lead_id=_offered_lead(data.lead_id))
    return AgentDialOut(attempt_id=uuid.UUID(attempt_id), state=AgentState.INCALL.value)


@post("/me/preview/skip", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=200)
def skip_offered(data: PreviewSkipIn, principal: Principal, runtime: Runtime) -> AgentSessionOut:
    """Skip the lead offered to you, with a reason (`skip_reasons` of GET /me/preview): recorded, and the
    lead offered again later or never, as the reason says. The next lead is offered within a second."""
    skip_preview(
        runtime.redis,
        agent_id=principal.user_id,
        lead_id=_offered_lead(data.lead_id),
        reason=data.reason,
        note=data.note,
    )
    return AgentSessionOut.of(principal.user_id, _board(runtime).status(str(principal.user_id)))


@post("/me/manual-dial", opt=roles(Role.AGENT, Role.MANAGER), sync_to_thread=True, status_code=202)
def dial_typed(data: ManualDialIn, principal: Principal, session: Session, runtime: Runtime) -> AgentDialOut:
    """Dial a number you type (READY or PAUSED): the same dial-time compliance check as any call (422
    naming the reasons when it refuses, recorded as a blocked attempt with its evidence), then signed,
    placed and bridged to you when answered (202 with its attempt id)."""
    attempt_id = manual_dial(session, runtime.redis, agent_id=principal.user_id, phone=data.phone)
    return AgentDialOut(attempt_id=uuid.UUID(attempt_id), state=AgentState.INCALL.value)


agents_router = Router(
    "/api/agents",
    route_handlers=[
        start_session,
        get_session,
        end_session,
        pause,
        resume,
        set_disposition,
        current_lead,
        hang_up,
        get_preview,
        dial_offered,
        skip_offered,
        dial_typed,
    ],
    tags=["agents"],
)
dialer_router = Router("/api/dialer", route_handlers=[campaign_live, trunk_alarms], tags=["dialer"])

ROUTES: list[ControllerRouterHandler] = [agents_router, dialer_router]
