"""Who the client is, as the real `clearline up` process sees it: X-Forwarded-For counts only from
CLEARLINE_TRUSTED_PROXIES (empty here), so a header cannot open the IP firewall, dodge the login throttle
or forge the audit IP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from core.db import ALL_ORGS
from core.models import AuditEntry
from core.runtime import Runtime
from tests.conftest import PASSWORD, Tenant
from tests.test_clearline_up import _free_port


@pytest.fixture(scope="module")
def live_api(runtime: Runtime, repo_root: Path) -> Iterator[str]:
    """`clearline up` (API only) as its own process on this test session's database and Redis."""
    port = _free_port()
    env = os.environ.copy()
    env.pop("CLEARLINE_TRUSTED_PROXIES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "up", "--port", str(port), "--no-workers", "--no-dialer"],
        cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # answering at all: with --no-workers health is 503 (no job worker is alive)
                if httpx.get(f"{base}/api/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError("clearline up did not come up")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)


def test_forwarded_for_from_a_local_peer_does_not_open_the_ip_firewall(
    live_api: str, client: TestClient, tenant: Tenant
) -> None:
    r = client.put("/api/dnc/policy", json={"ip_allow_cidrs": ["203.0.113.0/24"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    headers = tenant.headers("agent")
    assert httpx.get(f"{live_api}/api/users/me", headers=headers).status_code == 403
    spoofed = {**headers, "X-Forwarded-For": "203.0.113.7"}
    assert httpx.get(f"{live_api}/api/users/me", headers=spoofed).status_code == 403


def test_failed_logins_with_rotating_forwarded_for_are_throttled_and_audited_with_the_real_peer(
    live_api: str, runtime: Runtime, tenant: Tenant
) -> None:
    email = tenant.users["agent"].email
    statuses = []
    for i in range(35):
        r = httpx.post(
            f"{live_api}/api/auth/login",
            json={"email": email, "password": f"wrong password {i}"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
        )
        statuses.append(r.status_code)
    assert 429 in statuses[:8], statuses
    with runtime.db.session(ALL_ORGS) as s:
        ips = s.scalars(
            select(AuditEntry.client_ip).where(AuditEntry.target == email, AuditEntry.action == "auth.login")
        ).all()
    assert ips and {str(ip) for ip in ips} == {"127.0.0.1"}


def test_a_refresh_from_a_refused_address_issues_no_tokens(
    live_api: str, client: TestClient, tenant: Tenant
) -> None:
    login = client.post("/api/auth/login", json={"email": tenant.users["agent"].email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    r = client.put("/api/dnc/policy", json={"ip_allow_cidrs": ["203.0.113.0/24"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    body = {"refresh_token": login.json()["refresh_token"]}
    for headers in ({}, {"X-Forwarded-For": "203.0.113.7"}):
        r = httpx.post(f"{live_api}/api/auth/refresh", json=body, headers=headers)
        assert r.status_code == 403 and "access_token" not in r.text
