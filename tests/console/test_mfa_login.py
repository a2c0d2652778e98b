"""Issue 16: the console login asks for the authenticator code of an account with MFA, in a real browser."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from playwright.sync_api import expect

from core import mfa
from core.db import ALL_ORGS, utcnow
from core.models import User
from tests.conftest import PASSWORD, Tenant
from tests.console.conftest import screenshot


def _enrolled(tenant: Tenant, role: str) -> str:
    runtime, user_id = tenant.runtime, tenant.users[role].id
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, user_id)
        assert user is not None
        secret = mfa.begin_enrolment(s, user, runtime.settings.secret_key).secret
        mfa.confirm_enrolment(s, user, pyotp.TOTP(secret).now(), runtime.settings.secret_key, utcnow())
    return secret


def test_the_login_page_asks_for_the_code_and_refuses_a_wrong_one(page: Any, tenant: Tenant) -> None:
    secret = _enrolled(tenant, "manager")
    email = tenant.users["manager"].email
    page.goto("/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("6-digit code")
    code_field = page.get_by_label("Authentication code")
    expect(code_field).to_be_focused()
    screenshot(page, "login-mfa-code")
    page.get_by_label("Password").fill(PASSWORD)
    code_field.fill("000000")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email, password or code")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/console/login"))
    expect(page.locator("header")).to_contain_text(email)
