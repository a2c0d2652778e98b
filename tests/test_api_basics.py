"""Health, OpenAPI, problem+json, request limits, and the audit trail of mutating requests."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import func, select

from core.db import ALL_ORGS
from core.models import AuditEntry, Organization, User
from core.runtime import Runtime
from tests.conftest import PASSWORD, Tenant, job_worker


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.session(ALL_ORGS) as s:
        return (
            s.scalar(select(func.count()).select_from(Organization)) or 0,
            s.scalar(select(func.count()).select_from(User)) or 0,
        )


def test_health_checks_database_redis_and_job_workers(client: TestClient) -> None:
    with job_worker("campaigns"):
        r = client.get("/api/health")
        assert r.status_code == 200
        assert r.json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok", "job_workers": "ok (1 running)"},
        }
    r = client.get("/api/health")  # the worker stopped: nothing would run an import any more
    assert r.status_code == 503
    assert r.json()["checks"]["job_workers"] == "error: no job worker is running"


def test_openapi_document_is_served(client: TestClient) -> None:
    doc = client.get("/schema/openapi.json").json()
    assert doc["info"]["title"] == "Clearline API"
    assert "/api/users" in doc["paths"] and "/api/auth/login" in doc["paths"]


def test_oversized_body_is_413_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = _counts(runtime)
    big = "x" * (runtime.settings.max_request_body_bytes + 10)
    r = client.post("/api/users", headers=tenant.headers(), content=f'{{"email":"{big}"}}')
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(runtime) == before


def test_malformed_json_is_400_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = _counts(runtime)
    r = client.post(
        "/api/users",
        headers={**tenant.headers(), "content-type": "application/json"},
        content=b'{"email": "a@b.example", "password": ',
    )
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["title"] and body["detail"]
    assert _counts(runtime) == before


def test_unknown_fields_are_400_naming_the_field(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = _counts(runtime)
    r = client.post(
        "/api/users",
        headers=tenant.headers(),
        json={"email": "n@b.example", "password": "p" * 14, "role": "agent", "is_admin": True},
    )
    assert r.status_code == 400
    assert "is_admin" in r.text
    assert _counts(runtime) == before


def test_invalid_values_are_422_naming_the_field_and_rule(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/users",
        headers=tenant.headers(),
        json={"email": "ok@b.example", "password": "short", "role": "agent"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"
    assert "12 characters" in r.json()["detail"]


def test_mutating_requests_write_an_audit_row_with_who_what_and_where(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    r = client.post(
        "/api/users",
        headers=tenant.headers(),
        json={"email": f"new@{tenant.org.slug}.example", "password": PASSWORD, "role": "agent"},
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    client.patch(f"/api/users/{new_id}", headers=tenant.headers(), json={"display_name": "New Agent"})
    with runtime.db.session(ALL_ORGS) as s:
        rows = list(
            s.scalars(select(AuditEntry).where(AuditEntry.org_id == tenant.id).order_by(AuditEntry.id))
        )
    actions = [(a.action, a.outcome) for a in rows]
    assert ("POST /api/users", "ok") in actions
    assert ("PATCH /api/users/{user_id}", "ok") in actions
    patch = next(a for a in rows if a.action.startswith("PATCH"))
    assert patch.actor == tenant.users["org_admin"].email
    assert patch.target == f"/api/users/{new_id}"
    assert patch.user_id == tenant.users["org_admin"].id


def test_audit_log_is_readable_only_within_the_organization(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.patch(
        f"/api/users/{tenant.users['agent'].id}", headers=tenant.headers(), json={"display_name": "A"}
    )
    mine = client.get("/api/audit", headers=tenant.headers("compliance")).json()
    theirs = client.get("/api/audit", headers=other_tenant.headers("compliance")).json()
    assert any(str(tenant.users["agent"].id) in a["target"] for a in mine)
    assert not any(str(tenant.users["agent"].id) in a["target"] for a in theirs)


def test_a_request_that_fails_half_way_changes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    agent = tenant.users["agent"]
    r = client.patch(
        f"/api/users/{agent.id}",
        headers=tenant.headers(),
        json={"display_name": "half-way", "password": "short"},
    )
    assert r.status_code == 422
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, agent.id)
        assert user is not None and user.display_name != "half-way"
