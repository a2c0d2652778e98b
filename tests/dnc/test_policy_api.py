"""The geo / IP policy: partial updates, no self lock-out, compliance staff edit it, a platform admin reads
and resets any organization's, and `clearline dnc policy reset` recovers a locked-out organization."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from clearline.cli import main
from core.db import Scope
from core.errors import ValidationError
from core.models import User
from core.runtime import Runtime
from dnc.policy import read_policy, update_policy
from tests.conftest import Tenant


def test_patch_changes_only_the_rules_given_and_put_replaces_the_whole_policy(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    admin = tenant.headers("org_admin")
    put = client.put(
        "/api/dnc/policy", json={"blocked_states": ["FL"], "blocked_area_codes": ["212"]}, headers=admin
    )
    assert put.status_code == 200, put.text
    patched = client.patch("/api/dnc/policy", json={"allowed_countries": ["US", "CA"]}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["blocked_states"] == ["FL"] and patched.json()["allowed_countries"] == ["US", "CA"]
    replaced = client.put("/api/dnc/policy", json={"allowed_countries": ["US"]}, headers=admin).json()
    assert replaced["blocked_states"] == [] and replaced["blocked_area_codes"] == []
    with runtime.db.session(Scope(tenant.id)) as s:  # the reported case: a geo change keeps the IP rules
        update_policy(s, tenant.id, {"ip_allow_cidrs": ["198.51.100.0/24"]}, saver_ip=None)
        kept = update_policy(s, tenant.id, {"blocked_states": ["OK"]}, saver_ip=None)
        assert kept.ip_allow_cidrs == ["198.51.100.0/24"] and kept.blocked_states == ["OK"]


def test_compliance_staff_edit_the_geo_and_ip_rules(client: TestClient, tenant: Tenant) -> None:
    r = client.patch(
        "/api/dnc/policy", json={"blocked_area_codes": ["212"]}, headers=tenant.headers("compliance")
    )
    assert r.status_code == 200, r.text
    assert (
        client.patch(
            "/api/dnc/policy", json={"blocked_states": ["FL"]}, headers=tenant.headers("agent")
        ).status_code
        == 403
    )


def test_ip_rules_that_would_lock_out_the_saver_are_refused_with_their_address(
    runtime: Runtime, tenant: Tenant
) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        with pytest.raises(ValidationError, match=r"203\.0\.113\.9") as refused:
            update_policy(s, tenant.id, {"ip_allow_cidrs": ["198.51.100.0/24"]}, saver_ip="203.0.113.9")
        assert refused.value.field == "ip_allow_cidrs"
        with pytest.raises(ValidationError, match="lock you out"):
            update_policy(s, tenant.id, {"ip_deny_cidrs": ["203.0.113.0/24"]}, saver_ip="203.0.113.9")
        ok = update_policy(s, tenant.id, {"ip_allow_cidrs": ["203.0.113.0/24"]}, saver_ip="203.0.113.9")
        assert ok.ip_allow_cidrs == ["203.0.113.0/24"]


def test_a_platform_admin_reads_and_resets_any_organizations_policy(
    client: TestClient, tenant: Tenant, platform_admin: tuple[User, dict[str, str]]
) -> None:
    _, root = platform_admin
    client.put("/api/dnc/policy", json={"ip_deny_cidrs": ["0.0.0.0/0"]}, headers=tenant.headers("org_admin"))
    assert client.get("/api/dnc/policy", headers=root).status_code == 422  # must name the organization
    read = client.get(f"/api/dnc/policy?org_id={tenant.id}", headers=root)
    assert read.status_code == 200, read.text
    assert read.json()["ip_deny_cidrs"] == ["0.0.0.0/0"]
    reset = client.delete(f"/api/dnc/policy?org_id={tenant.id}", headers=root)
    assert reset.status_code == 200 and reset.json()["ip_deny_cidrs"] == []
    assert client.get("/api/dnc/policy", headers=tenant.headers("org_admin")).json()["ip_deny_cidrs"] == []


def test_the_cli_resets_a_locked_out_organizations_policy(runtime: Runtime, tenant: Tenant) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:
        update_policy(s, tenant.id, {"ip_deny_cidrs": ["0.0.0.0/0"]}, saver_ip=None)
    result = CliRunner().invoke(
        main, ["dnc", "policy", "reset", "--org", tenant.org.slug], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    with runtime.db.session(Scope(tenant.id)) as s:
        assert read_policy(s, tenant.id).ip_deny_cidrs == []
