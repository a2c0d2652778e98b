"""The shift simulator: exact accounting in hand-checked shifts, the 2-second rule, seeds, robustness."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dialer.simulation.cli import simulate_command
from dialer.simulation.model import Scenario
from dialer.simulation.runner import simulate


def clockwork(**changes: float) -> Scenario:
    """Everyone answers; ring, talk and wrap-up times are exact (cv 0): a shift one can check by hand."""
    settings: dict[str, float] = dict(
        agents=1,
        hit_rate=1.0,
        machine_rate=0.0,
        busy_rate=0.0,
        ring_mean_s=8.0,
        ring_cv=0.0,
        talk_mean_s=30.0,
        talk_cv=0.0,
        wrap_mean_s=10.0,
        wrap_cv=0.0,
        hours=0.01,  # 36 s
    )
    settings.update(changes)
    return Scenario(**settings)  # type: ignore[arg-type]


def test_exact_accounting_of_an_overdialled_agent() -> None:
    """Ratio 2 with one agent, unguarded: every second call finds the agent busy and is dropped 2 s after answering.

    t=0 calls 0,1 placed; t=8 both answered: 0 goes to the agent (talks until 38), 1 waits and is
    abandoned at t=10. Each time the abandoned call leaves, one line frees: call 2 at t=10 (answered 18,
    abandoned 20), call 3 at t=20 (dropped 30), call 4 at t=30 (answered 38 after the shift's end at 36,
    the agent is in wrap-up: dropped at 40).
    """
    result = simulate(clockwork(), "ratio", seed=1, guard=False, lines_per_agent=2.0)
    assert result.calls_placed == 5
    assert result.human_answered == 5
    assert result.connected == 1
    assert result.abandoned == 4
    assert result.abandoned_calls == [1, 2, 3, 4]
    assert result.abandon_rate == pytest.approx(0.8)
    assert result.occupancy == pytest.approx(28.0 / 36.0)  # talk 8..36 inside the shift
    assert result.mean_agent_wait_s == pytest.approx(8.0)  # ready at 0, first call at 8
    # The connected call, a new one, and a dropped one still playing its 10 s safe-harbor message.
    assert result.max_lines_used == 3


def test_progressive_never_abandons_in_clockwork() -> None:
    result = simulate(clockwork(hours=0.1), "progressive", seed=1)
    # Cycles of ring 8 + talk 30 + wrap 10 (+ up to 1 s to the next tick): calls at 0, 48, 96, ...
    assert result.abandoned == 0
    assert result.calls_placed == 8
    assert result.connected == 8


@pytest.mark.parametrize(("wrap_s", "connected", "abandoned"), [(1.0, 2, 0), (1.001, 1, 1)])
def test_two_second_rule(wrap_s: float, connected: int, abandoned: int) -> None:
    """Call 1 is answered at t=8 while the agent takes call 0; the agent frees at 8 + 1 + wrap.

    Freed exactly 2 s after the answer: still connected (within 2 s). A millisecond later: abandoned.
    """
    scenario = clockwork(talk_mean_s=1.0, wrap_mean_s=wrap_s, hours=0.0025)
    result = simulate(scenario, "ratio", seed=1, guard=False, lines_per_agent=2.0)
    assert result.calls_placed == 2
    assert (result.connected, result.abandoned) == (connected, abandoned)


def test_same_seed_same_shift_other_seed_other_shift() -> None:
    scenario = Scenario(agents=5, hit_rate=0.2, talk_mean_s=60, wrap_mean_s=15, hours=0.5)
    first = simulate(scenario, "predictive", seed=7).as_dict()
    assert simulate(scenario, "predictive", seed=7).as_dict() == first
    assert simulate(scenario, "predictive", seed=8).as_dict() != first
    # Common random numbers: the oracle meets the same first leads as any other policy.
    assert simulate(scenario, "oracle", seed=7).as_dict() == simulate(scenario, "oracle", seed=7).as_dict()


@pytest.mark.parametrize(("before", "after"), [(0.35, 0.10), (0.10, 0.35)])
def test_sudden_answer_rate_change_keeps_abandon_under_three_percent(before: float, after: float) -> None:
    scenario = Scenario(
        agents=10,
        hit_rate=before,
        hit_rate_after=after,
        change_at_h=1.5,
        talk_mean_s=60,
        wrap_mean_s=15,
        hours=3,
    )
    for seed in (1, 2):
        result = simulate(scenario, "predictive", seed=seed)
        assert result.human_answered > 500
        assert result.abandon_rate <= 0.03, (seed, result.abandon_rate)


def test_predictive_beats_progressive_and_the_oracle_beats_it() -> None:
    scenario = Scenario(agents=10, hit_rate=0.2, talk_mean_s=60, wrap_mean_s=15, hours=2)
    progressive = simulate(scenario, "progressive", seed=3)
    predictive = simulate(scenario, "predictive", seed=3)
    oracle = simulate(scenario, "oracle", seed=3)
    assert oracle.abandoned == 0
    assert progressive.occupancy + 0.10 < predictive.occupancy < oracle.occupancy
    assert predictive.abandon_rate <= 0.03


def test_line_and_cps_limits_hold_in_a_shift() -> None:
    scenario = Scenario(agents=10, hit_rate=0.1, talk_mean_s=60, wrap_mean_s=15, hours=0.5)
    lines = simulate(scenario, "predictive", seed=1, max_lines=6)
    assert lines.max_lines_used <= 6
    cps = simulate(scenario, "oracle", seed=1, max_cps=0.5)
    assert cps.calls_placed <= 0.5 * 1800 + 1


def test_agents_log_in_and_out_mid_shift() -> None:
    scenario = Scenario(
        agents=10, hit_rate=0.3, talk_mean_s=60, wrap_mean_s=15, hours=2, staffing=((0.5, 5), (1.0, -5))
    )
    result = simulate(scenario, "predictive", seed=2)
    # 10 agents x 2 h + 5 x 0.5 h, plus the minutes the leavers need to finish their calls.
    assert 22.5 <= result.logged_in_hours <= 22.5 + 5 * 0.2
    assert result.abandon_rate <= 0.03


def test_zero_agents_dial_nothing() -> None:
    for policy in ("progressive", "ratio", "vicidial-adaptive", "predictive", "oracle"):
        result = simulate(
            Scenario(agents=0, hit_rate=0.3, talk_mean_s=60, wrap_mean_s=15, hours=0.2), policy, 1
        )
        assert result.calls_placed == 0, policy


def test_cli_prints_the_figures_as_json() -> None:
    args = "--policy predictive --agents 5 --hit-rate 0.2 --talk-mean 60 --wrap-mean 15 --hours 0.5 --seed 4"
    output = CliRunner().invoke(simulate_command, [*args.split(), "--json"])
    assert output.exit_code == 0, output.output
    figures = json.loads(output.output)
    for field in (
        "occupancy",
        "abandon_rate",
        "talk_minutes_per_agent_hour",
        "calls_placed",
        "human_answered",
        "abandoned",
        "mean_agent_wait_s",
    ):
        assert field in figures
    bad = CliRunner().invoke(simulate_command, [*args.split(), "--ring-timeout", "10"])
    assert bad.exit_code != 0
    assert "ring-timeout" in bad.output
