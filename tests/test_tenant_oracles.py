"""Issue 18, item 7: answers to one organization never reveal another's users, names or numbers."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.conftest import PASSWORD, Tenant


def test_creating_a_user_with_another_organizations_email_is_a_409_that_names_nothing(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    taken = other_tenant.users["agent"].email
    r = client.post("/api/users", json={"email": taken.upper(), "password": PASSWORD, "role": "agent"},
                    headers=tenant.headers())  # fmt: skip
    assert r.status_code == 409
    assert taken not in r.text.lower() and other_tenant.org.slug not in r.text
    mine = tenant.users["manager"].email  # the same answer whether the address is ours or theirs
    same = client.post("/api/users", json={"email": mine, "password": PASSWORD, "role": "agent"},
                       headers=tenant.headers())  # fmt: skip
    assert same.status_code == 409 and same.json()["detail"] == r.json()["detail"]


def test_renaming_an_organization_to_a_taken_name_is_a_409_that_names_nothing(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = client.patch(
        f"/api/orgs/{tenant.id}", json={"name": f"  {other_tenant.org.name} "}, headers=tenant.headers()
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert other_tenant.org.name not in r.text and str(other_tenant.id) not in r.text
    assert client.get(f"/api/orgs/{tenant.id}", headers=tenant.headers()).json()["name"] == tenant.org.name
    # Renaming to one's own name, or to a free one, works.
    assert (
        client.patch(
            f"/api/orgs/{tenant.id}", json={"name": tenant.org.name}, headers=tenant.headers()
        ).status_code
        == 200
    )
    r = client.patch(
        f"/api/orgs/{tenant.id}", json={"name": f"{tenant.org.name} renamed"}, headers=tenant.headers()
    )
    assert r.status_code == 200 and r.json()["slug"] == tenant.org.slug
