"""A seeded discrete-event model of one outbound shift, driving a real `dialer.pacing` policy.

Events sit in a heap (no clock ticking by the millisecond); the policy is told every agent and call
event and is asked for calls once a second. Leads are a pre-drawn random stream (outcome draw, ring,
talk and wrap-up times per lead) taken in order, so every policy run with the same seed meets the same
people: comparisons between policies use common random numbers.

Rules modelled: a person answers after a lognormal ring time (or the call rings out at the ring
timeout, >= 15 s); machines answer like people; busy lines fail after a few seconds; an answered person
is connected to the longest-idle READY agent, or waits; with no agent within 2 s the call is abandoned
(the safe-harbor message then holds the line). Talk and wrap-up times are lognormal. The answer rate
may change mid-shift; agents may log in and out (a leaving agent finishes its call and wrap-up first).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.legal import AGENT_CONNECT_DEADLINE_S, MIN_RING_S
from dialer.pacing.baselines import PreviewPolicy
from dialer.pacing.events import (
    AgentLoggedOut,
    AgentReady,
    AgentWrap,
    CallAbandoned,
    CallAnsweredHuman,
    CallAnsweredMachine,
    CallBusy,
    CallConnected,
    CallEnded,
    CallNoAnswer,
    CallPlaced,
    PreviewDialRequested,
)
from dialer.pacing.policy import PacingPolicy

ABANDON_AFTER_S = AGENT_CONNECT_DEADLINE_S
HUMAN, MACHINE, BUSY_LINE, NO_ANSWER = 0, 1, 2, 3
# Event kinds; at equal times a lower kind runs first, so an agent freed exactly at the 2 s deadline
# still takes the call (connect within 2 s is inclusive).
_WRAP_END, _TALK_END, _RESOLVE, _STAFF, _PREVIEW, _SAFE_HARBOR_END, _ABANDON_CHECK, _TICK = range(8)
_LEAD_CHUNK = 4096


@dataclass(frozen=True)
class Scenario:
    """One shift's parameters (times in seconds unless named otherwise)."""

    agents: int
    hit_rate: float  # chance a person answers
    talk_mean_s: float
    wrap_mean_s: float
    machine_rate: float = 0.15
    busy_rate: float = 0.05
    ring_mean_s: float = 8.0
    ring_cv: float = 0.5
    ring_timeout_s: float = 20.0
    talk_cv: float = 0.8
    wrap_cv: float = 0.5
    hours: float = 8.0
    hit_rate_after: float | None = None
    change_at_h: float | None = None
    staffing: tuple[tuple[float, int], ...] = ()  # (hour, agents logging in (>0) or out (<0))
    busy_signal_s: float = 3.0
    safe_harbor_s: float = 10.0
    preview_review_s: float = 10.0  # how long a preview agent looks at a lead before dialling it

    def __post_init__(self) -> None:
        problems = []
        if self.agents < 0:
            problems.append("agents must be >= 0")
        for name in ("hit_rate", "machine_rate", "busy_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        for rate in (self.hit_rate, self.hit_rate_after if self.hit_rate_after is not None else 0.0):
            if rate + self.machine_rate + self.busy_rate > 1.0 + 1e-9:
                problems.append("hit rate + machine rate + busy rate must not exceed 1")
        if self.ring_timeout_s < MIN_RING_S:
            problems.append("ring_timeout_s must be at least 15 s (the law requires 15 s or 4 rings)")
        for name in ("talk_mean_s", "wrap_mean_s", "ring_mean_s", "hours"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        if (self.hit_rate_after is None) != (self.change_at_h is None):
            problems.append("hit_rate_after and change_at_h go together")
        if problems:
            raise ValueError("; ".join(problems))

    def hit_rate_at(self, t: float) -> float:
        if self.change_at_h is not None and self.hit_rate_after is not None and t >= self.change_at_h * 3600:
            return self.hit_rate_after
        return self.hit_rate


@dataclass
class ShiftResult:
    policy: str
    seed: int
    agents: int
    occupancy: float  # talk time / logged-in time
    abandon_rate: float  # abandoned / human-answered
    talk_minutes_per_agent_hour: float
    calls_placed: int
    human_answered: int
    abandoned: int
    connected: int
    machine: int
    busy: int
    no_answer: int
    mean_agent_wait_s: float  # idle READY time per connected call
    logged_in_hours: float
    max_lines_used: int
    abandoned_calls: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["abandoned_calls"]
        return data


def _lognormal(mean: float, cv: float, z: np.ndarray) -> np.ndarray:
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.asarray(np.exp(math.log(mean) - sigma * sigma / 2 + sigma * z))


class Shift:
    """One simulated shift. `run()` once; the oracle reads the future through `lead` and `agent_free_times`."""

    def __init__(
        self, scenario: Scenario, policy_factory: Callable[[Shift], PacingPolicy], seed: int
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._draw_u: list[float] = []
        self._ring: list[float] = []
        self._talk: list[float] = []
        self._wrap: list[float] = []
        self.next_lead = 0
        self.now = 0.0
        self.end = scenario.hours * 3600.0
        # agent state: 0 ready, 1 on a call, 2 wrap-up, 4 logged out
        self.agent_state: list[int] = []
        self.agent_since: list[float] = []
        self.agent_free_at: list[float] = []  # when the current call + wrap-up ends (known to the oracle)
        self._leaving: set[int] = set()
        self._logged_in_since: dict[int, float] = {}
        self._ready: deque[int] = deque()
        self._waiting: deque[int] = deque()
        self.call_lead: dict[int, int] = {}
        self.call_answer_at: dict[int, float] = {}  # person-answered calls still ringing: answer time
        self._call_state: dict[int, int] = {}  # 0 ringing, 1 waiting, 2 connected, 3 over
        self._preview_owner: dict[int, int] = {}
        self._preview_requests: deque[int] = deque()
        self._agent_call: dict[int, int] = {}
        self._logged_out_s = 0.0
        self._talk_after_end = 0.0
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self.policy = policy_factory(self)
        # Agents ask for preview calls when the policy (or the one under the abandon guard) is preview.
        self._preview = isinstance(getattr(self.policy, "inner", self.policy), PreviewPolicy)

    # --- the lead stream -------------------------------------------------------------------------
    def _extend_leads(self, upto: int) -> None:
        s = self.scenario
        while len(self._draw_u) <= upto:
            rng = self._rng
            self._draw_u.extend(rng.random(_LEAD_CHUNK).tolist())
            self._ring.extend(_lognormal(s.ring_mean_s, s.ring_cv, rng.standard_normal(_LEAD_CHUNK)).tolist())
            self._talk.extend(_lognormal(s.talk_mean_s, s.talk_cv, rng.standard_normal(_LEAD_CHUNK)).tolist())
            self._wrap.extend(_lognormal(s.wrap_mean_s, s.wrap_cv, rng.standard_normal(_LEAD_CHUNK)).tolist())

    def lead(self, index: int, placed_at: float) -> tuple[int, float, float, float]:
        """(outcome, seconds until it resolves, talk, wrap-up) of lead `index` if dialled at `placed_at`."""
        if index >= len(self._draw_u):
            self._extend_leads(index)
        s = self.scenario
        u = self._draw_u[index]
        hit = s.hit_rate_at(placed_at)
        if u < hit + s.machine_rate:
            ring = self._ring[index]
            if ring >= s.ring_timeout_s:
                return NO_ANSWER, s.ring_timeout_s, 0.0, 0.0
            return (HUMAN if u < hit else MACHINE), ring, self._talk[index], self._wrap[index]
        if u < hit + s.machine_rate + s.busy_rate:
            return BUSY_LINE, s.busy_signal_s, 0.0, 0.0
        return NO_ANSWER, s.ring_timeout_s, 0.0, 0.0

    def agent_free_times(self) -> list[float]:
        """When each working agent can next take a call (now for READY agents)."""
        now = self.now
        times = []
        for agent, state in enumerate(self.agent_state):
            if state == 0:
                times.append(now)
            elif state in (1, 2) and agent not in self._leaving:
                times.append(max(now, self.agent_free_at[agent]))
        return times

    def waiting_calls(self) -> list[int]:
        return [call for call in self._waiting if self._call_state.get(call) == 1]

    # --- the event loop ----------------------------------------------------------------------------
    def _push(self, at: float, kind: int, subject: int) -> None:
        heapq.heappush(self._heap, (at, kind, self._seq, subject))
        self._seq += 1

    def run(self) -> ShiftResult:
        s = self.scenario
        policy = self.policy
        observe = policy.observe
        for _ in range(s.agents):
            self._log_in(0.0)
        for hour, change in s.staffing:
            self._push(hour * 3600.0, _STAFF, change)
        self._push(0.0, _TICK, 0)
        heap = self._heap
        call_lead, call_state, lead = self.call_lead, self._call_state, self.lead
        talk_s = 0.0
        idle_s = 0.0
        placed = human = abandoned = connected = machine = busy = no_answer = 0
        max_lines = 0
        abandoned_calls: list[int] = []
        end = self.end
        while heap:
            now, kind, _, subject = heapq.heappop(heap)
            self.now = now
            if kind == _TICK:
                if now >= end:
                    continue
                n = policy.calls_to_place(now)
                for _ in range(n):
                    call = self.next_lead
                    self.next_lead += 1
                    placed += 1
                    outcome, delay, _, _ = lead(call, now)
                    call_lead[call] = call
                    call_state[call] = 0
                    observe(CallPlaced(call), now)
                    if outcome == HUMAN:
                        self.call_answer_at[call] = now + delay
                    self._push(now + delay, _RESOLVE, call * 4 + outcome)
                    if self._preview and self._preview_requests:
                        self._preview_owner[call] = self._preview_requests.popleft()
                max_lines = max(max_lines, policy.floor.lines_in_use)
                self._push(now + 1.0, _TICK, 0)
            elif kind == _RESOLVE:
                call, outcome = divmod(subject, 4)
                if outcome == HUMAN:
                    del self.call_answer_at[call]
                    human += 1
                    observe(CallAnsweredHuman(call), now)
                    agent = self._preview_owner.pop(call, None) if self._preview else None
                    if agent is None or self.agent_state[agent] != 0:
                        agent = self._pop_ready()
                    else:
                        self._ready.remove(agent)
                    if agent is None:
                        call_state[call] = 1
                        self._waiting.append(call)
                        self._push(now + ABANDON_AFTER_S, _ABANDON_CHECK, call)
                    else:
                        idle_s += now - self.agent_since[agent]
                        connected += 1
                        talk_s += self._connect(call, agent, now)
                else:
                    call_state[call] = 3
                    if outcome == MACHINE:
                        machine += 1
                        observe(CallAnsweredMachine(call), now)
                    elif outcome == BUSY_LINE:
                        busy += 1
                        observe(CallBusy(call), now)
                    else:
                        no_answer += 1
                        observe(CallNoAnswer(call), now)
                    if self._preview:
                        owner = self._preview_owner.pop(call, None)
                        if owner is not None and self.agent_state[owner] == 0:
                            self._push(now + s.preview_review_s, _PREVIEW, owner)
            elif kind == _WRAP_END:
                agent = subject
                if agent in self._leaving:
                    self._log_out(agent, now)
                    continue
                observe(AgentReady(agent), now)
                waiting_call = self._pop_waiting()
                if waiting_call is None:
                    self._set_ready(agent, now)
                else:
                    connected += 1
                    talk_s += self._connect(waiting_call, agent, now)
            elif kind == _TALK_END:
                agent = subject
                self.agent_state[agent] = 2
                self.agent_since[agent] = now
                observe(CallEnded(self._agent_call.pop(agent)), now)
                observe(AgentWrap(agent), now)
            elif kind == _ABANDON_CHECK:
                if call_state.get(subject) == 1:
                    call_state[subject] = 3
                    abandoned += 1
                    abandoned_calls.append(subject)
                    observe(CallAbandoned(subject), now)
                    self._push(now + s.safe_harbor_s, _SAFE_HARBOR_END, subject)
            elif kind == _SAFE_HARBOR_END:
                observe(CallEnded(subject), now)
            elif kind == _PREVIEW:
                if self.agent_state[subject] == 0:
                    self._preview_requests.append(subject)
                    observe(PreviewDialRequested(subject), now)
            elif kind == _STAFF:
                self._change_staff(subject, now)
        logged_in_s = sum(end - since for since in self._logged_in_since.values()) + self._logged_out_s
        # Talk after the shift's end is not part of the shift.
        talk_s -= self._talk_after_end
        return ShiftResult(
            policy=policy.name,
            seed=self.seed,
            agents=s.agents,
            occupancy=talk_s / logged_in_s if logged_in_s else 0.0,
            abandon_rate=abandoned / human if human else 0.0,
            talk_minutes_per_agent_hour=(talk_s / 60.0) / (logged_in_s / 3600.0) if logged_in_s else 0.0,
            calls_placed=placed,
            human_answered=human,
            abandoned=abandoned,
            connected=connected,
            machine=machine,
            busy=busy,
            no_answer=no_answer,
            mean_agent_wait_s=idle_s / connected if connected else 0.0,
            logged_in_hours=logged_in_s / 3600.0,
            max_lines_used=max_lines,
            abandoned_calls=abandoned_calls,
        )

    def _connect(self, call: int, agent: int, now: float) -> float:
        """Bridge a call to an agent; schedule the talk and wrap-up ends; return talk seconds in the shift."""
        _, _, talk, wrap = self.lead(call, now)
        self._call_state[call] = 2
        self.agent_state[agent] = 1
        self.agent_since[agent] = now
        self.agent_free_at[agent] = now + talk + wrap
        self.policy.observe(CallConnected(call, agent), now)
        self._push(now + talk, _TALK_END, agent)
        self._push(now + talk + wrap, _WRAP_END, agent)
        self._agent_call[agent] = call
        if now + talk > self.end:
            self._talk_after_end += now + talk - max(now, self.end)
        return talk

    def _pop_ready(self) -> int | None:
        ready = self._ready
        while ready:
            agent = ready.popleft()
            if self.agent_state[agent] == 0:
                return agent
        return None

    def _pop_waiting(self) -> int | None:
        waiting = self._waiting
        while waiting:
            call = waiting.popleft()
            if self._call_state.get(call) == 1:
                return call
        return None

    def _set_ready(self, agent: int, now: float) -> None:
        self.agent_state[agent] = 0
        self.agent_since[agent] = now
        self._ready.append(agent)
        if self._preview:
            self._push(now + self.scenario.preview_review_s, _PREVIEW, agent)

    def _log_in(self, now: float) -> None:
        agent = len(self.agent_state)
        self.agent_state.append(0)
        self.agent_since.append(now)
        self.agent_free_at.append(now)
        self._logged_in_since[agent] = now
        self.policy.observe(AgentReady(agent), now)
        self._set_ready(agent, now)

    def _log_out(self, agent: int, now: float) -> None:
        self._leaving.discard(agent)
        self.agent_state[agent] = 4
        since = self._logged_in_since.pop(agent)
        self._logged_out_s += min(now, self.end) - since
        self.policy.observe(AgentLoggedOut(agent), now)

    def _change_staff(self, change: int, now: float) -> None:
        if change > 0:
            for _ in range(change):
                self._log_in(now)
            return
        candidates = [
            a for a, st in enumerate(self.agent_state) if st in (0, 1, 2) and a not in self._leaving
        ]
        # Idle agents leave first (at once); busy ones after their wrap-up.
        candidates.sort(key=lambda a: self.agent_state[a] != 0)
        for agent in candidates[:-change]:
            if self.agent_state[agent] == 0:
                self._log_out(agent, now)
            else:
                self._leaving.add(agent)
