"""A campaign's figures over a period, counted from its call attempts (the evidence, not the engine's
running counters): what the campaign list shows for today."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Outcome


@dataclass(frozen=True)
class AttemptFigures:
    placed: int = 0  # calls placed (attempts not placed because of their verdict excluded)
    answered: int = 0  # answered by a person, abandoned ones included (the abandon-rate base)
    connected: int = 0  # bridged to an agent
    abandoned: int = 0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def start_of_utc_day(now: datetime) -> datetime:
    """Days are UTC days, as in the abandon report."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def figures_since(
    session: Session, since: datetime, *, campaign_id: uuid.UUID | None = None
) -> dict[uuid.UUID, AttemptFigures]:
    """Per campaign of the session's organization (or only `campaign_id`), the calls placed since
    `since` (one grouped query)."""
    person = (Outcome.HUMAN.value, Outcome.ABANDONED.value)
    only = [CallAttempt.campaign_id == campaign_id] if campaign_id is not None else []
    rows = session.execute(
        select(
            CallAttempt.campaign_id,
            func.count().label("placed"),
            func.sum(case((CallAttempt.outcome.in_(person), 1), else_=0)).label("answered"),
            func.sum(case((CallAttempt.agent_connected_at.is_not(None), 1), else_=0)).label("connected"),
            func.sum(case((CallAttempt.outcome == Outcome.ABANDONED.value, 1), else_=0)).label("abandoned"),
        )
        .where(CallAttempt.placed_at >= since, CallAttempt.outcome != Outcome.BLOCKED.value, *only)
        .group_by(CallAttempt.campaign_id)
    ).all()
    return {
        row.campaign_id: AttemptFigures(
            int(row.placed), int(row.answered or 0), int(row.connected or 0), int(row.abandoned or 0)
        )
        for row in rows
    }


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


def campaign_figures_since(session: Session, campaign_id: uuid.UUID, since: datetime) -> AttemptFigures:
    return figures_since(session, since, campaign_id=campaign_id).get(campaign_id, AttemptFigures())
