"""HTTP routes of the attestation package: the TN inventory, signing certificates, and the public x5u
URL where each certificate's chain is published for verifiers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Response, Router, delete, get, patch, post
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import PUBLIC, roles
from api.principal import Principal
from attestation import certificate_store, inventory
from attestation.certificates import CertificateError, load_certificates
from attestation.models import SigningCertificate, TelephoneNumberBlock
from attestation.verify import (
    DEFAULT_MAX_AGE_S,
    CertificateSource,
    PinnedCertificate,
    X5uFetcher,
    verify_identity,
)
from core.db import ALL_ORGS
from core.errors import NotFoundError, ValidationError
from core.models import Role
from core.runtime import Runtime

READERS = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE)
MAX_PAGE = 1000


class NumberOut(msgspec.Struct):
    id: uuid.UUID
    first: str
    last: str
    size: int
    status: str
    label: str
    verified_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, block: TelephoneNumberBlock) -> NumberOut:
        return cls(
            id=block.id,
            first=f"+{block.first_tn}",
            last=f"+{block.last_tn}",
            size=block.size,
            status=block.status,
            label=block.label,
            verified_at=block.verified_at,
            created_at=block.created_at,
        )


class NumberCreate(msgspec.Struct, forbid_unknown_fields=True):
    first: str
    """A number ('+12025550143'), or the first of a range."""
    last: str | None = None
    """The last number of a range (inclusive); omit for a single number."""
    label: str = ""
    org_id: uuid.UUID | None = None
    """Platform admins only: the organization the numbers belong to."""


class NumberStatusUpdate(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    """`verified` (the platform checked the organization may use these numbers), `pending`, `rejected`."""


class CertificateOut(msgspec.Struct):
    id: uuid.UUID
    label: str
    spc: str
    subject: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    active: bool
    expires_soon: bool
    """Within 30 days of `not_after`: time to renew."""
    x5u: str
    created_at: datetime

    @classmethod
    def of(cls, row: SigningCertificate, public_base_url: str) -> CertificateOut:
        return cls(
            id=row.id,
            label=row.label,
            spc=row.spc,
            subject=row.subject,
            fingerprint_sha256=row.fingerprint_sha256,
            not_before=row.not_before,
            not_after=row.not_after,
            active=row.active,
            expires_soon=certificate_store.expiry(row, now=datetime.now(UTC)).expires_soon,
            x5u=certificate_store.x5u_url(public_base_url, row.id),
            created_at=row.created_at,
        )


class CertificateUpload(msgspec.Struct, forbid_unknown_fields=True):
    chain_pem: str
    """The SHAKEN certificate first, then its intermediates (PEM)."""
    key_pem: str
    """The certificate's EC P-256 private key (PEM). Stored encrypted; never returned."""
    label: str = ""
    org_id: uuid.UUID | None = None


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    identity: str
    """The Identity header value of an inbound call."""
    orig: str | None = None
    """The call's calling number, compared with the PASSporT's orig."""
    dest: str | None = None
    """The call's called number, which must be among the PASSporT's dest."""
    max_age_s: int = DEFAULT_MAX_AGE_S
    at: int | None = None
    """Verify as of this unix time (default: now)."""
    chain_pem: str | None = None
    """Use this certificate chain instead of fetching x5u (it must still lead to a trusted STI-CA)."""


class VerifyOut(msgspec.Struct):
    ok: bool
    reason: str
    response: int | None
    detail: str
    claims: dict[str, Any] | None
    spc: str | None


@post("/verify", opt=roles(*READERS), sync_to_thread=True, status_code=200)
def verify_inbound(data: VerifyRequest, runtime: Runtime) -> VerifyOut:
    """Check an inbound call's Identity header (STI-VS). x5u is fetched over HTTPS from public addresses
    only; the verdict says why a header is refused, with the RFC 8224 response."""
    if not 1 <= data.max_age_s <= 86_400:
        raise ValidationError("max_age_s must be between 1 and 86400 seconds", field="max_age_s")
    anchors = certificate_store.load_trust_anchors(runtime.settings.home)
    source: CertificateSource
    if data.chain_pem is not None:
        try:
            source = PinnedCertificate(load_certificates(data.chain_pem.encode()), anchors)
        except CertificateError as exc:
            raise ValidationError(str(exc), field="chain_pem") from exc
        fetcher = None
    else:
        source = fetcher = X5uFetcher(trust_anchors=anchors, public_only=True, check_crl=True)
    try:
        result = verify_identity(
            data.identity,
            orig=data.orig,
            dest=data.dest,
            now=int(time.time()) if data.at is None else data.at,
            certificates=source,
            max_age_s=data.max_age_s,
        )
    finally:
        if fetcher is not None:
            fetcher.close()
    return VerifyOut(result.ok, result.reason, result.response, result.detail, result.claims, result.spc)


@get("/numbers", opt=roles(*READERS), sync_to_thread=True)
def list_numbers(session: Session, limit: int = MAX_PAGE, offset: int = 0) -> list[NumberOut]:
    rows = inventory.list_blocks(session, limit=min(limit, MAX_PAGE), offset=offset)
    return [NumberOut.of(b) for b in rows]


@post("/numbers", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def add_numbers(data: NumberCreate, principal: Principal, session: Session) -> NumberOut:
    block = inventory.add_numbers(
        session,
        org_id=principal.org_for_write(data.org_id),
        first=data.first,
        last=data.last,
        label=data.label,
    )
    return NumberOut.of(block)


@get("/numbers/{tn_id:uuid}", opt=roles(*READERS), sync_to_thread=True)
def get_numbers(tn_id: uuid.UUID, session: Session) -> NumberOut:
    return NumberOut.of(inventory.get_block(session, tn_id))


@patch("/numbers/{tn_id:uuid}", opt=roles(), sync_to_thread=True)
def set_number_status(tn_id: uuid.UUID, data: NumberStatusUpdate, session: Session) -> NumberOut:
    """Platform admins only: attestation A must be earned, so an organization cannot verify its own numbers."""
    return NumberOut.of(inventory.set_status(session, tn_id, data.status, at=datetime.now(UTC)))


@delete("/numbers/{tn_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def remove_numbers(tn_id: uuid.UUID, session: Session) -> None:
    inventory.remove_block(session, tn_id)


@get("/certificates", opt=roles(*READERS), sync_to_thread=True)
def list_certificates(session: Session, runtime: Runtime) -> list[CertificateOut]:
    rows = certificate_store.list_certificates(session)
    return [CertificateOut.of(r, runtime.settings.public_base_url) for r in rows]


@post("/certificates", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def upload_certificate(
    data: CertificateUpload, principal: Principal, session: Session, runtime: Runtime
) -> CertificateOut:
    row = certificate_store.add_certificate(
        session,
        org_id=principal.org_for_write(data.org_id),
        secret_key=runtime.settings.secret_key,
        chain_pem=data.chain_pem,
        key_pem_text=data.key_pem,
        label=data.label,
        trust_anchors=certificate_store.load_trust_anchors(runtime.settings.home),
        now=datetime.now(UTC),
    )
    return CertificateOut.of(row, runtime.settings.public_base_url)


@get("/certificates/{certificate_id:uuid}", opt=roles(*READERS), sync_to_thread=True)
def get_certificate(certificate_id: uuid.UUID, session: Session, runtime: Runtime) -> CertificateOut:
    return CertificateOut.of(
        certificate_store.get_certificate(session, certificate_id), runtime.settings.public_base_url
    )


@post(
    "/certificates/{certificate_id:uuid}/activate",
    opt=roles(Role.ORG_ADMIN),
    sync_to_thread=True,
    status_code=200,
)
def activate_certificate(certificate_id: uuid.UUID, session: Session, runtime: Runtime) -> CertificateOut:
    row = certificate_store.activate_certificate(session, certificate_id, now=datetime.now(UTC))
    return CertificateOut.of(row, runtime.settings.public_base_url)


@delete("/certificates/{certificate_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def delete_certificate(certificate_id: uuid.UUID, session: Session) -> None:
    certificate_store.delete_certificate(session, certificate_id)


@get(
    "/api/certs/{certificate_id:uuid}",
    opt=PUBLIC,
    sync_to_thread=True,
    tags=["attestation"],
    media_type="application/pem-certificate-chain",
)
def public_certificate(certificate_id: uuid.UUID, runtime: Runtime) -> Response[str]:
    """The x5u URL: a signing certificate's public chain (PEM), for any STIR/SHAKEN verifier."""
    with runtime.db.session(ALL_ORGS) as session:
        chain = certificate_store.public_chain(session, certificate_id)
    if chain is None:
        raise NotFoundError(f"certificate {certificate_id} not found")
    return Response(
        chain,
        media_type="application/pem-certificate-chain",
        headers={"Cache-Control": "public, max-age=3600"},
    )


ROUTES: list[ControllerRouterHandler] = [
    Router(
        "/api/attestation",
        route_handlers=[
            list_numbers,
            add_numbers,
            get_numbers,
            set_number_status,
            remove_numbers,
            list_certificates,
            upload_certificate,
            get_certificate,
            activate_certificate,
            delete_certificate,
            verify_inbound,
        ],
        tags=["attestation"],
    ),
    public_certificate,
]
