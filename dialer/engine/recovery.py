"""Recovery after a supervisor died: calls it left `in_progress` are finalized, agents it left logged in
are called again (their legs died with its workers)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select

from campaigns import attempts as attempt_records
from campaigns.hopper import release_leads
from campaigns.models import CallAttempt, Lead, LeadStatus, Outcome
from core.db import ALL_ORGS, Database
from core.errors import ConflictError
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.outcomes import final_outcome
from dialer.engine.requests import EngineRequest
from dialer.sip import protocol as p

log = logging.getLogger(__name__)

HOLDER_PREFIX = "dialer:"  # every supervisor's holder name: dialer:<supervisor id>:<pool>


def finalize_orphaned_attempts(
    db: Database, *, live_holders: set[str], campaign_ids: Iterable[uuid.UUID] | None = None
) -> int:
    """Calls left `in_progress` by a supervisor that is gone (crash, kill -9; on any host): their SIP legs
    died with its workers. Close them like a dead worker's calls, so their leads move on by the recycle
    rules instead of waiting for their lease to expire; then give back the leads it had leased but not
    dialed yet. `live_holders`: the holder names of the supervisors alive now (`ownership.py`), this one
    included. Returns how many attempts were finalized."""
    campaigns = list(campaign_ids) if campaign_ids is not None else None
    if campaigns == []:
        return 0
    query = select(
        CallAttempt.id, CallAttempt.worker, CallAttempt.answered_at, CallAttempt.agent_connected_at
    ).where(
        CallAttempt.outcome == Outcome.IN_PROGRESS.value,
        CallAttempt.worker.startswith(HOLDER_PREFIX),
        CallAttempt.worker.not_in(live_holders),
    )
    if campaigns is not None:
        query = query.where(CallAttempt.campaign_id.in_(campaigns))
    with db.session(ALL_ORGS) as s:
        rows = s.execute(query).all()
    now = datetime.fromtimestamp(time.time(), UTC)
    finalized = 0
    for attempt_id, gone, answered_at, connected_at in rows:
        outcome = final_outcome(
            p.SipOutcome.WORKER_LOST,
            answered_at=answered_at.timestamp() if answered_at else None,
            answered_by_machine=False,
            agent_connected_at=connected_at.timestamp() if connected_at else None,
        )
        try:
            attempt_records.finish_attempt(db, attempt_id, outcome=outcome.value, ended_at=now)
        except ConflictError:
            continue  # another supervisor finalized it first
        finalized += 1
        log.warning("finalized call attempt %s of the gone supervisor %s as %s", attempt_id, gone, outcome)
    _release_gone_leases(db, live_holders, campaigns)
    return finalized


def _release_gone_leases(db: Database, live_holders: set[str], campaigns: list[uuid.UUID] | None) -> None:
    """Leads a gone supervisor leased and never dialed: callable again now (not in `lease_s`)."""
    query = select(Lead.id, Lead.lease_holder).where(
        Lead.status == LeadStatus.IN_PROGRESS.value,
        Lead.lease_holder.startswith(HOLDER_PREFIX),
        Lead.lease_holder.not_in(live_holders),
    )
    if campaigns is not None:
        query = query.where(Lead.campaign_id.in_(campaigns))
    with db.session(ALL_ORGS) as s:
        rows = s.execute(query).all()
    by_holder: dict[str, list[int]] = {}
    for lead_id, holder in rows:
        by_holder.setdefault(holder, []).append(lead_id)
    for holder, lead_ids in by_holder.items():
        released = release_leads(db, lead_ids, holder=holder)
        if released:
            log.warning("gave back %d leads leased by the gone supervisor %s", released, holder)


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
