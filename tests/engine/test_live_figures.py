"""The live view's figures come from the call attempts (today, rolling 30 days), and a stopped engine's
stale counters never show calls in progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from campaigns import attempts
from campaigns.hopper import lease_leads
from core.runtime import Runtime
from dialer.engine.live import LiveStats, write_live_stats
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
    write_live_stats(runtime.redis, str(campaign.id), stale)
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert live["engine_running"] is False and live["calls_in_progress"] == 0
    today, rolling = live["today"], live["rolling_30d"]
    assert (today["calls_placed"], today["answered"], today["abandoned"], today["connected"]) == (2, 2, 1, 1)
    assert (rolling["calls_placed"], rolling["answered"], rolling["abandoned"]) == (3, 3, 1)
    assert abs(rolling["abandon_rate"] - 1 / 3) < 1e-9
