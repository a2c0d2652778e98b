"""The daily reports on real PostgreSQL: a seeded random floor (tests/reports/floor.py: two campaigns,
three agents, four lists, blocked calls, opt-outs, revocations) is written, then every figure of every
report is compared with a recount of the generated rows made here in Python, independently of the SQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from campaigns.models import LeadList
from core.db import Scope
from dialer import reports
from tests.conftest import Tenant, make_tenant
from tests.reports.floor import END, SINCE, START, UNTIL, Floor, generate_floor


@pytest.fixture(scope="module")
def floor_and_tenant(runtime: Any) -> tuple[Floor, Tenant]:
    tenant = make_tenant(runtime)
    return generate_floor(runtime, tenant), tenant


def _report(
    runtime: Any, tenant: Tenant, kind: reports.ReportKind, campaign: uuid.UUID | None
) -> reports.Report:
    with runtime.db.session(Scope(tenant.id)) as s:
        return reports.build(
            s, kind, reports.ReportRange(SINCE, UNTIL, campaign), now=END + timedelta(days=30)
        )


def _in(floor: Floor, campaign: uuid.UUID | None) -> list[dict[str, Any]]:
    return [a for a in floor.attempts if START <= a["placed"] < END and campaign in (None, a["campaign"])]


SCOPES = ("organization", "campaign")


def _scope(floor: Floor, which: str) -> uuid.UUID | None:
    return None if which == "organization" else floor.campaigns[1]


@pytest.mark.parametrize("which", SCOPES)
def test_campaign_by_hour_matches_a_recount(
    runtime: Any, floor_and_tenant: tuple[Floor, Tenant], which: str
) -> None:
    floor, tenant = floor_and_tenant
    campaign = _scope(floor, which)
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for a in _in(floor, campaign):
        c = expected[a["placed"].strftime("%Y-%m-%d %H:00")]
        c["dials"] += a["outcome"] != "blocked"
        c["answered_person"] += a["outcome"] in ("human", "abandoned")
        c["answered_machine"] += a["outcome"] == "machine"
        c["connects"] += a["connected"] is not None
        c["abandons"] += a["outcome"] == "abandoned"
    (table,) = _report(runtime, tenant, reports.ReportKind.CAMPAIGN_BY_HOUR, campaign).tables
    assert [r["hour"] for r in table.rows] == sorted(expected)
    for row in table.rows:
        c = expected[row["hour"]]
        assert {k: row[k] for k in c} == dict(c)
        person = c["answered_person"]
        assert row["abandon_rate"] == pytest.approx(c["abandons"] / person if person else 0, abs=1e-4)
        assert row["contact_rate"] == pytest.approx(person / c["dials"] if c["dials"] else 0, abs=1e-4)
    assert table.total is not None
    assert table.total["dials"] == sum(c["dials"] for c in expected.values()) > 0


@pytest.mark.parametrize("which", SCOPES)
def test_agent_performance_matches_a_recount(
    runtime: Any, floor_and_tenant: tuple[Floor, Tenant], which: str
) -> None:
    floor, tenant = floor_and_tenant
    campaign = _scope(floor, which)
    report = _report(runtime, tenant, reports.ReportKind.AGENT_PERFORMANCE, campaign)
    rows = {uuid.UUID(r["agent_id"]): r for r in report.tables[0].rows}
    for agent in floor.agents:
        calls = [a for a in _in(floor, campaign) if a["agent"] == agent]
        talk = sum((a["ended"] - a["connected"]).total_seconds() for a in calls)
        wrap = sum((a["disposed"] - a["ended"]).total_seconds() for a in calls if a["disposed"])
        logged = sum(
            (min(x["end"], END) - max(x["start"], START)).total_seconds()
            for x in floor.sessions
            if x["agent"] == agent
            and campaign in (None, x["campaign"])
            and x["end"] > START
            and x["start"] < END
        )
        if not calls and not logged:
            assert agent not in rows
            continue
        row = rows[agent]
        assert row["handled"] == len(calls)
        assert row["talk_s"] == pytest.approx(talk, abs=0.1)
        assert row["wrap_s"] == pytest.approx(wrap, abs=0.1)
        assert row["logged_in_s"] == pytest.approx(logged, abs=0.1)
        assert row["sales"] == sum(a["disposition"] == "SALE" for a in calls)
        assert row["occupancy"] == pytest.approx(min((talk + wrap) / logged, 1) if logged else 0, abs=1e-4)
        by_code = Counter(a["disposition"] for a in calls if a["disposition"])
        (per_code,) = [r for r in report.tables[1].rows if r["agent"] == row["agent"]]
        assert {c: per_code[c] for c in by_code} == dict(by_code)


@pytest.mark.parametrize("which", SCOPES)
def test_list_penetration_matches_a_recount(
    runtime: Any, floor_and_tenant: tuple[Floor, Tenant], which: str
) -> None:
    floor, tenant = floor_and_tenant
    campaign = _scope(floor, which)
    codes_table, lists_table = _report(runtime, tenant, reports.ReportKind.LIST_PENETRATION, campaign).tables
    expected_codes = Counter(a["disposition"] for a in _in(floor, campaign) if a["disposition"])
    assert {r["code"]: r["calls"] for r in codes_table.rows} == dict(expected_codes)
    assert [r["sale"] for r in codes_table.rows if r["code"] == "SALE"] == ["yes"]
    rows = {uuid.UUID(r["list_id"]): r for r in lists_table.rows}
    wanted = {lst for lst, c in floor.lists.items() if campaign in (None, c)}
    assert set(rows) == wanted
    for list_id in wanted:
        leads = [x for x in floor.leads if x["list"] == list_id]
        final = [x for x in leads if x["status"] in ("done", "blocked")]
        row = rows[list_id]
        assert row["leads"] == len(leads)
        assert row["done"] == sum(x["status"] == "done" for x in leads)
        assert row["blocked"] == sum(x["status"] == "blocked" for x in leads)
        assert row["not_dialed"] == sum(not x["dialed"] for x in leads if x not in final)
        assert row["dialed"] == sum(x["dialed"] for x in leads if x not in final)
        assert row["penetration"] == pytest.approx(sum(x["dialed"] for x in leads) / len(leads), abs=1e-4)


@pytest.mark.parametrize("which", SCOPES)
def test_dnc_compliance_matches_a_recount(
    runtime: Any, floor_and_tenant: tuple[Floor, Tenant], which: str
) -> None:
    floor, tenant = floor_and_tenant
    campaign = _scope(floor, which)
    reasons, lists, opt_outs, revocations = _report(
        runtime, tenant, reports.ReportKind.DNC_COMPLIANCE, campaign
    ).tables
    blocked = [a for a in _in(floor, campaign) if a["outcome"] == "blocked"]
    assert {r["reason"]: r["calls"] for r in reasons.rows} == dict(
        Counter(x for a in blocked for x in a["reasons"])
    )
    assert reasons.total is not None and reasons.total["calls"] == len(blocked) > 0
    by_list = Counter(a["list"] for a in blocked)
    with runtime.db.session(Scope(tenant.id)) as s:
        names = {lst: s.get(LeadList, lst).name for lst in by_list}  # type: ignore[union-attr]
    campaign_names = {
        r["list_id"]: r["campaign"]
        for r in _report(runtime, tenant, reports.ReportKind.LIST_PENETRATION, campaign).tables[1].rows
    }
    assert sorted((r["list"], r["campaign"], r["calls"]) for r in lists.rows) == sorted(
        (names[k], campaign_names[str(k)], v) for k, v in by_list.items()
    )

    def called_by(e164: str, at: datetime) -> bool:
        return any(
            a["e164"] == e164 and a["campaign"] == campaign and at - timedelta(days=1) <= a["placed"] <= at
            for a in floor.attempts
        )

    in_range = [d for d in floor.dnc if START <= d["at"] < END]
    if campaign is not None:
        in_range = [d for d in in_range if d["campaign"] == campaign or called_by(d["e164"], d["at"])]
    assert {r["source"]: r["entries"] for r in opt_outs.rows} == dict(Counter(d["source"] for d in in_range))
    revoked = [r for r in floor.revocations if START <= r["at"] < END]
    if campaign is not None:
        revoked = [r for r in revoked if called_by(r["e164"], r["at"])]
    assert {r["source"]: r["revocations"] for r in revocations.rows} == dict(
        Counter(r["source"] for r in revoked)
    )


def test_another_organization_sees_none_of_it(runtime: Any, floor_and_tenant: tuple[Floor, Tenant]) -> None:
    other = make_tenant(runtime)
    for kind in reports.ReportKind:
        report = _report(runtime, other, kind, None)
        assert all(not t.rows for t in report.tables), kind


def test_api_json_csv_roles_and_bad_ranges(
    client: Any, floor_and_tenant: tuple[Floor, Tenant], runtime: Any
) -> None:
    floor, tenant = floor_and_tenant
    query = {"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "campaign_id": str(floor.campaigns[0])}
    answer = client.get("/api/reports/campaign-by-hour", params=query, headers=tenant.headers("compliance"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected_dials = sum(a["outcome"] != "blocked" for a in _in(floor, floor.campaigns[0]))
    assert body["tables"][0]["total"]["dials"] == expected_dials
    download = client.get(
        "/api/reports/campaign-by-hour/csv", params=query, headers=tenant.headers("manager")
    )
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    header = next(r for r in rows if r and r[0] == "table")
    total = next(r for r in rows if r and r[:2] == ["hours", "Total"])
    assert int(total[header.index("dials")]) == expected_dials
    assert (
        client.get("/api/reports/campaign-by-hour", params=query, headers=tenant.headers("agent")).status_code
        == 403
    )
    bad = client.get(
        "/api/reports/campaign-by-hour", params={"since": "2026-13-01"}, headers=tenant.headers("manager")
    )
    assert bad.status_code == 422 and "2026-13-01" in bad.text and "since" in bad.text
    reversed_range = client.get(
        "/api/reports/agent-performance",
        params={"since": "2026-06-05", "until": "2026-06-01"},
        headers=tenant.headers("manager"),
    )
    assert reversed_range.status_code == 422 and "must not be after" in reversed_range.text
    too_long = client.get(
        "/api/reports/dnc-compliance",
        params={"since": "2026-01-01", "until": "2026-06-01"},
        headers=tenant.headers("manager"),
    )
    assert too_long.status_code == 422 and "at most 92 days" in too_long.text
    unknown = client.get("/api/reports/nonsense", headers=tenant.headers("manager"))
    assert unknown.status_code == 404
    other = make_tenant(runtime)
    foreign = client.get("/api/reports/campaign-by-hour", params=query, headers=other.headers("manager"))
    assert foreign.status_code == 404


def test_pause_time_by_code_comes_from_the_live_board_history(runtime: Any) -> None:
    """Agents change state on the real Redis board (its Lua scripts stamp each event with the pause code);
    the events written as intervals (`record_agent_states`, what the supervisor runs on each tick) give the
    report its ready and paused time, per pause code."""
    from dialer.engine.agents import AgentBoard
    from dialer.engine.state_log import record_agent_states
    from tests.engine.factories import make_campaign

    tenant = make_tenant(runtime)
    campaign = make_campaign(runtime, tenant.id, active=False)
    board = AgentBoard(runtime.redis)
    t0 = int((START + timedelta(days=1)).timestamp() * 1000)
    first, second = (str(tenant.users[r].id) for r in ("agent", "manager"))
    cursor = board.last_event_id(str(campaign.id))
    for agent, script in (
        (
            first,
            [
                ("leg_up", 10),
                ("pause", 70, "BREAK"),
                ("resume", 370),
                ("pause", 400, "LUNCH"),
                ("logout", 2200),
            ],
        ),
        (second, [("leg_up", 5), ("pause", 65, "BREAK"), ("resume", 165), ("logout", 200)]),
    ):
        board.start_session(
            agent_id=agent,
            org_id=str(tenant.id),
            campaign_id=str(campaign.id),
            session_id=str(uuid.uuid4()),
            sip_uri="sip:a@127.0.0.1",
            at_ms=t0,
        )
        for step, seconds, *code in script:
            at = t0 + seconds * 1000
            if step == "leg_up":
                board.leg_up(agent, worker="w", leg_id="l", at_ms=at)
            elif step == "pause":
                board.pause(agent, at, code=code[0])
            elif step == "resume":
                board.resume(agent, at)
            else:
                board.logout(agent, at)
    events = board.events_since(str(campaign.id), cursor)
    assert [e.pause_code for e in events if e.new_state == "PAUSED"] == ["BREAK", "LUNCH", "BREAK"]
    # Two ticks' worth, as the supervisor hands them over: an interval opened in one is closed by the next.
    record_agent_states(runtime.db, tenant.id, campaign.id, events[:5])
    record_agent_states(runtime.db, tenant.id, campaign.id, events[5:])
    with runtime.db.session(Scope(tenant.id)) as s:
        report = reports.build(
            s, reports.ReportKind.AGENT_PERFORMANCE, reports.ReportRange(SINCE, UNTIL, campaign.id), now=END
        )
    rows = {r["agent_id"]: r for r in report.tables[0].rows}
    assert rows[first]["paused_s"] == 300 + 1800 and rows[first]["ready_s"] == 60 + 30
    assert rows[second]["paused_s"] == 100 and rows[second]["ready_s"] == 60 + 35
    pauses = {r["agent"]: r for r in report.tables[2].rows}
    assert pauses[rows[first]["agent"]]["BREAK"] == 300 and pauses[rows[first]["agent"]]["LUNCH"] == 1800
    assert pauses[rows[second]["agent"]]["BREAK"] == 100 and pauses[rows[second]["agent"]]["LUNCH"] == 0
    # Nothing left open: the logouts closed both agents' last intervals.
    with runtime.db.session(Scope(tenant.id)) as s:
        from dialer.models import AgentStateInterval

        assert s.query(AgentStateInterval).filter(AgentStateInterval.ended_at.is_(None)).count() == 0


def test_migrated_state_history_matches_its_model(runtime: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db import Base

    with runtime.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    ours = [
        d
        for d in diffs
        if "dialer_agent_state_intervals" in repr(d) or "ix_call_attempts_org_placed_" in repr(d)
    ]
    assert ours == [], "\n".join(map(repr, ours))
