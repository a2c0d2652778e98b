"""Lead import, scrub reports, `POST /api/dnc/check` and the dial-time check give the same verdict for the
same lead and moment: they build the engine's inputs through one path (`dnc.lead_facts`, one
Campaign -> rules converter) and call one `decide`. Checked on a few thousand generated leads, under a
campaign with its own window and geo rules, at moments that hit DST, Sunday and window edges."""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.hopper import LeasedLead
from campaigns.jobs import create_import_job, run_import_job
from campaigns.models import Campaign, Lead
from campaigns.scrubbing import rules_for_campaign
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.compliance import DialTimeCompliance
from dnc import reasons
from dnc.internal import add_area_code_block, add_internal_dnc
from dnc.lists import import_list_file, import_numbers
from dnc.scrub import scrub_file
from tests.conftest import Tenant, make_tenant
from tests.engine.factories import make_campaign

LEADS = 3000
# Area codes with one zone, several zones (ID, FL panhandle, TX El Paso, ND, KY, AK), 8-8 states, and the
# campaign's blocked state (NV) and area code (305).
AREA_CODES = ["202", "212", "305", "850", "208", "915", "512", "702", "405", "410", "907", "808", "602",
              "303", "701", "270", "251", "318", "601", "206", "213", "615", "317", "225"]  # fmt: skip
STATES = ["", "", "DC", "NY", "FL", "ID", "TX", "NV", "OK", "MD", "AK", "AZ", "CA", "AL", "LA", "OR"]
ZIPS = ["", "", "", "20500", "10001", "33101", "83702", "79901", "89101", "73102", "99501"]
CONSENTS = ["", "no", "yes", "express", "written", "express_written", "pewc"]
WIRELESS = ["", "", "yes", "no", "mobile", "landline"]
# Moments: a weekday noon, the spring DST switch (a Sunday morning), a weekday evening edge, a holiday.
MOMENTS = [
    datetime(2026, 3, 10, 17, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 13, 30, tzinfo=UTC),
    datetime(2026, 3, 11, 0, 45, tzinfo=UTC),
    datetime(2026, 7, 3, 14, 15, tzinfo=UTC),
]


def generated_leads(rng: random.Random) -> list[dict[str, str]]:
    rows, seen = [], set()
    while len(rows) < LEADS:
        number = f"{rng.choice(AREA_CODES)}{rng.randint(201, 989)}{rng.randint(0, 9999):04d}"
        if number in seen or number[3:6] in ("555", "911", "611", "411"):
            continue
        seen.add(number)
        consent = rng.choice(CONSENTS)
        consent_at = ""
        if consent not in ("", "no") and rng.random() < 0.8:
            consent_at = (date(2025, 1, 1) + timedelta(days=rng.randint(0, 400))).isoformat()
        rows.append(
            {
                "phone": rng.choice([f"+1{number}", f"({number[:3]}) {number[3:6]}-{number[6:]}", number]),
                "state": rng.choice(STATES),
                "zip": rng.choice(ZIPS),
                "consent": consent,
                "consent_at": consent_at,
                "wireless": rng.choice(WIRELESS),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def seed_lists(runtime: Runtime, tenant: Tenant, campaign: Campaign, numbers: list[str], tmp: Path) -> None:
    rng = random.Random(11)
    pick = lambda share: [n for n in numbers if rng.random() < share]  # noqa: E731
    obtained = MOMENTS[1] - timedelta(days=2)
    import_numbers(
        runtime.db, kind="national", numbers=pick(0.1), owner_org_id=tenant.id, obtained_at=obtained
    )
    import_numbers(
        runtime.db, kind="wireless", numbers=pick(0.3), owner_org_id=tenant.id, obtained_at=obtained
    )
    import_numbers(
        runtime.db, kind="state", state="TX", numbers=pick(0.05), owner_org_id=tenant.id, obtained_at=obtained
    )
    import_numbers(
        runtime.db, kind="litigator", numbers=pick(0.02), owner_org_id=tenant.id, obtained_at=obtained
    )
    reassigned = tmp / "reassigned.csv"
    reassigned.write_text(
        "".join(f"{n[2:]},{date(2025, 1, 1) + timedelta(days=rng.randint(0, 400))}\n" for n in pick(0.05))
    )
    import_list_file(
        runtime.db, kind="reassigned", path=reassigned, owner_org_id=tenant.id, obtained_at=obtained
    )
    with runtime.db.session(Scope(tenant.id)) as s:
        for n in pick(0.03):
            add_internal_dnc(s, e164=n, campaign_id=None, source="compliance", reason="t", added_by=None)
        for n in pick(0.03):
            add_internal_dnc(
                s, e164=n, campaign_id=campaign.id, source="compliance", reason="t", added_by=None
            )
        add_area_code_block(s, area_code="907", campaign_id=None, reason="t", added_by=None)


def scrub_reasons(report: Path) -> dict[int, tuple[str, ...]]:
    with report.open(newline="") as fh:
        return {int(r["row"]): tuple(r["reasons"].split()) for r in csv.DictReader(fh)}


def as_leased(lead: Lead) -> LeasedLead:
    return LeasedLead(
        lead_id=lead.id,
        org_id=lead.org_id,
        campaign_id=lead.campaign_id,
        list_id=lead.list_id,
        e164=lead.phone_e164,
        first_name=None,
        last_name=None,
        state=lead.state,
        zip_code=lead.zip_code,
        wireless=lead.wireless,
        consent=lead.consent,
        consent_at=lead.consent_at,
        attempts=0,
        callback_at=None,
        callback_agent_id=None,
        extra={},
        lease_holder="agreement-test",
        lease_expires_at=datetime.now(UTC),
    )


def test_import_scrub_check_and_dial_time_give_the_same_verdict_for_the_same_lead_and_moment(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime, unknown_line_type="wireless")  # the product's fail-closed default
    campaign = make_campaign(
        runtime,
        tenant.id,
        active=False,
        settings={
            "calling_window_start": "10:00",
            "calling_window_end": "19:30",
            "blocked_states": ["NV"],
            "blocked_area_codes": ["305"],
            "dedupe_scope": "none",
        },
    )
    rows = generated_leads(random.Random(7))
    leads_csv = write_csv(tmp_path / "leads.csv", rows)
    numbers = [f"+1{''.join(ch for ch in r['phone'] if ch.isdigit())[-10:]}" for r in rows]
    seed_lists(runtime, tenant, campaign, numbers, tmp_path)

    job_id, _ = create_import_job(
        runtime,
        org_id=tenant.id,
        campaign_id=campaign.id,
        path=leads_csv,
        file_name="leads.csv",
        delete_file_after=False,
    )
    run_import_job(runtime, job_id)
    with runtime.db.session(Scope(tenant.id)) as s:
        imported = list(s.scalars(select(Lead).where(Lead.campaign_id == campaign.id)))
        rules = rules_for_campaign(s, campaign.id)
        loaded = s.get(Campaign, campaign.id)
        assert loaded is not None
        dial_time = DialTimeCompliance(runtime.db, loaded)
    assert len(imported) > LEADS * 0.9  # a few generated numbers are not valid, and rejected
    assert rules.calling_window_override == (time(10, 0), time(19, 30))
    by_row = {lead.row_number: lead for lead in imported}
    leased = [as_leased(lead) for lead in imported]

    compared, blocked_by_time = 0, 0
    for at in MOMENTS:
        report = tmp_path / f"report-{at:%Y%m%d%H%M}.csv"
        scrub_file(runtime.db, tenant.id, leads_csv, report, at=at, rules=rules)
        scrubbed = scrub_reasons(report)
        dialed = {lead.lead_id: d for lead, d in zip(leased, dial_time.decide(leased, at), strict=True)}
        sample = [by_row[row] for row in sorted(by_row)[:: len(by_row) // 400 + 1]]
        checked = client.post(
            "/api/dnc/check",
            json={
                "numbers": [lead.phone_e164 for lead in sample],
                "at": at.isoformat(),
                "campaign_id": str(campaign.id),
            },
            headers=tenant.headers("compliance"),
        )
        assert checked.status_code == 200, checked.text
        by_number = {v["e164"]: v for v in checked.json()}
        for row, lead in by_row.items():
            dial = dialed[lead.id]
            assert scrubbed[row] == dial.verdict.reasons, (row, lead.phone_e164, at)
            assert tuple(dial.evidence.reasons) == dial.verdict.reasons
            lasting = tuple(r for r in dial.verdict.reasons if r not in reasons.TIME_BOUND)
            assert tuple(lead.verdict_reasons) == lasting, (row, lead.phone_e164)
            assert (lead.status == "blocked") == bool(lasting)
            blocked_by_time += bool(dial.verdict.reasons) and not lasting
            compared += 1
        for lead in sample:  # the check API knows the number only: no state, consent or wireless flag
            bare = replace(
                as_leased(lead), state=None, zip_code=None, wireless=None, consent="none", consent_at=None
            )
            [expected] = dial_time.decide([bare], at)
            assert tuple(by_number[lead.phone_e164]["reasons"]) == expected.verdict.reasons
    assert compared == len(by_row) * len(MOMENTS)
    assert blocked_by_time > 0  # the moments did exercise the windows, and every reason kind showed up:
    seen = {r for d in dial_time.decide(leased, MOMENTS[1]) for r in d.verdict.reasons}
    assert {
        reasons.NATIONAL_DNC, reasons.STATE_DNC, reasons.INTERNAL_DNC, reasons.CAMPAIGN_DNC,
        reasons.LITIGATOR, reasons.WIRELESS_NO_CONSENT, reasons.STATE_BLOCKED, reasons.AREA_CODE_BLOCKED,
        reasons.OUTSIDE_CAMPAIGN_WINDOW, reasons.STATE_NO_SUNDAY, reasons.REASSIGNED_SINCE_CONSENT,
    } <= seen  # fmt: skip
