"""A callback an agent kept for themselves reaches that agent, over real SIP (carrier and agent-phone
simulators): not dialed while only another agent is free, dialed once its agent is READY, and bridged to
them although the other agent has been READY longer (the one an ordinary call would go to)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from campaigns.models import Lead
from core.db import ALL_ORGS
from core.runtime import Runtime
from dialer.engine.sandbox import PROFILE_NAME
from dialer.simulators.carrier import CarrierBehaviour
from tests.conftest import make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import attempts_of, engine_config, wait_for
from tests.engine.test_progressive_over_sip import add_agent

pytestmark = pytest.mark.sip

ORDINARY, CALLBACK = "+12025559511", "+12025559611"  # ...1x: the carrier's person answers


def test_an_agents_own_callback_waits_for_them_and_is_bridged_to_them_not_to_a_free_other_agent(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    owner = tenant.users["agent"]
    other, other_headers = add_agent(runtime, tenant)
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[owner.id, other.id],
        numbers=[ORDINARY, CALLBACK],
        settings={
            "trunk_profile": PROFILE_NAME,
            "dial_method": "progressive",
            "agent_callback_window_min": 60,
            "agent_callback_fallback": "keep_waiting",
        },
    )
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(
            update(Lead)
            .where(Lead.campaign_id == campaign.id, Lead.phone_e164 == CALLBACK)
            .values(
                status="callback",
                callback_at=datetime.now(UTC) - timedelta(minutes=1),
                callback_agent_id=owner.id,
                next_attempt_at=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.3, 0.5), talk_s=(1.0, 1.5)),
        engine=engine_config(campaign.id, wrap_timeout_s=0.5),
    )
    box.start()
    box.register_phones(tenant.id, [owner.id, other.id])

    def log_in(headers: dict[str, str], user_id: object) -> None:
        r = client.post(
            "/api/agents/me/session",
            json={"sip_uri": box.agent_uri(str(user_id)), "campaign_id": str(campaign.id)},
            headers=headers,
        )
        assert r.status_code == 201, r.text

    # Only the other agent: the ordinary lead is dialed for them, the owner's callback is not.
    log_in(other_headers, other.id)
    wait_for(
        lambda: [(r.e164, r.outcome) for r in attempts_of(runtime, campaign.id)] == [(ORDINARY, "human")],
        30,
        "the ordinary lead's call",
    )
    wait_for(
        lambda: client.get("/api/agents/me/session", headers=other_headers).json()["state"] == "READY",
        10,
        "the other agent READY again",
    )
    time.sleep(2.0)  # 20 dial turns with a free agent and a due callback that is not theirs
    assert [r.e164 for r in attempts_of(runtime, campaign.id)] == [ORDINARY]

    # Its agent logs in: the callback is dialed and put through to them, not to the agent READY longer.
    log_in(tenant.headers("agent"), owner.id)
    wait_for(
        lambda: any(
            r.e164 == CALLBACK and r.outcome != "in_progress" for r in attempts_of(runtime, campaign.id)
        ),
        30,
        "the callback",
    )
    box.engine.recorder.flush()
    rows = {r.e164: r for r in attempts_of(runtime, campaign.id)}
    assert set(rows) == {ORDINARY, CALLBACK}
    assert rows[ORDINARY].agent_id == other.id
    callback = rows[CALLBACK]
    assert callback.outcome == "human" and callback.agent_id == owner.id
    assert callback.agent_connected_at is not None and callback.answered_at is not None
    assert (callback.agent_connected_at - callback.answered_at).total_seconds() <= 2.0
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert live["abandoned"] == 0
