"""What the pacing policy knows of the agents when a call ends, with the in-memory fakes and a clock
passed in (no SIP, no database).

The engine feeds the policy the agents' state changes from the board's event stream every 100 ms,
while its dial thread asks the policy on its own 100 ms beat. A change the floor makes itself (a call's
end puts its agent in wrap-up) must reach the policy at once: before, a ratio campaign at 1.0 line per
agent with one agent saw the agent still on a call with no call in flight for up to a feed interval
(longer under load) after each call, and dialed the next lead for an agent in wrap-up.
"""

from __future__ import annotations

import uuid

from dialer import pacing
from dialer.engine.agents import AgentState
from dialer.engine.fakes import FakeAgentBoard, MemoryAttemptLog, StubLines
from dialer.engine.floor import Floor, FloorCampaign, LiveCall
from dialer.pacing.guard import guarded
from dialer.sip import protocol as p

T0 = 1_800_000_000.0
ORG = uuid.uuid4()
AGENT = str(uuid.UUID(int=0xA6E))
_AGENT_EVENTS = {
    AgentState.READY: pacing.AgentReady,
    AgentState.INCALL: pacing.AgentBusy,
    AgentState.WRAP: pacing.AgentWrap,
    AgentState.PAUSED: pacing.AgentPaused,
}


class RatioFloor:
    """One ratio campaign (1.0 line per agent) with a record good enough that the abandon guard lets
    it dial ahead of its agents, one agent, and a clock."""

    def __init__(self) -> None:
        self.now = T0
        self.board = FakeAgentBoard(clock=lambda: self.now)
        self.lines = StubLines()
        self.log = MemoryAttemptLog()
        self.campaign_id = uuid.uuid4()
        budget = pacing.AbandonBudget()
        budget.add(T0 - 86_400, human_answered=2_000)  # thirty days of connected calls, no drop
        self.policy = guarded(
            pacing.make_policy("ratio", lines_per_agent=1.0), budget, policy_feeds_budget=False
        )
        self.run = FloorCampaign(
            id=self.campaign_id,
            policy=self.policy,
            budget=budget,
            safe_harbor_wav="/media/message.wav",
            opt_out_key="9",
            wrap_up_s=30,
        )
        self.floor = Floor(self.board, self.lines, self.log, campaigns={self.campaign_id: self.run})
        self.cursor = "0"
        self.placed = 0
        self.board.log_in(AGENT, org_id=str(ORG), campaign_id=str(self.campaign_id))
        self.board.leg_up(AGENT, worker="w1", leg_id=AGENT)
        self.lines.legs[AGENT] = "w1"
        self.feed()

    def feed(self) -> None:
        """What the engine's event thread does every 100 ms: the board's state changes to the policy."""
        for event in self.board.events_since(str(self.campaign_id), self.cursor):
            self.cursor = event.stream_id
            kind = _AGENT_EVENTS.get(AgentState(event.new_state), pacing.AgentLoggedOut)
            self.policy.observe(kind(event.agent_id), event.at_ms / 1000)

    def place(self) -> str:
        self.placed += 1
        attempt_id = f"call-{self.placed}"
        self.lines.calls[attempt_id] = "w1"
        self.floor.placed(
            LiveCall(
                attempt_id=attempt_id,
                lead_id=self.placed,
                org_id=ORG,
                campaign_id=self.campaign_id,
                e164="+12025550177",
                trunk="t",
                worker="w1",
                placed_at=self.now,
            )
        )
        self.event(p.Dialing(worker_id="w1", at=self.now, attempt_id=attempt_id, sip_call_id=attempt_id))
        return attempt_id

    def event(self, event: p.Event) -> None:
        self.floor.on_event(event, self.now)

    def talk_and_hang_up(self, attempt_id: str, *, talk_s: float) -> None:
        """A person answers, the agent is bridged, they talk, the person hangs up (the worker frees the
        agent's leg, then reports the end)."""
        self.event(
            p.Answered(worker_id="w1", at=self.now, attempt_id=attempt_id, answered_by=p.AnsweredBy.HUMAN)
        )
        self.now += 0.05
        self.event(p.Bridged(worker_id="w1", at=self.now, attempt_id=attempt_id, agent_id=AGENT))
        self.feed()
        self.now += talk_s
        self.event(p.AgentFree(worker_id="w1", at=self.now, agent_id=AGENT, attempt_id=attempt_id))
        self.event(p.Ended(worker_id="w1", at=self.now, attempt_id=attempt_id, sip_status=200,
                           outcome=p.SipOutcome.ANSWERED, reason="bye"))  # fmt: skip


def test_no_lead_is_dialed_for_an_agent_in_wrap_up_before_the_board_events_are_fed() -> None:
    bench = RatioFloor()
    assert bench.policy.calls_to_place(bench.now) == 1  # one READY agent: one line
    call = bench.place()
    assert bench.policy.calls_to_place(bench.now) == 0
    bench.talk_and_hang_up(call, talk_s=20.0)
    assert bench.board.status(AGENT).state is AgentState.WRAP  # type: ignore[union-attr]
    # The dial thread asks before the event thread fed the board's WRAP to the policy.
    bench.now += 0.01
    assert bench.policy.calls_to_place(bench.now) == 0
    assert bench.policy.floor.wrapping == 1 and bench.policy.floor.busy == 0
    bench.feed()  # the stream's INCALL -> WRAP arrives: changes nothing
    bench.now += 1.0
    assert bench.policy.calls_to_place(bench.now) == 0
    bench.board.end_wrap(AGENT)  # the disposition: READY again
    bench.feed()
    assert bench.policy.calls_to_place(bench.now) == 1


def test_an_agent_whose_phone_hangs_up_mid_call_is_not_dialed_for() -> None:
    bench = RatioFloor()
    call = bench.place()
    bench.event(p.Answered(worker_id="w1", at=bench.now, attempt_id=call, answered_by=p.AnsweredBy.HUMAN))
    bench.event(p.Bridged(worker_id="w1", at=bench.now, attempt_id=call, agent_id=AGENT))
    bench.feed()
    bench.now += 5.0
    bench.floor.agent_phone_lost(call, bench.now)
    bench.event(p.Ended(worker_id="w1", at=bench.now, attempt_id=call, sip_status=200,
                        outcome=p.SipOutcome.ANSWERED, reason="bye"))  # fmt: skip
    assert bench.policy.calls_to_place(bench.now + 0.01) == 0


def test_a_call_reserved_for_its_agent_is_bridged_to_them_not_to_an_agent_ready_longer() -> None:
    bench = RatioFloor()
    owner = str(uuid.UUID(int=0xB0B))
    bench.board.log_in(owner, org_id=str(ORG), campaign_id=str(bench.campaign_id))
    bench.now += 1.0
    bench.board.leg_up(owner, worker="w2", leg_id=owner)  # READY after AGENT: claims would take AGENT
    bench.lines.legs[owner] = "w2"
    attempt_id = "callback-1"
    assert bench.board.reserve(owner, str(bench.campaign_id), attempt_id=attempt_id) is not None
    bench.lines.calls[attempt_id] = "w1"
    bench.floor.placed(
        LiveCall(attempt_id=attempt_id, lead_id=99, org_id=ORG, campaign_id=bench.campaign_id,
                 e164="+12025559421", trunk="t", worker="w1", placed_at=bench.now, agent_id=owner)
    )  # fmt: skip
    bench.event(
        p.Answered(worker_id="w1", at=bench.now, attempt_id=attempt_id, answered_by=p.AnsweredBy.HUMAN)
    )
    assert [(c.attempt_id, c.agent_id) for c in bench.lines.sent if isinstance(c, p.Bridge)] == [
        (attempt_id, owner)
    ]
    assert bench.board.status(AGENT).state is AgentState.READY  # type: ignore[union-attr]


def test_a_reserved_agent_whose_callback_is_not_answered_is_ready_again() -> None:
    bench = RatioFloor()
    attempt_id = "callback-2"
    assert bench.board.reserve(AGENT, str(bench.campaign_id), attempt_id=attempt_id) is not None
    assert bench.board.reserve(AGENT, str(bench.campaign_id), attempt_id="another") is None  # taken
    bench.lines.calls[attempt_id] = "w1"
    bench.floor.placed(
        LiveCall(attempt_id=attempt_id, lead_id=98, org_id=ORG, campaign_id=bench.campaign_id,
                 e164="+12025559431", trunk="t", worker="w1", placed_at=bench.now, agent_id=AGENT)
    )  # fmt: skip
    bench.now += 20.0
    bench.event(p.Ended(worker_id="w1", at=bench.now, attempt_id=attempt_id, sip_status=487,
                        outcome=p.SipOutcome.NO_ANSWER, reason="no answer"))  # fmt: skip
    assert bench.board.status(AGENT).state is AgentState.READY  # type: ignore[union-attr]
