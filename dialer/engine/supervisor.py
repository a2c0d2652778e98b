"""The dialer supervisor: runs active campaigns over a pool of line-worker processes.

Two threads share the state below under one lock:
- the **event thread** reads line-worker events, claims agents for answered calls and bridges them (the
  2-second path never waits on the database), plays safe harbor when no agent came in time, tracks agent
  legs, restarts dead workers and finalizes their calls, and sizes the pool to the load;
- the **dial thread** asks each campaign's pacing policy how many calls to start, leases that many leads,
  takes the dial-time compliance verdict (blocked leads are recorded, never dialed), picks the caller ID,
  signs the call, records the attempt and sends the `DialLead` to a worker (preferring the worker that
  hosts the campaign's free agents, so most bridges stay inside one conference bridge).
Evidence after the attempt row exists (ringing, answer, connect, end, alarms) is written by a `Recorder`.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import select, update

from campaigns import attempts as attempt_records
from campaigns.hopper import LeasedLead, lease_leads, release_leads, renew_leases
from campaigns.models import CallAttempt, Campaign, CampaignStatus, Outcome
from core.db import ALL_ORGS, Scope
from core.errors import ClearlineError
from core.runtime import Runtime
from dialer import pacing
from dialer.campaign_settings import build_policy
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError
from dialer.engine.compliance import DialTimeCompliance, DialVerdict, attempt_evidence, retry_at_for
from dialer.engine.identity import IdentitySource
from dialer.engine.live import LiveStats, write_engine_heartbeat, write_live_stats
from dialer.engine.outcomes import AGENT_DEADLINE_S, final_outcome
from dialer.engine.recorder import Recorder
from dialer.engine.requests import EngineRequest, pop_requests
from dialer.engine.trunks import TrunkGate
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.models import CAMPAIGN_CANNOT_RUN, AgentSession, TrunkAlarm
from dialer.phone_policy import phone_policy
from dialer.phone_rules import IpFirewall, PhoneRule, check_agent_phone
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool, WorkerNotReadyError
from dialer.sip.profiles import TrunkProfile, load_profile
from dnc.internal import add_internal_dnc

log = logging.getLogger(__name__)

IDLE_RETIRE_S = 60.0  # a worker above the pool's needed size that held nothing this long is stopped
PHONE_POLICY_MAX_AGE_S = 2.0  # an org's agent-phone rules are re-read at most this often for a login


@dataclass
class EngineConfig:
    pool: str = "default"
    min_workers: int = 1
    max_workers: int = 8
    calls_per_worker: int = (
        28  # lead calls + agent legs we place on one worker (pjsua2 holds 32, keep 30 safe)
    )
    worker_log_dir: Path | None = None
    profiles_dir: Path | None = None
    campaign_ids: frozenset[uuid.UUID] | None = None  # None: every active campaign
    tick_s: float = 0.02
    dial_interval_s: float = 0.1
    agent_wait_s: float = (
        1.5  # give up on finding an agent this long after the answer (bridge needs the rest)
    )
    wrap_timeout_s: float | None = None  # None: each campaign's wrap_up_s
    lease_s: float = 300.0
    safe_harbor_listen_s: float = 2.0
    # The clock the compliance verdict is taken at, per campaign (the demo's synthetic campaign only).
    compliance_clock: Callable[[uuid.UUID, datetime], datetime] | None = None
    # Extra SIP headers per lead (simulator hints in tests and the demo).
    extra_headers: Callable[[LeasedLead], dict[str, str]] | None = None


@dataclass
class LiveCall:
    attempt_id: str
    lead_id: int
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    e164: str
    trunk: str
    worker: str
    placed_at: float
    answered_at: float | None = None
    answered_by_machine: bool = False
    wait_deadline: float = 0.0
    agent_id: str | None = None
    agent_connected_at: float | None = None
    abandon_reported: bool = False
    safe_harbor: bool = False
    opted_out: bool = False
    ended_by: str | None = None  # "agent" (agent API hangup) | "agent_phone" (the agent's phone hung up)


@dataclass
class CampaignRun:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    profile: TrunkProfile
    caller_id_mode: str
    caller_id: str | None
    safe_harbor_wav: str
    opt_out_key: str
    max_lines_per_agent: float
    wrap_up_s: int
    policy: pacing.PacingPolicy
    budget: pacing.AbandonBudget
    compliance: DialTimeCompliance
    agent_cursor: str
    active: bool = True
    stats: LiveStats = field(default_factory=LiveStats)
    answer_to_agent_ms: list[float] = field(default_factory=list)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


_AGENT_EVENTS: dict[str, type] = {
    AgentState.READY: pacing.AgentReady,
    AgentState.INCALL: pacing.AgentBusy,
    AgentState.WRAP: pacing.AgentWrap,
    AgentState.PAUSED: pacing.AgentPaused,
    AgentState.LOGGED_OUT: pacing.AgentLoggedOut,
    AgentState.CONNECTING: pacing.AgentLoggedOut,
}


class Engine:
    """One supervisor. `start()` brings up workers and threads; `stop()` drains and cleans up."""

    def __init__(
        self, runtime: Runtime, identity: IdentitySource, config: EngineConfig | None = None
    ) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.identity = identity
        self.config = config or EngineConfig()
        self.board = AgentBoard(runtime.redis)
        self.pool = LineWorkerPool(
            runtime.redis_url, pool=self.config.pool, log_dir=self.config.worker_log_dir
        )
        self.recorder = Recorder()
        self.holder = f"dialer:{socket.gethostname()}:{os.getpid()}:{self.config.pool}"
        self.lock = threading.RLock()
        self.campaigns: dict[uuid.UUID, CampaignRun] = {}
        self.calls: dict[str, LiveCall] = {}
        self.waiting: deque[str] = deque()  # answered by a person, no agent yet, oldest first
        self.trunks: dict[str, TrunkGate] = {}
        self.ready_workers: set[str] = set()
        self.starting_workers: dict[str, float] = {}
        self.worker_load: Counter[str] = Counter()
        self.agent_worker: dict[str, str] = {}
        self.idle_since: dict[str, float] = {}
        self.retiring: set[str] = set()  # workers asked to exit because the pool is larger than the load
        self.pending_logins: list[EngineRequest] = []  # agents waiting for a worker with room for their leg
        # Each org's agent-phone rules and IP firewall, re-read for logins (the 2-second path never waits).
        self.phone_policies: dict[str, tuple[float, list[PhoneRule], IpFirewall]] = {}
        self.max_concurrent_calls = 0
        self.workers_restarted = 0
        self._stop = threading.Event()
        self._dial_thread: threading.Thread | None = None
        self._event_thread: threading.Thread | None = None
        self._last: dict[str, float] = {}
        self.cannot_run: dict[uuid.UUID, str] = {}  # active campaigns the engine cannot run, and why

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self, *, wait_ready_s: float = 30.0) -> None:
        ids = [self._start_worker() for _ in range(self.config.min_workers)]
        try:
            self.pool.wait_ready(ids, timeout_s=wait_ready_s)
        except WorkerNotReadyError:
            self.pool.close()
            raise
        for info in self.pool.workers().values():
            if info.ready is not None:
                self._worker_ready(info.worker_id)
        self._finalize_orphaned_attempts()
        self._refresh_campaigns()
        self._recover_agents()
        self._event_thread = threading.Thread(target=self._event_loop, name="dialer-events", daemon=True)
        self._dial_thread = threading.Thread(target=self._dial_loop, name="dialer-dial", daemon=True)
        self._event_thread.start()
        self._dial_thread.start()

    def run_until(self, stop: threading.Event) -> None:
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    def stop(self, *, drain_s: float = 10.0) -> None:
        """Stop dialing, let calls in progress end (up to `drain_s`), hang up the rest, release agents."""
        self._stop.set()
        for thread in (self._dial_thread, self._event_thread):
            if thread is not None:
                thread.join(30)
        deadline = time.time() + drain_s
        while time.time() < deadline:
            with self.lock:
                if not self.calls:
                    break
            self._drain_once()
        with self.lock:
            remaining = list(self.calls)
        for attempt_id in remaining:
            self.pool.hangup(attempt_id)
        deadline = time.time() + 5.0
        while time.time() < deadline:
            with self.lock:
                if not self.calls:
                    break
            self._drain_once()
        with self.lock:
            for attempt_id in list(self.calls):
                self._finish(self.calls[attempt_id], p.SipOutcome.WORKER_LOST, 0, time.time())
            agents = dict(self.agent_worker)
        for agent_id, worker in agents.items():
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
            self._end_agent(agent_id, "dialer_stopped")
        self._write_live_stats(running=False)
        self.recorder.flush()
        self.recorder.close()
        self.pool.close()

    def _drain_once(self) -> None:
        for event in self.pool.events(0.05):
            with self.lock:
                self._on_event(event)
        with self.lock:
            self._serve_waiting(time.time())

    # ------------------------------------------------------------------------------------ workers

    def _start_worker(self) -> str:
        worker_id = self.pool.start_worker(max_calls=30, profiles_dir=self.config.profiles_dir)
        self.starting_workers[worker_id] = time.time()
        return worker_id

    def _worker_ready(self, worker_id: str) -> None:
        self.starting_workers.pop(worker_id, None)
        self.ready_workers.add(worker_id)
        self.worker_load.setdefault(worker_id, 0)

    def _free_slots(self, worker_id: str) -> int:
        return self.config.calls_per_worker - self.worker_load[worker_id]

    def _size_pool(self) -> None:
        """Enough workers for the calls and agent legs in progress plus room for the next second of dials."""
        load = sum(self.worker_load[w] for w in self.ready_workers)
        wanted_room = sum(
            max(0, run.policy.floor.working_agents) * run.max_lines_per_agent
            for run in self.campaigns.values()
            if run.active
        )
        needed = load + max(wanted_room - len(self.calls), 0) + 2
        desired = min(
            self.config.max_workers,
            max(self.config.min_workers, math.ceil(needed / self.config.calls_per_worker)),
        )
        have = len(self.ready_workers) + len(self.starting_workers)
        now = time.time()
        if have < desired:
            self._start_worker()
        elif have > desired:
            self._retire_an_idle_worker(now)
        for worker_id, since in list(self.starting_workers.items()):
            if now - since > 30 and worker_id not in self.pool.workers():
                del self.starting_workers[worker_id]

    def _retire_an_idle_worker(self, now: float) -> None:
        """Shrink the pool by one worker that has held no call and no agent leg for `IDLE_RETIRE_S`."""
        hosting_agents = set(self.agent_worker.values())
        for worker_id in sorted(self.ready_workers):
            if self.worker_load[worker_id] or worker_id in hosting_agents:
                self.idle_since.pop(worker_id, None)
                continue
            if now - self.idle_since.setdefault(worker_id, now) >= IDLE_RETIRE_S:
                self.ready_workers.discard(worker_id)
                self.idle_since.pop(worker_id, None)
                self.retiring.add(worker_id)
                self.pool.send(worker_id, p.Shutdown())
                log.info("retiring idle line worker %s", worker_id)
                return

    def _pick_worker(self, ready_agents_by_worker: Counter[str]) -> str | None:
        candidates = [w for w in self.ready_workers if self._free_slots(w) > 0]
        if not candidates:
            return None
        return max(candidates, key=lambda w: (ready_agents_by_worker[w], self._free_slots(w), w))

    # ------------------------------------------------------------------------------------ campaigns

    def _refresh_campaigns(self) -> None:
        with self.db.session(ALL_ORGS) as s:
            query = select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE.value)
            if self.config.campaign_ids is not None:
                query = query.where(Campaign.id.in_(self.config.campaign_ids))
            active = {c.id: c for c in s.scalars(query)}
        for campaign_id in set(self.cannot_run) - set(active):
            self._can_run(campaign_id)  # paused or finished: no longer the engine's problem
        with self.lock:
            for campaign_id, run in list(self.campaigns.items()):
                run.active = campaign_id in active
                if not run.active and not any(c.campaign_id == campaign_id for c in self.calls.values()):
                    del self.campaigns[campaign_id]
        for campaign_id, campaign in active.items():
            with self.lock:
                known = campaign_id in self.campaigns
            if known:
                continue
            try:
                run = self._campaign_run(campaign)
            except Exception as exc:
                self._cannot_run(campaign, exc)
                continue
            self._can_run(campaign.id)
            with self.lock:
                self.campaigns[campaign_id] = run
                self.trunks.setdefault(
                    run.profile.name,
                    TrunkGate(run.profile.name, run.profile.max_cps, run.profile.max_concurrent_calls),
                )
                for agent in self.board.campaign_agents(str(campaign_id)):
                    run.policy.observe(_AGENT_EVENTS[agent.state](agent.agent_id), time.time())
            log.info("running campaign %s (%s)", campaign.name, campaign.id)

    def _cannot_run(self, campaign: Campaign, exc: Exception) -> None:
        """Record once, as an open alarm (GET /api/dialer/alarms, the campaign's readiness), why an active
        campaign cannot run; retried every refresh, cleared when it runs or stops being active."""
        reason = str(exc) if isinstance(exc, ClearlineError) else f"{type(exc).__name__}: {exc}"
        if self.cannot_run.get(campaign.id) == reason:
            return
        if isinstance(exc, ClearlineError):
            log.warning("campaign %s (%s) cannot run: %s", campaign.name, campaign.id, reason)
        else:
            log.exception("campaign %s (%s) cannot run", campaign.name, campaign.id)
        self.cannot_run[campaign.id] = reason
        now = datetime.now(UTC)
        with self.db.session(ALL_ORGS) as s:
            s.execute(
                update(TrunkAlarm)
                .where(
                    TrunkAlarm.campaign_id == campaign.id,
                    TrunkAlarm.kind == CAMPAIGN_CANNOT_RUN,
                    TrunkAlarm.cleared_at.is_(None),
                )
                .values(cleared_at=now)
            )
            s.add(
                TrunkAlarm(
                    org_id=campaign.org_id,
                    trunk=campaign.trunk_profile[:100],
                    campaign_id=campaign.id,
                    kind=CAMPAIGN_CANNOT_RUN,
                    reason=reason[:2000],
                    raised_at=now,
                )
            )

    def _can_run(self, campaign_id: uuid.UUID) -> None:
        if self.cannot_run.pop(campaign_id, None) is None:
            return
        with self.db.session(ALL_ORGS) as s:
            s.execute(
                update(TrunkAlarm)
                .where(
                    TrunkAlarm.campaign_id == campaign_id,
                    TrunkAlarm.kind == CAMPAIGN_CANNOT_RUN,
                    TrunkAlarm.cleared_at.is_(None),
                )
                .values(cleared_at=datetime.now(UTC))
            )

    def _campaign_run(self, campaign: Campaign) -> CampaignRun:
        profile = load_profile(campaign.trunk_profile, self.config.profiles_dir)
        budget = pacing.AbandonBudget()
        budget.seed(self._abandon_history(campaign.id))
        policy = build_policy(campaign, budget, profile.effective_ring_timeout(profile.ring_timeout_s))
        return CampaignRun(
            id=campaign.id,
            org_id=campaign.org_id,
            name=campaign.name,
            profile=profile,
            caller_id_mode=campaign.caller_id_mode,
            caller_id=campaign.caller_id,
            safe_harbor_wav=campaign.safe_harbor_wav or str(DEFAULT_SAFE_HARBOR_WAV),
            opt_out_key=campaign.opt_out_key,
            max_lines_per_agent=campaign.max_lines_per_agent,
            wrap_up_s=campaign.wrap_up_s,
            policy=policy,
            budget=budget,
            compliance=DialTimeCompliance(self.db, campaign),
            agent_cursor=self.board.last_event_id(str(campaign.id)),
        )

    def _abandon_history(self, campaign_id: uuid.UUID) -> list[tuple[float, int, int]]:
        """The rolling 30-day record of this campaign: one row per answered call (human or abandoned)."""
        since = datetime.now(UTC).timestamp() - pacing.budget.THIRTY_DAYS_S
        with self.db.session(ALL_ORGS) as s:
            rows = s.execute(
                select(CallAttempt.answered_at, CallAttempt.outcome).where(
                    CallAttempt.campaign_id == campaign_id,
                    CallAttempt.outcome.in_([Outcome.HUMAN.value, Outcome.ABANDONED.value]),
                    CallAttempt.answered_at >= _dt(since),
                )
            ).all()
        return [(at.timestamp(), 1, int(outcome == Outcome.ABANDONED.value)) for at, outcome in rows if at]

    def _finalize_orphaned_attempts(self) -> None:
        """Calls left `in_progress` by an earlier supervisor of this pool on this host that is gone (crash,
        kill -9): their SIP legs died with its workers. Close them like a dead worker's calls, so their
        leads move on by the recycle rules instead of waiting for their lease to expire."""
        prefix = f"dialer:{socket.gethostname()}:"
        suffix = f":{self.config.pool}"
        with self.db.session(ALL_ORGS) as s:
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
                    CallAttempt.worker != self.holder,
                )
            ).all()
        now = time.time()
        for attempt_id, holder, answered_at, connected_at in rows:
            pid = holder[len(prefix) : -len(suffix)]
            if pid.isdigit() and psutil.pid_exists(int(pid)):
                continue  # that supervisor is still running
            outcome = final_outcome(
                p.SipOutcome.WORKER_LOST,
                answered_at=answered_at.timestamp() if answered_at else None,
                answered_by_machine=False,
                agent_connected_at=connected_at.timestamp() if connected_at else None,
            )
            attempt_records.finish_attempt(self.db, attempt_id, outcome=outcome.value, ended_at=_dt(now))
            log.warning(
                "finalized call attempt %s of the gone supervisor %s as %s", attempt_id, holder, outcome
            )

    def _recover_agents(self) -> None:
        """Agents left logged in by an earlier engine: their legs died with it, so call their phones again."""
        with self.lock:
            campaign_ids = list(self.campaigns)
        for campaign_id in campaign_ids:
            for agent in self.board.campaign_agents(str(campaign_id)):
                if agent.state is AgentState.LOGGED_OUT or agent.agent_id in self.agent_worker:
                    continue
                try:
                    self.board.reconnect(agent.agent_id)
                except AgentStateError:
                    continue
                self.pending_logins.append(
                    EngineRequest(
                        kind="agent_login",
                        agent_id=agent.agent_id,
                        org_id=agent.org_id,
                        campaign_id=agent.campaign_id,
                        session_id=agent.session_id,
                        sip_uri=agent.sip_uri,
                    )
                )

    # ------------------------------------------------------------------------------------ dial path

    def _dial_loop(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                runs = [r for r in self.campaigns.values() if r.active]
            for run in runs:
                try:
                    self._dial_campaign(run)
                except Exception:
                    log.exception("dialing campaign %s failed", run.id)
            self._stop.wait(self.config.dial_interval_s)

    def _dial_budget(self, run: CampaignRun, now: float) -> int:
        want = run.policy.calls_to_place(now)
        floor = run.policy.floor
        by_ratio = math.floor(run.max_lines_per_agent * floor.working_agents) - floor.lines_in_use
        gate = self.trunks[run.profile.name]
        capacity = sum(max(0, self._free_slots(w)) for w in self.ready_workers)
        return max(0, min(want, by_ratio, gate.allowance(now), capacity))

    def _dial_campaign(self, run: CampaignRun) -> None:
        with self.lock:
            n = self._dial_budget(run, time.time())
        if n <= 0:
            return
        now_dt = datetime.now(UTC)
        leases = lease_leads(self.db, run.id, n, now_dt, holder=self.holder, lease_s=self.config.lease_s)
        if not leases:
            return
        at = self.config.compliance_clock(run.id, now_dt) if self.config.compliance_clock else now_dt
        try:
            verdicts = run.compliance.decide(leases, at)
        except Exception:
            release_leads(
                self.db, [lead.lead_id for lead in leases], holder=self.holder
            )  # fail closed: no call
            raise
        ready_by_worker = Counter(
            a.worker for a in self.board.campaign_agents(str(run.id)) if a.state is AgentState.READY
        )
        unused: list[int] = []
        for lead, dial_verdict in zip(leases, verdicts, strict=True):
            verdict = dial_verdict.verdict
            if not verdict.callable:
                attempt_records.record_blocked(
                    self.db,
                    lead.lead_id,
                    holder=self.holder,
                    at=now_dt,
                    verdict_reasons=list(verdict.reasons),
                    retry_at=retry_at_for(verdict, now_dt),
                    evidence=attempt_evidence(dial_verdict.evidence),
                )
                with self.lock:
                    run.stats.blocked += 1
                continue
            try:
                placed = not self._stop.is_set() and self._place(run, lead, ready_by_worker, dial_verdict)
            except Exception:
                log.exception("placing a call to lead %s of campaign %s failed", lead.lead_id, run.id)
                placed = False
            if not placed:
                unused.append(lead.lead_id)
        if unused:
            release_leads(self.db, unused, holder=self.holder)

    def _place(
        self, run: CampaignRun, lead: LeasedLead, ready_by_worker: Counter[str], dial_verdict: DialVerdict
    ) -> bool:
        identity = self.identity.identify(
            org_id=run.org_id,
            lead_e164=lead.e164,
            caller_id_mode=run.caller_id_mode,
            fixed_caller_id=run.caller_id,
            sign=run.profile.stir_shaken,
        )
        if identity is None:
            log.error("campaign %s has no caller ID for %s: not dialing", run.id, lead.e164)
            return False
        with self.lock:
            now = time.time()
            worker = self._pick_worker(ready_by_worker)
            gate = self.trunks[run.profile.name]
            if worker is None or gate.allowance(now) <= 0:
                return False
            gate.placed(now)  # reserve the trunk slot and the worker slot before the database write
            self.worker_load[worker] += 1
        placed_at = datetime.now(UTC)
        with self.lock:
            evidence = attempt_evidence(
                dial_verdict.evidence, identity=identity, budget=run.budget, at=placed_at.timestamp()
            )
        try:
            attempt_id = attempt_records.start_attempt(
                self.db,
                lead.lead_id,
                holder=self.holder,
                placed_at=placed_at,
                trunk=run.profile.name,
                caller_id=identity.caller_id,
                attestation=identity.attestation,
                attestation_reason=identity.attestation_reason,
                origid=identity.origid,
                identity_header_present=bool(identity.identity_header),
                evidence=evidence,
            )
        except Exception:
            with self.lock:
                gate.ended(time.time(), trunk_failure=False)
                self.worker_load[worker] -= 1
            raise
        call = LiveCall(
            attempt_id=str(attempt_id),
            lead_id=lead.lead_id,
            org_id=run.org_id,
            campaign_id=run.id,
            e164=lead.e164,
            trunk=run.profile.name,
            worker=worker,
            placed_at=time.time(),
        )
        with self.lock:
            self.calls[call.attempt_id] = call
            run.policy.observe(pacing.CallPlaced(call.attempt_id), call.placed_at)
            run.stats.calls_placed += 1
            self.max_concurrent_calls = max(self.max_concurrent_calls, len(self.calls))
        self.pool.send(
            worker,
            p.DialLead(
                attempt_id=call.attempt_id,
                to=lead.e164,
                from_number=identity.caller_id,
                trunk=run.profile.name,
                ring_timeout_s=run.profile.effective_ring_timeout(run.profile.ring_timeout_s),
                identity=identity.identity_header,
                extra_headers=self.config.extra_headers(lead) if self.config.extra_headers else {},
            ),
        )
        return True

    # ------------------------------------------------------------------------------------ events

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            try:
                events = self.pool.events(self.config.tick_s)
                now = time.time()
                with self.lock:
                    for event in events:
                        self._on_event(event)
                    self._serve_waiting(now)
                self._periodic(now)
            except Exception:
                log.exception("dialer event loop error")
                time.sleep(0.1)

    def _every(self, name: str, interval_s: float, now: float) -> bool:
        if now - self._last.get(name, 0.0) < interval_s:
            return False
        self._last[name] = now
        return True

    def _periodic(self, now: float) -> None:
        if self._every("requests", 0.1, now):
            for request in pop_requests(self.runtime.redis):
                with self.lock:
                    self._on_request(request)
            for _agent_id, attempt_id in self.board.expire_wraps_of_calls():
                if attempt_id:  # the wrap-up ran out undisposed: the campaign's timeout disposition
                    self.recorder.submit(self._timed_out, attempt_id)
            with self.lock:
                login_orgs = {r.org_id for r in self.pending_logins}
            self._load_phone_policies(login_orgs, now)
            with self.lock:
                self._serve_logins()
                self._feed_agent_events(now)
        if self._every("stats", 0.5, now):
            self._write_live_stats(running=True)
        if self._every("campaigns", 2.0, now):
            self._refresh_campaigns()
            with self.lock:
                self._size_pool()
        if self._every("leases", 60.0, now):
            with self.lock:
                held = [c.lead_id for c in self.calls.values()]
            self.recorder.submit(
                renew_leases,
                self.db,
                held,
                datetime.now(UTC),
                holder=self.holder,
                lease_s=self.config.lease_s,
            )

    def _timed_out(self, attempt_id: str) -> None:
        try:
            attempt_records.dispose_timed_out(self.db, uuid.UUID(attempt_id), at=datetime.now(UTC))
        except ClearlineError as exc:
            log.warning("timeout disposition of call attempt %s not recorded: %s", attempt_id, exc)

    def _feed_agent_events(self, now: float) -> None:
        for run in self.campaigns.values():
            for event in self.board.events_since(str(run.id), run.agent_cursor):
                run.agent_cursor = event.stream_id
                if event.new_state == AgentState.LOGGED_OUT and event.agent_id in self.agent_worker:
                    self._complete_pending_logout(event.agent_id)
                kind = _AGENT_EVENTS.get(event.new_state)
                if kind is not None:
                    run.policy.observe(kind(event.agent_id), event.at_ms / 1000)

    def _on_event(self, event: p.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_worker_ready(self, event: p.WorkerReady) -> None:
        self._worker_ready(event.worker_id)

    def _on_dialing(self, event: p.Dialing) -> None:
        if event.attempt_id in self.calls:
            self.recorder.submit(
                attempt_records.record_progress,
                self.db,
                uuid.UUID(event.attempt_id),
                sip_call_id=event.sip_call_id,
            )

    def _on_ringing(self, event: p.Ringing) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        self.campaigns[call.campaign_id].policy.observe(pacing.CallRinging(call.attempt_id), event.at)
        self.recorder.submit(
            attempt_records.record_progress, self.db, uuid.UUID(call.attempt_id), ringing_at=_dt(event.at)
        )

    def _on_answered(self, event: p.Answered) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        run = self.campaigns[call.campaign_id]
        call.answered_at = event.at
        self.recorder.submit(
            attempt_records.record_progress, self.db, uuid.UUID(call.attempt_id), answered_at=_dt(event.at)
        )
        if event.answered_by is p.AnsweredBy.MACHINE:
            call.answered_by_machine = True
            run.policy.observe(pacing.CallAnsweredMachine(call.attempt_id), event.at)
            self.pool.hangup(call.attempt_id)
            return
        run.policy.observe(pacing.CallAnsweredHuman(call.attempt_id), event.at)
        run.stats.answered += 1
        call.wait_deadline = event.at + self.config.agent_wait_s
        if not self._connect(call):
            self.waiting.append(call.attempt_id)

    def _connect(self, call: LiveCall) -> bool:
        claimed = self.board.claim(
            str(call.campaign_id), attempt_id=call.attempt_id, prefer_worker=call.worker
        )
        if claimed is None:
            return False
        call.agent_id = claimed.agent_id
        try:
            self.pool.bridge(call.attempt_id, claimed.agent_id)
        except KeyError:
            log.warning("agent %s has no leg in this pool; releasing the claim", claimed.agent_id)
            self.board.release_unbridged(claimed.agent_id, call.attempt_id)
            call.agent_id = None
            return False
        return True

    def _serve_waiting(self, now: float) -> None:
        still: deque[str] = deque()
        while self.waiting:
            attempt_id = self.waiting.popleft()
            call = self.calls.get(attempt_id)
            if call is None or call.agent_id is not None or call.safe_harbor:
                continue
            if self._connect(call):
                continue
            if now >= call.wait_deadline:
                self._abandon(call)
            else:
                still.append(attempt_id)
        self.waiting = still

    def _abandon(self, call: LiveCall) -> None:
        """No agent within the deadline: safe-harbor message with the opt-out key, then hang up."""
        run = self.campaigns[call.campaign_id]
        call.safe_harbor = True
        if not call.abandon_reported:
            call.abandon_reported = True
            run.policy.observe(pacing.CallAbandoned(call.attempt_id), time.time())
            run.stats.abandoned += 1
        self.recorder.submit(
            attempt_records.record_progress,
            self.db,
            uuid.UUID(call.attempt_id),
            safe_harbor_at=datetime.now(UTC),
        )
        self.pool.play_safe_harbor(
            p.PlaySafeHarbor(
                attempt_id=call.attempt_id,
                wav_path=run.safe_harbor_wav,
                opt_out_key=run.opt_out_key,
                listen_after_s=self.config.safe_harbor_listen_s,
            )
        )

    def _on_bridged(self, event: p.Bridged) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        run = self.campaigns[call.campaign_id]
        call.agent_connected_at = event.at
        run.policy.observe(pacing.CallConnected(call.attempt_id, event.agent_id), event.at)
        if call.answered_at is not None:
            delay = event.at - call.answered_at
            run.answer_to_agent_ms.append(delay * 1000)
            if delay <= AGENT_DEADLINE_S:
                run.stats.connected += 1
            elif not call.abandon_reported:
                call.abandon_reported = True
                run.policy.observe(pacing.CallAbandoned(call.attempt_id), event.at)
                run.stats.abandoned += 1
        self.recorder.submit(
            attempt_records.record_progress,
            self.db,
            uuid.UUID(call.attempt_id),
            agent_connected_at=_dt(event.at),
            agent_id=uuid.UUID(event.agent_id),
        )
        agent = self.board.status(event.agent_id)
        if agent is not None and agent.session_id:
            self.recorder.submit(self._count_session_call, agent.session_id)

    def _on_bridge_failed(self, event: p.BridgeFailed) -> None:
        log.warning("bridge of %s to agent %s failed: %s", event.attempt_id, event.agent_id, event.reason)
        call = self.calls.get(event.attempt_id)
        if call is not None and call.agent_id == event.agent_id and call.agent_connected_at is not None:
            self._agent_lost_mid_call(call)
            return
        self.board.release_unbridged(event.agent_id, event.attempt_id)
        if call is None or call.agent_id != event.agent_id:
            return
        call.agent_id = None
        self.waiting.appendleft(call.attempt_id)

    def _agent_lost_mid_call(self, call: LiveCall) -> None:
        """The agent's phone hung up while the customer was talking to it: end the customer's call too (never
        dead air, never the abandon message to someone who reached an agent), and record why."""
        if call.ended_by is None:
            call.ended_by = "agent_phone"
            self.pool.hangup(call.attempt_id)
        if call.agent_id is not None:  # not READY: its leg is gone (AgentLegDown logs it out)
            self.board.call_ended(call.agent_id, call.attempt_id, wrap_s=self._wrap_s(call.campaign_id))

    def _wrap_s(self, campaign_id: uuid.UUID | None) -> float:
        if self.config.wrap_timeout_s is not None:
            return self.config.wrap_timeout_s
        run = self.campaigns.get(campaign_id) if campaign_id else None
        return float(run.wrap_up_s) if run is not None else 30.0

    def _on_agent_free(self, event: p.AgentFree) -> None:
        call = self.calls.get(event.attempt_id)
        status = self.board.status(event.agent_id) if call is None else None
        campaign_id = (
            call.campaign_id
            if call
            else (uuid.UUID(status.campaign_id) if status and status.campaign_id else None)
        )
        self.board.call_ended(event.agent_id, event.attempt_id, wrap_s=self._wrap_s(campaign_id))

    def _on_opt_out(self, event: p.OptOut) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or call.opted_out or not call.safe_harbor:
            return
        call.opted_out = True
        # At once, on this thread: the next compliance check (from any process) must already see it.
        with self.db.session(Scope(call.org_id)) as s:
            add_internal_dnc(
                s,
                e164=call.e164,
                campaign_id=None,
                source="opt_out_key",
                reason=f"pressed {event.digit} during the safe-harbor message of call attempt {call.attempt_id}",
                added_by=None,
            )
        self.pool.hangup(call.attempt_id)

    def _on_ended(self, event: p.Ended) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        if event.sip_call_id:
            self.recorder.submit(
                attempt_records.record_progress,
                self.db,
                uuid.UUID(call.attempt_id),
                sip_call_id=event.sip_call_id,
            )
        self._finish(call, event.outcome, event.sip_status, event.at, reason=event.reason)

    def _finish(
        self, call: LiveCall, sip_outcome: p.SipOutcome, sip_status: int, at: float, reason: str = ""
    ) -> None:
        self.calls.pop(call.attempt_id, None)
        run = self.campaigns.get(call.campaign_id)
        outcome = final_outcome(
            sip_outcome,
            answered_at=call.answered_at,
            answered_by_machine=call.answered_by_machine,
            agent_connected_at=call.agent_connected_at,
        )
        gate = self.trunks.get(call.trunk)
        if gate is not None:
            gate.ended(time.time(), trunk_failure=sip_outcome is p.SipOutcome.TRUNK_FAILURE)
        if call.worker in self.worker_load:
            self.worker_load[call.worker] = max(0, self.worker_load[call.worker] - 1)
        if run is not None:
            self._observe_outcome(run, call, outcome, at)
        if call.agent_id is not None:
            if call.agent_connected_at is not None:
                self.board.call_ended(call.agent_id, call.attempt_id, wrap_s=self._wrap_s(call.campaign_id))
            else:
                self.board.release_unbridged(call.agent_id, call.attempt_id)
        self.recorder.submit(
            self._record_end, call, outcome.value, _dt(at), sip_status or None, sip_outcome, reason
        )

    def _observe_outcome(self, run: CampaignRun, call: LiveCall, outcome: Outcome, at: float) -> None:
        policy, stats = run.policy, run.stats
        if outcome is Outcome.ABANDONED and not call.abandon_reported:
            call.abandon_reported = True
            policy.observe(pacing.CallAbandoned(call.attempt_id), at)
            stats.abandoned += 1
        elif outcome is Outcome.BUSY:
            policy.observe(pacing.CallBusy(call.attempt_id), at)
        elif outcome is Outcome.NO_ANSWER:
            policy.observe(pacing.CallNoAnswer(call.attempt_id), at)
        elif outcome in (Outcome.FAILED, Outcome.INVALID):
            policy.observe(pacing.CallFailed(call.attempt_id), at)
            stats.failed += outcome is Outcome.FAILED
        elif outcome is Outcome.MACHINE:
            stats.machine += 1
        policy.observe(pacing.CallEnded(call.attempt_id), at)

    def _record_end(
        self,
        call: LiveCall,
        outcome: str,
        ended_at: datetime,
        sip_status: int | None,
        sip_outcome: p.SipOutcome,
        reason: str,
    ) -> None:
        attempt_records.finish_attempt(
            self.db,
            uuid.UUID(call.attempt_id),
            outcome=outcome,
            ended_at=ended_at,
            sip_status=sip_status,
            ended_by=call.ended_by,
        )
        if sip_outcome in (p.SipOutcome.IDENTITY_REJECTED, p.SipOutcome.TRUNK_FAILURE):
            kind = "identity_rejected" if sip_outcome is p.SipOutcome.IDENTITY_REJECTED else "trunk_failure"
            with self.db.session(ALL_ORGS) as s:
                s.add(
                    TrunkAlarm(
                        org_id=call.org_id,
                        trunk=call.trunk,
                        campaign_id=call.campaign_id,
                        attempt_id=uuid.UUID(call.attempt_id),
                        kind=kind,
                        sip_status=sip_status or 0,
                        reason=reason[:2000],
                    )
                )

    # ------------------------------------------------------------------------------------ agents

    def _on_request(self, request: EngineRequest) -> None:
        if request.kind == "agent_login":
            self.pending_logins.append(request)
        elif request.kind == "agent_logout":
            worker = self.agent_worker.get(request.agent_id) or request.worker
            if worker:
                self.pool.send(worker, p.ReleaseAgent(agent_id=request.agent_id))
        elif request.kind == "agent_hangup":
            call = self.calls.get(request.attempt_id)
            if call is not None and call.agent_id == request.agent_id and call.ended_by is None:
                call.ended_by = "agent"
                self.pool.hangup(call.attempt_id)  # the agent's leg stays up: AgentFree, then WRAP

    def _serve_logins(self) -> None:
        waiting, self.pending_logins = self.pending_logins, []
        for request in waiting:
            status = self.board.status(request.agent_id)
            if status is None or status.state is not AgentState.CONNECTING:
                continue  # logged out meanwhile
            if not self._login(request):
                self.pending_logins.append(request)

    def _load_phone_policies(self, org_ids: set[str], now: float) -> None:
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
            self._end_agent(request.agent_id, "phone_not_allowed")
            return True
        candidates = [w for w in self.ready_workers if self._free_slots(w) > 0]
        if not candidates:
            return False
        worker = max(candidates, key=lambda w: (self._free_slots(w), w))
        self.worker_load[worker] += 1
        self.agent_worker[request.agent_id] = worker
        self.pool.send(worker, p.CallAgent(agent_id=request.agent_id, sip_uri=request.sip_uri))
        return True

    def _on_agent_leg_up(self, event: p.AgentLegUp) -> None:
        status = self.board.status(event.agent_id)
        if status is None or status.state is not AgentState.CONNECTING:
            self.pool.send(event.worker_id, p.ReleaseAgent(agent_id=event.agent_id))  # logged out meanwhile
            return
        self.board.leg_up(event.agent_id, worker=event.worker_id, leg_id=event.agent_id)
        self.recorder.submit(self._session_connected, status.session_id, event.worker_id, _dt(event.at))

    def _on_agent_leg_down(self, event: p.AgentLegDown) -> None:
        if self.agent_worker.get(event.agent_id) == event.worker_id:
            del self.agent_worker[event.agent_id]
            self.worker_load[event.worker_id] = max(0, self.worker_load[event.worker_id] - 1)
        status = self.board.status(event.agent_id)
        if (
            status is not None
            and status.state is not AgentState.LOGGED_OUT
            and status.worker in ("", event.worker_id)
        ):
            call = self.calls.get(status.attempt_id) if status.state is AgentState.INCALL else None
            if call is not None:
                self._agent_lost_mid_call(call)  # no one is left to talk to the customer
            self._end_agent(event.agent_id, f"leg_down:{event.sip_status}:{event.reason}"[:64])

    def _complete_pending_logout(self, agent_id: str) -> None:
        """An agent who asked to log out during a call is logged out once its wrap-up ended: hang up the
        phone's leg now (never earlier: the customer was still on it) and close the session."""
        status = self.board.status(agent_id)
        if status is None or not status.logout_requested:
            return  # logged out by the API or a lost leg: those paths release the leg themselves
        worker = self.agent_worker.get(agent_id)
        if worker:
            self.pool.send(worker, p.ReleaseAgent(agent_id=agent_id))
        self.recorder.submit(self._end_agent_session, status.session_id, "logout")

    def _end_agent(self, agent_id: str, reason: str) -> None:
        before = self.board.logout(agent_id)
        if before is not None:
            self.recorder.submit(self._end_agent_session, before.session_id, reason)

    def _session_connected(self, session_id: str, worker: str, at: datetime) -> None:
        if not session_id:
            return
        with self.db.session(ALL_ORGS) as s:
            row = s.get(AgentSession, uuid.UUID(session_id))
            if row is not None:
                row.worker, row.leg_id = worker, str(row.agent_id)
                row.connected_at = row.connected_at or at

    def _count_session_call(self, session_id: str) -> None:
        with self.db.session(ALL_ORGS) as s:
            s.execute(
                update(AgentSession)
                .where(AgentSession.id == uuid.UUID(session_id))
                .values(calls_handled=AgentSession.calls_handled + 1)
            )

    def _end_agent_session(self, session_id: str, reason: str) -> None:
        if not session_id:
            return
        with self.db.session(ALL_ORGS) as s:
            row = s.get(AgentSession, uuid.UUID(session_id))
            if row is not None and row.ended_at is None:
                row.ended_at = datetime.now(UTC)
                row.end_reason = reason

    # ------------------------------------------------------------------------------------ failures

    def _on_command_rejected(self, event: p.CommandRejected) -> None:
        log.error("worker %s rejected %s %s: %s", event.worker_id, event.command, event.key, event.reason)
        if event.command == "DialLead" and event.key in self.calls:
            self._finish(self.calls[event.key], p.SipOutcome.TRUNK_FAILURE, 0, event.at, reason=event.reason)
        elif event.command == "CallAgent":
            if self.agent_worker.get(event.key) == event.worker_id:
                del self.agent_worker[event.key]
                self.worker_load[event.worker_id] = max(0, self.worker_load[event.worker_id] - 1)
            self._end_agent(event.key, "rejected")

    def _on_worker_died(self, event: p.WorkerDied) -> None:
        """Finalize its calls (answered ones keep their answer; others are `failed`, which does not burn
        the lead), call its agents' phones again on other workers, and start a replacement."""
        if event.worker_id in self.retiring and not event.attempt_ids and not event.agent_ids:
            self.retiring.discard(event.worker_id)
            self.worker_load.pop(event.worker_id, None)
            return
        log.error(
            "line worker %s died (exit %s): %d calls, %d agents",
            event.worker_id,
            event.exit_code,
            len(event.attempt_ids),
            len(event.agent_ids),
        )
        self.ready_workers.discard(event.worker_id)
        self.starting_workers.pop(event.worker_id, None)
        self.worker_load.pop(event.worker_id, None)
        lost = {a for a in event.attempt_ids} | {
            c.attempt_id for c in self.calls.values() if c.worker == event.worker_id
        }
        for attempt_id in sorted(lost):
            call = self.calls.get(attempt_id)
            if call is not None:
                self._finish(
                    call, p.SipOutcome.WORKER_LOST, 0, event.at, reason=f"line worker {event.worker_id} died"
                )
        orphans = set(event.agent_ids) | {a for a, w in self.agent_worker.items() if w == event.worker_id}
        for agent_id in sorted(orphans):
            self.agent_worker.pop(agent_id, None)
            status = self.board.status(agent_id)
            if status is None or status.state is AgentState.LOGGED_OUT:
                continue
            try:
                self.board.reconnect(agent_id)
            except AgentStateError:
                continue
            self.pending_logins.append(
                EngineRequest(
                    kind="agent_login",
                    agent_id=agent_id,
                    org_id=status.org_id,
                    campaign_id=status.campaign_id,
                    session_id=status.session_id,
                    sip_uri=status.sip_uri,
                )
            )
        self.workers_restarted += 1
        self._start_worker()

    # ------------------------------------------------------------------------------------ live view

    def _write_live_stats(self, *, running: bool) -> None:
        with self.lock:
            snapshot = []
            for run in self.campaigns.values():
                stats = run.stats
                floor = run.policy.floor
                stats.calls_in_progress = sum(1 for c in self.calls.values() if c.campaign_id == run.id)
                stats.dial_level = floor.lines_in_use / floor.working_agents if floor.working_agents else 0.0
                stats.abandon_rate = stats.abandoned / stats.answered if stats.answered else 0.0
                stats.max_concurrent_calls = self.max_concurrent_calls
                stats.updated_ms = int(time.time() * 1000)
                stats.running = running
                snapshot.append((str(run.id), LiveStats(**vars(stats))))
        for campaign_id, stats in snapshot:
            write_live_stats(self.runtime.redis, campaign_id, stats)
        write_engine_heartbeat(self.runtime.redis, self.holder, running=running)


_HANDLERS: dict[type, Callable[[Engine, object], None]] = {
    p.WorkerReady: Engine._on_worker_ready,  # type: ignore[dict-item]
    p.Dialing: Engine._on_dialing,  # type: ignore[dict-item]
    p.Ringing: Engine._on_ringing,  # type: ignore[dict-item]
    p.Answered: Engine._on_answered,  # type: ignore[dict-item]
    p.Bridged: Engine._on_bridged,  # type: ignore[dict-item]
    p.BridgeFailed: Engine._on_bridge_failed,  # type: ignore[dict-item]
    p.AgentFree: Engine._on_agent_free,  # type: ignore[dict-item]
    p.OptOut: Engine._on_opt_out,  # type: ignore[dict-item]
    p.Ended: Engine._on_ended,  # type: ignore[dict-item]
    p.AgentLegUp: Engine._on_agent_leg_up,  # type: ignore[dict-item]
    p.AgentLegDown: Engine._on_agent_leg_down,  # type: ignore[dict-item]
    p.CommandRejected: Engine._on_command_rejected,  # type: ignore[dict-item]
    p.WorkerDied: Engine._on_worker_died,  # type: ignore[dict-item]
}
