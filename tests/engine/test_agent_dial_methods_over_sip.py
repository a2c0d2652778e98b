"""Calls an agent starts, over real SIP (carrier and agent-phone simulators): in a preview campaign the
engine dials nothing on its own, the agent is offered the next lead and dials it or skips it (with a
reason); in any campaign the agent may dial a number they type. Either way the dial-time compliance check
runs when the agent asks (a DNC number is refused with its reason and recorded), and the call is signed
and bridged to that agent."""

from __future__ import annotations

import time
import uuid

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.agent_dials import MANUAL_LIST_NAME
from campaigns.models import CallAttempt, Campaign, Lead, LeadList, PreviewSkip
from core.db import ALL_ORGS, Scope
from core.public_ids import internal_lead_id
from core.runtime import Runtime
from dialer.simulators.carrier import CarrierBehaviour
from dnc.internal import add_internal_dnc
from tests.conftest import Tenant
from tests.engine.conftest import MakeSandbox, TestCertificates
from tests.engine.test_agent_calls_over_sip import carrier_call
from tests.engine.test_engine_calls import attempts_of, engine_config, login, one_agent_floor, wait_for

pytestmark = pytest.mark.sip


def agent_floor(
    runtime: Runtime, certificates: TestCertificates, numbers: list[str], dial_method: str
) -> tuple[Tenant, uuid.UUID, Campaign]:
    tenant, agent, campaign = one_agent_floor(runtime, certificates, numbers, lines_per_agent=1.0)
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        row.dial_method = dial_method
    return tenant, agent.id, campaign


def offered(client: TestClient, headers: dict[str, str]) -> dict[str, object] | None:
    r = client.get("/api/agents/me/preview", headers=headers)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, dict)
    return body


def wait_offer(client: TestClient, headers: dict[str, str], e164: str) -> dict[str, object]:
    wait_for(lambda: (offered(client, headers) or {}).get("e164") == e164, 20, f"{e164} to be offered")
    offer = offered(client, headers)
    assert offer is not None
    return offer


def add_dnc(runtime: Runtime, org_id: uuid.UUID, e164: str) -> None:
    with runtime.db.session(Scope(org_id)) as s:
        add_internal_dnc(s, e164=e164, campaign_id=None, source="api", reason="test", added_by=None)


def lead_of(runtime: Runtime, campaign_id: uuid.UUID, e164: str) -> Lead:
    with runtime.db.session(ALL_ORGS) as s:
        lead = s.scalars(select(Lead).where(Lead.campaign_id == campaign_id, Lead.phone_e164 == e164)).one()
        s.expunge(lead)
        return lead


def test_preview_offers_the_next_lead_and_dials_only_on_the_agents_word(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    skipped, became_dnc, dialed = "+12025558410", "+12025558415", "+12025558419"
    tenant, agent_id, campaign = agent_floor(runtime, certificates, [skipped, became_dnc, dialed], "preview")
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(20.0, 20.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=30.0),
    )
    box.start()
    box.register_phones(tenant.id, [agent_id])
    headers = tenant.headers("agent")
    assert client.get("/api/agents/me/preview", headers=headers).status_code == 404  # not logged in
    login(client, tenant, "agent", box.agent_uri(agent_id), campaign.id)

    first = wait_offer(client, headers, skipped)
    assert "not_now" in first["skip_reasons"]  # type: ignore[operator]
    time.sleep(1.5)
    assert attempts_of(runtime, campaign.id) == []  # a preview campaign is never dialed on its own
    assert offered(client, headers) == first  # the same lead, held for the agent

    bad = client.post(
        "/api/agents/me/preview/skip", json={"lead_id": first["lead_id"], "reason": "bored"}, headers=headers
    )
    assert bad.status_code == 422 and "not_now" in bad.json()["detail"], bad.text
    skip = client.post(
        "/api/agents/me/preview/skip",
        json={"lead_id": first["lead_id"], "reason": "wrong_number", "note": "a fax machine"},
        headers=headers,
    )
    assert skip.status_code == 200, skip.text
    with runtime.db.session(ALL_ORGS) as s:
        (row,) = s.scalars(select(PreviewSkip).where(PreviewSkip.campaign_id == campaign.id))
        assert (row.reason, row.note, row.agent_id) == ("wrong_number", "a fax machine", agent_id)
        assert row.lead_id == internal_lead_id(int(first["lead_id"]))  # type: ignore[call-overload]
    assert lead_of(runtime, campaign.id, skipped).status == "done"

    # Offered, then on the internal DNC list before the agent says dial: the dial-time check refuses it.
    second = wait_offer(client, headers, became_dnc)
    add_dnc(runtime, tenant.id, became_dnc)
    refused = client.post("/api/agents/me/preview/dial", json={"lead_id": second["lead_id"]}, headers=headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "internal_dnc" in problem["detail"] and "internal DNC list" in problem["detail"]
    assert problem["reasons"] == ["internal_dnc"]
    (blocked,) = attempts_of(runtime, campaign.id)
    assert str(blocked.id) == problem["attempt_id"]
    assert blocked.outcome == "blocked" and blocked.verdict_reasons == ["internal_dnc"]
    assert blocked.evidence is not None and blocked.evidence["compliance"]
    assert blocked.sip_call_id is None  # never dialed

    third = wait_offer(client, headers, dialed)
    assert not [a for a in attempts_of(runtime, campaign.id) if a.e164 == dialed]  # nothing until the word
    r = client.post("/api/agents/me/preview/dial", json={"lead_id": third["lead_id"]}, headers=headers)
    assert r.status_code == 202, r.text
    attempt_id = r.json()["attempt_id"]
    wait_for(
        lambda: any(
            a.agent_connected_at for a in attempts_of(runtime, campaign.id) if str(a.id) == attempt_id
        ),
        20,
        "the call bridged to the agent",
    )
    box.engine.recorder.flush()
    (call,) = [a for a in attempts_of(runtime, campaign.id) if str(a.id) == attempt_id]
    assert call.e164 == dialed and call.agent_id == agent_id
    assert call.identity_header_present and call.attestation
    assert call.answered_at is not None and call.agent_connected_at is not None
    assert (call.agent_connected_at - call.answered_at).total_seconds() < 2.0
    assert call.safe_harbor_at is None
    record = carrier_call(box, dialed, "the carrier to publish the previewed call")
    assert record["identity"] == "verified"  # the carrier verified the PASSporT
    session = client.get("/api/agents/me/session", headers=headers).json()
    assert session["state"] == "INCALL" and session["attempt_id"] == attempt_id
    assert offered(client, headers) is None  # on a call: nothing offered
    # Only the agent's three decisions made attempts: the blocked one and the call.
    assert sorted(a.e164 for a in attempts_of(runtime, campaign.id)) == [became_dnc, dialed]


def test_an_agent_dials_a_typed_number_through_the_same_check_signed_and_bridged_to_them(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    typed, on_dnc = "+12025558510", "+12025558515"
    tenant, agent_id, campaign = agent_floor(runtime, certificates, [], "manual")
    add_dnc(runtime, tenant.id, on_dnc)
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(20.0, 20.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=30.0),
    )
    box.start()
    box.register_phones(tenant.id, [agent_id])
    headers = tenant.headers("agent")
    login(client, tenant, "agent", box.agent_uri(agent_id), campaign.id)
    wait_for(
        lambda: client.get("/api/agents/me/session", headers=headers).json()["state"] == "READY", 20, "READY"
    )
    assert offered(client, headers) is None  # a manual campaign offers nothing

    junk = client.post("/api/agents/me/manual-dial", json={"phone": "12"}, headers=headers)
    assert junk.status_code == 422 and junk.json()["errors"][0]["field"] == "phone", junk.text
    refused = client.post("/api/agents/me/manual-dial", json={"phone": "(202) 555-8515"}, headers=headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert on_dnc in problem["detail"] and "internal_dnc" in problem["detail"]
    assert problem["errors"][0]["field"] == "phone"
    (blocked,) = attempts_of(runtime, campaign.id)
    assert (blocked.e164, blocked.outcome, str(blocked.id)) == (on_dnc, "blocked", problem["attempt_id"])
    assert blocked.evidence is not None and blocked.evidence["compliance"]

    r = client.post("/api/agents/me/manual-dial", json={"phone": typed}, headers=headers)
    assert r.status_code == 202, r.text
    attempt_id = r.json()["attempt_id"]
    busy = client.post("/api/agents/me/manual-dial", json={"phone": "+12025558518"}, headers=headers)
    assert busy.status_code == 409 and "INCALL" in busy.json()["detail"]  # one call at a time
    wait_for(
        lambda: any(
            a.agent_connected_at for a in attempts_of(runtime, campaign.id) if str(a.id) == attempt_id
        ),
        20,
        "the typed call bridged to the agent",
    )
    box.engine.recorder.flush()
    (call,) = [a for a in attempts_of(runtime, campaign.id) if str(a.id) == attempt_id]
    assert call.e164 == typed and call.agent_id == agent_id
    assert call.identity_header_present and call.attestation
    assert call.evidence is not None and call.evidence["compliance"] and call.evidence["attestation"]
    assert carrier_call(box, typed, "the carrier to publish the typed call")["identity"] == "verified"
    with runtime.db.session(ALL_ORGS) as s:
        lead = s.scalars(select(Lead).where(Lead.id == call.lead_id)).one()
        manual_list = s.get(LeadList, lead.list_id)
        assert manual_list is not None and manual_list.name == MANUAL_LIST_NAME
        assert manual_list.status == "paused"  # the automatic dialer never hands these leads out
        assert s.scalar(select(CallAttempt.worker).where(CallAttempt.id == call.id))  # placed by the engine
