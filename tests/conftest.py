"""Test fixtures: one real PostgreSQL and Redis per test session (embedded unless DATABASE_URL/REDIS_URL
are set), migrated once; every test makes its own organizations, so tests never see each other's data."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from litestar.testing import TestClient

from core.db import ALL_ORGS
from core.models import Organization, Role, User
from core.runtime import Runtime, set_runtime
from core.security import issue_token
from core.settings import load_settings

PASSWORD = "correct horse battery staple"

# Chosen when pytest imports this file, before any test module is collected: a module that starts a
# runtime at import (importing core.broker declares actors against Redis) then joins this private home
# instead of ./.clearline. atexit runs last-registered first, so this removal runs after the servers stop.
# mkdtemp makes it 0700; as root, core.embedded lets embedded PostgreSQL's own system user pass through
# (core.home: 0710, group root), so the tests run with the data dir as private as a real one.
TEST_HOME = Path(tempfile.mkdtemp(prefix="clearline-test-"))
os.environ["CLEARLINE_HOME"] = str(TEST_HOME)
os.environ["CLEARLINE_DAILY_RETENTION"] = "0"  # tests run retention with their own clock (test_retention.py)
atexit.register(shutil.rmtree, TEST_HOME, True)


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    settings = load_settings()
    rt = Runtime.start(settings)
    from core.migrations import upgrade

    upgrade(rt.database_url)
    set_runtime(rt)
    yield rt
    set_runtime(None)
    rt.db.dispose()


@pytest.fixture(scope="session")
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(runtime)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as c:
        yield c


@dataclass
class Tenant:
    """An organization with one user per role, and ready-made auth headers for each."""

    runtime: Runtime
    org: Organization
    users: dict[str, User] = field(default_factory=dict)

    @property
    def id(self) -> uuid.UUID:
        return self.org.id

    def token(self, role: str) -> str:
        user = self.users[role]
        return issue_token(
            self.runtime.settings.secret_key,
            user_id=user.id,
            org_id=user.org_id,
            role=role,
            kind="access",
            ttl_s=600,
        )

    def headers(self, role: str = "org_admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


def make_tenant(
    runtime: Runtime, name: str | None = None, *, unknown_line_type: str = "not_wireless"
) -> Tenant:
    """An organization with one user per role. Its numbers of unknown line type count as not wireless
    (the organization setting) unless the test asks for the product's fail-closed default
    (`unknown_line_type="wireless"`): most tests' leads carry no line type and test other rules."""
    from core.accounts import create_org, create_user
    from dnc.models import CompliancePolicy

    name = name or f"org-{uuid.uuid4().hex[:10]}"
    with runtime.db.session(ALL_ORGS) as s:
        org = create_org(s, name)
        if unknown_line_type != "wireless":
            s.add(CompliancePolicy(org_id=org.id, unknown_line_type=unknown_line_type))
        tenant = Tenant(runtime=runtime, org=org)
        for role in (Role.ORG_ADMIN, Role.MANAGER, Role.AGENT, Role.COMPLIANCE):
            tenant.users[role.value] = create_user(
                s,
                email=f"{role.value}.{uuid.uuid4().hex[:8]}@{org.slug}.example",
                password=PASSWORD,
                role=role,
                org_id=org.id,
            )
    return tenant


def _forget_failed_logins_per_address(runtime: Runtime) -> None:
    """Every test client logs in from the same address ("testclient", 127.0.0.1), so failed logins of
    earlier tests would add up to the per-address spraying limit (30 in the window) and throttle a later
    test's first login: each test starts from an address with no failures, as a new client would."""
    for key in runtime.redis.scan_iter("clearline:login:ip:*"):
        runtime.redis.delete(key)


@pytest.fixture
def tenant(runtime: Runtime) -> Tenant:
    _forget_failed_logins_per_address(runtime)
    return make_tenant(runtime)


@pytest.fixture
def other_tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime)


@pytest.fixture(scope="session")
def platform_admin_user(runtime: Runtime) -> User:
    from core.accounts import create_user

    with runtime.db.session(ALL_ORGS) as s:
        return create_user(
            s,
            email=f"root.{uuid.uuid4().hex[:8]}@platform.example",
            password=PASSWORD,
            role=Role.PLATFORM_ADMIN,
            org_id=None,
        )


@pytest.fixture
def platform_admin(runtime: Runtime, platform_admin_user: User) -> tuple[User, dict[str, str]]:
    """The platform admin and fresh auth headers (tokens are short-lived; sessions of tests are not)."""
    token = issue_token(
        runtime.settings.secret_key,
        user_id=platform_admin_user.id,
        org_id=None,
        role="platform_admin",
        kind="access",
        ttl_s=600,
    )
    return platform_admin_user, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@contextmanager
def job_worker(queue: str) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker on the real Redis broker, consuming one queue while the block runs."""
    import clearline.actors  # noqa: F401 - declares every actor on the broker
    from core.broker import broker

    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_job(
    client: TestClient, headers: dict[str, str], job_id: str, timeout_s: float = 60
) -> dict[str, Any]:
    """Poll GET /api/jobs/{id} as a user would until the job ends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def run_outside_event_loop(func: Any, *args: Any) -> Any:
    """`anyio.run(func, *args)` on a thread of its own: the console tests' session-wide Playwright (sync API)
    keeps an event loop running on the main thread, where a second loop cannot start."""
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, func, *args).result()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: their session-wide Playwright keeps an event loop on the main thread, and their
    sandbox floors import platform-wide registry copies that every later test would also see."""
    items.sort(key=lambda item: "/tests/console/" in str(item.path))
