"""Issue 16, a departing platform user: an org admin exports the agent's account data and then has the
account anonymized; the agent can no longer log in, their actions stay in the audit log under its
retention rule, and the evidence says what was deleted and what was kept."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, select

from campaigns.models import CampaignAgent
from core.db import ALL_ORGS, Scope
from core.models import AuditEntry, RecoveryCode, User
from core.runtime import Runtime
from dialer.account_privacy import anonymous_email
from dialer.models import AgentPhoneRule
from tests.campaigns.conftest import make_world
from tests.conftest import PASSWORD, Tenant, job_worker


def _done(client: TestClient, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/privacy/requests/{request_id}", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError("the request did not finish")


def test_an_agent_leaving_is_exported_then_anonymized_and_their_audit_trail_stays(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    agent = tenant.users["agent"]
    email = agent.email
    world = make_world(runtime, tenant)
    with runtime.db.session(Scope(tenant.id)) as s:
        s.add(CampaignAgent(org_id=tenant.id, campaign_id=world.campaign_id, user_id=agent.id))
        s.add(AgentPhoneRule(org_id=tenant.id, kind="phone", value="sip:desk-7@127.0.0.1", agent_id=agent.id))
        s.add(RecoveryCode(user_id=agent.id, org_id=tenant.id, code_hash="x"))
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code in (200, 201), login.text
    agent_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with runtime.db.session(ALL_ORGS) as s:
        audit_before = s.scalars(select(func.count()).select_from(AuditEntry).where(AuditEntry.user_id == agent.id)).one()  # fmt: skip
    assert audit_before >= 1

    admin = tenant.headers("org_admin")
    denied = client.post("/api/privacy/requests", headers=tenant.headers("compliance"),
                         json={"kind": "access", "user_id": str(agent.id)})  # fmt: skip
    assert denied.status_code == 403
    own = client.post("/api/privacy/requests", headers=admin,
                      json={"kind": "deletion", "user_id": str(tenant.users["org_admin"].id)})  # fmt: skip
    assert own.status_code == 422 and "your own account" in own.json()["detail"]

    with job_worker("campaigns"):
        r = client.post(
            "/api/privacy/requests", headers=admin, json={"kind": "access", "user_id": str(agent.id)}
        )
        assert r.status_code == 202, r.text
        access = _done(client, admin, r.json()["id"])
        assert access["status"] == "completed" and access["subject"] == "user", access
        doc = client.get(f"/api/privacy/requests/{access['id']}/export.json", headers=admin).json()
        assert doc["account"]["email"] == email and "password_hash" not in str(doc)
        assert doc["campaigns"] and doc["reserved_phones"] == ["sip:desk-7@127.0.0.1"]
        assert any(row["action"] == "auth.login" for row in doc["audit_log"]) and doc["login_sessions"]

        r = client.post(
            "/api/privacy/requests", headers=admin, json={"kind": "deletion", "user_id": str(agent.id)}
        )
        gone = _done(client, admin, r.json()["id"])
    assert gone["status"] == "completed", gone
    evidence = gone["evidence"]
    assert evidence["deleted"]["campaign_assignments"] == 1 and evidence["deleted"]["recovery_codes"] == 1
    assert {k["rule"] for k in evidence["kept"]} >= {"audit_log", "call_records", "sessions"}
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, agent.id)
        assert user is not None
        assert (user.email, user.display_name, user.is_active) == (anonymous_email(agent.id), "", False)
        assert s.scalars(select(AgentPhoneRule).where(AgentPhoneRule.agent_id == agent.id)).all() == []
        audit_after = s.scalars(select(func.count()).select_from(AuditEntry).where(AuditEntry.user_id == agent.id)).one()  # fmt: skip
    assert audit_after >= audit_before  # nothing of their trail went (the anonymization added its own rows)
    assert client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
    assert client.get("/api/users/me", headers=agent_headers).status_code == 401  # their tokens are void
