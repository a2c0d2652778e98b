"""Issue 16, privacy requests in the console: compliance staff file an access request and a deletion
for a called person in a real browser, see status and due date change as the job worker runs them, read
what was kept and why, and download the access export as JSON and CSV. Bad input is refused next to its
field; a form post without the page's CSRF token is refused; agents never see the page."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from playwright.sync_api import expect

from core.runtime import Runtime
from tests.conftest import Tenant, job_worker
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.test_privacy_requests import PHONE, _person


def _row(page: Any, kind: str) -> Any:
    return page.locator("#privacy-table tbody tr", has_text=kind).first


def test_compliance_staff_file_follow_and_download_privacy_requests(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    _person(runtime, tenant)
    log_in(page, tenant.users["compliance"].email)
    page.goto("/console/compliance/privacy")
    expect(page.get_by_role("heading", name="Privacy requests")).to_be_visible()
    assert_every_control_is_labelled(page)

    page.get_by_label("The person's phone number").fill("12345")
    page.get_by_role("button", name="File request").click()
    expect(page.locator("#phone-error")).to_contain_text("'12345' is not a phone number")

    with job_worker("campaigns"):
        page.get_by_label("Kind of request").select_option("access")
        page.get_by_label("The person's phone number").fill("(202) 555-0871")
        page.get_by_label("Their name (optional)").fill("Joanna Doe")
        page.get_by_role("button", name="File request").click()
        expect(page.locator("#privacy-notice")).to_contain_text("due in 30 days")
        row = _row(page, "access")
        expect(row).to_contain_text(PHONE)
        expect(row.locator("[data-status]")).to_have_text("completed", timeout=30_000)  # htmx refreshes it
        screenshot(page, "compliance-privacy")

        with page.expect_download() as download:
            row.get_by_role("link", name="JSON").click()
        doc = json.loads(download.value.path().read_text())
        assert doc["phone"] == PHONE and {lead["first_name"] for lead in doc["leads"]} == {"Joanna"}
        with page.expect_download() as download:
            _row(page, "access").get_by_role("link", name="CSV").click()
        rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
        assert ["leads", "1", "last_name", "Doe"] in rows

        page.get_by_label("Kind of request").select_option("deletion")
        page.get_by_label("The person's phone number").fill(PHONE)
        page.get_by_role("button", name="File request").click()
        deletion = _row(page, "deletion")
        expect(deletion.locator("[data-status]")).to_have_text("completed", timeout=30_000)
    # The deletion removed the earlier export too.
    expect(_row(page, "access")).not_to_contain_text("JSON")
    deletion.get_by_role("link").first.click()
    expect(page.locator("#request-status")).to_have_text("completed")
    kept = page.locator("#kept")
    expect(kept).to_contain_text("internal do-not-call list")
    expect(kept).to_contain_text("call_records")
    expect(page.locator("#evidence")).to_contain_text('"leads": 2')

    csrf_less = page.request.post("/console/compliance/privacy", form={"kind": "access", "phone": PHONE})
    assert csrf_less.status == 403 and "CSRF" in csrf_less.text()


def test_agents_cannot_open_the_privacy_page(page: Any, tenant: Tenant) -> None:
    log_in(page, tenant.users["agent"].email)
    response = page.goto("/console/compliance/privacy")
    assert response is not None and response.status == 403
