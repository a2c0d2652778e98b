"""A campaign handed over between two supervisors (issue 14, "Events and requests"): what its agents ask
while it drains on the old owner reaches the supervisor holding their legs and calls, and once it moved,
its agents' legs are on the new owner's workers and its live figures are both supervisors' together.

Two supervisors in this process (each with its own line worker), real SIP over loopback: the first runs
two campaigns of two agents each; when the second starts, fair share moves one of them over. That one
has a long call in progress, so it drains on the first supervisor for seconds: meanwhile its READY agent
logs out and the agent on the call hangs the customer up."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from litestar.testing import TestClient

from campaigns.models import Campaign, CampaignStatus
from campaigns.service import set_status
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.agents import AgentState
from dialer.engine.config import EngineConfig
from dialer.engine.floor import LiveCall
from dialer.engine.live import read_live_stats
from dialer.engine.sandbox import PROFILE_NAME
from dialer.engine.supervisor import Engine
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.keys import command_key
from tests.conftest import make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, identity_source, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import attempts_of, engine_config, seed_answered_history, wait_for
from tests.engine.test_progressive_over_sip import add_agent

pytestmark = pytest.mark.sip

TALK_S = 12.0  # the customer's side would talk this long: a hang-up that works ends the call far sooner


def _campaign(runtime: Runtime, org_id: uuid.UUID, agents: list[uuid.UUID], numbers: list[str]) -> Campaign:
    return make_campaign(
        runtime,
        org_id,
        agent_ids=agents,
        numbers=numbers,
        active=False,
        settings={
            "trunk_profile": PROFILE_NAME,
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 1.0},
        },
    )


def _activate(runtime: Runtime, campaign: Campaign) -> None:
    with runtime.db.session(Scope(campaign.org_id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        set_status(row, CampaignStatus.ACTIVE)


def test_a_logout_and_a_hangup_asked_while_a_campaign_drains_for_a_handover_reach_the_supervisor_holding_them(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    users = [add_agent(runtime, tenant) for _ in range(4)]
    headers = {u.id: h for u, h in users}
    ids = [u.id for u, _ in users]
    # Equal weights (two agents each): fair share keeps the campaign whose id sorts first with its owner
    # and moves the other, the one with the call ("+...11": the carrier's person answers).
    moving = _campaign(runtime, tenant.id, ids[2:], ["+12025556211"])
    staying = _campaign(runtime, tenant.id, ids[:2], [])
    while str(staying.id) > str(moving.id):
        staying = _campaign(runtime, tenant.id, ids[:2], [])
    seed_answered_history(runtime, moving)
    for campaign in (moving, staying):
        _activate(runtime, campaign)
    tag = uuid.uuid4().hex[:6]
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(TALK_S, TALK_S)),
        engine=replace(
            engine_config(moving.id, supervisor_id=f"sup-a-{tag}"),
            campaign_ids=frozenset({moving.id, staying.id}),
        ),
    )
    box.start()
    first = box.engine
    assert first is not None
    box.register_phones(tenant.id, ids)
    for campaign, agents in ((staying, ids[:2]), (moving, ids[2:])):
        for agent_id in agents:
            r = client.post(
                "/api/agents/me/session",
                json={"sip_uri": box.agent_uri(agent_id), "campaign_id": str(campaign.id)},
                headers=headers[agent_id],
            )
            assert r.status_code == 201, r.text

    def the_call() -> uuid.UUID | None:
        rows = [r for r in attempts_of(runtime, moving.id) if r.agent_connected_at is not None]
        return rows[0].agent_id if rows else None

    wait_for(lambda: the_call() is not None, 30, "the moving campaign's call bridged to an agent")
    on_call = the_call()
    assert on_call is not None
    free = next(a for a in ids[2:] if a != on_call)
    wait_for(
        lambda: (s := first.board.status(str(free))) is not None and s.state is AgentState.READY,
        15,
        "the other agent READY",
    )

    second = Engine(
        runtime, identity_source(runtime, certificates), replace(first.config, supervisor_id=f"sup-b-{tag}")
    )
    second.start()
    try:
        wait_for(
            lambda: moving.id in first.handing_over, 15, "the first supervisor to hand the campaign over"
        )
        assert str(moving.id) not in second.ownership.held  # it drains: the call is still on

        # Both asked while it drains: the first supervisor holds the READY agent's leg and the call.
        assert client.delete("/api/agents/me/session", headers=headers[free]).status_code == 200
        r = client.post("/api/agents/me/hangup", headers=headers[on_call])
        assert r.status_code == 202, r.text
        wait_for(
            lambda: box.phone_stats()["legs_up"].get(str(free)) is False,
            5,
            "the logged-out agent's phone leg to be hung up",
        )
        wait_for(
            lambda: all(r.outcome != "in_progress" for r in attempts_of(runtime, moving.id)),
            5,
            "the customer's call hung up by the agent",
        )
        first.recorder.flush()
        (call,) = attempts_of(runtime, moving.id)
        assert call.ended_by == "agent" and call.ended_at is not None and call.agent_connected_at is not None
        assert (call.ended_at - call.agent_connected_at).total_seconds() < TALK_S - 4

        # Moved: the agent left is called again from the new owner's worker; nothing of it stays behind.
        wait_for(lambda: str(moving.id) in second.ownership.held, 10, "the second supervisor to own it")
        wait_for(
            lambda: (
                (s := second.board.status(str(on_call))) is not None
                and s.state is AgentState.READY
                and s.worker in second.ready_workers
            ),
            15,
            "the agent's leg on the new owner's worker",
        )
        with first.lock:
            assert set(first.fleet.agent_worker) == {str(a) for a in ids[:2]}  # the staying campaign's
        assert str(staying.id) in first.ownership.held
        status = second.board.status(str(free))
        assert status is not None and status.state is AgentState.LOGGED_OUT
        # The live figures: the call the first placed, the second running it now.
        wait_for(lambda: read_live_stats(runtime.redis, str(moving.id)).running, 5, "the new owner's figures")
        live = client.get(f"/api/dialer/campaigns/{moving.id}/live", headers=tenant.headers("manager")).json()
        assert live["engine_running"] and live["calls_placed"] == 1 and live["calls_in_progress"] == 0
        assert live["connected"] == 1
    finally:
        second.stop(drain_s=1.0)


def test_a_supervisor_lets_go_of_agent_legs_of_campaigns_it_no_longer_owns_but_not_mid_call(
    runtime: Runtime, certificates: TestCertificates
) -> None:
    """Its lease lapsed and went to another supervisor (which calls the agents' phones from its own
    workers): the legs still up here are hung up, the agents left as they are; one on a call here keeps
    its leg until the call ended, and a campaign still owned keeps its agents' legs."""
    nothing: frozenset[uuid.UUID] = frozenset()
    engine = Engine(
        runtime,
        identity_source(runtime, certificates),
        EngineConfig(supervisor_id=f"sup-{uuid.uuid4().hex[:6]}", campaign_ids=nothing),
    )
    board = engine.board
    owned, lost = str(uuid.uuid4()), str(uuid.uuid4())
    agents = {name: str(uuid.uuid4()) for name in ("owned", "lost", "lost_on_call", "moved")}
    for name, agent_id in agents.items():
        campaign = owned if name in ("owned", "moved") else lost
        board.start_session(
            agent_id=agent_id, org_id="org", campaign_id=campaign, session_id="", sip_uri="sip:a@127.0.0.1"
        )
        engine.fleet.agent_leg(agent_id, "w-here")
        board.leg_up(agent_id, worker="w-elsewhere" if name == "moved" else "w-here", leg_id=agent_id)
    engine.floor.calls["a-1"] = LiveCall(
        attempt_id="a-1",
        lead_id=1,
        org_id=uuid.uuid4(),
        campaign_id=uuid.UUID(lost),
        e164="+12025550101",
        trunk="t",
        worker="w-here",
        placed_at=0.0,
        agent_id=agents["lost_on_call"],
    )
    engine._coordinated = True  # a started engine's: it drives only the campaigns it holds leases on
    engine.ownership.held = {owned}
    try:
        engine._let_go_of_stray_legs()
        sent = [
            p.decode_command(c) for c in runtime.redis.lrange(command_key(engine.pool.pool, "w-here"), 0, -1)
        ]
        assert sorted(c.agent_id for c in sent if isinstance(c, p.ReleaseAgent)) == sorted(
            [agents["lost"], agents["moved"]]
        )
        assert len(sent) == 2
        assert set(engine.fleet.agent_worker) == {agents["owned"], agents["lost_on_call"]}
        for agent_id in agents.values():  # nobody logged out: their campaign's owner has them
            status = board.status(agent_id)
            assert status is not None and status.state is AgentState.READY
        # Its leg going down (as the worker reports it) does not log the agent out.
        engine.legs.on_leg_down(
            p.AgentLegDown(
                worker_id="w-here", at=time.time(), agent_id=agents["lost"], sip_status=200, reason=""
            )
        )
        status = board.status(agents["lost"])
        assert status is not None and status.state is AgentState.READY
    finally:
        for agent_id in agents.values():
            board.logout(agent_id)
        runtime.redis.delete(command_key(engine.pool.pool, "w-here"))
        engine.recorder.close()
        engine.pool.close()
