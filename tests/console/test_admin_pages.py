"""The admin pages in a real browser, on the real app, PostgreSQL and Redis: an org admin manages users
(the new user logs in; deactivated, they cannot), caller IDs, certificates (upload, activate, expiry) and
agent phones; a platform admin creates an organization; other roles get the 403 page and another
organization's objects the 404 page. Also the manager's side: the campaign form's agent settings and the
safe-harbor upload on the campaign page."""

from __future__ import annotations

import io
import random
import re
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from playwright.sync_api import expect

from attestation.certificate_store import trust_anchors_path
from core.models import User
from core.runtime import Runtime
from tests.attestation.samples import chain_and_key, make_certificate, sample_ca
from tests.conftest import PASSWORD, Tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot

NEW_PASSWORD = "plum orchard lighthouse 42"


def _accept_confirmations(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def _csrf(page: Any) -> str:
    return str(page.locator('meta[name="csrf-token"]').get_attribute("content"))


def _post_form(page: Any, url: str, form: dict[str, str]) -> Any:
    """A console POST as the logged-in user (the page's session and CSRF token), bypassing the form."""
    return page.request.post(url, form=form, headers={"X-CSRF-Token": _csrf(page)})


def test_an_org_admin_creates_a_user_who_logs_in_and_once_deactivated_cannot(
    page: Any, browser: Any, console_server: Any, tenant: Tenant
) -> None:
    _accept_confirmations(page)
    log_in(page, tenant.users["org_admin"].email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/console/admin/users$"))
    assert_every_control_is_labelled(page)
    email = f"new.agent.{uuid.uuid4().hex[:6]}@example.com"

    form = page.locator("#new-user")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Name (optional)").fill("New Agent")
    form.get_by_label("Role").select_option("agent")
    form.get_by_label("Initial password").fill("password123")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#password-error")).to_be_visible()  # the policy's own message, next to the field
    expect(page.get_by_label("Email")).to_have_value(email)  # what was typed is kept...
    expect(page.get_by_label("Initial password")).to_have_value("")  # ...but never a password
    screenshot(page, "admin-users")
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User created.")
    page.wait_for_load_state()  # a new page (HX-Redirect): htmx wires its buttons up before "load"
    user_url = page.url.split("?")[0]
    user_id = user_url.rsplit("/", 1)[1]

    # an org admin cannot make anyone a platform admin, by the form or around it
    refused = _post_form(page, f"/console/admin/users/{user_id}/role", {"role": "platform_admin"})
    assert refused.status == 403 and "only a platform admin" in refused.text()
    refused = _post_form(
        page,
        "/console/admin/users/new",
        {"email": "x@example.com", "role": "platform_admin", "password": PASSWORD},
    )
    assert refused.status == 403

    # the new user logs in, in their own browser
    theirs = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=console_server.base_url)
    try:
        their_page = theirs.new_page()
        log_in(their_page, email)
        expect(their_page.locator("header")).to_contain_text("Agent")

        # the admin changes the role, then deactivates them: their session ends at once
        page.get_by_label("Role", exact=True).select_option("manager")
        page.get_by_role("button", name="Change role").click()
        expect(page.get_by_role("status")).to_contain_text("Campaign manager")
        page.get_by_role("button", name="Deactivate").click()
        expect(page.locator("#user-status")).to_have_text("deactivated")
        screenshot(page, "admin-user")
        their_page.goto("/console")
        expect(their_page).to_have_url(re.compile(r"/console/login"))
        their_page.get_by_label("Email").fill(email)
        their_page.get_by_label("Password").fill(PASSWORD)
        their_page.get_by_role("button", name="Log in").click()
        expect(their_page.locator("#login-error")).to_be_visible()
        expect(their_page).to_have_url(re.compile(r"/console/login"))

        # reactivated with a reset password: the one rule of the API's reset (a temporary password,
        # shown once), then the user chooses a new password at their next login
        page.get_by_role("button", name="Reactivate").click()
        expect(page.locator("#user-status")).to_have_text("active")
        page.get_by_role("button", name="Reset password").click()
        notice = page.locator("#temporary-password-notice")
        expect(notice).to_contain_text("they must choose a new one at their next login")
        temporary = page.locator("#temporary-password").input_value()
        assert len(temporary) >= 12
        page.reload()  # shown once: never again
        expect(page.locator("#user-status")).to_have_text("active")
        assert temporary not in page.content()
        their_page.get_by_label("Password").fill(PASSWORD)  # the old password no longer works
        with their_page.expect_response(re.compile(r"/console/login$")) as refused_login:
            their_page.get_by_role("button", name="Log in").click()
        assert refused_login.value.status == 401
        expect(their_page.locator("#login-error")).to_be_visible()
        their_page.goto("/console/login")
        their_page.get_by_label("Email").fill(email)
        their_page.get_by_label("Password").fill(temporary)
        their_page.get_by_role("button", name="Log in").click()
        expect(their_page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        assert temporary not in their_page.content()  # never echoed back
        assert_every_control_is_labelled(their_page)
        their_page.get_by_label("Temporary password").fill(temporary)
        their_page.get_by_label("New password", exact=True).fill("password123")
        their_page.get_by_label("Confirm the new password").fill("password123")
        with their_page.expect_response(re.compile(r"/console/login/password$")) as weak:
            their_page.get_by_role("button", name="Set password and log in").click()
        assert weak.value.status == 422
        expect(their_page.locator("#new_password-error")).to_be_visible()  # the policy's message
        expect(their_page.get_by_label("Email")).to_have_value(email)
        expect(their_page.get_by_label("Temporary password")).to_have_value("")
        their_page.get_by_label("Temporary password").fill(temporary)
        their_page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        their_page.get_by_label("Confirm the new password").fill(NEW_PASSWORD)
        their_page.get_by_role("button", name="Set password and log in").click()
        their_page.wait_for_url(re.compile(r".*/console(?!/login).*"))
        expect(their_page.locator("header")).to_contain_text("Campaign manager")
        their_page.get_by_role("button", name="Log out").click()
        their_page.wait_for_url(re.compile(r".*/console/login"))
        their_page.get_by_label("Email").fill(email)
        their_page.get_by_label("Password").fill(temporary)  # the temporary password is spent
        with their_page.expect_response(re.compile(r"/console/login$")) as spent:
            their_page.get_by_role("button", name="Log in").click()
        assert spent.value.status == 401
        expect(their_page.locator("#login-error")).to_be_visible()
        log_in(their_page, email, NEW_PASSWORD)
        expect(their_page.locator("header")).to_contain_text("Campaign manager")
    finally:
        theirs.close()

    # nobody deactivates themselves (the button is disabled; the rule is the service's)
    page.goto("/console/admin/users")
    page.get_by_role("link", name=f"Manage {tenant.users['org_admin'].email}").click()
    expect(page.get_by_role("button", name="Deactivate")).to_be_disabled()
    me = page.url.rsplit("/", 1)[1]
    refused = _post_form(page, f"/console/admin/users/{me}/deactivate", {})
    assert refused.status == 422 and "you cannot deactivate yourself" in refused.text()


@pytest.fixture
def trusted_sample_ca(runtime: Runtime) -> Any:
    """The sample STI-CA's root in the platform's trust-anchor file (what a platform operator configures)."""
    ca = sample_ca()
    path = trust_anchors_path(runtime.settings.home)
    root = ca.root.public_bytes(Encoding.PEM)
    if not path.exists() or root not in path.read_bytes():
        with path.open("ab") as f:
            f.write(root)
    return ca


def _upload(page: Any, label: str, chain: Path, key: Path) -> None:
    form = page.locator("#upload-certificate")
    form.get_by_label("Label").fill(label)
    form.get_by_label("Certificate chain (PEM file)").set_input_files(str(chain))
    form.get_by_label("Private key (PEM file)").set_input_files(str(key))
    form.get_by_role("button", name="Upload certificate").click()
    page.wait_for_load_state()


def test_an_org_admin_uploads_certificates_activates_one_and_sees_their_expiry(
    page: Any, tenant: Tenant, trusted_sample_ca: Any, tmp_path: Path
) -> None:
    files = {}
    for name, days in (("first", 90), ("renewal", 365), ("short", 10)):
        chain, key = chain_and_key(trusted_sample_ca, days=days)
        files[name] = (tmp_path / f"{name}-chain.pem", tmp_path / f"{name}.key")
        files[name][0].write_text(chain)
        files[name][1].write_text(key)
    log_in(page, tenant.users["org_admin"].email)
    page.goto("/console/admin/certificates")
    expect(page.locator("#certificates")).to_contain_text("No certificate yet")
    assert_every_control_is_labelled(page)

    # the first certificate becomes the active one by itself
    _upload(page, "first", *files["first"])
    expect(page.get_by_role("status")).to_contain_text("It is the active certificate")
    page.wait_for_load_state()
    expect(page.locator("#cert-status")).to_have_text("active")
    expect(page.locator("#cert-expiry")).to_contain_text(re.compile(r"(89|90) days left"))

    # a key that is not the certificate's is refused next to the key field, and never shown back
    page.goto("/console/admin/certificates")
    _upload(page, "default", files["renewal"][0], files["first"][1])
    expect(page.locator("#key_file-error")).to_be_visible()
    key_body = files["first"][1].read_text().splitlines()[1]
    assert key_body not in page.content()

    # the renewal (labelled as the shipped trunk profiles expect) is uploaded inactive, then activated
    _upload(page, "default", *files["renewal"])
    expect(page.get_by_role("status")).to_contain_text("not active yet")
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("generic-template")  # the profiles naming "default"
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#cert-status")).to_have_text("active")
    expect(page.get_by_role("status")).to_contain_text("Calls are signed with this certificate")

    # one near its end shows the renewal warning; the list shows who is active
    page.goto("/console/admin/certificates")
    _upload(page, "short-lived", *files["short"])
    expect(page.locator("#cert-expiry .pill-expiring")).to_contain_text(re.compile(r"\d days left: renew"))
    page.goto("/console/admin/certificates")
    rows = page.locator("#certificates tbody tr")
    expect(rows.filter(has_text="default").locator(".pill-active")).to_have_text("active")
    expect(rows.filter(has_text="first").get_by_role("button", name="Activate first")).to_be_visible()
    expect(rows.filter(has_text="short-lived").locator(".pill-expiring")).to_be_visible()
    assert_every_control_is_labelled(page)
    screenshot(page, "admin-certificates")

    # the active certificate cannot be removed; an inactive one can
    rows.filter(has_text="first").get_by_role("link", name="Details of first").click()
    expect(page).to_have_url(re.compile(r"/console/admin/certificates/[0-9a-f-]{36}$"))
    page.wait_for_load_state()  # htmx (a deferred script) wires the buttons up before "load"
    _accept_confirmations(page)
    page.get_by_role("button", name="Remove").click()
    expect(page).to_have_url(re.compile(r"/console/admin/certificates$"))
    expect(page.locator("#certificates")).not_to_contain_text("first")


def test_an_org_admin_keeps_the_caller_id_inventory_with_the_domains_errors_next_to_the_field(
    page: Any, tenant: Tenant
) -> None:
    # a block of its own: the suite's other tests verify +1202555xxxx numbers for their organizations
    block = f"+1206{random.randrange(230, 990, 10)}{random.randrange(0, 9900, 100):04d}"  # never an N11 exchange
    first, last, inside = block, f"{block[:-2]}49", f"{block[:-2]}20"
    _accept_confirmations(page)
    log_in(page, tenant.users["org_admin"].email)
    page.goto("/console/admin/caller-ids")
    form = page.locator("#add-numbers")
    form.get_by_label("Number", exact=True).fill("+1202")
    form.get_by_role("button", name="Add to inventory").click()
    expect(page.locator("#first-error")).to_contain_text("not an E.164 number")
    page.get_by_label("Number", exact=True).fill(first)
    page.get_by_label("Last number of a range (optional)").fill(last)
    page.get_by_label("Label (optional)").fill("DC office")
    page.get_by_role("button", name="Add to inventory").click()
    table = page.locator("#caller-ids")
    expect(page.get_by_role("status")).to_contain_text("pending the platform's verification")
    expect(table).to_contain_text(re.compile(rf"\{first} . \{last}"))  # an en dash between
    expect(table.locator("tr", has_text="DC office")).to_contain_text("pending")
    page.get_by_label("Number", exact=True).fill(inside)
    page.get_by_role("button", name="Add to inventory").click()
    expect(page.locator("#first-error")).to_contain_text("overlaps")
    page.get_by_label("Number", exact=True).fill("+13125550110")
    page.get_by_label("Last number of a range (optional)").fill("")
    page.get_by_label("Label (optional)").fill("Chicago")
    page.get_by_role("button", name="Add to inventory").click()
    expect(table).to_contain_text("+13125550110")
    assert_every_control_is_labelled(page)
    screenshot(page, "admin-caller-ids")
    page.get_by_role("button", name="Remove +13125550110").click()
    expect(page.get_by_role("status")).to_contain_text("+13125550110 is no longer in the inventory")
    expect(table).not_to_contain_text("Chicago")


def test_an_org_admin_sets_the_agent_phone_rules(page: Any, tenant: Tenant) -> None:
    _accept_confirmations(page)
    log_in(page, tenant.users["org_admin"].email)
    page.goto("/console/admin/agent-phones")
    form = page.locator("#add-rule")
    form.get_by_label("Kind").select_option("cidr")
    form.get_by_label("Phone, domain or network").fill("10.0.0.0/33")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#value-error")).to_be_visible()
    page.get_by_label("Phone, domain or network").fill("10.20.0.0/16")
    page.get_by_label("Note (optional)").fill("office network")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_contain_text("The dialer may now call 10.20.0.0/16")
    page.get_by_label("Kind").select_option("phone")
    page.get_by_label("Phone, domain or network").fill("sip:desk7@10.20.0.7")
    page.get_by_label("Reserved to (one phone only)").select_option(label=tenant.users["agent"].email)
    page.get_by_role("button", name="Add rule").click()
    rules = page.locator("#phone-rules")
    expect(rules).to_contain_text("10.20.0.0/16")
    expect(rules.locator("tr", has_text="desk7")).to_contain_text(tenant.users["agent"].email)
    assert_every_control_is_labelled(page)
    screenshot(page, "admin-agent-phones")
    page.get_by_role("button", name="Remove 10.20.0.0/16").click()
    expect(rules).not_to_contain_text("10.20.0.0/16")


def test_a_platform_admin_creates_an_organization_and_its_first_admin(
    page: Any, platform_admin_user: User
) -> None:
    name = f"Northwind Outreach {uuid.uuid4().hex[:6]}"
    log_in(page, platform_admin_user.email)
    page.goto("/console/admin/orgs")
    assert_every_control_is_labelled(page)
    page.get_by_label("Name", exact=True).fill("   ")
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#name-error")).to_contain_text("1-200 characters")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} created.")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#name-error")).to_contain_text("not available")
    screenshot(page, "admin-orgs")

    page.locator("#orgs tr", has_text=name).get_by_role("link", name=f"Add a user to {name}").click()
    expect(page.get_by_label("Organization")).to_have_value(re.compile(r"[0-9a-f-]{36}"))
    admin_email = f"admin.{uuid.uuid4().hex[:6]}@northwind.example"
    page.get_by_label("Email").fill(admin_email)
    page.get_by_label("Role").select_option("org_admin")
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User created.")
    expect(page.locator("main")).to_contain_text(f"Organization admin in {name}")
    page.wait_for_load_state()

    # numbers for the new organization, verified by the platform (an organization cannot verify its own);
    # a number of its own: the suite's other tests verify +1505555xxxx numbers for their organizations
    number = f"+1505{random.randrange(230, 990, 10)}{random.randrange(0, 10000):04d}"  # never an N11 exchange
    page.get_by_role("link", name="Caller IDs").click()
    page.wait_for_load_state()
    form = page.locator("#add-numbers")
    form.get_by_label("Number", exact=True).fill(number)
    form.get_by_role("button", name="Add to inventory").click()
    expect(page.locator("#org_id-error")).to_contain_text("choose the organization")
    page.get_by_label("Organization").select_option(label=name)
    page.get_by_label("Number", exact=True).fill(number)
    page.get_by_role("button", name="Add to inventory").click()
    row = page.locator("#caller-ids tr", has_text=name)
    expect(row).to_contain_text("pending")
    row.get_by_role("button", name=f"Verify {number}").click()
    expect(page.locator("#caller-ids tr", has_text=name)).to_contain_text("verified")


def test_agents_and_managers_get_the_403_page_and_another_organizations_objects_are_404(
    page: Any, tenant: Tenant, other_tenant: Tenant
) -> None:
    for role in ("agent", "manager"):
        log_in(page, tenant.users[role].email)
        expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Admin")
        for url in ("/console/admin/users", "/console/admin/certificates", "/console/admin/orgs"):
            response = page.goto(url)
            assert response is not None and response.status == 403, (role, url)
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/console/login"))

    their_user = other_tenant.users["manager"]
    their_cert = make_certificate(other_tenant.runtime, other_tenant.id)
    log_in(page, tenant.users["org_admin"].email)
    response = page.goto("/console/admin/orgs")  # an org admin is no platform admin
    assert response is not None and response.status == 403
    for url in (f"/console/admin/users/{their_user.id}", f"/console/admin/certificates/{their_cert}"):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text(their_user.email)
    page.goto("/console/admin/users")
    expect(page.locator("#users")).not_to_contain_text(their_user.email)
    refused = _post_form(page, f"/console/admin/users/{their_user.id}/password", {"password": NEW_PASSWORD})
    assert refused.status == 404
    no_token = page.request.post(
        "/console/admin/users/new", form={"email": "csrf@example.com", "role": "agent"}
    )
    assert no_token.status == 403 and "CSRF" in no_token.text()


# ------------------------------------------------------------------------ the manager's campaign page


def _wav(*, seconds: float, channels: int = 1, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * int(seconds * rate) * channels)
    return out.getvalue()


def test_a_manager_sets_the_agents_work_settings_and_uploads_a_safe_harbor_message(
    page: Any, tenant: Tenant, tmp_path: Path
) -> None:
    from tests.engine.factories import make_campaign

    campaign = make_campaign(tenant.runtime, tenant.id, active=False)
    log_in(page, tenant.users["manager"].email)
    page.goto(f"/console/campaigns/{campaign.id}/edit")
    page.get_by_label("Wrap-up time (seconds)").fill("2")
    page.get_by_label("Pause codes").fill("LUNCH, TRAINING")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#wrap_up_s-error")).to_contain_text("wrap_up_s")
    expect(page.get_by_label("Pause codes")).to_have_value("LUNCH, TRAINING")
    page.get_by_label("Wrap-up time (seconds)").fill("40")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#pause-codes")).to_have_text("LUNCH, TRAINING")
    expect(page.locator("dl.settings")).to_contain_text("40 s, then")

    section = page.locator("#safe-harbor")
    expect(section).to_contain_text("built-in")
    bad, good = tmp_path / "stereo.wav", tmp_path / "message.wav"
    bad.write_bytes(_wav(seconds=3, channels=2))
    good.write_bytes(_wav(seconds=4))
    section.get_by_label("Upload a recording (WAV)").set_input_files(str(bad))
    section.get_by_role("button", name="Upload message").click()
    expect(page.locator("#file-error")).to_contain_text("must be mono, not 2 channels")
    expect(page.locator("#safe-harbor-state")).to_contain_text("built-in")
    page.locator("#safe-harbor").get_by_label("Upload a recording (WAV)").set_input_files(str(good))
    page.locator("#safe-harbor").get_by_role("button", name="Upload message").click()
    expect(page.locator("#safe-harbor-state")).to_contain_text("4.0 s at 8000 Hz")
    assert_every_control_is_labelled(page)
    page.locator("#safe-harbor").scroll_into_view_if_needed()
    screenshot(page, "campaign-safe-harbor", top=False)
    page.reload()
    expect(page.locator("#safe-harbor-state")).to_contain_text("your recording")
    too_short = tmp_path / "short.wav"
    too_short.write_bytes(_wav(seconds=1))
    page.locator("#safe-harbor").get_by_label("Replace the recording (WAV)").set_input_files(str(too_short))
    page.locator("#safe-harbor").get_by_role("button", name="Upload message").click()
    expect(page.locator("#file-error")).to_contain_text("it must last 2 to 30 s")
    expect(page.locator("#safe-harbor-state")).to_contain_text("your recording")  # the earlier one is kept
