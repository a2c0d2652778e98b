"""The floor's safe-harbor and stop rules, example by example, with the in-memory fakes (no SIP, no
database): the message is asked for within 2 s of the answer, a refused message hangs up with an alarm,
the message's end and the keys pressed are recorded, and stopping never cuts ringing short of 15 s."""

from __future__ import annotations

import uuid

import pytest

from campaigns.models import Outcome
from core.legal import AGENT_CONNECT_DEADLINE_S, MIN_RING_S
from dialer import pacing
from dialer.engine.agents import AgentState
from dialer.engine.fakes import FakeAgentBoard, MemoryAttemptLog, StubLines
from dialer.engine.floor import Floor, FloorCampaign, LiveCall
from dialer.pacing.guard import guarded
from dialer.sip import protocol as p

T0 = 1_800_000_000.0
ORG = uuid.uuid4()


class Bench:
    """One campaign, optionally one READY agent, and a clock."""

    def __init__(self, *, agent: bool = False) -> None:
        self.now = T0
        self.board = FakeAgentBoard(clock=lambda: self.now)
        self.lines = StubLines()
        self.log = MemoryAttemptLog()
        self.campaign_id = uuid.uuid4()
        budget = pacing.AbandonBudget()
        run = FloorCampaign(
            id=self.campaign_id,
            policy=guarded(pacing.make_policy("progressive"), budget, policy_feeds_budget=False),
            budget=budget,
            safe_harbor_wav="/media/message.wav",
            opt_out_key="9",
            wrap_up_s=5,
        )
        self.floor = Floor(self.board, self.lines, self.log, campaigns={self.campaign_id: run})
        self.run = run
        if agent:
            self.board.log_in("a1", org_id=str(ORG), campaign_id=str(self.campaign_id))
            self.board.leg_up("a1", worker="w1", leg_id="a1")
            self.lines.legs["a1"] = "w1"
        self.calls = 0

    def place(self) -> str:
        self.calls += 1
        attempt_id = f"call-{self.calls}"
        self.lines.calls[attempt_id] = "w1"
        self.floor.placed(
            LiveCall(
                attempt_id=attempt_id,
                lead_id=self.calls,
                org_id=ORG,
                campaign_id=self.campaign_id,
                e164="+12025550100",
                trunk="t",
                worker="w1",
                placed_at=self.now,
            )
        )
        self.event(p.Dialing(worker_id="w1", at=self.now, attempt_id=attempt_id, sip_call_id="x"))
        return attempt_id

    def event(self, event: p.Event) -> None:
        self.floor.on_event(event, self.now)

    def answer(self, attempt_id: str) -> None:
        self.event(
            p.Answered(worker_id="w1", at=self.now, attempt_id=attempt_id, answered_by=p.AnsweredBy.HUMAN)
        )

    def tick_until(self, until: float, step: float = 0.02) -> None:
        while self.now < until:
            self.now = min(until, self.now + step)
            self.floor.tick(self.now)

    def sent(self, kind: type) -> list[p.Command]:
        return [c for c in self.lines.sent if isinstance(c, kind)]


def test_with_no_agent_the_message_is_asked_for_within_two_seconds_of_the_answer() -> None:
    bench = Bench()
    call = bench.place()
    answered_at = bench.now
    bench.answer(call)
    bench.tick_until(answered_at + AGENT_CONNECT_DEADLINE_S)
    [play] = bench.sent(p.PlaySafeHarbor)
    assert (
        isinstance(play, p.PlaySafeHarbor)
        and play.wav_path == "/media/message.wav"
        and play.opt_out_key == "9"
    )
    started = bench.log.stamps[call]["safe_harbor_at"]
    assert started.timestamp() - answered_at <= AGENT_CONNECT_DEADLINE_S  # type: ignore[attr-defined]
    assert bench.run.stats.abandoned == 1 and bench.run.budget.dropped(bench.now) == 1


def test_a_bridge_not_confirmed_in_time_is_given_up_for_the_message() -> None:
    bench = Bench(agent=True)
    call = bench.place()
    answered_at = bench.now
    bench.answer(call)
    assert [c.agent_id for c in bench.sent(p.Bridge)] == ["a1"]  # type: ignore[attr-defined]
    bench.tick_until(answered_at + AGENT_CONNECT_DEADLINE_S)
    assert len(bench.sent(p.PlaySafeHarbor)) == 1
    # The worker's late Bridged is not a connection: the outcome stays the abandoned it was counted as.
    bench.event(p.Bridged(worker_id="w1", at=bench.now, attempt_id=call, agent_id="a1"))
    bench.event(p.Ended(worker_id="w1", at=bench.now, attempt_id=call, sip_status=200,
                        outcome=p.SipOutcome.ANSWERED, reason="bye"))  # fmt: skip
    assert [e.outcome for e in bench.log.ends] == [Outcome.ABANDONED]


def test_a_refused_message_hangs_up_records_why_and_raises_an_alarm() -> None:
    bench = Bench()
    call = bench.place()
    bench.answer(call)
    bench.tick_until(bench.now + 1.6)
    assert len(bench.sent(p.PlaySafeHarbor)) == 1
    reason = "safe-harbor WAV /media/message.wav: file does not start with RIFF id"
    bench.event(
        p.CommandRejected(worker_id="w1", at=bench.now, command="PlaySafeHarbor", key=call, reason=reason)
    )
    assert [c.attempt_id for c in bench.sent(p.Hangup)] == [call]  # type: ignore[attr-defined]
    assert bench.log.stamps[call]["safe_harbor_error"] == reason
    [alarm] = bench.log.alarms
    assert alarm.attempt_id == call and alarm.campaign_id == bench.campaign_id and reason in alarm.reason
    bench.event(p.Ended(worker_id="w1", at=bench.now, attempt_id=call, sip_status=200,
                        outcome=p.SipOutcome.ANSWERED, reason="bye"))  # fmt: skip
    assert [e.outcome for e in bench.log.ends] == [Outcome.ABANDONED]


def test_the_end_of_the_message_and_the_keys_pressed_are_recorded() -> None:
    bench = Bench()
    call = bench.place()
    bench.answer(call)
    bench.tick_until(bench.now + 1.6)
    bench.event(p.DtmfReceived(worker_id="w1", at=bench.now, attempt_id=call, digit="4"))
    bench.event(p.DtmfReceived(worker_id="w1", at=bench.now, attempt_id=call, digit="#"))
    bench.now += 5
    bench.event(p.SafeHarborPlayed(worker_id="w1", at=bench.now, attempt_id=call))
    stamps = bench.log.stamps[call]
    assert stamps["dtmf_digits"] == "4#"
    assert stamps["safe_harbor_played_at"].timestamp() == pytest.approx(bench.now)  # type: ignore[attr-defined]
    bench.event(p.OptOut(worker_id="w1", at=bench.now, attempt_id=call, digit="9"))
    assert [(o[1], "pressed 9" in o[2]) for o in bench.log.opt_outs] == [("+12025550100", True)]


def test_stopping_never_cuts_ringing_short_of_the_legal_minimum() -> None:
    bench = Bench()
    ringing = bench.place()
    bench.now += 1.0
    answered = bench.place()
    bench.answer(answered)
    bench.now += 3.0
    assert bench.floor.hang_up_for_stop(bench.now) == [answered]  # the answered one at once
    bench.now = T0 + MIN_RING_S - 0.01
    assert bench.floor.hang_up_for_stop(bench.now) == []  # rang 14.99 s: rings on
    bench.now = T0 + MIN_RING_S
    assert bench.floor.hang_up_for_stop(bench.now) == [ringing]
    assert bench.floor.hang_up_for_stop(bench.now + 1) == []  # each call once
    assert [c.attempt_id for c in bench.sent(p.Hangup)] == [answered, ringing]  # type: ignore[attr-defined]


def test_stopping_waits_for_a_call_whose_invite_is_not_out_yet() -> None:
    bench = Bench()
    bench.lines.calls["queued"] = "w1"
    bench.floor.placed(
        LiveCall(attempt_id="queued", lead_id=9, org_id=ORG, campaign_id=bench.campaign_id, e164="+12025550101",
                 trunk="t", worker="w1", placed_at=bench.now)
    )  # fmt: skip
    assert bench.floor.hang_up_for_stop(bench.now + 60) == []
    bench.now += 60
    bench.event(p.Dialing(worker_id="w1", at=bench.now, attempt_id="queued", sip_call_id="y"))
    assert bench.floor.hang_up_for_stop(bench.now + MIN_RING_S) == ["queued"]


def test_a_call_an_agent_started_is_bridged_to_them_and_frees_them_when_unanswered() -> None:
    """Preview and manual dials: the agent who dialed is held for the call; the answer goes to them, not to
    the agent READY longest; a call nobody answers gives them back READY."""
    bench = Bench(agent=True)  # a1: READY first
    a2 = str(uuid.uuid4())
    bench.board.log_in(a2, org_id=str(ORG), campaign_id=str(bench.campaign_id))
    bench.board.leg_up(a2, worker="w1", leg_id=a2)
    bench.lines.legs[a2] = "w1"

    def started_by_a2() -> str:
        attempt_id = bench.place()
        bench.board._set(a2, AgentState.INCALL, None, attempt_id=attempt_id)  # AgentBoard.hold_for_dial
        call = bench.floor.calls[attempt_id]
        call.agent_id, call.agent_chosen = a2, True
        return attempt_id

    answered = started_by_a2()
    bench.answer(answered)
    assert [c.agent_id for c in bench.sent(p.Bridge)] == [a2]  # type: ignore[attr-defined]
    status_a1 = bench.board.status("a1")
    assert status_a1 is not None and status_a1.state is AgentState.READY
    bench.event(p.Bridged(worker_id="w1", at=bench.now + 0.1, attempt_id=answered, agent_id=a2))
    bench.event(
        p.Ended(
            worker_id="w1",
            at=bench.now + 5,
            attempt_id=answered,
            sip_status=200,
            outcome=p.SipOutcome.ANSWERED,
            reason="",
        )
    )
    assert bench.log.ends[-1].outcome is Outcome.HUMAN

    bench.board.end_wrap(a2)
    busy = started_by_a2()
    bench.event(
        p.Ended(
            worker_id="w1",
            at=bench.now + 1,
            attempt_id=busy,
            sip_status=486,
            outcome=p.SipOutcome.BUSY,
            reason="",
        )
    )
    status_a2 = bench.board.status(a2)
    assert status_a2 is not None and status_a2.state is AgentState.READY and not status_a2.attempt_id
