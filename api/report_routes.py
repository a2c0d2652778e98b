"""The daily reports (`dialer.reports`) as JSON and CSV: agent performance, campaign by hour, dispositions
and list penetration, DNC and compliance; for UTC days `since`..`until`, one campaign or the organization."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Response, get
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.abandon_routes import REPORT_READERS
from api.auth import roles
from campaigns.service import get_campaign
from dialer import reports


def load(
    session: Session, kind: str, since: str | None, until: str | None, campaign_id: uuid.UUID | None
) -> reports.Report:
    """Parse the request's report, range and campaign (404 for a campaign of another organization), then
    build the report: the one path of the API and the console."""
    report_kind = reports.parse_kind(kind)
    now = datetime.now(UTC)
    rng = reports.parse_range(since, until, campaign_id, today=now.date())
    if campaign_id is not None:
        get_campaign(session, campaign_id)
    return reports.build(session, report_kind, rng, now=now)


def csv_response(report: reports.Report) -> Response[bytes]:
    out = io.StringIO()
    reports.write_csv(report, out)
    scope = report.range.campaign_id or "organization"
    name = (
        f"{report.kind.value}-{scope}-{report.range.since.isoformat()}-{report.range.until.isoformat()}.csv"
    )
    return Response(
        content=out.getvalue().encode(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@get("/api/reports/{kind:str}", opt=roles(*REPORT_READERS), sync_to_thread=True, tags=["reports"])
def report_json(
    kind: str,
    session: Session,
    since: str | None = None,
    until: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A daily report (`agent-performance`, `campaign-by-hour`, `list-penetration`, `dnc-compliance`) for
    UTC days `since`..`until` (inclusive, ISO dates; default the last 7 days, at most 92), one campaign
    (`campaign_id`) or the whole organization: its tables, each with columns, rows and a total."""
    return reports.as_dict(load(session, kind, since, until, campaign_id))


@get(
    "/api/reports/{kind:str}/csv",
    opt=roles(*REPORT_READERS),
    media_type="text/csv",
    sync_to_thread=True,
    tags=["reports"],
)
def report_csv(
    kind: str,
    session: Session,
    since: str | None = None,
    until: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Response[bytes]:
    """The same report as one CSV download (each table a block of rows named in its first column)."""
    return csv_response(load(session, kind, since, until, campaign_id))


ROUTES: list[ControllerRouterHandler] = [report_json, report_csv]
