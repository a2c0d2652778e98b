"""Compliance staff in a real browser: find a number and see every attempt's verdict with its evidence
(attempts recorded through the dialer's own dial-time check and attempt functions), add and remove an
internal DNC entry keeping its history, edit the geo / IP policy part by part and see the validation and
lock-out refusals next to their fields, filter the audit log and download it, upload a DNC list and a
scrub file and watch both jobs finish. Another organization's objects are the 404 page."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from playwright.sync_api import expect

from core.db import Scope
from core.runtime import Runtime
from tests.conftest import Tenant, job_worker
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot

AT = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday, inside every window


@pytest.fixture
def dnc_worker() -> Iterator[None]:
    with job_worker("dnc"):
        yield


def _dial(runtime: Runtime, campaign_id: Any, at: datetime, answered: bool) -> None:
    """Lease the campaign's leads, take the dial-time verdict as the engine does and record each attempt
    (placed with its identity, or blocked) with the evidence the verdict returned."""
    from campaigns.attempts import finish_attempt, record_blocked, record_progress, start_attempt
    from campaigns.hopper import lease_leads
    from campaigns.models import Campaign
    from dialer.engine.compliance import DialTimeCompliance, attempt_evidence
    from dialer.engine.identity import CallIdentity
    from dialer.pacing.budget import AbandonBudget

    with runtime.db.session(_scope_of(runtime, campaign_id)) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        compliance = DialTimeCompliance(runtime.db, campaign)
    identity = CallIdentity(
        caller_id="+12025550100",
        attestation="A",
        attestation_reason="caller ID in the organization's verified inventory",
        origid="0e3a8f8a-5d6c-4b55-9a43-1b5f3f7a0001",
        identity_header="eyJ...;info=<https://example.invalid/cert.pem>;alg=ES256;ppt=shaken",
    )
    budget = AbandonBudget()
    budget.add(time.time() - 3600, human_answered=80, dropped=1)
    leases = lease_leads(runtime.db, campaign_id, 5, datetime.now(UTC), holder="ccomp", lease_s=600)
    for lead, dial in zip(leases, compliance.decide(leases, at), strict=True):
        if dial.verdict.callable:
            attempt = start_attempt(
                runtime.db,
                lead.lead_id,
                holder="ccomp",
                placed_at=at,
                caller_id=identity.caller_id,
                attestation=identity.attestation,
                origid=identity.origid,
                evidence=attempt_evidence(dial.evidence, identity=identity, budget=budget, at=time.time()),
            )
            if answered:
                record_progress(
                    runtime.db,
                    attempt,
                    answered_at=at + timedelta(seconds=6),
                    agent_connected_at=at + timedelta(seconds=6.4),
                )
                finish_attempt(runtime.db, attempt, outcome="human", ended_at=at + timedelta(seconds=95))
        else:
            record_blocked(
                runtime.db,
                lead.lead_id,
                holder="ccomp",
                at=at,
                verdict_reasons=list(dial.verdict.reasons),
                evidence=attempt_evidence(dial.evidence),
            )


def _scope_of(runtime: Runtime, campaign_id: Any) -> Scope:
    from campaigns.models import Campaign
    from core.db import ALL_ORGS

    with runtime.db.session(ALL_ORGS) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        return Scope(campaign.org_id)


def _named_campaign(runtime: Runtime, tenant: Tenant, name: str, numbers: list[str]) -> Any:
    from campaigns.models import Campaign
    from tests.engine.factories import make_campaign

    campaign = make_campaign(runtime, tenant.id, numbers=numbers)
    with runtime.db.session(Scope(tenant.id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        row.name = name
    return campaign


def test_compliance_finds_a_number_and_sees_every_attempt_with_its_verdict_and_evidence(
    page: Any, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    from dnc.internal import add_internal_dnc
    from dnc.lists import import_numbers

    number = "+12025557011"
    import_numbers(
        runtime.db,
        kind="national",
        numbers=["+12025550999"],
        owner_org_id=tenant.id,
        obtained_at=AT.astimezone(UTC) - timedelta(days=4),
    )
    renewals = _named_campaign(runtime, tenant, "Spring renewals", [number])
    _dial(runtime, renewals.id, AT, answered=True)
    with runtime.db.session(Scope(tenant.id)) as s:  # the person then asked not to be called again
        add_internal_dnc(
            s, e164=number, campaign_id=None, source="opt_out_key", reason="pressed 9", added_by=None
        )
    winback = _named_campaign(runtime, tenant, "Winback offers", [number])
    _dial(runtime, winback.id, AT + timedelta(days=1), answered=False)
    # another organization dialed the same number: none of it shows
    theirs = _named_campaign(runtime, other_tenant, "Their campaign", [number])
    _dial(runtime, theirs.id, AT, answered=False)

    log_in(page, tenant.users["compliance"].email)
    expect(page).to_have_url(re.compile(r"/console/compliance$"))
    assert_every_control_is_labelled(page)
    page.get_by_label("Phone number").fill("not a phone")
    page.get_by_label("Phone number").press("Enter")
    expect(page.locator("#lookup-error")).to_contain_text("is not a phone number")

    page.get_by_label("Phone number").fill("(202) 555-7011")
    page.get_by_role("button", name="Search").click()
    result = page.locator("#lookup-result")
    expect(result.get_by_role("heading", level=2)).to_have_text("+12025557011: 2 attempts in 2 campaigns")
    attempts = result.locator("article.attempt")
    expect(attempts).to_have_count(2)
    blocked, dialed = attempts.nth(0), attempts.nth(1)  # newest first
    expect(blocked).to_have_attribute("data-verdict", "blocked")
    expect(blocked).to_contain_text("Winback offers")
    expect(blocked).to_contain_text("on the organization's internal DNC list")
    expect(blocked).to_contain_text("internal_dnc")
    expect(blocked.locator("details")).to_have_attribute("open", "")
    expect(blocked).to_contain_text("Not signed: the call was never placed.")
    expect(dialed).to_have_attribute("data-verdict", "dialed")
    expect(dialed).to_contain_text("Spring renewals")
    dialed.locator("summary").click()  # the older attempt's evidence opens from the keyboard or a click
    evidence = dialed.locator(".evidence")
    expect(evidence).to_be_visible()
    expect(evidence).to_contain_text("national")
    expect(evidence).to_contain_text("4.0 d")  # the registry copy's age at the check
    expect(evidence).to_contain_text("America/New_York (UTC-4)")  # EDT since 2026-03-08
    expect(evidence).to_contain_text("08:00-21:00 local")
    expect(evidence).to_contain_text("0e3a8f8a-5d6c-4b55-9a43-1b5f3f7a0001")  # the PASSporT origid
    expect(
        evidence.locator("dd", has_text="caller ID in the organization's verified inventory")
    ).to_contain_text("A")
    expect(evidence).to_contain_text("0.40 s after answer")
    expect(evidence).to_contain_text("1.25% over 30 days")
    blocked.locator("summary").click()  # the picture: both attempts, the dialed one's evidence open
    expect(blocked.locator(".evidence")).to_be_hidden()
    screenshot(page, "compliance-lookup")

    # the call-detail records of that month hold the placed call, not the blocked attempt
    page.get_by_role("link", name="Call records").click()
    assert_every_control_is_labelled(page)
    page.get_by_label("First day (UTC)").fill("2026-03-01")
    page.get_by_label("Last day (UTC), included").fill("2026-03-31")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["called_number"], r["good_or_service"]) for r in rows] == [(number, "Spring renewals")]
    page.goto("/console/compliance/cdr")
    page.get_by_label("First day (UTC)").fill("2026-03-31")
    page.get_by_label("Last day (UTC), included").fill("2026-03-01")
    page.get_by_role("button", name="Download CSV").click()
    expect(page.locator("#since-error")).to_contain_text("must not be before the first day")


def test_compliance_adds_and_removes_an_internal_dnc_entry_and_its_history_is_kept(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    from dnc.internal import add_internal_dnc, internal_entries

    with runtime.db.session(Scope(tenant.id)) as s:
        add_internal_dnc(
            s, e164="+13125550142", campaign_id=None, source="opt_out_key", reason="pressed 9", added_by=None
        )
    log_in(page, tenant.users["compliance"].email)
    page.get_by_role("link", name="Internal DNC").click()
    assert_every_control_is_labelled(page)
    entries = page.locator("#internal-entries")
    expect(entries.locator("tr", has_text="+13125550142")).to_contain_text("person's request")

    page.get_by_label("Phone number", exact=True).fill("202 555 01")
    page.get_by_role("button", name="Add to the DNC list").click()
    expect(page.locator("#new_phone-error")).to_contain_text("is not a phone number")
    page.get_by_label("Phone number", exact=True).fill("(202) 555-0188")
    page.get_by_label("Reason", exact=True).fill("asked by letter")
    page.get_by_role("button", name="Add to the DNC list").click()
    expect(page.locator("#internal-notice")).to_have_text("Added to the internal DNC list.")
    expect(page.locator("#entries-h")).to_have_text("+12025550188: on the list")
    row = entries.locator("tr", has_text="+12025550188")
    expect(row).to_contain_text("compliance staff")
    expect(row).to_contain_text("asked by letter")

    row.get_by_role("button", name="Remove +12025550188").click()  # no reason: refused, nothing removed
    expect(page.locator("[id^=reason_][id$=-error]")).to_contain_text("say why the entry is removed")
    expect(entries).to_contain_text("+12025550188")
    entries.get_by_label("Reason for removing +12025550188").fill("added by mistake")
    entries.get_by_role("button", name="Remove +12025550188").click()
    expect(page.locator("#internal-notice")).to_contain_text("removed from the internal DNC list")
    expect(page.locator("#entries-h")).to_have_text("+12025550188: not on the list")
    expect(page.locator("#removals")).to_contain_text("added by mistake")
    expect(page.locator("#removals")).to_contain_text("asked by letter")  # why it had been added
    with runtime.db.session(Scope(tenant.id)) as s:
        assert internal_entries(s, e164="+12025550188") == []

    # area-code blocks: a bad code is refused next to its field; a block is listed and removed with a reason
    page.get_by_label("Area code", exact=True).fill("123")
    page.get_by_role("button", name="Block area code").click()
    expect(page.locator("#area_code-error")).to_contain_text("not a NANP area code")
    page.get_by_label("Area code", exact=True).fill("808")
    page.get_by_label("Why block it").fill("no Hawaii campaigns")
    page.get_by_role("button", name="Block area code").click()
    blocks = page.locator("#area-code-blocks")
    expect(blocks).to_contain_text("no Hawaii campaigns")
    page.goto("/console/compliance/internal-dnc")
    screenshot(page, "compliance-internal-dnc")
    blocks.get_by_label("Reason for unblocking 808").fill("Hawaii campaign approved")
    blocks.get_by_role("button", name="Unblock 808").click()
    expect(page.locator("#internal-notice")).to_contain_text("Area code 808 unblocked")
    expect(page.locator("#removals")).to_contain_text("Hawaii campaign approved")


def test_compliance_edits_the_policy_part_by_part_and_sees_refusals_next_to_the_field(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    from dnc.policy import read_policy

    log_in(page, tenant.users["compliance"].email)
    page.get_by_role("link", name="Geo / IP policy").click()
    assert_every_control_is_labelled(page)
    ip_form = page.locator("#policy-ip")
    ip_form.get_by_label("Allowed networks").fill("10.0.0.0/8")  # not the browser's own address
    ip_form.get_by_role("button", name="Save IP rules").click()
    expect(page.locator("#ip_allow_cidrs-error")).to_contain_text("would refuse your own address 127.0.0.1")
    expect(page.locator("#policy-ip").get_by_label("Allowed networks")).to_have_value("10.0.0.0/8")  # kept
    page.locator("#policy-ip").get_by_label("Allowed networks").fill("127.0.0.0/8, 10.0.0.0/8")
    page.locator("#policy-ip").get_by_role("button", name="Save IP rules").click()
    expect(page.locator("#policy-ip")).to_contain_text("IP rules saved")

    geo = page.locator("#policy-geo")
    geo.get_by_label("Area codes never called").fill("808, 12")
    geo.get_by_role("button", name="Save geo rules").click()
    expect(page.locator("#blocked_area_codes-error")).to_contain_text("12 is not a NANP area code")
    screenshot(page, "compliance-policy")
    page.locator("#policy-geo").get_by_label("Area codes never called").fill("808 907")
    page.locator("#policy-geo").get_by_label("US states never called").fill("ak, hi")
    page.locator("#policy-geo").get_by_role("button", name="Save geo rules").click()
    expect(page.locator("#policy-geo")).to_contain_text("Geo rules saved")
    expect(page.locator("#policy-geo").get_by_label("US states never called")).to_have_value("AK, HI")
    with runtime.db.session(Scope(tenant.id)) as s:
        rules = read_policy(s, tenant.id)
    assert rules.blocked_area_codes == ["808", "907"] and rules.blocked_states == ["AK", "HI"]
    assert rules.ip_allow_cidrs == ["127.0.0.0/8", "10.0.0.0/8"]  # saving the geo part kept the IP part


def test_compliance_filters_the_audit_log_and_downloads_the_filtered_rows_as_csv(
    page: Any, client: TestClient, tenant: Tenant
) -> None:
    admin, compliance = tenant.users["org_admin"].email, tenant.users["compliance"].email
    r = client.patch("/api/dnc/policy", headers=tenant.headers("org_admin"), json={"blocked_states": ["AK"]})
    assert r.status_code == 200, r.text
    r = client.post("/api/dnc/internal", headers=tenant.headers("compliance"), json={"e164": "+12025550171"})
    assert r.status_code == 201, r.text
    client.delete("/api/dnc/internal/1", headers=tenant.headers("agent"))  # refused: denied and audited

    log_in(page, compliance)
    page.get_by_role("link", name="Audit log").click()
    assert_every_control_is_labelled(page)
    rows = page.locator("#audit-rows tbody")
    expect(rows).to_contain_text("PATCH /api/dnc/policy")
    expect(rows).to_contain_text("POST /api/dnc/internal")
    screenshot(page, "compliance-audit")

    page.get_by_label("Who").fill(admin.split("@")[0])
    page.get_by_role("button", name="Filter").click()
    # the request's row, and the row the database wrote for the change it made (with before/after)
    expect(rows.locator("tr")).to_have_count(2)
    expect(rows).to_contain_text("PATCH /api/dnc/policy")
    expect(rows).to_contain_text("dnc.policy.")
    page.get_by_label("Who").fill("")
    page.get_by_label("Outcome").select_option("denied")
    today = datetime.now(UTC).date().isoformat()
    page.get_by_label("From (UTC day)").fill(today)
    page.get_by_label("To (UTC day, included)").fill(today)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_contain_text("DELETE /api/dnc/internal/{entry_id}")
    expect(rows).not_to_contain_text("PATCH /api/dnc/policy")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV (filtered)").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert exported and {r["outcome"] for r in exported} == {"denied"}
    assert any(r["action"] == "DELETE /api/dnc/internal/{entry_id}" for r in exported)

    page.get_by_label("From (UTC day)").fill("2026-06-02")
    page.get_by_label("To (UTC day, included)").fill("2026-06-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#until-error")).to_have_text(
        "the last day (2026-06-01) must not be before the first day (2026-06-02)"
    )


def test_compliance_uploads_a_dnc_list_and_a_scrub_file_and_watches_both_jobs_finish(
    page: Any, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, dnc_worker: None, tmp_path: Any
) -> None:
    from dnc.lists import import_numbers

    import_numbers(  # an old copy: the page says it is stale
        runtime.db,
        kind="national",
        numbers=["+12025550999"],
        owner_org_id=tenant.id,
        obtained_at=datetime.now(UTC) - timedelta(days=40),
    )
    log_in(page, tenant.users["compliance"].email)
    page.get_by_role("link", name="DNC lists").click()
    assert_every_control_is_labelled(page)
    own = page.locator("#dnc-lists tr", has_text="Your organization").filter(has_text="National DNC registry")
    expect(own.locator(".freshness")).to_contain_text("stale")
    expect(own.locator(".freshness")).to_contain_text("40 days old")

    registry = tmp_path / "national-2026-12.txt"
    registry.write_text("".join(f"20255501{i:02d}\n" for i in range(60)))
    page.get_by_label("Kind of list").select_option("national")
    page.get_by_label("List file", exact=True).set_input_files(str(registry))
    page.get_by_role("button", name="Upload and import").click()
    job = page.locator("#dnc-import .import-job")
    expect(job).to_have_attribute("data-job-status", "succeeded", timeout=30_000)
    expect(job.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(job).to_contain_text("national-2026-12.txt")
    expect(job.locator('[data-count="records"]')).to_have_text("60")
    page.get_by_role("link", name="Refresh the lists").click()
    own = page.locator("#dnc-lists tr", has_text="Your organization").filter(has_text="National DNC registry")
    expect(own.locator(".freshness")).to_contain_text("fresh")
    expect(own).to_contain_text("national-2026-12.txt")
    history = page.locator("#dnc-lists details", has_text="national-2026-12.txt")
    history.locator("summary").click()
    expect(history.locator("summary")).to_have_text("2 versions")
    expect(history.locator("tbody tr")).to_have_count(2)  # the stale copy stays on record as version 1
    screenshot(page, "compliance-dnc-lists")

    # a state list needs its state: the import fails saying so, and the current copy stays
    page.get_by_label("Kind of list").select_option("state")
    page.get_by_label("List file", exact=True).set_input_files(str(registry))
    page.get_by_role("button", name="Upload and import").click()
    expect(job).to_have_attribute("data-job-status", "failed", timeout=30_000)
    expect(job.get_by_role("alert")).to_contain_text("a state list needs --state")

    # scrub a lead file: the numbers on the new registry copy are blocked, the others callable
    leads = tmp_path / "prospects.csv"
    leads.write_text("phone,lead_id\n2025550105,L1\n2025550199,L2\nnot a number,L3\n")
    page.get_by_role("link", name="Scrub a file").click()
    assert_every_control_is_labelled(page)
    page.get_by_label("Lead file (CSV)").set_input_files(str(leads))
    page.get_by_role("button", name="Upload and scrub").click()
    scrub = page.locator("#scrub-report .scrub-job")
    expect(scrub).to_have_attribute("data-job-status", "succeeded", timeout=30_000)
    expect(scrub.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(scrub.locator('[data-count="total"]')).to_have_text("3")
    expect(scrub.locator('[data-count="invalid"]')).to_have_text("1")
    screenshot(page, "compliance-scrub")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (CSV)").click()
    report = {r["lead_id"]: r for r in csv.DictReader(io.StringIO(download.value.path().read_text()))}
    assert "national_dnc" in report["L1"]["reasons"].split()
    assert report["L3"]["verdict"] == "blocked" and report["L3"]["reasons"].startswith("invalid_number")

    # another organization's import and scrub report are the 404 page
    href = scrub.get_by_role("link", name="Download the report (CSV)").get_attribute("href")
    report_id = href.split("/")[-2]
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    log_in(page, other_tenant.users["compliance"].email)
    for url in (f"/console/compliance/scrub-reports/{report_id}", href):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_a_platform_admin_edits_a_named_organizations_policy_with_no_lockout_to_prevent(
    app: Any, runtime: Runtime, tenant: Tenant, platform_admin_user: Any
) -> None:
    from api.console.sessions import SESSION_COOKIE
    from dnc.policy import read_policy
    from tests.console.conftest import console_session

    token, csrf = console_session(runtime, platform_admin_user)
    with TestClient(app=app) as client:
        client.cookies.set(SESSION_COOKIE, token)
        r = client.get("/console/compliance/policy")
        assert r.status_code == 422 and "must name the organization" in r.text
        r = client.get("/console/compliance/policy", params={"org_id": str(tenant.id)})
        assert r.status_code == 200 and "Save IP rules" in r.text
        r = client.post(
            "/console/compliance/policy",
            params={"org_id": str(tenant.id)},
            data={
                "part": "ip",
                "ip_allow_cidrs": "10.0.0.0/8",
            },  # not the admin's address: not theirs to lose
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert r.status_code == 200 and "IP rules saved" in r.text, r.text
        r = client.post(
            "/console/compliance/policy",
            params={"org_id": str(tenant.id)},
            data={"part": "geo", "blocked_states": "AK"},
        )  # no CSRF token: refused, nothing saved
        assert r.status_code == 403
    with runtime.db.session(Scope(tenant.id)) as s:
        rules = read_policy(s, tenant.id)
    assert rules.ip_allow_cidrs == ["10.0.0.0/8"] and rules.blocked_states == []


def test_compliance_records_a_text_message_revocation_and_sees_the_next_dial_time_check_honor_it(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    """47 CFR 64.1200(a)(10): a STOP reply is a revocation; the form calls the API's service
    (`dnc.consent.record_revocation`), refuses a text that revokes nothing next to its field, needs the
    page's CSRF token, and the record shows when the next dial-time check honored it."""
    from campaigns.hopper import lease_leads, release_leads
    from campaigns.models import Campaign
    from dialer.engine.compliance import DialTimeCompliance
    from dnc.consent import consents_of
    from dnc.lists import import_numbers
    from tests.engine.factories import make_campaign

    number = "+12025557091"
    at = datetime.combine(
        datetime.now(UTC).date() + timedelta(days=1), datetime.min.time().replace(hour=12),
        ZoneInfo("America/New_York"),
    )  # fmt: skip
    import_numbers(
        runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=at.astimezone(UTC) - timedelta(days=2)
    )  # fmt: skip
    campaign = make_campaign(runtime, tenant.id, numbers=[number], settings={"seller": "Acme Solar"})

    def dial_time_reasons() -> tuple[str, ...]:
        with runtime.db.session(Scope(tenant.id)) as s:
            loaded = s.get(Campaign, campaign.id)
            assert loaded is not None
            compliance = DialTimeCompliance(runtime.db, loaded)
        leases = lease_leads(runtime.db, campaign.id, 1, datetime.now(UTC), holder="crev", lease_s=60)
        try:
            [dial] = compliance.decide(leases, at)
        finally:
            release_leads(runtime.db, [lead.lead_id for lead in leases], holder="crev")
        return dial.verdict.reasons

    assert dial_time_reasons() == ()
    log_in(page, tenant.users["compliance"].email)
    # CSRF: the session's cookie alone does not record anything
    refused = page.request.post(
        "/console/compliance/revocations", form={"phone": number, "how": "sms", "text": "STOP"}
    )
    assert refused.status == 403
    with runtime.db.session(Scope(tenant.id)) as s:
        assert consents_of(s, number) == []

    page.get_by_role("link", name="Revocations").click()
    assert_every_control_is_labelled(page)
    form = page.locator("#record-revocation")
    form.get_by_label("Phone number", exact=True).fill("(202) 555-7091")
    form.get_by_label("Seller").fill("Acme Solar")
    form.get_by_label("How the consumer revoked").select_option("sms")
    form.get_by_label("The consumer's words").fill("ok thanks")
    form.get_by_role("button", name="Record the revocation").click()
    expect(page.locator("#text-error")).to_contain_text("'ok thanks' does not revoke consent")
    expect(page.get_by_label("The consumer's words")).to_have_value("ok thanks")  # kept as typed
    with runtime.db.session(Scope(tenant.id)) as s:
        assert consents_of(s, number) == []

    page.get_by_label("The consumer's words").fill("Stop texting me")
    page.locator("#record-revocation").get_by_role("button", name="Record the revocation").click()
    expect(page.locator("#revocation-notice")).to_contain_text(
        "Revocation recorded (STOP): Acme Solar's calls to +12025557091 stop at the next dial-time check."
    )
    records = page.locator("#consent-records")
    expect(records).to_contain_text("message:sms")
    expect(records).to_contain_text("STOP: Stop texting me")
    expect(records).to_contain_text("not yet")

    assert dial_time_reasons() == ("consent_revoked",)
    page.goto("/console/compliance/revocations?lookup_phone=%2B12025557091")
    expect(page.locator("#consent-records")).to_contain_text("s after the revocation")
    with runtime.db.session(Scope(tenant.id)) as s:
        [record] = consents_of(s, number)
        assert record.honored_at is not None and record.revoked_at is not None
        assert (record.honored_at - record.revoked_at).total_seconds() < 120
    screenshot(page, "compliance-revocations")
