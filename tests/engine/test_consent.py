"""Consent records per number and seller, revocation by any reasonable means honored at the very next
dial-time check (with the delay on record), the "revoke all" scope, and wireless numbers of unknown line
type failing closed by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import TestClient

from campaigns.hopper import lease_leads, release_leads
from campaigns.models import Campaign
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.compliance import DialTimeCompliance, DialVerdict
from dnc.lists import import_numbers
from tests.conftest import Tenant, make_tenant
from tests.engine.factories import make_campaign

# Noon in Washington tomorrow: inside the calling window, and after any revocation a test records now.
AT = datetime.combine(
    datetime.now(UTC).date() + timedelta(days=1),
    datetime.min.time().replace(hour=12),
    ZoneInfo("America/New_York"),
)
NUMBER = "+12025558011"


def registry(runtime: Runtime, tenant: Tenant) -> None:
    obtained = AT.astimezone(UTC) - timedelta(days=2)
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=obtained)


def dial_time(runtime: Runtime, campaign: Campaign) -> DialVerdict:
    with runtime.db.session(Scope(campaign.org_id)) as s:
        loaded = s.get(Campaign, campaign.id)
        assert loaded is not None
        compliance = DialTimeCompliance(runtime.db, loaded)
    leases = lease_leads(runtime.db, campaign.id, 1, datetime.now(UTC), holder="t", lease_s=60)
    try:
        [verdict] = compliance.decide(leases, AT)
    finally:
        release_leads(runtime.db, [lead.lead_id for lead in leases], holder="t")
    return verdict


def test_a_number_of_unknown_line_type_needs_written_consent_by_default_and_the_setting_can_change_it(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime, unknown_line_type="wireless")  # what a new organization gets
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, numbers=[NUMBER])
    blocked = dial_time(runtime, campaign)
    assert blocked.verdict.reasons == ("wireless_no_consent",)
    assert blocked.evidence.consent.wireless_decided_by.startswith("unknown: counted as wireless")
    headers = tenant.headers("org_admin")
    assert client.get("/api/compliance/settings", headers=headers).json() == {
        "unknown_line_type": "wireless",
        "revoke_all": False,
        "call_caps": [],
    }
    r = client.put("/api/compliance/settings", json={"unknown_line_type": "maybe"}, headers=headers)
    assert r.status_code == 422 and "unknown_line_type" in r.text
    r = client.put("/api/compliance/settings", json={"unknown_line_type": "not_wireless"}, headers=headers)
    assert r.status_code == 200, r.text
    allowed = dial_time(runtime, campaign)
    assert allowed.verdict.callable
    assert allowed.evidence.consent.wireless_decided_by.startswith("unknown: counted as not wireless")


def test_a_consent_record_for_the_campaigns_seller_allows_a_wireless_call_and_a_revocation_stops_it_at_the_next_check(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime, unknown_line_type="wireless")
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings={"seller": "Acme Solar"})
    headers = tenant.headers("compliance")
    consent = {
        "phone": "(202) 555-8011",
        "kind": "express_written",
        "given_at": "2026-10-01T14:00:00Z",
        "source": "web_form",
        "disclosure": "By clicking I agree that Acme Solar may call me using automated technology.",
        "consumer_ip": "203.0.113.7",
        "certificate_id": "cert-0001",
    }
    other_seller = client.post(
        "/api/compliance/consents", json={**consent, "seller": "Other Co"}, headers=headers
    )
    assert other_seller.status_code == 201, other_seller.text
    assert not dial_time(runtime, campaign).verdict.callable  # another seller's consent does not cover Acme
    made = client.post("/api/compliance/consents", json={**consent, "seller": "Acme Solar"}, headers=headers)
    assert made.status_code == 201, made.text
    allowed = dial_time(runtime, campaign)
    assert allowed.verdict.callable
    assert allowed.evidence.consent.basis == "express_written"
    assert allowed.evidence.consent.record_id == made.json()["id"]

    revoked = client.post(
        "/api/compliance/revocations",
        json={"phone": NUMBER, "seller": "Acme Solar", "source": "message", "note": "replied STOP"},
        headers=tenant.headers("agent"),
    )
    assert revoked.status_code == 201, revoked.text
    refused = dial_time(runtime, campaign)
    assert refused.verdict.reasons == ("wireless_no_consent", "consent_revoked")  # no consent left either
    assert refused.evidence.consent.revocation_ids == [made.json()["id"]]
    records = {r["seller"]: r for r in client.get(
        "/api/compliance/consents", params={"phone": NUMBER}, headers=headers
    ).json()}  # fmt: skip
    acme = records["Acme Solar"]
    assert acme["revoked_source"] == "message" and acme["honored_at"] is not None
    assert 0 <= acme["honored_after_s"] < 60  # seconds, where the law allows 10 business days
    assert records["Other Co"]["revoked_at"] is None


def test_with_revoke_all_on_a_revocation_for_one_seller_stops_every_sellers_calls(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)  # unknown line type counts as not wireless here: consent is not needed
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings={"seller": "Acme Solar"})
    headers = tenant.headers("compliance")
    r = client.post(
        "/api/compliance/revocations",
        json={"phone": NUMBER, "seller": "Other Co", "source": "phone"},
        headers=headers,
    )
    assert r.status_code == 201 and r.json()[0]["kind"] == "none"  # kept although no consent was on file
    assert dial_time(runtime, campaign).verdict.callable  # scoped to the seller it names
    r = client.put(
        "/api/compliance/settings",
        json={"unknown_line_type": "not_wireless", "revoke_all": True},
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 200, r.text
    assert dial_time(runtime, campaign).verdict.reasons == ("consent_revoked",)
    bad = client.post(
        "/api/compliance/revocations", json={"phone": NUMBER, "source": "carrier pigeon"}, headers=headers
    )
    assert bad.status_code == 422 and "source" in bad.text


def test_a_stop_reply_forwarded_by_an_integration_revokes_from_its_receipt_and_the_next_check_honors_it(
    runtime: Runtime, client: TestClient
) -> None:
    """47 CFR 64.1200(a)(10): "STOP" in reply to a text is a revocation; honored at the very next dial-time
    check, the delay measured from the message's receipt."""
    number = "+12025558023"
    tenant = make_tenant(runtime)  # unknown line type counts as not wireless: only the revocation blocks
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, numbers=[number], settings={"seller": "Acme Solar"})
    headers = tenant.headers("compliance")
    assert dial_time(runtime, campaign).verdict.callable
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    message = {"phone": number, "seller": "Acme Solar", "channel": "sms", "received_at": received.isoformat()}

    not_a_revocation = client.post(
        "/api/compliance/revocations", json={**message, "text": "ok thanks"}, headers=headers
    )
    assert not_a_revocation.status_code == 422
    assert "text" in not_a_revocation.text and "ok thanks" in not_a_revocation.text
    assert "STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE" in not_a_revocation.text
    assert client.get("/api/compliance/consents", params={"phone": number}, headers=headers).json() == []
    assert dial_time(runtime, campaign).verdict.callable  # nothing was recorded

    future = {**message, "text": "STOP", "received_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    r = client.post("/api/compliance/revocations", json=future, headers=headers)
    assert r.status_code == 422 and "received_at" in r.text and "in the future" in r.text
    r = client.post(
        "/api/compliance/revocations", json={**message, "text": "STOP", "source": "api"}, headers=headers
    )
    assert r.status_code == 422 and "not both" in r.text
    r = client.post(
        "/api/compliance/revocations", json={**message, "channel": "pigeon", "text": "STOP"}, headers=headers
    )
    assert r.status_code == 422 and "channel" in r.text

    stop = client.post("/api/compliance/revocations", json={**message, "text": "Stop!"}, headers=headers)
    assert stop.status_code == 201, stop.text
    [recorded] = stop.json()
    assert recorded["revoked_source"] == "message:sms" and recorded["revoked_note"] == "STOP: Stop!"
    assert datetime.fromisoformat(recorded["revoked_at"]) == received
    refused = dial_time(runtime, campaign)
    assert refused.verdict.reasons == ("consent_revoked",)
    assert refused.evidence.consent.revocation_ids == [recorded["id"]]
    [record] = client.get("/api/compliance/consents", params={"phone": number}, headers=headers).json()
    assert record["honored_at"] is not None
    # From the receipt (30 s before it was recorded) to the first check that refused the call: seconds.
    assert 30 <= record["honored_after_s"] < 120
