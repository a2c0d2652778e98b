"""Console sessions over HTTP (no browser): the cookie, the CSRF rule, the shared login throttle/audit."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlalchemy import select

from api import login_throttle
from core.db import ALL_ORGS
from core.models import AuditEntry
from tests.conftest import PASSWORD, Tenant


def _login_token(client: TestClient) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in as the browser would; returns the session's CSRF token from the next page."""
    token = _login_token(client)
    response = client.post(
        "/console/login",
        data={"email": email, "password": password, "next": "/console"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["hx-redirect"] == "/console"
    home = client.get("/console")
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text)
    assert match, home.text[:500]
    return match.group(1)


def test_root_redirects_to_the_console_and_the_console_to_its_login_page(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/console"
        response = client.get("/console", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")


def test_login_sets_an_httponly_samesite_strict_session_cookie(app, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        token = _login_token(client)
        response = client.post(
            "/console/login",
            data={"email": tenant.users["manager"].email, "password": PASSWORD},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("clearline_session=")
        )
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert "Secure" not in cookie  # plain http on loopback; https adds it


def test_a_state_changing_console_request_without_the_csrf_token_is_refused(app, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        csrf = login(client, tenant.users["manager"].email)
        refused = client.post("/console/logout", headers={"HX-Request": "true"})
        assert refused.status_code == 403
        assert "CSRF" in refused.text
        wrong = client.post("/console/logout", headers={"X-CSRF-Token": "x" + csrf})
        assert wrong.status_code == 403
        assert client.get("/console").status_code == 200  # still logged in
        assert client.post("/console/logout", headers={"X-CSRF-Token": csrf}).status_code in (200, 303)


def test_a_login_post_without_the_login_form_token_is_refused(app, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        response = client.post(
            "/console/login", data={"email": tenant.users["manager"].email, "password": PASSWORD}
        )
        assert response.status_code == 403
        assert "clearline_session" not in response.headers.get("set-cookie", "")


def test_logout_ends_the_session_on_the_server(app, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        csrf = login(client, tenant.users["manager"].email)
        stolen = client.cookies.get("clearline_session")
        client.post("/console/logout", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    with TestClient(app=app) as thief:
        thief.cookies.set("clearline_session", stolen or "")
        assert thief.get("/console", follow_redirects=False).status_code == 303


def test_console_login_shares_the_api_throttle_and_audit(app, runtime, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    email = tenant.users["agent"].email
    failures = login_throttle.FREE_FAILURES + 1  # the last one makes this address wait 2 s
    with TestClient(app=app) as client:
        for _ in range(failures):
            token = _login_token(client)
            bad = client.post(
                "/console/login",
                data={"email": email, "password": "wrong"},
                headers={"X-CSRF-Token": token, "HX-Request": "true"},
            )
            assert bad.status_code == 401
            assert "Wrong email or password" in bad.text
        # the API's token login from the same address must now wait too: one counter, one rule
        api = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert api.status_code == 429
    with runtime.db.session(ALL_ORGS) as s:
        denied = s.scalars(
            select(AuditEntry).where(AuditEntry.target == email, AuditEntry.outcome == "denied")
        ).all()
    assert len(denied) == failures


def test_the_api_docs_page_loads_its_scripts_from_this_server(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app=app) as client:
        html = client.get("/schema").text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html[:300]
        assert all(s.startswith("/console/static/") for s in sources), sources
        for s in sources:
            assert client.get(s).status_code == 200, s
