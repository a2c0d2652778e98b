"""Signing certificates at rest: keys encrypted and bound to their row, the active one loads as a signer."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from attestation import certificate_store
from attestation.key_storage import decrypt_private_key, encrypt_private_key
from attestation.models import SigningCertificate
from attestation.verify import PinnedCertificate, verify_identity
from core.db import Scope
from core.errors import ConfigurationError, ValidationError
from tests.attestation.conftest import Org
from tests.attestation.samples import SPC, chain_and_key, make_certificate, sample_ca

SECRET = "s3cret-for-tests"


def test_key_encryption_round_trips_and_is_bound_to_its_row_and_secret() -> None:
    row_id = uuid.uuid4()
    blob = encrypt_private_key(SECRET, b"-----BEGIN PRIVATE KEY-----", bound_to=row_id)
    assert b"PRIVATE KEY" not in blob
    assert decrypt_private_key(SECRET, blob, bound_to=row_id) == b"-----BEGIN PRIVATE KEY-----"
    with pytest.raises(ConfigurationError, match="does not decrypt"):
        decrypt_private_key(SECRET, blob, bound_to=uuid.uuid4())
    with pytest.raises(ConfigurationError, match="does not decrypt"):
        decrypt_private_key("another secret", blob, bound_to=row_id)


def test_stored_key_is_encrypted_and_the_active_certificate_loads_as_a_signer(org: Org) -> None:
    runtime = org.runtime
    certificate_id = make_certificate(runtime, org.id)
    with runtime.db.session(Scope(org.id)) as s:
        row = s.scalars(select(SigningCertificate).where(SigningCertificate.id == certificate_id)).one()
        assert row.active and row.spc == SPC
        assert b"PRIVATE KEY" not in row.encrypted_key
        signer = certificate_store.load_signer(
            s,
            org.id,
            secret_key=runtime.settings.secret_key,
            public_base_url="https://clearline.example",
            trust_anchors=[sample_ca().root],
            now=int(time.time()),
        )
    assert signer is not None and signer.x5u == f"https://clearline.example/api/certs/{certificate_id}"
    now = int(time.time())
    value = signer.identity_header("+12025550143", ["+13035550100"], "A", str(uuid.uuid4()), now)
    source = PinnedCertificate(signer.certificate.chain, [sample_ca().root])  # type: ignore[union-attr]
    assert verify_identity(value, orig="12025550143", dest="13035550100", now=now, certificates=source).ok


def test_key_moved_to_another_row_does_not_decrypt(org: Org) -> None:
    runtime = org.runtime
    first, second = make_certificate(runtime, org.id), make_certificate(runtime, org.id)
    with runtime.db.session(Scope(org.id)) as s:
        stolen = s.scalars(
            select(SigningCertificate.encrypted_key).where(SigningCertificate.id == first)
        ).one()
        s.execute(
            update(SigningCertificate).where(SigningCertificate.id == second).values(encrypted_key=stolen)
        )
        certificate_store.activate_certificate(s, second, now=datetime.now(UTC))
        with pytest.raises(ConfigurationError, match="does not decrypt"):
            certificate_store.load_signer(
                s,
                org.id,
                secret_key=runtime.settings.secret_key,
                public_base_url="https://clearline.example",
                trust_anchors=None,
                now=int(time.time()),
            )


def test_organization_without_an_active_certificate_has_no_signer(org: Org) -> None:
    with org.runtime.db.session(Scope(org.id)) as s:
        assert (
            certificate_store.load_signer(
                s, org.id, secret_key="x", public_base_url="https://a", trust_anchors=None, now=0
            )
            is None
        )


def test_upload_with_a_mismatched_key_names_the_field(org: Org) -> None:
    chain, _ = chain_and_key(sample_ca())
    _, other_key = chain_and_key(sample_ca())
    with org.runtime.db.session(Scope(org.id)) as s, pytest.raises(ValidationError) as info:
        certificate_store.add_certificate(
            s,
            org_id=org.id,
            secret_key=SECRET,
            chain_pem=chain,
            key_pem_text=other_key,
            label="",
            trust_anchors=[sample_ca().root],
            now=datetime.now(UTC),
        )
    assert info.value.field == "key_pem"
