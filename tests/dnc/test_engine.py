"""The decision function against real PostgreSQL and real index files: lists, scopes, freshness, windows."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import Scope
from core.runtime import Runtime
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.internal import add_area_code_block, add_internal_dnc
from dnc.lead_facts import LeadColumns
from dnc.lists import import_numbers
from dnc.verdicts import CampaignRules, Consent, LeadContext
from tests.conftest import Tenant, make_tenant

# Wednesday 2026-11-18, 15:00 UTC = 10:00 in New York (EST), 07:00 in Los Angeles.
AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
DC = "+12025550143"  # Washington DC, America/New_York
DC_OTHER = "+12025550199"


@pytest.fixture(scope="module")
def org(runtime: Runtime) -> Tenant:
    """A tenant with a fresh national registry copy of its own (obtained two days before AT), shared by
    the tests that only read; tests that change lists or rules use `own_org`."""
    return with_registry(runtime, make_tenant(runtime))


@pytest.fixture
def own_org(runtime: Runtime, tenant: Tenant) -> Tenant:
    return with_registry(runtime, tenant)


def with_registry(runtime: Runtime, tenant: Tenant) -> Tenant:
    import_numbers(
        runtime.db,
        kind="national",
        numbers=[DC, "3055550100"],
        owner_org_id=tenant.id,
        obtained_at=AT - timedelta(days=2),
    )
    return tenant


def check(
    runtime: Runtime, org: Tenant, *leads: LeadContext, at: datetime = AT, rules: CampaignRules | None = None
):  # type: ignore[no-untyped-def]
    return ComplianceEngine.load(runtime.db, org.id, rules).check(list(leads), at)


def test_number_on_the_national_registry_is_blocked_and_names_the_copy(runtime: Runtime, org: Tenant) -> None:
    [verdict] = check(runtime, org, LeadContext(DC, lead_id="L1"))
    assert not verdict.callable
    assert verdict.reasons == (reasons.NATIONAL_DNC,)
    assert verdict.matches[0].kind == "national" and verdict.matches[0].version_date == date(2026, 11, 16)
    assert verdict.registry_version == "1@2026-11-16"
    assert verdict.lead_id == "L1"


def test_number_on_no_list_is_callable_inside_calling_hours(runtime: Runtime, org: Tenant) -> None:
    [verdict] = check(runtime, org, LeadContext(DC_OTHER))
    assert verdict.callable and verdict.reasons == ()
    assert verdict.time_zones == ("America/New_York",)


def test_without_any_national_registry_copy_nothing_is_dialed(runtime: Runtime, tenant: Tenant) -> None:
    [verdict] = check(runtime, tenant, LeadContext(DC_OTHER))
    assert verdict.reasons == (reasons.NATIONAL_REGISTRY_MISSING,)


def test_a_registry_copy_older_than_31_days_blocks_dialing(runtime: Runtime, org: Tenant) -> None:
    obtained = AT - timedelta(days=2)
    [fresh] = check(runtime, org, LeadContext(DC_OTHER), at=obtained + timedelta(days=31))
    [stale] = check(runtime, org, LeadContext(DC_OTHER), at=obtained + timedelta(days=31, seconds=1))
    assert fresh.callable
    assert stale.reasons == (reasons.NATIONAL_REGISTRY_STALE,)


def test_internal_dnc_added_by_another_process_is_refused_at_the_very_next_check(
    runtime: Runtime, own_org: Tenant
) -> None:
    engine = ComplianceEngine.load(runtime.db, own_org.id)
    assert engine.check([LeadContext(DC_OTHER)], AT)[0].callable
    script = (
        "import uuid, sys\n"
        "from core.db import Scope\nfrom core.runtime import current_runtime\n"
        "from dnc.internal import add_internal_dnc\n"
        "with current_runtime().db.session(Scope(uuid.UUID(sys.argv[1]))) as s:\n"
        "    add_internal_dnc(s, e164=sys.argv[2], campaign_id=None, source='opt_out_key', reason='pressed 9',"
        " added_by=None)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(own_org.id), DC_OTHER], check=True, env=dict(os.environ)
    )
    [verdict] = engine.check([LeadContext(DC_OTHER)], AT)
    assert verdict.reasons == (reasons.INTERNAL_DNC,)
    assert verdict.matches[0].kind == "internal" and verdict.matches[0].scope == "org"


def test_campaign_dnc_blocks_only_that_campaign(runtime: Runtime, own_org: Tenant) -> None:
    campaign, other = uuid.uuid4(), uuid.uuid4()
    with runtime.db.session(Scope(own_org.id)) as s:
        add_internal_dnc(s, e164=DC_OTHER, campaign_id=campaign, source="agent", reason="dnc", added_by=None)
    [blocked] = check(runtime, own_org, LeadContext(DC_OTHER), rules=CampaignRules(campaign_id=campaign))
    [allowed] = check(runtime, own_org, LeadContext(DC_OTHER), rules=CampaignRules(campaign_id=other))
    assert blocked.reasons == (reasons.CAMPAIGN_DNC,)
    assert allowed.callable


def test_internal_dnc_of_one_organization_does_not_block_another(
    runtime: Runtime, own_org: Tenant, other_tenant: Tenant
) -> None:
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=other_tenant.id, obtained_at=AT)
    with runtime.db.session(Scope(own_org.id)) as s:
        add_internal_dnc(s, e164=DC_OTHER, campaign_id=None, source="agent", reason="dnc", added_by=None)
    assert not check(runtime, own_org, LeadContext(DC_OTHER))[0].callable
    assert check(runtime, other_tenant, LeadContext(DC_OTHER))[0].callable


def test_area_code_blocks_apply_org_wide_and_per_campaign(runtime: Runtime, own_org: Tenant) -> None:
    campaign = uuid.uuid4()
    with runtime.db.session(Scope(own_org.id)) as s:
        add_area_code_block(s, area_code="202", campaign_id=campaign, reason="no DC", added_by=None)
    assert check(runtime, own_org, LeadContext(DC_OTHER))[0].callable
    [blocked] = check(runtime, own_org, LeadContext(DC_OTHER), rules=CampaignRules(campaign_id=campaign))
    assert blocked.reasons == (reasons.AREA_CODE_BLOCKED,)


@pytest.mark.parametrize(
    ("local_time", "callable_"),
    [(time(7, 59, 59), False), (time(8, 0), True), (time(20, 59, 59), True), (time(21, 0), False)],
)
def test_federal_window_boundaries_in_local_time(
    runtime: Runtime, org: Tenant, local_time: time, callable_: bool
) -> None:
    at = datetime.combine(date(2026, 11, 18), local_time, tzinfo=UTC) + timedelta(hours=5)  # EST = UTC-5
    [verdict] = check(runtime, org, LeadContext(DC_OTHER), at=at)
    assert verdict.callable is callable_
    assert verdict.reasons == (() if callable_ else (reasons.OUTSIDE_FEDERAL_WINDOW,))


def test_dst_change_moves_the_window_in_utc(runtime: Runtime, own_org: Tenant) -> None:
    # 12:30 UTC is 07:30 EST on Saturday 2026-03-07 but 08:30 EDT on Sunday 2026-03-08 (DST began 02:00).
    before = datetime(2026, 3, 7, 12, 30, tzinfo=UTC)
    import_numbers(
        runtime.db,
        kind="national",
        numbers=[],
        owner_org_id=own_org.id,
        obtained_at=before - timedelta(days=1),
    )
    assert check(runtime, own_org, LeadContext(DC_OTHER), at=before)[0].reasons == (
        reasons.OUTSIDE_FEDERAL_WINDOW,
    )
    assert check(runtime, own_org, LeadContext(DC_OTHER), at=before + timedelta(days=1))[0].callable


def test_multi_zone_area_code_must_be_inside_the_window_in_every_zone(runtime: Runtime, org: Tenant) -> None:
    boise = "+12085550143"  # 208: America/Boise and America/Los_Angeles
    at = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # 08:30 in Boise, 07:30 in Los Angeles
    [verdict] = check(runtime, org, LeadContext(boise), at=at)
    assert set(verdict.time_zones) == {"America/Boise", "America/Los_Angeles"}
    assert verdict.reasons == (reasons.OUTSIDE_FEDERAL_WINDOW,)
    assert verdict.calling_window.endswith("common 09:00-21:00 America/Boise")
    assert check(runtime, org, LeadContext(boise), at=at + timedelta(hours=1))[0].callable


def test_toll_free_numbers_must_fit_every_us_zone(runtime: Runtime, org: Tenant) -> None:
    toll_free = "+18005550143"
    at = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)  # 13:00 New York, 08:00 Honolulu and Adak
    assert check(runtime, org, LeadContext(toll_free), at=at)[0].callable
    assert check(runtime, org, LeadContext(toll_free), at=at - timedelta(seconds=1))[0].reasons == (
        reasons.OUTSIDE_FEDERAL_WINDOW,
    )


def test_florida_lead_is_not_dialed_after_8pm_local(runtime: Runtime, org: Tenant) -> None:
    at = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)  # 20:30 EST on the 18th
    [by_area_code] = check(runtime, org, LeadContext("+13055550111"), at=at)
    [by_state] = check(runtime, org, LeadContext(DC_OTHER, state="FL"), at=at)
    [neither] = check(runtime, org, LeadContext(DC_OTHER), at=at)
    assert by_area_code.reasons == (reasons.OUTSIDE_STATE_WINDOW,)
    assert "FL 08:00-20:00" in by_area_code.state_rule
    assert by_state.reasons == (reasons.OUTSIDE_STATE_WINDOW,)
    assert neither.callable


def test_alabama_forbids_sundays_and_louisiana_holidays(runtime: Runtime, own_org: Tenant) -> None:
    sunday = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # 11:00 CST
    assert check(runtime, own_org, LeadContext("+12055550111"), at=sunday)[0].reasons == (
        reasons.STATE_NO_SUNDAY,
    )
    assert check(runtime, own_org, LeadContext("+12055550111"), at=sunday + timedelta(days=1))[0].callable
    christmas = datetime(2026, 12, 25, 17, 0, tzinfo=UTC)  # a Friday
    import_numbers(
        runtime.db,
        kind="national",
        numbers=[],
        owner_org_id=own_org.id,
        obtained_at=christmas - timedelta(days=1),
        now=christmas,
    )
    assert check(runtime, own_org, LeadContext("+12255550111"), at=christmas)[0].reasons == (
        reasons.STATE_NO_HOLIDAY,
    )
    assert check(runtime, own_org, LeadContext("+12255550111"), at=christmas - timedelta(days=1))[0].callable


def test_a_state_holiday_refuses_the_call_and_the_evidence_names_it(
    runtime: Runtime, own_org: Tenant
) -> None:
    """Ala. Admin. Code r. 770-X-5-.17(1)(b) bans holiday calls; Ala. Code 1-3-8 makes the fourth Monday of
    April (Confederate Memorial Day) a holiday: not a federal one. The dial-time path (`decide` and the
    evidence it stores) refuses it; the same hour in Mississippi (no holiday ban) and the next day pass."""
    holiday = datetime(2026, 4, 27, 17, 0, tzinfo=UTC)  # 12:00 CDT
    import_numbers(
        runtime.db, kind="national", numbers=[], owner_org_id=own_org.id,
        obtained_at=holiday - timedelta(days=1), now=holiday,
    )  # fmt: skip
    engine = ComplianceEngine.load(runtime.db, own_org.id, None)
    leads = [LeadContext("+12055550187", state="AL"), LeadContext("+16015550187", state="MS")]
    decision = engine.decide(LeadColumns.of(leads), holiday)
    alabama, mississippi = decision.verdicts()
    assert alabama.reasons == (reasons.STATE_NO_HOLIDAY,) and mississippi.callable
    window = decision.evidence(0).window
    assert window.holidays == ["AL: Confederate Memorial Day 2026-04-27 (Ala. Code 1-3-8)"]
    assert "no holidays" in window.state_rule
    assert decision.evidence(1).window.holidays == []
    assert engine.check(leads[:1], holiday + timedelta(days=1))[0].callable


def test_texas_calls_wait_until_noon_on_sunday_and_nine_on_other_days(runtime: Runtime, org: Tenant) -> None:
    """Tex. Bus. & Com. Code 301.051: 9 a.m.-9 p.m. Monday-Saturday, noon-9 p.m. Sunday (the lead's state
    or the area code's: 214 is Dallas)."""
    sunday_11 = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # 11:00 CST
    saturday_0830 = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)  # 08:30 CST
    [sunday_morning] = check(runtime, org, LeadContext("+12145550143"), at=sunday_11)
    [sunday_noon] = check(runtime, org, LeadContext("+12145550143"), at=sunday_11 + timedelta(hours=1))
    [saturday_early] = check(runtime, org, LeadContext("+12145550143", state="TX"), at=saturday_0830)
    [saturday_nine] = check(
        runtime, org, LeadContext("+12145550143"), at=saturday_0830 + timedelta(minutes=30)
    )
    assert sunday_morning.reasons == (reasons.OUTSIDE_STATE_WINDOW,)
    assert sunday_morning.calling_window.startswith("12:00-21:00 local")
    assert "TX 09:00-21:00, Sun 12:00-21:00" in sunday_morning.state_rule
    assert sunday_noon.callable and saturday_nine.callable
    assert saturday_early.reasons == (reasons.OUTSIDE_STATE_WINDOW,)


def test_florida_allows_three_calls_per_24_hours(runtime: Runtime, org: Tenant) -> None:
    earlier = tuple(AT - timedelta(hours=h) for h in (1, 2, 23))
    [third_call] = check(runtime, org, LeadContext("+13055550111", recent_calls=earlier[:2]))
    [fourth_call] = check(runtime, org, LeadContext("+13055550111", recent_calls=earlier))
    [a_day_later] = check(
        runtime, org, LeadContext("+13055550111", recent_calls=earlier), at=AT + timedelta(hours=2)
    )
    assert third_call.callable
    assert fourth_call.reasons == (reasons.STATE_CALL_CAP,)
    assert a_day_later.callable


def test_wireless_numbers_need_express_written_consent(runtime: Runtime, org: Tenant) -> None:
    no_consent, express, written = check(
        runtime,
        org,
        LeadContext(DC_OTHER, wireless=True),
        LeadContext(DC_OTHER, wireless=True, consent=Consent.EXPRESS),
        LeadContext(DC_OTHER, wireless=True, consent=Consent.EXPRESS_WRITTEN),
    )
    assert no_consent.reasons == express.reasons == (reasons.WIRELESS_NO_CONSENT,)
    assert written.callable


def test_campaign_geo_rules_and_window_only_narrow(runtime: Runtime, org: Tenant) -> None:
    rules = CampaignRules(
        allowed_countries=("US", "CA"),
        blocked_states=("TX",),
        blocked_area_codes=("312",),
        calling_window_override=(time(7, 0), time(9, 30)),
    )
    texas, chicago, dc, london = check(
        runtime,
        org,
        LeadContext("+12145550111"),
        LeadContext("+13125550111"),
        LeadContext(DC_OTHER),
        LeadContext("+442079460000"),
        at=datetime(2026, 11, 18, 15, 0, tzinfo=UTC),
        rules=rules,
    )
    assert texas.reasons == (reasons.STATE_BLOCKED,)
    assert chicago.reasons == (reasons.AREA_CODE_BLOCKED,)
    assert dc.reasons == (reasons.OUTSIDE_CAMPAIGN_WINDOW,)  # 10:00 local, campaign stops at 09:30
    assert reasons.COUNTRY_NOT_ALLOWED in london.reasons  # CA is allowed by the campaign, not by the org


def test_invalid_numbers_are_blocked_with_a_reason(runtime: Runtime, org: Tenant) -> None:
    [verdict] = check(runtime, org, LeadContext("+1202555"))
    assert verdict.reasons == (reasons.INVALID_NUMBER,)


nanp_numbers = st.builds(
    lambda npa, rest: f"+1{npa}{rest}",
    st.sampled_from(["202", "208", "212", "305", "405", "205", "225", "214", "800", "416", "809"]),
    st.integers(min_value=2_000_000, max_value=9_999_999),
)
lead_contexts = st.builds(
    LeadContext,
    e164=st.one_of(nanp_numbers, st.sampled_from([DC, "+442079460000", "+1202555", "junk"])),
    state=st.sampled_from([None, "FL", "TX", "AL", "CA", "DC", "ok"]),
    wireless=st.sampled_from([None, True, False]),
    consent=st.sampled_from(list(Consent)),
    recent_calls=st.lists(st.just(AT - timedelta(hours=1)), max_size=4).map(tuple),
)
moments = st.datetimes(
    min_value=datetime(2026, 11, 17), max_value=datetime(2026, 12, 17), timezones=st.just(UTC)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(lead_contexts, min_size=1, max_size=12), at=moments)
def test_a_batch_decides_every_lead_as_if_it_were_alone(
    runtime: Runtime, org: Tenant, leads: list[LeadContext], at: datetime
) -> None:
    engine = ComplianceEngine.load(runtime.db, org.id)
    batch = engine.check(leads, at)
    assert batch == [engine.check([lead], at)[0] for lead in leads]
    for verdict in batch:
        assert verdict.callable == (verdict.reasons == ())
        assert set(verdict.reasons) <= set(reasons.ALL)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(lead_contexts, min_size=1, max_size=12), at=moments)
def test_campaign_rules_only_ever_add_reasons(
    runtime: Runtime, org: Tenant, leads: list[LeadContext], at: datetime
) -> None:
    narrow = CampaignRules(
        allowed_countries=("US", "CA"),
        blocked_states=("TX",),
        blocked_area_codes=("305",),
        calling_window_override=(time(9, 30), time(17, 0)),
    )
    wide = ComplianceEngine.load(runtime.db, org.id).check(leads, at)
    narrowed = ComplianceEngine.load(runtime.db, org.id, narrow).check(leads, at)
    for w, n in zip(wide, narrowed, strict=True):
        assert set(w.reasons) <= set(n.reasons)


def test_zip_code_places_a_lead_whose_state_is_not_given(runtime: Runtime, org: Tenant) -> None:
    evening = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)  # 20:30 in Miami and in Washington
    [florida_zip] = check(runtime, org, LeadContext(DC_OTHER, zip_code="33101"), at=evening)
    assert florida_zip.reasons == (reasons.OUTSIDE_STATE_WINDOW,) and "FL" in florida_zip.state_rule
    # A New York number whose owner lives in Beverly Hills: the window must hold on both coasts.
    morning = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # 10:30 in New York, 07:30 in Los Angeles
    [moved] = check(runtime, org, LeadContext("+12125550111", zip_code="90210"), at=morning)
    assert set(moved.time_zones) == {"America/New_York", "America/Los_Angeles"}
    assert reasons.OUTSIDE_FEDERAL_WINDOW in moved.reasons


def test_bulk_checks_see_internal_additions_too(runtime: Runtime, own_org: Tenant) -> None:
    engine = ComplianceEngine.load(runtime.db, own_org.id)
    batch = [LeadContext(f"+1202555{n:04d}") for n in range(1000, 2200)]  # above the direct-lookup size
    assert engine.check(batch, AT)[-1].callable
    with runtime.db.session(Scope(own_org.id)) as s:
        add_internal_dnc(
            s, e164="+12025552199", campaign_id=None, source="compliance", reason="", added_by=None
        )
    last = engine.check(batch, AT)[-1]
    assert last.reasons == (reasons.INTERNAL_DNC,)
    assert last.matches[0].version == "v1 (1 entries, 0 area-code blocks)"  # the organization's own version
