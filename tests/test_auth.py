"""Login, refresh, throttling, and the token attacks that must all end in 401."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import TestClient
from sqlalchemy import select

from api import login_throttle
from core.db import ALL_ORGS
from core.models import AuditEntry
from core.runtime import Runtime
from core.security import issue_token, token_key
from tests.conftest import PASSWORD, Tenant


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(tenant: Tenant, user_role: str = "org_admin", **over: object) -> dict:
    user = tenant.users[user_role]
    role = user_role
    now = int(time.time())
    claims = {
        "iss": "clearline",
        "sub": str(user.id),
        "org": str(tenant.id),
        "role": role,
        "typ": "access",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(over)
    return claims


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_login_returns_tokens_that_open_the_api_and_refresh_works(client: TestClient, tenant: Tenant) -> None:
    email = tenant.users["manager"].email
    r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["role"] == "manager" and pair["org_id"] == str(tenant.id)
    assert _me(client, pair["access_token"]) == 200
    # a refresh token is not an access token
    assert _me(client, pair["refresh_token"]) == 401
    r2 = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r2.status_code == 200
    assert _me(client, r2.json()["access_token"]) == 200
    # an access token is not a refresh token
    assert client.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]}).status_code == 401


def test_wrong_password_is_401_and_repeated_failures_from_one_address_are_throttled_and_audited(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    email = tenant.users["agent"].email
    for _ in range(login_throttle.FREE_FAILURES + 1):
        r = client.post("/api/auth/login", json={"email": email, "password": "wrong password!"})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 429, "the right password must not get through from the guessing address"
    assert int(r.headers["retry-after"]) > 0
    with runtime.db.session(ALL_ORGS) as s:
        denied = s.scalars(
            select(AuditEntry).where(AuditEntry.target == email, AuditEntry.outcome == "denied")
        )
        assert len(list(denied)) == login_throttle.FREE_FAILURES + 1


def test_unknown_user_login_is_401_not_404(client: TestClient) -> None:
    r = client.post(
        "/api/auth/login", json={"email": f"{uuid.uuid4().hex}@nowhere.example", "password": "x" * 12}
    )
    assert r.status_code == 401


def test_alg_none_token_is_rejected(client: TestClient, tenant: Tenant) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(tenant))}."
    assert _me(client, token) == 401


def test_tampered_signature_and_payload_are_rejected(client: TestClient, tenant: Tenant) -> None:
    good = tenant.token("agent")
    head, payload, sig = good.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    assert _me(client, f"{head}.{payload}.{flipped}") == 401
    elevated = _b64(_claims(tenant, "agent", role="platform_admin"))
    assert _me(client, f"{head}.{elevated}.{sig}") == 401


def test_expired_token_is_rejected(client: TestClient, tenant: Tenant, runtime: Runtime) -> None:
    user = tenant.users["agent"]
    token = issue_token(
        runtime.settings.secret_key,
        user_id=user.id,
        org_id=tenant.id,
        role="agent",
        kind="access",
        ttl_s=60,
        now=time.time() - 3600,
    )
    assert _me(client, token) == 401


def test_token_signed_with_another_key_is_rejected(client: TestClient, tenant: Tenant) -> None:
    token = jwt.encode(_claims(tenant), token_key("some other server's secret"), algorithm="HS256")
    assert _me(client, token) == 401


def test_asymmetric_and_hs_confusion_tokens_are_rejected(client: TestClient, tenant: Tenant) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _me(client, jwt.encode(_claims(tenant), rsa_key, algorithm="RS256")) == 401
    # classic confusion: HS256 keyed with a public key the attacker knows
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = jwt.encode(_claims(tenant), public_pem.decode()[:64], algorithm="HS384")
    assert _me(client, forged) == 401


def test_deactivated_users_tokens_stop_working_at_once(client: TestClient, tenant: Tenant) -> None:
    token = tenant.token("agent")
    assert _me(client, token) == 200
    user_id = tenant.users["agent"].id
    r = client.delete(f"/api/users/{user_id}", headers=tenant.headers("org_admin"))
    assert r.status_code == 204, r.text
    assert _me(client, token) == 401


def test_agent_cannot_promote_itself_and_org_admin_cannot_mint_platform_admins(
    client: TestClient, tenant: Tenant
) -> None:
    agent_id = tenant.users["agent"].id
    assert (
        client.patch(
            f"/api/users/{agent_id}", json={"role": "org_admin"}, headers=tenant.headers("agent")
        ).status_code
        == 403
    )
    r = client.post(
        "/api/users",
        headers=tenant.headers("org_admin"),
        json={"email": "boss@x.example", "password": PASSWORD, "role": "platform_admin"},
    )
    assert r.status_code == 403
