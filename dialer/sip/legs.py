"""The call legs a line worker holds, as explicit states. Pure: no pjsua2 here (the worker attaches its
pjsua2 `Call` as `call`, an opaque handle), so the life cycles and what is reported at their end are
tested without SIP (`tests/sip/test_legs.py`).

A lead call:   QUEUED → INVITING → RINGING → ANSWERED → ENDED   (RINGING and ANSWERED may be skipped;
               any state → ENDED). Why we hung up, if we did, is its `hangup_cause` (first cause wins).
An agent leg:  QUEUED → CALLING → UP → DOWN   (any state → DOWN, reported once).
An internal leg (the loopback leg of a cross-worker bridge):
               QUEUED → CALLING → UP → BRIDGED → DOWN on the lead's side (outgoing),
               ANSWERING → UP → DOWN on the agent's side (incoming); UNBRIDGING on the lead's side means
               it is being hung up because the agent is free (`AgentFree` once its BYE was answered).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dialer.sip import protocol as p
from dialer.sip.admission import uri_host
from dialer.sip.profiles import TrunkProfile


class LeadState(enum.Enum):
    QUEUED = "queued"  # waiting for a slot (admission)
    INVITING = "inviting"  # INVITE sent, no ring yet
    RINGING = "ringing"  # first 180/183 received
    ANSWERED = "answered"  # 200 OK, ACKed
    ENDED = "ended"  # `Ended` emitted; nothing more happens to it


class HangupCause(enum.Enum):
    RING_TIMEOUT = "ring_timeout"  # our CANCEL after the ring timeout
    ENGINE = "engine"  # the engine's `Hangup`


_LEAD_MOVES: dict[LeadState, frozenset[LeadState]] = {
    LeadState.QUEUED: frozenset({LeadState.INVITING, LeadState.ENDED}),
    LeadState.INVITING: frozenset({LeadState.RINGING, LeadState.ANSWERED, LeadState.ENDED}),
    LeadState.RINGING: frozenset({LeadState.ANSWERED, LeadState.ENDED}),
    LeadState.ANSWERED: frozenset({LeadState.ENDED}),
    LeadState.ENDED: frozenset(),
}


@dataclass(eq=False)
class LeadCall:
    command: p.DialLead
    profile: TrunkProfile
    ring_timeout_s: float
    state: LeadState = LeadState.QUEUED
    rang: bool = False
    """A 180/183 arrived before the end (kept once answered: the outcome of a call that never rang differs)."""
    hangup_cause: HangupCause | None = None
    answered_by: p.AnsweredBy = p.AnsweredBy.HUMAN
    media_ready: bool = False
    call: Any = None
    sip_call_id: str = ""
    timer_generation: int = 0
    agent: AgentLeg | None = None
    """The local agent leg this call is bridged to, directly or through `internal`."""
    agent_id: str = ""
    internal: InternalLeg | None = None
    pending_bridge: p.Bridge | None = None
    player: Any = None
    opt_out_key: str = ""
    foreign_source: str = ""
    """Where a response that did not come from the trunk's address came from (the call is then ended)."""
    amd: Any = None
    """The answering-machine detection on this call's audio (`dialer.media.live_amd.LiveAmd`), if asked."""
    amd_recorder: Any = None
    amd_started: bool = False
    """Detection ran or runs: a later media update (re-INVITE) does not start it again."""

    @property
    def attempt_id(self) -> str:
        return self.command.attempt_id

    @property
    def trunk_host(self) -> str:
        return uri_host(self.profile.proxy)

    @property
    def answered(self) -> bool:
        return self.state is LeadState.ANSWERED

    @property
    def ended(self) -> bool:
        return self.state is LeadState.ENDED

    def move(self, to: LeadState) -> bool:
        """Take the transition if the life cycle allows it (a late ring after the answer does not)."""
        if to not in _LEAD_MOVES[self.state]:
            return False
        self.rang = self.rang or to is LeadState.RINGING
        self.state = to
        return True

    def hang_up_because(self, cause: HangupCause) -> None:
        if self.hangup_cause is None:
            self.hangup_cause = cause

    @property
    def awaiting_agent(self) -> bool:
        """Answered, no agent yet and no message playing: a bridge may be imminent."""
        return self.answered and not self.agent_id and self.player is None

    def end_report(self, status: int, reason: str) -> tuple[int, p.SipOutcome, str]:
        """Status, outcome and reason the `Ended` event reports, from the final SIP status and this call's
        history. Call before moving to ENDED."""
        was_answered = self.answered
        if was_answered and status >= 300:
            status = 200  # the call was answered; a later BYE/CANCEL status does not change that
        ring_timeout = self.hangup_cause is HangupCause.RING_TIMEOUT
        outcome = self.profile.outcome_for_status(
            status,
            ring_timeout_expired=ring_timeout,
            cancelled=self.hangup_cause is HangupCause.ENGINE,
            rang=self.rang,
        )
        if self.foreign_source:
            outcome = p.SipOutcome.TRUNK_FAILURE
            reason = (
                f"SIP {status} from {self.foreign_source}, not the trunk's address {self.profile.proxy}: "
                "ignored as not the callee's"
            )
        elif ring_timeout and not self.rang:
            reason = f"trunk sent no 180/183 within {self.ring_timeout_s:.0f} s ({status} {reason})"
        elif ring_timeout and not was_answered:
            reason = f"no answer within {self.ring_timeout_s:.0f} s ring timeout ({status} {reason})"
        return status, outcome, reason


class AgentLegState(enum.Enum):
    QUEUED = "queued"
    CALLING = "calling"  # INVITE sent to the phone
    UP = "up"  # the phone answered (nailed)
    DOWN = "down"  # `AgentLegDown` emitted


@dataclass(eq=False)
class AgentLeg:
    agent_id: str
    sip_uri: str
    state: AgentLegState = AgentLegState.QUEUED
    released: bool = False
    """The engine asked for the hang-up (`ReleaseAgent`): reported as "released"."""
    media_ready: bool = False
    call: Any = None
    foreign_source: str = ""
    partner: Any = None
    """The call whose audio is bridged to this agent: a local lead call or an incoming internal leg."""

    @property
    def up(self) -> bool:
        return self.state is AgentLegState.UP

    @property
    def idle(self) -> bool:
        """Up and bridged to nothing: it may receive an incoming internal leg (a slot is kept for it)."""
        return self.up and self.partner is None

    @property
    def bridgeable(self) -> bool:
        return self.up and self.media_ready and self.call is not None


class InternalLegState(enum.Enum):
    QUEUED = "queued"  # outgoing, waiting for a slot
    CALLING = "calling"  # outgoing INVITE sent to the agent's worker
    ANSWERING = "answering"  # incoming, being answered (or refused)
    UP = "up"  # confirmed
    BRIDGED = "bridged"  # outgoing: the lead's audio is connected to it
    UNBRIDGING = "unbridging"  # outgoing: hung up because the agent is free; AgentFree on its end
    DOWN = "down"


@dataclass(eq=False)
class InternalLeg:
    """A loopback SIP leg between two workers carrying a lead's audio to an agent hosted elsewhere."""

    attempt_id: str
    agent_id: str
    outgoing: bool
    target_uri: str = ""
    token: str = ""
    state: InternalLegState = InternalLegState.QUEUED
    media_ready: bool = False
    call: Any = None
    agent: AgentLeg | None = None
    """On the agent's side: the agent leg the incoming internal leg is bridged to."""

    @property
    def bridged(self) -> bool:
        """The lead's audio went through this leg at some point (its loss then means the agent is lost)."""
        return self.state in (InternalLegState.BRIDGED, InternalLegState.UNBRIDGING)


Leg = LeadCall | AgentLeg | InternalLeg


def admission_reserve(leads: Iterable[LeadCall], agents: Iterable[AgentLeg]) -> int:
    """Slots kept free for bridges: one per answered lead not yet bridged (it may need an outgoing internal
    leg) and one per idle agent leg (it may receive an incoming internal leg). On the worker's hot path
    (once per queued dial per loop turn): plain attribute tests, no properties."""
    answered, up = LeadState.ANSWERED, AgentLegState.UP
    unbridged = sum(1 for lead in leads if lead.state is answered and not lead.agent_id)
    return unbridged + sum(1 for a in agents if a.state is up and a.partner is None)
