"""A running campaign's changed settings reach its next dial within 2 s, without a pause and a drain:
rules and calling window, trunk, caller ID, safe-harbor message and key, wrap-up, pacing. What the run
learned is kept (its abandon budget, counters); a new pacing policy learns of the calls in flight."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import time as time_of_day

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from campaigns.models import Campaign
from core.db import ALL_ORGS
from core.runtime import Runtime
from dialer.engine.floor import LiveCall
from dialer.engine.identity import IdentitySource
from dialer.engine.supervisor import CAMPAIGN_REFRESH_S, Engine, EngineConfig
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from tests.conftest import Tenant
from tests.engine.factories import make_campaign


@pytest.fixture
def engine(runtime: Runtime) -> Iterator[Engine]:
    identity = IdentitySource(lambda _o: None, lambda _o, _n: None, lambda _o, _n: None)
    made = Engine(runtime, identity, EngineConfig(pool=f"t-{uuid.uuid4().hex[:6]}", campaign_ids=frozenset()))
    yield made
    made.recorder.close()
    made.pool.close()


def test_changes_to_a_running_campaign_take_effect_at_its_next_dial(
    client: TestClient, tenant: Tenant, runtime: Runtime, engine: Engine
) -> None:
    campaign = make_campaign(
        runtime, tenant.id, numbers=["+12025550141"], settings={"pacing_policy": "progressive"}
    )
    engine.config.campaign_ids = frozenset({campaign.id})
    engine._refresh_campaigns()
    before = engine.campaigns[campaign.id]
    assert (before.caller_id, before.opt_out_key, before.policy.name) == ("+12025550100", "9", "progressive")
    in_flight = LiveCall(
        attempt_id=str(uuid.uuid4()),
        lead_id=1,
        org_id=tenant.id,
        campaign_id=campaign.id,
        e164="+12025550141",
        trunk=before.profile.name,
        worker="w-x",
        placed_at=time.time(),
    )
    with engine.lock:
        engine.floor.placed(in_flight)
    before.stats.answered = 7  # what the run counted so far

    changed = client.patch(
        f"/api/campaigns/{campaign.id}",
        json={
            "caller_id": "+12025550177",
            "opt_out_key": "8",
            "wrap_up_s": 45,
            "max_lines_per_agent": 1.5,
            "pacing_policy": "ratio",
            "calling_window_start": "10:00",
            "calling_window_end": "11:00",
        },
        headers=tenant.headers("manager"),
    )
    assert changed.status_code == 200, changed.text
    engine._refresh_campaigns()  # the event thread does this every CAMPAIGN_REFRESH_S; the dial loop
    # takes the campaign's run afresh every dial_interval_s: the change reaches the next dial in time.
    assert CAMPAIGN_REFRESH_S + engine.config.dial_interval_s <= 2.0
    after = engine.campaigns[campaign.id]
    assert after.active and after is not before
    assert (after.caller_id, after.opt_out_key, after.wrap_up_s, after.max_lines_per_agent) == (
        "+12025550177",
        "8",
        45,
        1.5,
    )
    assert after.safe_harbor_wav == str(DEFAULT_SAFE_HARBOR_WAV)
    assert after.compliance.engine.rules.calling_window_override == (time_of_day(10), time_of_day(11))
    assert after.policy.name == "ratio" and after.policy is not before.policy
    assert after.policy.floor.lines_in_use == 1  # the new policy knows the call in flight
    assert after.budget is before.budget and after.stats.answered == 7
    assert engine.floor.campaigns[campaign.id] is after  # the floor sees the same run

    # A change the engine cannot run (a trunk profile removed meanwhile) stops its dialing with an alarm.
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(trunk_profile="gone-profile"))
    engine._refresh_campaigns()
    assert not engine.campaigns[campaign.id].active
    alarms = client.get("/api/dialer/alarms", headers=tenant.headers("manager")).json()
    assert any(a["kind"] == "campaign_cannot_run" and "gone-profile" in a["reason"] for a in alarms)
