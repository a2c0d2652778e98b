"""Rolling 30-day abandon report: the arithmetic, the SQL over call_attempts, the API, the budget seed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient

from campaigns.models import CallAttempt
from campaigns.service import create_campaign
from core.db import Scope
from dialer.abandon_report import PeriodCounts, build_report, load_report, period_counts, seed_budget
from dialer.pacing.budget import AbandonBudget
from tests.conftest import Tenant

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def test_report_counts_person_answered_calls_in_the_window_only() -> None:
    outcomes = [
        (NOW - timedelta(days=30), "abandoned"),  # exactly 30 days ago: out of the window
        (NOW - timedelta(days=30) + timedelta(seconds=1), "abandoned"),  # just inside
        (NOW - timedelta(days=2, hours=1), "human"),
        (NOW - timedelta(days=2), "human"),
        (NOW - timedelta(days=2), "machine"),  # not in the base
        (NOW - timedelta(days=2), "no_answer"),
        (NOW - timedelta(days=2), "blocked"),
        (NOW, "human"),  # now: inside
        (NOW + timedelta(seconds=1), "abandoned"),  # the future: ignored
    ]
    periods = period_counts(outcomes, now=NOW)
    assert periods == [
        PeriodCounts(datetime(2026, 3, 1, tzinfo=UTC), 1, 1),
        PeriodCounts(datetime(2026, 3, 29, tzinfo=UTC), 2, 0),
        PeriodCounts(datetime(2026, 3, 31, tzinfo=UTC), 1, 0),
    ]
    report = build_report(uuid.uuid4(), periods, now=NOW)
    assert (report.human_answered, report.abandoned) == (4, 1)
    assert report.abandon_rate == 0.25
    assert not report.compliant
    assert report.drops_until_limit == -1  # floor(0.03 x 4) = 0 allowed, 1 used


def test_drops_until_limit_at_the_edge() -> None:
    report = build_report(uuid.uuid4(), [PeriodCounts(NOW, 1000, 29)], now=NOW)
    assert report.compliant and report.drops_until_limit == 1
    full = build_report(uuid.uuid4(), [PeriodCounts(NOW, 1000, 30)], now=NOW)
    assert full.compliant and full.drops_until_limit == 0
    assert not build_report(uuid.uuid4(), [PeriodCounts(NOW, 1000, 31)], now=NOW).compliant
    with pytest.raises(ValueError, match="more abandoned than person-answered"):
        build_report(uuid.uuid4(), [PeriodCounts(NOW, 1, 2)], now=NOW)


def test_seeded_budget_matches_the_report_and_forgets_old_days() -> None:
    periods = [
        PeriodCounts(datetime(2026, 3, 2, tzinfo=UTC), 500, 20),
        PeriodCounts(datetime(2026, 3, 30, tzinfo=UTC), 500, 5),
    ]
    report = build_report(uuid.uuid4(), periods, now=NOW)
    budget = seed_budget(AbandonBudget(), report, clock_now=1_000_000.0)
    assert budget.human_answered(1_000_000.0) == 1000
    assert budget.dropped(1_000_000.0) == 25
    assert budget.rate(1_000_000.0) == pytest.approx(0.025)
    assert budget.slack(1_000_000.0, 0.022) == pytest.approx(-3.0)
    # Two days later the 2 March day has left the window.
    later = 1_000_000.0 + 2 * 86_400
    assert (budget.human_answered(later), budget.dropped(later)) == (500, 5)


def _attempts(tenant: Tenant, campaign_id: uuid.UUID, rows: list[tuple[datetime, str, bool]]) -> None:
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        for lead, (at, outcome, answered) in enumerate(rows):
            s.add(
                CallAttempt(
                    org_id=tenant.id,
                    lead_id=lead,
                    campaign_id=campaign_id,
                    placed_at=at - timedelta(seconds=9),
                    answered_at=at if answered else None,
                    outcome=outcome,
                )
            )


def _campaign(tenant: Tenant) -> uuid.UUID:
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        return create_campaign(s, org_id=tenant.id, name=f"c-{uuid.uuid4().hex[:8]}").id


def test_sql_report_equals_the_pure_computation(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = _campaign(tenant)
    elsewhere = _campaign(tenant)
    foreign = _campaign(other_tenant)
    now = datetime.now(UTC)
    rows = [
        (now - timedelta(days=31), "abandoned", True),
        (now - timedelta(days=29, hours=23), "abandoned", True),
        (now - timedelta(days=3), "human", True),
        (now - timedelta(days=3), "human", False),  # no answer time recorded: counts at placement
        (now - timedelta(days=3), "machine", True),
        (now - timedelta(hours=1), "abandoned", True),
        (now - timedelta(hours=1), "human", True),
        (now - timedelta(minutes=1), "in_progress", True),
    ]
    _attempts(tenant, campaign, rows)
    _attempts(tenant, elsewhere, [(now - timedelta(hours=2), "abandoned", True)] * 5)
    _attempts(other_tenant, foreign, [(now - timedelta(hours=2), "abandoned", True)] * 5)
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        report = load_report(s, campaign, now=now)
    expected_times = [
        (at if answered else at - timedelta(seconds=9), outcome) for at, outcome, answered in rows
    ]
    assert report.periods == period_counts(expected_times, now=now)
    assert (report.human_answered, report.abandoned) == (5, 2)
    # Another organization's session sees nothing of this campaign.
    with other_tenant.runtime.db.session(Scope(other_tenant.id)) as s:
        assert load_report(s, campaign, now=now).human_answered == 0


def test_abandon_report_route(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = _campaign(tenant)
    now = datetime.now(UTC)
    _attempts(tenant, campaign, [(now - timedelta(hours=1), "human", True)] * 97)
    _attempts(tenant, campaign, [(now - timedelta(hours=1), "abandoned", True)] * 3)
    url = f"/api/campaigns/{campaign}/abandon-report"
    for role in ("manager", "compliance", "org_admin"):
        response = client.get(url, headers=tenant.headers(role))
        assert response.status_code == 200, response.text
    body = response.json()
    assert (body["human_answered"], body["abandoned"]) == (100, 3)
    assert body["abandon_rate"] == pytest.approx(0.03)
    assert body["compliant"] is True
    assert body["drops_until_limit"] == 0
    assert body["days"][-1]["day"] == (now - timedelta(hours=1)).date().isoformat()
    assert client.get(url, headers=tenant.headers("agent")).status_code == 403
    assert client.get(url, headers=other_tenant.headers("manager")).status_code == 404
    assert client.get(url).status_code == 401
