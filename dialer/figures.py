"""A campaign's figures over a period, counted from its call attempts (the evidence), so they survive
engine restarts: what the live view shows for today and for the rolling 30 days of the abandon rule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return campaign_figures(session, campaign_id, midnight), campaign_figures(
        session, campaign_id, now - WINDOW
    )


__all__ = ["Figures", "campaign_figures", "today_and_rolling"]
