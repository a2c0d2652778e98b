"""The console in a real browser: logging in and out, the header, refusals as pages, offline API docs."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.console.conftest import log_in, screenshot


def test_a_wrong_password_shows_an_error_on_the_login_page_and_the_right_one_logs_in(
    page: Any, tenant: Tenant
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    screenshot(page, "login")
    page.get_by_label("Email").fill(tenant.users["manager"].email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    log_in(page, tenant.users["manager"].email)
    header = page.locator("header")
    expect(header).to_contain_text(tenant.org.name)
    expect(header).to_contain_text(tenant.users["manager"].email)
    expect(header).to_contain_text("Campaign manager")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_the_api_docs_render_with_no_internet_access(page: Any) -> None:
    page.goto("/schema")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Clearline API")


def test_an_agent_sees_no_manager_links_and_gets_the_403_page_on_a_manager_page(
    page: Any, tenant: Tenant
) -> None:
    log_in(page, tenant.users["agent"].email)
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Campaigns")
    response = page.goto("/console/campaigns")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Agent")
    screenshot(page, "forbidden")


def test_another_organizations_campaign_is_the_404_page(
    page: Any, tenant: Tenant, other_tenant: Tenant
) -> None:
    from tests.engine.factories import make_campaign

    theirs = make_campaign(other_tenant.runtime, other_tenant.id, active=False)
    log_in(page, tenant.users["manager"].email)
    for url in (f"/console/campaigns/{theirs.id}", f"/console/campaigns/{theirs.id}/wallboard"):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text(theirs.name)


def test_a_console_post_from_the_browser_without_the_csrf_token_is_refused(page: Any, tenant: Tenant) -> None:
    from tests.engine.factories import make_campaign

    campaign = make_campaign(tenant.runtime, tenant.id, active=False)
    log_in(page, tenant.users["manager"].email)
    page.goto(f"/console/campaigns/{campaign.id}")
    # the session cookie goes along (same origin), the page's token does not
    refused = page.request.post(f"/console/campaigns/{campaign.id}/start")
    assert refused.status == 403
    assert "CSRF" in refused.text()
    page.reload()
    expect(page.locator("#status-pill")).to_have_text("draft")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    accepted = page.request.post(
        f"/console/campaigns/{campaign.id}/start", headers={"X-CSRF-Token": token or "", "HX-Request": "true"}
    )
    assert accepted.status == 200
