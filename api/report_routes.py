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


def _routes(kind: reports.ReportKind) -> list[ControllerRouterHandler]:
    """The JSON and CSV routes of one report: a fixed path per report, so each is in the OpenAPI
    document under its own name."""
    name = kind.name.lower()
    title = reports.TITLES[kind]

    def as_json(
        session: Session,
        since: str | None = None,
        until: str | None = None,
        campaign_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        return reports.as_dict(load(session, kind.value, since, until, campaign_id))

    def as_csv(
        session: Session,
        since: str | None = None,
        until: str | None = None,
        campaign_id: uuid.UUID | None = None,
    ) -> Response[bytes]:
        return csv_response(load(session, kind.value, since, until, campaign_id))

    as_json.__name__, as_csv.__name__ = f"report_{name}", f"report_{name}_csv"
    opt = roles(*REPORT_READERS)
    when = (
        "for UTC days `since`..`until` (inclusive, ISO dates; default the last 7 days, at most 92), one "
        "campaign (`campaign_id`) or the whole organization"
    )
    return [
        get(
            f"/api/reports/{kind.value}",
            operation_id=f"report_{name}",
            summary=f"{title} report",
            description=f"{title} {when}: its tables, each with columns, rows and a total (docs/operations.md).",
            opt=opt,
            sync_to_thread=True,
            tags=["reports"],
        )(as_json),
        get(
            f"/api/reports/{kind.value}/csv",
            operation_id=f"report_{name}_csv",
            summary=f"{title} report as CSV",
            description=f"{title} {when}, as one CSV download (each table a block of rows named in its first "
            "column).",
            media_type="text/csv",
            opt=opt,
            sync_to_thread=True,
            tags=["reports"],
        )(as_csv),
    ]


ROUTES: list[ControllerRouterHandler] = [route for kind in reports.ReportKind for route in _routes(kind)]
