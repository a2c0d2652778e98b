"""The dialer supervisor: runs active campaigns over a pool of line-worker processes.

It wires the engine's parts together and gives them their threads; each part is one concern:
- the **floor** (`floor.py`): call events, agent claims, the safe-harbor message, abandon accounting;
  plain code driven by events and a clock, reaching the board, the workers and the database through
  `ports.py` (in-memory fakes in `fakes.py`);
- the **dial path** (`dial_path.py`): pacing, leases, the dial-time compliance verdict, identity, the
  attempt row and the `DialLead`;
- the **worker fleet** (`fleet.py`): which workers are up, their load, where a call or a leg goes, the
  pool's size;
- **agent legs** (`agent_legs.py`): logins, the phone rules, legs up and down, logouts, sessions;
- **campaign runs** (`campaign_runs.py`) and **recovery** after a crash (`recovery.py`).

Two threads share the parts under one lock: the **event thread** reads line-worker events and hands
them to the floor, the fleet and the agent legs (the 2-second path never waits on the database), then
does the periodic work (agent requests, wrap-ups, live stats, campaign refresh, pool size, leases); the
**dial thread** runs the dial path. Evidence (progress, outcomes, alarms, sessions) is written by a
`Recorder` off both.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from datetime import UTC, datetime

from campaigns import attempts as attempt_records
from campaigns.hopper import renew_leases
from campaigns.models import Campaign
from core.errors import ClearlineError, ConflictError
from core.legal import MIN_RING_S
from core.logging_json import log_context
from core.runtime import Runtime
from dialer import pacing
from dialer.engine.agent_dials import AgentDials, engine_dials
from dialer.engine.agent_legs import AgentLegs
from dialer.engine.agents import AgentBoard, AgentState
from dialer.engine.attempt_log import DatabaseAttemptLog
from dialer.engine.campaign_runs import (
    CampaignRun,
    CannotRunAlarms,
    active_campaigns,
    campaign_run,
    changed_run,
)
from dialer.engine.config import EngineConfig, default_supervisor_id, worker_pool_name
from dialer.engine.dial_path import DialPath
from dialer.engine.fleet import WorkerFleet
from dialer.engine.floor import Floor, FloorSettings, LiveCall, call_log_context
from dialer.engine.identity import IdentitySource
from dialer.engine.live import LiveStats, write_engine_heartbeat, write_live_stats
from dialer.engine.ownership import HEARTBEAT_S, LEASE_TTL_S, CampaignOwnership, OwnershipStore, Supervisor
from dialer.engine.recorder import Recorder
from dialer.engine.recordings import EngineRecordings, sweep_recording_spool
from dialer.engine.recovery import agents_to_recover, finalize_orphaned_attempts
from dialer.engine.requests import pop_requests
from dialer.engine.state_log import record_agent_states
from dialer.engine.trunk_limits import RENEW_EVERY_S, TrunkLimits
from dialer.engine.trunks import TrunkGate
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool, WorkerNotReadyError

__all__ = ["CampaignRun", "Engine", "EngineConfig", "LiveCall"]

log = logging.getLogger(__name__)

CAMPAIGN_REFRESH_S = 1.0  # a running campaign's changed settings reach its next dial within this (+0.1 s)
STOP_MARGIN_S = 10.0  # after the last ringing call reached MIN_RING_S: time for the ends to be reported

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
        self.config = config = config or EngineConfig()
        self.board = AgentBoard(runtime.redis)
        self.supervisor_id = config.supervisor_id or default_supervisor_id()
        # Each supervisor has line workers of its own, named by it: their command and event lists are its
        # alone (two supervisors never pop each other's events nor clear each other's lists).
        self.pool = LineWorkerPool(
            runtime.redis_url,
            pool=worker_pool_name(config.pool, self.supervisor_id),
            log_dir=config.worker_log_dir,
        )
        self.recorder = Recorder()
        self.recordings = EngineRecordings(runtime)
        self.holder = f"dialer:{self.supervisor_id}:{config.pool}"
        self.lock = threading.RLock()
        self.campaigns: dict[uuid.UUID, CampaignRun] = {}
        # The campaigns this supervisor drives are those it holds a lease on (ownership.py).
        self.ownership = CampaignOwnership(
            OwnershipStore(runtime.redis),
            Supervisor(
                self.supervisor_id,
                holder=self.holder,
                campaigns=frozenset(str(c) for c in config.campaign_ids)
                if config.campaign_ids is not None
                else None,
            ),
        )
        self.handing_over: set[uuid.UUID] = set()  # owned campaigns draining before their lease goes
        self.all_active: set[uuid.UUID] = set()  # every active campaign, whoever runs it
        # Started engines run only the campaigns they lease; one never started (unit tests driving its
        # parts by hand) runs what its campaign filter gives it.
        self._coordinated = False
        self.campaign_takeovers = 0  # campaigns taken from a supervisor that was gone
        self.attempts_recovered = 0  # in-progress attempts of gone supervisors finalized by this one
        self.trunks: dict[str, TrunkGate] = {}
        self.fleet = WorkerFleet(
            self.pool,
            calls_per_worker=config.calls_per_worker,
            min_workers=config.min_workers,
            max_workers=config.max_workers,
            profiles_dir=config.profiles_dir,
        )
        self.floor = Floor(
            self.board,
            self.pool,
            DatabaseAttemptLog(self.db, self.recorder),
            FloorSettings(
                agent_wait_s=config.agent_wait_s,
                safe_harbor_listen_s=config.safe_harbor_listen_s,
                wrap_timeout_s=config.wrap_timeout_s,
            ),
            campaigns=self.campaigns,
            released=self._call_released,
            workers=self.fleet.ready,  # the same set, kept up to date by the fleet
        )
        self.legs = AgentLegs(self.db, self.board, self.pool, self.fleet, self.floor, self.recorder)
        self.legs.runs_campaign = lambda campaign_id: (
            not self._coordinated or campaign_id in self.ownership.held
        )
        self._stop = threading.Event()
        self.dial_path = DialPath(
            db=self.db,
            holder=self.holder,
            config=config,
            identity=identity,
            board=self.board,
            send=self.pool.send,
            fleet=self.fleet,
            trunks=self.trunks,
            floor=self.floor,
            lock=self.lock,
            stopping=self._stop,
            limits=TrunkLimits(runtime.redis),
            recordings=self.recordings,
        )
        self.agent_dials = AgentDials(
            db=self.db,
            client=runtime.redis,
            board=self.board,
            dial_path=self.dial_path,
            holder=self.holder,
            lease_s=config.lease_s,
        )
        self.alarms = CannotRunAlarms(self.db)
        self._dial_thread: threading.Thread | None = None
        self._event_thread: threading.Thread | None = None
        self._last: dict[str, float] = {}
        self._live_written: dict[str, LiveStats] = {}  # campaign id -> the figures last written as running

    # What the demo, the sandbox and the tests read.
    @property
    def max_concurrent_calls(self) -> int:
        return self.floor.max_concurrent_calls

    @property
    def workers_restarted(self) -> int:
        return self.fleet.restarted

    @property
    def ready_workers(self) -> set[str]:
        return self.fleet.ready

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self, *, wait_ready_s: float = 30.0) -> None:
        sweep_recording_spool(self.runtime.settings.home)  # what killed supervisors of this host left
        ids = [self.fleet.start_worker(time.time()) for _ in range(self.config.min_workers)]
        try:
            self.pool.wait_ready(ids, timeout_s=wait_ready_s)
        except WorkerNotReadyError:
            self.pool.close()
            raise
        for info in self.pool.workers().values():
            if info.ready is not None:
                self.fleet.worker_ready(info.worker_id)
        now = time.time()
        if self.ownership.store.is_registered(self.supervisor_id, now):
            self.pool.close()
            raise ConflictError(
                f"a dialer supervisor {self.supervisor_id!r} is already running (or was killed less than "
                f"{LEASE_TTL_S:.0f} s ago): give this one another --supervisor-id, or wait"
            )
        self.ownership.step({}, now)  # registered: the others count this one from now on
        self._coordinated = True
        # What an earlier life of this supervisor id or any gone supervisor left in progress (any host).
        self.attempts_recovered += finalize_orphaned_attempts(
            self.db, live_holders=self.ownership.live_holders() - {self.holder}
        )
        self._refresh_campaigns()
        self._ownership_step(time.time())
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
        """Stop dialing, let calls in progress end (up to `drain_s`), then hang up the rest: answered calls
        at once, ringing ones once they rang `MIN_RING_S` (never cut short of the legal minimum, which
        also bounds how long this waits); release agents."""
        self._stop.set()
        for thread in (self._dial_thread, self._event_thread):
            if thread is not None:
                thread.join(30)
        calls = self.floor.calls
        drain_until = time.time() + drain_s
        # Bounded: a call rings MIN_RING_S after its INVITE at most before it is hung up (or its own ring
        # timeout ends it), plus time for its end to be reported; then the workers are shut down.
        give_up = drain_until + MIN_RING_S + STOP_MARGIN_S
        while time.time() < give_up:
            with self.lock:
                if not calls:
                    break
                if time.time() >= drain_until:
                    self.floor.hang_up_for_stop(time.time())
            self._drain_once()
        with self.lock:
            for call in list(calls.values()):
                self.floor.finish(call, p.SipOutcome.WORKER_LOST, 0, time.time())
            if self.ownership.others_alive():
                # Another supervisor takes the campaigns: agents stay logged in, their phones called again
                # from its workers.
                self.legs.hand_over(list(self.fleet.agent_worker))
            else:
                self.legs.release_all("dialer_stopped")
        self._write_live_stats(running=False)
        self.recorder.flush()
        self.recorder.close()
        self.recordings.flush()
        self.recordings.close()
        self.ownership.close()
        self.pool.close()

    def _drain_once(self) -> None:
        if self._every("keep-alive", HEARTBEAT_S, time.time()):
            self.ownership.keep_alive(time.time())  # the calls still draining keep their campaigns here
        for event in self.pool.events(0.05):
            with self.lock:
                self._on_event(event, time.time())
        with self.lock:
            self.floor.tick(time.time())

    def _call_released(self, call: LiveCall, sip_outcome: p.SipOutcome, now: float) -> None:
        """A call ended: its trunk slot (and back-off after a trunk failure) and its worker slot are free."""
        gate = self.trunks.get(call.trunk)
        if gate is not None:
            gate.ended(time.time(), trunk_failure=sip_outcome is p.SipOutcome.TRUNK_FAILURE)
        self.fleet.release(call.worker)
        slot = self.dial_path.trunk_slots.pop(call.attempt_id, None)
        if slot is not None and self.dial_path.limits is not None:
            self.dial_path.limits.release(*slot)

    # ------------------------------------------------------------------------------------ campaigns

    def _refresh_campaigns(self) -> None:
        everything = active_campaigns(self.db, None)
        self.alarms.clear_all_but(set(everything))  # another supervisor's campaigns keep their alarms
        only = self.config.campaign_ids
        with self.lock:
            self.all_active = set(everything)
            owned = {uuid.UUID(c) for c in self.ownership.held} - self.handing_over
        active = {
            cid: c
            for cid, c in everything.items()
            if (cid in owned or not self._coordinated) and (only is None or cid in only)
        }
        with self.lock:
            for campaign_id, run in list(self.campaigns.items()):
                run.active = campaign_id in active and not run.cannot_run
                if campaign_id not in active and not self.floor.calls_of(campaign_id):
                    del self.campaigns[campaign_id]
        for campaign_id, campaign in active.items():
            with self.lock:
                known = self.campaigns.get(campaign_id)
            if known is not None:
                if known.updated_at != campaign.updated_at:
                    self._apply_changes(known, campaign)
                continue
            try:
                run = campaign_run(
                    self.db,
                    campaign,
                    agent_cursor=self.board.last_event_id(str(campaign.id)),
                    profiles_dir=self.config.profiles_dir,
                )
            except Exception as exc:
                self.alarms.raise_for(campaign, exc)
                continue
            self.alarms.clear(campaign.id)
            with self.lock:
                self.campaigns[campaign_id] = run
                self.trunks.setdefault(
                    run.profile.name,
                    TrunkGate(run.profile.name, run.profile.max_cps, run.profile.max_concurrent_calls),
                )
                for agent in self.board.campaign_agents(str(campaign_id)):
                    run.policy.observe(_AGENT_EVENTS[agent.state](agent.agent_id), time.time())
            log.info("running campaign %s (%s)", campaign.name, campaign.id)

    def _apply_changes(self, run: CampaignRun, campaign: Campaign) -> None:
        """A running campaign's settings changed: they take effect at its next dial, without a pause or a
        drain. Calls in flight keep their trunk and message; a new pacing policy learns of them."""
        try:
            fresh = changed_run(self.db, run, campaign, profiles_dir=self.config.profiles_dir)
        except Exception as exc:
            self.alarms.raise_for(campaign, exc)
            with self.lock:
                run.updated_at, run.cannot_run, run.active = campaign.updated_at, True, False
            return
        self.alarms.clear(campaign.id)
        with self.lock:
            if fresh.policy is not run.policy:
                for agent in self.board.campaign_agents(str(campaign.id)):
                    fresh.policy.observe(_AGENT_EVENTS[agent.state](agent.agent_id), time.time())
                for call in self.floor.calls.values():
                    if call.campaign_id == campaign.id:
                        fresh.policy.observe(pacing.CallPlaced(call.attempt_id), call.placed_at)
            self.trunks.setdefault(
                fresh.profile.name,
                TrunkGate(fresh.profile.name, fresh.profile.max_cps, fresh.profile.max_concurrent_calls),
            )
            self.campaigns[campaign.id] = fresh
        log.info("campaign %s (%s): changed settings in effect", campaign.name, campaign.id)

    # ------------------------------------------------------------------------------------ dial thread

    def _dial_loop(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                runs = [r for r in self.campaigns.values() if r.active]
            for run in runs:
                if not engine_dials(run.dial_method):
                    continue  # preview, manual: only on an agent's word (agent_dials)
                try:
                    with log_context(campaign_id=run.id, org_id=run.org_id):
                        self.dial_path.dial(run)
                except Exception:
                    log.exception("dialing campaign %s failed", run.id)
            try:
                with self.lock:
                    known = dict(self.campaigns)
                self.agent_dials.serve(known)
            except Exception:
                log.exception("serving agents' dials failed")
            self._stop.wait(self.config.dial_interval_s)
        self.agent_dials.release_all()

    # ------------------------------------------------------------------------------------ event thread

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            try:
                events = self.pool.events(self.config.tick_s)
                now = time.time()
                with self.lock:
                    for event in events:
                        self._on_event(event, now)
                    self.floor.tick(now)
                self._periodic(now)
            except Exception:
                log.exception("dialer event loop error")
                time.sleep(0.1)

    def _on_event(self, event: p.Event, now: float) -> None:
        """One line-worker event, to the parts it concerns (under the lock)."""
        if isinstance(event, p.Bridged | p.RecordingSaved | p.Ended | p.WorkerDied):
            self.recordings.on_event(event)  # and on to the floor below: it sees these events as before
        if isinstance(event, p.WorkerReady):
            self.fleet.worker_ready(event.worker_id)
        elif isinstance(event, p.AgentLegUp):
            self.legs.on_leg_up(event)
        elif isinstance(event, p.AgentLegDown):
            self.legs.on_leg_down(event)
        elif isinstance(event, p.WorkerDied):
            self._on_worker_died(event)
        else:
            # A lead call's event: whatever is logged while it is handled carries the call's ids.
            with self._call_log_context(str(getattr(event, "attempt_id", ""))):
                if isinstance(event, p.CommandRejected):
                    log.error(
                        "worker %s rejected %s %s: %s",
                        event.worker_id,
                        event.command,
                        event.key,
                        event.reason,
                    )
                    if event.command == "CallAgent":
                        self.legs.on_call_agent_rejected(event)
                self.floor.on_event(event, now)

    def _call_log_context(self, attempt_id: str) -> contextlib.AbstractContextManager[None]:
        call = self.floor.calls.get(attempt_id) if attempt_id else None
        return call_log_context(call) if call is not None else log_context(attempt_id=attempt_id or None)

    def _on_worker_died(self, event: p.WorkerDied) -> None:
        """Finalize its calls (answered ones keep their answer; others are `failed`, which does not burn
        the lead), call its agents' phones again on other workers, and start a replacement."""
        orphans = self.fleet.died(event)
        if orphans is None:
            return  # a retired idle worker left as asked
        log.error(
            "line worker %s died (exit %s): %d calls, %d agents",
            event.worker_id,
            event.exit_code,
            len(event.attempt_ids),
            len(event.agent_ids),
        )
        self.floor.on_event(event, time.time())
        self.legs.reconnect_orphans(orphans)
        self.fleet.restarted += 1
        self.fleet.start_worker(time.time())

    def _every(self, name: str, interval_s: float, now: float) -> bool:
        if now - self._last.get(name, 0.0) < interval_s:
            return False
        self._last[name] = now
        return True

    def _periodic(self, now: float) -> None:
        if self._every("requests", 0.1, now):
            with self.lock:
                # A campaign being handed over is still driven here until its calls ended and its lease
                # went: its agents' logouts and hang-ups are served here meanwhile (the new owner could not:
                # the legs and the calls are on this supervisor's workers).
                driven = [str(c) for c, run in self.campaigns.items() if run.active or c in self.handing_over]
            for request in pop_requests(self.runtime.redis, driven):
                with self.lock:
                    if request.kind == "agent_login" and uuid.UUID(request.campaign_id) in self.handing_over:
                        # Not called from here: the new owner calls every CONNECTING agent of the campaign
                        # when it takes it (`recovery.agents_to_recover`).
                        log.info(
                            "agent %s: login left to the campaign's next owner (handing over)",
                            request.agent_id,
                        )
                        continue
                    self.legs.on_request(request)
            for _agent_id, attempt_id in self.board.expire_wraps_of_calls():
                if attempt_id:  # the wrap-up ran out undisposed: the campaign's timeout disposition
                    self.recorder.submit(self._timed_out, attempt_id)
            with self.lock:
                login_orgs = self.legs.login_orgs()
            self.legs.load_phone_policies(login_orgs, now)
            with self.lock:
                self.legs.serve_logins()
                self._feed_agent_events()
        if self._every("ownership", HEARTBEAT_S, now):
            self._ownership_step(now)
        if self._every("stats", 0.5, now):
            self._write_live_stats(running=True)
        if self._every("campaigns", CAMPAIGN_REFRESH_S, now):
            self._refresh_campaigns()
        if self._every("pool", 2.0, now):
            with self.lock:
                wanted_room = sum(
                    max(0, run.policy.floor.working_agents) * run.max_lines_per_agent
                    for run in self.campaigns.values()
                    if run.active
                )
                self.fleet.size(wanted_room=wanted_room, calls=len(self.floor.calls), now=now)
        if self._every("trunk-slots", RENEW_EVERY_S, now) and self.dial_path.limits is not None:
            with self.lock:
                slots = list(self.dial_path.trunk_slots.values())
            by_trunk: dict[str, list[str]] = {}
            for trunk, token in slots:
                by_trunk.setdefault(trunk, []).append(token)
            for trunk, tokens in by_trunk.items():
                self.dial_path.limits.renew(trunk, tokens)
        if self._every("leases", 60.0, now):
            with self.lock:
                held = [c.lead_id for c in self.floor.calls.values()]
            self.recorder.submit(
                renew_leases,
                self.db,
                held,
                datetime.now(UTC),
                holder=self.holder,
                lease_s=self.config.lease_s,
            )

    # ------------------------------------------------------------------------------------ ownership

    def _ownership_step(self, now: float) -> None:
        """Renew this supervisor's leases, take the campaigns fair share gives it (finalizing what a gone
        owner left in progress, calling its agents' phones again), stop dialing those it lost, and hand
        over those fair share moves elsewhere once their calls ended."""
        with self.lock:
            active = sorted(self.all_active)
        agents = {
            str(c): sum(1 for a in self.board.campaign_agents(str(c)) if a.state is not AgentState.LOGGED_OUT)
            for c in active
        }
        step = self.ownership.step(agents, now)
        with self.lock:
            for campaign_id in step.lost:
                run = self.campaigns.get(uuid.UUID(campaign_id))
                if run is not None and run.active:
                    log.error(
                        "campaign %s: lease lost to another supervisor; no more dials here", campaign_id
                    )
                    run.active = False
                self.legs.pending_logins = [
                    r for r in self.legs.pending_logins if r.campaign_id != campaign_id
                ]
            for campaign_id in step.hand_over:
                cid = uuid.UUID(campaign_id)
                if cid not in self.handing_over:
                    log.info("campaign %s: handing over to another supervisor (fair share)", campaign_id)
                    self.handing_over.add(cid)
                    run = self.campaigns.get(cid)
                    if run is not None:
                        run.active = False
        for campaign_id in sorted(step.acquired):
            cid = uuid.UUID(campaign_id)
            recovered = finalize_orphaned_attempts(
                self.db, live_holders=self.ownership.live_holders(), campaign_ids=[cid]
            )
            self.attempts_recovered += recovered
            with self.lock:
                connected = set(self.fleet.agent_worker)
            agents_back = agents_to_recover(self.board, [cid], connected)
            with self.lock:
                self.legs.pending_logins.extend(agents_back)
                self.handing_over.discard(cid)
            if recovered or agents_back:
                self.campaign_takeovers += 1
            log.info(
                "campaign %s now run here (%d attempts finalized, %d agents called again)",
                campaign_id,
                recovered,
                len(agents_back),
            )
        if step.acquired:
            self._refresh_campaigns()
        self._finish_handovers()
        self._let_go_of_stray_legs()

    def _let_go_of_stray_legs(self) -> None:
        """Hang up the agents' legs held here for a campaign this supervisor no longer owns (its lease lapsed
        and went to another, which calls their phones from its own workers), or whose agent has a leg
        elsewhere now; an agent on a call here keeps its leg until the call ended. (The board is read
        outside the lock: the 2-second path never waits on it.)"""
        if not self._coordinated:
            return
        with self.lock:
            legs = dict(self.fleet.agent_worker)
        statuses = self.board.statuses(legs)
        with self.lock:
            held = self.ownership.held
            on_calls = {c.agent_id for c in self.floor.calls.values() if c.agent_id}
            stray = [
                agent_id
                for agent_id, worker in legs.items()
                if (status := statuses.get(agent_id)) is not None
                and agent_id not in on_calls
                and self.fleet.agent_worker.get(agent_id) == worker
                and (status.campaign_id not in held or status.worker not in ("", worker))
            ]
            self.legs.let_go(stray)

    def _finish_handovers(self) -> None:
        """Campaigns handed over whose calls have all ended: their agents' legs go (the agents stay logged
        in, CONNECTING, for the new owner to call), then the lease. (A paused campaign stays owned: its
        agents keep their legs here.)"""
        with self.lock:
            done = [cid for cid in self.handing_over if not self.floor.calls_of(cid)]
            for cid in done:
                # Every leg of the campaign held here, the logged-out agents' too (a logout made while
                # the campaign drained leaves its leg here: the new owner could not hang it up).
                self.legs.hand_over(self._legs_of(cid))
                self.legs.pending_logins = [r for r in self.legs.pending_logins if r.campaign_id != str(cid)]
                self.campaigns.pop(cid, None)
                self.handing_over.discard(cid)
        for cid in done:
            self.ownership.release(str(cid))

    def _legs_of(self, campaign_id: uuid.UUID) -> list[str]:
        """The agents of this campaign whose legs this supervisor's workers hold (logged out or not: the
        board keeps a logged-out agent's campaign). Under the lock."""
        statuses = self.board.statuses(list(self.fleet.agent_worker))
        return [a for a, status in statuses.items() if status.campaign_id == str(campaign_id)]

    def _timed_out(self, attempt_id: str) -> None:
        try:
            attempt_records.dispose_timed_out(self.db, uuid.UUID(attempt_id), at=datetime.now(UTC))
        except ClearlineError as exc:
            log.warning("timeout disposition of call attempt %s not recorded: %s", attempt_id, exc)

    def _feed_agent_events(self) -> None:
        for run in self.campaigns.values():
            events = self.board.events_since(str(run.id), run.agent_cursor)
            if events:  # the durable history the agent performance report reads (off this thread)
                self.recorder.submit(record_agent_states, self.db, run.org_id, run.id, events)
            for event in events:
                run.agent_cursor = event.stream_id
                if event.new_state == AgentState.LOGGED_OUT:
                    self.legs.logged_out(event.agent_id)
                kind = _AGENT_EVENTS.get(event.new_state)
                if kind is not None:
                    run.policy.observe(kind(event.agent_id), event.at_ms / 1000)

    # ------------------------------------------------------------------------------------ live view

    def _write_live_stats(self, *, running: bool) -> None:
        with self.lock:
            snapshot = []
            for run in self.campaigns.values():
                stats = run.stats
                floor = run.policy.floor
                stats.calls_in_progress = self.floor.calls_of(run.id)
                stats.dial_level = floor.lines_in_use / floor.working_agents if floor.working_agents else 0.0
                stats.abandon_rate = stats.abandoned / stats.answered if stats.answered else 0.0
                stats.max_concurrent_calls = self.floor.max_concurrent_calls
                stats.updated_ms = int(time.time() * 1000)
                stats.started_ms = stats.started_ms or stats.updated_ms
                stats.running = running
                snapshot.append((str(run.id), LiveStats(**vars(stats))))
            # Campaigns no longer run here (handed over, lost, stopped): their last figures from here say
            # so at once, not only once they are STALE_AFTER_MS old.
            for campaign_id in set(self._live_written) - {c for c, _ in snapshot}:
                gone = self._live_written.pop(campaign_id)
                gone.calls_in_progress, gone.dial_level, gone.running = 0, 0.0, False
                gone.updated_ms = int(time.time() * 1000)
                snapshot.append((campaign_id, gone))
            self._live_written.update((c, stats) for c, stats in snapshot if stats.running)
        for campaign_id, stats in snapshot:
            write_live_stats(self.runtime.redis, campaign_id, stats, writer=self.holder)
        write_engine_heartbeat(self.runtime.redis, self.holder, running=running)
