"""Agents' phone legs: logins (the org's phone rules checked before each call to a phone), the nailed leg
up and down, logouts (at once, or after the call and its wrap-up), and the session rows they end."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from core.db import ALL_ORGS, Database, Scope
from dialer.engine.agents import AgentBoard, AgentState
from dialer.engine.fleet import WorkerFleet
from dialer.engine.floor import Floor
from dialer.engine.recorder import Recorder
from dialer.engine.recovery import reconnect_request
from dialer.engine.requests import EngineRequest
from dialer.models import AgentSession
from dialer.phone_policy import phone_policy
from dialer.phone_rules import IpFirewall, PhoneRule, check_agent_phone
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool

log = logging.getLogger(__name__)

PHONE_POLICY_MAX_AGE_S = 2.0  # an org's agent-phone rules are re-read at most this often for a login


class AgentLegs:
    """Not thread-safe: the engine calls it under its lock (except `load_phone_policies`, which reads
    the database and takes no lock)."""

    def __init__(
        self,
        db: Database,
        board: AgentBoard,
        pool: LineWorkerPool,
        fleet: WorkerFleet,
        floor: Floor,
        recorder: Recorder,
    ) -> None:
        self.db = db
        self.board = board
        self.pool = pool
        self.fleet = fleet
        self.floor = floor
        self.recorder = recorder
        self.pending_logins: list[EngineRequest] = []  # agents waiting for a worker with room for their leg
        # Each org's agent-phone rules and IP firewall, re-read for logins (the 2-second path never waits).
        self.phone_policies: dict[str, tuple[float, list[PhoneRule], IpFirewall]] = {}
        self.handed_over: set[str] = set()  # agents whose legs we hung up for another supervisor to call
        # Whether this supervisor runs the campaign (the engine's leases); a leg that comes up for one it
        # lost meanwhile is let go: the new owner calls that phone from its own workers.
        self.runs_campaign: Callable[[str], bool] = lambda campaign_id: True

    # ------------------------------------------------------------------------------------ requests

    def on_request(self, request: EngineRequest) -> None:
        if request.kind == "agent_login":
            self.pending_logins.append(request)
        elif request.kind == "agent_logout":
            worker = self.fleet.agent_worker.get(request.agent_id)
            if worker is None and request.worker in self.pool.workers():
                worker = request.worker
            if worker:
                self.pool.send(worker, p.ReleaseAgent(agent_id=request.agent_id))
            else:  # never a command to a worker that is not ours: it would wait in a list no one reads
                log.info(
                    "agent %s logged out: no leg of theirs on this supervisor's workers", request.agent_id
                )
        elif request.kind == "agent_hangup":
            self.floor.agent_hangs_up(request.agent_id, request.attempt_id)

    def login_orgs(self) -> set[str]:
        return {r.org_id for r in self.pending_logins}

    def load_phone_policies(self, org_ids: set[str], now: float) -> None:
        """Read the agent-phone rules of organizations with logins pending (outside the lock)."""
        for org_id in org_ids:
            cached = self.phone_policies.get(org_id)
            if cached is not None and now - cached[0] < PHONE_POLICY_MAX_AGE_S:
                continue
            try:
                with self.db.session(Scope(uuid.UUID(org_id))) as s:
                    rules, firewall = phone_policy(s)
            except Exception:
                log.exception("agent-phone rules of organization %s could not be read", org_id)
                continue
            self.phone_policies[org_id] = (now, rules, firewall)

    def serve_logins(self) -> None:
        waiting, self.pending_logins = self.pending_logins, []
        for request in waiting:
            status = self.board.status(request.agent_id)
            if status is None or status.state is not AgentState.CONNECTING:
                continue  # logged out meanwhile
            if not self._login(request):
                self.pending_logins.append(request)

    def _phone_refusal(self, request: EngineRequest) -> str | None:
        """Why the organization's rules do not let the engine call this phone (None: allowed). Checked
        again here, not only at the API: requests also come from recovery and reconnects, and rules change."""
        _, rules, firewall = self.phone_policies[request.org_id]
        verdict = check_agent_phone(request.sip_uri, rules, agent_id=request.agent_id, firewall=firewall)
        return None if verdict.allowed else verdict.reason

    def _login(self, request: EngineRequest) -> bool:
        """Call the agent's phone from the worker with the most room; False when no worker has room yet.
        A phone the organization does not allow is never called: the agent is logged out."""
        if request.org_id not in self.phone_policies:
            return False  # its rules could not be read yet (logged); try again at the next tick
        refusal = self._phone_refusal(request)
        if refusal is not None:
            log.error("agent %s: not calling %s: %s", request.agent_id, request.sip_uri, refusal)
            self.end_agent(request.agent_id, "phone_not_allowed")
            return True
        if request.agent_id in self.fleet.agent_worker:
            # Their phone is already being called (or connected): a login request and a campaign takeover
            # can both ask for it. A second CallAgent was rejected by the worker, which logged the agent out.
            return True
        worker = self.fleet.worker_for_agent()
        if worker is None:
            return False
        self.fleet.agent_leg(request.agent_id, worker)
        self.pool.send(worker, p.CallAgent(agent_id=request.agent_id, sip_uri=request.sip_uri))
        return True

    # ------------------------------------------------------------------------------------ legs

    def on_leg_up(self, event: p.AgentLegUp) -> None:
        status = self.board.status(event.agent_id)
        if status is None or status.state is not AgentState.CONNECTING:
            self.pool.send(event.worker_id, p.ReleaseAgent(agent_id=event.agent_id))  # logged out meanwhile
            return
        if not self.runs_campaign(status.campaign_id):
            self.let_go([event.agent_id])
            return
        self.board.leg_up(event.agent_id, worker=event.worker_id, leg_id=event.agent_id)
        self.recorder.submit(
            self._session_connected, status.session_id, event.worker_id, datetime.fromtimestamp(event.at, UTC)
        )

    def on_leg_down(self, event: p.AgentLegDown) -> None:
        self.fleet.agent_leg_gone(event.agent_id, event.worker_id)
        if event.agent_id in self.handed_over:
            self.handed_over.discard(event.agent_id)
            return  # its campaign went to another supervisor, which calls the phone again: still logged in
        status = self.board.status(event.agent_id)
        if (
            status is not None
            and status.state is not AgentState.LOGGED_OUT
            and status.worker in ("", event.worker_id)
        ):
            if status.state is AgentState.INCALL:
                self.floor.agent_phone_lost(status.attempt_id, event.at)  # no one is left for the customer
            self.end_agent(event.agent_id, f"leg_down:{event.sip_status}:{event.reason}"[:64])

    def on_call_agent_rejected(self, event: p.CommandRejected) -> None:
        if event.reason == p.AGENT_LEG_EXISTS and self.fleet.agent_worker.get(event.key) == event.worker_id:
            return  # a second call to a phone that worker already holds: the first leg stands
        self.fleet.agent_leg_gone(event.key, event.worker_id)
        self.end_agent(event.key, "rejected")

    def reconnect_orphans(self, agent_ids: list[str]) -> None:
        """Agents whose legs died with their worker: CONNECTING again, their phones called from a live one."""
        for agent_id in agent_ids:
            request = reconnect_request(self.board, agent_id)
            if request is not None:
                self.pending_logins.append(request)

    def logged_out(self, agent_id: str) -> None:
        """The board says the agent is logged out (a logout asked for during a call completes when its
        wrap-up ended): hang up the phone's leg now (never earlier: the customer was still on it)."""
        if agent_id not in self.fleet.agent_worker:
            return
        status = self.board.status(agent_id)
        if status is None or not status.logout_requested:
            return  # logged out by the API or a lost leg: those paths release the leg themselves
        worker = self.fleet.agent_worker.get(agent_id)
        if worker:
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
        self.recorder.submit(self._end_agent_session, status.session_id, "logout")

    def release_all(self, reason: str) -> None:
        """The engine stops: hang up every agent's leg and end its session."""
        for agent_id, worker in dict(self.fleet.agent_worker).items():
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
            self.end_agent(agent_id, reason)

    def hand_over(self, agent_ids: list[str]) -> None:
        """Their campaign goes to another supervisor: hang up their legs here and leave them logged in,
        CONNECTING, so that the new owner calls their phones again (`recovery.agents_to_recover`). One who
        asked to log out during their last call is logged out now: that wish is not handed over."""
        for agent_id in agent_ids:
            worker = self.fleet.agent_worker.get(agent_id)
            if worker is None:
                continue
            status = self.board.status(agent_id)
            if status is not None and status.logout_requested:
                self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
                self.fleet.agent_leg_gone(agent_id, worker)
                self.end_agent(agent_id, "logout")
                continue
            self.handed_over.add(agent_id)
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
            self.fleet.agent_leg_gone(agent_id, worker)
            if reconnect_request(self.board, agent_id) is None:
                self.handed_over.discard(agent_id)

    def let_go(self, agent_ids: list[str]) -> None:
        """Hang up these legs and leave their agents as they are: another supervisor, owning their campaign
        now, calls (or called) their phones from its own workers."""
        for agent_id in agent_ids:
            worker = self.fleet.agent_worker.get(agent_id)
            if worker is None:
                continue
            log.warning(
                "agent %s: leg on %s let go, its campaign is run by another supervisor", agent_id, worker
            )
            self.handed_over.add(agent_id)
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
            self.fleet.agent_leg_gone(agent_id, worker)

    def end_agent(self, agent_id: str, reason: str) -> None:
        before = self.board.logout(agent_id)
        if before is not None:
            self.recorder.submit(self._end_agent_session, before.session_id, reason)

    # ------------------------------------------------------------------------------------ sessions

    def _session_connected(self, session_id: str, worker: str, at: datetime) -> None:
        if not session_id:
            return
        with self.db.session(ALL_ORGS) as s:
            row = s.get(AgentSession, uuid.UUID(session_id))
            if row is not None:
                row.worker, row.leg_id = worker, str(row.agent_id)
                row.connected_at = row.connected_at or at

    def _end_agent_session(self, session_id: str, reason: str) -> None:
        if not session_id:
            return
        with self.db.session(ALL_ORGS) as s:
            row = s.get(AgentSession, uuid.UUID(session_id))
            if row is not None and row.ended_at is None:
                row.ended_at = datetime.now(UTC)
                row.end_reason = reason
