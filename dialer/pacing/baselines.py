"""The classic pacing modes, kept as baselines: progressive, fixed ratio, preview.

None of them looks at the abandon rate; they differ in how many lines they keep busy per agent.
"""

from __future__ import annotations

from dialer.pacing.events import CallPlaced, PacingEvent, PreviewDialRequested
from dialer.pacing.policy import PacingPolicy, Previous


class ProgressivePolicy(PacingPolicy):
    """One call per idle agent: a call is started only for a READY agent not already covered by one."""

    name = "progressive"

    def _wanted(self, now: float) -> int:
        floor = self.floor
        return floor.ready - floor.dialing - floor.waiting


class RatioPolicy(PacingPolicy):
    """A fixed dial level: keep `lines_per_agent` x (agents not paused, not in wrap-up) calls alive.

    Live calls count whether ringing, waiting for an agent or connected (they all hold lines).
    """

    name = "ratio"

    def __init__(
        self, *, lines_per_agent: float = 2.0, max_lines: int | None = None, max_cps: float | None = None
    ) -> None:
        if not 1.0 <= lines_per_agent <= 10.0:
            raise ValueError(f"lines_per_agent must be between 1 and 10, got {lines_per_agent}")
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        self.lines_per_agent = lines_per_agent

    def _wanted(self, now: float) -> int:
        floor = self.floor
        target = round(self.lines_per_agent * (floor.ready + floor.busy))
        return target - (floor.dialing + floor.waiting + floor.connected)


class PreviewPolicy(PacingPolicy):
    """The agent decides: one call per `PreviewDialRequested`, nothing else."""

    name = "preview"

    def __init__(self, *, max_lines: int | None = None, max_cps: float | None = None) -> None:
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        self._requested = 0

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        if isinstance(event, PreviewDialRequested):
            self._requested += 1
        elif isinstance(event, CallPlaced) and self._requested > 0:
            self._requested -= 1
        return super().observe(event, now)

    def _wanted(self, now: float) -> int:
        return self._requested
