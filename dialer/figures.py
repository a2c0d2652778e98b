"""A campaign's figures over a period, counted from its call attempts (the evidence), so they survive
engine restarts: what the live view, the console's campaign list and its wallboard show for today and for
the rolling 30 days of the abandon rule, and the wallboard's calls per minute."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Outcome
from dialer.abandon_report import WINDOW

PERSON_ANSWERED = (Outcome.HUMAN.value, Outcome.ABANDONED.value)


@dataclass(frozen=True)
class Figures:
    since: datetime
    calls_placed: int  # attempts dialed (not the ones blocked by their verdict)
    answered: int  # answered by a person (human + abandoned)
    connected: int  # bridged to an agent
    abandoned: int
    machine: int
    dnc_blocked: int
    failed: int

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def campaign_figures(session: Session, campaign_id: uuid.UUID, since: datetime) -> Figures:
    """One grouped query over the campaign's attempts placed since `since`."""
    outcome = CallAttempt.outcome
    row = session.execute(
        select(
            func.count().filter(outcome != Outcome.BLOCKED.value),
            func.count().filter(outcome.in_(PERSON_ANSWERED)),
            func.count().filter(CallAttempt.agent_connected_at.is_not(None)),
            func.count().filter(outcome == Outcome.ABANDONED.value),
            func.count().filter(outcome == Outcome.MACHINE.value),
            func.count().filter(outcome == Outcome.BLOCKED.value),
            func.count().filter(outcome == Outcome.FAILED.value),
        ).where(CallAttempt.campaign_id == campaign_id, CallAttempt.placed_at >= since)
    ).one()
    return Figures(since, *(int(v) for v in row))


def today_and_rolling(session: Session, campaign_id: uuid.UUID, now: datetime) -> tuple[Figures, Figures]:
    """Since midnight UTC today, and over the abandon rule's 30 days."""
    midnight = start_of_utc_day(now)
    return campaign_figures(session, campaign_id, midnight), campaign_figures(
        session, campaign_id, now - WINDOW
    )


def start_of_utc_day(now: datetime) -> datetime:
    """Days are UTC days, as in the abandon report."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class MinuteFigures:
    minute: datetime  # UTC start of the minute
    placed: int
    answered: int  # by a person (abandoned included)
    abandoned: int


def per_minute(session: Session, campaign_id: uuid.UUID, since: datetime) -> list[MinuteFigures]:
    """A campaign's calls placed, answered by a person and dropped, per minute since `since` (minutes
    with no call are absent). One grouped query on the (campaign_id, placed_at) index."""
    minute = func.date_trunc("minute", func.timezone("UTC", CallAttempt.placed_at))
    person = (Outcome.HUMAN.value, Outcome.ABANDONED.value)
    rows = session.execute(
        select(
            minute.label("minute"),
            func.count().label("placed"),
            func.sum(case((CallAttempt.outcome.in_(person), 1), else_=0)).label("answered"),
            func.sum(case((CallAttempt.outcome == Outcome.ABANDONED.value, 1), else_=0)).label("abandoned"),
        )
        .where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.placed_at >= since,
            CallAttempt.outcome != Outcome.BLOCKED.value,
        )
        .group_by(minute)
        .order_by(minute)
    ).all()
    return [
        MinuteFigures(row.minute.replace(tzinfo=UTC), int(row.placed), int(row.answered), int(row.abandoned))
        for row in rows
    ]


__all__ = [
    "Figures",
    "MinuteFigures",
    "campaign_figures",
    "per_minute",
    "start_of_utc_day",
    "today_and_rolling",
]
