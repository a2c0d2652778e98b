"""Run one simulated shift with a named policy (any `dialer.pacing` policy, or the oracle)."""

from __future__ import annotations

from typing import Any

from dialer.pacing import POLICIES, make_policy
from dialer.pacing.policy import PacingPolicy
from dialer.simulation.model import Scenario, Shift, ShiftResult
from dialer.simulation.oracle import OraclePolicy

POLICY_NAMES = (*POLICIES, OraclePolicy.name)


def simulate(scenario: Scenario, policy: str, seed: int, **settings: Any) -> ShiftResult:
    """Simulate a shift; `settings` go to the policy (e.g. abandon_target, max_lines, max_cps)."""
    if policy not in POLICY_NAMES:
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICY_NAMES)}")

    def build(shift: Shift) -> PacingPolicy:
        if policy == OraclePolicy.name:
            return OraclePolicy(shift, **settings)
        if policy == "predictive":
            settings.setdefault("ring_timeout_s", scenario.ring_timeout_s)
        return make_policy(policy, **settings)

    return Shift(scenario, build, seed).run()
