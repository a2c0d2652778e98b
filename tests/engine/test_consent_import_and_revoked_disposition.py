"""Consent imported with a lead file (consent columns mapped at import, stored as consent records of the
campaign's seller, relied on at dial time) and the agent's REVOKED disposition, which records a
revocation (any reasonable means, 47 CFR 64.1200(a)(10)) honored at the very next dial-time check of every
campaign of that seller."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.attempts import finish_attempt, start_attempt
from campaigns.hopper import lease_leads
from campaigns.importer import ImportRequest, import_lead_file
from campaigns.models import CallAttempt, Campaign, Lead, LeadStatus
from core.db import Scope
from core.runtime import Runtime
from dnc.models import ConsentRecord
from tests.conftest import make_tenant
from tests.engine.factories import make_campaign
from tests.engine.test_consent import NUMBER, dial_time, registry


def import_csv(runtime: Runtime, campaign: Campaign, tmp_path: Path, text: str, created_by: uuid.UUID):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_text(text)
    request = ImportRequest(
        org_id=campaign.org_id,
        campaign_id=campaign.id,
        list_id=uuid.uuid4(),
        path=path,
        list_name="consented",
        file_name="consented.csv",
        created_by=created_by,
    )
    return import_lead_file(runtime.db, request, at=datetime.now(UTC), report_dir=tmp_path / "reports")


def test_consent_columns_of_a_lead_file_become_consent_records_the_dial_time_check_relies_on(
    runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime, unknown_line_type="wireless")  # every call needs written consent
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, settings={"seller": "Acme Solar"})
    text = (
        "Phone,Consent,Opt-in Date,IP Address,TrustedForm Cert URL,Consent Text\n"
        f"{NUMBER},express written,2026-10-01,203.0.113.7,https://cert.trustedform.com/abc,"
        '"I agree that Acme Solar may call me using automated technology."\n'
        "2025558012,written,2026-10-02,not-an-ip,,\n"  # bad IP: the row is refused naming the field
        "2025558013,none,,198.51.100.4,,\n"  # no consent: the IP is kept on the lead, no record
        "2025558014,express,,,,\n"  # consent without a date: stays on the lead, no record (needs a time)
    )
    result = import_csv(runtime, campaign, tmp_path, text, tenant.users["manager"].id)
    assert result.counts.invalid == 1 and result.consent_records == 1
    assert result.error_report is not None
    [bad] = list(csv.DictReader(io.StringIO(result.error_report.read_text(encoding="utf-8"))))
    assert "consent_ip" in str(bad) and "not-an-ip" in str(bad) and "not an IP address" in str(bad)
    with runtime.db.session(Scope(tenant.id)) as s:
        [record] = s.scalars(select(ConsentRecord)).all()
        assert (record.e164, record.seller, record.kind, record.source) == (
            NUMBER, "Acme Solar", "express_written", "lead_import"
        )  # fmt: skip
        assert record.given_at == datetime(2026, 10, 1, tzinfo=UTC)
        assert (record.consumer_ip, record.certificate_id) == (
            "203.0.113.7",
            "https://cert.trustedform.com/abc",
        )
        assert record.disclosure.startswith("I agree that Acme Solar")
        assert record.created_by == tenant.users["manager"].id
        record_id = str(record.id)
        no_consent = s.scalars(select(Lead).where(Lead.phone_e164 == "+12025558013")).one()
        assert no_consent.extra == {"consent_ip": "198.51.100.4"}
    with runtime.db.session(Scope(tenant.id)) as s:  # only the consented lead is left to dial first
        s.query(Lead).filter(Lead.phone_e164 != NUMBER).update({"status": LeadStatus.DONE.value})
    allowed = dial_time(runtime, campaign)
    assert allowed.verdict.callable, allowed.verdict.reasons
    assert allowed.evidence.consent.record_id == record_id
    assert allowed.evidence.consent.consent_date == date(2026, 10, 1)


def test_the_revoked_disposition_records_a_revocation_honored_by_the_sellers_next_check(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)
    registry(runtime, tenant)
    acme = {"seller": "Acme Solar"}
    campaign = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings=acme)
    sister = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings=acme)
    other = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings={"seller": "Other Co"})
    agent = tenant.users["agent"].id
    now = datetime.now(UTC)
    [lead] = lease_leads(runtime.db, campaign.id, 1, now, holder="t", lease_s=60)
    attempt = start_attempt(runtime.db, lead.lead_id, holder="t", placed_at=now, trunk="t1")
    finish_attempt(runtime.db, attempt, outcome="human", ended_at=now + timedelta(seconds=30))
    with runtime.db.session(Scope(tenant.id)) as s:  # the agent the call was bridged to
        s.get_one(CallAttempt, attempt).agent_id = agent
    r = client.post(
        f"/api/call-attempts/{attempt}/disposition",
        json={"code": "REVOKED", "note": "said: stop calling me"},
        headers=tenant.headers("agent"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    consents = client.get(
        "/api/compliance/consents", params={"phone": NUMBER}, headers=tenant.headers("compliance")
    )
    [revocation] = consents.json()
    assert (revocation["seller"], revocation["revoked_source"], revocation["revoked_note"]) == (
        "Acme Solar", "agent", "said: stop calling me"
    )  # fmt: skip
    refused = dial_time(runtime, sister)
    assert refused.verdict.reasons == ("consent_revoked",)
    assert refused.evidence.consent.revocation_ids == [revocation["id"]]
    assert dial_time(runtime, other).verdict.callable  # another seller's calls are not covered
    honored = client.get(
        "/api/compliance/consents", params={"phone": NUMBER}, headers=tenant.headers("compliance")
    )
    assert 0 <= honored.json()[0]["honored_after_s"] < 60  # seconds; the law allows 10 business days
