"""The agent performance report of a real call: an agent on a sandbox floor (real SIP: carrier and phone
simulators) takes a call, asks for a pause during it, disposes, resumes and logs out; the supervisor's
state history and the attempt give the report its talk, wrap-up, ready and paused time by pause code."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from core.db import Scope
from core.runtime import Runtime
from dialer import reports
from dialer.simulators.carrier import CarrierBehaviour
from tests.engine.conftest import MakeSandbox, TestCertificates
from tests.engine.test_engine_calls import attempts_of, engine_config, login, one_agent_floor, wait_for

pytestmark = pytest.mark.sip


def test_a_real_call_and_pause_show_in_the_agent_performance_report(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant, agent, campaign = one_agent_floor(runtime, certificates, ["+12025556415"], lines_per_agent=1.0)
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(2.0, 2.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=30.0),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)
    headers = tenant.headers("agent")
    wait_for(
        lambda: any(r.agent_connected_at for r in attempts_of(runtime, campaign.id)), 30, "a bridged call"
    )
    paused = client.post("/api/agents/me/pause", json={"code": "LUNCH"}, headers=headers)
    assert paused.status_code == 200, paused.text
    wait_for(lambda: attempts_of(runtime, campaign.id)[0].outcome != "in_progress", 15, "the call to end")
    (call,) = attempts_of(runtime, campaign.id)
    time.sleep(0.5)  # some wrap-up time
    done = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(call.id), "disposition": "SALE"},
        headers=headers,
    )
    assert done.status_code == 200 and done.json()["state"] == "PAUSED", done.text
    time.sleep(1.0)
    assert client.post("/api/agents/me/resume", headers=headers).status_code == 200
    assert client.delete("/api/agents/me/session", headers=headers).status_code == 200

    def report() -> dict[str, Any]:
        box.engine.recorder.flush()
        today = datetime.now(UTC).date()
        with runtime.db.session(Scope(tenant.id)) as s:
            built = reports.build(
                s,
                reports.ReportKind.AGENT_PERFORMANCE,
                reports.ReportRange(today, today, campaign.id),
                now=datetime.now(UTC),
            )
        rows = [r for r in built.tables[0].rows if r["agent_id"] == str(agent.id)]
        pauses = [r for r in built.tables[2].rows if rows and r["agent"] == rows[0]["agent"]]
        return {**rows[0], "pauses": pauses[0] if pauses else {}} if rows else {}

    wait_for(lambda: report().get("paused_s", 0) >= 0.9, 15, "the pause in the state history")
    row = report()
    (call,) = attempts_of(runtime, campaign.id)
    assert call.ended_at and call.agent_connected_at and call.disposed_at
    assert row["handled"] == 1 and row["sales"] == 1
    assert row["talk_s"] == pytest.approx((call.ended_at - call.agent_connected_at).total_seconds(), abs=0.1)
    assert row["wrap_s"] == pytest.approx((call.disposed_at - call.ended_at).total_seconds(), abs=0.1)
    assert row["wrap_s"] >= 0.5
    assert 0.9 <= row["paused_s"] < 10 and row["pauses"]["LUNCH"] == row["paused_s"]
    assert row["ready_s"] > 0 and row["logged_in_s"] >= row["talk_s"] + row["wrap_s"] + row["paused_s"] - 0.5
