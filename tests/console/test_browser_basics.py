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
