"""Issue 16: a user whose organization requires MFA and who has not set it up logs in through the console:
after the password, a restricted enrolment step (QR code, secret as text, first code) in a real browser;
nothing else opens meanwhile, a wrong code is refused next to the field and counted in the login
throttle, and only the confirmed code gives a session and shows the recovery codes once."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select

from core import mfa
from core.db import ALL_ORGS
from core.models import AuditEntry, Organization, User
from tests.conftest import PASSWORD, Tenant
from tests.console.conftest import assert_every_control_is_labelled, screenshot


def _require_mfa_of_agents(tenant: Tenant) -> None:
    with tenant.runtime.db.session(ALL_ORGS) as s:
        org = s.get(Organization, tenant.org.id)
        assert org is not None
        mfa.set_policy(s, org, ["agent"])


def _wrong(secret: str) -> str:
    now = time.time()
    valid = {pyotp.TOTP(secret).at(now + 30 * d) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _submit_login(page: Any, email: str) -> None:
    page.goto("/console/login?next=/console/account/mfa")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_user_who_must_enrol_sets_up_mfa_at_login_and_only_then_gets_a_session(
    page: Any, tenant: Tenant
) -> None:
    _require_mfa_of_agents(tenant)
    runtime, agent = tenant.runtime, tenant.users["agent"]
    _submit_login(page, agent.email)

    expect(page).to_have_url(re.compile(r"/console/login/mfa$"))
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.locator("#enrol-hint")).to_contain_text(agent.email)
    qr = page.locator("#mfa-qr svg")
    expect(qr).to_be_visible()
    secret = page.locator("#mfa-secret").text_content() or ""
    uri = page.locator("#mfa-qr").get_attribute("data-otpauth") or ""
    assert uri.startswith("otpauth://totp/") and parse_qs(urlsplit(uri).query)["secret"] == [secret]
    expect(page.get_by_label("6-digit code")).to_be_focused()
    assert_every_control_is_labelled(page)
    screenshot(page, "login-mfa-enrolment")

    # The restricted state opens nothing else: no page, no API route, no cookie doubling as a session.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "clearline_session" not in cookies
    enrolment = cookies["clearline_mfa_enrolment"]
    assert enrolment["path"] == "/console/login/mfa" and enrolment["httpOnly"]
    for path in ("/console", "/console/account/mfa", "/console/campaigns"):
        answer = page.request.get(path, max_redirects=0)
        assert answer.status in (302, 303) and "/console/login" in answer.headers["location"], path
    as_session = page.request.get("/console/account/mfa", max_redirects=0,
                                  headers={"cookie": f"clearline_session={enrolment['value']}"})  # fmt: skip
    assert as_session.status in (302, 303)
    as_bearer = page.request.get("/api/users/me", headers={"authorization": f"Bearer {enrolment['value']}"})
    assert as_bearer.status == 401
    assert page.request.get("/api/users/me/mfa").status == 401
    no_csrf = page.request.post("/console/login/mfa", form={"code": pyotp.TOTP(secret).now()})
    assert no_csrf.status == 403
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(User, agent.id)
        assert row is not None and not row.mfa_enabled  # neither the bare POST nor anything else turned it on

    # A wrong code: refused next to the field, the same secret shown again, and counted as a failed login.
    page.get_by_label("6-digit code").fill(_wrong(secret))
    page.get_by_role("button", name="Turn on and log in").click()
    expect(page.locator("#code-error")).to_contain_text("not the current one")
    expect(page.locator("#mfa-secret")).to_have_text(secret)
    expect(page.locator("#mfa-qr svg")).to_be_visible()
    with runtime.db.session(ALL_ORGS) as s:
        reasons = s.scalars(select(AuditEntry.detail["reason"].as_string()).where(
            AuditEntry.user_id == agent.id, AuditEntry.action == "auth.login", AuditEntry.outcome == "denied",
        )).all()  # fmt: skip
    assert "wrong code" in reasons and "mfa_enrolment_required" in reasons

    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on and log in").click()
    expect(page.locator("#mfa-notice")).to_have_text("Two-factor authentication is on.")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    codes = page.locator("#recovery-codes code").all_text_contents()
    screenshot(page, "login-mfa-recovery-codes")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "clearline_session" in cookies and "clearline_mfa_enrolment" not in cookies
    page.get_by_role("link", name="Continue to the console").click()
    expect(page).to_have_url(re.compile(r"/console/account/mfa$"))  # the page asked for before the login
    expect(page.locator("header")).to_contain_text(agent.email)
    expect(page.get_by_role("status")).to_contain_text("10 recovery codes left")
    assert page.request.get("/console/login/mfa", max_redirects=0).status in (302, 303)  # step is over

    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(User, agent.id)
        assert row is not None and row.mfa_enabled
        logins = s.scalars(select(AuditEntry).where(
            AuditEntry.user_id == agent.id, AuditEntry.action == "auth.login", AuditEntry.outcome == "ok",
        )).all()  # fmt: skip
        assert len(logins) == 1
    # From now on the login asks for a code, and a recovery code works once.
    page.context.clear_cookies()
    _submit_login(page, agent.email)
    expect(page.get_by_role("alert")).to_contain_text("6-digit code")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/console/account/mfa$"))


def _try(page: Any, code: str) -> int:
    """Submit a code on the enrolment step and wait for the answer; its HTTP status."""
    page.get_by_label("6-digit code").fill(code)
    with page.expect_response(
        lambda r: r.url.endswith("/console/login/mfa") and r.request.method == "POST"
    ) as r:
        page.get_by_role("button", name="Turn on and log in").click()
    status: int = r.value.status
    return status


def test_wrong_codes_at_the_enrolment_step_end_in_the_login_throttle(page: Any, tenant: Tenant) -> None:
    _require_mfa_of_agents(tenant)
    agent = tenant.users["agent"]
    _submit_login(page, agent.email)
    expect(page).to_have_url(re.compile(r"/console/login/mfa$"))
    secret = page.locator("#mfa-secret").text_content() or ""
    for _ in range(4):
        assert _try(page, _wrong(secret)) == 422
        expect(page.locator("#code-error")).to_contain_text("not the current one")
    assert _try(page, pyotp.TOTP(secret).now()) == 429  # even the right code must wait now
    expect(page.locator("#enrol-error")).to_contain_text("Too many failed logins")
    expect(page.locator("#mfa-secret")).to_have_text(secret)
    assert "clearline_session" not in {c["name"] for c in page.context.cookies()}


def test_a_temporary_password_gets_no_session_from_the_enrolment_but_the_new_password_step(
    page: Any, tenant: Tenant
) -> None:
    from core import credentials

    _require_mfa_of_agents(tenant)
    agent = tenant.users["agent"]
    with tenant.runtime.db.session(ALL_ORGS) as s:
        row = s.get(User, agent.id)
        assert row is not None
        temporary = credentials.reset_password(s, row)
    page.goto("/console/login")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/console/login/mfa$"))
    secret = page.locator("#mfa-secret").text_content() or ""
    assert _try(page, pyotp.TOTP(secret).now()) == 200
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.locator("#choose-next")).to_contain_text("temporary")
    assert "clearline_session" not in {c["name"] for c in page.context.cookies()}
    page.get_by_role("link", name="Log in again").click()
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(temporary)
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
