"""Per-period call caps (an organization's and a campaign's, e.g. 7 calls in 7 days for debt collection,
12 CFR 1006.14(b)(2)), counted from the stored attempts of every campaign and caller ID of the same
seller, decided at dial time and recorded in the attempt's evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from campaigns.attempts import finish_attempt, start_attempt
from campaigns.hopper import lease_leads
from campaigns.models import Campaign
from core.runtime import Runtime
from tests.conftest import make_tenant
from tests.engine.factories import make_campaign
from tests.engine.test_consent import NUMBER, dial_time, registry


def place_call(runtime: Runtime, campaign: Campaign, placed_at: datetime, caller_id: str) -> None:
    [lead] = lease_leads(runtime.db, campaign.id, 1, placed_at, holder="caps", lease_s=60)
    attempt = start_attempt(
        runtime.db, lead.lead_id, holder="caps", placed_at=placed_at, trunk="t1", caller_id=caller_id
    )
    finish_attempt(runtime.db, attempt, outcome="no_answer", ended_at=placed_at + timedelta(seconds=20))


def test_a_campaign_cap_counts_the_sellers_calls_across_campaigns_and_caller_ids_over_its_whole_period(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)
    registry(runtime, tenant)
    acme = {"seller": "Acme Solar"}
    capped = make_campaign(
        runtime, tenant.id, numbers=[NUMBER], settings={**acme, "call_caps": [{"calls": 2, "days": 7}]}
    )
    sister = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings=acme)
    other = make_campaign(runtime, tenant.id, numbers=[NUMBER], settings={"seller": "Other Co"})
    now = datetime.now(UTC)
    place_call(runtime, sister, now - timedelta(days=9), "+12025550100")  # outside the 7 days
    place_call(runtime, sister, now - timedelta(days=4), "+12025550100")  # older than 24 h: 7-day cap only
    place_call(runtime, other, now - timedelta(days=1), "+12025550100")  # another seller: not counted

    allowed = dial_time(runtime, capped)
    assert allowed.verdict.callable, allowed.verdict.reasons
    caps = allowed.evidence.caps
    assert [(p.calls, p.days, p.set_by, p.counted, p.reached) for p in caps.periods] == [
        (2, 7, "campaign", 1, False)
    ]
    assert caps.counted_for == "seller Acme Solar"

    place_call(runtime, sister, now - timedelta(days=3), "+12025550177")  # another caller ID, same seller
    refused = dial_time(runtime, capped)
    assert refused.verdict.reasons == ("period_call_cap",)
    assert [(p.counted, p.reached) for p in refused.evidence.caps.periods] == [(2, True)]
    # The sister campaign has no cap of its own: the same calls do not stop it.
    assert dial_time(runtime, sister).verdict.callable


def test_an_organization_cap_applies_to_every_campaign_and_bad_caps_are_refused_naming_the_field(
    runtime: Runtime, client: TestClient
) -> None:
    tenant = make_tenant(runtime)
    registry(runtime, tenant)
    campaign = make_campaign(runtime, tenant.id, numbers=[NUMBER])
    headers = tenant.headers("org_admin")
    for bad, where in (
        ([{"calls": 0, "days": 7}], "call_caps[0].calls=0"),
        ([{"calls": 3, "days": 400}], "call_caps[0].days=400"),
        ([{"calls": 3}], "call_caps[0]="),
    ):
        r = client.put("/api/compliance/settings", json={"call_caps": bad}, headers=headers)
        assert r.status_code == 422 and where in r.text, r.text
    r = client.put(
        "/api/compliance/settings",
        json={"unknown_line_type": "not_wireless", "call_caps": [{"calls": 1, "days": 7}]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["call_caps"] == [{"calls": 1, "days": 7}]
    kept = client.put("/api/compliance/settings", json={"unknown_line_type": "not_wireless"}, headers=headers)
    assert kept.json()["call_caps"] == [{"calls": 1, "days": 7}]  # omitted: unchanged
    assert dial_time(runtime, campaign).verdict.callable
    place_call(runtime, campaign, datetime.now(UTC) - timedelta(hours=30), "+12025550100")
    refused = dial_time(runtime, campaign)
    assert refused.verdict.reasons == ("period_call_cap",)
    [period] = refused.evidence.caps.periods
    assert (period.set_by, period.counted) == ("organization", 1)

    bad_campaign = client.patch(
        f"/api/campaigns/{campaign.id}", json={"call_caps": [{"calls": 2, "days": 0}]}, headers=headers
    )
    assert bad_campaign.status_code == 422 and "call_caps[0].days=0" in bad_campaign.text
