"""The daily reports in a real browser: a manager picks a report, a campaign and a range, sees its SVG
chart and tables with the figures of a seeded floor (recounted here), and downloads the same as CSV."""

from __future__ import annotations

import csv
from typing import Any

from playwright.sync_api import expect

from campaigns.models import Campaign
from core.db import Scope
from tests.conftest import Tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.reports.floor import END, SINCE, START, UNTIL, generate_floor


def _show(page: Any, report: str, campaign: str | None) -> None:
    page.get_by_label("Report", exact=True).select_option(label=report)
    page.get_by_label("Campaign", exact=True).select_option(label=campaign or "All campaigns")
    page.get_by_label("From", exact=True).fill(SINCE.isoformat())
    page.get_by_label("To", exact=True).fill(UNTIL.isoformat())
    page.get_by_role("button", name="Show").click()


def test_daily_reports_render_a_chart_and_download_as_csv(page: Any, runtime: Any, tenant: Tenant) -> None:
    floor = generate_floor(runtime, tenant)
    in_range = [
        a for a in floor.attempts if START <= a["placed"] < END and a["campaign"] == floor.campaigns[0]
    ]
    dials = sum(a["outcome"] != "blocked" for a in in_range)
    with runtime.db.session(Scope(tenant.id)) as s:
        name = s.get(Campaign, floor.campaigns[0]).name

    log_in(page, tenant.users["manager"].email)
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Daily reports").click()
    assert_every_control_is_labelled(page)
    _show(page, "Campaign by hour", name)
    expect(page.locator("#report-title")).to_contain_text("Campaign by hour: 2026-06-01 to 2026-06-03")
    expect(page.locator("#table-hours svg.report-chart")).to_be_visible()
    assert page.locator("#table-hours svg rect.bar").count() >= 4 * 24
    expect(page.locator("#table-hours tfoot")).to_contain_text(f"{dials:,}")
    screenshot(page, "daily-reports")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(download.value.path().read_text().splitlines()))
    assert rows[0][:6] == ["report", "campaign-by-hour", "since", "2026-06-01", "until", "2026-06-03"]
    header = next(r for r in rows if r and r[0] == "table")
    total = next(r for r in rows if r[:2] == ["hours", "Total"])
    assert int(total[header.index("dials")]) == dials

    for report, table in (
        ("Agent performance", "agents"),
        ("Dispositions and list penetration", "lists"),
        ("DNC and compliance", "blocks_by_reason"),
    ):
        _show(page, report, None)
        expect(page.locator(f"#table-{table} svg.report-chart rect.bar").first).to_be_visible()
    blocked = sum(a["outcome"] == "blocked" for a in floor.attempts if START <= a["placed"] < END)
    expect(page.locator("#table-blocks_by_reason tfoot")).to_contain_text(f"{blocked:,}")

    page.get_by_label("From", exact=True).fill("2026-06-05")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-error")).to_contain_text("must not be after")
