"""The dnc HTTP API end to end: uploads become jobs run by a real dramatiq worker, scrub-report CSVs,
internal DNC from agents, and the IP firewall in front of authentication (including spoofed XFF)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dramatiq
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from core.db import Scope
from core.models import AuditEntry
from core.runtime import Runtime
from tests.conftest import Tenant, job_worker, run_outside_event_loop, wait_job

AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dnc_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    with job_worker("dnc") as worker:
        yield worker


def upload(client: TestClient, tenant: Tenant, body: bytes, **params: str) -> dict[str, Any]:
    r = client.post(
        "/api/dnc/imports",
        params=params,
        content=body,
        headers={**tenant.headers("compliance"), "content-type": "text/plain"},
    )
    assert r.status_code == 202, r.text
    return wait_job(client, tenant.headers("compliance"), r.json()["job_id"])


def test_uploaded_registry_becomes_a_version_and_blocks_its_numbers(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    job = upload(
        client,
        tenant,
        b"202,5550143\n2025550144\n",
        kind="national",
        obtained_at=AT.isoformat(),
        filename="ftc.txt",
    )
    assert job["status"] == "succeeded", job
    assert job["result"]["record_count"] == 2
    # The organization's own lists: other tests' platform-wide registry copies are visible to every org.
    lists = [
        x
        for x in client.get("/api/dnc/lists", headers=tenant.headers("agent")).json()
        if not x["platform_wide"]
    ]
    assert [(x["kind"], x["version"], x["source_file"]) for x in lists] == [("national", 1, "ftc.txt")]
    r = client.post(
        "/api/dnc/check",
        json={"numbers": ["+12025550143", "+12025550145"], "at": AT.isoformat()},
        headers=tenant.headers("agent"),
    )
    assert [v["reasons"] for v in r.json()] == [["national_dnc"], []]


def test_malformed_upload_fails_the_job_with_line_numbers(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    job = upload(client, tenant, b"2025550143\nnope\n", kind="national")
    assert job["status"] == "failed"
    assert "line 2" in job["error"]
    own = [
        x
        for x in client.get("/api/dnc/lists", headers=tenant.headers("agent")).json()
        if not x["platform_wide"]
    ]
    assert own[0]["version"] is None


def test_agent_opt_out_is_refused_at_the_next_check(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    upload(client, tenant, b"2125550100\n", kind="national", obtained_at=AT.isoformat())
    body = {"numbers": ["(202) 555-0177"], "at": AT.isoformat()}
    assert (
        client.post("/api/dnc/check", json=body, headers=tenant.headers("agent")).json()[0]["verdict"]
        == "callable"
    )
    r = client.post(
        "/api/dnc/internal",
        json={"e164": "+12025550177", "reason": "asked not to be called", "source": "agent"},
        headers=tenant.headers("agent"),
    )
    assert r.status_code == 201, r.text
    assert client.post("/api/dnc/check", json=body, headers=tenant.headers("agent")).json()[0]["reasons"] == [
        "internal_dnc"
    ]
    entries = client.get(
        "/api/dnc/internal", params={"e164": "+12025550177"}, headers=tenant.headers("compliance")
    )
    assert entries.json()[0]["added_by"] == str(tenant.users["agent"].id)


def test_scrub_report_csv_has_a_row_per_number_and_neutralises_formulas(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    upload(client, tenant, b"2025550143\n", kind="national", obtained_at=AT.isoformat())
    leads = 'phone,lead_id,state\n202-555-0143,L1,DC\n(202) 555-0150,=HYPERLINK("x"),DC\ngarbage,L3,\n'
    r = client.post(
        "/api/dnc/scrub-reports",
        params={"at": AT.isoformat()},
        content=leads.encode(),
        headers={**tenant.headers("compliance"), "content-type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    report = r.json()
    assert wait_job(client, tenant.headers("compliance"), str(report["job_id"]))["status"] == "succeeded"
    got = client.get(report["csv_url"], headers=tenant.headers("compliance"))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [(r["e164"], r["verdict"], r["reasons"]) for r in rows] == [
        ("+12025550143", "blocked", "national_dnc"),
        ("+12025550150", "callable", ""),
        ("", "blocked", "invalid_number:unparseable"),
    ]
    assert rows[1]["lead_id"] == '\'=HYPERLINK("x")'
    assert rows[0]["registry_version"].startswith("1@") and rows[0]["time_zones"] == "America/New_York"
    status = client.get(f"/api/dnc/scrub-reports/{report['id']}", headers=tenant.headers("compliance")).json()
    assert status["counts"] == {"total": 3, "callable": 1, "blocked": 2, "invalid": 1, "invalid_input": 0}


def test_a_scrub_report_for_a_campaign_applies_its_window_and_geo_rules_and_a_bad_cell_blocks_only_its_row(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    from tests.engine.factories import make_campaign

    upload(client, tenant, b"2025550999\n", kind="national", obtained_at=AT.isoformat())
    campaign = make_campaign(
        tenant.runtime,
        tenant.id,
        active=False,
        settings={"calling_window_start": "11:00", "calling_window_end": "18:00", "blocked_states": ["NV"]},
    )
    # 15:00 UTC is 10:00 in New York: inside the law's window, before the campaign's own.
    leads = "phone,state,consent\n2025550143,DC,yes\n7025550143,,none\n2025550150,DC,maybe\n"
    r = client.post(
        "/api/dnc/scrub-reports",
        params={"at": AT.isoformat(), "campaign_id": str(campaign.id)},
        content=leads.encode(),
        headers={**tenant.headers("compliance"), "content-type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    report = r.json()
    assert wait_job(client, tenant.headers("compliance"), str(report["job_id"]))["status"] == "succeeded"
    rows = list(
        csv.DictReader(io.StringIO(client.get(report["csv_url"], headers=tenant.headers("compliance")).text))
    )
    assert [(r["row"], r["reasons"]) for r in rows] == [
        ("2", "outside_campaign_window"),  # consent=yes is express consent, as lead import maps it
        ("3", "state_blocked outside_federal_window outside_campaign_window"),  # 07:00 in Nevada
        ("4", "invalid_input:row 4: consent='maybe': not one of none, express, express_written"),
    ]
    checked = client.post(
        "/api/dnc/check",
        json={"numbers": ["2025550143", "7025550143"], "at": AT.isoformat(), "campaign_id": str(campaign.id)},
        headers=tenant.headers("compliance"),
    ).json()
    assert [v["reasons"] for v in checked] == [
        ["outside_campaign_window"],
        ["state_blocked", "outside_federal_window", "outside_campaign_window"],
    ]
    other = client.post(
        "/api/dnc/check",
        json={"numbers": ["2025550143"], "campaign_id": "00000000-0000-0000-0000-000000000001"},
        headers=tenant.headers("compliance"),
    )
    assert other.status_code == 404


# ------------------------------------------------------------------------------------- IP firewall


class Recorder:
    """The application behind the firewall: records whether a request got through, and its body."""

    def __init__(self) -> None:
        self.reached = 0
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached += 1
        more = True
        while more:
            message = await receive()
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class FakeApp:
    def __init__(self, runtime: Runtime) -> None:
        self.state = type("State", (), {"runtime": runtime})()


def call_through_firewall(
    runtime: Runtime,
    tenant: Tenant | None,
    peer: str,
    xff: str | None = None,
    *,
    login_body: bytes | None = None,
    recorder: Recorder | None = None,
) -> tuple[int, int]:
    """One request through the firewall (a token of `tenant`, or a login POST with `login_body`)."""

    from api.firewall import IPFirewallMiddleware

    inner = recorder or Recorder()
    statuses: list[int] = []
    headers = [] if tenant is None else [(b"authorization", f"Bearer {tenant.token('agent')}".encode())]
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    method, path = ("POST", "/api/auth/login") if login_body is not None else ("GET", "/api/dnc/lists")
    scope = {"type": "http", "method": method, "path": path, "headers": headers,
             "client": (peer, 40000), "app": FakeApp(runtime)}  # fmt: skip
    pieces = [login_body[:5], login_body[5:]] if login_body else [b""]

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def receive() -> dict[str, Any]:
        chunk = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}

    run_outside_event_loop(IPFirewallMiddleware(inner), scope, receive, send)
    return statuses[0], inner.reached


def set_policy(client: TestClient, tenant: Tenant, **policy: list[str]) -> None:
    r = client.put("/api/dnc/policy", json=policy, headers=tenant.headers("org_admin"))
    assert r.status_code == 200, r.text


def test_firewall_denies_and_allows_by_cidr_and_audits_refusals(
    runtime: Runtime, client: TestClient, tenant: Tenant
) -> None:
    set_policy(client, tenant, ip_allow_cidrs=["198.51.100.0/24"], ip_deny_cidrs=["198.51.100.66/32"])
    assert call_through_firewall(runtime, tenant, "198.51.100.7") == (200, 1)
    assert call_through_firewall(runtime, tenant, "198.51.100.66") == (403, 0)
    assert call_through_firewall(runtime, tenant, "203.0.113.9") == (403, 0)
    # The test client itself ("testclient", not an IP address) is now refused by the real application too.
    assert client.get("/api/audit", headers=tenant.headers("compliance")).status_code == 403
    with runtime.db.session(Scope(tenant.id)) as s:
        blocks = s.scalars(select(AuditEntry).where(AuditEntry.action == "ip_firewall.block")).all()
        assert {str(b.client_ip) for b in blocks if b.client_ip} == {"198.51.100.66", "203.0.113.9"}
        assert {b.detail["rule"] for b in blocks} >= {"deny 198.51.100.66/32", "not in the allow list"}


def test_firewall_allowed_countries_use_offline_ip_data(
    runtime: Runtime, client: TestClient, tenant: Tenant
) -> None:
    set_policy(client, tenant, ip_allowed_countries=["US"])
    assert call_through_firewall(runtime, tenant, "8.8.8.8") == (200, 1)  # US per iptocc
    assert call_through_firewall(runtime, tenant, "10.1.2.3") == (403, 0)  # private: no country


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    runtime: Runtime, client: TestClient, tenant: Tenant
) -> None:
    set_policy(client, tenant, ip_allow_cidrs=["198.51.100.0/24"])
    # A client that is not a proxy cannot claim an allowed address.
    assert call_through_firewall(runtime, tenant, "203.0.113.9", xff="198.51.100.7") == (403, 0)
    proxied = replace(runtime, settings=replace(runtime.settings, trusted_proxies=("192.0.2.10/32",)))
    assert call_through_firewall(proxied, tenant, "192.0.2.10", xff="198.51.100.7") == (200, 1)
    # Through the trusted proxy, a client-supplied left-most hop does not override the real client.
    assert call_through_firewall(proxied, tenant, "192.0.2.10", xff="198.51.100.7, 203.0.113.9") == (403, 0)


def test_firewall_rules_of_one_organization_do_not_touch_another(
    runtime: Runtime, client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    set_policy(client, tenant, ip_deny_cidrs=["0.0.0.0/0"])
    assert call_through_firewall(runtime, other_tenant, "203.0.113.9") == (200, 1)
    assert call_through_firewall(runtime, tenant, "203.0.113.9") == (403, 0)


def test_policy_rejects_bad_cidrs_naming_the_field(client: TestClient, tenant: Tenant) -> None:
    r = client.put(
        "/api/dnc/policy", json={"ip_deny_cidrs": ["10.0.0.0/8", "banana"]}, headers=tenant.headers()
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "ip_deny_cidrs[1]"


def test_check_limits_batch_size(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/dnc/check", json={"numbers": ["+12025550143"] * 1001}, headers=tenant.headers("agent")
    )
    assert r.status_code == 422


def test_state_list_and_change_list_upload_through_the_api(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    assert upload(client, tenant, b"2145550100\n", kind="state", state="TX")["status"] == "succeeded"
    job = upload(
        client, tenant, b"2145550101,A\n2145550100,D\n", kind="state", state="TX", change_list="true"
    )
    assert job["status"] == "succeeded", job
    assert (job["result"]["added"], job["result"]["deleted"], job["result"]["seq"]) == (1, 1, 2)
    refused = client.post(
        "/api/dnc/imports", params={"kind": "state"}, content=b"2145550100\n",
        headers={**tenant.headers("compliance"), "content-type": "text/plain"},
    )  # fmt: skip
    assert wait_job(client, tenant.headers("compliance"), refused.json()["job_id"])["error"].startswith(
        "a state list needs --state"
    )


def test_login_is_firewalled_by_the_organization_of_the_account_it_names(
    runtime: Runtime, client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    set_policy(client, tenant, ip_deny_cidrs=["203.0.113.0/24"])
    ours = json.dumps({"email": tenant.users["agent"].email.upper(), "password": "x"}).encode()
    theirs = json.dumps({"email": other_tenant.users["agent"].email, "password": "x"}).encode()
    assert call_through_firewall(runtime, None, "203.0.113.9", login_body=ours) == (403, 0)
    recorder = Recorder()
    assert call_through_firewall(runtime, None, "198.51.100.7", login_body=ours, recorder=recorder) == (
        200,
        1,
    )
    assert recorder.body == ours  # the application still receives the whole body
    assert call_through_firewall(runtime, None, "203.0.113.9", login_body=theirs) == (200, 1)
    assert call_through_firewall(runtime, None, "203.0.113.9", login_body=b"not json") == (200, 1)


def test_upload_obtained_in_the_future_is_refused_before_any_job(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/dnc/imports",
        params={"kind": "national", "obtained_at": "2999-01-01T00:00:00Z"},
        content=b"2025550143\n",
        headers={**tenant.headers("compliance"), "content-type": "text/plain"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "in the future" in r.json()["detail"]


def test_upload_shrinking_a_list_by_more_than_half_fails_until_replace_smaller_is_sent(
    client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker
) -> None:
    fifty = "".join(f"20255501{i:02d}\n" for i in range(50)).encode()
    assert upload(client, tenant, fifty, kind="national", obtained_at=AT.isoformat())["status"] == "succeeded"
    job = upload(client, tenant, b"2025550100\n2025550101\n", kind="national", obtained_at=AT.isoformat())
    assert job["status"] == "failed" and "replace_smaller" in job["error"], job
    job = upload(
        client,
        tenant,
        b"2025550100\n2025550101\n",
        kind="national",
        obtained_at=AT.isoformat(),
        replace_smaller="true",
    )
    assert job["status"] == "succeeded" and job["result"]["record_count"] == 2, job
