"""Reports: the four daily reports (`dialer.reports`) as a page with a chart and tables, and as a CSV
download; the same `api.report_routes.load` as `/api/reports/{kind}`. The charts are SVG drawn here, on
the server: they need no script and no asset from outside the package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy.orm import Session

from api.console.pages.reports import REPORTS
from api.console.render import page
from api.report_routes import csv_response, load
from campaigns import service
from core.errors import ValidationError
from dialer import reports

COLORS = ("#1d5fd1", "#2f9e44", "#e8590c", "#b42318")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 880, 260, 96, 70, 28


def bar_chart(table: reports.Table) -> Markup:
    """Grouped bars of the table's chart values per row label, with a value axis and a legend."""
    bars = reports.chart_bars(table)
    if not bars:
        return Markup("")
    series = [next((c.label for c in table.columns if c.key == key), key) for key in table.chart_values]
    top = max((v for _, values in bars for v in values), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    group_w = plot_w / len(bars)
    bar_w = max(group_w * 0.8 / len(series), 0.5)
    every = max(1, len(bars) // 24)  # at most about 24 labels under the bars
    plot_bottom = TOP + plot_h
    # Markup.format escapes every argument: labels (list, agent and reason names) are user data.
    parts = [
        Markup(
            '<svg class="report-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}: {}" '
            'xmlns="http://www.w3.org/2000/svg">'
        ).format(WIDTH, HEIGHT, table.title, ", ".join(series)),
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>').format(
            LEFT, plot_bottom, LEFT + plot_w, plot_bottom
        ),
    ]
    for fraction in (0.5, 1.0):
        y = f"{TOP + plot_h * (1 - fraction):.1f}"
        parts.append(
            Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#eee"/>').format(LEFT, y, LEFT + plot_w, y)
        )
        parts.append(
            Markup('<text x="{}" y="{}" dy="4" text-anchor="end" font-size="11">{}</text>').format(
                LEFT - 6, y, _short(top * fraction)
            )
        )
    for i, (label, values) in enumerate(bars):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, value in enumerate(values):
            h = plot_h * value / top
            parts.append(
                Markup(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>'
                ).format(
                    f"{x0 + j * bar_w:.1f}",
                    f"{plot_bottom - h:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    COLORS[j % len(COLORS)],
                    label,
                    series[j],
                    _short(value),
                )
            )
        if i % every == 0:
            x = f"{x0 + group_w * 0.4:.1f}"
            parts.append(
                Markup(
                    '<text x="{}" y="{}" font-size="10" text-anchor="end" transform="rotate(-35 {} {})">{}</text>'
                ).format(x, plot_bottom + 12, x, plot_bottom + 12, label[:22])
            )
    for j, name in enumerate(series):
        x_legend = LEFT + j * 170
        parts.append(
            Markup(
                '<rect x="{}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16" font-size="12">{}</text>'
            ).format(x_legend, COLORS[j % len(COLORS)], x_legend + 16, name)
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"


@get("/console/reports/daily", opt=REPORTS.opt, include_in_schema=False, sync_to_thread=True)
def daily_reports(
    request: Request[Any, Any, Any],
    session: Session,
    report: str = reports.ReportKind.CAMPAIGN_BY_HOUR.value,
    since: str | None = None,
    until: str | None = None,
    campaign: str | None = None,
) -> Template:
    campaigns = service.list_campaigns(session)
    error, built = "", None
    campaign_id: uuid.UUID | None = None
    try:
        campaign_id = _campaign_id(campaign)
        built = load(session, report, since, until, campaign_id)
    except ValidationError as exc:
        error = str(exc)
    today = datetime.now(UTC).date()
    shown = built.range if built else None
    query = {
        "report": report,
        "since": shown.since.isoformat() if shown else (since or ""),
        "until": shown.until.isoformat() if shown else (until or today.isoformat()),
        "campaign": str(campaign_id) if campaign_id else "",
    }
    return page(
        request,
        "reports/daily.html",
        kinds=[(k.value, reports.TITLES[k]) for k in reports.ReportKind],
        campaigns=campaigns,
        query=query,
        report=built,
        error=error,
        charts={t.name: bar_chart(t) for t in built.tables} if built else {},
        csv_href="/console/reports/daily.csv?" + urlencode({k: v for k, v in query.items() if v}),
    )


@get("/console/reports/daily.csv", opt=REPORTS.opt, include_in_schema=False, sync_to_thread=True)
def daily_report_csv(
    session: Session,
    report: str = reports.ReportKind.CAMPAIGN_BY_HOUR.value,
    since: str | None = None,
    until: str | None = None,
    campaign: str | None = None,
) -> Response[bytes]:
    return csv_response(load(session, report, since, until, _campaign_id(campaign)))


def _campaign_id(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError(f"campaign must be a campaign id, got {value!r}", field="campaign") from None


PAGES = [daily_reports, daily_report_csv]
