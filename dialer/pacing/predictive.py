"""`predictive`: Clearline's pacing: dial ahead so person-answered calls land as agents free up.

Every time it is asked, the policy compares, at the moment a call placed now would be answered
(plus the 2 s the law allows to connect an agent):
- supply: agents READY now, plus each agent in wrap-up or on a call weighted by the chance it is free by
  then (from its time in that state and the learned talk and wrap-up distributions);
- demand: answered calls waiting for an agent, plus each ringing call weighted by the chance a person
  will still answer it (from its ringing time and the learned answer-time histograms);
and places the largest number k of new calls for which the expected overflow (answers finding no agent,
normal approximation) stays within `aggressiveness` x the expected answers. The aggressiveness is steered
by the campaign's rolling abandon budget (integral control on the slack to the target rate, default
2.2%), is cautious while the estimates warm up, and falls back to progressive dialing when the rolling
rate nears the legal limit. A fast answer-rate detector makes it dial less at once when answers surge.
"""

from __future__ import annotations

import math

import numpy as np

from dialer.pacing.budget import LEGAL_LIMIT, AbandonBudget
from dialer.pacing.estimators import LogNormalDurations, OutcomeTimes, Rate
from dialer.pacing.events import (
    AgentReady,
    AgentWrap,
    CallAbandoned,
    CallAnsweredHuman,
    CallAnsweredMachine,
    CallBusy,
    CallNoAnswer,
    PacingEvent,
)
from dialer.pacing.policy import BUSY, DIALING, WRAP, PacingPolicy, Previous

GRACE_S = 2.0  # an answered call must reach an agent within 2 s
MAX_TALK_S = 3_600
MAX_WRAP_S = 900
RING_REFRESH_S = 10.0
AGENT_REFRESH_S = 60.0
SQRT_2PI = math.sqrt(2.0 * math.pi)


def expected_overflow(mean: float, variance: float) -> float:
    """E[max(X, 0)] for X ~ Normal(mean, variance)."""
    if variance <= 1e-12:
        return max(mean, 0.0)
    sd = math.sqrt(variance)
    z = mean / sd
    return sd * math.exp(-0.5 * z * z) / SQRT_2PI + mean * 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


class PredictivePolicy(PacingPolicy):
    name = "predictive"

    def __init__(
        self,
        *,
        abandon_target: float = 0.022,
        budget: AbandonBudget | None = None,
        ring_timeout_s: float = 20.0,
        aggressiveness: float = 0.02,
        control_gain: float = 0.08,
        max_lines: int | None = None,
        max_cps: float | None = None,
    ) -> None:
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        if not 0 < abandon_target < LEGAL_LIMIT:
            raise ValueError(f"abandon_target must be between 0 and {LEGAL_LIMIT}, got {abandon_target}")
        if ring_timeout_s < 15:
            raise ValueError(f"ring_timeout_s must be at least 15 s (the law), got {ring_timeout_s}")
        self.abandon_target = abandon_target
        self.budget = budget if budget is not None else AbandonBudget()
        self.base_aggressiveness = aggressiveness
        self.control_gain = control_gain
        self.outcomes = OutcomeTimes(
            prior_human_rate=0.3,
            prior_ring_mean=8.0,
            ring_timeout_s=ring_timeout_s,
            prior_weight=30,
            memory=400,
        )
        self.fast_answer_rate = Rate(0.3, prior_weight=10, memory=60)
        self.talk = LogNormalDurations(120.0, 1.0, prior_weight=5, memory=500)
        self.wrap = LogNormalDurations(20.0, 0.6, prior_weight=5, memory=300)
        self._ring_refreshed_at = -math.inf
        self._agents_refreshed_at = -math.inf
        self._still_to_answer: list[float] = []
        self._new_call_answer = 0.0
        self._answer_delay = np.zeros(1)
        self._wrap_free: list[float] = []
        self._talk_free: list[float] = []

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        previous = super().observe(event, now)
        if previous is None:
            return None
        if isinstance(event, CallAnsweredHuman):
            self.outcomes.add(now - previous.since, True)
            self.fast_answer_rate.add(True)
            self.budget.add(now, human_answered=1)
        elif isinstance(event, CallAnsweredMachine | CallNoAnswer | CallBusy):
            if previous.state == DIALING:
                self.outcomes.add(now - previous.since, False)
                self.fast_answer_rate.add(False)
        elif isinstance(event, CallAbandoned):
            self.budget.add(now, dropped=1)
        elif isinstance(event, AgentWrap) and previous.state == BUSY:
            self.talk.add(now - previous.since)
        elif isinstance(event, AgentReady) and previous.state == WRAP:
            self.wrap.add(now - previous.since)
        return previous

    def aggressiveness(self, now: float) -> float:
        """Allowed expected overflow per expected answer, steered by the rolling abandon budget."""
        slack = self.budget.slack(now, self.abandon_target)
        steer = min(1.0, max(-5.0, self.control_gain * slack))
        answered = self.budget.human_answered(now)
        warm_up = min(1.0, (answered + 20.0) / 200.0)
        return self.base_aggressiveness * warm_up * math.exp(steer)

    def _wanted(self, now: float) -> int:
        floor = self.floor
        progressive = floor.ready - floor.dialing - floor.waiting
        budget = self.budget
        answered = budget.human_answered(now)
        if answered >= 50 and budget.dropped(now) + 1 > (LEGAL_LIMIT - 0.003) * (answered + 1):
            return progressive
        self._refresh(now)
        supply = float(floor.ready)
        supply_var = 0.0
        wrap_free, talk_free = self._wrap_free, self._talk_free
        for state, since in floor.agents.values():
            if state == WRAP:
                p = wrap_free[min(int(now - since), MAX_WRAP_S)]
            elif state == BUSY:
                p = talk_free[min(int(now - since), MAX_TALK_S)]
            else:
                continue
            supply += p
            supply_var += p * (1.0 - p)
        demand = float(floor.waiting)
        demand_var = 0.0
        still = self._still_to_answer
        last = len(still) - 1
        for state, since in floor.calls.values():
            if state == DIALING:
                q = still[min(int(now - since), last)]
                demand += q
                demand_var += q * (1.0 - q)
        p_new = self._new_call_answer * max(1.0, self.fast_answer_rate.value / self.outcomes.human_rate())
        p_new = min(p_new, 1.0)
        allowance = self.aggressiveness(now)
        cap = max(0, self.headroom(now))

        def fits(k: int) -> bool:
            answers = demand + k * p_new
            overflow = expected_overflow(answers - supply, demand_var + supply_var + k * p_new * (1 - p_new))
            return overflow <= allowance * answers

        if cap == 0 or not fits(1):
            return max(progressive, 0)
        low, high = 1, 2
        while high <= cap and fits(high):
            low, high = high, high * 2
        high = min(high, cap + 1)
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return max(low, progressive)

    def _refresh(self, now: float) -> None:
        if now - self._ring_refreshed_at >= RING_REFRESH_S:
            self._ring_refreshed_at = now
            surge = max(1.0, self.fast_answer_rate.value / self.outcomes.human_rate())
            self._still_to_answer = np.minimum(1.0, self.outcomes.still_to_answer() * surge).tolist()
            delay = self.outcomes.answer_delay()
            self._new_call_answer = float(delay.sum())
            self._answer_delay = delay / max(self._new_call_answer, 1e-12)
        if now - self._agents_refreshed_at >= AGENT_REFRESH_S:
            self._agents_refreshed_at = now
            self._wrap_free, self._talk_free = self._agent_free_tables()

    def _agent_free_tables(self) -> tuple[list[float], list[float]]:
        """Chance an agent in wrap-up (resp. on a call) for e seconds is free when a new call is answered."""
        # Offsets z = answer delay + grace - remaining wrap-up: the agent must be free by now + z.
        answer = self._answer_delay
        wrap_grid = np.arange(MAX_WRAP_S + 1, dtype=np.float64)
        wrap_survival = np.maximum(1.0 - self.wrap.cdf(wrap_grid), 1e-12)
        wrap_free = np.zeros(MAX_WRAP_S + 1)
        for delay, weight in enumerate(answer):
            if weight < 1e-6:
                continue
            reach = self.wrap.cdf(wrap_grid + delay + GRACE_S)
            wrap_free += weight * np.clip((reach - (1.0 - wrap_survival)) / wrap_survival, 0.0, 1.0)
        # On a call: free by now + delay + grace needs talk end + wrap <= that; wrap is drawn afterwards.
        wrap_pmf = np.diff(self.wrap.cdf(np.arange(0, 121, dtype=np.float64)))
        # Distribution of (answer delay + grace - wrap-up): the talk must end within that offset.
        offsets: dict[int, float] = {}
        for delay, weight in enumerate(answer):
            if weight < 1e-6:
                continue
            for wrap_s, wrap_weight in enumerate(wrap_pmf):
                offset = delay + int(GRACE_S) - wrap_s
                if offset > 0 and wrap_weight > 1e-6:
                    offsets[offset] = offsets.get(offset, 0.0) + float(weight * wrap_weight)
        talk_grid = np.arange(MAX_TALK_S + 1, dtype=np.float64)
        talk_cdf_now = self.talk.cdf(talk_grid)
        talk_survival = np.maximum(1.0 - talk_cdf_now, 1e-12)
        talk_free = np.zeros(MAX_TALK_S + 1)
        for offset, offset_weight in offsets.items():
            talk_free += offset_weight * (self.talk.cdf(talk_grid + offset) - talk_cdf_now) / talk_survival
        return wrap_free.tolist(), np.clip(talk_free, 0.0, 1.0).tolist()
