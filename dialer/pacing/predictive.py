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
from dialer.pacing.estimators import FloatArray, LogNormalDurations, OutcomeTimes, Rate
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
        p_new = min(1.0, self._new_call_answer * self._surge())
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

    def _surge(self) -> float:
        """> 1 when the recent answer rate is significantly above the learned one (dial less at once)."""
        learned = self.outcomes.human_rate()
        recent = self.fast_answer_rate
        spread = math.sqrt(learned * (1.0 - learned) / (2.0 * recent.weight - 1.0))
        if recent.value - learned > 3.0 * spread:
            return recent.value / learned
        return 1.0

    def _refresh(self, now: float) -> None:
        if now - self._ring_refreshed_at >= RING_REFRESH_S:
            self._ring_refreshed_at = now
            self._still_to_answer = np.minimum(1.0, self.outcomes.still_to_answer() * self._surge()).tolist()
            delay = self.outcomes.answer_delay()
            self._new_call_answer = float(delay.sum())
            self._answer_delay = delay / max(self._new_call_answer, 1e-12)
        if now - self._agents_refreshed_at >= AGENT_REFRESH_S:
            self._agents_refreshed_at = now
            self._wrap_free, self._talk_free = self._agent_free_tables()

    def _agent_free_tables(self) -> tuple[list[float], list[float]]:
        """Chance an agent in wrap-up (resp. on a call) for e seconds is free when a new call is answered.

        A new call is answered `d` seconds from now (learned distribution) and may wait 2 s: an agent in
        wrap-up for e seconds must finish it by e + d + 2; an agent on a call must finish the call and then
        its wrap-up, i.e. the talk must end within d + 2 - wrap of now. Times are in whole seconds.
        """
        answer = self._answer_delay
        reach = len(answer) + int(GRACE_S)
        wrap_cdf = self.wrap.cdf(np.arange(MAX_WRAP_S + 1 + reach, dtype=np.float64))
        wrap_free = self._completion_chance(wrap_cdf, answer, int(GRACE_S), MAX_WRAP_S + 1)
        wrap_pmf = np.diff(wrap_cdf[: 2 * reach + 1])
        # offsets z = d + grace - w; index i of the convolution is z = i - (len(wrap_pmf) - 1) + grace
        offset_pmf = np.convolve(answer, wrap_pmf[::-1])
        first = len(wrap_pmf) - 1 - int(GRACE_S) + 1  # index of offset z = 1
        positive = offset_pmf[first:] if first >= 0 else offset_pmf
        talk_cdf = self.talk.cdf(np.arange(MAX_TALK_S + 1 + len(positive) + 1, dtype=np.float64))
        talk_free = self._completion_chance(talk_cdf, positive, 1, MAX_TALK_S + 1)
        return wrap_free.tolist(), talk_free.tolist()

    @staticmethod
    def _completion_chance(
        cdf: FloatArray, offset_pmf: FloatArray, first_offset: int, size: int
    ) -> FloatArray:
        """[e]: sum over z of P(offset = z) x P(duration <= e + z | duration > e), z = first_offset + index."""
        window = cdf[first_offset : first_offset + size + len(offset_pmf) - 1]
        reached = np.correlate(window, offset_pmf, mode="valid")[:size]
        now_cdf = cdf[:size]
        survival = np.maximum(1.0 - now_cdf, 1e-12)
        return np.asarray(np.clip((reached - offset_pmf.sum() * now_cdf) / survival, 0.0, 1.0))
