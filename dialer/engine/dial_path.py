"""The dial path: every `dial_interval_s`, for each running campaign, how many calls to start (the pacing
policy under the abandon guard, capped by the lines per agent, the trunk and the workers' room), lease
that many leads, take the dial-time compliance verdict (blocked leads are recorded, never dialed), pick
the caller ID, sign, record the attempt, hand the call to the floor and send the `DialLead`."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from campaigns import attempts as attempt_records
from campaigns.hopper import LeasedLead, lease_leads, release_leads
from core.db import Database
from core.logging_json import log_context
from dialer.engine.agents import AgentBoard, AgentState, AgentStateError, AgentStatus
from dialer.engine.campaign_runs import CampaignRun
from dialer.engine.compliance import DialVerdict, attempt_evidence, retry_at_for
from dialer.engine.config import EngineConfig
from dialer.engine.fleet import WorkerFleet
from dialer.engine.floor import Floor, LiveCall
from dialer.engine.identity import CallIdentity, IdentitySource
from dialer.engine.recordings import EngineRecordings
from dialer.engine.requests import AgentDialReply
from dialer.engine.trunk_limits import TrunkLimits
from dialer.engine.trunks import TrunkGate
from dialer.sip import protocol as p
from dnc.verdicts import prerecorded_message_allowed

log = logging.getLogger(__name__)


class DialPath:
    def __init__(
        self,
        *,
        db: Database,
        holder: str,
        config: EngineConfig,
        identity: IdentitySource,
        board: AgentBoard,
        send: Callable[[str, p.Command], None],
        fleet: WorkerFleet,
        trunks: dict[str, TrunkGate],
        floor: Floor,
        lock: threading.RLock,
        stopping: threading.Event,
        limits: TrunkLimits | None = None,
        recordings: EngineRecordings | None = None,
    ) -> None:
        self.db = db
        self.holder = holder
        self.config = config
        self.identity = identity
        self.board = board
        self.send = send
        self.fleet = fleet
        self.trunks = trunks
        self.floor = floor
        self.lock = lock
        self.stopping = stopping
        # The trunks' limits across every supervisor (None: this process's TrunkGate alone), and the slot
        # each call in progress holds there (attempt id -> (trunk, token)).
        self.limits = limits
        self.trunk_slots: dict[str, tuple[str, str]] = {}
        self.recordings = recordings  # None: this engine records no call (unit tests of its parts)

    def budget(self, run: CampaignRun, now: float) -> int:
        """Calls to start now (under the lock)."""
        want = run.policy.calls_to_place(now)
        floor = run.policy.floor
        by_ratio = math.floor(run.max_lines_per_agent * floor.working_agents) - floor.lines_in_use
        gate = self.trunks[run.profile.name]
        n = max(0, min(want, by_ratio, gate.allowance(now), self.fleet.capacity()))
        if n > 0 and self.limits is not None:
            profile = run.profile
            n = self.limits.allowance(profile.name, profile.max_cps, profile.max_concurrent_calls, n)
        return n

    def dial(self, run: CampaignRun) -> None:
        with self.lock:
            n = self.budget(run, time.time())
        if n <= 0:
            return
        now_dt = datetime.now(UTC)
        agents = self.board.campaign_agents(str(run.id))
        ready = [a for a in agents if a.state is AgentState.READY]
        leases = lease_leads(
            self.db,
            run.id,
            n,
            now_dt,
            holder=self.holder,
            lease_s=self.config.lease_s,
            ready_agents={uuid.UUID(a.agent_id) for a in ready},
        )
        if not leases:
            return
        verdicts = self.verdicts(run, leases, now_dt)
        ready_by_worker = Counter(a.worker for a in ready)
        unused: list[int] = []
        for lead, dial_verdict in zip(leases, verdicts, strict=True):
            if not dial_verdict.verdict.callable:
                self.record_blocked(run, lead, dial_verdict, now_dt)
                continue
            try:
                placed = not self.stopping.is_set() and self._place(run, lead, ready_by_worker, dial_verdict)
            except Exception:
                log.exception("placing a call to lead %s of campaign %s failed", lead.lead_id, run.id)
                placed = False
            if not placed:
                unused.append(lead.lead_id)
        if unused:
            release_leads(self.db, unused, holder=self.holder)

    def verdicts(self, run: CampaignRun, leases: list[LeasedLead], now_dt: datetime) -> list[DialVerdict]:
        """The dial-time verdict of leased leads, for every call the engine places, whoever decided to
        dial it. Fails closed: when the check cannot run, the leads are given back and nothing is dialed."""
        at = self.config.compliance_clock(run.id, now_dt) if self.config.compliance_clock else now_dt
        try:
            return run.compliance.decide(leases, at)
        except Exception:
            release_leads(self.db, [lead.lead_id for lead in leases], holder=self.holder)
            raise

    def record_blocked(
        self, run: CampaignRun, lead: LeasedLead, dial_verdict: DialVerdict, now_dt: datetime
    ) -> uuid.UUID:
        """A lead its verdict does not let us call: the blocked attempt with its reasons and evidence."""
        verdict = dial_verdict.verdict
        attempt_id = attempt_records.record_blocked(
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
        return attempt_id

    def dial_for_agent(self, run: CampaignRun, lead: LeasedLead, agent: AgentStatus) -> AgentDialReply:
        """A call the agent started (preview, manual) to a lead leased to this engine: the same dial-time
        verdict, caller ID and signature as any call, placed on the agent's worker and bridged to them
        when answered. The agent is held (INCALL) from here, so no other call can claim them."""
        now_dt = datetime.now(UTC)
        (dial_verdict,) = self.verdicts(run, [lead], now_dt)
        if not dial_verdict.verdict.callable:
            attempt_id = self.record_blocked(run, lead, dial_verdict, now_dt)
            return AgentDialReply(
                result="blocked", attempt_id=str(attempt_id), reasons=tuple(dial_verdict.verdict.reasons)
            )
        try:
            self.board.hold_for_dial(agent.agent_id)
        except AgentStateError as exc:
            release_leads(self.db, [lead.lead_id], holder=self.holder)
            return AgentDialReply(result="refused", detail=f"you cannot start a call now: {exc}")
        try:
            placed = not self.stopping.is_set() and self._place(
                run, lead, Counter({agent.worker: 1}), dial_verdict, agent_id=agent.agent_id
            )
        except Exception:
            log.exception("placing the call of agent %s to lead %s failed", agent.agent_id, lead.lead_id)
            placed = False
        if not placed:
            release_leads(self.db, [lead.lead_id], holder=self.holder)
            with contextlib.suppress(AgentStateError):
                self.board.release_unbridged(agent.agent_id, "")
            return AgentDialReply(
                result="refused",
                detail="the call could not be placed: no free line or trunk slot right now, or no caller ID "
                "for this number; try again in a moment",
            )
        return AgentDialReply(result="placed", attempt_id=str(placed))

    def _place(
        self,
        run: CampaignRun,
        lead: LeasedLead,
        ready_by_worker: Counter[str],
        dial_verdict: DialVerdict,
        *,
        agent_id: str | None = None,
    ) -> str | Literal[False]:
        """Sign, record and send one call; its attempt id, or False when no worker or trunk slot is free.
        `agent_id`: the agent who started it (held INCALL), to whom the answer is bridged."""
        identity = self.identity.identify(
            org_id=run.org_id,
            lead_e164=lead.e164,
            caller_id_mode=run.caller_id_mode,
            fixed_caller_id=run.caller_id,
            sign=run.profile.stir_shaken,
        )
        if identity is None:
            log.error("campaign %s has no caller ID for lead %s: not dialing", run.id, lead.lead_id)
            return False
        attempt_uuid = uuid.uuid4()
        with log_context(attempt_id=attempt_uuid, lead_id=lead.lead_id):
            return self._place_attempt(
                run, lead, ready_by_worker, dial_verdict, identity, attempt_uuid, agent_id=agent_id
            )

    def _place_attempt(
        self,
        run: CampaignRun,
        lead: LeasedLead,
        ready_by_worker: Counter[str],
        dial_verdict: DialVerdict,
        identity: CallIdentity,
        attempt_uuid: uuid.UUID,
        *,
        agent_id: str | None,
    ) -> str | Literal[False]:
        reserved = str(lead.for_agent) if lead.for_agent is not None else None
        with self.lock:
            now = time.time()
            worker = self.fleet.worker_for_call(ready_by_worker)
            gate = self.trunks[run.profile.name]
            if worker is None or gate.allowance(now) <= 0:
                return False
            slot = None
            if self.limits is not None:
                profile = run.profile
                slot = self.limits.acquire(profile.name, profile.max_cps, profile.max_concurrent_calls)
                if slot is None:
                    return False  # another supervisor took the trunk's last slot of this second
            # An agent's own callback: that agent is taken for it now (the lease saw them READY), so it
            # is bridged to them and no other call takes them while it rings; if they are not READY any
            # more the lead goes back, to wait for them.
            if reserved is not None and not self.board.reserve(
                reserved, str(run.id), attempt_id=str(attempt_uuid)
            ):
                if slot is not None and self.limits is not None:
                    self.limits.release(run.profile.name, slot)
                return False
            gate.placed(now)  # reserve the trunk slot and the worker slot before the database write
            self.fleet.reserve(worker)
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
                attempt_id=attempt_uuid,
            )
        except Exception:
            with self.lock:
                gate.ended(time.time(), trunk_failure=False)
                self.fleet.release(worker)
                if reserved is not None:
                    with contextlib.suppress(AgentStateError):  # logged out meanwhile
                        self.board.release_unbridged(reserved, str(attempt_uuid))
            if slot is not None and self.limits is not None:
                self.limits.release(run.profile.name, slot)
            raise
        # AMD on the audio for the calls the engine dials; an agent who dialed (preview, manual) is bridged
        # at the answer and hears for themselves who answered.
        amd_settings = run.amd_settings if agent_id is None else None
        voicemail_wav = (
            run.voicemail_wav
            if amd_settings is not None and prerecorded_message_allowed(lead.consent)
            else ""
        )
        call = LiveCall(
            attempt_id=str(attempt_id),
            lead_id=lead.lead_id,
            org_id=run.org_id,
            campaign_id=run.id,
            e164=lead.e164,
            trunk=run.profile.name,
            worker=worker,
            placed_at=time.time(),
            agent_id=reserved,
            amd=amd_settings is not None,
            voicemail=bool(voicemail_wav),
        )
        if agent_id is not None:
            call.agent_id, call.agent_chosen = agent_id, True
            self.board.call_placed(agent_id, call.attempt_id)
            self.board.screen_changed(
                agent_id, str(run.id)
            )  # their screen shows the call from its first ring
        with self.lock:
            if slot is not None:
                self.trunk_slots[call.attempt_id] = (run.profile.name, slot)
            self.floor.placed(call)
        self.send(
            worker,
            p.DialLead(
                attempt_id=call.attempt_id,
                to=lead.e164,
                from_number=identity.caller_id,
                trunk=run.profile.name,
                ring_timeout_s=run.profile.effective_ring_timeout(run.profile.ring_timeout_s),
                identity=identity.identity_header,
                extra_headers=self.config.extra_headers(lead) if self.config.extra_headers else {},
                campaign_id=str(run.id),
                lead_id=lead.lead_id,
                record=self.recordings.order_for(run.recording_mode, lead, call.attempt_id)
                if self.recordings is not None
                else None,
                amd_settings=amd_settings,
                voicemail_wav=voicemail_wav,
            ),
        )
        log.info("placed call attempt %s to lead %s on trunk %s", call.attempt_id, lead.lead_id, call.trunk)
        return call.attempt_id
