"""The engine checks an agent's phone against the organization's rules again before it calls it: a login
request that reached it without the API's check (a stale or forged request, a rule removed since) never
rings the phone (issue 18, item 5). Real SIP: the sandbox's agent-phones simulator counts the INVITEs."""

from __future__ import annotations

import time
import uuid

from campaigns.models import Campaign
from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from dialer.engine.agents import AgentBoard, AgentState
from dialer.engine.requests import EngineRequest, push_request
from dialer.engine.sandbox import PROFILE_NAME
from dialer.engine.sessions import start_agent_session
from dialer.models import AgentSession
from tests.conftest import make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import engine_config, wait_for


def test_the_engine_never_calls_a_phone_the_org_does_not_allow_even_if_asked_to(
    runtime: Runtime, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    agent, other = tenant.users["agent"], tenant.users["manager"]
    campaign = make_campaign(
        runtime, tenant.id, agent_ids=[agent.id, other.id], settings={"trunk_profile": PROFILE_NAME}
    )
    box = sandbox(engine=engine_config(campaign.id))
    box.start()
    box.register_phones(tenant.id, [agent.id])  # only the agent's phone is registered
    board = AgentBoard(runtime.redis)
    with runtime.db.session(Scope(tenant.id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        start_agent_session(
            s, runtime.redis, agent_id=agent.id, campaign=row, sip_uri=box.agent_uri(agent.id)
        )
        # What start_agent_session would have refused: a session and an engine request for an unregistered URI.
        unregistered = f"sip:intruder@127.0.0.1:{box.phones_port}"
        forged = AgentSession(
            org_id=tenant.id, agent_id=other.id, campaign_id=campaign.id, sip_uri=unregistered
        )
        s.add(forged)
        s.flush()
        forged_id = forged.id
    board.start_session(
        agent_id=str(other.id),
        org_id=str(tenant.id),
        campaign_id=str(campaign.id),
        session_id=str(forged_id),
        sip_uri=unregistered,
    )
    push_request(
        runtime.redis,
        EngineRequest(
            kind="agent_login",
            agent_id=str(other.id),
            org_id=str(tenant.id),
            campaign_id=str(campaign.id),
            session_id=str(forged_id),
            sip_uri=unregistered,
        ),
    )

    def state(user_id: uuid.UUID) -> AgentState | None:
        status = board.status(str(user_id))
        return status.state if status else None

    wait_for(lambda: state(agent.id) is AgentState.READY, 15, "the registered phone's leg up")
    wait_for(lambda: state(other.id) is AgentState.LOGGED_OUT, 15, "the unregistered phone's login refused")
    time.sleep(0.5)
    phones = box.phone_stats()
    assert phones["legs_answered"] == {str(agent.id): 1}  # the unregistered URI never got an INVITE
    with runtime.db.session(ALL_ORGS) as s:
        refused = s.get(AgentSession, forged_id)
        assert (
            refused is not None and refused.end_reason == "phone_not_allowed" and refused.ended_at is not None
        )
