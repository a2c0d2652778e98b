"""`vicidial-adaptive`: VICIdial's ADAPT_HARD_LIMIT dial method, the baseline to beat.

Re-implemented from its published behaviour (not from VICIdial's code):
- the dial level L starts at 1.0;
- every second it samples the READY agents and the answered calls waiting for an agent;
- every 15 s, L <- L x (1 + (mean ready - mean waiting) / agents), clamped to [1.0, 3.0];
- at each adjustment, L is halved when more than 20 calls were human-answered in the last minute and over half were dropped;
- once 50 calls were human-answered, L = 1.0 (checked every second) whenever the shift's drop rate exceeds the target (3%);
- each second it places round(L x agents not paused and not in wrap-up) minus the live calls (ringing,
  answered and waiting, connected to agents), when positive.
"""

from __future__ import annotations

from collections import deque

from dialer.pacing.budget import LEGAL_LIMIT
from dialer.pacing.events import CallAbandoned, CallAnsweredHuman, PacingEvent
from dialer.pacing.policy import PacingPolicy, Previous

ADJUST_EVERY_S = 15
MIN_LEVEL, MAX_LEVEL = 1.0, 3.0


class VicidialAdaptivePolicy(PacingPolicy):
    name = "vicidial-adaptive"

    def __init__(
        self, *, drop_target: float = LEGAL_LIMIT, max_lines: int | None = None, max_cps: float | None = None
    ) -> None:
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        self.drop_target = drop_target
        self.level = 1.0
        self._next_sample: float | None = None
        self._samples = 0
        self._ready_sum = 0
        self._waiting_sum = 0
        self._human_answered = 0
        self._dropped = 0
        self._answers_last_minute: deque[tuple[float, bool]] = deque()
        self._shift_over_target = False

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        if isinstance(event, CallAnsweredHuman):
            self._human_answered += 1
            self._answers_last_minute.append((now, False))
        elif isinstance(event, CallAbandoned):
            self._dropped += 1
            self._answers_last_minute.append((now, True))
        return super().observe(event, now)

    def _wanted(self, now: float) -> int:
        self._advance(now)
        floor = self.floor
        live = floor.dialing + floor.waiting + floor.connected
        return round(self.level * (floor.ready + floor.busy)) - live

    def _advance(self, now: float) -> None:
        """Run the once-a-second sampling and the 15-second adjustment for every second elapsed."""
        if self._next_sample is None:
            self._next_sample = now
        while self._next_sample <= now:
            self._ready_sum += self.floor.ready
            self._waiting_sum += self.floor.waiting
            self._samples += 1
            if self._samples >= ADJUST_EVERY_S:
                self._adjust(self._next_sample)
            if self._human_answered >= 50 and self._dropped > self.drop_target * self._human_answered:
                self.level = MIN_LEVEL
            self._next_sample += 1.0

    def _adjust(self, now: float) -> None:
        agents = self.floor.working_agents
        if agents > 0:
            mean_ready = self._ready_sum / self._samples
            mean_waiting = self._waiting_sum / self._samples
            self.level *= 1.0 + (mean_ready - mean_waiting) / agents
        self.level = min(MAX_LEVEL, max(MIN_LEVEL, self.level))
        self._samples = self._ready_sum = self._waiting_sum = 0
        recent = self._answers_last_minute
        while recent and recent[0][0] <= now - 60.0:
            recent.popleft()
        # An abandoned call is also in the human-answered count (it was answered first).
        answered_last_minute = sum(1 for _, dropped in recent if not dropped)
        dropped_last_minute = len(recent) - answered_last_minute
        if answered_last_minute > 20 and dropped_last_minute > answered_last_minute / 2:
            self.level = max(MIN_LEVEL, self.level / 2)
