"""`informed`: predictive's decision rule given the scenario's true distributions (a causal ceiling).

The oracle reads the future draws (which lead a person answers, after how long, when each agent frees
up); no live dialer can. This policy reads only what a perfectly calibrated live dialer could know: the
shift's true answer, machine and busy rates, the ring-time, talk and wrap-up distributions. It does not
see the draws. It runs predictive's model and rule (supply and demand at the moment a new call would be
answered, exact distributions for small teams) with those distributions frozen in place of the learned
ones, no warm-up and no surge detector, either

- steered, as predictive (the allowed overflow moves after every answered call so the abandon rate
  settles at the target), or
- with a fixed allowance (`aggressiveness`, no steer): `bench/pacing.py --ceiling` runs a range of them
  and keeps, per scenario, the best one whose every shift stayed within 3 % ("the best fixed margin in
  hindsight"), an estimate of what a non-clairvoyant dialer can reach.

Simulation only: it reads the `Scenario`. A mid-shift answer-rate change is not supported (it would be
future knowledge of a kind the ceiling is meant to exclude).
"""

from __future__ import annotations

import numpy as np

from dialer.pacing.budget import AbandonBudget
from dialer.pacing.estimators import LogNormalDurations, OutcomeTimes, Rate, lognormal_cdf, lognormal_params
from dialer.pacing.guard import MAX_GUARD_LIMIT
from dialer.pacing.predictive import PredictivePolicy
from dialer.simulation.model import Scenario


class _KnownDurations(LogNormalDurations):
    """A lognormal duration distribution given, not learned: observations change nothing."""

    def __init__(self, mean: float, cv: float) -> None:
        super().__init__(mean, max(cv, 1e-3), prior_weight=1, memory=1)

    def add(self, seconds: float) -> None:
        self.count += 1


class _KnownOutcomes(OutcomeTimes):
    """The true resolution-delay histograms of a scenario (1 s bins, as `OutcomeTimes` keeps them)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(
            prior_human_rate=scenario.hit_rate,
            prior_ring_mean=scenario.ring_mean_s,
            ring_timeout_s=scenario.ring_timeout_s,
            prior_weight=1,
            memory=1,
        )
        s = scenario
        timeout_bin = min(self.bins - 1, int(s.ring_timeout_s))
        mu, sigma = lognormal_params(s.ring_mean_s, max(s.ring_cv, 1e-3))
        edges = np.arange(self.bins + 1, dtype=np.float64)
        ring = np.diff(lognormal_cdf(edges, mu, sigma))
        ring[timeout_bin:] = 0.0  # a ring of at least the timeout is a no-answer, resolved at the timeout
        rings_out = 1.0 - float(ring.sum())
        self.human = s.hit_rate * ring
        self.other = s.machine_rate * ring
        self.other[timeout_bin] += (s.hit_rate + s.machine_rate) * rings_out
        self.other[timeout_bin] += 1.0 - s.hit_rate - s.machine_rate - s.busy_rate
        self.other[min(self.bins - 1, int(s.busy_signal_s))] += s.busy_rate

    def add(self, delay_s: float, human: bool) -> None:
        self.observed += 1


class _KnownRate(Rate):
    def add(self, yes: bool) -> None:
        return None


class InformedPolicy(PredictivePolicy):
    name = "informed"

    def __init__(
        self,
        scenario: Scenario,
        *,
        aggressiveness: float | None = None,
        abandon_target: float = MAX_GUARD_LIMIT,
        budget: AbandonBudget | None = None,
        max_lines: int | None = None,
        max_cps: float | None = None,
    ) -> None:
        if scenario.change_at_h is not None:
            raise ValueError("the informed policy knows one answer rate: no mid-shift change")
        if aggressiveness is not None and not aggressiveness > 0:
            raise ValueError(f"aggressiveness must be > 0, got {aggressiveness}")
        super().__init__(
            abandon_target=abandon_target,
            budget=budget,
            ring_timeout_s=scenario.ring_timeout_s,
            max_lines=max_lines,
            max_cps=max_cps,
        )
        self.fixed_aggressiveness = aggressiveness
        self.outcomes = _KnownOutcomes(scenario)
        self.fast_answer_rate = _KnownRate(scenario.hit_rate, prior_weight=1, memory=1)
        self.talk = _KnownDurations(scenario.talk_mean_s, scenario.talk_cv)
        self.wrap = _KnownDurations(scenario.wrap_mean_s, scenario.wrap_cv)

    def aggressiveness(self, now: float) -> float:
        if self.fixed_aggressiveness is not None:
            return self.fixed_aggressiveness
        return float(self.base_aggressiveness * np.exp(self.log_steer))  # known distributions: no warm-up

    def _steer(self, dropped: bool, now: float) -> None:
        if self.fixed_aggressiveness is None:
            super()._steer(dropped, now)

    def _surge(self) -> float:
        return 1.0  # the answer rate is known: nothing to detect
