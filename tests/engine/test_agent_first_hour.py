"""What a newcomer hit as an agent: pause codes, the campaign's wrap-up time and timeout disposition,
corrections, a logout during a call, an unreachable phone, and agents seeing only their own leads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from campaigns import attempts
from campaigns.hopper import lease_leads
from campaigns.models import CallAttempt, Campaign
from core.db import ALL_ORGS
from core.public_ids import public_lead_id
from core.runtime import Runtime
from dialer.engine.agents import AgentBoard
from dialer.engine.identity import IdentitySource
from dialer.engine.requests import requests_key
from dialer.engine.supervisor import Engine, EngineConfig
from dialer.sip import protocol as p
from tests.conftest import Tenant
from tests.engine.factories import allow_agent_phones, make_campaign


def logged_in_agent(
    client: TestClient, tenant: Tenant, runtime: Runtime, numbers: list[str]
) -> tuple[Campaign, str]:
    agent = tenant.users["agent"]
    allow_agent_phones(runtime, tenant.id)
    campaign = make_campaign(runtime, tenant.id, agent_ids=[agent.id], numbers=numbers)
    r = client.post(
        "/api/agents/me/session", json={"sip_uri": "sip:a@127.0.0.1"}, headers=tenant.headers("agent")
    )
    assert r.status_code == 201, r.text
    AgentBoard(runtime.redis).leg_up(str(agent.id), worker="w-test", leg_id=str(agent.id))
    return campaign, str(agent.id)


def connected_call(runtime: Runtime, campaign: Campaign, agent_id: str) -> uuid.UUID:
    """A call of the campaign bridged to the agent, as the engine records it."""
    now = datetime.now(UTC)
    lead = lease_leads(runtime.db, campaign.id, 1, now, holder="test", lease_s=60)[0]
    attempt_id = attempts.start_attempt(runtime.db, lead.lead_id, holder="test", placed_at=now)
    claimed = AgentBoard(runtime.redis).claim(
        str(campaign.id), attempt_id=str(attempt_id), prefer_worker="w-test"
    )
    assert claimed is not None and claimed.agent_id == agent_id
    attempts.record_progress(
        runtime.db, attempt_id, answered_at=now, agent_connected_at=now, agent_id=uuid.UUID(agent_id)
    )
    return attempt_id


@pytest.fixture
def engine(runtime: Runtime) -> Iterator[Engine]:
    identity = IdentitySource(lambda _o: None, lambda _o, _n: None, lambda _o, _n: None)
    made = Engine(runtime, identity, EngineConfig(pool=f"t-{uuid.uuid4().hex[:6]}", campaign_ids=frozenset()))
    yield made
    made.recorder.close()
    made.pool.close()


def test_an_agent_pauses_with_one_of_the_campaigns_pause_codes_shown_in_the_live_view(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign, _ = logged_in_agent(client, tenant, runtime, [])
    headers = tenant.headers("agent")
    unknown = client.post("/api/agents/me/pause", json={"code": "NAP"}, headers=headers)
    assert unknown.status_code == 422 and "LUNCH" in unknown.json()["detail"]
    paused = client.post("/api/agents/me/pause", json={"code": "LUNCH"}, headers=headers)
    assert (
        paused.status_code == 200
        and paused.json()["state"] == "PAUSED"
        and paused.json()["pause_code"] == "LUNCH"
    )
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert [(a["state"], a["pause_code"]) for a in live["agents"]] == [("PAUSED", "LUNCH")]
    client.post("/api/agents/me/resume", headers=headers)
    r = client.patch(
        f"/api/campaigns/{campaign.id}",
        json={"pause_codes": ["COACHING", "BREAK"]},
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 200 and r.json()["settings"]["pause_codes"] == ["COACHING", "BREAK"]
    assert client.post("/api/agents/me/pause", headers=headers).json()["pause_code"] == "COACHING"


def test_the_wrap_up_is_the_campaigns_and_a_timed_out_call_gets_its_timeout_disposition(
    client: TestClient, tenant: Tenant, runtime: Runtime, engine: Engine
) -> None:
    campaign, agent_id = logged_in_agent(client, tenant, runtime, ["+12025550131"])
    assert (
        client.patch(
            f"/api/campaigns/{campaign.id}", json={"wrap_up_s": 45}, headers=tenant.headers("manager")
        ).status_code
        == 200
    )
    attempt_id = connected_call(runtime, campaign, agent_id)
    engine.config.campaign_ids = frozenset({campaign.id})
    engine._refresh_campaigns()
    before = time.time()
    engine.floor.on_event(
        p.AgentFree(worker_id="w-test", at=before, agent_id=agent_id, attempt_id=str(attempt_id)), before
    )
    status = AgentBoard(runtime.redis).status(agent_id)
    assert status is not None and status.state.value == "WRAP"
    assert 44_000 <= status.wrap_until_ms - before * 1000 <= 46_000  # the campaign's 45 s, not a fixed 30 s
    attempts.finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=datetime.now(UTC))
    expired = AgentBoard(runtime.redis).expire_wraps_of_calls(at_ms=status.wrap_until_ms + 1)
    assert expired == [(agent_id, str(attempt_id))]
    for _, attempt in expired:
        engine._timed_out(attempt)
    r = client.get(f"/api/call-attempts/{attempt_id}", headers=tenant.headers("manager")).json()
    assert (r["disposition"], r["disposition_source"]) == ("TIMEOUT", "timeout")
    assert client.get("/api/agents/me/session", headers=tenant.headers("agent")).json()["state"] == "READY"


def test_disposing_through_the_call_attempt_route_ends_the_agents_wrap_up_like_the_agent_route(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign, agent_id = logged_in_agent(client, tenant, runtime, ["+12025550136"])
    attempt_id = connected_call(runtime, campaign, agent_id)
    attempts.finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=datetime.now(UTC))
    AgentBoard(runtime.redis).call_ended(agent_id, str(attempt_id), wrap_s=30)
    r = client.post(
        f"/api/call-attempts/{attempt_id}/disposition", json={"code": "NI"}, headers=tenant.headers("agent")
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/agents/me/session", headers=tenant.headers("agent")).json()["state"] == "READY"


def test_a_manager_corrects_a_disposition_later_and_it_is_recorded_as_theirs(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign, agent_id = logged_in_agent(client, tenant, runtime, ["+12025550132"])
    attempt_id = connected_call(runtime, campaign, agent_id)
    ended = datetime.now(UTC) - timedelta(hours=2)
    attempts.finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=ended)
    r = client.post(
        f"/api/call-attempts/{attempt_id}/disposition", json={"code": "NI"}, headers=tenant.headers("agent")
    )
    assert r.status_code == 200, r.text
    late = client.post(
        f"/api/call-attempts/{attempt_id}/disposition", json={"code": "SALE"}, headers=tenant.headers("agent")
    )
    assert late.status_code == 409
    fixed = client.post(
        f"/api/call-attempts/{attempt_id}/disposition",
        json={"code": "SALE"},
        headers=tenant.headers("manager"),
    )
    assert fixed.status_code == 200, fixed.text
    attempt = client.get(f"/api/call-attempts/{attempt_id}", headers=tenant.headers("manager")).json()
    assert (attempt["disposition"], attempt["disposition_source"]) == ("SALE", "manager")
    assert attempt["disposed_by"] == str(tenant.users["manager"].id)


def test_an_agent_sees_and_changes_only_leads_of_calls_they_handled(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign, agent_id = logged_in_agent(client, tenant, runtime, ["+12025550133", "+12025550134"])
    mine = connected_call(runtime, campaign, agent_id)
    now = datetime.now(UTC)
    other_lead = lease_leads(runtime.db, campaign.id, 1, now, holder="test2", lease_s=60)[0]
    other_attempt = attempts.start_attempt(runtime.db, other_lead.lead_id, holder="test2", placed_at=now)
    attempts.finish_attempt(runtime.db, other_attempt, outcome="busy", ended_at=now)
    headers = tenant.headers("agent")
    with runtime.db.session(ALL_ORGS) as s:
        my_lead = s.get(CallAttempt, mine)
        assert my_lead is not None
        my_lead_id = public_lead_id(my_lead.lead_id)
    assert client.get(f"/api/leads/{my_lead_id}", headers=headers).status_code == 200
    assert client.get(f"/api/leads/{public_lead_id(other_lead.lead_id)}", headers=headers).status_code == 404
    assert (
        client.get(f"/api/leads/{public_lead_id(other_lead.lead_id)}/attempts", headers=headers).status_code
        == 404
    )
    assert client.get(f"/api/call-attempts/{other_attempt}", headers=headers).status_code == 404
    later = (now + timedelta(days=1)).isoformat()
    assert (
        client.post(
            f"/api/leads/{public_lead_id(other_lead.lead_id)}/callback", json={"at": later}, headers=headers
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/call-attempts/{other_attempt}/disposition", json={"code": "SALE"}, headers=headers
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/leads/{public_lead_id(other_lead.lead_id)}", headers=tenant.headers("manager")
        ).status_code
        == 200
    )


def test_logging_out_during_a_call_waits_for_the_call_and_its_wrap_up_to_end(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign, agent_id = logged_in_agent(client, tenant, runtime, ["+12025550135"])
    attempt_id = connected_call(runtime, campaign, agent_id)
    requests_before = runtime.redis.llen(requests_key(str(campaign.id)))
    out = client.delete("/api/agents/me/session", headers=tenant.headers("agent"))
    assert out.status_code == 200, out.text
    assert (out.json()["state"], out.json()["logout_pending"]) == ("INCALL", True)
    assert (
        runtime.redis.llen(requests_key(str(campaign.id))) == requests_before
    )  # the phone's leg is not hung up mid-call
    board = AgentBoard(runtime.redis)
    attempts.finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=datetime.now(UTC))
    board.call_ended(agent_id, str(attempt_id), wrap_s=30)
    done = client.post("/api/agents/me/disposition", json={"attempt_id": str(attempt_id), "disposition": "NI"},
                       headers=tenant.headers("agent"))  # fmt: skip
    assert done.status_code == 200 and done.json()["state"] == "LOGGED_OUT"


def test_a_phone_that_cannot_be_reached_gives_the_reason_in_the_session(
    client: TestClient, tenant: Tenant, runtime: Runtime, engine: Engine
) -> None:
    agent = tenant.users["agent"]
    allow_agent_phones(runtime, tenant.id)
    make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    r = client.post(
        "/api/agents/me/session", json={"sip_uri": "sip:gone@127.0.0.1:5999"}, headers=tenant.headers("agent")
    )
    assert r.status_code == 201
    engine.legs.on_leg_down(
        p.AgentLegDown(
            worker_id="w-x", at=time.time(), agent_id=str(agent.id), sip_status=408, reason="Request Timeout"
        )
    )
    assert engine.recorder.flush()
    session = client.get("/api/agents/me/session", headers=tenant.headers("agent")).json()
    assert session["state"] == "LOGGED_OUT"
    assert "did not answer" in session["ended_reason"] and "408" in session["ended_reason"]


def test_wrap_up_and_pause_code_settings_are_validated(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = make_campaign(runtime, tenant.id, active=False)
    url = f"/api/campaigns/{campaign.id}"
    headers = tenant.headers("manager")
    assert client.patch(url, json={"wrap_up_s": 0}, headers=headers).status_code == 422
    assert client.patch(url, json={"pause_codes": []}, headers=headers).status_code == 422
    bad = client.patch(url, json={"timeout_disposition": "NOPE"}, headers=headers)
    assert bad.status_code == 422 and "TIMEOUT" in bad.json()["detail"]
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(wrap_up_s=30))
