"""What an agent's screen shows, read in one place: the agent's live state (the agent board), the call
they are on with its lead and the lead's earlier attempts, what they may do next (the campaign's
dispositions and pause codes), and when logged out the campaigns they may log in to and why their last
session ended. The API's `GET /api/agents/me/lead` and the console's agent screen both read it here.

Reads only: every change goes through `dialer.engine.sessions` (log in, pause, dispose, log out).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import attempts as attempt_rules
from campaigns.models import CallAttempt, Campaign, Disposition, Lead
from campaigns.service import list_dispositions
from dialer.engine.agent_dialing import PreviewOffer, Refusal, last_refusal, preview_offer
from dialer.engine.agents import AgentBoard, AgentState, AgentStatus
from dialer.engine.sessions import assigned_campaigns, describe_end, last_session, pause_codes_of

EARLIER_ATTEMPTS = 20  # the lead card lists at most this many earlier calls, newest first


@dataclass(frozen=True)
class CallCard:
    """A call of the agent's and its lead. `current`: the call they are on (INCALL) or wrapping up (WRAP);
    otherwise their last call, shown while its disposition may still be given or changed."""

    attempt: CallAttempt
    lead: Lead
    earlier: list[CallAttempt]
    current: bool
    disposition_deadline: datetime | None  # the agent may change the disposition until then (None: no limit)


def _card(session: Session, attempt_id: str, *, current: bool, now: datetime) -> CallCard | None:
    attempt = session.scalars(
        select(CallAttempt).where(CallAttempt.id == uuid.UUID(attempt_id))
    ).one_or_none()
    if attempt is None:  # the caller's scoped session: another organization's call is not found
        return None
    lead = session.scalars(select(Lead).where(Lead.id == attempt.lead_id)).one_or_none()
    if lead is None:  # its list was purged; the call's evidence outlives it
        return None
    earlier = list(
        session.scalars(
            select(CallAttempt)
            .where(CallAttempt.lead_id == lead.id, CallAttempt.id != attempt.id)
            .order_by(CallAttempt.placed_at.desc())
            .limit(EARLIER_ATTEMPTS)
        )
    )
    campaign = session.get(Campaign, attempt.campaign_id)
    wrap_up_s = campaign.wrap_up_s if campaign is not None else 30
    deadline = attempt_rules.agent_disposition_deadline(attempt, wrap_up_s, now)
    return CallCard(
        attempt=attempt, lead=lead, earlier=earlier, current=current, disposition_deadline=deadline
    )


def current_call(session: Session, status: AgentStatus | None, *, now: datetime) -> CallCard | None:
    """The call the agent is on (INCALL) or must dispose of (WRAP). The agent board says which: it is
    written when the engine claims the agent, a few milliseconds before the bridge; the attempt's
    `agent_id` is recorded after the bridge, so it cannot be what decides whose call this is."""
    if status is None:
        return None
    if status.state is AgentState.INCALL and status.attempt_id:
        return _card(session, status.attempt_id, current=True, now=now)
    if status.state is AgentState.WRAP and status.last_attempt_id:
        return _card(session, status.last_attempt_id, current=True, now=now)
    return None


def last_call(session: Session, status: AgentStatus | None, *, now: datetime) -> CallCard | None:
    """READY or PAUSED after a call: that call while the agent may still give or correct its disposition
    (`campaigns.attempts.agent_disposition_deadline`)."""
    if (
        status is None
        or status.state not in (AgentState.READY, AgentState.PAUSED)
        or not status.last_attempt_id
    ):
        return None
    card = _card(session, status.last_attempt_id, current=False, now=now)
    if card is None or card.attempt.agent_id is None:
        return None
    if card.disposition_deadline is not None and now > card.disposition_deadline:
        return None
    return card


@dataclass(frozen=True)
class Desk:
    agent_id: uuid.UUID
    state: AgentState
    status: AgentStatus | None
    now: datetime
    campaign: Campaign | None = None  # the session's campaign
    call: CallCard | None = None
    dispositions: list[Disposition] = field(default_factory=list)  # those an agent gives (not the timeout's)
    pause_codes: list[str] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)  # logged out: the active ones they may log in to
    last_sip_uri: str = ""
    ended_reason: str = ""  # logged out: why the last session ended, in words
    ended_by_logout: bool = False
    end_pending: bool = False  # the board says logged out; the engine is still recording why
    preview: PreviewOffer | None = None  # preview campaign, READY or PAUSED: the lead offered to them
    refusal: Refusal | None = None  # why their last dial (or skip) was not done

    @property
    def may_dial(self) -> bool:
        """The agent may start a call (dial the lead offered, or a number they type)."""
        return self.state in (AgentState.READY, AgentState.PAUSED)

    @property
    def key(self) -> str:
        """Changes whenever what the screen shows changes (the console skips a push that changes nothing)."""
        s = self.status
        if s is None or self.state is AgentState.LOGGED_OUT:
            return f"LOGGED_OUT:{self.ended_reason}:{self.end_pending}"
        call = self.call
        disposed = f"{call.attempt.id}:{call.attempt.disposition}:{call.attempt.ended_at}" if call else ""
        return ":".join(
            str(x)
            for x in (
                s.state,
                s.since_ms,
                s.pause_requested,
                s.pause_code,
                s.logout_requested,
                s.wrap_until_ms,
                disposed,
                self.preview.lead.id if self.preview else "",
                self.refusal,
            )
        )


def read_desk(session: Session, client: redis.Redis, agent_id: uuid.UUID, *, now: datetime) -> Desk:
    """Everything the agent's screen shows, through the caller's scoped session."""
    status = AgentBoard(client).status(str(agent_id))
    if status is None or status.state is AgentState.LOGGED_OUT:
        row = last_session(session, agent_id)
        return Desk(
            agent_id=agent_id,
            state=AgentState.LOGGED_OUT,
            status=status,
            now=now,
            campaigns=assigned_campaigns(session, agent_id),
            last_sip_uri=row.sip_uri if row is not None else "",
            ended_reason=describe_end(row.end_reason) if row is not None and row.ended_at else "",
            ended_by_logout=row is not None and row.end_reason == "logout",
            end_pending=row is not None and row.ended_at is None,
        )
    campaign = session.get(Campaign, uuid.UUID(status.campaign_id)) if status.campaign_id else None
    call = current_call(session, status, now=now) or last_call(session, status, now=now)
    dispositions = list_dispositions(session, campaign) if campaign is not None else []
    timeout_code = campaign.timeout_disposition if campaign is not None else ""
    preview = None
    if status.state in (AgentState.READY, AgentState.PAUSED) and campaign is not None:
        preview = preview_offer(session, client, agent_id=agent_id)
    return Desk(
        agent_id=agent_id,
        state=status.state,
        status=status,
        now=now,
        campaign=campaign,
        call=call,
        dispositions=[d for d in dispositions if d.code != timeout_code],
        pause_codes=pause_codes_of(campaign),
        last_sip_uri=status.sip_uri,
        preview=preview,
        refusal=last_refusal(client, agent_id),
    )
