"""The line worker's own timers (ring timeout, end of the safe-harbor message): fired from its main loop,
on the pjsua2 thread, so a timer's action may touch calls. The clock is passed in (pure, testable)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class TimerQueue:
    def __init__(self) -> None:
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def schedule(self, now: float, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, _Timer(now + delay_s, next(self._seq), action))

    def fire_due(self, now: float) -> int:
        """Run every action whose deadline is due, earliest first (ties in scheduling order)."""
        fired = 0
        while self._timers and self._timers[0].deadline <= now:
            heapq.heappop(self._timers).action()
            fired += 1
        return fired

    def clear(self) -> None:
        self._timers.clear()

    def __len__(self) -> int:
        return len(self._timers)
