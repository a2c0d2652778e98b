"""The floor: what happens to a lead call from the moment it is placed until its one outcome is recorded.

Call events from the line workers (ringing, answer, bridge, opt-out, end, a worker's death), the claim of
an agent for each call a person answered, the safe-harbor message when no agent is connected in time,
and the abandon accounting (the campaign's pacing policy, its guard's budget and the live counters).

Plain code, driven by events and a clock passed in (`now`, epoch seconds): no threads, no sleeps, no
I/O of its own. It reaches the agent board, the line workers and the evidence through the small
interfaces of `dialer.engine.ports`; the engine gives it the Redis board, the worker pool and the
database log, and its unit tests the in-memory fakes of `dialer.engine.fakes`. Not thread-safe: the
engine calls it under its lock.

The 2-second rule, as the floor keeps it: an answered call is offered to a READY agent at once and then
at every tick; `agent_wait_s` (1.5 s) after the answer with no agent claimed, or `bridge_wait_s` (1.8 s)
after it with the agent's bridge still unconfirmed, the call gets the safe-harbor message instead (a late
bridge is given up: the message takes the call off the bridge). Whether a call was in the end connected
in time is decided by `outcomes.final_outcome`, from the worker's timestamps.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from campaigns.models import Outcome
from core.legal import MIN_RING_S
from core.logging_json import log_context
from dialer import pacing
from dialer.engine.agents import AgentState, AgentStateError
from dialer.engine.live import LiveStats
from dialer.engine.outcomes import AGENT_DEADLINE_S, final_outcome
from dialer.engine.ports import AgentClaims, AttemptLog, CallAlarm, CallControl, CallEnd
from dialer.sip import protocol as p

log = logging.getLogger(__name__)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(kw_only=True)
class FloorCampaign:
    """What the floor needs of a running campaign (the engine's `CampaignRun` is one)."""

    id: uuid.UUID
    policy: pacing.PacingPolicy
    budget: pacing.AbandonBudget
    safe_harbor_wav: str
    opt_out_key: str
    safe_harbor_sha256: str | None = None  # names the kept copy of the message, on the attempt's evidence
    wrap_up_s: int
    amd_settings: dict[str, int | bool] | None = None  # AMD on the audio with these thresholds; None: off
    voicemail_wav: str = ""  # the message left on a machine (leads whose consent allows it); "": none
    voicemail_sha256: str | None = None
    stats: LiveStats = field(default_factory=LiveStats)
    answer_to_agent_ms: list[float] = field(default_factory=list)


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
    dialed_at: float | None = None  # the INVITE went out (worker's clock): ringing from here
    answered_at: float | None = None
    answered_by_machine: bool = False
    wait_deadline: float = 0.0
    agent_id: str | None = None  # claimed at the answer, or reserved when dialed (an agent's own callback)
    agent_connected_at: float | None = None
    abandon_reported: bool = False
    safe_harbor: bool = False
    opted_out: bool = False
    ended_by: str | None = None  # "agent" (agent API hangup) | "agent_phone" (the agent's phone hung up)
    stop_hangup: bool = False  # hung up because the engine stops
    safe_harbor_error: str | None = None  # the worker refused to play it: the call was hung up
    dtmf: str = ""  # keys the called party pressed (other than the opt-out key)
    # The agent started this call (preview, manual): `agent_id` is held for it from the start and the
    # answer is bridged to them, never to whoever is READY.
    agent_chosen: bool = False
    amd: bool = False  # the worker detects machines on the audio: the answer waits for `AmdDecided`
    voicemail: bool = False  # ...and leaves the campaign's message on a machine (then hangs up itself)
    amd_result: str | None = None
    greeting_ended_at: float | None = None  # the callee's greeting ended (worker's clock), from AMD

    @property
    def connect_from(self) -> float | None:
        """The instant the 2-second rule counts from: the end of the greeting when AMD heard it, else the
        answer (earlier, so stricter)."""
        return self.greeting_ended_at if self.greeting_ended_at is not None else self.answered_at


@dataclass(frozen=True)
class FloorSettings:
    agent_wait_s: float = 1.5  # give up on claiming an agent this long after the answer
    bridge_wait_s: float = 1.8  # give up on a claimed agent's unconfirmed bridge this long after the answer
    safe_harbor_listen_s: float = 2.0
    wrap_timeout_s: float | None = None  # None: each campaign's wrap_up_s


Released = Callable[[LiveCall, p.SipOutcome, float], None]


class Floor:
    def __init__(
        self,
        agents: AgentClaims,
        lines: CallControl,
        attempts: AttemptLog,
        settings: FloorSettings | None = None,
        *,
        campaigns: Mapping[uuid.UUID, FloorCampaign] | None = None,
        released: Released | None = None,
        workers: Collection[str] | None = None,
    ) -> None:
        """`campaigns` are the running campaigns (kept up to date by their owner, the engine);
        `released(call, sip_outcome, now)` is told when a call gives back its trunk and worker slot;
        `workers` (kept up to date by the engine) are the line workers a claimed agent's leg must be on,
        this supervisor's own: an agent whose leg another supervisor holds is never claimed (None: any)."""
        self.workers = workers
        self.agents = agents
        self.lines = lines
        self.attempts = attempts
        self.settings = settings or FloorSettings()
        self.released = released
        self.campaigns: Mapping[uuid.UUID, FloorCampaign] = campaigns if campaigns is not None else {}
        self.calls: dict[str, LiveCall] = {}
        self.waiting: deque[str] = deque()  # answered by a person, not yet connected nor in safe harbor
        self.max_concurrent_calls = 0

    # ------------------------------------------------------------------------------------ calls in

    def placed(self, call: LiveCall) -> None:
        """The dial path placed this call (its attempt row exists, its `DialLead` is being sent)."""
        run = self.campaigns[call.campaign_id]
        self.calls[call.attempt_id] = call
        run.policy.observe(pacing.CallPlaced(call.attempt_id), call.placed_at)
        run.stats.calls_placed += 1
        self.max_concurrent_calls = max(self.max_concurrent_calls, len(self.calls))

    def calls_of(self, campaign_id: uuid.UUID) -> int:
        return sum(1 for c in self.calls.values() if c.campaign_id == campaign_id)

    # ------------------------------------------------------------------------------------ events

    def on_event(self, event: p.Event, now: float) -> None:
        """One line-worker event about a lead call (other events are ignored)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event, now)

    def tick(self, now: float) -> None:
        """Offer waiting calls to agents again; safe harbor for those whose time ran out."""
        still: deque[str] = deque()
        while self.waiting:
            attempt_id = self.waiting.popleft()
            call = self.calls.get(attempt_id)
            if call is None or call.safe_harbor or call.agent_connected_at is not None:
                continue
            with call_log_context(call):
                self._tick_waiting(call, now, still)
        self.waiting = still

    def _tick_waiting(self, call: LiveCall, now: float, still: deque[str]) -> None:
        start = call.connect_from
        assert start is not None
        if call.agent_id is not None:  # bridge sent, not confirmed yet
            if now >= start + self.settings.bridge_wait_s:
                log.warning(
                    "bridge of %s to agent %s not confirmed %.2f s after the answer: safe harbor",
                    call.attempt_id,
                    call.agent_id,
                    now - start,
                )
                # The worker frees the agent (AgentFree) or reports the bridge failed: not ours now.
                call.agent_id = None
                self._safe_harbor(call, now)
            else:
                still.append(call.attempt_id)
            return
        if self._connect(call) or now < call.wait_deadline:
            still.append(call.attempt_id)
        else:
            self._safe_harbor(call, now)

    def hang_up_for_stop(self, now: float) -> list[str]:
        """The engine stops: hang up every answered call, and every ringing call that has rung for the
        legal minimum (`MIN_RING_S`) since its INVITE went out; a call rings on until then (or its own ring
        timeout ends it), one whose INVITE is not out yet waits for it. Returns the calls hung up now."""
        due = [
            c
            for c in self.calls.values()
            if not c.stop_hangup
            and (c.answered_at is not None or (c.dialed_at is not None and now - c.dialed_at >= MIN_RING_S))
        ]
        for call in due:
            call.stop_hangup = True
            self.lines.hangup(call.attempt_id)
        return [c.attempt_id for c in due]

    def worker_lost(self, worker_id: str, attempt_ids: list[str], at: float) -> None:
        """A line worker died: its calls are over (answered ones keep their answer, others are `failed`,
        which does not burn the lead)."""
        lost = set(attempt_ids) | {c.attempt_id for c in self.calls.values() if c.worker == worker_id}
        for attempt_id in sorted(lost):
            call = self.calls.get(attempt_id)
            if call is not None:
                self.finish(call, p.SipOutcome.WORKER_LOST, 0, at, reason=f"line worker {worker_id} died")

    def agent_hangs_up(self, agent_id: str, attempt_id: str) -> bool:
        """The agent ends the customer's call (agent API): hang it up, the agent's leg stays up (AgentFree,
        then WRAP). False when the agent is not on that call."""
        call = self.calls.get(attempt_id)
        if call is None or call.agent_id != agent_id or call.ended_by is not None:
            return False
        call.ended_by = "agent"
        self.lines.hangup(call.attempt_id)
        return True

    def agent_phone_lost(self, attempt_id: str, now: float) -> None:
        """The phone of the agent on this call hung up: no one is left to talk to the customer."""
        call = self.calls.get(attempt_id)
        if call is not None:
            self._agent_lost_mid_call(call, now)

    def finish(
        self, call: LiveCall, sip_outcome: p.SipOutcome, sip_status: int, at: float, reason: str = ""
    ) -> None:
        """The call is over: its one outcome, the accounting, the agent's wrap-up, the evidence."""
        if self.calls.pop(call.attempt_id, None) is None:
            return
        run = self.campaigns.get(call.campaign_id)
        outcome = final_outcome(
            sip_outcome,
            answered_at=call.answered_at,
            answered_by_machine=call.answered_by_machine,
            agent_connected_at=call.agent_connected_at,
            greeting_ended_at=call.greeting_ended_at,
        )
        log.info(
            "call attempt %s of lead %s ended: %s (SIP %s)",
            call.attempt_id,
            call.lead_id,
            outcome,
            sip_status or "none",
            extra=call_log_fields(call),
        )
        if self.released is not None:
            self.released(call, sip_outcome, at)
        if run is not None:
            self._observe_outcome(run, call, outcome, at)
        if call.agent_id is not None:
            if call.agent_connected_at is not None:
                self._to_wrap(call.agent_id, call.attempt_id, call.campaign_id, at)
            else:
                self._release_claim(call.agent_id, call.attempt_id)
        self.attempts.ended(
            CallEnd(
                attempt_id=call.attempt_id,
                org_id=call.org_id,
                campaign_id=call.campaign_id,
                trunk=call.trunk,
                outcome=outcome,
                ended_at=_dt(at),
                sip_status=sip_status or None,
                sip_outcome=sip_outcome,
                reason=reason,
                ended_by=call.ended_by,
            )
        )

    # ------------------------------------------------------------------------------------ handlers

    def _on_dialing(self, event: p.Dialing, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is not None:
            call.dialed_at = event.at
            self.attempts.progress(event.attempt_id, sip_call_id=event.sip_call_id)

    def _on_ringing(self, event: p.Ringing, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        self.campaigns[call.campaign_id].policy.observe(pacing.CallRinging(call.attempt_id), event.at)
        self.attempts.progress(call.attempt_id, ringing_at=_dt(event.at))

    def _on_answered(self, event: p.Answered, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or call.answered_at is not None:
            return
        run = self.campaigns[call.campaign_id]
        call.answered_at = event.at
        self.attempts.progress(call.attempt_id, answered_at=_dt(event.at))
        if call.amd:
            return  # person or machine: `AmdDecided` says, from the callee's audio
        if event.answered_by is p.AnsweredBy.MACHINE:
            self._machine(run, call, event.at)
            return
        self._person(run, call, event.at)

    def _person(self, run: FloorCampaign, call: LiveCall, at: float) -> None:
        """A person answered (or AMD is not sure: a person may be there): an agent at once."""
        run.policy.observe(pacing.CallAnsweredHuman(call.attempt_id), at)
        run.stats.answered += 1
        start = call.connect_from
        assert start is not None
        call.wait_deadline = start + self.settings.agent_wait_s
        self._connect(call)
        self.waiting.append(call.attempt_id)  # until the bridge is confirmed (or safe harbor)

    def _machine(self, run: FloorCampaign, call: LiveCall, at: float) -> None:
        call.answered_by_machine = True
        run.policy.observe(pacing.CallAnsweredMachine(call.attempt_id), at)
        if not call.voicemail:  # otherwise the worker leaves the message, then hangs up
            self.lines.hangup(call.attempt_id)

    def _on_amd_decided(self, event: p.AmdDecided, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or not call.amd or call.amd_result is not None or call.answered_at is None:
            return
        run = self.campaigns[call.campaign_id]
        call.amd_result = event.result
        # Never later than the decision, never before the answer: the 2 s count from the greeting's end
        call.greeting_ended_at = min(max(event.greeting_ended_at, call.answered_at), event.at)
        self.attempts.progress(
            call.attempt_id,
            amd_result=event.result,
            amd_cause=event.cause,
            amd_decided_ms=event.decided_at_ms,
            amd_greeting_ended_at=_dt(call.greeting_ended_at),
        )
        if event.result == "machine":
            self._machine(run, call, event.at)
        else:
            self._person(run, call, event.at)

    def _on_voicemail_left(self, event: p.VoicemailLeft, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or not call.voicemail:
            return
        run = self.campaigns[call.campaign_id]
        self.attempts.progress(
            call.attempt_id, voicemail_sha256=run.voicemail_sha256, voicemail_left_at=_dt(event.at)
        )

    def _on_bridged(self, event: p.Bridged, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or call.agent_connected_at is not None:
            return
        if call.safe_harbor or call.agent_id != event.agent_id:
            # Given up on (the message takes the call off the bridge, the worker frees the agent), or
            # not the agent this call was claimed for: not a connection.
            log.warning("late bridge of %s to agent %s ignored", event.attempt_id, event.agent_id)
            return
        run = self.campaigns[call.campaign_id]
        call.agent_connected_at = event.at
        run.policy.observe(pacing.CallConnected(call.attempt_id, event.agent_id), event.at)
        if call.connect_from is not None:
            delay = event.at - call.connect_from
            run.answer_to_agent_ms.append(delay * 1000)
            if delay <= AGENT_DEADLINE_S:
                run.stats.connected += 1
            else:
                self._count_abandoned(run, call, event.at)
        self.attempts.progress(
            call.attempt_id, agent_connected_at=_dt(event.at), agent_id=uuid.UUID(event.agent_id)
        )
        agent = self.agents.status(event.agent_id)
        if agent is not None and agent.session_id:
            self.attempts.session_call(agent.session_id)

    def _on_bridge_failed(self, event: p.BridgeFailed, now: float) -> None:
        log.warning("bridge of %s to agent %s failed: %s", event.attempt_id, event.agent_id, event.reason)
        call = self.calls.get(event.attempt_id)
        if call is not None and call.agent_id == event.agent_id and call.agent_connected_at is not None:
            self._agent_lost_mid_call(call, now)
            return
        self._release_claim(event.agent_id, event.attempt_id)
        if call is None or call.agent_id != event.agent_id:
            return
        call.agent_id = None
        if call.agent_connected_at is None and not call.safe_harbor:
            self.waiting.appendleft(call.attempt_id)

    def _on_agent_free(self, event: p.AgentFree, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        status = self.agents.status(event.agent_id) if call is None else None
        campaign_id = (
            call.campaign_id
            if call
            else (uuid.UUID(status.campaign_id) if status and status.campaign_id else None)
        )
        self._to_wrap(event.agent_id, event.attempt_id, campaign_id, event.at)

    def _on_opt_out(self, event: p.OptOut, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None or call.opted_out or not call.safe_harbor:
            return
        call.opted_out = True
        self.attempts.opted_out(
            call.org_id,
            call.e164,
            f"pressed {event.digit} during the safe-harbor message of call attempt {call.attempt_id}",
        )
        self.lines.hangup(call.attempt_id)

    def _on_ended(self, event: p.Ended, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is None:
            return
        if event.sip_call_id:
            self.attempts.progress(call.attempt_id, sip_call_id=event.sip_call_id)
        self.finish(call, event.outcome, event.sip_status, event.at, reason=event.reason)

    def _on_command_rejected(self, event: p.CommandRejected, now: float) -> None:
        call = self.calls.get(event.key)
        if call is None:
            return
        if event.command == "DialLead":
            self.finish(call, p.SipOutcome.TRUNK_FAILURE, 0, event.at, reason=event.reason)
        elif event.command == "PlaySafeHarbor" and call.safe_harbor_error is None:
            self._safe_harbor_refused(call, event.reason, event.at)

    def _safe_harbor_refused(self, call: LiveCall, reason: str, at: float) -> None:
        """No message can be played (bad WAV, call not up): never leave the person on a silent line. Hang
        up, record why on the attempt, raise an alarm for the campaign."""
        log.error("safe harbor of %s refused: %s; hanging up", call.attempt_id, reason)
        call.safe_harbor_error = reason
        self.lines.hangup(call.attempt_id)
        self.attempts.progress(call.attempt_id, safe_harbor_error=reason)
        self.attempts.safe_harbor_failed(
            CallAlarm(
                attempt_id=call.attempt_id,
                org_id=call.org_id,
                campaign_id=call.campaign_id,
                trunk=call.trunk,
                at=_dt(at),
                reason=f"safe-harbor message not played, call hung up: {reason}",
            )
        )

    def _on_safe_harbor_played(self, event: p.SafeHarborPlayed, now: float) -> None:
        if event.attempt_id in self.calls:
            self.attempts.progress(event.attempt_id, safe_harbor_played_at=_dt(event.at))

    def _on_dtmf(self, event: p.DtmfReceived, now: float) -> None:
        call = self.calls.get(event.attempt_id)
        if call is not None and len(call.dtmf) < 32:
            call.dtmf += event.digit[:1]
            self.attempts.progress(call.attempt_id, dtmf_digits=call.dtmf)

    def _on_worker_died(self, event: p.WorkerDied, now: float) -> None:
        self.worker_lost(event.worker_id, event.attempt_ids, event.at)
        # Its agents' legs died with it: a customer talking to one of them on another worker is hung up
        # (never dead air), and a call reserved for one of them is no longer theirs. Either way the call
        # lets go of the agent, who is called again and may be READY before the call's end is reported.
        lost_agents = set(event.agent_ids)
        for call in list(self.calls.values()):
            if call.agent_id not in lost_agents:
                continue
            if call.agent_connected_at is not None:
                self._agent_lost_mid_call(call, now)
            elif call.answered_at is None:
                call.agent_id = None

    # ------------------------------------------------------------------------------------ internals

    def _connect(self, call: LiveCall) -> bool:
        if call.agent_id is not None:
            # The call is that agent's: they started it (preview, manual) or it is their own callback,
            # reserved when it was dialed.
            try:
                self.lines.bridge(call.attempt_id, call.agent_id)
                return True
            except KeyError:
                log.warning(
                    "agent %s of %s has no leg in this pool; releasing", call.agent_id, call.attempt_id
                )
                self._release_claim(call.agent_id, call.attempt_id)
                chosen = call.agent_chosen
                call.agent_id, call.agent_chosen = None, False
                if chosen:
                    return False  # the agent who dialed is gone: any READY agent, at the next pass
                # a callback whose agent is gone: any READY agent now
        claimed = self.agents.claim(
            str(call.campaign_id), attempt_id=call.attempt_id, prefer_worker=call.worker, workers=self.workers
        )
        if claimed is None:
            return False
        call.agent_id = claimed.agent_id
        try:
            self.lines.bridge(call.attempt_id, claimed.agent_id)
        except KeyError:
            log.warning("agent %s has no leg in this pool; releasing the claim", claimed.agent_id)
            self._release_claim(claimed.agent_id, call.attempt_id)
            call.agent_id = None
            return False
        return True

    def _to_wrap(self, agent_id: str, attempt_id: str, campaign_id: uuid.UUID | None, at: float) -> None:
        """The agent's call is over: INCALL -> WRAP on the board, and the campaign's pacing policy told at
        once. The policy also hears it from the board's event stream, but only at the next feed (every
        100 ms, later under load); until then it would see an agent on a call with no call in flight, and
        a ratio or predictive policy would dial the next lead for an agent in wrap-up."""
        moved = self.agents.call_ended(
            agent_id, attempt_id, wrap_s=self._wrap_s(campaign_id), at_ms=int(at * 1000)
        )
        run = self.campaigns.get(campaign_id) if moved and campaign_id is not None else None
        if run is not None:
            run.policy.observe(pacing.AgentWrap(agent_id), at)

    def _release_claim(self, agent_id: str, attempt_id: str) -> None:
        """A claim that never became a connection: the agent is READY again, if still held for this call."""
        status = self.agents.status(agent_id)
        if status is None or status.state is not AgentState.INCALL or status.attempt_id != attempt_id:
            return  # logged out, or already on with another call: not ours to release
        with contextlib.suppress(AgentStateError):  # changed in between (logged out by the API)
            self.agents.release_unbridged(agent_id, attempt_id)

    def _agent_lost_mid_call(self, call: LiveCall, now: float) -> None:
        """The agent's phone hung up while the customer was talking to it: end the customer's call too (never
        dead air, never the abandon message to someone who reached an agent), and record why."""
        if call.ended_by is None:
            call.ended_by = "agent_phone"
            self.lines.hangup(call.attempt_id)
        if call.agent_id is not None:  # not READY: its leg is gone (AgentLegDown logs it out)
            self._to_wrap(call.agent_id, call.attempt_id, call.campaign_id, now)
            # The call lets go of the agent now: called again, they may be READY (and claimed by another
            # call) before this call's end is reported.
            call.agent_id = None

    def _safe_harbor(self, call: LiveCall, now: float) -> None:
        """No agent in time: the safe-harbor message with the opt-out key, then hang up."""
        run = self.campaigns[call.campaign_id]
        call.safe_harbor = True
        self._count_abandoned(run, call, now)
        self.attempts.progress(
            call.attempt_id, safe_harbor_at=_dt(now), safe_harbor_sha256=run.safe_harbor_sha256
        )
        self.lines.play_safe_harbor(
            p.PlaySafeHarbor(
                attempt_id=call.attempt_id,
                wav_path=run.safe_harbor_wav,
                opt_out_key=run.opt_out_key,
                listen_after_s=self.settings.safe_harbor_listen_s,
            )
        )

    def _count_abandoned(self, run: FloorCampaign, call: LiveCall, at: float) -> None:
        if call.abandon_reported:
            return
        call.abandon_reported = True
        run.policy.observe(pacing.CallAbandoned(call.attempt_id), at)
        run.stats.abandoned += 1

    def _observe_outcome(self, run: FloorCampaign, call: LiveCall, outcome: Outcome, at: float) -> None:
        policy, stats = run.policy, run.stats
        if outcome is Outcome.ABANDONED:
            self._count_abandoned(run, call, at)
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

    def _wrap_s(self, campaign_id: uuid.UUID | None) -> float:
        if self.settings.wrap_timeout_s is not None:
            return self.settings.wrap_timeout_s
        run = self.campaigns.get(campaign_id) if campaign_id else None
        return float(run.wrap_up_s) if run is not None else 30.0


_HANDLERS: dict[type, Callable[[Floor, object, float], None]] = {
    p.Dialing: Floor._on_dialing,  # type: ignore[dict-item]
    p.Ringing: Floor._on_ringing,  # type: ignore[dict-item]
    p.Answered: Floor._on_answered,  # type: ignore[dict-item]
    p.Bridged: Floor._on_bridged,  # type: ignore[dict-item]
    p.BridgeFailed: Floor._on_bridge_failed,  # type: ignore[dict-item]
    p.AgentFree: Floor._on_agent_free,  # type: ignore[dict-item]
    p.OptOut: Floor._on_opt_out,  # type: ignore[dict-item]
    p.Ended: Floor._on_ended,  # type: ignore[dict-item]
    p.CommandRejected: Floor._on_command_rejected,  # type: ignore[dict-item]
    p.WorkerDied: Floor._on_worker_died,  # type: ignore[dict-item]
    p.SafeHarborPlayed: Floor._on_safe_harbor_played,  # type: ignore[dict-item]
    p.DtmfReceived: Floor._on_dtmf,  # type: ignore[dict-item]
    p.AmdDecided: Floor._on_amd_decided,  # type: ignore[dict-item]
    p.VoicemailLeft: Floor._on_voicemail_left,  # type: ignore[dict-item]
}


def call_log_fields(call: LiveCall) -> dict[str, object]:
    """The ids a log line about this call carries (JSON logs); never the number dialed."""
    return {
        "attempt_id": call.attempt_id,
        "campaign_id": str(call.campaign_id),
        "org_id": str(call.org_id),
        "lead_id": call.lead_id,
    }


def call_log_context(call: LiveCall) -> contextlib.AbstractContextManager[None]:
    return log_context(**call_log_fields(call))
