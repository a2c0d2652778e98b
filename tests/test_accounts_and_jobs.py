"""Organization and user management through the API, and job progress as users read it."""

from __future__ import annotations

import uuid

from litestar.testing import TestClient

from core.db import Scope
from core.jobs import JobCancelled, JobReporter, create_job
from core.runtime import Runtime
from tests.conftest import PASSWORD, Tenant


def test_platform_admin_creates_an_org_and_its_first_admin_who_can_log_in(
    client: TestClient, platform_admin: tuple[object, dict[str, str]]
) -> None:
    _, headers = platform_admin
    name = f"Fresh {uuid.uuid4().hex[:6]}"
    org = client.post("/api/orgs", headers=headers, json={"name": name})
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    email = f"boss-{uuid.uuid4().hex[:6]}@fresh.example"
    # a platform admin must say which organization the user belongs to
    assert (
        client.post(
            "/api/users", headers=headers, json={"email": email, "password": PASSWORD, "role": "org_admin"}
        ).status_code
        == 403
    )
    made = client.post(
        "/api/users",
        headers=headers,
        json={"email": email, "password": PASSWORD, "role": "org_admin", "org_id": org_id},
    )
    assert made.status_code == 201, made.text
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["org_id"] == org_id
    assert client.post("/api/orgs", headers=headers, json={"name": name}).status_code == 409


def test_org_admin_manages_users_of_its_own_org_only(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    email = f"new-{uuid.uuid4().hex[:6]}@x.example"
    r = client.post(
        "/api/users",
        headers=tenant.headers(),
        json={"email": email, "password": PASSWORD, "role": "agent", "org_id": str(other_tenant.id)},
    )
    assert r.status_code == 403, "an org admin cannot create users in another organization"
    r = client.post(
        "/api/users", headers=tenant.headers(), json={"email": email, "password": PASSWORD, "role": "agent"}
    )
    assert r.status_code == 201 and r.json()["org_id"] == str(tenant.id)
    dup = client.post(
        "/api/users",
        headers=other_tenant.headers(),
        json={"email": email, "password": PASSWORD, "role": "agent"},
    )
    assert dup.status_code == 409, "emails are unique across organizations"
    listed = {u["email"] for u in client.get("/api/users", headers=tenant.headers()).json()}
    assert email in listed and not listed & {u.email for u in other_tenant.users.values()}


def test_job_progress_is_readable_and_cancellable_within_the_org(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    job_id = create_job(runtime.db, Scope(tenant.id), kind="demo", params={}, created_by=None)
    reporter = JobReporter(runtime.db, job_id)
    reporter.started()
    reporter.progress(40.0, {"rows": 400})
    got = client.get(f"/api/jobs/{job_id}", headers=tenant.headers("agent")).json()
    assert got["status"] == "running" and got["progress_pct"] == 40.0 and got["counts"] == {"rows": 400}
    assert client.get(f"/api/jobs/{job_id}", headers=other_tenant.headers("agent")).status_code == 404
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=tenant.headers("manager")).status_code == 202
    try:
        reporter.progress(50.0)
        raise AssertionError("a cancelled job must stop at its next progress report")
    except JobCancelled:
        reporter.cancelled()
    assert client.get(f"/api/jobs/{job_id}", headers=tenant.headers()).json()["status"] == "cancelled"
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=tenant.headers()).status_code == 409
