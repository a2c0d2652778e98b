"""The live view's figures come from the call attempts (today, rolling 30 days), and a stopped engine's
stale counters never show calls in progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from campaigns import attempts
from campaigns.hopper import lease_leads
from core.runtime import Runtime
from dialer.engine.live import CONTINUED_WITHIN_MS, LiveStats, write_live_stats
from tests.conftest import Tenant
from tests.engine.factories import make_campaign


def test_the_live_view_counts_today_and_30_days_from_the_attempts_and_a_stopped_engine_has_no_calls(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = make_campaign(runtime, tenant.id, numbers=["+12025550141", "+12025550142", "+12025550143"])
    now = datetime.now(UTC)
    leases = lease_leads(runtime.db, campaign.id, 3, now, holder="t", lease_s=60)
    for lease, outcome, days_ago in zip(leases, ("human", "abandoned", "human"), (0, 0, 10), strict=True):
        at = now - timedelta(days=days_ago)
        attempt_id = attempts.start_attempt(runtime.db, lease.lead_id, holder="t", placed_at=at)
        connected = at if outcome == "human" else None
        attempts.record_progress(runtime.db, attempt_id, answered_at=at, agent_connected_at=connected)
        attempts.finish_attempt(runtime.db, attempt_id, outcome=outcome, ended_at=at)
    # What a supervisor killed mid-call leaves behind: counters with a call in progress, never updated again.
    stale = LiveStats(
        calls_placed=7, calls_in_progress=1, updated_ms=int(time.time() * 1000) - 60_000, running=True
    )
    write_live_stats(runtime.redis, str(campaign.id), stale, writer="dialer:killed:default")
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert live["engine_running"] is False and live["calls_in_progress"] == 0
    today, rolling = live["today"], live["rolling_30d"]
    assert (today["calls_placed"], today["answered"], today["abandoned"], today["connected"]) == (2, 2, 1, 1)
    assert (rolling["calls_placed"], rolling["answered"], rolling["abandoned"]) == (3, 3, 1)
    assert abs(rolling["abandon_rate"] - 1 / 3) < 1e-9


def test_a_campaigns_live_figures_add_up_every_supervisor_that_ran_it_and_only_live_ones_show_calls(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = make_campaign(runtime, tenant.id)
    now_ms = int(time.time() * 1000)
    gone = LiveStats(  # killed 20 s ago with a call in progress; its campaign was taken over
        calls_placed=7,
        calls_in_progress=1,
        answered=4,
        connected=3,
        abandoned=1,
        dial_level=2.0,
        max_concurrent_calls=5,
        started_ms=now_ms - 600_000,
        updated_ms=now_ms - 20_000,
        running=True,
    )
    taker = LiveStats(
        calls_placed=3,
        calls_in_progress=2,
        answered=2,
        connected=2,
        dial_level=1.5,
        max_concurrent_calls=2,
        started_ms=now_ms - 15_000,
        updated_ms=now_ms - 100,
        running=True,
    )
    yesterday = LiveStats(  # an earlier shift's supervisor: not part of this run of the campaign
        calls_placed=100,
        answered=50,
        started_ms=now_ms - 90_000_000,
        updated_ms=now_ms - 15_000 - CONTINUED_WITHIN_MS - 1,
        running=False,
    )
    for writer, stats in (("dialer:a:p", gone), ("dialer:b:p", taker), ("dialer:old:p", yesterday)):
        write_live_stats(runtime.redis, str(campaign.id), stats, writer=writer)
    url = f"/api/dialer/campaigns/{campaign.id}/live"
    live = client.get(url, headers=tenant.headers("manager")).json()
    assert live["engine_running"] is True
    assert (live["calls_placed"], live["answered"], live["connected"], live["abandoned"]) == (10, 6, 5, 1)
    assert live["calls_in_progress"] == 2 and live["dial_level"] == 1.5  # the taker's, none of the dead one's
    assert abs(live["abandon_rate"] - 1 / 6) < 1e-9
    # The taker stops too (its last write says so): nothing is live, the counts stay.
    write_live_stats(
        runtime.redis,
        str(campaign.id),
        LiveStats(**{**vars(taker), "running": False, "calls_in_progress": 0}),
        writer="dialer:b:p",
    )
    live = client.get(url, headers=tenant.headers("manager")).json()
    assert live["engine_running"] is False and live["calls_in_progress"] == 0 and live["calls_placed"] == 10
