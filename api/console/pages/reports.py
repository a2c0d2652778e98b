"""Reports: the rolling 30-day abandon-rate report of a campaign as a chart, a table and a CSV download.
The same `dialer.abandon_report.load_report` as the API's `/api/campaigns/{id}/abandon-report`."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template
from sqlalchemy.orm import Session

from api.abandon_routes import REPORT_READERS
from api.console.nav import section
from api.console.render import page
from campaigns import service
from dialer.abandon_report import load_report, report_csv

REPORTS = section("Reports", "/console/reports", REPORT_READERS, order=40)


@get("/console/reports", opt=REPORTS.opt, include_in_schema=False, sync_to_thread=True)
def reports(request: Request[Any, Any, Any], session: Session, campaign: uuid.UUID | None = None) -> Template:
    campaigns = service.list_campaigns(session)
    chosen = service.get_campaign(session, campaign) if campaign else (campaigns[0] if campaigns else None)
    report = load_report(session, chosen.id, now=datetime.now(UTC)) if chosen else None
    chart = (
        {
            "t": [int(p.start.timestamp()) for p in report.periods],
            "rate": [round(100 * p.abandon_rate, 3) for p in report.periods],
            "limit": round(100 * report.limit, 3),
            "from": int(report.window_start.timestamp()),
            "to": int(report.window_end.timestamp()),
        }
        if report
        else None
    )
    return page(
        request, "reports/abandon.html", campaigns=campaigns, chosen=chosen, report=report, chart=chart
    )


@get(
    "/console/campaigns/{campaign_id:uuid}/abandon-report.csv",
    opt=REPORTS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def abandon_report_csv(campaign_id: uuid.UUID, session: Session) -> Response[bytes]:
    campaign = service.get_campaign(session, campaign_id)
    out = io.StringIO()
    report_csv(load_report(session, campaign.id, now=datetime.now(UTC)), out)
    day = datetime.now(UTC).date().isoformat()
    return Response(
        content=out.getvalue().encode(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="abandon-report-{campaign.id}-{day}.csv"'},
    )


PAGES = [reports, abandon_report_csv]
