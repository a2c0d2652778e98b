"""The informed policy (the causal-ceiling estimate): its distributions are the simulator's, its allowance fixed."""

from __future__ import annotations

import numpy as np
import pytest

from dialer.simulation.informed import InformedPolicy
from dialer.simulation.model import HUMAN, Scenario, Shift
from dialer.simulation.runner import simulate

SCENARIO = Scenario(agents=10, hit_rate=0.2, talk_mean_s=60, wrap_mean_s=15, hours=1)


def test_known_outcome_times_are_the_simulators_draws() -> None:
    """The answer-delay histogram the policy is given matches the lead stream's empirical one."""
    shift = Shift(SCENARIO, lambda shift: InformedPolicy(shift.scenario), seed=5)
    leads = 40_000
    human = np.zeros(shift.policy.outcomes.bins)
    other = np.zeros(shift.policy.outcomes.bins)
    for index in range(leads):
        outcome, delay, _, _ = shift.lead(index, 0.0)
        (human if outcome == HUMAN else other)[int(delay)] += 1
    known = shift.policy.outcomes
    assert known.human_rate() == pytest.approx(human.sum() / leads, abs=0.006)
    np.testing.assert_allclose(known.answer_delay(), human / leads, atol=0.004)
    np.testing.assert_allclose(known.other / known.other.sum(), other / other.sum(), atol=0.006)
    # A call still ringing at 19 s is answered by a person only if its ring ends before the 20 s timeout.
    empirical = human[19:].sum() / (human[19:].sum() + other[19:].sum())
    assert known.still_to_answer()[19] == pytest.approx(empirical, abs=0.01)


def test_a_fixed_allowance_stays_fixed_and_a_larger_one_dials_more() -> None:
    low = simulate(SCENARIO, "informed", seed=2, guard=False, aggressiveness=0.005)
    high = simulate(SCENARIO, "informed", seed=2, guard=False, aggressiveness=0.08)
    assert high.calls_placed > low.calls_placed
    assert high.abandoned > low.abandoned
    policies: list[InformedPolicy] = []

    def build(shift: Shift) -> InformedPolicy:
        policies.append(InformedPolicy(shift.scenario, aggressiveness=0.08))
        return policies[0]

    result = Shift(SCENARIO, build, seed=2).run()
    assert result.abandoned > 0
    assert policies[0].aggressiveness(3600.0) == 0.08  # drops did not steer it


def test_the_informed_policy_refuses_a_mid_shift_answer_rate_change() -> None:
    changing = Scenario(
        agents=5, hit_rate=0.3, hit_rate_after=0.1, change_at_h=1, talk_mean_s=60, wrap_mean_s=15, hours=2
    )
    with pytest.raises(ValueError, match="mid-shift change"):
        simulate(changing, "informed", seed=1)
