"""The pacing interface every policy implements, and the floor bookkeeping they share.

A policy is told everything that happens (`observe(event, now)`) and is asked how many calls to start
right now (`calls_to_place(now)`); the caller then places that many calls and reports each with
`CallPlaced`. The clock is always passed in (seconds, any origin, never going backwards), so the same
object runs in the discrete-event simulator and in the live engine. Every policy's answer is clamped to
the campaign's line and calls-per-second limits and is 0 when no agent is logged in and unpaused.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from dialer.pacing.events import (
    AgentBusy,
    AgentId,
    AgentLoggedOut,
    AgentPaused,
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
    CallPlaced,
    CallRinging,
    PacingEvent,
)

# Agent states (ints: the simulator updates them hundreds of thousands of times per shift).
READY, BUSY, WRAP, PAUSED = 0, 1, 2, 3
# Call states while the call holds a line.
DIALING, WAITING, CONNECTED, SAFE_HARBOR = 0, 1, 2, 3


# Outcomes that release the line at once (most frequent first: checked on every event).
_CALL_ENDS = (CallNoAnswer, CallAnsweredMachine, CallBusy, CallEnded, CallFailed)


@dataclass(frozen=True, slots=True)
class Previous:
    """What a subject was doing before an event, and since when: lets estimators measure durations."""

    state: int
    since: float


class FloorState:
    """Who is doing what right now: agents by state, calls holding lines by state, with counts."""

    def __init__(self) -> None:
        self.agents: dict[AgentId, list[float]] = {}  # agent -> [state, since]
        self.calls: dict[CallId, list[float]] = {}  # call -> [state, since]
        self.agent_counts = [0, 0, 0, 0]
        self.call_counts = [0, 0, 0, 0]
        self._call_of_agent: dict[AgentId, CallId] = {}

    @property
    def ready(self) -> int:
        return self.agent_counts[READY]

    @property
    def busy(self) -> int:
        return self.agent_counts[BUSY]

    @property
    def wrapping(self) -> int:
        return self.agent_counts[WRAP]

    @property
    def paused(self) -> int:
        return self.agent_counts[PAUSED]

    @property
    def working_agents(self) -> int:
        """Agents logged in and not paused: the ones that can take calls now or soon."""
        counts = self.agent_counts
        return counts[READY] + counts[BUSY] + counts[WRAP]

    @property
    def dialing(self) -> int:
        """Calls placed and not yet answered or released."""
        return self.call_counts[DIALING]

    @property
    def waiting(self) -> int:
        """Calls answered by a person that no agent has picked up yet."""
        return self.call_counts[WAITING]

    @property
    def connected(self) -> int:
        return self.call_counts[CONNECTED]

    @property
    def lines_in_use(self) -> int:
        return len(self.calls)

    def apply(self, event: PacingEvent, now: float) -> Previous | None:
        """Update the floor; return the subject's previous state (None when it was unknown)."""
        if isinstance(event, _CALL_ENDS):
            return self._end_call(event.call_id)
        if isinstance(event, CallPlaced):
            return self._set_call(event.call_id, DIALING, now)
        if isinstance(event, CallAnsweredHuman):
            return self._set_call(event.call_id, WAITING, now)
        if isinstance(event, CallConnected):
            previous = self._set_call(event.call_id, CONNECTED, now)
            self._set_agent(event.agent_id, BUSY, now)
            self._call_of_agent[event.agent_id] = event.call_id
            return previous
        if isinstance(event, CallAbandoned):
            return self._set_call(event.call_id, SAFE_HARBOR, now)
        if isinstance(event, CallRinging):
            call = self.calls.get(event.call_id)
            return None if call is None else Previous(int(call[0]), call[1])
        if isinstance(event, AgentReady):
            self._release_agent_call(event.agent_id)
            return self._set_agent(event.agent_id, READY, now)
        if isinstance(event, AgentWrap):
            self._release_agent_call(event.agent_id)
            return self._set_agent(event.agent_id, WRAP, now)
        if isinstance(event, AgentBusy):
            return self._set_agent(event.agent_id, BUSY, now)
        if isinstance(event, AgentPaused):
            self._release_agent_call(event.agent_id)
            return self._set_agent(event.agent_id, PAUSED, now)
        if isinstance(event, AgentLoggedOut):
            self._release_agent_call(event.agent_id)
            agent = self.agents.pop(event.agent_id, None)
            if agent is None:
                return None
            self.agent_counts[int(agent[0])] -= 1
            return Previous(int(agent[0]), agent[1])
        return None

    def _set_agent(self, agent_id: AgentId, state: int, now: float) -> Previous | None:
        agent = self.agents.get(agent_id)
        if agent is None:
            self.agents[agent_id] = [state, now]
            self.agent_counts[state] += 1
            return None
        previous = Previous(int(agent[0]), agent[1])
        self.agent_counts[previous.state] -= 1
        self.agent_counts[state] += 1
        agent[0] = state
        agent[1] = now
        return previous

    def _set_call(self, call_id: CallId, state: int, now: float) -> Previous | None:
        call = self.calls.get(call_id)
        if call is None:
            self.calls[call_id] = [state, now]
            self.call_counts[state] += 1
            return None
        previous = Previous(int(call[0]), call[1])
        self.call_counts[previous.state] -= 1
        self.call_counts[state] += 1
        call[0] = state
        call[1] = now
        return previous

    def _end_call(self, call_id: CallId) -> Previous | None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return None
        self.call_counts[int(call[0])] -= 1
        return Previous(int(call[0]), call[1])

    def _release_agent_call(self, agent_id: AgentId) -> None:
        """A connected call ends when its agent leaves it, even if the engine sends no `CallEnded`."""
        call_id = self._call_of_agent.pop(agent_id, None)
        if call_id is not None:
            call = self.calls.get(call_id)
            if call is not None and call[0] == CONNECTED:
                self._end_call(call_id)


@dataclass(frozen=True, slots=True)
class PacingLimits:
    """The campaign's hard limits: simultaneous lines and call attempts per second (None: unlimited)."""

    max_lines: int | None = None
    max_cps: float | None = None

    def __post_init__(self) -> None:
        if self.max_lines is not None and self.max_lines < 0:
            raise ValueError(f"max_lines must be >= 0, got {self.max_lines}")
        if self.max_cps is not None and self.max_cps <= 0:
            raise ValueError(f"max_cps must be > 0, got {self.max_cps}")

    @property
    def cps_window(self) -> tuple[int, float]:
        """(n, seconds): at most n placements in any window of that many seconds; n / seconds = max_cps."""
        assert self.max_cps is not None
        n = max(1, math.floor(self.max_cps))
        return n, n / self.max_cps


class PacingPolicy(ABC):
    """Decides how many calls to place now, from the events it has observed.

    Subclasses implement `_wanted(now)` (their own idea, before limits) and may extend `observe`.
    """

    name: ClassVar[str]

    def __init__(self, *, max_lines: int | None = None, max_cps: float | None = None) -> None:
        self.limits = PacingLimits(max_lines=max_lines, max_cps=max_cps)
        self.floor = FloorState()
        self._recent_placements: deque[float] = deque()

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        """Take note of an event; returns the subject's previous state for subclasses' estimators."""
        if isinstance(event, CallPlaced) and self.limits.max_cps is not None:
            self._recent_placements.append(now)
        return self.floor.apply(event, now)

    def calls_to_place(self, now: float) -> int:
        """How many calls to start at `now` (never negative, within the line and CPS limits)."""
        if self.floor.working_agents == 0:
            return 0
        wanted = self._wanted(now)
        if wanted <= 0:
            return 0
        return min(wanted, self.headroom(now))

    def headroom(self, now: float) -> int:
        """How many calls the line and CPS limits allow at `now`."""
        allowed = 1 << 30
        limits = self.limits
        if limits.max_lines is not None:
            allowed = min(allowed, limits.max_lines - self.floor.lines_in_use)
        if limits.max_cps is not None:
            n, window = limits.cps_window
            recent = self._recent_placements
            while recent and recent[0] <= now - window:
                recent.popleft()
            allowed = min(allowed, n - len(recent))
        return max(0, allowed)

    @abstractmethod
    def _wanted(self, now: float) -> int:
        """The policy's own answer before limits (may be negative: means 0)."""
