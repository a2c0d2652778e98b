"""Run one simulated shift with a named policy (any `dialer.pacing` policy, or the oracle).

By default the policy runs under the abandon guard, as the engine runs it (`dialer.pacing.guard`);
`guarded=False` runs it bare (the benchmark's baselines, and tests of a policy's own behaviour).
"""

from __future__ import annotations

from typing import Any

from dialer.pacing import POLICIES, AbandonBudget, make_policy, policy_keeps_budget
from dialer.pacing.guard import MAX_GUARD_LIMIT, guarded
from dialer.pacing.policy import PacingPolicy
from dialer.simulation.informed import InformedPolicy
from dialer.simulation.model import Scenario, Shift, ShiftResult
from dialer.simulation.oracle import OraclePolicy

POLICY_NAMES = (*POLICIES, OraclePolicy.name)
# Simulation only, for estimating the ceiling of a dialer that cannot read the future (bench --ceiling).
CEILING_POLICY = InformedPolicy.name


def simulate(
    scenario: Scenario, policy: str, seed: int, *, guard: bool = True, **settings: Any
) -> ShiftResult:
    """Simulate a shift; `settings` go to the policy (e.g. abandon_target, max_lines, max_cps).

    Under the guard, `abandon_target` is also the guard's limit (for any policy; at most 2.9%). The
    oracle is never guarded: it reads the future and drops nothing.
    """
    if policy not in (*POLICY_NAMES, CEILING_POLICY):
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join((*POLICY_NAMES, CEILING_POLICY))}")

    def build(shift: Shift) -> PacingPolicy:
        own = dict(settings)
        if policy == OraclePolicy.name:  # reads the future, never drops: nothing to guard
            own.pop("abandon_target", None)
            return OraclePolicy(shift, **own)
        limit = min(own.get("abandon_target", MAX_GUARD_LIMIT), MAX_GUARD_LIMIT)
        if policy == CEILING_POLICY:  # knows the scenario's distributions; keeps its own budget
            budget = own.setdefault("budget", AbandonBudget())
            informed = InformedPolicy(scenario, **own)
            return guarded(informed, budget, limit=limit, policy_feeds_budget=True) if guard else informed
        keeps_budget = policy_keeps_budget(policy)
        if not keeps_budget:
            own.pop("abandon_target", None)  # the guard's limit only
        if policy == "predictive":
            own.setdefault("ring_timeout_s", scenario.ring_timeout_s)
        budget = own.setdefault("budget", AbandonBudget()) if keeps_budget else AbandonBudget()
        bare = make_policy(policy, **own)
        if not guard:
            return bare
        return guarded(bare, budget, limit=limit, policy_feeds_budget=keeps_budget)

    return Shift(scenario, build, seed).run()
