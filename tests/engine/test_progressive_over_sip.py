"""The progressive dial method over real SIP (carrier and agent-phone simulators, two agents): one call
per READY agent, never more calls waiting for an agent than READY agents, every answered call bridged.

The campaign's pacing policy is set to ratio at 3 lines per agent, with a clean 30-day record, so the
abandon guard would let it dial ahead: only the dial method keeps it at one call per READY agent."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import pytest
from litestar.testing import TestClient

from campaigns.models import CallAttempt
from core.accounts import create_user
from core.db import ALL_ORGS
from core.models import Role, User
from core.runtime import Runtime
from core.security import issue_token
from dialer import pacing
from dialer.campaign_settings import build_policy
from dialer.engine.agents import AgentState
from dialer.engine.sandbox import PROFILE_NAME, Sandbox
from dialer.simulators.carrier import CarrierBehaviour
from tests.conftest import PASSWORD, Tenant, make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import attempts_of, engine_config, seed_answered_history, wait_for

pytestmark = pytest.mark.sip

NUMBERS = [f"+12025559{i}11" for i in range(10)]  # ...1x: the carrier's person answers


def add_agent(runtime: Runtime, tenant: Tenant) -> tuple[User, dict[str, str]]:
    """One more agent in the organization, with auth headers of their own."""
    with runtime.db.session(ALL_ORGS) as s:
        user = create_user(
            s,
            email=f"agent.{uuid.uuid4().hex[:8]}@{tenant.org.slug}.example",
            password=PASSWORD,
            role=Role.AGENT,
            org_id=tenant.id,
        )
    token = issue_token(
        runtime.settings.secret_key, user_id=user.id, org_id=tenant.id, role="agent", kind="access", ttl_s=600
    )
    return user, {"Authorization": f"Bearer {token}"}


class FloorSampler:
    """Looks at the engine every 10 ms, under its lock: calls in flight not yet claimed by an agent
    (ringing, or answered and waiting) against the agents READY on the board."""

    def __init__(self, box: Sandbox, campaign_id: uuid.UUID) -> None:
        self.box = box
        self.campaign_id = str(campaign_id)
        self.violations: list[tuple[int, int]] = []
        self.max_calls = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FloorSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        engine = self.box.engine
        while not self._stop.wait(0.01):
            with engine.lock:
                calls = list(engine.floor.calls.values())
                ready = sum(
                    a.state is AgentState.READY for a in engine.board.campaign_agents(self.campaign_id)
                )
            unclaimed = sum(c.agent_id is None for c in calls)
            self.samples += 1
            self.max_calls = max(self.max_calls, len(calls))
            if unclaimed > ready:
                self.violations.append((unclaimed, ready))


def most_at_once(rows: list[CallAttempt]) -> int:
    """The most attempts in progress at one time, from their recorded start and end."""
    edges: list[tuple[datetime, int]] = []
    for row in rows:
        assert row.ended_at is not None
        edges += [(row.placed_at, 1), (row.ended_at, -1)]
    most = now = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start at the same instant
        now += step
        most = max(most, now)
    return most


def test_progressive_places_one_call_per_ready_agent_and_bridges_every_answer(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    first = tenant.users["agent"]
    second, second_headers = add_agent(runtime, tenant)
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[first.id, second.id],
        numbers=NUMBERS,
        settings={
            "trunk_profile": PROFILE_NAME,
            "dial_method": "progressive",
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 3.0},
            "max_lines_per_agent": 3.0,
        },
    )
    seed_answered_history(runtime, campaign)
    assert build_policy(campaign, pacing.AbandonBudget(), 15.0).name == "progressive"
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.3, 0.6), talk_s=(1.0, 2.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=0.5),
    )
    box.start()
    box.register_phones(tenant.id, [first.id, second.id])
    with FloorSampler(box, campaign.id) as sampler:
        for headers, user in ((tenant.headers("agent"), first), (second_headers, second)):
            r = client.post(
                "/api/agents/me/session",
                json={"sip_uri": box.agent_uri(user.id), "campaign_id": str(campaign.id)},
                headers=headers,
            )
            assert r.status_code == 201, r.text
        wait_for(
            lambda: (
                len([r for r in attempts_of(runtime, campaign.id) if r.outcome != "in_progress"])
                == len(NUMBERS)
            ),
            90,
            "every lead called",
        )
    box.engine.recorder.flush()

    assert sampler.samples > 100
    assert sampler.violations == [], (
        f"calls without an agent beyond the READY agents: {sampler.violations[:5]}"
    )
    assert sampler.max_calls == 2  # one per agent: both agents READY got a call each, never a third
    rows = attempts_of(runtime, campaign.id)
    assert sorted(r.e164 for r in rows) == sorted(NUMBERS)  # each lead once
    assert most_at_once(rows) == 2
    assert {r.outcome for r in rows} == {"human"}
    for row in rows:
        assert row.agent_connected_at is not None and row.answered_at is not None
        assert (row.agent_connected_at - row.answered_at).total_seconds() <= 2.0
    assert {r.agent_id for r in rows} == {first.id, second.id}
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert live["abandoned"] == 0
