"""Issue 18, item 10: every request the probe turned into a 500 is a 4xx problem naming the value, and
a login while PostgreSQL or Redis is down is a 503."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from core.runtime import Runtime
from tests.conftest import PASSWORD, Tenant

PROBLEM = "application/problem+json"


def _is_problem(r, status: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    for word in words:
        assert word in r.json()["detail"], r.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/auth/login", {"email": "victim\u0000@x.example", "password": "x"}),
        ("POST", "/api/auth/login", {"email": "victim@x.example", "password": "pass\u0000word"}),
        ("POST", "/api/auth/refresh", {"refresh_token": "a\u0000b"}),
        ("PATCH", "/api/orgs/{org}", {"name": "Acme\u0000"}),
        (
            "POST",
            "/api/users",
            {"email": "a@b.example", "password": PASSWORD, "role": "agent", "display_name": "x\u0000"},
        ),
        ("POST", "/api/dnc/internal", {"numbers": ["+1202555\u00000101"]}),
        ("POST", "/api/campaigns", {"name": "c\u0000"}),
        ("POST", "/api/attestation/numbers", {"first": "+12025550100", "label": "\u0000"}),
    ],
)
def test_a_nul_character_in_any_json_string_is_a_400_naming_the_field(
    client: TestClient, tenant: Tenant, method: str, path: str, body: dict[str, object]
) -> None:
    r = client.request(method, path.format(org=tenant.id), json=body, headers=tenant.headers())
    _is_problem(r, 400, "NUL")


def test_a_nul_character_in_a_path_or_query_is_a_400(client: TestClient, tenant: Tenant) -> None:
    _is_problem(client.get("/api/dnc/lists?x=%00", headers=tenant.headers()), 400, "NUL")
    _is_problem(client.get("/api/dnc/scrub-reports/x%00y", headers=tenant.headers()), 400, "NUL")


@pytest.mark.parametrize(
    "url",
    [
        "/api/leads/9223372036854775808",
        "/api/leads/-9223372036854775809",
        "/api/attestation/numbers?offset=9223372036854775808",
        "/api/campaigns/{campaign}/leads?after_id=99999999999999999999",
    ],
)
def test_integers_beyond_64_bits_in_paths_and_queries_are_a_400(
    client: TestClient, tenant: Tenant, url: str
) -> None:
    campaign = client.post(
        "/api/campaigns", json={"name": f"c-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    )
    r = client.get(url.format(campaign=campaign.json()["id"]), headers=tenant.headers())
    _is_problem(r, 400, "64-bit")


def test_a_setting_beyond_its_column_is_a_422_naming_it(client: TestClient, tenant: Tenant) -> None:
    campaign = client.post(
        "/api/campaigns", json={"name": f"c-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    )
    r = client.patch(f"/api/campaigns/{campaign.json()['id']}", json={"max_lines": 99999999999},
                     headers=tenant.headers())  # fmt: skip
    _is_problem(r, 422, "max_lines")


def test_a_date_at_year_one_is_a_400_naming_the_field(client: TestClient, tenant: Tenant) -> None:
    r = client.post("/api/dnc/check", json={"numbers": ["+12025550101"], "at": "0001-01-01T00:00:00Z"},
                    headers=tenant.headers())  # fmt: skip
    _is_problem(r, 400, "body.at", "1900")


def test_organizations_whose_names_make_the_same_short_name_both_exist(
    client: TestClient, platform_admin: tuple[object, dict[str, str]]
) -> None:
    _, headers = platform_admin
    base = f"Acme {uuid.uuid4().hex[:6]}"
    first = client.post("/api/orgs", json={"name": f"{base} Inc"}, headers=headers)
    second = client.post("/api/orgs", json={"name": f"{base}-inc"}, headers=headers)
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["slug"] != second.json()["slug"]
    assert second.json()["slug"].startswith(first.json()["slug"])


@pytest.fixture
def down_client(app, runtime: Runtime) -> Iterator[callable]:  # type: ignore[no-untyped-def,valid-type]
    """The real application with its runtime pointed at a database or Redis that does not answer."""
    clients = []

    def make(**urls: str) -> TestClient:
        app.state.runtime = dataclasses.replace(runtime, **urls)
        c = TestClient(app=app)
        clients.append(c)
        return c

    try:
        yield make
    finally:
        app.state.runtime = runtime


@pytest.mark.parametrize(
    "urls",
    [
        {"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
        {"redis_url": "redis://127.0.0.1:1/0"},
    ],
    ids=["postgresql-down", "redis-down"],
)
def test_login_while_the_database_or_redis_is_down_is_a_503(
    down_client,
    tenant: Tenant,
    urls: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    r = down_client(**urls).post(
        "/api/auth/login", json={"email": tenant.users["agent"].email, "password": PASSWORD}
    )
    _is_problem(r, 503, "unavailable")
    assert int(r.headers["retry-after"]) > 0
