"""`predictive`: Clearline's pacing: dial ahead so person-answered calls land as agents free up.

Every time it is asked, the policy compares, at the moment a call placed now would be answered
(plus the 2 s the law allows to connect an agent):
- supply: agents READY now, plus each agent in wrap-up or on a call weighted by the chance it is free by
  then (from its time in that state and the learned talk and wrap-up distributions);
- demand: answered calls waiting for an agent, plus each ringing call weighted by the chance a person
  will still answer it (from its ringing time and the learned answer-time histograms);
and places the largest number k of new calls for which the expected overflow (answers finding no agent,
normal approximation) stays within `aggressiveness` x the expected answers. The aggressiveness is learned
online: after each person-answered call it moves up a little when the call reached an agent and down
when it was dropped, so the abandon rate settles at its steer target, plus a share of the campaign's
rolling 30-day budget slack (a good history buys a little room, an overspent one is repaid).
`abandon_target` is the rate the campaign must stay under, the limit the engine's guard holds (the
campaign's `abandon_target`, at most 2.9 %, the default); the steer aims `STEER_HEADROOM` under it
(`steer_target`): 2.6 % by default, 2.2 % for a campaign at its default 2.5 %.
It is cautious while the estimates warm up; a fast answer-rate detector dials less at once when answers
surge. The legal limit itself is enforced on top of it, as on every policy, by `dialer.pacing.guard`.

The policy keeps its `AbandonBudget` up to date itself from `CallAnsweredHuman` and `CallAbandoned`:
callers seed the budget with the campaign's history (`dialer.abandon_report.seed_budget`) and must not
add live answers or drops to it again.
"""

from __future__ import annotations

import math

import numpy as np

from core.legal import ABANDON_LIMIT, AGENT_CONNECT_DEADLINE_S
from dialer.pacing.budget import AbandonBudget
from dialer.pacing.estimators import FloatArray, LogNormalDurations, OutcomeTimes, Rate
from dialer.pacing.events import (
    AgentId,
    AgentReady,
    AgentWrap,
    CallAbandoned,
    CallAnsweredHuman,
    CallAnsweredMachine,
    CallBusy,
    CallConnected,
    CallEnded,
    CallFailed,
    CallId,
    CallNoAnswer,
    PacingEvent,
)
from dialer.pacing.guard import MAX_GUARD_LIMIT
from dialer.pacing.policy import BUSY, DIALING, SAFE_HARBOR, WAITING, WRAP, PacingPolicy, Previous

GRACE_S = AGENT_CONNECT_DEADLINE_S  # an answered call must reach an agent within 2 s
MAX_TALK_S = 3_600
MAX_WRAP_S = 900
RING_REFRESH_S = 10.0
AGENT_REFRESH_S = 60.0
SQRT_2PI = math.sqrt(2.0 * math.pi)
SMALL_TEAM = 10
EXACT_TEAM = 10  # up to this many agents, exact distributions (at 25 the normal approximation does as well)
MIN_STEER, MAX_STEER = math.log(0.05), math.log(20.0)
# How far under the guard's limit the steer aims. Aimed at the limit itself, the rolling rate sits over
# it half the time and the guard then stops every call ahead of the agents (measured, 5 and 10 agents x
# 6 cells x 3 seeds x 8 h, guard at 2.5 %: 0.742 and 0.762 of the oracle aimed at 2.5 %, 0.756 and
# 0.820 aimed at 2.2 %; 0.2 or 0.4 point under the limit did no better, at a 2.0 % and a 2.9 % limit too).
STEER_HEADROOM = 0.003


def steer_target(abandon_target: float) -> float:
    """The abandon rate predictive steers to when the campaign must stay under `abandon_target`."""
    return abandon_target - min(STEER_HEADROOM, abandon_target / 2)


def _point(value: int) -> FloatArray:
    pmf = np.zeros(value + 1)
    pmf[value] = 1.0
    return pmf


def binomial_pmf(n: int, p: float) -> FloatArray:
    """P(X = i) for i = 0..n, X ~ Binomial(n, p)."""
    p = min(1.0, max(0.0, p))
    pmf = np.zeros(n + 1)
    if p >= 1.0:
        pmf[n] = 1.0
        return pmf
    ratio = p / (1.0 - p)
    value = (1.0 - p) ** n
    for i in range(n + 1):
        pmf[i] = value
        value *= ratio * (n - i) / (i + 1)
    return pmf


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
        abandon_target: float = MAX_GUARD_LIMIT,
        budget: AbandonBudget | None = None,
        ring_timeout_s: float = 20.0,
        aggressiveness: float = 0.002,
        control_gain: float = 0.4,
        slack_horizon: float = 800.0,
        max_lines: int | None = None,
        max_cps: float | None = None,
    ) -> None:
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        if not 0 < abandon_target <= ABANDON_LIMIT:
            raise ValueError(f"abandon_target must be in (0, {ABANDON_LIMIT}], got {abandon_target}")
        if ring_timeout_s < 15:
            raise ValueError(f"ring_timeout_s must be at least 15 s (the law), got {ring_timeout_s}")
        self.abandon_target = abandon_target
        self.steer_target = steer_target(abandon_target)
        self.budget = budget if budget is not None else AbandonBudget()
        self.base_aggressiveness = aggressiveness
        self.control_gain = control_gain
        self.slack_horizon = slack_horizon
        self.log_steer = 0.0
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
        self._dialing_by_second: dict[int, int] = {}
        self._call_group: dict[CallId, int] = {}
        self._agents_by_state_since: dict[tuple[int, float], int] = {}
        self._agent_group: dict[AgentId, tuple[int, float]] = {}

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        previous = super().observe(event, now)
        call_id = getattr(event, "call_id", None)
        if call_id is not None:
            self._regroup_call(call_id)
        agent_id = getattr(event, "agent_id", None)
        if agent_id is not None:
            self._regroup_agent(agent_id)
        if previous is None:
            return None
        if isinstance(event, CallAnsweredHuman):
            self.outcomes.add(now - previous.since, True)
            self.fast_answer_rate.add(True)
            self.budget.add(now, human_answered=1)
        elif isinstance(event, CallAnsweredMachine | CallNoAnswer | CallBusy | CallFailed | CallEnded):
            # Any end of a call no person answered (whatever the engine calls it) is a non-human outcome.
            if previous.state == DIALING:
                self.outcomes.add(now - previous.since, False)
                self.fast_answer_rate.add(False)
        elif isinstance(event, CallAbandoned) and previous.state != SAFE_HARBOR:  # once per call
            self.budget.add(now, dropped=1)
            self._steer(True, now)
        elif isinstance(event, CallConnected) and previous.state == WAITING:
            self._steer(False, now)
        elif isinstance(event, AgentWrap) and previous.state == BUSY:
            self.talk.add(now - previous.since)
        elif isinstance(event, AgentReady) and previous.state == WRAP:
            self.wrap.add(now - previous.since)
        return previous

    def _regroup_call(self, call_id: CallId) -> None:
        """Keep ringing calls counted per placement second: a tick then costs O(seconds), not O(calls)."""
        groups = self._dialing_by_second
        old = self._call_group.pop(call_id, None)
        if old is not None:
            groups[old] -= 1
            if not groups[old]:
                del groups[old]
        call = self.floor.calls.get(call_id)
        if call is not None and call[0] == DIALING:
            second = int(call[1])
            self._call_group[call_id] = second
            groups[second] = groups.get(second, 0) + 1

    def _regroup_agent(self, agent_id: AgentId) -> None:
        groups = self._agents_by_state_since
        old = self._agent_group.pop(agent_id, None)
        if old is not None:
            groups[old] -= 1
            if not groups[old]:
                del groups[old]
        agent = self.floor.agents.get(agent_id)
        if agent is not None and agent[0] in (WRAP, BUSY):
            key = (int(agent[0]), agent[1])
            self._agent_group[agent_id] = key
            groups[key] = groups.get(key, 0) + 1

    def aggressiveness(self, now: float) -> float:
        """Allowed expected overflow per expected answer: the base value times the learned steer."""
        answered = self.budget.human_answered(now)
        warm_up = min(1.0, (answered + 50.0) / 150.0)
        return self.base_aggressiveness * warm_up * math.exp(self.log_steer)

    def _steer(self, dropped: bool, now: float) -> None:
        """After each person-answered call's fate: move the steer so the rolling rate goes to the target.

        Error = (steer target - this call dropped) plus a share of the budget's slack (drops saved or overspent
        over the window, spent slowly and repaid faster), so a good history buys a little room and a bad
        one makes the dialer careful until it is repaid.
        """
        slack = self.budget.slack(now, self.steer_target)
        correction = min(0.005, max(-0.02, slack / self.slack_horizon))
        error = self.steer_target + correction - (1.0 if dropped else 0.0)
        # Big teams answer many calls an hour: smaller steps keep the steer as quick (in time) but steadier.
        gain = self.control_gain * min(1.0, math.sqrt(SMALL_TEAM / max(1, self.floor.working_agents)))
        self.log_steer = min(MAX_STEER, max(MIN_STEER, self.log_steer + gain * error))

    def _wanted(self, now: float) -> int:
        floor = self.floor
        progressive = floor.ready - floor.dialing - floor.waiting
        self._refresh(now)
        exact = floor.working_agents <= EXACT_TEAM
        supply = float(floor.ready)
        supply_var = 0.0
        supply_pmf = _point(floor.ready) if exact else None
        wrap_free, talk_free = self._wrap_free, self._talk_free
        for (state, since), count in self._agents_by_state_since.items():
            if state == WRAP:
                p = wrap_free[min(int(now - since), MAX_WRAP_S)]
            else:
                p = talk_free[min(int(now - since), MAX_TALK_S)]
            supply += count * p
            supply_var += count * p * (1.0 - p)
            if supply_pmf is not None:
                supply_pmf = np.convolve(supply_pmf, binomial_pmf(count, p))
        demand = float(floor.waiting)
        demand_var = 0.0
        demand_pmf = _point(floor.waiting) if exact else None
        still = self._still_to_answer
        last = len(still) - 1
        for since_second, count in self._dialing_by_second.items():
            q = still[min(int(now) - since_second, last)]
            demand += count * q
            demand_var += count * q * (1.0 - q)
            if demand_pmf is not None:
                demand_pmf = np.convolve(demand_pmf, binomial_pmf(count, q))
        p_new = min(1.0, self._new_call_answer * self._surge())
        allowance = self.aggressiveness(now)
        cap = max(0, self.headroom(now))

        base_var = demand_var + supply_var
        if demand_pmf is not None and supply_pmf is not None:
            # Exact distribution of (answers - free agents): offset len(supply_pmf) - 1 is zero.
            excess_pmf = np.convolve(demand_pmf, supply_pmf[::-1])
            zero = len(supply_pmf) - 1

            def fits(k: int) -> bool:
                answers = demand + k * p_new
                pmf = np.convolve(excess_pmf, binomial_pmf(k, p_new))
                values = np.arange(len(pmf)) - zero
                overflow = float(pmf[zero + 1 :] @ values[zero + 1 :]) if len(pmf) > zero + 1 else 0.0
                return overflow <= allowance * answers

        else:

            def fits(k: int) -> bool:
                answers = demand + k * p_new
                overflow = expected_overflow(answers - supply, base_var + k * p_new * (1 - p_new))
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

        A new call is answered d seconds from now (learned distribution) and may wait 2 s: an agent in
        wrap-up for e seconds must finish it by e + d + 2; an agent on a call must finish the call and then
        its wrap-up, i.e. the talk must end within z = d + 2 - wrap of now. Elapsed times, answer delays
        and wrap-ups are whole-second bins, taken at their middles.
        """
        answer = self._answer_delay
        grace = int(GRACE_S)
        wrap_free = self._completion_chance(self.wrap, answer, grace + 1.0, MAX_WRAP_S + 1)
        wrap_pmf = np.diff(self.wrap.cdf(np.arange(0, 2 * (len(answer) + grace) + 2, dtype=np.float64)))
        # Index i of the convolution is z = i - (len(wrap_pmf) - 1) + grace; keep z >= 1.
        offset_pmf = np.convolve(answer, wrap_pmf[::-1])
        positive = offset_pmf[max(0, len(wrap_pmf) - grace) :]
        talk_free = self._completion_chance(self.talk, positive, 1.5, MAX_TALK_S + 1)
        return wrap_free.tolist(), talk_free.tolist()

    @staticmethod
    def _completion_chance(
        duration: LogNormalDurations, offset_pmf: FloatArray, first_reach: float, size: int
    ) -> FloatArray:
        """[e]: sum over i of offset_pmf[i] x P(D <= e + first_reach + i | D > e + 0.5)."""
        window = duration.cdf(np.arange(size + len(offset_pmf) - 1, dtype=np.float64) + first_reach)
        reached = np.correlate(window, offset_pmf, mode="valid")[:size]
        now_cdf = duration.cdf(np.arange(size, dtype=np.float64) + 0.5)
        survival = np.maximum(1.0 - now_cdf, 1e-12)
        return np.asarray(np.clip((reached - offset_pmf.sum() * now_cdf) / survival, 0.0, 1.0))
