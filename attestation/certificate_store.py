"""Each organization's SHAKEN signing certificates: upload (validated, key encrypted), activate, publish
the public chain at a stable x5u URL, and load the active one as a `PassportSigner`.

Trust anchors (the STI-CA roots a chain must lead to) are configured by the platform operator in
`$CLEARLINE_HOME/sti-trust-anchors.pem`; an organization cannot vouch for its own chain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from attestation.certificates import (
    CertificateError,
    check_key_matches,
    fingerprint,
    is_ca,
    key_pem,
    load_certificates,
    load_private_key,
    validate_chain,
)
from attestation.key_storage import decrypt_private_key, encrypt_private_key
from attestation.models import SigningCertificate
from attestation.signer import EXPIRY_WARNING_S, PassportSigner
from core.errors import ConfigurationError, ConflictError, NotFoundError, ValidationError

TRUST_ANCHORS_FILE = "sti-trust-anchors.pem"
MAX_PEM_BYTES = 64 * 1024


def trust_anchors_path(home: Path) -> Path:
    return home / TRUST_ANCHORS_FILE


def load_trust_anchors(home: Path) -> list[x509.Certificate]:
    path = trust_anchors_path(home)
    if not path.exists():
        raise ConfigurationError(
            f"no STI-CA trust anchors configured: put the trusted root certificates (PEM) in {path}"
        )
    return load_certificates(path.read_bytes())


def add_trust_anchors(home: Path, anchors: list[x509.Certificate]) -> tuple[int, Path]:
    """Append the root certificates not yet trusted to the trust-anchor file; returns how many."""
    path = trust_anchors_path(home)
    known = {fingerprint(c) for c in load_certificates(path.read_bytes())} if path.exists() else set()
    for anchor in anchors:
        if not is_ca(anchor):
            raise CertificateError("not_a_ca", f"{anchor.subject.rfc4514_string()} is not a CA certificate")
    new = [a for a in anchors if fingerprint(a) not in known]
    with path.open("ab") as f:
        for anchor in new:
            f.write(anchor.public_bytes(serialization.Encoding.PEM))
    return len(new), path


def x5u_url(public_base_url: str, certificate_id: uuid.UUID) -> str:
    """The stable public URL of a certificate's chain: what PASSporTs signed with it put in x5u."""
    return f"{public_base_url.rstrip('/')}/api/certs/{certificate_id}"


def add_certificate(
    session: Session,
    *,
    org_id: uuid.UUID,
    secret_key: str,
    chain_pem: str,
    key_pem_text: str,
    label: str,
    trust_anchors: list[x509.Certificate],
    now: datetime,
) -> SigningCertificate:
    """Validate a chain (leaf first) and its private key, store the key encrypted, and make it the
    organization's active certificate when it has none yet."""
    for field, text in (("chain_pem", chain_pem), ("key_pem", key_pem_text)):
        if len(text) > MAX_PEM_BYTES:
            raise ValidationError(f"{field} is longer than {MAX_PEM_BYTES} bytes", field=field)
    try:
        chain = load_certificates(chain_pem.encode())
    except CertificateError as exc:
        raise ValidationError(str(exc), field="chain_pem") from exc
    try:
        key = load_private_key(key_pem_text.encode())
        check_key_matches(key, chain[0])
    except CertificateError as exc:
        raise ValidationError(str(exc), field="key_pem") from exc
    try:
        validated = validate_chain(chain, now=int(now.timestamp()), trust_anchors=trust_anchors)
    except CertificateError as exc:
        raise ValidationError(f"{exc} ({exc.reason})", field="chain_pem") from exc
    certificate_id = uuid.uuid4()
    has_active = session.scalars(
        select(SigningCertificate.id).where(SigningCertificate.org_id == org_id, SigningCertificate.active)
    ).first()
    row = SigningCertificate(
        id=certificate_id,
        org_id=org_id,
        label=label,
        spc=validated.spc,
        subject=validated.certificate.subject.rfc4514_string(),
        fingerprint_sha256=fingerprint(validated.certificate),
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain).decode(),
        encrypted_key=encrypt_private_key(secret_key, key_pem(key), bound_to=certificate_id),
        not_before=datetime.fromtimestamp(validated.not_before, UTC),
        not_after=datetime.fromtimestamp(validated.not_after, UTC),
        active=has_active is None,
    )
    session.add(row)
    session.flush()
    return row


def list_certificates(session: Session) -> list[SigningCertificate]:
    return list(session.scalars(select(SigningCertificate).order_by(SigningCertificate.created_at)))


@dataclass(frozen=True)
class Expiry:
    """How long a certificate has left, as the API and the console show it."""

    seconds_left: float
    expires_soon: bool  # within EXPIRY_WARNING_S (30 days) of not_after: time to renew
    expired: bool

    @property
    def days_left(self) -> int:
        return max(0, int(self.seconds_left // 86_400))


def expiry(row: SigningCertificate, *, now: datetime) -> Expiry:
    left = (row.not_after - now).total_seconds()
    return Expiry(seconds_left=left, expires_soon=left < EXPIRY_WARNING_S, expired=left <= 0)


def get_certificate(session: Session, certificate_id: uuid.UUID) -> SigningCertificate:
    row = session.scalars(
        select(SigningCertificate).where(SigningCertificate.id == certificate_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"certificate {certificate_id} not found")
    return row


def activate_certificate(session: Session, certificate_id: uuid.UUID, *, now: datetime) -> SigningCertificate:
    """Sign the organization's calls with this certificate from now on (it must be valid now)."""
    row = get_certificate(session, certificate_id)
    if not row.not_before <= now <= row.not_after:
        raise ValidationError(f"certificate {certificate_id} is not valid now", field="certificate_id")
    session.execute(
        update(SigningCertificate)
        .where(SigningCertificate.org_id == row.org_id, SigningCertificate.id != row.id)
        .values(active=False)
    )
    session.flush()
    row.active = True
    return row


def delete_certificate(session: Session, certificate_id: uuid.UUID) -> None:
    """Remove a certificate that is no longer used; the active one cannot go (calls signed with it
    are verified against its x5u URL)."""
    row = get_certificate(session, certificate_id)
    if row.active:
        raise ConflictError(f"certificate {certificate_id} is active: activate another one first")
    session.delete(row)


def public_chain(session: Session, certificate_id: uuid.UUID) -> str | None:
    """The PEM chain published at a certificate's x5u URL (public data), or None."""
    return session.scalars(
        select(SigningCertificate.chain_pem).where(SigningCertificate.id == certificate_id)
    ).one_or_none()


def load_signer(
    session: Session,
    org_id: uuid.UUID,
    *,
    secret_key: str,
    public_base_url: str,
    trust_anchors: list[x509.Certificate] | None,
    now: int,
) -> PassportSigner | None:
    """A signer for the organization's active certificate (None when it has none). The chain is
    validated again here, so an expired or no longer trusted certificate refuses to load."""
    row = session.scalars(
        select(SigningCertificate).where(SigningCertificate.org_id == org_id, SigningCertificate.active)
    ).one_or_none()
    if row is None:
        return None
    return PassportSigner.load(
        key_pem=decrypt_private_key(secret_key, row.encrypted_key, bound_to=row.id),
        x5u=x5u_url(public_base_url, row.id),
        chain_pem=row.chain_pem.encode(),
        trust_anchors=trust_anchors,
        now=now,
    )
