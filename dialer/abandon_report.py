"""The rolling 30-day abandon report of a campaign: dropped calls vs calls answered by a person.

The law (16 CFR 310.4(b)(4), 47 CFR 64.1200(a)(7)) limits abandoned calls to 3% of person-answered
calls per campaign over 30 days. Base = outcomes `human` + `abandoned` (machines and unanswered calls are
not in it). A call counts at the moment it was answered (its placement time if no answer time was
recorded). The arithmetic (`build_report`) is pure; `load_report` runs one grouped SQL query through the
caller's organization-scoped session. The dialer seeds its `AbandonBudget` with `seed_budget`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Outcome
from core.legal import ABANDON_LIMIT, ABANDON_WINDOW
from core.safe_csv import SafeWriter
from dialer.pacing.budget import AbandonBudget

WINDOW = ABANDON_WINDOW
# A call is answered within a day of being placed: lets the query use the (campaign_id, placed_at) index.
LONGEST_CALL = timedelta(days=1)
BUCKETS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


@dataclass(frozen=True)
class PeriodCounts:
    start: datetime  # UTC start of the day (or hour)
    human_answered: int  # includes the abandoned ones
    abandoned: int

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.human_answered if self.human_answered else 0.0


@dataclass(frozen=True)
class AbandonReport:
    campaign_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    human_answered: int
    abandoned: int
    limit: float
    bucket: str  # "day" or "hour": the length of each period
    periods: list[PeriodCounts]

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.human_answered if self.human_answered else 0.0

    @property
    def compliant(self) -> bool:
        return self.abandoned <= self.limit * self.human_answered

    @property
    def drops_until_limit(self) -> int:
        """How many more drops the window allows at its current base (negative: over the limit)."""
        return math.floor(self.limit * self.human_answered + 1e-9) - self.abandoned


def build_report(
    campaign_id: uuid.UUID,
    periods: Iterable[PeriodCounts],
    *,
    now: datetime,
    bucket: str = "day",
    limit: float = ABANDON_LIMIT,
) -> AbandonReport:
    """Sum the periods of the window (now - 30 days, now]; periods come from `load_report` or a test."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, got {bucket!r}")
    kept = sorted(periods, key=lambda p: p.start)
    for period in kept:
        if period.abandoned > period.human_answered:
            raise ValueError(f"period {period.start.isoformat()}: more abandoned than person-answered calls")
    return AbandonReport(
        campaign_id=campaign_id,
        window_start=now - WINDOW,
        window_end=now,
        human_answered=sum(p.human_answered for p in kept),
        abandoned=sum(p.abandoned for p in kept),
        limit=limit,
        bucket=bucket,
        periods=kept,
    )


def period_counts(
    outcomes: Iterable[tuple[datetime, str]], *, now: datetime, bucket: str = "day"
) -> list[PeriodCounts]:
    """Group (answered-at, outcome) pairs of one campaign into UTC periods of the window (pure)."""
    size = BUCKETS[bucket]
    start_of_window = now - WINDOW
    counts: dict[datetime, list[int]] = {}
    for at, outcome in outcomes:
        if outcome not in (Outcome.HUMAN, Outcome.ABANDONED) or not start_of_window < at <= now:
            continue
        start = _period_start(at.astimezone(UTC), size)
        row = counts.setdefault(start, [0, 0])
        row[0] += 1
        row[1] += outcome == Outcome.ABANDONED
    return [PeriodCounts(start, answered, dropped) for start, (answered, dropped) in sorted(counts.items())]


def _period_start(at: datetime, size: timedelta) -> datetime:
    if size == BUCKETS["day"]:
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


def load_report(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    now: datetime,
    bucket: str = "day",
    limit: float = ABANDON_LIMIT,
) -> AbandonReport:
    """The campaign's rolling report from `call_attempts` (the session's organization only)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, got {bucket!r}")
    answered_at = func.coalesce(CallAttempt.answered_at, CallAttempt.placed_at)
    period = func.date_trunc(bucket, func.timezone("UTC", answered_at))
    start_of_window = now - WINDOW
    statement = (
        select(
            period.label("period"),
            func.count().label("human_answered"),
            func.sum(case((CallAttempt.outcome == Outcome.ABANDONED.value, 1), else_=0)).label("abandoned"),
        )
        .where(
            and_(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.outcome.in_([Outcome.HUMAN.value, Outcome.ABANDONED.value]),
                CallAttempt.placed_at > start_of_window - LONGEST_CALL,
                CallAttempt.placed_at <= now,
                answered_at > start_of_window,
                answered_at <= now,
            )
        )
        .group_by(period)
        .order_by(period)
    )
    rows = session.execute(statement).all()
    periods = [
        PeriodCounts(row.period.replace(tzinfo=UTC), int(row.human_answered), int(row.abandoned))
        for row in rows
    ]
    return build_report(campaign_id, periods, now=now, bucket=bucket, limit=limit)


def seed_budget(budget: AbandonBudget, report: AbandonReport, *, clock_now: float) -> AbandonBudget:
    """Load a report into a pacing budget whose clock reads `clock_now` at the report's `window_end`.

    Each period is placed at its middle, so it leaves the budget's rolling window about when it leaves
    the report's.
    """
    size = BUCKETS[report.bucket]
    for period in report.periods:
        middle = period.start + size / 2
        age_s = (report.window_end - min(middle, report.window_end)).total_seconds()
        budget.add(clock_now - age_s, human_answered=period.human_answered, dropped=period.abandoned)
    return budget


CSV_HEADER = ("day", "human_answered", "abandoned", "abandon_rate", "limit")


def report_csv(report: AbandonReport, out: TextIO) -> None:
    """The report as CSV: one row per period, then the 30-day total (what the console downloads)."""
    writer = SafeWriter(out)
    writer.writerow(CSV_HEADER)
    for period in report.periods:
        key = period.start.date().isoformat() if report.bucket == "day" else period.start.isoformat()
        writer.writerow(
            [
                key,
                period.human_answered,
                period.abandoned,
                f"{period.abandon_rate:.4f}",
                f"{report.limit:.2f}",
            ]
        )
    writer.writerow(
        [
            f"total {report.window_start.date().isoformat()}..{report.window_end.date().isoformat()}",
            report.human_answered,
            report.abandoned,
            f"{report.abandon_rate:.4f}",
            f"{report.limit:.2f}",
        ]
    )
