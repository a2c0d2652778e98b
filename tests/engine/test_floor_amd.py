"""The floor with answering-machine detection on the audio (LiveCall.amd), with the in-memory fakes: the
answer waits for `AmdDecided`; a person (or `notsure`) goes to an agent and the 2-second rule counts from
the end of their greeting; a machine is hung up, or left the campaign's message (recorded by sha256)."""

from __future__ import annotations

import uuid
from datetime import datetime

from campaigns.models import Outcome
from core.legal import AGENT_CONNECT_DEADLINE_S
from dialer.engine.floor import LiveCall
from dialer.sip import protocol as p
from tests.engine.test_floor import ORG, Bench

VOICEMAIL_SHA = "ab" * 32
AGENT = str(uuid.uuid4())


class AmdBench(Bench):
    def __init__(self, *, agent: bool = False) -> None:
        super().__init__()
        if agent:  # an agent id as the engine's (Bridged stamps it on the attempt as a uuid)
            self.board.log_in(AGENT, org_id=str(ORG), campaign_id=str(self.campaign_id))
            self.board.leg_up(AGENT, worker="w1", leg_id=AGENT)
            self.lines.legs[AGENT] = "w1"
        self.run.amd_settings = {}
        self.run.voicemail_wav, self.run.voicemail_sha256 = "/media/message.wav", VOICEMAIL_SHA

    def place_amd(self, *, voicemail: bool = False) -> str:
        self.calls += 1
        attempt_id = f"amd-{self.calls}"
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
                amd=True,
                voicemail=voicemail,
            )
        )
        return attempt_id

    def decided(self, attempt_id: str, result: str, greeting_ended_at: float, cause: str = "X") -> None:
        self.event(
            p.AmdDecided(
                worker_id="w1",
                at=self.now,
                attempt_id=attempt_id,
                result=result,
                cause=cause,
                decided_at_ms=1234,
                greeting_ended_at=greeting_ended_at,
            )
        )

    def end(self, attempt_id: str) -> Outcome:
        self.event(p.Ended(worker_id="w1", at=self.now, attempt_id=attempt_id, sip_status=200,
                           outcome=p.SipOutcome.ANSWERED, reason="bye"))  # fmt: skip
        return self.log.ends[-1].outcome


def test_a_person_waits_for_the_detector_then_gets_an_agent_within_2_s_of_the_greeting() -> None:
    bench = AmdBench(agent=True)
    call = bench.place_amd()
    answered_at = bench.now
    bench.answer(call)
    bench.tick_until(answered_at + 1.0)
    assert not bench.sent(p.Bridge) and not bench.sent(p.PlaySafeHarbor)  # no one knows who answered yet
    greeting_end = answered_at + 0.9
    bench.tick_until(greeting_end + 0.8)
    bench.decided(call, "human", greeting_end, cause="HUMAN-600-800")
    assert [c.agent_id for c in bench.sent(p.Bridge)] == [AGENT]  # type: ignore[attr-defined]
    stamps = bench.log.stamps[call]
    assert (stamps["amd_result"], stamps["amd_cause"], stamps["amd_decided_ms"]) == (
        "human",
        "HUMAN-600-800",
        1234,
    )
    assert isinstance(stamps["amd_greeting_ended_at"], datetime)
    assert stamps["amd_greeting_ended_at"].timestamp() == greeting_end
    # 2.7 s after the answer, 1.8 s after the greeting: connected in time (counted from the greeting)
    bench.now = greeting_end + 1.8
    bench.event(p.Bridged(worker_id="w1", at=bench.now, attempt_id=call, agent_id=AGENT))
    assert bench.end(call) is Outcome.HUMAN
    assert bench.run.stats.abandoned == 0


def test_a_person_bridged_more_than_2_s_after_their_greeting_is_abandoned() -> None:
    bench = AmdBench(agent=True)
    call = bench.place_amd()
    bench.answer(call)
    greeting_end = bench.now + 0.5
    bench.now = greeting_end + 1.0
    bench.decided(call, "human", greeting_end)
    bench.now = greeting_end + AGENT_CONNECT_DEADLINE_S + 0.1
    bench.event(p.Bridged(worker_id="w1", at=bench.now, attempt_id=call, agent_id=AGENT))
    assert bench.end(call) is Outcome.ABANDONED


def test_with_no_agent_the_message_comes_within_2_s_of_the_greeting_not_of_the_decision() -> None:
    bench = AmdBench()
    call = bench.place_amd()
    bench.answer(call)
    greeting_end = bench.now + 0.7
    bench.tick_until(greeting_end + 0.9)
    bench.decided(call, "notsure", greeting_end, cause="TOOLONG-8000")
    bench.tick_until(greeting_end + AGENT_CONNECT_DEADLINE_S)
    assert len(bench.sent(p.PlaySafeHarbor)) == 1
    started = bench.log.stamps[call]["safe_harbor_at"]
    assert started.timestamp() - greeting_end <= AGENT_CONNECT_DEADLINE_S  # type: ignore[attr-defined]
    assert bench.end(call) is Outcome.ABANDONED


def test_a_greeting_end_reported_after_the_decision_counts_from_the_decision() -> None:
    bench = AmdBench(agent=True)
    call = bench.place_amd()
    bench.answer(call)
    bench.now += 5.0
    bench.decided(call, "notsure", bench.now + 3.0, cause="INITIALSILENCE-5000")  # a clock gone wrong
    assert bench.log.stamps[call]["amd_greeting_ended_at"].timestamp() == bench.now  # type: ignore[attr-defined]
    bench.now += AGENT_CONNECT_DEADLINE_S + 0.5
    bench.event(p.Bridged(worker_id="w1", at=bench.now, attempt_id=call, agent_id=AGENT))
    assert bench.end(call) is Outcome.ABANDONED


def test_a_machine_is_hung_up_and_never_offered_to_an_agent() -> None:
    bench = AmdBench(agent=True)
    call = bench.place_amd()
    bench.answer(call)
    bench.now += 3.9
    bench.decided(call, "machine", bench.now - 0.1, cause="LONGGREETING-3200")
    assert [c.attempt_id for c in bench.sent(p.Hangup)] == [call]  # type: ignore[attr-defined]
    bench.tick_until(bench.now + 3)
    assert not bench.sent(p.Bridge) and not bench.sent(p.PlaySafeHarbor)
    assert bench.end(call) is Outcome.MACHINE
    assert bench.run.stats.machine == 1 and bench.run.stats.abandoned == 0
    assert "voicemail_sha256" not in bench.log.stamps[call]


def test_a_machine_that_gets_the_message_is_left_to_the_worker_and_the_message_is_recorded() -> None:
    bench = AmdBench(agent=True)
    call = bench.place_amd(voicemail=True)
    bench.answer(call)
    bench.now += 2.0
    bench.decided(call, "machine", bench.now, cause="BEEP")
    assert not bench.sent(p.Hangup) and not bench.sent(p.Bridge)  # the worker plays it, then hangs up
    bench.now += 6.0
    bench.event(p.VoicemailLeft(worker_id="w1", at=bench.now, attempt_id=call, cue="beep"))
    stamps = bench.log.stamps[call]
    assert stamps["voicemail_sha256"] == VOICEMAIL_SHA
    assert stamps["voicemail_left_at"].timestamp() == bench.now  # type: ignore[attr-defined]
    assert bench.end(call) is Outcome.MACHINE


def test_without_amd_the_answer_goes_to_an_agent_at_once_as_before() -> None:
    bench = AmdBench(agent=True)
    call = bench.place()
    bench.answer(call)
    assert [c.agent_id for c in bench.sent(p.Bridge)] == [AGENT]  # type: ignore[attr-defined]
    bench.decided(call, "machine", bench.now)  # a stray detection on a call without AMD changes nothing
    assert not bench.sent(p.Hangup) and "amd_result" not in bench.log.stamps.get(call, {})
