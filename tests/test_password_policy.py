"""Issue 18, item 4: the passwords the probe got accepted are refused, with the rule that refused them."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from core.passwords import MAX_PASSWORD, password_problem
from tests.conftest import PASSWORD, Tenant

EMAIL = "victim.one@acme.example"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("aaaaaaaaaaaa", "repetitive"),
        ("123456789012", "sequence"),
        (" " * 12, "repetitive"),
        ("password1234", "commonly used"),
        ("P@ssw0rd2024!", "commonly used"),
        ("qwertyuiop12", "commonly used"),
        ("abcabcabcabc", "repetitive"),
        (EMAIL, "email"),
        ("victim.one-2026!", "email"),
        ("x" * 1_000_000, f"at most {MAX_PASSWORD}"),
        ("short", "at least 12"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password: str, rule: str) -> None:
    problem = password_problem(password, email=EMAIL)
    assert problem is not None and rule in problem


@pytest.mark.parametrize(
    "password", [PASSWORD, "Zq8!vL2#pW9m", "tram-velvet-oyster-42", "é" * 3 + "ünïcödé pass"]
)
def test_reasonable_passphrases_are_accepted(password: str) -> None:
    assert password_problem(password, email=EMAIL) is None


def test_the_api_refuses_a_common_password_for_a_new_user_and_a_password_change(
    client: TestClient, tenant: Tenant
) -> None:
    admin = tenant.headers("org_admin")
    r = client.post("/api/users", json={"email": "new.person@x.example", "password": "password1234", "role": "agent"},
                    headers=admin)  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    agent = tenant.users["agent"]
    r = client.patch(f"/api/users/{agent.id}", json={"password": agent.email}, headers=admin)
    assert r.status_code == 422 and "email" in r.json()["detail"]
