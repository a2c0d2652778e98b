"""Pacing policies driven by hand-written event sequences: what each one asks for, and its limits."""

from __future__ import annotations

import pytest

from dialer.pacing import (
    POLICIES,
    AbandonBudget,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    AgentWrap,
    CallAbandoned,
    CallAnsweredHuman,
    CallConnected,
    CallEnded,
    CallNoAnswer,
    CallPlaced,
    PacingPolicy,
    PreviewDialRequested,
    make_policy,
)


def place(policy: PacingPolicy, now: float, first_id: int) -> list[int]:
    """Place what the policy asks for; return the new call ids."""
    ids = list(range(first_id, first_id + policy.calls_to_place(now)))
    for call_id in ids:
        policy.observe(CallPlaced(call_id), now)
    return ids


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_agents_and_all_paused_dial_nothing(name: str) -> None:
    policy = make_policy(name)
    assert policy.calls_to_place(0.0) == 0
    for agent in range(3):
        policy.observe(AgentReady(agent), 0.0)
        policy.observe(PreviewDialRequested(agent), 0.0)
    for agent in range(3):
        policy.observe(AgentPaused(agent), 1.0)
    assert [policy.calls_to_place(t) for t in (1.0, 2.0, 30.0, 300.0)] == [0, 0, 0, 0]
    for agent in range(3):
        policy.observe(AgentLoggedOut(agent), 400.0)
    assert policy.calls_to_place(400.0) == 0
    assert policy.floor.working_agents == 0


def test_progressive_places_one_call_per_idle_agent() -> None:
    policy = make_policy("progressive")
    for agent in range(3):
        policy.observe(AgentReady(agent), 0.0)
    assert place(policy, 0.0, 0) == [0, 1, 2]
    assert policy.calls_to_place(1.0) == 0  # every idle agent is covered by a ringing call
    policy.observe(CallNoAnswer(0), 20.0)
    assert policy.calls_to_place(20.0) == 1
    policy.observe(CallAnsweredHuman(1), 20.0)
    policy.observe(CallConnected(1, 0), 20.0)
    # Two agents ready, one call ringing (2), none for the other: one more call.
    assert policy.calls_to_place(20.0) == 1


def test_ratio_keeps_lines_per_agent_counting_connected_calls() -> None:
    policy = make_policy("ratio", lines_per_agent=2.5)
    for agent in range(2):
        policy.observe(AgentReady(agent), 0.0)
    assert place(policy, 0.0, 0) == [0, 1, 2, 3, 4]  # round(2.5 x 2)
    policy.observe(CallAnsweredHuman(0), 8.0)
    policy.observe(CallConnected(0, 0), 8.0)
    assert policy.calls_to_place(8.0) == 0  # 4 ringing + 1 connected = 5 lines
    policy.observe(AgentWrap(0), 60.0)  # call 0 hangs up; agent 0 in wrap-up is not counted
    policy.observe(CallNoAnswer(1), 60.0)
    # round(2.5 x 1 agent not in wrap) = 2 (banker's rounding of 2.5), minus 3 ringing: nothing.
    assert policy.calls_to_place(60.0) == 0
    with pytest.raises(ValueError, match="lines_per_agent"):
        make_policy("ratio", lines_per_agent=0.5)


def test_preview_dials_only_what_agents_ask_for() -> None:
    policy = make_policy("preview")
    policy.observe(AgentReady("a"), 0.0)
    policy.observe(AgentReady("b"), 0.0)
    assert policy.calls_to_place(5.0) == 0
    policy.observe(PreviewDialRequested("a"), 5.0)
    assert place(policy, 5.0, 0) == [0]
    assert policy.calls_to_place(6.0) == 0


def test_vicidial_adaptive_level_follows_ready_agents_and_drops() -> None:
    policy = make_policy("vicidial-adaptive")
    for agent in range(4):
        policy.observe(AgentReady(agent), 0.0)
    assert place(policy, 0.0, 0) == [0, 1, 2, 3]  # L = 1.0: one line per agent
    for call in range(4):
        policy.observe(CallNoAnswer(call), 0.5)
    # 15 one-second samples with 4 of 4 agents ready and nobody waiting: L = 1 x (1 + 4/4) = 2.
    # (samples at seconds 0..14: the 15th is taken at t = 14)
    for second in range(1, 14):
        assert policy.calls_to_place(float(second)) == 4
    assert policy.calls_to_place(14.0) == 8
    assert policy.level == pytest.approx(2.0)
    # Over 3% dropped after 50 human answers: back to L = 1 at the next second.
    call = 100
    for _ in range(50):
        policy.observe(CallPlaced(call), 16.0)
        policy.observe(CallAnsweredHuman(call), 16.0)
        policy.observe(CallAbandoned(call), 16.0)
        policy.observe(CallEnded(call), 16.0)
        call += 1
    policy.calls_to_place(15.0)
    assert policy.level == 1.0


def test_line_limit_is_never_exceeded() -> None:
    for name in ("progressive", "ratio", "vicidial-adaptive", "predictive"):
        policy = make_policy(name, max_lines=3)
        for agent in range(10):
            policy.observe(AgentReady(agent), 0.0)
        assert place(policy, 0.0, 0) == [0, 1, 2], name
        assert policy.calls_to_place(1.0) == 0, name
        policy.observe(CallNoAnswer(0), 20.0)
        assert policy.calls_to_place(20.0) == 1, name


def test_cps_limit_is_a_sliding_window() -> None:
    policy = make_policy("progressive", max_cps=2)
    for agent in range(10):
        policy.observe(AgentReady(agent), 0.0)
    assert place(policy, 0.0, 0) == [0, 1]
    assert policy.calls_to_place(0.5) == 0
    assert policy.calls_to_place(0.999) == 0
    assert place(policy, 1.0, 2) == [2, 3]
    slow = make_policy("progressive", max_cps=0.5)  # one call per 2 s
    slow.observe(AgentReady(0), 0.0)
    slow.observe(AgentReady(1), 0.0)
    assert place(slow, 0.0, 0) == [0]
    assert slow.calls_to_place(1.9) == 0
    assert slow.calls_to_place(2.0) == 1


def test_make_policy_names_unknown_policies_and_settings() -> None:
    with pytest.raises(ValueError, match=r"unknown pacing policy 'turbo'; known: .*predictive"):
        make_policy("turbo")
    with pytest.raises(ValueError, match=r"no setting\(s\) lines_per_agent"):
        make_policy("progressive", lines_per_agent=2)
    with pytest.raises(ValueError, match="abandon_target"):
        make_policy("predictive", abandon_target=0.05)
    with pytest.raises(ValueError, match="max_cps"):
        make_policy("predictive", max_cps=0)


def test_predictive_dials_ahead_for_agents_in_wrap_up() -> None:
    policy = make_policy("predictive")
    for agent in range(5):
        policy.observe(AgentReady(agent), 0.0)
    assert policy.calls_to_place(0.0) > 5  # more than one call per idle agent: few are answered
    predictive = make_policy("predictive")
    # It learns that wrap-ups last 15 s ...
    for cycle in range(60):
        at = 1000.0 + cycle * 100.0
        predictive.observe(AgentReady("trainee"), at)
        predictive.observe(AgentWrap("trainee"), at + 50.0)
        predictive.observe(AgentReady("trainee"), at + 65.0)
    predictive.observe(AgentLoggedOut("trainee"), 8000.0)
    # ... then sees five agents on calls, nothing ringing: no call while everyone talks.
    for agent in range(5):
        predictive.observe(AgentReady(agent), 9000.0)
        predictive.observe(CallPlaced(agent), 9000.0)
        predictive.observe(CallAnsweredHuman(agent), 9008.0)
        predictive.observe(CallConnected(agent, agent), 9008.0)
    assert predictive.calls_to_place(9010.0) == 0
    for agent in range(5):
        predictive.observe(AgentWrap(agent), 9100.0)
    assert predictive.calls_to_place(9100.0) == 0  # wrap-ups just began: answers would find nobody
    assert predictive.calls_to_place(9108.0) > 0  # they end at 9115: dial so answers land then


def test_predictive_keeps_its_budget_and_estimates_from_events() -> None:
    budget = AbandonBudget()
    budget.add(-3_600.0, human_answered=100, dropped=1)  # seeded history
    policy = make_policy("predictive", budget=budget)
    policy.observe(AgentReady(0), 0.0)
    for call, ending in enumerate((CallAbandoned, CallEnded, CallNoAnswer)):
        policy.observe(CallPlaced(call), 0.0)
        if ending is CallAbandoned:
            policy.observe(CallAnsweredHuman(call), 7.0)
        policy.observe(ending(call), 9.0)
    # One answer and one drop added to the history, once each.
    assert (budget.human_answered(10.0), budget.dropped(10.0)) == (101, 2)
    # The person-answered call and the two calls that ended unanswered (however named) were learned.
    assert policy.outcomes.observed == 3  # type: ignore[attr-defined]
