"""Attestation objects made in a tenant, for the tenant-isolation walker and the API tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from attestation import certificate_store, inventory
from attestation.certificates import TestCertificateAuthority, key_pem
from core.db import Scope
from core.runtime import Runtime
from tests.conftest import Tenant

SPC = "7387"


@lru_cache(maxsize=1)
def sample_ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.create(datetime.now(UTC))


def chain_and_key(ca: TestCertificateAuthority, *, days: int = 90) -> tuple[str, str]:
    from cryptography.hazmat.primitives.serialization import Encoding

    now = datetime.now(UTC)
    key, cert = ca.issue(SPC, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=days))
    chain = cert.public_bytes(Encoding.PEM) + ca.intermediate.public_bytes(Encoding.PEM)
    return chain.decode(), key_pem(key).decode()


def make_certificate(runtime: Runtime, org_id: uuid.UUID) -> uuid.UUID:
    ca = sample_ca()
    chain, key = chain_and_key(ca)
    with runtime.db.session(Scope(org_id)) as session:
        row = certificate_store.add_certificate(
            session,
            org_id=org_id,
            secret_key=runtime.settings.secret_key,
            chain_pem=chain,
            key_pem_text=key,
            label="sample",
            trust_anchors=[ca.root],
            now=datetime.now(UTC),
        )
        return row.id


def make_number(runtime: Runtime, org_id: uuid.UUID) -> uuid.UUID:
    with runtime.db.session(Scope(org_id)) as session:
        first = f"1202555{uuid.uuid4().int % 10_000:04d}"
        return inventory.add_numbers(session, org_id=org_id, first=first).id


def certificate_sample(owner: Tenant) -> str:
    return str(make_certificate(owner.runtime, owner.org.id))


def number_sample(owner: Tenant) -> str:
    return str(make_number(owner.runtime, owner.org.id))
