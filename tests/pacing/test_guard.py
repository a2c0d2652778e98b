"""The abandon guard over any policy: what it lets through, from what budget, and a guarded shift."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from core.legal import ABANDON_LIMIT
from dialer.pacing import (
    AbandonBudget,
    AgentReady,
    CallAbandoned,
    CallAnsweredHuman,
    CallConnected,
    CallPlaced,
    make_policy,
)
from dialer.pacing.guard import MAX_GUARD_LIMIT, AbandonGuard, GuardedPolicy, guarded
from dialer.simulation.cli import simulate_command
from dialer.simulation.model import Scenario
from dialer.simulation.runner import simulate


def budget_of(answered: int, dropped: int) -> AbandonBudget:
    budget = AbandonBudget()
    budget.add(-86_400.0, human_answered=answered, dropped=dropped)  # yesterday, inside the 30 days
    return budget


def guarded_ratio(budget: AbandonBudget, agents: int = 5) -> GuardedPolicy:
    policy = guarded(make_policy("ratio", lines_per_agent=3.0), budget, policy_feeds_budget=False)
    for agent in range(agents):
        policy.observe(AgentReady(agent), 0.0)
    return policy


def test_a_new_campaign_dials_no_more_calls_than_ready_agents_can_take() -> None:
    policy = guarded_ratio(AbandonBudget())
    assert policy.inner.calls_to_place(0.0) == 15  # what ratio 3 asks for
    assert policy.calls_to_place(0.0) == 5  # what five READY agents can take
    assert policy.guard.capped == 1


def test_an_earned_budget_lets_a_policy_dial_ahead_and_near_the_limit_it_cannot() -> None:
    assert guarded_ratio(budget_of(1000, 0)).calls_to_place(0.0) == 15
    assert guarded_ratio(budget_of(1000, 29)).calls_to_place(0.0) == 5  # at 2.9%: no drop to spare
    # Predictive too: the guard, not the policy, holds the line at the limit.
    for dropped, most in ((10, None), (29, 5)):
        budget = budget_of(1000, dropped)
        policy = guarded(make_policy("predictive", budget=budget), budget, policy_feeds_budget=True)
        for agent in range(5):
            policy.observe(AgentReady(agent), 0.0)
        n = policy.calls_to_place(0.0)
        assert n == most if most is not None else n > 5


def test_answered_calls_waiting_for_an_agent_count_as_drops_to_come() -> None:
    policy = guarded_ratio(budget_of(1000, 26), agents=1)
    assert policy.calls_to_place(0.0) == 3  # 29 allowed - 26 - 1 in reserve: room for two ahead calls
    for call in range(3):
        policy.observe(CallPlaced(call), 0.0)
    for call in range(3):
        policy.observe(CallAnsweredHuman(call), 8.0)
    policy.observe(CallConnected(0, 0), 8.0)
    # 1003 answered, 26 dropped, and two answered calls waiting for the one (busy) agent: counted as
    # drops to come, they leave no room for a call ahead (without them there would be room for 4).
    assert policy.floor.waiting == 2
    assert policy.guard.ahead_allowed(policy.floor, 8.0) == 0


def test_the_guard_counts_answers_and_drops_into_the_budget_unless_the_policy_does() -> None:
    for name, feeds in (("ratio", False), ("predictive", True)):
        budget = AbandonBudget()
        settings = {"budget": budget} if feeds else {}
        policy = guarded(make_policy(name, **settings), budget, policy_feeds_budget=feeds)
        policy.observe(AgentReady(0), 0.0)
        for call in (1, 2):
            policy.observe(CallPlaced(call), 0.0)
            policy.observe(CallAnsweredHuman(call), 5.0)
        policy.observe(CallConnected(1, 0), 5.0)
        policy.observe(CallAbandoned(2), 7.0)
        policy.observe(CallAbandoned(2), 7.5)  # reported twice: counted once
        assert (budget.human_answered(8.0), budget.dropped(8.0)) == (2, 1), name


def test_the_guard_limit_is_the_campaign_target_never_above_the_law_less_a_tenth_of_a_point() -> None:
    assert pytest.approx(ABANDON_LIMIT - 0.001) == MAX_GUARD_LIMIT
    with pytest.raises(ValueError, match="limit"):
        AbandonGuard(AbandonBudget(), limit=0.03)
    loose = guarded(make_policy("ratio"), AbandonBudget(), limit=0.03, policy_feeds_budget=False)
    assert loose.guard.limit == MAX_GUARD_LIMIT
    assert (
        guarded(make_policy("ratio"), AbandonBudget(), limit=0.02, policy_feeds_budget=False).guard.limit
        == 0.02
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clearline_simulate_keeps_ratio_3_within_3_percent_where_bare_ratio_drops_a_third(seed: int) -> None:
    args = (
        "--policy ratio --lines-per-agent 3 --agents 10 --hit-rate 0.2 --talk-mean 60 --wrap-mean 15 "
        f"--hours 4 --seed {seed} --json"
    )
    output = CliRunner().invoke(simulate_command, args.split())
    assert output.exit_code == 0, output.output
    figures = json.loads(output.output)
    assert figures["human_answered"] > 500
    assert 0 < figures["abandon_rate"] <= 0.03
    scenario = Scenario(agents=10, hit_rate=0.2, talk_mean_s=60, wrap_mean_s=15, hours=4)
    assert simulate(scenario, "ratio", seed, guard=False, lines_per_agent=3.0).abandon_rate > 0.3


def test_a_guarded_shift_keeps_the_configured_target() -> None:
    scenario = Scenario(agents=10, hit_rate=0.35, talk_mean_s=60, wrap_mean_s=15, hours=4)
    result = simulate(scenario, "vicidial-adaptive", 1, abandon_target=0.015)
    assert result.abandoned > 0
    assert result.abandon_rate <= 0.015


@pytest.mark.parametrize("seed", [1, 2])
def test_predictive_under_a_guard_at_the_campaign_target_keeps_the_pace_it_has_without_the_guard(
    seed: int,
) -> None:
    # The engine gives predictive the campaign's abandon_target and holds the guard at that same rate.
    # Aimed at the limit itself, the rolling rate sat over it half the time and the guard stopped every
    # call ahead of the agents: 0.89-0.90 of the unguarded occupancy here, where aiming under it keeps 0.97+.
    scenario = Scenario(agents=10, hit_rate=0.2, talk_mean_s=60, wrap_mean_s=15, hours=4)
    as_the_engine_runs_it = simulate(scenario, "predictive", seed, abandon_target=0.025)
    unguarded = simulate(scenario, "predictive", seed, guard=False, abandon_target=0.025)
    assert as_the_engine_runs_it.abandoned > 0
    assert as_the_engine_runs_it.abandon_rate <= 0.025
    assert as_the_engine_runs_it.occupancy >= 0.96 * unguarded.occupancy


def test_a_guarded_preview_shift_dials_what_agents_ask_for() -> None:
    scenario = Scenario(agents=3, hit_rate=0.3, talk_mean_s=60, wrap_mean_s=15, hours=0.5)
    guarded_shift = simulate(scenario, "preview", 1)
    assert guarded_shift.calls_placed > 20
    assert guarded_shift.as_dict() == simulate(scenario, "preview", 1, guard=False).as_dict()
