"""Every console page and fragment, walked like the API's routes are in tests/test_tenant_isolation.py:
without a session it leads to the login page, a role it does not name gets the 403 page, and another
organization's objects are the 404 page. New console routes are covered automatically."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from api.console.sessions import SESSION_COOKIE
from core.models import Role, User
from tests.conftest import Tenant, make_tenant
from tests.console.conftest import console_session
from tests.tenancy_samples import World

PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
ORG_ROLES = [r.value for r in Role if r is not Role.PLATFORM_ADMIN]


def console_operations(app: Litestar) -> list[tuple[str, str, Any]]:
    ops = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, entry in route.route_handler_map.items():
            handler = entry[0] if isinstance(entry, tuple) else entry
            if method in ("HEAD", "OPTIONS") or not handler.opt.get("console") or handler.opt.get("public"):
                continue
            ops.append((method, route.path_format, handler))
    assert len(ops) > 10, ops  # the walk found the console
    return ops


def session_client(app: Litestar, user: User) -> tuple[TestClient, str]:
    client = TestClient(app=app)
    token, csrf = console_session(app.state.runtime, user)
    client.cookies.set(SESSION_COOKIE, token)
    return client, csrf


@pytest.fixture(scope="module")
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    return World(owner=make_tenant(runtime))


@pytest.fixture(scope="module")
def intruder(runtime) -> Tenant:  # type: ignore[no-untyped-def]
    return make_tenant(runtime)


def _call(client: TestClient, method: str, url: str, csrf: str = "") -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return client.request(method, url, headers=headers, follow_redirects=False)


def test_every_console_page_without_a_session_leads_to_the_login_page(app: Litestar, world: World) -> None:
    with TestClient(app=app) as client:
        for method, path, _ in console_operations(app):
            url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
            response = _call(client, method, url)
            assert response.status_code == 303, f"{method} {path}: {response.status_code}"
            assert response.headers["location"].startswith("/console/login"), f"{method} {path}"


def test_every_console_page_refuses_the_roles_it_does_not_name_with_the_403_page(
    app: Litestar, world: World
) -> None:
    clients = {role: session_client(app, world.owner.users[role]) for role in ORG_ROLES}
    checked = 0
    for method, path, handler in console_operations(app):
        url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
        for role in ORG_ROLES:
            if role in handler.opt["roles"]:
                continue
            client, csrf = clients[role]
            response = _call(client, method, url, csrf)
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
            assert "text/html" in response.headers["content-type"], f"{method} {path}"
            assert "Not allowed" in response.text
            checked += 1
    assert checked > 20


def test_every_console_page_shows_another_organizations_objects_as_the_404_page(
    app: Litestar, world: World, intruder: Tenant
) -> None:
    clients = {role: session_client(app, intruder.users[role]) for role in ORG_ROLES}
    checked = 0
    for method, path, handler in console_operations(app):
        if not PARAM.search(path):
            continue
        url = PARAM.sub(lambda m: world.sample(m.group(1)), path)
        role = next((r for r in ("manager", "org_admin", "compliance", "agent") if r in handler.opt["roles"]), None)
        if role is None:  # platform admins only: every organization role gets the 403 page (walked above)
            continue
        client, csrf = clients[role]
        response = _call(client, method, url, csrf)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text[:200]}"
        assert "text/html" in response.headers["content-type"]
        checked += 1
    assert checked >= 10
