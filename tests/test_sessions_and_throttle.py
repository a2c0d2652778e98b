"""Issue 18, items 2 and 3: guessing is slowed per (account, address) and nobody can lock anyone out;
sessions rotate their refresh tokens, end on logout, and every token dies when the user's password,
role or status changes. Role and organization come from the database, not the token."""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from api import login_throttle
from api.auth import login_user
from core.accounts import account_state
from core.db import ALL_ORGS, utcnow
from core.errors import AuthenticationError, TooManyRequestsError
from core.models import AuditEntry, AuthSession
from core.runtime import Runtime
from core.security import issue_token
from tests.conftest import PASSWORD, Tenant, run_outside_event_loop


def _address() -> str:
    """A fresh client address per call (198.18.0.0/15 is for tests), so tests never share a counter."""
    return f"198.{random.randint(18, 19)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _login(runtime: Runtime, email: str, password: str, ip: str) -> str:
    """'ok', '401' or '429' for one login through the one login function."""
    try:
        run_outside_event_loop(login_user, runtime, email, password, ip)
    except AuthenticationError:
        return "401"
    except TooManyRequestsError:
        return "429"
    return "ok"


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _pair(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    pair: dict[str, str] = r.json()
    return pair


def _refresh(client: TestClient, token: str) -> int:
    return client.post("/api/auth/refresh", json={"refresh_token": token}).status_code


# ------------------------------------------------------------------------------------- throttling


def test_delays_grow_per_account_and_address_and_the_real_user_still_logs_in_from_elsewhere(
    runtime: Runtime, tenant: Tenant
) -> None:
    email, attacker = tenant.users["agent"].email, _address()
    for _ in range(login_throttle.FREE_FAILURES + 1):
        assert _login(runtime, email, "wrong password!", attacker) == "401"
    assert _login(runtime, email, PASSWORD, attacker) == "429"
    assert _login(runtime, email, PASSWORD, _address()) == "ok"
    assert [login_throttle.pair_delay_s(n) for n in range(3, 8)] == [0, 2, 4, 8, 16]
    assert login_throttle.pair_delay_s(50) == login_throttle.MAX_DELAY_S


def test_spelling_variants_of_an_email_share_one_counter(runtime: Runtime, tenant: Tenant) -> None:
    email, ip = tenant.users["agent"].email, _address()
    variants = [f" {email}", f"{email} ", f"\t{email.upper()}", email]
    for variant in variants:
        assert _login(runtime, variant, "wrong password!", ip) == "401"
    assert _login(runtime, f"  {email}\n", "wrong password!", ip) == "429"


def test_a_burst_on_one_account_slows_it_down_never_locks_it_and_raises_an_alarm(
    runtime: Runtime, tenant: Tenant
) -> None:
    email = tenant.users["manager"].email
    for _ in range(login_throttle.BURST_FAILURES + 2):  # every guess from a new address
        assert _login(runtime, email, "wrong password!", _address()) == "401"
    started = time.monotonic()
    assert _login(runtime, email, PASSWORD, _address()) == "ok", "a burst must never lock the account"
    assert time.monotonic() - started >= login_throttle.account_slowdown_s(login_throttle.BURST_FAILURES + 2)
    with runtime.db.session(ALL_ORGS) as s:
        alarms = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "security.login_burst", AuditEntry.target == email)
        ).all()
    assert len(alarms) == 1 and alarms[0].org_id == tenant.id and alarms[0].outcome == "alarm"


def test_one_address_spraying_many_accounts_is_refused(runtime: Runtime) -> None:
    ip = _address()
    for _ in range(login_throttle.MAX_FAILURES_PER_IP):
        assert _login(runtime, f"{uuid.uuid4().hex}@nowhere.example", "wrong password!", ip) == "401"
    assert _login(runtime, f"{uuid.uuid4().hex}@nowhere.example", "wrong password!", ip) == "429"


def test_an_over_long_password_is_a_failed_login_not_a_megabyte_to_hash(
    runtime: Runtime, tenant: Tenant
) -> None:
    assert _login(runtime, tenant.users["agent"].email, "x" * 1_000_000, _address()) == "401"


# ------------------------------------------------------------------------------- tokens, sessions


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_whole_session(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    first = _pair(client, tenant.users["manager"].email)
    r = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert _me(client, second["access_token"]) == 200
    assert _refresh(client, first["refresh_token"]) == 401, "a spent refresh token must not work twice"
    # The reuse ended the family: the thief's and the user's newer tokens are all dead now.
    assert _refresh(client, second["refresh_token"]) == 401
    assert _me(client, second["access_token"]) == 401
    with runtime.db.session(ALL_ORGS) as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "security.refresh_reuse",
                                                  AuditEntry.user_id == tenant.users["manager"].id)).all()  # fmt: skip


def test_refreshing_never_extends_a_session_past_its_login_lifetime(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    pair = _pair(client, tenant.users["manager"].email)
    sid = uuid.UUID(jwt.decode(pair["refresh_token"], options={"verify_signature": False})["sid"])
    ends = utcnow() + timedelta(seconds=30)
    with runtime.db.session(ALL_ORGS) as s:
        session = s.get(AuthSession, sid)
        assert session is not None
        session.expires_at = ends
    r = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    new_exp = jwt.decode(r.json()["refresh_token"], options={"verify_signature": False})["exp"]
    assert new_exp <= ends.timestamp() + 1


def test_logout_ends_the_sessions_tokens_at_once_and_all_sessions_ends_every_one(
    client: TestClient, tenant: Tenant
) -> None:
    email = tenant.users["compliance"].email
    phone, laptop = _pair(client, email), _pair(client, email)
    auth = {"Authorization": f"Bearer {phone['access_token']}"}
    assert client.post("/api/auth/logout", headers=auth).status_code == 204
    assert _me(client, phone["access_token"]) == 401
    assert _refresh(client, phone["refresh_token"]) == 401
    assert _me(client, laptop["access_token"]) == 200, "logging out one device leaves the others"
    desk = _pair(client, email)
    r = client.post(
        "/api/auth/logout",
        json={"all_sessions": True},
        headers={"Authorization": f"Bearer {desk['access_token']}"},
    )
    assert r.status_code == 204
    assert _me(client, laptop["access_token"]) == 401 and _refresh(client, laptop["refresh_token"]) == 401
    assert _me(client, desk["access_token"]) == 401


@pytest.mark.parametrize(
    "change",
    [{"password": "a new passphrase for 2027"}, {"role": "compliance"}, {"is_active": False}],
    ids=["password", "role", "deactivation"],
)
def test_a_change_of_password_role_or_status_voids_every_old_token(
    client: TestClient, tenant: Tenant, change: dict[str, object]
) -> None:
    user = tenant.users["manager"]
    pair = _pair(client, user.email)
    r = client.patch(f"/api/users/{user.id}", json=change, headers=tenant.headers("org_admin"))
    assert r.status_code == 200, r.text
    assert _me(client, pair["access_token"]) == 401
    assert _refresh(client, pair["refresh_token"]) == 401


def test_reactivating_a_user_does_not_revive_old_tokens(client: TestClient, tenant: Tenant) -> None:
    user, admin = tenant.users["agent"], tenant.headers("org_admin")
    pair = _pair(client, user.email)
    assert client.delete(f"/api/users/{user.id}", headers=admin).status_code == 204
    assert client.patch(f"/api/users/{user.id}", json={"is_active": True}, headers=admin).status_code == 200
    assert _me(client, pair["access_token"]) == 401 and _refresh(client, pair["refresh_token"]) == 401
    assert _me(client, _pair(client, user.email)["access_token"]) == 200


def test_a_demoted_org_admin_cannot_use_the_old_token_to_create_an_org_admin(
    client: TestClient, tenant: Tenant
) -> None:
    admin = tenant.headers("org_admin")
    second = client.post(
        "/api/users",
        json={"email": f"second.{uuid.uuid4().hex[:6]}@x.example", "password": PASSWORD, "role": "org_admin"},
        headers=admin,
    ).json()
    old = _pair(client, second["email"])
    assert (
        client.patch(f"/api/users/{second['id']}", json={"role": "agent"}, headers=admin).status_code == 200
    )
    r = client.post(
        "/api/users",
        json={"email": f"evil.{uuid.uuid4().hex[:6]}@x.example", "password": PASSWORD, "role": "org_admin"},
        headers={"Authorization": f"Bearer {old['access_token']}"},
    )
    assert r.status_code == 401


def test_role_and_organization_are_read_from_the_database_not_the_token(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    agent = tenant.users["agent"]
    # Even a validly signed token that claims more than the database grants gets only what it grants.
    forged = issue_token(runtime.settings.secret_key, user_id=agent.id, org_id=other_tenant.id, role="org_admin",
                         kind="access", ttl_s=600)  # fmt: skip
    headers = {"Authorization": f"Bearer {forged}"}
    assert client.get("/api/users", headers=headers).status_code == 403
    me = client.get("/api/users/me", headers=headers).json()
    assert me["role"] == "agent" and me["org_id"] == str(tenant.id)
    state = account_state(runtime.db, agent.id)
    assert state is not None and state.org_id == tenant.id
