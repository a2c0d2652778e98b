"""The rolling 30-day abandon report of a campaign (what compliance staff and the dialer check)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from litestar import get
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from campaigns.service import get_campaign
from core.models import Role
from dialer.abandon_report import load_report


class PeriodOut(msgspec.Struct):
    day: str  # UTC date, YYYY-MM-DD
    human_answered: int
    abandoned: int
    abandon_rate: float


class AbandonReportOut(msgspec.Struct):
    campaign_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    human_answered: int  # calls answered by a person, abandoned ones included
    abandoned: int
    abandon_rate: float
    limit: float
    compliant: bool
    drops_until_limit: int
    days: list[PeriodOut]


# Who may read abandon-rate reports (the console's Reports page uses the same roles).
REPORT_READERS = (Role.MANAGER, Role.COMPLIANCE, Role.ORG_ADMIN)


@get(
    "/api/campaigns/{campaign_id:uuid}/abandon-report",
    opt=roles(*REPORT_READERS),
    sync_to_thread=True,
)
def abandon_report(campaign_id: uuid.UUID, session: Session) -> AbandonReportOut:
    """Dropped vs person-answered calls over the last 30 days, per UTC day."""
    get_campaign(session, campaign_id)
    report = load_report(session, campaign_id, now=datetime.now(UTC))
    return AbandonReportOut(
        campaign_id=report.campaign_id,
        window_start=report.window_start,
        window_end=report.window_end,
        human_answered=report.human_answered,
        abandoned=report.abandoned,
        abandon_rate=report.abandon_rate,
        limit=report.limit,
        compliant=report.compliant,
        drops_until_limit=report.drops_until_limit,
        days=[
            PeriodOut(
                day=period.start.date().isoformat(),
                human_answered=period.human_answered,
                abandoned=period.abandoned,
                abandon_rate=period.abandon_rate,
            )
            for period in report.periods
        ],
    )


ROUTES: list[ControllerRouterHandler] = [abandon_report]
