"""Issue 16, audit log: every change is audited whichever path made it (API, CLI, job, engine), with who,
before/after (never secrets), organization and outcome; the database refuses to change or delete it,
except for the retention job. (Reading it, filtered and paged: tests/test_audit_log.py.)"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core import audit
from core.audit_context import Actor, acting_as
from core.db import ALL_ORGS, Scope
from core.models import AuditEntry
from core.runtime import Runtime
from dialer.models import TrunkAlarm
from dnc.internal import add_internal_dnc
from tests.conftest import PASSWORD, Tenant, job_worker, wait_job


def _rows(runtime: Runtime, org_id: uuid.UUID | None, action: str) -> list[AuditEntry]:
    with runtime.db.session(ALL_ORGS) as s:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if org_id is not None:
            query = query.where(AuditEntry.org_id == org_id)
        return list(s.scalars(query))


def test_an_api_change_is_audited_with_before_after_who_and_process(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    manager = tenant.users["manager"]
    made = client.post("/api/campaigns", json={"name": "Audited", "caller_id": "+12025550199"},
                       headers=tenant.headers("manager"))  # fmt: skip
    assert made.status_code == 201, made.text
    changed = client.patch(f"/api/campaigns/{made.json()['id']}", json={"max_cps": 5, "wrap_up_s": 45},
                           headers=tenant.headers("manager"))  # fmt: skip
    assert changed.status_code == 200, changed.text
    [created] = [r for r in _rows(runtime, tenant.id, "campaign.created") if made.json()["id"] in r.target]
    assert created.actor == manager.email and created.user_id == manager.id and created.process == "api"
    assert created.detail["after"]["name"] == "Audited"
    [updated] = [r for r in _rows(runtime, tenant.id, "campaign.updated") if made.json()["id"] in r.target]
    assert updated.detail["before"] == {"max_cps": None, "wrap_up_s": 30}
    assert updated.detail["after"] == {"max_cps": 5.0, "wrap_up_s": 45}
    assert "updated_at" not in updated.detail["after"]  # bookkeeping is not a change


def test_a_password_change_is_audited_without_the_hash(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    agent = tenant.users["agent"]
    r = client.patch(f"/api/users/{agent.id}", json={"password": "a new and long passphrase 7"},
                     headers=tenant.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    rows = [x for x in _rows(runtime, tenant.id, "user.updated") if str(agent.id) in x.target]
    assert rows and rows[-1].detail.get("secrets_changed") == ["password_hash"]
    assert rows[-1].actor == tenant.users["org_admin"].email
    everything = " ".join(str(x.detail) for x in _rows(runtime, tenant.id, "user.created") + rows)
    assert "argon2" not in everything and "password_hash" not in str(rows[-1].detail.get("after"))


def test_engine_opt_outs_and_alarms_are_audited_naming_the_process(runtime: Runtime, tenant: Tenant) -> None:
    with runtime.db.session(Scope(tenant.id)) as s:  # as the engine does it: no user, no request
        add_internal_dnc(s, e164="+12025550177", campaign_id=None, source="opt_out_key", reason="pressed 9",
                         added_by=None)  # fmt: skip
        s.add(TrunkAlarm(org_id=tenant.id, trunk="carrier-a", kind="trunk_failure", reason="503 x10"))
    [opt_out] = _rows(runtime, tenant.id, "dnc.internal_entry.created")
    assert (
        opt_out.detail["after"]["e164"] == "+12025550177"
        and opt_out.detail["after"]["source"] == "opt_out_key"
    )
    assert opt_out.actor == "" and opt_out.process  # the connection's application name
    [alarm] = _rows(runtime, tenant.id, "alarm.created")
    assert alarm.detail["after"]["reason"] == "503 x10" and alarm.outcome == "ok"


def _clearline(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clearline.cli", *args], cwd=repo_root, capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())  # fmt: skip


def test_cli_commands_and_their_changes_are_audited_with_outcome(runtime: Runtime, repo_root: Path) -> None:
    name = f"Cli Audit {uuid.uuid4().hex[:6]}"
    made = _clearline(repo_root, "create-org", name)
    assert made.returncode == 0, made.stderr
    org_id = uuid.UUID(made.stdout.strip())
    email = f"cli-audit-{uuid.uuid4().hex[:6]}@example.com"
    user = _clearline(repo_root, "create-user", "--email", email, "--role", "manager", "--org", name,
                      "--password", PASSWORD)  # fmt: skip
    assert user.returncode == 0, user.stderr
    again = _clearline(repo_root, "create-org", name)  # the name is taken: the command fails
    assert again.returncode != 0
    who = f"cli:{getpass.getuser()}"
    [org_row] = _rows(runtime, org_id, "organization.created")
    assert (org_row.actor, org_row.process) == (who, "cli create-org")
    [user_row] = [r for r in _rows(runtime, org_id, "user.created") if r.detail["after"]["email"] == email]
    assert (user_row.actor, user_row.process) == (who, "cli create-user")
    assert "password_hash" not in user_row.detail["after"]
    commands = [r for r in _rows(runtime, None, "cli.create-user") if r.at > org_row.at]
    assert commands and commands[-1].outcome == "ok" and commands[-1].actor == who
    assert "--password" in commands[-1].detail["options"] and PASSWORD not in str(commands[-1].detail)
    failed = [r for r in _rows(runtime, None, "cli.create-org") if r.at > org_row.at]
    assert failed and failed[-1].outcome == "error"


@pytest.fixture(scope="module")
def dnc_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    with job_worker("dnc") as worker:
        yield worker


def test_a_bulk_import_job_writes_one_summary_row_as_the_job_of_its_user(
    client: TestClient, runtime: Runtime, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    body = "".join(f"20255502{i:02d}\n" for i in range(40)).encode()
    r = client.post("/api/dnc/imports", params={"kind": "internal"}, content=body,
                    headers={**tenant.headers("compliance"), "content-type": "text/plain"})  # fmt: skip
    assert r.status_code == 202, r.text
    job = wait_job(client, tenant.headers("compliance"), r.json()["job_id"])
    assert job["status"] == "succeeded", job
    [summary] = _rows(runtime, tenant.id, "dnc.internal_entry.imported")
    assert summary.detail["rows"] == 40
    assert summary.process == f"job {job['kind']} {job['id']}"
    assert summary.actor == tenant.users["compliance"].email
    assert _rows(runtime, tenant.id, "dnc.internal_entry.created") == []  # not 40 rows of their own
    finished = [x for x in _rows(runtime, tenant.id, "job.updated") if job["id"] in x.target]
    assert any(x.detail["after"].get("status") == "succeeded" for x in finished)


def test_the_audit_log_cannot_be_changed_or_deleted_except_by_retention(
    runtime: Runtime, tenant: Tenant
) -> None:
    old = datetime(2000, 1, 1, tzinfo=UTC)
    with runtime.db.session(ALL_ORGS) as s:
        s.add(AuditEntry(org_id=tenant.id, action="test.ancient", target="t", at=old))
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"), runtime.db.session(ALL_ORGS) as s:
            s.execute(text(statement + (" WHERE org_id = :o" if "TRUNCATE" not in statement else "")),
                      {"o": tenant.id} if "TRUNCATE" not in statement else {})  # fmt: skip
    assert len(_rows(runtime, tenant.id, "test.ancient")) == 1
    with runtime.db.session(ALL_ORGS) as s:
        assert audit.purge_before(s, datetime(2001, 1, 1, tzinfo=UTC)) >= 1
    assert _rows(runtime, tenant.id, "test.ancient") == []
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.session(ALL_ORGS) as s:
        s.execute(text("DELETE FROM audit_log WHERE org_id = :o"), {"o": tenant.id})  # the setting ended


def test_actor_context_reaches_rows_written_by_the_database(runtime: Runtime, tenant: Tenant) -> None:
    with acting_as(Actor(actor="ops@example.com", process="test-script", client_ip="198.51.100.4")), \
            runtime.db.session(Scope(tenant.id)) as s:  # fmt: skip
        add_internal_dnc(
            s, e164="+12025550178", campaign_id=None, source="compliance", reason="", added_by=None
        )
    [row] = [r for r in _rows(runtime, tenant.id, "dnc.internal_entry.created")
             if r.detail["after"]["e164"] == "+12025550178"]  # fmt: skip
    assert (row.actor, row.process, str(row.client_ip)) == ("ops@example.com", "test-script", "198.51.100.4")
