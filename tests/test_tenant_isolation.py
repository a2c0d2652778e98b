"""Every route in the OpenAPI document, walked with another organization's token and with every role
that should not reach it. New routes are covered automatically: an unknown path parameter fails here."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from core.models import Role
from tests.conftest import Tenant, make_tenant
from tests.tenancy_samples import BODIES, World

ORG_ROLES = [r.value for r in Role if r is not Role.PLATFORM_ADMIN]
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def _operations(app: Litestar) -> list[tuple[str, str, Any]]:
    ops = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        for method, entry in route.route_handler_map.items():
            handler = entry[0] if isinstance(entry, tuple) else entry
            if method in ("HEAD", "OPTIONS") or handler.opt.get("console"):
                continue  # console pages: walked by tests/console/test_console_access.py
            ops.append((method, route.path_format, handler))
    return ops


def _schema_example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _schema_example(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _schema_example(options[0], components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _schema_example(props[k], components) for k in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2026-01-01T12:00:00Z"
    if fmt == "email":
        return "nobody@example.com"
    return "x"


def _request_kwargs(openapi: dict[str, Any], method: str, path: str, world: World) -> dict[str, Any]:
    override = BODIES.get((method, path))
    if override is not None:
        body = override(world) if callable(override) else override
        return body if isinstance(body, dict) and ("files" in body or "data" in body) else {"json": body}
    op = openapi["paths"].get(path, {}).get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    components = openapi.get("components", {}).get("schemas", {})
    if "application/json" in content:
        return {"json": _schema_example(content["application/json"]["schema"], components)}
    if "multipart/form-data" in content:
        return {"files": {"file": ("sample.csv", b"phone\n2025550143\n", "text/csv")}}
    return {}


@pytest.fixture(scope="module")
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return World(owner=make_tenant(runtime))


@pytest.fixture(scope="module")
def intruder(runtime) -> Tenant:  # type: ignore[no-untyped-def]
    return make_tenant(runtime)


def test_every_route_is_in_the_openapi_document_and_declares_who_may_call_it(
    app: Litestar, client: TestClient
) -> None:
    openapi = client.get("/schema/openapi.json").json()
    for method, path, handler in _operations(app):
        assert method.lower() in openapi["paths"].get(path, {}), f"{method} {path} missing from OpenAPI"
        assert handler.opt.get("public") or handler.opt.get("roles") is not None, (
            f"{method} {path} declares neither roles nor public"
        )


def test_public_routes_are_only_the_known_ones(app: Litestar) -> None:
    public = {(m, p) for m, p, h in _operations(app) if h.opt.get("public")}
    allowed_public_prefixes = ("/api/health", "/api/auth/", "/api/certs/")  # x5u certificates are public
    # /metrics has its own gate, a scrape token or network (tests/test_metrics.py refuses the rest)
    assert all(p.startswith(allowed_public_prefixes) or p == "/metrics" for _, p in public), public


def test_every_private_route_refuses_a_request_without_a_token(
    app: Litestar, client: TestClient, world: World
) -> None:
    for method, path, handler in _operations(app):
        if handler.opt.get("public"):
            continue
        url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
        assert client.request(method, url).status_code == 401, f"{method} {path}"


def test_every_route_refuses_roles_that_should_not_reach_it(
    app: Litestar, client: TestClient, world: World
) -> None:
    openapi = client.get("/schema/openapi.json").json()
    checked = 0
    for method, path, handler in _operations(app):
        if handler.opt.get("public"):
            continue
        allowed = set(handler.opt["roles"])
        url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
        for role in ORG_ROLES:
            if role in allowed:
                continue
            r = client.request(
                method,
                url,
                headers=world.owner.headers(role),
                **_request_kwargs(openapi, method, path, world),
            )
            assert r.status_code == 403, f"{role} reached {method} {path}: {r.status_code} {r.text[:200]}"
            checked += 1
    assert checked > 0


def test_another_organization_cannot_reach_or_see_anything_of_ours(
    app: Litestar, client: TestClient, world: World, intruder: Tenant
) -> None:
    openapi = client.get("/schema/openapi.json").json()
    probes = []
    for method, path, handler in _operations(app):
        allowed = [r for r in ORG_ROLES if r in handler.opt.get("roles", ())]
        if handler.opt.get("public") or not allowed:
            continue  # platform-admin-only routes: every org role is already refused above
        probes.append((method, path, allowed[0]))
    # Collections first, before the intruder's own probes below put our ids into its audit log.
    for path in {p for m, p, _ in probes if m == "GET" and not PARAM.search(p)}:
        role = next(r for m, p, r in probes if m == "GET" and p == path)
        for param in ("org_id", "user_id", "job_id"):
            world.sample(param)
        owner_ids = {
            str(world.owner.org.id),
            *(str(u.id) for u in world.owner.users.values()),
            *world.cache.values(),
        }
        r = client.get(path, headers=intruder.headers(role))
        assert r.status_code < 500, f"GET {path}: {r.status_code}"
        leaked = [i for i in owner_ids if i in r.text]
        assert not leaked, f"GET {path} showed another organization's ids {leaked}"
    for method, path, role in probes:
        if not PARAM.search(path):
            continue
        url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
        r = client.request(
            method, url, headers=intruder.headers(role), **_request_kwargs(openapi, method, path, world)
        )
        assert r.status_code in (403, 404), (
            f"intruder {role} got {r.status_code} on {method} {path}: {r.text[:200]}"
        )
