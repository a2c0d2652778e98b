"""Recovery after a supervisor died: calls it left `in_progress` are finalized, agents it left logged in
are called again (their legs died with its workers)."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import psutil
from sqlalchemy import select

from campaigns import attempts as attempt_records
from campaigns.models import CallAttempt, Outcome
from core.db import ALL_ORGS, Database
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.outcomes import final_outcome
from dialer.engine.requests import EngineRequest
from dialer.sip import protocol as p

log = logging.getLogger(__name__)


def finalize_orphaned_attempts(db: Database, *, holder: str, pool: str) -> None:
    """Calls left `in_progress` by an earlier supervisor of this pool on this host that is gone (crash,
    kill -9): their SIP legs died with its workers. Close them like a dead worker's calls, so their
    leads move on by the recycle rules instead of waiting for their lease to expire."""
    prefix = f"dialer:{socket.gethostname()}:"
    suffix = f":{pool}"
    with db.session(ALL_ORGS) as s:
        rows = s.execute(
            select(
                CallAttempt.id,
                CallAttempt.worker,
                CallAttempt.answered_at,
                CallAttempt.agent_connected_at,
            ).where(
                CallAttempt.outcome == Outcome.IN_PROGRESS.value,
                CallAttempt.worker.startswith(prefix),
                CallAttempt.worker.endswith(suffix),
                CallAttempt.worker != holder,
            )
        ).all()
    now = datetime.fromtimestamp(time.time(), UTC)
    for attempt_id, gone, answered_at, connected_at in rows:
        pid = gone[len(prefix) : -len(suffix)]
        if pid.isdigit() and psutil.pid_exists(int(pid)):
            continue  # that supervisor is still running
        outcome = final_outcome(
            p.SipOutcome.WORKER_LOST,
            answered_at=answered_at.timestamp() if answered_at else None,
            answered_by_machine=False,
            agent_connected_at=connected_at.timestamp() if connected_at else None,
        )
        attempt_records.finish_attempt(db, attempt_id, outcome=outcome.value, ended_at=now)
        log.warning("finalized call attempt %s of the gone supervisor %s as %s", attempt_id, gone, outcome)


def reconnect_request(board: AgentBoard, agent_id: str) -> EngineRequest | None:
    """Put a logged-in agent whose leg is gone back to CONNECTING; the login request that calls its phone
    again (None when the agent is logged out or cannot be reconnected)."""
    status = board.status(agent_id)
    if status is None or status.state is AgentState.LOGGED_OUT:
        return None
    try:
        board.reconnect(agent_id)
    except AgentStateError:
        return None
    return EngineRequest(
        kind="agent_login",
        agent_id=agent_id,
        org_id=status.org_id,
        campaign_id=status.campaign_id,
        session_id=status.session_id,
        sip_uri=status.sip_uri,
    )


def agents_to_recover(
    board: AgentBoard, campaign_ids: Iterable[uuid.UUID], connected: set[str]
) -> list[EngineRequest]:
    """Agents left logged in by an earlier engine (not among `connected`): call their phones again."""
    requests = []
    for campaign_id in campaign_ids:
        for agent in board.campaign_agents(str(campaign_id)):
            if agent.state is AgentState.LOGGED_OUT or agent.agent_id in connected:
                continue
            request = reconnect_request(board, agent.agent_id)
            if request is not None:
                requests.append(request)
    return requests
