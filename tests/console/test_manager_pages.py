"""A campaign manager's pages in a real browser: create a campaign with its settings, see validation
errors next to their fields, upload a CSV (file input) and an XLSX (drag and drop) through the column
preview and watch both imports' progress bars finish with their counts."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.models import Campaign
from core.db import ALL_ORGS
from tests.conftest import Tenant, job_worker
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.engine.conftest import TestCertificates, provision_identity

CSV = (
    "Cell Phone,First,Last,State,Notes\n"
    "2025550143,Ada,Lovelace,DC,prefers mornings\n"
    "2025550144,Alan,Turing,DC,\n"
    "2025550144,Alan,Turing,DC,duplicate row\n"
    "not a number,Bad,Row,DC,\n"
    "3125550110,Grace,Hopper,IL,\n"
)


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["phone", "first_name", "last_name", "state"])
    sheet.append([2065550120, "Edsger", "Dijkstra", "WA"])
    sheet.append([2065550121, "Barbara", "Liskov", "WA"])
    sheet.append([2065550122, "Donald", "Knuth", "WA"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def campaign_worker() -> Iterator[None]:
    with job_worker("campaigns"):
        yield


def _create_campaign(page: Any, tenant: Tenant, name: str) -> str:
    page.get_by_role("link", name="New campaign").click()
    assert_every_control_is_labelled(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Caller ID", exact=True).fill("+12025550100")
    page.get_by_label("Earliest call (lead's local time)").fill("09:00")
    page.get_by_label("Latest call (lead's local time)").fill("20:00")
    page.get_by_label(re.compile(tenant.users["agent"].email)).check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    match = re.search(r"/console/campaigns/([0-9a-f-]{36})", page.url)
    assert match
    return match.group(1)


def _confirm_import(page: Any, file_name: str) -> None:
    form = page.locator("#import-form")
    expect(form).to_contain_text(file_name)
    form.get_by_role("button", name=f"Import {file_name}").click()
    job = page.locator(".import-job")
    expect(job).to_have_attribute("data-job-status", "succeeded", timeout=30_000)
    expect(job.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")


def test_a_manager_creates_a_campaign_and_imports_a_csv_and_an_xlsx_watching_both_progress_bars(
    page: Any,
    tenant: Tenant,
    campaign_worker: None,
    tmp_path: Any,
    national_registry: None,
    certificates: TestCertificates,
) -> None:
    log_in(page, tenant.users["manager"].email)
    expect(page).to_have_url(re.compile(r"/console/campaigns$"))
    campaign_id = _create_campaign(page, tenant, "Spring renewals")

    # CSV through the file input: the preview maps "Cell Phone" to the phone field by itself
    csv_path = tmp_path / "renewals.csv"
    csv_path.write_text(CSV)
    page.locator("#lead-file").set_input_files(str(csv_path))
    expect(page.get_by_label("Phone number")).to_have_value("0")
    assert_every_control_is_labelled(page)
    screenshot(page, "lead-preview")
    _confirm_import(page, "renewals.csv")
    counts = page.locator(".import-counts")
    expect(counts.locator('[data-count="imported"]')).to_have_text(re.compile(r"^[1-3]$"))
    expect(counts.locator('[data-count="duplicates"]')).to_have_text("1")
    expect(counts.locator('[data-count="invalid"]')).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    assert "not a number" in download.value.path().read_text()
    screenshot(page, "lead-import", top=False)

    # XLSX dropped on the drop zone
    payload = base64.b64encode(_xlsx()).decode()
    page.evaluate(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const file = new File([bytes], name, {type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"});
            const dt = new DataTransfer();
            dt.items.add(file);
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        [payload, "seattle.xlsx"],
    )
    _confirm_import(page, "seattle.xlsx")
    expect(page.locator(".import-counts").locator('[data-count="invalid"]')).to_have_text("0")

    page.goto(f"/console/campaigns/{campaign_id}")
    lists = page.locator("#lead-lists")
    expect(lists).to_contain_text("renewals.csv")
    expect(lists).to_contain_text("seattle.xlsx")
    assert_every_control_is_labelled(page)
    screenshot(page, "campaign")

    # pause and resume a list, start and pause the campaign
    row = lists.locator("tr", has_text="seattle.xlsx")
    row.get_by_role("button", name="Pause").click()
    expect(lists.locator("tr", has_text="seattle.xlsx")).to_contain_text("paused")
    lists.locator("tr", has_text="seattle.xlsx").get_by_role("button", name="Resume").click()
    expect(lists.locator("tr", has_text="seattle.xlsx")).to_contain_text("active")
    # the start gate refuses what makes dialing impossible, saying why and how to fix it
    expect(page.locator(".readiness")).to_contain_text("no active signing certificate")
    page.get_by_role("button", name="Start").click()
    refusal = page.locator("#notice")
    expect(refusal).to_contain_text("The campaign cannot start.")
    expect(refusal).to_contain_text("Fix: upload one")
    expect(page.locator("#status-pill")).to_have_text("draft")
    provision_identity(tenant.runtime, tenant.id, certificates)
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status-pill")).to_have_text("active")
    expect(page.locator("#notice")).to_contain_text("Started, but it will not dial yet")  # no agent logged in
    page.get_by_role("button", name="Pause", exact=True).first.click()
    expect(page.locator("#status-pill")).to_have_text("paused")

    page.goto("/console/campaigns")
    expect(page.locator("tbody")).to_contain_text("Spring renewals")


def test_a_bad_setting_is_shown_next_to_its_field_and_nothing_is_saved(page: Any, tenant: Tenant) -> None:
    log_in(page, tenant.users["manager"].email)
    page.goto("/console/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Bad settings")
    page.get_by_label("Abandon-rate target (%)").fill("5")
    page.get_by_label("Pacing settings (JSON, advanced)").fill("{oops")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#pacing_settings-error")).to_contain_text("not valid JSON")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Bad settings")  # what was typed is kept
    page.get_by_label("Pacing settings (JSON, advanced)").fill("{}")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#abandon_target_pct-error")).to_contain_text("3% rule")
    screenshot(page, "campaign-form")
    page.goto("/console/campaigns")
    expect(page.locator("tbody")).not_to_contain_text("Bad settings")

    page.goto("/console/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Good settings")
    page.get_by_label("Pause codes").fill("BREAK, COFFEE!")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#pause_codes-error")).to_contain_text("pause codes")
    page.get_by_label("Pause codes").fill("BREAK, COFFEE")
    page.get_by_label("Wrap-up time (seconds)").fill("45")
    # AMD next to call recording: a threshold out of range gets the API's own message (dialer.media.amd)
    page.get_by_label("Answering-machine detection").select_option("true")
    page.get_by_label("On a machine").select_option("true")
    page.get_by_label("Detection thresholds (JSON, advanced)").fill('{"after_greeting_silence_ms": 50}')
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#amd_thresholds-error")).to_contain_text(
        "amd_settings: AMD setting after_greeting_silence_ms: 50 must be a whole number from 300 to 3000"
    )
    page.get_by_label("Detection thresholds (JSON, advanced)").fill('{"after_greeting_silence_ms": 900}')
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#pause-codes")).to_have_text("BREAK, COFFEE")
    expect(page.locator("dl.settings")).to_contain_text("45 s, then TIMEOUT")
    expect(page.locator("#amd")).to_have_text("detected; on a machine: leave the campaign's message")
    with tenant.runtime.db.session(ALL_ORGS) as session:
        saved = session.scalars(select(Campaign).where(Campaign.name == "Good settings")).one()
        assert saved.amd_settings == {
            "after_greeting_silence_ms": 900,
            "enabled": True,
            "voicemail_drop": True,
        }
    page.get_by_role("link", name="Edit settings").click()  # the form shows what is stored, thresholds kept
    expect(page.get_by_label("Answering-machine detection")).to_have_value("true")
    expect(page.get_by_label("Detection thresholds (JSON, advanced)")).to_have_value(
        '{"after_greeting_silence_ms": 900}'
    )


def test_the_abandon_report_shows_a_chart_a_table_and_downloads_as_csv(
    page: Any, runtime: Any, tenant: Tenant
) -> None:
    from datetime import UTC, datetime, timedelta

    from campaigns.models import CallAttempt
    from core.db import Scope
    from tests.engine.factories import make_campaign

    campaign = make_campaign(runtime, tenant.id, active=False)
    now = datetime.now(UTC)
    with runtime.db.session(Scope(tenant.id)) as s:  # 40 person-answered calls two days ago, 2 dropped
        for i in range(40):
            at = now - timedelta(days=2, minutes=i)
            s.add(
                CallAttempt(
                    org_id=tenant.id,
                    lead_id=i,
                    campaign_id=campaign.id,
                    e164=f"+1202555{i:04d}",
                    placed_at=at,
                    answered_at=at,
                    outcome="abandoned" if i < 2 else "human",
                )
            )
    log_in(page, tenant.users["manager"].email)
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Campaign").select_option(label=campaign.name)
    expect(page.locator("#report-rate")).to_have_text("5.00%")
    expect(page.locator("#report-table tbody")).to_contain_text((now - timedelta(days=2)).date().isoformat())
    expect(page.locator("#report-chart canvas")).to_be_visible()
    screenshot(page, "reports")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = download.value.path().read_text().splitlines()
    assert lines[0] == "day,human_answered,abandoned,abandon_rate,limit"
    assert lines[-1].startswith("total ") and lines[-1].endswith(",40,2,0.0500,0.03")
