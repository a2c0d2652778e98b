"""The floor under thousands of random event sequences (hypothesis stateful testing), without SIP.

The state machine plays the line workers (answers by people and machines, bridges on time, late or
failed, hang-ups, refused commands, workers dying), the agents (pauses, logouts during calls, phones
hanging up, dispositions) and the clock, against the floor with the in-memory fakes of
`dialer.engine.fakes`. After every step it checks the floor's promises:

- every call a person answered is connected to an agent within 2 s, or its safe-harbor message was
  asked for by then (and when a worker refuses to play it, the call is hung up);
- every attempt ends with exactly one outcome (at the end every placed call has one);
- no agent is on two calls;
- a lead is never leased twice (one live call per leased lead, released when its outcome is recorded);
- the abandon accounting (live counters and the guard's budget) equals a recount from the outcomes.

`CLEARLINE_FLOOR_EXAMPLES` sets the number of sequences (default 150, of up to 50 steps each; 5000 for a thorough run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from campaigns.models import Campaign, Outcome
from dialer import pacing
from dialer.campaign_settings import build_policy
from dialer.engine.agents import AgentState
from dialer.engine.fakes import FakeAgentBoard, MemoryAttemptLog, StubLines
from dialer.engine.floor import Floor, FloorCampaign, FloorSettings, LiveCall
from dialer.engine.outcomes import AGENT_DEADLINE_S
from dialer.sip import protocol as p

ORG = uuid.uuid4()
T0 = 1_800_000_000.0
LEADS = 12
MISHAPS = 3
MAX_STEP_S = 0.1  # the engine's event loop ticks every 20 ms; 100 ms is a badly loaded machine


@dataclass
class WorkerCall:
    """What the simulated line worker knows of one lead call."""

    attempt_id: str
    worker: str
    answered_at: float | None = None
    human: bool = False
    bridge: tuple[str, float] | None = None  # agent, when the Bridge command arrived
    bridged_agent: str | None = None
    hangup_asked: bool = False
    safe_harbor_asked_at: float | None = None
    safe_harbor_started_at: float | None = None
    safe_harbor_refused: bool = False


@dataclass
class Model:
    workers: list[str] = field(default_factory=lambda: ["w-1", "w-2"])
    next_worker: int = 3
    calls: dict[str, WorkerCall] = field(default_factory=dict)
    held_leads: dict[int, str] = field(default_factory=dict)  # lead -> attempt holding its lease
    lead_of: dict[str, int] = field(default_factory=dict)
    placed: list[str] = field(default_factory=list)
    abandon_seen: set[str] = field(default_factory=set)


def _campaign(policy_name: str) -> Campaign:
    return Campaign(
        pacing_policy=policy_name,
        pacing_settings={},
        abandon_target=0.03,
        max_lines=None,
        max_cps=None,
    )


class FloorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.board = FakeAgentBoard(clock=lambda: self.now)
        self.agent_cursor = "0"
        self.lines = StubLines()
        self.log = MemoryAttemptLog()
        self.campaign_id = uuid.uuid4()
        self.runs: dict[uuid.UUID, FloorCampaign] = {}
        self.floor = Floor(
            self.board, self.lines, self.log, FloorSettings(wrap_timeout_s=None), campaigns=self.runs
        )
        self.model = Model()
        self.agents: list[str] = []
        self.mishaps = 0  # worker deaths, logouts, lost phones: a few per sequence, or nobody is left

    # ------------------------------------------------------------------------------------ setup

    @initialize(
        policy_name=st.sampled_from(["predictive", "ratio", "progressive", "vicidial-adaptive"]),
        agents=st.integers(min_value=1, max_value=3),
    )
    def setup(self, policy_name: str, agents: int) -> None:
        budget = pacing.AbandonBudget()
        self.runs[self.campaign_id] = FloorCampaign(
            id=self.campaign_id,
            policy=build_policy(_campaign(policy_name), budget, 20.0),
            budget=budget,
            safe_harbor_wav="/media/safe-harbor.wav",
            opt_out_key="9",
            wrap_up_s=5,
        )
        for i in range(agents):
            agent_id = str(uuid.UUID(int=i + 1))
            self.agents.append(agent_id)
            self.board.log_in(agent_id, org_id=str(ORG), campaign_id=str(self.campaign_id))
            self._leg_up(agent_id, self.model.workers[i % len(self.model.workers)])

    def _leg_up(self, agent_id: str, worker: str) -> None:
        self.board.leg_up(agent_id, worker=worker, leg_id=agent_id)
        self.lines.legs[agent_id] = worker
        self._after()

    def _ms(self) -> int:
        return int(self.now * 1000)

    def _feed_agent_events(self) -> None:
        """What the engine feeds the pacing policy from the board's event stream."""
        kinds = {
            AgentState.READY: pacing.AgentReady,
            AgentState.INCALL: pacing.AgentBusy,
            AgentState.WRAP: pacing.AgentWrap,
            AgentState.PAUSED: pacing.AgentPaused,
        }
        policy = self.runs[self.campaign_id].policy
        for event in self.board.events_since(str(self.campaign_id), self.agent_cursor):
            self.agent_cursor = event.stream_id
            kind = kinds.get(AgentState(event.new_state), pacing.AgentLoggedOut)
            policy.observe(kind(event.agent_id), event.at_ms / 1000)

    # ------------------------------------------------------------------------------------ the worker

    def _event(self, event: p.Event) -> None:
        self.floor.on_event(event, self.now)
        self._after()

    def _after(self) -> None:
        """Apply the commands the floor sent to the simulated workers, feed the agents' state changes to
        pacing, note abandons as they are counted."""
        while commands := self.lines.take():
            for command in commands:
                self._apply(command)
        self._feed_agent_events()
        for attempt_id, live in self.floor.calls.items():
            if live.abandon_reported:
                self.model.abandon_seen.add(attempt_id)

    def _apply(self, command: p.Command) -> None:
        call = self.model.calls.get(getattr(command, "attempt_id", ""))
        if call is None:
            return
        if isinstance(command, p.Bridge):
            busy = [c for c in self.model.calls.values() if c.bridged_agent == command.agent_id]
            assert not busy, f"agent {command.agent_id} bridged to a second call while on {busy[0]}"
            assert call.bridge is None and call.bridged_agent is None, "a second bridge for one call"
            call.bridge = (command.agent_id, self.now)
        elif isinstance(command, p.Hangup):
            call.hangup_asked = True
        elif isinstance(command, p.PlaySafeHarbor):
            assert call.safe_harbor_asked_at is None, "safe harbor asked twice"
            assert call.answered_at is not None and call.human
            call.safe_harbor_asked_at = self.now
            if call.bridged_agent is not None or call.bridge is not None:
                agent_id = call.bridged_agent or (call.bridge[0] if call.bridge else "")
                call.bridged_agent, call.bridge = None, None
                # The message takes the call off the bridge: the worker frees the agent.
                self.floor.on_event(
                    p.AgentFree(
                        worker_id=call.worker, at=self.now, agent_id=agent_id, attempt_id=call.attempt_id
                    ),
                    self.now,
                )

    def _end(self, call: WorkerCall, outcome: p.SipOutcome, status: int) -> None:
        if call.bridged_agent is not None:
            self.floor.on_event(
                p.AgentFree(
                    worker_id=call.worker,
                    at=self.now,
                    agent_id=call.bridged_agent,
                    attempt_id=call.attempt_id,
                ),
                self.now,
            )
        del self.model.calls[call.attempt_id]
        self.lines.calls.pop(call.attempt_id, None)
        self._event(
            p.Ended(
                worker_id=call.worker,
                at=self.now,
                attempt_id=call.attempt_id,
                sip_status=status,
                outcome=outcome,
                reason="test",
                answered=call.answered_at is not None,
            )
        )

    def _any(self, where: Callable[[WorkerCall], bool]) -> bool:
        return any(where(c) for c in self.model.calls.values())

    def _agents_in(self, state: AgentState) -> bool:
        return any(s.state is state for s in self.board.agents.values())

    def _calls(self, where: Callable[[WorkerCall], bool]) -> list[WorkerCall]:
        return sorted(
            (c for c in self.model.calls.values() if where(c)),
            key=lambda c: c.attempt_id,
        )

    # ------------------------------------------------------------------------------------ rules: calls

    @precondition(lambda self: len(self.model.calls) < 8 and len(self.model.held_leads) < LEADS)
    @rule(reserve=st.booleans())
    def dial(self, reserve: bool) -> None:
        """A call; with `reserve`, an agent's own callback: its READY agent taken for it before the dial."""
        free = [lead for lead in range(LEADS) if lead not in self.model.held_leads]
        if not free or len(self.model.calls) >= 8 or not self.model.workers:
            return
        lead = free[0]
        attempt_id = str(uuid.UUID(int=10_000 + len(self.model.placed)))  # stable: steps replay alike
        worker = self.model.workers[len(self.model.placed) % len(self.model.workers)]
        reserved = None
        if reserve:
            ready = [a for a in self.agents if (s := self.board.status(a)) and s.state is AgentState.READY]
            if ready and self.board.reserve(ready[0], str(self.campaign_id), attempt_id=attempt_id):
                reserved = ready[0]
        self.model.held_leads[lead] = attempt_id
        self.model.lead_of[attempt_id] = lead
        self.model.placed.append(attempt_id)
        self.model.calls[attempt_id] = WorkerCall(attempt_id=attempt_id, worker=worker)
        self.lines.calls[attempt_id] = worker
        self.floor.placed(
            LiveCall(
                attempt_id=attempt_id,
                lead_id=lead,
                org_id=ORG,
                campaign_id=self.campaign_id,
                e164=f"+1202555{lead:04d}",
                trunk="t",
                worker=worker,
                placed_at=self.now,
                agent_id=reserved,
            )
        )
        self._event(p.Dialing(worker_id=worker, at=self.now, attempt_id=attempt_id, sip_call_id=attempt_id))

    @precondition(lambda self: self._any(lambda c: c.answered_at is None and not c.hangup_asked))
    @rule(data=st.data(), human=st.booleans())
    def answer(self, data: st.DataObject, human: bool) -> None:
        ringing = self._calls(lambda c: c.answered_at is None and not c.hangup_asked)
        if not ringing:
            return
        call = data.draw(st.sampled_from(ringing))
        self._event(p.Ringing(worker_id=call.worker, at=self.now, attempt_id=call.attempt_id, sip_status=180))
        call.answered_at, call.human = self.now, human
        by = p.AnsweredBy.HUMAN if human else p.AnsweredBy.MACHINE
        self._event(
            p.Answered(worker_id=call.worker, at=self.now, attempt_id=call.attempt_id, answered_by=by)
        )

    @precondition(lambda self: self._any(lambda c: c.bridge is not None))
    @rule(data=st.data(), lag=st.floats(min_value=0.0, max_value=0.3))
    def bridge_completes(self, data: st.DataObject, lag: float) -> None:
        """The worker bridged (the event may arrive late, or the bridge itself be late)."""
        pending = self._calls(lambda c: c.bridge is not None)
        if not pending:
            return
        call = data.draw(st.sampled_from(pending))
        assert call.bridge is not None
        agent_id, sent_at = call.bridge
        call.bridge, call.bridged_agent = None, agent_id
        at = max(sent_at, self.now - lag)
        self._event(p.Bridged(worker_id=call.worker, at=at, attempt_id=call.attempt_id, agent_id=agent_id))

    @precondition(lambda self: self._any(lambda c: c.bridge is not None))
    @rule(data=st.data())
    def bridge_fails(self, data: st.DataObject) -> None:
        pending = self._calls(lambda c: c.bridge is not None)
        if not pending:
            return
        call = data.draw(st.sampled_from(pending))
        assert call.bridge is not None
        agent_id = call.bridge[0]
        call.bridge = None
        self._event(
            p.BridgeFailed(
                worker_id=call.worker,
                at=self.now,
                attempt_id=call.attempt_id,
                agent_id=agent_id,
                reason="test",
            )
        )

    @precondition(lambda self: bool(self.model.calls))
    @rule(data=st.data())
    def customer_hangs_up(self, data: st.DataObject) -> None:
        calls = self._calls(lambda c: True)
        if not calls:
            return
        call = data.draw(st.sampled_from(calls))
        if call.answered_at is None:
            outcome = data.draw(
                st.sampled_from([p.SipOutcome.NO_ANSWER, p.SipOutcome.BUSY, p.SipOutcome.INVALID])
            )
            self._end(call, outcome, {"no_answer": 487, "busy": 486, "invalid": 404}[outcome.value])
        else:
            self._end(call, p.SipOutcome.ANSWERED, 200)

    @precondition(lambda self: self._any(lambda c: c.hangup_asked))
    @rule(data=st.data())
    def worker_hangs_up_as_asked(self, data: st.DataObject) -> None:
        asked = self._calls(lambda c: c.hangup_asked)
        if asked:
            call = data.draw(st.sampled_from(asked))
            cancelled = call.answered_at is None
            self._end(
                call,
                p.SipOutcome.CANCELLED if cancelled else p.SipOutcome.ANSWERED,
                487 if cancelled else 200,
            )

    @precondition(lambda self: self._any(lambda c: c.answered_at is None))
    @rule(data=st.data())
    def worker_refuses_the_dial(self, data: st.DataObject) -> None:
        fresh = self._calls(lambda c: c.answered_at is None)
        if fresh:
            call = data.draw(st.sampled_from(fresh))
            del self.model.calls[call.attempt_id]
            self.lines.calls.pop(call.attempt_id, None)
            self._event(
                p.CommandRejected(
                    worker_id=call.worker, at=self.now, command="DialLead", key=call.attempt_id, reason="test"
                )
            )

    @precondition(
        lambda self: self._any(
            lambda c: c.safe_harbor_asked_at is not None and c.safe_harbor_started_at is None
        )
    )
    @rule(data=st.data())
    def safe_harbor_starts(self, data: st.DataObject) -> None:
        asked = self._calls(lambda c: c.safe_harbor_asked_at is not None and c.safe_harbor_started_at is None)
        if asked:
            call = data.draw(st.sampled_from(asked))
            call.safe_harbor_started_at = self.now

    @precondition(
        lambda self: self._any(
            lambda c: c.safe_harbor_asked_at is not None and c.safe_harbor_started_at is None
        )
    )
    @rule(data=st.data())
    def worker_refuses_safe_harbor(self, data: st.DataObject) -> None:
        asked = self._calls(
            lambda c: (
                c.safe_harbor_asked_at is not None
                and c.safe_harbor_started_at is None
                and not c.safe_harbor_refused
            )
        )
        if asked:
            call = data.draw(st.sampled_from(asked))
            call.safe_harbor_refused = True
            self._event(
                p.CommandRejected(
                    worker_id=call.worker,
                    at=self.now,
                    command="PlaySafeHarbor",
                    key=call.attempt_id,
                    reason="bad WAV",
                )
            )

    @precondition(lambda self: self._any(lambda c: c.safe_harbor_started_at is not None))
    @rule(data=st.data(), opt_out=st.booleans())
    def safe_harbor_ends(self, data: st.DataObject, opt_out: bool) -> None:
        playing = self._calls(lambda c: c.safe_harbor_started_at is not None)
        if not playing:
            return
        call = data.draw(st.sampled_from(playing))
        if opt_out:
            self._event(p.OptOut(worker_id=call.worker, at=self.now, attempt_id=call.attempt_id, digit="9"))
        else:
            self._end(call, p.SipOutcome.ANSWERED, 200)

    @precondition(lambda self: self.mishaps < MISHAPS)
    @rule()
    def worker_dies(self) -> None:
        self.mishaps += 1
        worker = self.model.workers.pop(0)
        self.model.workers.append(f"w-{self.model.next_worker}")
        self.model.next_worker += 1
        lost = self._calls(lambda c: c.worker == worker)
        for call in lost:
            del self.model.calls[call.attempt_id]
            self.lines.calls.pop(call.attempt_id, None)
        agents = sorted(a for a, w in self.lines.legs.items() if w == worker)
        for call in self.model.calls.values():  # cross-worker bridges to its agents break
            if call.bridged_agent in agents:
                call.bridged_agent = None
            if call.bridge is not None and call.bridge[0] in agents:
                agent_id, call.bridge = call.bridge[0], None
                self.floor.on_event(
                    p.BridgeFailed(
                        worker_id=call.worker,
                        at=self.now,
                        attempt_id=call.attempt_id,
                        agent_id=agent_id,
                        reason="died",
                    ),
                    self.now,
                )
        self._event(
            p.WorkerDied(
                worker_id=worker,
                at=self.now,
                exit_code=-9,
                attempt_ids=[c.attempt_id for c in lost],
                agent_ids=agents,
            )
        )
        for agent_id in agents:  # what the engine's agent legs do: call the phone again
            del self.lines.legs[agent_id]
            status = self.board.status(agent_id)
            if status is not None and status.state is not AgentState.LOGGED_OUT:
                self.board.reconnect(agent_id)
        self._after()

    # ------------------------------------------------------------------------------------ rules: agents

    @precondition(lambda self: self._agents_in(AgentState.CONNECTING))
    @rule(data=st.data())
    def agent_phone_answers_again(self, data: st.DataObject) -> None:
        connecting = [
            a for a in self.agents if (s := self.board.status(a)) and s.state is AgentState.CONNECTING
        ]
        if connecting and self.model.workers:
            self._leg_up(
                data.draw(st.sampled_from(connecting)), data.draw(st.sampled_from(self.model.workers))
            )

    @rule(data=st.data())
    def agent_pauses_or_resumes(self, data: st.DataObject) -> None:
        agent_id = data.draw(st.sampled_from(self.agents))
        status = self.board.status(agent_id)
        if status is None:
            return
        if status.state is AgentState.PAUSED:
            self.board.resume(agent_id)
        elif status.state in (AgentState.READY, AgentState.INCALL, AgentState.WRAP):
            self.board.pause(agent_id, code="BREAK")
        self._after()

    @precondition(lambda self: self.mishaps < MISHAPS)
    @rule(data=st.data())
    def agent_logs_out(self, data: st.DataObject) -> None:
        """From the API: at once when not on a call, else when the call and its wrap-up end."""
        self.mishaps += 1
        agent_id = data.draw(st.sampled_from(self.agents))
        status = self.board.status(agent_id)
        if status is None or status.state is AgentState.LOGGED_OUT:
            return
        if status.state in (AgentState.INCALL, AgentState.WRAP):
            self.board.request_logout(agent_id)
        else:
            self.board.logout(agent_id)
            self.lines.legs.pop(agent_id, None)
        self._after()

    @precondition(lambda self: self.mishaps < MISHAPS)
    @rule(data=st.data())
    def agent_phone_hangs_up(self, data: st.DataObject) -> None:
        """What the engine's agent legs do when a phone's leg drops: hang up its customer, log it out."""
        self.mishaps += 1
        agent_id = data.draw(st.sampled_from(self.agents))
        status = self.board.status(agent_id)
        if status is None or status.state is AgentState.LOGGED_OUT or agent_id not in self.lines.legs:
            return
        del self.lines.legs[agent_id]
        for call in self.model.calls.values():
            if call.bridged_agent == agent_id:
                call.bridged_agent = None
            if call.bridge is not None and call.bridge[0] == agent_id:  # the bridge cannot happen now
                call.bridge = None
                self.floor.on_event(
                    p.BridgeFailed(
                        worker_id=call.worker,
                        at=self.now,
                        attempt_id=call.attempt_id,
                        agent_id=agent_id,
                        reason="leg",
                    ),
                    self.now,
                )
        if status.state is AgentState.INCALL:
            self.floor.agent_phone_lost(status.attempt_id, self.now)
        self.board.logout(agent_id)
        self._after()

    @precondition(lambda self: self._any(lambda c: c.bridged_agent is not None))
    @rule(data=st.data())
    def agent_hangs_up_the_customer(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self._calls(lambda c: c.bridged_agent is not None)))
        assert call.bridged_agent is not None
        self.floor.agent_hangs_up(call.bridged_agent, call.attempt_id)
        self._after()

    @precondition(lambda self: self._agents_in(AgentState.LOGGED_OUT))
    @rule(data=st.data())
    def agent_logs_in_again(self, data: st.DataObject) -> None:
        gone = [a for a in self.agents if self.board.agents[a].state is AgentState.LOGGED_OUT]
        agent_id = data.draw(st.sampled_from(gone))
        self.board.log_in(agent_id, org_id=str(ORG), campaign_id=str(self.campaign_id))
        self._after()

    @precondition(lambda self: self._agents_in(AgentState.WRAP))
    @rule(data=st.data())
    def agent_disposes(self, data: st.DataObject) -> None:
        agent_id = data.draw(st.sampled_from(self.agents))
        status = self.board.status(agent_id)
        if status is not None and status.state is AgentState.WRAP:
            self.board.end_wrap(agent_id)
            if self.board.agents[agent_id].state is AgentState.LOGGED_OUT:
                self.lines.legs.pop(agent_id, None)
            self._after()

    # ------------------------------------------------------------------------------------ rules: time

    @rule(dt=st.floats(min_value=0.005, max_value=MAX_STEP_S))
    def time_passes(self, dt: float) -> None:
        self.now += dt
        self.floor.tick(self.now)
        self._after()
        for agent_id, _attempt in self.board.expire_wraps_of_calls():
            if self.board.agents[agent_id].state is AgentState.LOGGED_OUT:
                self.lines.legs.pop(agent_id, None)
        self._after()

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.5, 6.0, 12.0]))
    def a_while_passes(self, seconds: float) -> None:
        """Many ticks: waiting calls reach their deadlines, wraps expire."""
        for _ in range(round(seconds / MAX_STEP_S)):
            self.time_passes(MAX_STEP_S)

    # ------------------------------------------------------------------------------------ invariants

    @invariant()
    def answered_calls_get_an_agent_or_the_message_within_two_seconds(self) -> None:
        for call in self.floor.calls.values():
            if call.answered_at is None or call.answered_by_machine:
                continue
            deadline = call.answered_at + AGENT_DEADLINE_S
            if self.now < deadline:
                continue
            connected = call.agent_connected_at is not None and call.agent_connected_at <= deadline
            worker_call = self.model.calls.get(call.attempt_id)
            if worker_call is not None and worker_call.safe_harbor_refused:
                assert worker_call.hangup_asked, f"call {call.attempt_id}: message refused, line left open"
                continue
            asked = worker_call.safe_harbor_asked_at if worker_call else None
            assert connected or (asked is not None and asked <= deadline), (
                f"call {call.attempt_id} answered at +{call.answered_at - T0:.3f}s: no agent and no safe "
                f"harbor by +{deadline - T0:.3f}s (now +{self.now - T0:.3f}s)"
            )

    @invariant()
    def every_attempt_ends_once(self) -> None:
        ended = [e.attempt_id for e in self.log.ends]
        assert len(ended) == len(set(ended)), "an attempt recorded two outcomes"
        assert not set(ended) & set(self.floor.calls), "a live call already has an outcome"
        assert set(ended) | set(self.floor.calls) == set(self.model.placed), "a placed call was lost"

    @invariant()
    def no_agent_is_on_two_calls(self) -> None:
        claimed = [c.agent_id for c in self.floor.calls.values() if c.agent_id is not None]
        assert len(claimed) == len(set(claimed)), f"agents claimed twice: {claimed}"
        bridged = [c.bridged_agent for c in self.model.calls.values() if c.bridged_agent is not None]
        assert len(bridged) == len(set(bridged)), f"agents bridged twice: {bridged}"
        for agent_id in bridged:
            status = self.board.status(agent_id)
            assert status is None or status.state is not AgentState.READY, (
                f"agent {agent_id} is READY (claimable) while bridged to a call"
            )

    @invariant()
    def a_lead_is_never_leased_twice(self) -> None:
        for end in self.log.ends:
            lead = self.model.lead_of[end.attempt_id]
            if self.model.held_leads.get(lead) == end.attempt_id:
                del self.model.held_leads[lead]  # the outcome moves the lead on: its lease is given back
        live = [c.lead_id for c in self.floor.calls.values()]
        assert len(live) == len(set(live)), "two live calls to one lead"
        assert {lead: self.model.held_leads.get(lead) for lead in live} == {
            c.lead_id: c.attempt_id for c in self.floor.calls.values()
        }, "a live call does not hold its lead's lease"

    @invariant()
    def abandon_accounting_equals_a_recount(self) -> None:
        if self.campaign_id not in self.runs:
            return
        run = self.runs[self.campaign_id]
        outcomes = [e.outcome for e in self.log.ends]
        live_answered = [
            c for c in self.floor.calls.values() if c.answered_at is not None and not c.answered_by_machine
        ]
        answered = outcomes.count(Outcome.HUMAN) + outcomes.count(Outcome.ABANDONED) + len(live_answered)
        abandoned = outcomes.count(Outcome.ABANDONED) + sum(c.abandon_reported for c in live_answered)
        assert (run.stats.answered, run.stats.abandoned) == (answered, abandoned)
        assert (run.budget.human_answered(self.now), run.budget.dropped(self.now)) == (answered, abandoned)
        for end in self.log.ends:  # a call counted abandoned while it lasted ended abandoned
            assert end.attempt_id not in self.model.abandon_seen or end.outcome is Outcome.ABANDONED, end

    def teardown(self) -> None:
        """Every call ends, one way or another: then every placed call has exactly one outcome."""
        for call in list(self.model.calls.values()):
            self._end(call, p.SipOutcome.ANSWERED if call.answered_at else p.SipOutcome.NO_ANSWER, 200)
        self.floor.tick(self.now)
        self.every_attempt_ends_once()
        assert not self.floor.calls and not self.floor.waiting
        assert sorted(e.attempt_id for e in self.log.ends) == sorted(self.model.placed)


FloorMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("CLEARLINE_FLOOR_EXAMPLES", "150")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],  # explain: minutes
)
test_floor_keeps_its_promises = FloorMachine.TestCase
