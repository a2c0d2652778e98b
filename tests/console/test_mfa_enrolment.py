"""Issue 16, MFA enrolment in the console: a user opens their account page from the header, starts
enrolling, sees a QR code (server-made SVG) that encodes the otpauth URI with the same secret as the
text fallback, is refused a wrong code next to the field (QR still there), and turns MFA on with the
current code, seeing the recovery codes once."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import segno
from playwright.sync_api import expect

from core.db import ALL_ORGS
from core.models import User
from core.runtime import Runtime
from tests.conftest import Tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot

PATH = re.compile(r"([Mmh])\s*(-?[\d.]+)(?:[ ,](-?[\d.]+))?")


def _modules(svg_path: str, border: int = 4) -> set[tuple[int, int]]:
    """The dark modules drawn by segno's SVG path (absolute/relative moves and horizontal runs)."""
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, a, b in PATH.findall(svg_path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                dark.add((int(y) - border, int(x) + i - border))
            x += float(a)
    return dark


def _matrix_modules(text: str) -> set[tuple[int, int]]:
    matrix = segno.make(text, error="m").matrix
    return {(r, c) for r, row in enumerate(matrix) for c, v in enumerate(row) if v}


def test_the_enrolment_shows_a_qr_code_of_the_otpauth_uri_and_turns_mfa_on(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    user = tenant.users["manager"]
    log_in(page, user.email)
    page.get_by_role("link", name=user.email).click()
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_role("button", name="Set up two-factor authentication").click()

    qr = page.locator("#mfa-qr svg")
    expect(qr).to_be_visible()
    assert qr.locator("title").text_content() == "QR code to scan with your authenticator app"
    box = qr.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    secret = page.locator("#mfa-secret").text_content() or ""
    uri = page.locator("#mfa-qr").get_attribute("data-otpauth") or ""
    assert uri.startswith("otpauth://totp/") and parse_qs(urlsplit(uri).query)["secret"] == [secret]
    assert user.email.split("@")[0] in uri
    drawn = _modules(qr.locator("path").get_attribute("d") or "")
    assert drawn == _matrix_modules(uri)  # the picture is the URI's QR code, module for module
    assert drawn != _matrix_modules(uri.replace(secret, "A" * len(secret)))
    assert_every_control_is_labelled(page)
    screenshot(page, "account-mfa")

    page.get_by_label("6-digit code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#code-error")).to_contain_text("not the current one")
    expect(page.locator("#mfa-secret")).to_have_text(secret)  # same enrolment, QR shown again
    expect(page.locator("#mfa-qr svg")).to_be_visible()

    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#mfa-notice")).to_have_text("Two-factor authentication is on.")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(User, user.id)
        assert row is not None and row.mfa_enabled
