"""The attestation API: TN inventory and certificates per organization, keys never returned, the public
x5u URL, and number verification reserved to the platform."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from litestar.testing import TestClient

from attestation.certificate_store import trust_anchors_path
from attestation.certificates import TestCertificateAuthority, key_pem
from attestation.signer import PassportSigner
from core.models import User
from core.runtime import Runtime
from tests.attestation.samples import chain_and_key, sample_ca
from tests.conftest import Tenant, make_tenant


@pytest.fixture(scope="module")
def tenant(runtime: Runtime) -> Tenant:
    """Shared by this module's tests (creating users is slow); tests assert only on what they made."""
    return make_tenant(runtime)


@pytest.fixture(scope="module")
def other_tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime)


@pytest.fixture(scope="module")
def trusted_ca(runtime: Runtime) -> TestCertificateAuthority:
    """The sample CA's root in the platform's trust-anchor file."""
    ca = sample_ca()
    path = trust_anchors_path(runtime.settings.home)
    root = ca.root.public_bytes(Encoding.PEM)
    if not path.exists() or root not in path.read_bytes():
        with path.open("ab") as f:
            f.write(root)
    return ca


def test_numbers_are_added_by_the_org_and_verified_only_by_the_platform(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, platform_admin: tuple[User, dict[str, str]]
) -> None:
    r = client.post(
        "/api/attestation/numbers",
        json={"first": "+15055550100", "last": "+15055550149", "label": "NM block"},
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 201, r.text
    block = r.json()
    assert (block["first"], block["last"], block["size"], block["status"]) == (
        "+15055550100",
        "+15055550149",
        50,
        "pending",
    )
    url = f"/api/attestation/numbers/{block['id']}"
    assert (
        client.patch(url, json={"status": "verified"}, headers=tenant.headers("org_admin")).status_code == 403
    )
    r = client.patch(url, json={"status": "verified"}, headers=platform_admin[1])
    assert r.status_code == 200 and r.json()["status"] == "verified" and r.json()["verified_at"]
    listed = client.get("/api/attestation/numbers", headers=tenant.headers("compliance")).json()
    assert block["id"] in [b["id"] for b in listed]
    assert client.get(url, headers=other_tenant.headers("org_admin")).status_code == 404
    listed = client.get("/api/attestation/numbers", headers=other_tenant.headers("org_admin")).json()
    assert block["id"] not in [b["id"] for b in listed]


def test_bad_number_names_the_field(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/attestation/numbers", json={"first": "call me"}, headers=tenant.headers("org_admin")
    )
    assert r.status_code == 422 and "first" in r.text and "E.164" in r.text


def test_certificate_upload_never_returns_the_key_and_publishes_the_chain(
    client: TestClient, runtime: Runtime, other_tenant: Tenant, trusted_ca: TestCertificateAuthority
) -> None:
    tenant = make_tenant(runtime)  # a fresh organization: its first certificate becomes the active one
    chain, key = chain_and_key(trusted_ca)
    r = client.post(
        "/api/attestation/certificates",
        json={"chain_pem": chain, "key_pem": key, "label": "main"},
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 201, r.text
    cert = r.json()
    assert (
        cert["active"]
        and not cert["expires_soon"]
        and cert["spc"] == "7387"
        and cert["x5u"].endswith(f"/api/certs/{cert['id']}")
    )
    for response in (
        r,
        client.get("/api/attestation/certificates", headers=tenant.headers("org_admin")),
        client.get(f"/api/attestation/certificates/{cert['id']}", headers=tenant.headers("manager")),
    ):
        assert "PRIVATE KEY" not in response.text and "key_pem" not in response.text
    public = client.get(f"/api/certs/{cert['id']}")  # no token: x5u is public
    assert public.status_code == 200 and public.text == chain
    assert public.headers["content-type"].startswith("application/pem-certificate-chain")
    assert (
        client.get(
            f"/api/attestation/certificates/{cert['id']}", headers=other_tenant.headers("org_admin")
        ).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/attestation/certificates/{cert['id']}", headers=tenant.headers("org_admin")
        ).status_code
        == 409
    )


def test_second_certificate_can_be_activated_and_the_first_then_deleted(
    client: TestClient, tenant: Tenant, trusted_ca: TestCertificateAuthority
) -> None:
    ids = []
    for label in ("old", "new"):
        chain, key = chain_and_key(trusted_ca)
        r = client.post(
            "/api/attestation/certificates",
            json={"chain_pem": chain, "key_pem": key, "label": label},
            headers=tenant.headers("org_admin"),
        )
        ids.append(r.json()["id"])
    r = client.post(f"/api/attestation/certificates/{ids[1]}/activate", headers=tenant.headers("org_admin"))
    assert r.status_code == 200 and r.json()["active"]
    listed = {
        c["id"]: c["active"]
        for c in client.get("/api/attestation/certificates", headers=tenant.headers("org_admin")).json()
    }
    assert {i: listed[i] for i in ids} == {ids[0]: False, ids[1]: True}
    assert sum(listed.values()) == 1
    assert (
        client.delete(
            f"/api/attestation/certificates/{ids[0]}", headers=tenant.headers("org_admin")
        ).status_code
        == 204
    )
    assert client.get(f"/api/certs/{ids[0]}").status_code == 404


def test_certificate_from_an_untrusted_ca_or_expired_is_refused(
    client: TestClient, tenant: Tenant, trusted_ca: TestCertificateAuthority
) -> None:
    stranger = TestCertificateAuthority.create(datetime.now(UTC))
    chain, key = chain_and_key(stranger)
    r = client.post(
        "/api/attestation/certificates",
        json={"chain_pem": chain, "key_pem": key},
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 422 and "untrusted_chain" in r.text and "chain_pem" in r.text
    past = datetime.now(UTC) - timedelta(days=100)
    old_key, old_cert = trusted_ca.issue("7387", not_before=past, not_after=past + timedelta(days=10))
    r = client.post(
        "/api/attestation/certificates",
        json={
            "chain_pem": (
                old_cert.public_bytes(Encoding.PEM) + trusted_ca.intermediate.public_bytes(Encoding.PEM)
            ).decode(),
            "key_pem": key_pem(old_key).decode(),
        },
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 422 and "cert_expired" in r.text
    r = client.post(
        "/api/attestation/certificates",
        json={"chain_pem": "junk", "key_pem": key},
        headers=tenant.headers("org_admin"),
    )
    assert r.status_code == 422 and "chain_pem" in r.text


def test_inbound_header_is_verified_with_a_supplied_chain(
    client: TestClient, tenant: Tenant, trusted_ca: TestCertificateAuthority
) -> None:
    chain, key = chain_and_key(trusted_ca)
    signer = PassportSigner.load(key_pem=key.encode(), x5u="https://carrier.example/shaken.pem")
    now = int(time.time())
    value = signer.identity_header("+12025550143", ["+13035550100"], "B", str(uuid.uuid4()), now)
    body = {"identity": value, "orig": "+12025550143", "dest": "+13035550100", "chain_pem": chain}
    r = client.post("/api/attestation/verify", json=body, headers=tenant.headers("compliance"))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] and r.json()["claims"]["attest"] == "B" and r.json()["spc"] == "7387"
    r = client.post(
        "/api/attestation/verify", json={**body, "at": now + 600}, headers=tenant.headers("compliance")
    )
    assert (r.json()["ok"], r.json()["reason"], r.json()["response"]) == (False, "stale_iat", 403)
    r = client.post(
        "/api/attestation/verify", json={**body, "identity": "garbage"}, headers=tenant.headers("manager")
    )
    assert r.status_code == 200 and r.json()["response"] == 438


def test_inbound_x5u_pointing_at_an_internal_address_is_not_fetched(
    client: TestClient, tenant: Tenant, trusted_ca: TestCertificateAuthority
) -> None:
    _, key = chain_and_key(trusted_ca)
    now = int(time.time())
    for x5u in ("https://127.0.0.1:8443/c.pem", "https://10.1.2.3/c.pem", "https://localhost/c.pem"):
        value = PassportSigner.load(key_pem=key.encode(), x5u=x5u).identity_header(
            "+12025550143", ["+13035550100"], "A", str(uuid.uuid4()), now
        )
        r = client.post(
            "/api/attestation/verify", json={"identity": value}, headers=tenant.headers("org_admin")
        )
        assert (r.json()["reason"], r.json()["response"]) == ("x5u_not_public", 436), r.text
