"""The evidence of every attempt is the verdict the dial-time check returned, stored with the attempt and
read back by the compliance evidence API in one query (no SIP here: the engine's floor tests dial)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import TestClient
from sqlalchemy import event

from campaigns.attempts import record_blocked, record_progress, start_attempt
from campaigns.hopper import lease_leads
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.compliance import DialTimeCompliance, attempt_evidence
from dialer.engine.identity import CallIdentity
from dialer.pacing.budget import AbandonBudget
from dnc.internal import add_internal_dnc
from dnc.lists import import_numbers
from tests.conftest import make_tenant
from tests.engine.factories import make_campaign

AT = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday, inside every window
IDENTITY = CallIdentity(
    caller_id="+12025550100",
    attestation="A",
    attestation_reason="caller ID in the organization's verified inventory",
    origid="0e3a8f8a-5d6c-4b55-9a43-1b5f3f7a0001",
    identity_header="eyJ...;info=<https://example.invalid/cert.pem>;alg=ES256;ppt=shaken",
)


def test_each_attempt_dialed_or_blocked_stores_the_verdict_it_got_and_the_api_returns_it_in_one_query(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)
    dialed, opted_out = "+12025557011", "+12025557021"
    campaign = make_campaign(runtime, tenant.id, numbers=[dialed, opted_out, dialed])
    registry = import_numbers(
        runtime.db,
        kind="national",
        numbers=["+12025550999"],
        owner_org_id=tenant.id,
        obtained_at=AT.astimezone(UTC) - timedelta(days=4),  # 4 x 24 h (AT is local, after a DST switch)
    )
    with runtime.db.session(Scope(tenant.id)) as s:
        add_internal_dnc(s, e164=opted_out, campaign_id=None, source="api", reason="asked", added_by=None)
    with runtime.db.session(Scope(tenant.id)) as s:
        loaded = s.get(type(campaign), campaign.id)
        assert loaded is not None
        compliance = DialTimeCompliance(runtime.db, loaded)
    budget = AbandonBudget()
    budget.add(time.time() - 3600, human_answered=50, dropped=1)
    leases = lease_leads(runtime.db, campaign.id, 3, datetime.now(UTC), holder="d1", lease_s=600)
    verdicts = compliance.decide(leases, AT)
    ids = {}
    for lead, dial in zip(leases, verdicts, strict=True):
        if dial.verdict.callable:
            ids[lead.lead_id] = start_attempt(
                runtime.db,
                lead.lead_id,
                holder="d1",
                placed_at=datetime.now(UTC),
                caller_id=IDENTITY.caller_id,
                attestation=IDENTITY.attestation,
                origid=IDENTITY.origid,
                evidence=attempt_evidence(dial.evidence, identity=IDENTITY, budget=budget, at=time.time()),
            )
        else:
            ids[lead.lead_id] = record_blocked(
                runtime.db,
                lead.lead_id,
                holder="d1",
                at=datetime.now(UTC),
                verdict_reasons=list(dial.verdict.reasons),
                evidence=attempt_evidence(dial.evidence),
            )
    first_dialed = next(ids[lead.lead_id] for lead in leases if lead.e164 == dialed)
    record_progress(
        runtime.db,
        first_dialed,
        answered_at=datetime.now(UTC),
        safe_harbor_at=datetime.now(UTC) + timedelta(seconds=2),
    )

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "call_attempts" in statement:
            statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        r = client.get(
            "/api/compliance/evidence",
            params={"phone": "(202) 555-7011"},
            headers=tenant.headers("compliance"),
        )
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    assert len(statements) == 1  # one query for every attempt of the number, not one per attempt
    page = r.json()
    assert page["phone"] == dialed and len(page["attempts"]) == 2 and page["next_cursor"] is None
    for attempt in page["attempts"]:
        evidence = attempt["evidence"]
        assert evidence["schema_version"] == 1
        checked = evidence["compliance"]
        assert checked["callable"] and checked["reasons"] == []
        national = next(c for c in checked["lists_checked"] if c["kind"] == "national")
        assert national["list_id"] == str(registry.list_id) and national["age_days"] == 4.0
        internal = next(c for c in checked["lists_checked"] if c["kind"] == "internal")
        assert internal["version"] == "v1 (1 entries, 0 area-code blocks)"  # the organization's own version
        assert checked["registry_age_days"] == 4.0 and checked["registry_version"].endswith("2026-03-06")
        assert checked["window"]["candidate_zones"] == ["America/New_York"]
        assert checked["window"]["utc_offsets_min"] == {"America/New_York": -240}  # EDT since 2026-03-08
        assert checked["window"]["window"].startswith("08:00-21:00 local")
        assert checked["caps"] == {
            "calls_last_24h": 0,
            "max_calls_per_24h": None,
            "periods": [],
            "counted_for": "the organization (no seller named)",
        }
        assert checked["consent"] == {
            "basis": "none",
            "consent_date": None,
            "wireless": "unknown",
            "wireless_decided_by": "unknown: counted as not wireless (unknown_line_type=not_wireless)",
            "record_id": None,
            "revocation_ids": [],
        }
        assert (
            evidence["attestation"]["level"] == "A" and evidence["attestation"]["origid"] == IDENTITY.origid
        )
        assert evidence["abandon"]["rate_30d"] == 0.02 and evidence["abandon"]["human_answered_30d"] == 50
    answered = next(a for a in page["attempts"] if a["attempt_id"] == str(first_dialed))
    assert answered["answered_at"] and answered["safe_harbor_at"]

    blocked_id = next(ids[lead.lead_id] for lead in leases if lead.e164 == opted_out)
    r = client.get(f"/api/compliance/evidence/{blocked_id}", headers=tenant.headers("compliance"))
    assert r.status_code == 200, r.text
    blocked = r.json()
    assert blocked["outcome"] == "blocked" and blocked["evidence"]["attestation"] is None
    assert blocked["evidence"]["compliance"]["reasons"] == ["internal_dnc"]
    assert blocked["evidence"]["compliance"]["matched"][0].startswith("internal:org:v1 (1 entries")


def test_evidence_pages_follow_the_cursor_and_reject_a_bad_phone(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)
    number = "+12025557031"
    campaign = make_campaign(runtime, tenant.id, numbers=[number] * 3)
    for lead in lease_leads(runtime.db, campaign.id, 3, datetime.now(UTC), holder="d1", lease_s=600):
        start_attempt(runtime.db, lead.lead_id, holder="d1", placed_at=datetime.now(UTC))
    headers = tenant.headers("compliance")
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params = {"phone": number, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/compliance/evidence", params=params, headers=headers).json()
        seen += [a["attempt_id"] for a in page["attempts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 == len(set(seen))
    r = client.get("/api/compliance/evidence", params={"phone": "hello"}, headers=headers)
    assert r.status_code == 422 and "phone" in r.text
    assert client.get(f"/api/compliance/evidence/{uuid.uuid4()}", headers=headers).status_code == 404
