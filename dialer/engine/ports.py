"""The small interfaces through which the floor (`dialer.engine.floor`) reaches the world.

In production they are the Redis agent board (`AgentBoard`), the line-worker pool (`LineWorkerPool`) and
the database writes queued on the `Recorder` (`dialer.engine.attempt_log.DatabaseAttemptLog`); in the
engine's own unit tests they are the in-memory fakes of `dialer.engine.fakes` (as dramatiq ships its
`StubBroker`). Nothing here does I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from campaigns.models import Outcome
from dialer.engine.agents import AgentStatus, ClaimedAgent
from dialer.sip import protocol as p


class AgentClaims(Protocol):
    """The agent board as the floor uses it: take a READY agent for a call, give it back, start its wrap."""

    def status(self, agent_id: str) -> AgentStatus | None: ...

    def claim(
        self,
        campaign_id: str,
        *,
        attempt_id: str,
        prefer_worker: str,
        workers: Collection[str] | None = None,
    ) -> ClaimedAgent | None:
        """A READY agent of the campaign, INCALL for `attempt_id`: one on `prefer_worker` first, and only one
        whose leg is on one of `workers` (None: any)."""

    def release_unbridged(self, agent_id: str, attempt_id: str) -> None:
        """INCALL -> READY for a claim whose bridge never happened; `AgentStateError` if not INCALL."""

    def call_ended(self, agent_id: str, attempt_id: str, *, wrap_s: float, at_ms: int | None = None) -> bool:
        """INCALL on this attempt -> WRAP (anything else: no change); whether the agent moved to WRAP."""


class CallControl(Protocol):
    """The line workers as the floor uses them: commands about one lead call, routed to its worker."""

    def bridge(self, attempt_id: str, agent_id: str) -> None:
        """Connect the lead call to the agent's leg; `KeyError` when either is held by no worker."""

    def hangup(self, attempt_id: str) -> None: ...

    def play_safe_harbor(self, command: p.PlaySafeHarbor) -> None: ...


@dataclass(frozen=True)
class CallEnd:
    """How one attempt ended, as the floor decided it (the one record per attempt)."""

    attempt_id: str
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    trunk: str
    outcome: Outcome
    ended_at: datetime
    sip_status: int | None
    sip_outcome: p.SipOutcome
    reason: str
    ended_by: str | None = None  # who hung up, when it was our side: "agent" | "agent_phone"


@dataclass(frozen=True)
class CallAlarm:
    """Something about one call an operator must see (GET /api/dialer/alarms)."""

    attempt_id: str
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    trunk: str
    at: datetime
    reason: str


class AttemptLog(Protocol):
    """Where the floor writes the evidence of the calls it handles (off the 2-second path, in order)."""

    def progress(self, attempt_id: str, **stamps: object) -> None:
        """Progress stamps of a call attempt (`campaigns.attempts.record_progress` keywords)."""

    def ended(self, end: CallEnd) -> None:
        """The attempt's one final outcome (and the trunk alarm a carrier rejection raises)."""

    def opted_out(self, org_id: uuid.UUID, e164: str, reason: str) -> None:
        """The called party pressed the opt-out key: on the internal DNC list before this returns (the next
        compliance check, from any process, must already see it)."""

    def session_call(self, session_id: str) -> None:
        """One more call handled in the agent's session."""

    def safe_harbor_failed(self, alarm: CallAlarm) -> None:
        """A worker refused to play a call's safe-harbor message: an open alarm (GET /api/dialer/alarms)."""
