"""The durable history of agent states: the live board's events (`AgentBoard.events_since`) written as
`AgentStateInterval` rows, so pause time by pause code, ready and wrap-up time can be reported after the
Redis stream (trimmed to its last 10,000 changes) has moved on.

The supervisor reads each campaign's events for its pacing policy and hands the same events to
`record_agent_states` on its recorder thread (database writes never sit in the event thread). Each event
closes the agent's open interval at the event's time and opens one for the new state (none for
LOGGED_OUT). `intervals` is the pure part: events in, closed and opened intervals out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from core.db import Database, Scope
from dialer.engine.agents import AgentEvent, AgentState
from dialer.models import AgentStateInterval


@dataclass(frozen=True)
class Change:
    agent_id: uuid.UUID
    at: datetime
    new_state: str  # "" for LOGGED_OUT: nothing opens
    pause_code: str


def changes(events: Iterable[AgentEvent]) -> list[Change]:
    """The events as interval boundaries, in stream order (pure)."""
    out = []
    for event in events:
        state = "" if event.new_state == AgentState.LOGGED_OUT else event.new_state
        code = event.pause_code if event.new_state == AgentState.PAUSED else ""
        at = datetime.fromtimestamp(event.at_ms / 1000, UTC)
        out.append(Change(uuid.UUID(event.agent_id), at, state, code))
    return out


def record_agent_states(
    db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID, events: Iterable[AgentEvent]
) -> int:
    """Write the events of one campaign's agents (one transaction); returns how many intervals opened."""
    opened = 0
    with db.session(Scope(org_id)) as s:
        for change in changes(events):
            s.execute(
                update(AgentStateInterval)
                .where(AgentStateInterval.agent_id == change.agent_id, AgentStateInterval.ended_at.is_(None))
                .values(ended_at=change.at)
                .execution_options(synchronize_session=False)
            )
            if change.new_state:
                s.add(
                    AgentStateInterval(
                        org_id=org_id,
                        agent_id=change.agent_id,
                        campaign_id=campaign_id,
                        state=change.new_state,
                        pause_code=change.pause_code,
                        started_at=change.at,
                    )
                )
                s.flush()
                opened += 1
    return opened
