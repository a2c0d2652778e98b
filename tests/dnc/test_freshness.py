"""State, litigator and reassigned-number lists have a freshness rule like the national registry's
(`core.legal.LIST_MAX_AGE`, 31 days): a stale copy fails closed for the leads it concerns, and the evidence
names the copy, its age and the rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from core.legal import LIST_MAX_AGE
from core.runtime import Runtime
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.lead_facts import LeadColumns
from dnc.lists import import_list_file, import_numbers
from dnc.verdicts import Consent, LeadContext
from tests.conftest import Tenant

AT = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 12:00 in New York, 11:00 in Dallas
TEXAS = "+12145550143"
NEW_YORK = "+12125550143"


def decide(runtime: Runtime, tenant: Tenant, *leads: LeadContext, at: datetime = AT):  # type: ignore[no-untyped-def]
    return ComplianceEngine.load(runtime.db, tenant.id).decide(LeadColumns.of(list(leads)), at)


def test_a_state_list_older_than_31_days_blocks_that_states_leads_only(
    runtime: Runtime, tenant: Tenant
) -> None:
    import_numbers(
        runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT - timedelta(days=1)
    )
    obtained = AT - timedelta(days=20)
    import_numbers(
        runtime.db,
        kind="state",
        state="TX",
        numbers=[],
        owner_org_id=tenant.id,
        obtained_at=obtained,
        now=obtained,
    )
    fresh = decide(runtime, tenant, LeadContext(TEXAS), at=AT)
    assert fresh.evidence(0).callable
    later = AT + timedelta(days=12)  # the copy is 32 days old; the registry copy 13 days
    stale = decide(
        runtime,
        tenant,
        LeadContext(TEXAS),
        LeadContext(NEW_YORK, state="TX"),
        LeadContext(NEW_YORK),
        at=later,
    )
    by_area_code, by_state, elsewhere = (stale.evidence(i) for i in range(3))
    assert by_area_code.reasons == [reasons.STATE_LIST_STALE]
    assert reasons.STATE_LIST_STALE in by_state.reasons
    assert elsewhere.callable
    [texas_list] = [c for c in by_area_code.lists_checked if c.kind == "state"]
    assert (texas_list.stale, texas_list.max_age_days, texas_list.age_days) == (True, 31, 32.0)


def test_a_stale_litigator_list_blocks_every_call(runtime: Runtime, tenant: Tenant) -> None:
    import_numbers(
        runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT - timedelta(days=1)
    )
    obtained = AT - LIST_MAX_AGE["litigator"] - timedelta(hours=1)
    import_numbers(
        runtime.db, kind="litigator", numbers=[], owner_org_id=tenant.id, obtained_at=obtained, now=obtained
    )
    decision = decide(runtime, tenant, LeadContext(TEXAS), LeadContext(NEW_YORK))
    assert [decision.evidence(i).reasons for i in range(2)] == [[reasons.LITIGATOR_LIST_STALE]] * 2


def test_stale_reassigned_data_gives_no_safe_harbor_and_blocks_calls_relying_on_consent(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import_numbers(
        runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT - timedelta(days=1)
    )
    disconnects = tmp_path / "rnd.csv"
    disconnects.write_text("2125550199,2024-01-01\n")
    obtained = AT - timedelta(days=45)
    import_list_file(
        runtime.db,
        kind="reassigned",
        path=disconnects,
        owner_org_id=tenant.id,
        obtained_at=obtained,
        now=obtained,
    )
    consented = LeadContext(NEW_YORK, consent=Consent.EXPRESS_WRITTEN, consent_at=date(2025, 5, 1))
    decision = decide(runtime, tenant, consented, LeadContext(NEW_YORK))
    relying, without = decision.evidence(0), decision.evidence(1)
    assert relying.reasons == [reasons.REASSIGNED_DATA_STALE]
    assert relying.reassigned is not None
    assert (relying.reassigned.answer, relying.reassigned.safe_harbor) == ("no", False)
    assert relying.reassigned.data_age_days == 45.0
    assert without.callable  # a call that relies on no consent does not need the database
