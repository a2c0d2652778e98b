"""The signer validates its certificate once at load and refuses to sign outside its validity."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from attestation.certificates import CertificateError, TestCertificateAuthority, key_pem
from attestation.signer import PassportSigner, SigningRefusedError
from attestation.verify import verify_identity
from tests.attestation.conftest import DEST, ORIG, ORIGID, SPC, X5U, Signing


def _pem(*certs) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def _load(signing: Signing, key, cert, *, now: int | None = None) -> PassportSigner:  # type: ignore[no-untyped-def]
    return PassportSigner.load(
        key_pem=key_pem(key),
        x5u=X5U,
        chain_pem=_pem(cert, signing.ca.intermediate),
        trust_anchors=signing.anchors,
        now=signing.now if now is None else now,
    )


def test_signer_emits_the_full_form_header_that_verifies(signing: Signing) -> None:
    signer = _load(signing, signing.key, signing.cert)
    assert signer.certificate is not None and signer.certificate.spc == SPC
    value = signer.identity_header("+" + ORIG, ["+" + DEST], "A", ORIGID, signing.now)
    assert re.fullmatch(
        r"[\w-]+\.[\w-]+\.[\w-]{86};info=<https://certs\.clearline\.test/shaken\.pem>;alg=ES256;ppt=shaken",
        value,
    )
    result = verify_identity(value, orig=ORIG, dest=DEST, now=signing.now, certificates=signing.source())
    assert result.ok, result


def test_loading_an_expired_certificate_is_refused(signing: Signing) -> None:
    past = datetime.now(UTC) - timedelta(days=400)
    key, cert = signing.ca.issue(SPC, not_before=past, not_after=past + timedelta(days=30))
    with pytest.raises(CertificateError, match="expired") as info:
        _load(signing, key, cert)
    assert info.value.reason == "cert_expired"


def test_signing_after_the_certificate_expired_is_refused(signing: Signing) -> None:
    signer = _load(signing, signing.key, signing.cert)
    later = signer.certificate.not_after + 1  # type: ignore[union-attr]
    with pytest.raises(SigningRefusedError, match="refusing to sign"):
        signer.identity_header(ORIG, [DEST], "A", ORIGID, later)


def test_certificate_without_tnauthlist_is_refused(signing: Signing) -> None:
    now = datetime.now(UTC)
    key, cert = signing.ca.issue(
        SPC, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=9), with_tn_auth_list=False
    )
    with pytest.raises(CertificateError) as info:
        _load(signing, key, cert)
    assert info.value.reason == "missing_tnauthlist"


def test_key_that_does_not_match_the_certificate_is_refused(signing: Signing) -> None:
    other_key, _ = signing.ca.issue(
        SPC, not_before=datetime.now(UTC), not_after=datetime.now(UTC) + timedelta(days=1)
    )
    with pytest.raises(CertificateError) as info:
        _load(signing, other_key, signing.cert)
    assert info.value.reason == "key_mismatch"


def test_chain_from_another_ca_is_untrusted(signing: Signing) -> None:
    now = datetime.now(UTC)
    stranger = TestCertificateAuthority.create(now)
    key, cert = stranger.issue(SPC, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=9))
    with pytest.raises(CertificateError) as info:
        PassportSigner.load(
            key_pem=key_pem(key),
            x5u=X5U,
            chain_pem=_pem(cert, stranger.intermediate),
            trust_anchors=signing.anchors,
            now=signing.now,
        )
    assert info.value.reason == "untrusted_chain"


def test_certificate_expiring_soon_is_loaded_with_a_warning(
    signing: Signing, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    key, cert = signing.ca.issue(SPC, not_before=now - timedelta(days=80), not_after=now + timedelta(days=5))
    with caplog.at_level(logging.WARNING, logger="attestation.signer"):
        signer = _load(signing, key, cert)
    assert signer.certificate is not None
    assert any("expires in 5.0 days" in r.getMessage() for r in caplog.records)


def test_non_p256_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(CertificateError) as info:
        PassportSigner.load(key_pem=key_pem(key), x5u=X5U)  # type: ignore[arg-type]
    assert info.value.reason == "unsupported_key"
