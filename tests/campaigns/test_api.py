"""The campaigns HTTP API end to end: streamed uploads become import jobs run by a real dramatiq worker,
lists are paused and purged, leads searched and exported, calls disposed and callbacks scheduled."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from litestar.testing import TestClient

from campaigns.attempts import finish_attempt, record_progress, start_attempt
from campaigns.hopper import lease_leads
from core.public_ids import public_lead_id
from core.runtime import Runtime
from tests.conftest import Tenant, job_worker, wait_job
from tests.dialable import make_dialable

CSV = b"phone,first_name,state\n(202) 555-0143,Ann,DC\n2025550144,=cmd|' /C calc'!A0,TX\n555-0100,Bad,TX\n"


@pytest.fixture(scope="module")
def campaigns_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    with job_worker("campaigns") as worker:
        yield worker


def new_campaign(client: TestClient, tenant: Tenant, **settings: Any) -> dict[str, Any]:
    body = {"name": f"Renewals {time.monotonic_ns()}", "caller_id": "+12025550199", **settings}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def upload(client: TestClient, tenant: Tenant, campaign_id: str, content: bytes, **form: str) -> Any:
    return client.post(
        f"/api/campaigns/{campaign_id}/lead-lists",
        files={"file": ("leads.csv", content, "text/csv")},
        data=form,
        headers=tenant.headers("manager"),
    )


def test_campaign_settings_are_validated_and_the_campaign_started_and_paused(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    make_dialable(runtime, tenant.id)
    campaign = new_campaign(client, tenant, calling_window_start="09:00", calling_window_end="18:00")
    assert campaign["status"] == "draft" and campaign["settings"]["calling_window_start"] == "09:00"
    url = f"/api/campaigns/{campaign['id']}"
    bad = client.patch(url, json={"abandon_target": 0.05}, headers=tenant.headers("manager"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "abandon_target"
    bad = client.patch(
        url,
        json={"recycle_rules": {"busy": {"delay_s": -5, "max_attempts": 2}}},
        headers=tenant.headers("manager"),
    )
    assert bad.status_code == 422 and "busy" in bad.json()["detail"]
    ok = client.patch(
        url, json={"blocked_states": ["FL", "OK"], "max_cps": 5}, headers=tenant.headers("manager")
    )
    assert ok.json()["settings"]["blocked_states"] == ["FL", "OK"]
    assert client.post(f"{url}/start", headers=tenant.headers("manager")).json()["status"] == "active"
    assert client.post(f"{url}/pause", headers=tenant.headers("manager")).json()["status"] == "paused"
    agent = str(tenant.users["agent"].id)
    assert client.put(
        f"{url}/agents", json={"agent_ids": [agent]}, headers=tenant.headers("manager")
    ).json() == [agent]
    codes = [d["code"] for d in client.get(f"{url}/dispositions", headers=tenant.headers("agent")).json()]
    assert {"SALE", "DNC", "CALLBACK"} <= set(codes)
    assert client.delete(url, headers=tenant.headers("manager")).status_code == 409  # not a draft any more
    draft = new_campaign(client, tenant)
    assert (
        client.delete(f"/api/campaigns/{draft['id']}", headers=tenant.headers("manager")).status_code == 204
    )
    assert client.get(f"/api/campaigns/{draft['id']}", headers=tenant.headers("manager")).status_code == 404


def test_an_uploaded_file_is_imported_by_the_worker_and_its_leads_searchable_and_exportable(
    client: TestClient, tenant: Tenant, campaigns_worker: dramatiq.Worker
) -> None:
    campaign = new_campaign(client, tenant)
    r = upload(client, tenant, campaign["id"], CSV, name="Spring list")
    assert r.status_code == 202, r.text
    job = wait_job(client, tenant.headers("manager"), r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"total": 3, "imported": 2, "duplicates": 0, "invalid": 1, "blocked": 0}
    list_id = r.json()["list_id"]
    lead_list = client.get(f"/api/lead-lists/{list_id}", headers=tenant.headers("manager")).json()
    assert (lead_list["name"], lead_list["has_error_report"]) == ("Spring list", True)
    errors = client.get(f"/api/lead-lists/{list_id}/errors", headers=tenant.headers("manager"))
    assert list(csv.reader(io.StringIO(errors.text)))[1][:2] == ["4", "phone"]
    assert errors.headers["content-type"].startswith("text/csv")
    # Kept in the shared file store, so every API host serves it; the importing host keeps no copy.
    assert tenant.runtime.files.exists(f"reports/lead-errors/{tenant.id}/{list_id}.csv")
    assert not list(tenant.runtime.settings.home.joinpath("lead-files").glob(f"{list_id}*"))

    leads = client.get(
        f"/api/campaigns/{campaign['id']}/leads",
        params={"phone": "202-555-0143"},
        headers=tenant.headers("manager"),
    ).json()
    assert [x["first_name"] for x in leads] == ["Ann"]
    export = client.get(f"/api/campaigns/{campaign['id']}/leads/export", headers=tenant.headers("compliance"))
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [x["first_name"] for x in rows] == ["Ann", "'=cmd|' /C calc'!A0"]
    assert rows[0]["phone_e164"] == "+12025550143"

    again = upload(client, tenant, campaign["id"], CSV)
    assert again.status_code == 409 and list_id in again.json()["detail"]


def test_paused_lists_are_not_leased_and_deleted_lists_are_purged(
    client: TestClient, tenant: Tenant, runtime: Runtime, campaigns_worker: dramatiq.Worker
) -> None:
    make_dialable(runtime, tenant.id)
    campaign = new_campaign(client, tenant)
    started = client.post(f"/api/campaigns/{campaign['id']}/start", headers=tenant.headers("manager"))
    assert started.status_code == 200, started.text
    r = upload(client, tenant, campaign["id"], CSV)
    assert wait_job(client, tenant.headers("manager"), r.json()["job_id"])["status"] == "succeeded"
    list_id, campaign_id = r.json()["list_id"], campaign["id"]
    client.post(f"/api/lead-lists/{list_id}/pause", headers=tenant.headers("manager"))
    now = datetime.now(UTC)
    assert lease_leads(runtime.db, campaign_id, 10, now, holder="t", lease_s=5) == []  # type: ignore[arg-type]
    client.post(f"/api/lead-lists/{list_id}/resume", headers=tenant.headers("manager"))
    leased = lease_leads(runtime.db, campaign_id, 10, now, holder="t", lease_s=5)  # type: ignore[arg-type]
    assert len(leased) == 2
    attempt_id = start_attempt(runtime.db, leased[0].lead_id, holder="t", placed_at=now)
    finish_attempt(runtime.db, attempt_id, outcome="busy", ended_at=now)
    purge = client.delete(f"/api/lead-lists/{list_id}", headers=tenant.headers("manager"))
    assert purge.status_code == 202
    assert wait_job(client, tenant.headers("manager"), purge.json()["job_id"])["counts"] == {"deleted": 2}
    assert client.get(f"/api/lead-lists/{list_id}", headers=tenant.headers("manager")).status_code == 404
    leads = client.get(f"/api/campaigns/{campaign_id}/leads", headers=tenant.headers("manager")).json()
    assert leads == []
    evidence = client.get(f"/api/call-attempts/{attempt_id}", headers=tenant.headers("compliance"))
    assert evidence.json()["outcome"] == "busy"  # the call's record outlives its lead


def test_uploads_over_the_size_limit_are_refused_and_nothing_is_kept(
    runtime: Runtime, tenant: Tenant
) -> None:
    from api.app import create_app
    from campaigns.jobs import lead_files_dir

    small = Runtime(
        settings=replace(runtime.settings, max_upload_bytes=1000),
        database_url=runtime.database_url,
        redis_url=runtime.redis_url,
    )
    before = set(lead_files_dir(runtime).iterdir())
    with TestClient(app=create_app(small)) as small_client:
        campaign = new_campaign(small_client, tenant)
        r = upload(small_client, tenant, campaign["id"], b"phone\n" + b"2025550143\n" * 200)
        assert r.status_code == 413, r.text
        assert upload(small_client, tenant, campaign["id"], b"").status_code == 422
        not_multipart = small_client.post(
            f"/api/campaigns/{campaign['id']}/lead-lists",
            content=b"phone\n",
            headers=tenant.headers("manager"),
        )
        assert not_multipart.status_code == 422
    assert set(lead_files_dir(runtime).iterdir()) == before


def test_agents_dispose_calls_schedule_callbacks_and_see_attempt_history(
    client: TestClient, tenant: Tenant, runtime: Runtime, campaigns_worker: dramatiq.Worker
) -> None:
    make_dialable(runtime, tenant.id)
    campaign = new_campaign(client, tenant)
    started = client.post(f"/api/campaigns/{campaign['id']}/start", headers=tenant.headers("manager"))
    assert started.status_code == 200, started.text
    r = upload(client, tenant, campaign["id"], b"phone\n2025550143\n2025550144\n")
    assert wait_job(client, tenant.headers("manager"), r.json()["job_id"])["status"] == "succeeded"
    now = datetime.now(UTC)
    first, second = lease_leads(runtime.db, campaign["id"], 2, now, holder="d1", lease_s=60)
    agent = tenant.users["agent"]
    attempt_id = start_attempt(runtime.db, first.lead_id, holder="d1", placed_at=now, trunk="sim")
    record_progress(runtime.db, attempt_id, answered_at=now, agent_connected_at=now, agent_id=agent.id)
    finish_attempt(runtime.db, attempt_id, outcome="human", ended_at=now + timedelta(minutes=1))

    later = (now + timedelta(days=1)).isoformat()
    r = client.post(
        f"/api/call-attempts/{attempt_id}/disposition",
        json={"code": "CALLBACK", "callback_at": later, "same_agent": True},
        headers=tenant.headers("agent"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["callback_agent_id"]) == ("callback", str(agent.id))
    history = client.get(
        f"/api/leads/{public_lead_id(first.lead_id)}/attempts", headers=tenant.headers("agent")
    ).json()
    assert [(a["outcome"], a["disposition"], a["agent_id"]) for a in history] == [
        ("human", "CALLBACK", str(agent.id))
    ]

    client.post(
        f"/api/leads/{public_lead_id(second.lead_id)}/callback",
        json={"at": later},
        headers=tenant.headers("manager"),
    )  # leased: refused
    release = client.post(
        f"/api/leads/{public_lead_id(second.lead_id)}/callback",
        json={"at": later},
        headers=tenant.headers("manager"),
    )
    assert release.status_code == 409
    mine = client.get(
        f"/api/campaigns/{campaign['id']}/callbacks", params={"mine": "true"}, headers=tenant.headers("agent")
    ).json()
    assert [x["id"] for x in mine] == [public_lead_id(first.lead_id)]

    dnc = client.post(
        f"/api/call-attempts/{attempt_id}/disposition", json={"code": "DNC"}, headers=tenant.headers("agent")
    )
    assert dnc.json()["status"] == "done"
    check = client.post(
        "/api/dnc/check", json={"numbers": [first.e164]}, headers=tenant.headers("compliance")
    )
    assert check.status_code == 200, check.text
    assert "internal_dnc" in check.text
