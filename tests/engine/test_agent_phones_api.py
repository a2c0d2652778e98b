"""Agent phones an org admin allows (`/api/agent-phones`), and logins from any other phone refused before
the engine is asked to call it (issue 18, item 5)."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from dialer.engine.requests import requests_key
from dialer.models import AgentSession
from dialer.phone_policy import PhoneNotAllowedError, check_phone, require_allowed_phone
from dnc.models import CompliancePolicy
from tests.conftest import Tenant
from tests.engine.factories import make_campaign


def _login(client: TestClient, tenant: Tenant, uri: str) -> tuple[int, str]:
    r = client.post("/api/agents/me/session", json={"sip_uri": uri}, headers=tenant.headers("agent"))
    return r.status_code, r.text


def _sessions(runtime: Runtime, tenant: Tenant) -> int:
    with runtime.db.session(ALL_ORGS) as s:
        return int(s.scalar(select(func.count()).where(AgentSession.org_id == tenant.id)) or 0)


def test_an_agent_cannot_make_the_dialer_call_a_sip_host_the_org_did_not_allow(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = make_campaign(runtime, tenant.id, agent_ids=[tenant.users["agent"].id])
    before = runtime.redis.llen(requests_key(str(campaign.id)))

    status, text = _login(client, tenant, "sip:anything@attacker.example.net:5060")

    assert status == 403, text
    assert "sip:anything@attacker.example.net:5060" in text and "no agent-phone rules" in text
    assert (
        runtime.redis.llen(requests_key(str(campaign.id))) == before
    )  # the engine was never asked to call it
    assert _sessions(runtime, tenant) == 0


def test_org_admin_allows_phones_by_registered_uri_domain_and_cidr(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    agent = tenant.users["agent"]
    make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    admin = tenant.headers("org_admin")
    for rule in (
        {"kind": "phone", "value": "sip:1001@PBX.example.com:5060", "agent_id": str(agent.id)},
        {"kind": "domain", "value": "*.phones.example.com"},
        {"kind": "cidr", "value": "10.20.0.0/16", "note": "office LAN"},
    ):
        r = client.post("/api/agent-phones", json=rule, headers=admin)
        assert r.status_code == 201, r.text
    listed = client.get("/api/agent-phones", headers=tenant.headers("manager")).json()
    assert {(r["kind"], r["value"]) for r in listed} == {
        ("phone", "sip:1001@pbx.example.com:5060"),
        ("domain", "*.phones.example.com"),
        ("cidr", "10.20.0.0/16"),
    }

    status, text = _login(client, tenant, "sip:x@10.99.0.1")
    assert status == 403 and "sip:x@10.99.0.1" in text and "no agent-phone rule" in text
    check = client.post(
        "/api/agent-phones/check",
        json={"sip_uri": "sip:x@desk.phones.example.com"},
        headers=tenant.headers("agent"),
    ).json()
    assert check == {
        "sip_uri": "sip:x@desk.phones.example.com",
        "allowed": True,
        "reason": "domain *.phones.example.com",
    }
    status, text = _login(client, tenant, "sip:1001@pbx.example.com:5060")
    assert status == 201, text


def test_a_phone_reserved_to_another_agent_or_denied_by_the_ip_firewall_is_refused(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    agent = tenant.users["agent"]
    manager = tenant.users["manager"]
    make_campaign(runtime, tenant.id, agent_ids=[agent.id])
    admin = tenant.headers("org_admin")
    client.post(
        "/api/agent-phones",
        json={"kind": "phone", "value": "sip:2002@pbx.example.com", "agent_id": str(manager.id)},
        headers=admin,
    )
    client.post("/api/agent-phones", json={"kind": "cidr", "value": "198.51.100.0/24"}, headers=admin)

    status, text = _login(client, tenant, "sip:2002@pbx.example.com")
    assert status == 403 and "sip:2002@pbx.example.com" in text
    assert _sessions(runtime, tenant) == 0
    # The org's IP firewall applies to IP-literal phone hosts. (Checked through the login service: once
    # the firewall has rules, the API refuses the test client itself, whose address is not an IP.)
    with runtime.db.session(Scope(tenant.id)) as s:
        policy = s.scalars(select(CompliancePolicy)).one_or_none()
        if policy is None:
            policy = CompliancePolicy()
            s.add(policy)
        policy.ip_deny_cidrs = ["198.51.100.66/32"]
    with runtime.db.session(Scope(tenant.id)) as s:
        assert check_phone(s, agent_id=agent.id, sip_uri="sip:a@198.51.100.7").allowed
        with pytest.raises(
            PhoneNotAllowedError, match=r"sip:a@198.51.100.66 .*IP firewall \(deny 198.51.100.66/32\)"
        ):
            require_allowed_phone(s, agent_id=agent.id, sip_uri="sip:a@198.51.100.66")


def test_bad_rules_are_refused_naming_the_field_and_rules_can_be_removed(
    client: TestClient, tenant: Tenant
) -> None:
    admin = tenant.headers("org_admin")
    for body, field in (
        ({"kind": "cidr", "value": "10.0.0.0/40"}, "value"),
        ({"kind": "domain", "value": "10.0.0.1"}, "value"),
        ({"kind": "phone", "value": "sip:a@b.example;maddr=203.0.113.1"}, "value"),
        ({"kind": "anything", "value": "x"}, "kind"),
        ({"kind": "domain", "value": "a.example", "agent_id": str(tenant.users["agent"].id)}, "agent_id"),
    ):
        r = client.post("/api/agent-phones", json=body, headers=admin)
        assert r.status_code == 422 and field in r.text, (body, r.text)
    made = client.post("/api/agent-phones", json={"kind": "domain", "value": "a.example"}, headers=admin)
    again = client.post("/api/agent-phones", json={"kind": "domain", "value": "A.example"}, headers=admin)
    assert made.status_code == 201 and again.status_code == 409
    rule_id = made.json()["id"]
    assert client.delete(f"/api/agent-phones/{rule_id}", headers=admin).status_code == 204
    assert client.get("/api/agent-phones", headers=admin).json() == []
