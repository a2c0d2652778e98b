"""A campaign's abandon budget: dropped vs human-answered calls over a rolling window (30 days).

The law counts abandoned calls against calls answered by a person, per campaign, over 30 days. The
dialer seeds a budget from the rolling report (`dialer.abandon_report`) when a campaign starts, then
adds each answer and each drop as they happen; the predictive policy steers by how far the rolling rate
is from its target (the predictive policy adds live answers and drops itself, from the events it
observes: the caller only seeds the history). Counts are kept per hour bucket, so memory stays small however long it runs.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from core.legal import ABANDON_LIMIT, ABANDON_WINDOW

THIRTY_DAYS_S = ABANDON_WINDOW.total_seconds()


@dataclass(slots=True)
class _Bucket:
    start: float
    human_answered: int
    dropped: int


class AbandonBudget:
    """Rolling counts of human-answered and dropped calls (a drop is also a human answer)."""

    def __init__(
        self, *, window_s: float = THIRTY_DAYS_S, limit: float = ABANDON_LIMIT, bucket_s: float = 3_600.0
    ) -> None:
        if window_s <= 0 or bucket_s <= 0:
            raise ValueError("window_s and bucket_s must be positive")
        if not 0 < limit < 1:
            raise ValueError(f"limit must be a fraction between 0 and 1, got {limit}")
        self.window_s = window_s
        self.limit = limit
        self.bucket_s = bucket_s
        self._buckets: deque[_Bucket] = deque()
        self._human_answered = 0
        self._dropped = 0

    def add(self, at: float, *, human_answered: int = 0, dropped: int = 0) -> None:
        """Count answers and drops that happened at `at` (history may be added in any order, then live)."""
        if human_answered < 0 or dropped < 0:
            raise ValueError("counts must not be negative")
        start = math.floor(at / self.bucket_s) * self.bucket_s
        bucket = self._bucket_for(start)
        bucket.human_answered += human_answered
        bucket.dropped += dropped
        self._human_answered += human_answered
        self._dropped += dropped

    def seed(self, history: list[tuple[float, int, int]]) -> None:
        """Add past counts: (at, human_answered, dropped) rows, e.g. one per day of the rolling report."""
        for at, human_answered, dropped in history:
            self.add(at, human_answered=human_answered, dropped=dropped)

    def human_answered(self, now: float) -> int:
        self._expire(now)
        return self._human_answered

    def dropped(self, now: float) -> int:
        self._expire(now)
        return self._dropped

    def rate(self, now: float) -> float:
        """Dropped / human-answered over the window (0 when nothing was answered)."""
        self._expire(now)
        return self._dropped / self._human_answered if self._human_answered else 0.0

    def slack(self, now: float, target: float) -> float:
        """Drops still allowed before the window's rate reaches `target` (negative: over it)."""
        self._expire(now)
        return target * self._human_answered - self._dropped

    def _bucket_for(self, start: float) -> _Bucket:
        buckets = self._buckets
        if buckets and buckets[-1].start == start:
            return buckets[-1]
        if not buckets or buckets[-1].start < start:
            buckets.append(_Bucket(start, 0, 0))
            return buckets[-1]
        for bucket in buckets:
            if bucket.start == start:
                return bucket
        ordered = sorted([*buckets, _Bucket(start, 0, 0)], key=lambda b: b.start)
        self._buckets = deque(ordered)
        return next(b for b in ordered if b.start == start)

    def _expire(self, now: float) -> None:
        buckets = self._buckets
        horizon = now - self.window_s
        while buckets and buckets[0].start + self.bucket_s <= horizon:
            old = buckets.popleft()
            self._human_answered -= old.human_answered
            self._dropped -= old.dropped
