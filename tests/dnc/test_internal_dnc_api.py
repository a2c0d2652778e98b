"""The internal DNC list as compliance staff keep it: one entry per number, removal with history and
audit by compliance or org admins only, area-code blocks listed and removed."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import select

from core.db import Scope
from core.models import AuditEntry
from core.runtime import Runtime
from tests.conftest import Tenant


def test_the_same_number_added_twice_is_one_entry(client: TestClient, tenant: Tenant) -> None:
    for source, status in (("api", "added"), ("api", "already listed")):
        r = client.post(
            "/api/dnc/internal",
            json={"e164": "(202) 555-0111", "source": source},
            headers=tenant.headers("agent"),
        )
        assert r.status_code == 201 and r.json()["status"] == status
    entries = client.get("/api/dnc/internal?e164=%2B12025550111", headers=tenant.headers("compliance")).json()
    assert len(entries) == 1


def test_removal_needs_compliance_or_an_org_admin_and_a_reason_and_keeps_the_history(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    client.post("/api/dnc/internal", json={"e164": "+12025550112", "source": "agent", "reason": "asked on the call"},
                headers=tenant.headers("agent"))  # fmt: skip
    (entry,) = client.get(
        "/api/dnc/internal?e164=%2B12025550112", headers=tenant.headers("compliance")
    ).json()
    url = f"/api/dnc/internal/{entry['id']}"
    assert client.delete(f"{url}?reason=mistake", headers=tenant.headers("agent")).status_code == 403
    assert client.delete(f"{url}?reason=mistake", headers=tenant.headers("manager")).status_code == 403
    assert client.delete(f"{url}?reason=%20", headers=tenant.headers("compliance")).status_code == 422
    removed = client.delete(
        f"{url}?reason=written%20consent%20received", headers=tenant.headers("compliance")
    )
    assert removed.status_code == 200, removed.text
    assert (
        client.get("/api/dnc/internal?e164=%2B12025550112", headers=tenant.headers("compliance")).json() == []
    )
    (history,) = client.get(
        "/api/dnc/removals?value=%2B12025550112", headers=tenant.headers("org_admin")
    ).json()
    assert history["source"] == "agent" and history["reason"] == "asked on the call"
    assert history["added_by"] == str(tenant.users["agent"].id)
    assert history["removed_by"] == str(tenant.users["compliance"].id)
    assert history["removal_reason"] == "written consent received"
    with runtime.db.session(Scope(tenant.id)) as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.target.like("%/api/dnc/internal/%"))).all()
        assert [a.outcome for a in audited if a.user_id == tenant.users["compliance"].id]


def test_area_code_blocks_are_listed_once_and_removed_with_history(
    client: TestClient, tenant: Tenant
) -> None:
    for _ in range(2):
        r = client.post("/api/dnc/area-code-blocks", json={"area_code": "305", "reason": "hurricane"},
                        headers=tenant.headers("compliance"))  # fmt: skip
        assert r.status_code == 201
    blocks = client.get("/api/dnc/area-code-blocks", headers=tenant.headers("compliance")).json()
    (block,) = [b for b in blocks if b["area_code"] == "305"]
    r = client.delete(
        f"/api/dnc/area-code-blocks/{block['id']}?reason=over", headers=tenant.headers("org_admin")
    )
    assert r.status_code == 200 and r.json()["kind"] == "area_code" and r.json()["reason"] == "hurricane"
    assert not [b for b in client.get("/api/dnc/area-code-blocks", headers=tenant.headers("compliance")).json()
                if b["area_code"] == "305"]  # fmt: skip
