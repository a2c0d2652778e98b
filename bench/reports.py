"""Benchmark: the four daily reports over a month of a 100-agent floor (about 3 M call attempts), each for
the whole organization and for one campaign, against a plain `count(*)` of the same month's attempts
measured in the same run (the floor: PostgreSQL counting the rows it must read, nothing else).

Target: each report <= 2 s. The floor is generated inside PostgreSQL (`generate_series`), so it takes
seconds, not the hours a real month would: 4 campaigns of 25 agents, 8 lists, 1.2 M leads, 30 days of
8-hour shifts (one session per agent per day, three pauses a day, INCALL / WRAP / READY intervals for
each call bridged), outcomes in realistic shares, dispositions on the answered
calls, 3% of calls blocked at dial time with one or two reasons, opt-outs and consent revocations.
Run: `.venv/bin/python bench/reports.py [--attempts 3000000]` (uses DATABASE_URL, else an embedded server
in a temporary data dir).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 2.0
AGENTS = 100
CAMPAIGNS = 4
LISTS_PER_CAMPAIGN = 2
LEADS = 1_200_000
DAYS = 30
MONTH_START = date(2026, 9, 1)
REPEATS = 3


def generate(
    conn: Any,
    *,
    org_id: uuid.UUID,
    campaigns: list[uuid.UUID],
    agents: list[uuid.UUID],
    lists: list[uuid.UUID],
    attempts: int,
) -> None:
    """The floor, in SQL: agents are spread 25 per campaign, each attempt's lead is on its campaign's lists."""
    start = datetime.combine(MONTH_START, datetime.min.time(), tzinfo=UTC)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_agents (campaign_idx int, slot int, agent_id uuid)")
        per = AGENTS // CAMPAIGNS
        for i, agent in enumerate(agents):
            cur.execute("INSERT INTO bench_agents VALUES (%s, %s, %s)", (i // per, i % per, agent))
        cur.execute("CREATE TEMP TABLE bench_campaigns (idx int, id uuid)")
        for i, campaign in enumerate(campaigns):
            cur.execute("INSERT INTO bench_campaigns VALUES (%s, %s)", (i, campaign))
        cur.execute("CREATE TEMP TABLE bench_lists (idx int, id uuid)")
        for i, list_id in enumerate(lists):
            cur.execute("INSERT INTO bench_lists VALUES (%s, %s)", (i, list_id))
        # Leads: lead g is on list g % 8, i.e. on campaign (g % 8) / 2.
        cur.execute(
            """
            INSERT INTO leads (org_id, campaign_id, list_id, row_number, phone_raw, phone_e164, consent, extra,
                               status, priority, attempts, outcome_counts, verdict, verdict_reasons,
                               last_attempt_at, created_at)
            SELECT %(org)s, c.id, l.id, g + 2, '+1' || (2020000000 + g)::text, '+1' || (2020000000 + g)::text,
                   'none', '{}'::jsonb,
                   CASE WHEN r < 0.30 THEN 'done' WHEN r < 0.34 THEN 'blocked' WHEN r < 0.40 THEN 'callback'
                        ELSE 'callable' END,
                   0, 0, '{}'::jsonb, 'callable', '[]'::jsonb,
                   CASE WHEN r < 0.75 THEN %(start)s::timestamptz END, %(start)s::timestamptz
            FROM (SELECT g, random() AS r FROM generate_series(0, %(leads)s - 1) AS g) AS s
            JOIN bench_lists l ON l.idx = g %% 8
            JOIN bench_campaigns c ON c.idx = (g %% 8) / 2
            """,
            {"org": org_id, "start": start, "leads": LEADS},
        )
        cur.execute("SELECT min(id) FROM leads WHERE org_id = %s", (org_id,))
        first_lead = cur.fetchone()[0]
        # Attempts: placed in the 8 working hours (13:00-21:00 UTC) of the month's days.
        cur.execute(
            """
            INSERT INTO call_attempts (id, org_id, lead_id, campaign_id, e164, trunk, identity_header_present,
                                       placed_at, answered_at, agent_connected_at, ended_at, outcome, agent_id,
                                       disposition, disposition_source, disposed_at, verdict_reasons, worker)
            SELECT gen_random_uuid(), %(org)s, %(first)s + lead, c.id, '+1' || (2020000000 + lead)::text, 'default',
                   outcome <> 'blocked', placed,
                   CASE WHEN outcome IN ('human', 'abandoned', 'machine') THEN placed + interval '6 s' END,
                   CASE WHEN outcome = 'human' THEN placed + interval '6.5 s' END,
                   CASE WHEN outcome <> 'blocked' THEN placed + interval '6.5 s' + talk END,
                   outcome, CASE WHEN outcome = 'human' THEN a.agent_id END,
                   CASE WHEN outcome = 'human' THEN code END,
                   CASE WHEN outcome = 'human' THEN 'agent' END,
                   CASE WHEN outcome = 'human' THEN placed + interval '6.5 s' + talk + wrap END,
                   CASE WHEN outcome <> 'blocked' THEN '[]'::jsonb
                        WHEN r2 < 0.5 THEN '["national_dnc"]'::jsonb
                        WHEN r2 < 0.7 THEN '["internal_dnc"]'::jsonb
                        WHEN r2 < 0.9 THEN '["calling_hours"]'::jsonb
                        ELSE '["state_dnc", "litigator"]'::jsonb END,
                   'bench'
            FROM (
              SELECT g, lead,
                     %(start)s::timestamptz + (g %% %(days)s) * interval '1 day' + interval '13 h'
                       + random() * interval '8 h' AS placed,
                     CASE WHEN r < 0.03 THEN 'blocked' WHEN r < 0.23 THEN 'human' WHEN r < 0.235 THEN 'abandoned'
                          WHEN r < 0.385 THEN 'machine' WHEN r < 0.785 THEN 'no_answer' WHEN r < 0.885 THEN 'busy'
                          WHEN r < 0.9 THEN 'invalid' ELSE 'failed' END AS outcome,
                     CASE WHEN r3 < 0.10 THEN 'SALE' WHEN r3 < 0.60 THEN 'NI' WHEN r3 < 0.75 THEN 'CALLBACK'
                          WHEN r3 < 0.80 THEN 'DNC' ELSE 'TIMEOUT' END AS code,
                     random() * interval '240 s' AS talk, random() * interval '30 s' AS wrap, r2
              FROM (SELECT g, (g * 7919) %% %(leads)s AS lead, random() AS r, random() AS r2, random() AS r3
                    FROM generate_series(0::bigint, %(attempts)s - 1) AS g) AS raw
            ) AS s
            JOIN bench_campaigns c ON c.idx = (lead %% 8) / 2
            JOIN bench_agents a ON a.campaign_idx = (lead %% 8) / 2 AND a.slot = g %% 25
            """,
            {
                "org": org_id,
                "first": first_lead,
                "start": start,
                "days": DAYS,
                "leads": LEADS,
                "attempts": attempts,
            },
        )
        # Sessions: every agent, every day, 12:55 to 21:05 UTC.
        cur.execute(
            """
            INSERT INTO dialer_agent_sessions (id, org_id, agent_id, campaign_id, sip_uri, worker, leg_id,
                                               started_at, connected_at, ended_at, end_reason, calls_handled)
            SELECT gen_random_uuid(), %(org)s, a.agent_id, c.id, 'sip:agent@127.0.0.1', '', '',
                   %(start)s::timestamptz + d * interval '1 day' + interval '12 h 55 min', NULL,
                   %(start)s::timestamptz + d * interval '1 day' + interval '21 h 5 min', 'logout', 0
            FROM bench_agents a JOIN bench_campaigns c ON c.idx = a.campaign_idx, generate_series(0, %(days)s - 1) d
            """,
            {"org": org_id, "start": start, "days": DAYS},
        )
        # Agent state history: each call bridged to an agent is INCALL, WRAP then READY (20 s) as the
        # supervisor writes it; each agent-day has three pauses (BREAK, LUNCH, BREAK).
        cur.execute(
            """
            INSERT INTO dialer_agent_state_intervals (org_id, agent_id, campaign_id, state, pause_code,
                                                      started_at, ended_at)
            SELECT org_id, agent_id, campaign_id, s.state, '', s.started, s.ended
            FROM call_attempts,
                 LATERAL (VALUES ('INCALL', agent_connected_at, ended_at), ('WRAP', ended_at, disposed_at),
                                 ('READY', disposed_at, disposed_at + interval '20 s')) AS s(state, started, ended)
            WHERE org_id = %(org)s AND agent_id IS NOT NULL
            """,
            {"org": org_id},
        )
        cur.execute(
            """
            INSERT INTO dialer_agent_state_intervals (org_id, agent_id, campaign_id, state, pause_code,
                                                      started_at, ended_at)
            SELECT %(org)s, a.agent_id, c.id, 'PAUSED', p.code,
                   %(start)s::timestamptz + d * interval '1 day' + p.at, %(start)s::timestamptz + d * interval '1 day'
                     + p.at + p.length
            FROM bench_agents a JOIN bench_campaigns c ON c.idx = a.campaign_idx, generate_series(0, %(days)s - 1) d,
                 (VALUES ('BREAK', interval '15 h', interval '15 min'), ('LUNCH', interval '17 h', interval '30 min'),
                         ('BREAK', interval '19 h', interval '15 min')) AS p(code, at, length)
            """,
            {"org": org_id, "start": start, "days": DAYS},
        )
        cur.execute(
            """
            INSERT INTO dnc_internal_entries (org_id, e164, campaign_id, source, reason, added_at)
            SELECT %(org)s, '+1' || (2020000000 + (g * 131) %% %(leads)s)::text, NULL,
                   (ARRAY['agent', 'opt_out_key', 'api'])[1 + g %% 3], '',
                   %(start)s::timestamptz + (g %% %(days)s) * interval '1 day' + interval '15 h'
            FROM generate_series(0, 19999) g
            ON CONFLICT DO NOTHING
            """,
            {"org": org_id, "start": start, "days": DAYS, "leads": LEADS},
        )
        cur.execute(
            """
            INSERT INTO consent_records (id, org_id, e164, seller, kind, source, given_at, disclosure, created_at,
                                         revoked_at, revoked_source)
            SELECT gen_random_uuid(), %(org)s, '+1' || (2020000000 + (g * 977) %% %(leads)s)::text, 'bench',
                   'express', 'lead_import', %(start)s::timestamptz - interval '60 days', '',
                   %(start)s::timestamptz - interval '60 days',
                   %(start)s::timestamptz + (g %% %(days)s) * interval '1 day' + interval '16 h',
                   (ARRAY['agent', 'api'])[1 + g %% 2]
            FROM generate_series(0, 4999) g
            """,
            {"org": org_id, "start": start, "days": DAYS, "leads": LEADS},
        )
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in (
            "leads",
            "call_attempts",
            "dialer_agent_sessions",
            "dialer_agent_state_intervals",
            "dnc_internal_entries",
            "consent_records",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    conn.autocommit = False


def timed(fn: Any) -> tuple[float, Any]:
    """Median seconds of REPEATS runs, and the last result."""
    runs, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    parser.add_argument("--attempts", type=int, default=3_000_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="reports-bench-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # runs after the embedded server stopped
    os.environ.setdefault("CLEARLINE_HOME", str(workdir / "home"))
    import psycopg
    from sqlalchemy import func, select

    from campaigns.models import CallAttempt, LeadList
    from campaigns.service import create_campaign
    from core.accounts import create_org
    from core.db import ALL_ORGS, Scope
    from core.migrations import upgrade
    from core.models import Role, User
    from core.runtime import Runtime
    from dialer import reports

    runtime = Runtime.start()
    upgrade(runtime.database_url)
    with runtime.db.session(ALL_ORGS) as s:
        org_id = create_org(s, f"bench-{uuid.uuid4().hex[:8]}").id
    with runtime.db.session(Scope(org_id)) as s:
        campaigns = [
            create_campaign(s, org_id=org_id, name=f"bench-{i}", settings={"caller_id": "+12025550199"})
            for i in range(CAMPAIGNS)
        ]
        users = [
            User(
                org_id=org_id,
                email=f"agent{i}.{uuid.uuid4().hex[:6]}@bench.example",
                display_name=f"Agent {i:03d}",
                role=Role.AGENT,
                password_hash="!",
            )
            for i in range(AGENTS)
        ]
        s.add_all(users)
        lists = [
            LeadList(org_id=org_id, campaign_id=campaigns[i // LISTS_PER_CAMPAIGN].id, name=f"list-{i}")
            for i in range(CAMPAIGNS * LISTS_PER_CAMPAIGN)
        ]
        s.add_all(lists)
        s.flush()
        campaign_ids, agent_ids, list_ids = (
            [c.id for c in campaigns],
            [u.id for u in users],
            [x.id for x in lists],
        )

    url = runtime.database_url.replace("postgresql+psycopg://", "postgresql://")
    start = time.perf_counter()
    with psycopg.connect(url) as conn:
        generate(
            conn,
            org_id=org_id,
            campaigns=campaign_ids,
            agents=agent_ids,
            lists=list_ids,
            attempts=args.attempts,
        )
    print(
        f"generated {args.attempts:,} attempts, {LEADS:,} leads, {AGENTS * DAYS:,} agent sessions and their "
        "state history "
        f"in {time.perf_counter() - start:.1f} s"
    )

    rng_org = reports.ReportRange(MONTH_START, MONTH_START + timedelta(days=DAYS - 1))
    rng_campaign = reports.ReportRange(rng_org.since, rng_org.until, campaign_ids[0])
    now = rng_org.end + timedelta(days=1)

    def count(rng: reports.ReportRange) -> int:
        with runtime.db.session(Scope(org_id)) as s:
            where = [CallAttempt.placed_at >= rng.start, CallAttempt.placed_at < rng.end]
            if rng.campaign_id:
                where.append(CallAttempt.campaign_id == rng.campaign_id)
            return int(s.execute(select(func.count(CallAttempt.id)).where(*where)).scalar_one())

    def run(kind: reports.ReportKind, rng: reports.ReportRange) -> reports.Report:
        with runtime.db.session(Scope(org_id)) as s:
            return reports.build(s, kind, rng, now=now)

    verdicts = []
    for label, rng in (("organization", rng_org), ("one campaign", rng_campaign)):
        base_s, rows = timed(lambda rng=rng: count(rng))
        print(f"\n{label}: {rows:,} attempts in the month; plain count(*) of them: {base_s * 1000:7.0f} ms")
        for kind in reports.ReportKind:
            seconds, report = timed(lambda kind=kind, rng=rng: run(kind, rng))
            size = sum(len(t.rows) for t in report.tables)
            print(
                f"  {kind.value:18s} {seconds * 1000:7.0f} ms  ({seconds / base_s:5.1f}x the count; {size} rows)"
            )
            verdicts.append(
                f"{label} {kind.value}: {seconds:.2f} s vs <= {TARGET_S:.0f} s: "
                + ("OK" if seconds <= TARGET_S else "MISSED")
            )
    print(
        f"\nmachine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        f"(/proc/loadavg: {Path('/proc/loadavg').read_text().strip()})"
    )
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
