"""The agents API without a running engine: what it refuses, and what it records for the engine to act on.
(The same flows against real SIP legs are in test_engine_calls.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from litestar.testing import TestClient

from campaigns import attempts
from campaigns.hopper import lease_leads
from campaigns.models import CallAttempt
from core.db import ALL_ORGS
from core.runtime import Runtime
from dialer.engine.agents import AgentBoard
from dialer.engine.requests import requests_key
from dialer.models import AgentSession
from tests.conftest import Tenant
from tests.engine.factories import allow_agent_phones, make_campaign


def test_an_agent_not_assigned_to_the_campaign_cannot_log_in(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = make_campaign(runtime, tenant.id)
    r = client.post(
        "/api/agents/me/session",
        json={"sip_uri": "sip:agent@127.0.0.1:5999", "campaign_id": str(campaign.id)},
        headers=tenant.headers("agent"),
    )
    assert r.status_code == 404, r.text


def test_a_bad_sip_uri_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    agent = tenant.users["agent"]
    make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    r = client.post(
        "/api/agents/me/session", json={"sip_uri": "tel:+12025550100"}, headers=tenant.headers("agent")
    )
    assert r.status_code == 422 and "sip_uri" in r.text


def test_login_records_a_session_and_asks_the_engine_to_call_the_phone(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    allow_agent_phones(runtime, tenant.id)
    agent = tenant.users["agent"]
    campaign = make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    before = runtime.redis.llen(requests_key(str(campaign.id)))
    r = client.post(
        "/api/agents/me/session",
        json={"sip_uri": "sip:agent@127.0.0.1:5999"},
        headers=tenant.headers("agent"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "CONNECTING" and body["campaign_id"] == str(campaign.id)
    assert runtime.redis.llen(requests_key(str(campaign.id))) == before + 1
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(AgentSession, uuid.UUID(body["session_id"]))
        assert row is not None and row.sip_uri == "sip:agent@127.0.0.1:5999" and row.org_id == tenant.id
    again = client.post(
        "/api/agents/me/session",
        json={"sip_uri": "sip:agent@127.0.0.1:5999"},
        headers=tenant.headers("agent"),
    )
    assert again.status_code == 409
    out = client.delete("/api/agents/me/session", headers=tenant.headers("agent"))
    assert out.status_code == 200 and out.json()["state"] == "LOGGED_OUT"
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(AgentSession, uuid.UUID(body["session_id"]))
        assert row is not None and row.ended_at is not None and row.end_reason == "logout"


def test_pause_resume_and_a_dnc_disposition_after_a_call(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    allow_agent_phones(runtime, tenant.id)
    agent = tenant.users["agent"]
    campaign = make_campaign(runtime, tenant.id, agent_ids=[agent.id], numbers=["+12025550123"])
    headers = tenant.headers("agent")
    assert (
        client.post(
            "/api/agents/me/session", json={"sip_uri": "sip:a@127.0.0.1"}, headers=headers
        ).status_code
        == 201
    )
    board = AgentBoard(runtime.redis)
    board.leg_up(str(agent.id), worker="w-test", leg_id=str(agent.id))  # what the engine does on AgentLegUp
    assert client.post("/api/agents/me/pause", headers=headers).json()["state"] == "PAUSED"
    assert client.post("/api/agents/me/resume", headers=headers).json()["state"] == "READY"
    assert client.post("/api/agents/me/resume", headers=headers).status_code == 409

    # A call reaches the agent: the records the engine writes, then the claim and the end of the call.
    now = datetime.now(UTC)
    lead = lease_leads(runtime.db, campaign.id, 1, now, holder="test", lease_s=60)[0]
    attempt_id = attempts.start_attempt(runtime.db, lead.lead_id, holder="test", placed_at=now)
    claimed = board.claim(str(campaign.id), attempt_id=str(attempt_id), prefer_worker="w-test")
    assert claimed is not None and claimed.agent_id == str(agent.id)
    attempts.record_progress(
        runtime.db, attempt_id, answered_at=now, agent_connected_at=now, agent_id=agent.id
    )
    lead_view = client.get("/api/agents/me/lead", headers=headers)
    assert lead_view.status_code == 200 and lead_view.json()["e164"] == "+12025550123"
    attempts.finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=now)
    board.call_ended(str(agent.id), str(attempt_id), wrap_s=30)
    assert client.get("/api/agents/me/session", headers=headers).json()["state"] == "WRAP"

    # Someone else's attempt, an unknown code: refused, naming the rule.
    other = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(uuid.uuid4()), "disposition": "DNC"},
        headers=headers,
    )
    assert other.status_code == 404
    unknown = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(attempt_id), "disposition": "NOPE"},
        headers=headers,
    )
    assert unknown.status_code == 422 and "DNC" in unknown.text
    done = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(attempt_id), "disposition": "DNC"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "READY"
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(CallAttempt, attempt_id)
        assert row is not None and row.disposition == "DNC"
    from sqlalchemy import select

    from dnc.models import InternalDncEntry

    with runtime.db.session(ALL_ORGS) as s:
        entries = s.scalars(select(InternalDncEntry).where(InternalDncEntry.org_id == tenant.id)).all()
        assert [e.e164 for e in entries] == ["+12025550123"]
    # Within the wrap-up time after the call the agent may correct it (the number stays on the DNC list)...
    corrected = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(attempt_id), "disposition": "NI"},
        headers=headers,
    )
    assert corrected.status_code == 200, corrected.text
    # ...not later: then only a manager can.
    from datetime import timedelta

    from sqlalchemy import update

    with runtime.db.session(ALL_ORGS) as s:
        s.execute(
            update(CallAttempt)
            .where(CallAttempt.id == attempt_id)
            .values(ended_at=now - timedelta(minutes=5))
        )
    again = client.post(
        "/api/agents/me/disposition",
        json={"attempt_id": str(attempt_id), "disposition": "SALE"},
        headers=headers,
    )
    assert again.status_code == 409 and "manager" in again.json()["detail"]


def test_the_live_view_shows_agent_states_to_managers_only(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    allow_agent_phones(runtime, tenant.id)
    agent = tenant.users["agent"]
    campaign = make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    client.post(
        "/api/agents/me/session", json={"sip_uri": "sip:a@127.0.0.1"}, headers=tenant.headers("agent")
    )
    r = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager"))
    assert r.status_code == 200, r.text
    assert r.json()["agent_states"]["CONNECTING"] == 1 and r.json()["engine_running"] is False
    assert (
        client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("agent")).status_code
        == 403
    )
    client.delete("/api/agents/me/session", headers=tenant.headers("agent"))
