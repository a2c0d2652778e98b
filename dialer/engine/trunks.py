"""Per-trunk admission: calls-per-second, concurrent calls and failure back-off, across every line worker.

The supervisor is the only process that sends `DialLead`s, so one `TrunkGate` per trunk profile in it holds
the carrier's limits however many workers carry the calls. Pure bookkeeping: the clock is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


@dataclass
class TrunkGate:
    name: str
    max_cps: float
    max_concurrent: int
    in_flight: int = 0
    backoff_until: float = 0.0
    consecutive_failures: int = 0
    _placed: deque[float] = field(default_factory=deque)

    def allowance(self, now: float) -> int:
        """How many calls may start on this trunk at `now`."""
        if now < self.backoff_until:
            return 0
        window = 1.0
        while self._placed and self._placed[0] <= now - window:
            self._placed.popleft()
        by_cps = int(self.max_cps * window) - len(self._placed)
        return max(0, min(by_cps, self.max_concurrent - self.in_flight))

    def placed(self, now: float) -> None:
        self._placed.append(now)
        self.in_flight += 1

    def ended(self, now: float, *, trunk_failure: bool) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if trunk_failure:
            self.consecutive_failures += 1
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.consecutive_failures - 1))
            self.backoff_until = max(self.backoff_until, now + delay)
        else:
            self.consecutive_failures = 0
