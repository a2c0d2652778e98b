"""Issue 16, accounts: TOTP MFA (enrol, confirm, recovery codes, login with the code, no replay, failed
codes throttled, an organization's policy, an admin's reset), and passwords changed by the user or reset
by an org admin, both ending the user's other sessions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pyotp
from litestar.testing import TestClient
from sqlalchemy import select

from core import mfa
from core.db import ALL_ORGS
from core.models import RecoveryCode, User
from core.runtime import Runtime
from tests.conftest import PASSWORD, Tenant


def _login(client: TestClient, email: str, password: str = PASSWORD, totp: str | None = None) -> Any:
    body: dict[str, Any] = {"email": email, "password": password}
    if totp is not None:
        body["totp"] = totp
    return client.post("/api/auth/login", json=body)


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {pair['access_token']}"}


def _code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def _enrol(client: TestClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    started = client.post("/api/users/me/mfa", headers=headers)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = client.post("/api/users/me/mfa/confirm", json={"code": _code(secret)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def test_accepted_step_refuses_other_steps_and_replays() -> None:
    secret = pyotp.random_base32()
    now = datetime(2026, 12, 2, 14, 0, 10, tzinfo=UTC)
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    assert mfa.accepted_step(secret, totp.at(now), now=now, last_step=None) == step
    assert mfa.accepted_step(secret, totp.generate_otp(step + 1), now=now, last_step=step) == step + 1  # drift
    assert mfa.accepted_step(secret, totp.at(now), now=now, last_step=step) is None  # replay
    assert mfa.accepted_step(secret, totp.generate_otp(step - 2), now=now, last_step=None) is None  # too old
    assert mfa.accepted_step(secret, "12345", now=now, last_step=None) is None
    assert mfa.accepted_step(secret, "abcdef", now=now, last_step=None) is None


def test_enrol_confirm_and_every_login_needs_a_fresh_code_or_an_unused_recovery_code(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    user = tenant.users["manager"]
    headers = tenant.headers("manager")
    started = client.post("/api/users/me/mfa", headers=headers)
    assert started.status_code == 201, started.text
    secret, uri = started.json()["secret"], started.json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/Clearline:") and f"secret={secret}" in uri
    assert client.get("/api/users/me/mfa", headers=headers).json()["enabled"] is False
    assert _login(client, user.email).status_code == 200  # not on before confirmation
    wrong = client.post("/api/users/me/mfa/confirm", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    confirmed = client.post("/api/users/me/mfa/confirm", json={"code": _code(secret)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    status = client.get("/api/users/me/mfa", headers=headers).json()
    assert status == {"enabled": True, "required": False, "recovery_codes_left": 10}
    with runtime.db.session(ALL_ORGS) as s:  # kept encrypted and hashed, never as given
        stored = s.get(User, user.id)
        assert stored is not None and stored.mfa_secret and secret not in stored.mfa_secret
        hashes = s.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        assert len(hashes) == 10 and not set(hashes) & set(recovery)

    missing = _login(client, user.email)
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["type"].endswith("/mfa_required") and missing.json()["code"] == "mfa_required"
    assert _login(client, user.email, "wrong password!", totp=_code(secret, 1)).status_code == 401
    code = _code(secret, 1)  # the confirmation spent the current step
    ok = _login(client, user.email, totp=code)
    assert ok.status_code == 200, ok.text
    assert client.get("/api/users/me", headers=_bearer(ok.json())).status_code == 200
    replay = _login(client, user.email, totp=code)
    assert replay.status_code == 401 and replay.json().get("code") != "mfa_required"
    assert _login(client, user.email, totp=recovery[0]).status_code == 200
    assert _login(client, user.email, totp=recovery[0]).status_code == 401  # one use each
    assert _login(client, user.email, totp=recovery[1].upper().replace("-", " ")).status_code == 200
    assert client.get("/api/users/me/mfa", headers=headers).json()["recovery_codes_left"] == 8
    assert client.post("/api/users/me/mfa", headers=headers).status_code == 409  # already on


def test_failed_codes_count_in_the_login_throttle(client: TestClient, tenant: Tenant) -> None:
    user = tenant.users["compliance"]
    secret, _ = _enrol(client, tenant.headers("compliance"))
    answers = [_login(client, user.email, totp="000000").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 401]
    throttled = _login(client, user.email, totp=_code(secret, 1))  # even the right code waits now
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_an_org_admin_requires_mfa_for_roles_and_users_enrol_before_their_first_login(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"/api/orgs/{tenant.id}/mfa-policy"
    assert client.put(url, json={"required_roles": ["agent"]}, headers=tenant.headers("agent")).status_code == 403
    bad = client.put(url, json={"required_roles": ["pilot"]}, headers=tenant.headers())
    assert bad.status_code == 422 and "pilot" in bad.text
    other = client.put(f"/api/orgs/{other_tenant.id}/mfa-policy", json={"required_roles": ["agent"]},
                       headers=tenant.headers())  # fmt: skip
    assert other.status_code in (403, 404)
    r = client.put(url, json={"required_roles": ["agent", "manager"]}, headers=tenant.headers())
    assert r.status_code == 200 and r.json() == {"required_roles": ["agent", "manager"]}
    assert client.get(url, headers=tenant.headers()).json() == {"required_roles": ["agent", "manager"]}

    agent = tenant.users["agent"]
    refused = _login(client, agent.email)
    assert refused.status_code == 401 and refused.json()["code"] == "mfa_enrolment_required"
    assert _login(client, tenant.users["compliance"].email).status_code == 200  # not a required role
    creds = {"email": agent.email, "password": PASSWORD}
    assert client.post("/api/auth/mfa/enrol", json={**creds, "password": "not it at all"}).status_code == 401
    started = client.post("/api/auth/mfa/enrol", json=creds)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = client.post("/api/auth/mfa/confirm", json={**creds, "code": _code(secret)})
    assert confirmed.status_code == 200 and len(confirmed.json()["recovery_codes"]) == 10
    assert _login(client, agent.email).json()["code"] == "mfa_required"
    assert _login(client, agent.email, totp=_code(secret, 1)).status_code == 200


def test_an_org_admin_resets_a_lost_device_and_every_token_of_the_user_dies(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    user = tenant.users["manager"]
    secret, _ = _enrol(client, tenant.headers("manager"))
    pair = _login(client, user.email, totp=_code(secret, 1)).json()
    assert client.post(f"/api/users/{user.id}/mfa/reset", headers=other_tenant.headers()).status_code == 404
    assert client.post(f"/api/users/{user.id}/mfa/reset", headers=tenant.headers("manager")).status_code == 403
    assert client.post(f"/api/users/{user.id}/mfa/reset", headers=tenant.headers()).status_code == 204
    assert client.get("/api/users/me", headers=_bearer(pair)).status_code == 401
    assert _login(client, user.email).status_code == 200  # no second factor until enrolled again


def test_a_users_own_password_change_needs_the_current_one_and_ends_the_other_sessions(
    client: TestClient, tenant: Tenant
) -> None:
    user = tenant.users["agent"]
    here, elsewhere = _login(client, user.email).json(), _login(client, user.email).json()
    new = "a completely new passphrase 42"
    wrong = client.post("/api/users/me/password", json={"current_password": "guessing this one",
                        "new_password": new}, headers=_bearer(here))  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    weak = client.post("/api/users/me/password", json={"current_password": PASSWORD,
                       "new_password": "password1234"}, headers=_bearer(here))  # fmt: skip
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    changed = client.post("/api/users/me/password", json={"current_password": PASSWORD, "new_password": new},
                          headers=_bearer(here))  # fmt: skip
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert client.get("/api/users/me", headers=_bearer(fresh)).status_code == 200  # this session goes on
    assert client.get("/api/users/me", headers=_bearer(here)).status_code == 401  # its old token is void
    assert client.get("/api/users/me", headers=_bearer(elsewhere)).status_code == 401  # the other ended
    assert client.post("/api/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 200
    assert _login(client, user.email).status_code == 401
    assert _login(client, user.email, new).status_code == 200


def test_an_admin_reset_gives_a_temporary_password_that_must_be_replaced(
    client: TestClient, tenant: Tenant
) -> None:
    user = tenant.users["compliance"]
    before = _login(client, user.email).json()
    reset = client.post(f"/api/users/{user.id}/password-reset", headers=tenant.headers())
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert client.get("/api/users/me", headers=_bearer(before)).status_code == 401
    assert _login(client, user.email).status_code == 401  # the old password is gone
    refused = _login(client, user.email, temporary)
    assert refused.status_code == 401 and refused.json()["code"] == "password_change_required"
    new = "my own chosen passphrase 9"
    same = client.post("/api/auth/password", json={"email": user.email, "password": temporary,
                                                    "new_password": temporary})  # fmt: skip
    assert same.status_code == 422
    replaced = client.post("/api/auth/password", json={"email": user.email, "password": temporary,
                                                        "new_password": new})  # fmt: skip
    assert replaced.status_code == 200, replaced.text
    assert client.get("/api/users/me", headers=_bearer(replaced.json())).status_code == 200
    assert _login(client, user.email, temporary).status_code == 401
    assert _login(client, user.email, new).status_code == 200


def test_wrong_codes_confirming_an_enrolment_before_login_count_in_the_login_throttle(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    policy = {"required_roles": ["agent"]}
    r = client.put(f"/api/orgs/{tenant.id}/mfa-policy", json=policy, headers=tenant.headers())
    assert r.status_code == 200
    agent = tenant.users["agent"]
    creds = {"email": agent.email, "password": PASSWORD}
    secret = client.post("/api/auth/mfa/enrol", json=creds).json()["secret"]
    valid = {_code(secret, d) for d in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    answers = [client.post("/api/auth/mfa/confirm", json={**creds, "code": wrong}) for _ in range(4)]
    assert [a.status_code for a in answers] == [422] * 4
    assert answers[0].json()["errors"][0]["field"] == "code"
    throttled = client.post("/api/auth/mfa/confirm", json={**creds, "code": _code(secret)})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(User, agent.id)
        assert row is not None and not row.mfa_enabled
