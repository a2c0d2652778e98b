"""Tables of the attestation package: each organization's TN inventory and its SHAKEN signing
certificates (private keys encrypted at rest, see `attestation.key_storage`)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

import core.models  # noqa: F401 - the organizations table our foreign keys point at
from core.db import Base, OrgScoped, utcnow


class NumberStatus(enum.StrEnum):
    """Whether the platform has checked that the organization may use a number (LOA, carrier records).
    Only `verified` numbers earn attestation A."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class TelephoneNumberBlock(OrgScoped, Base):
    """One number (first == last) or a contiguous range of numbers of one organization.

    Numbers are stored as E.164 digits without '+', in the C collation, so that for numbers of the same
    length string order is numeric order and a range lookup is two comparisons."""

    __tablename__ = "tn_inventory"
    __table_args__ = (
        CheckConstraint("length(first_tn) = length(last_tn) AND first_tn <= last_tn", name="range"),
        CheckConstraint("first_tn ~ '^[0-9]{8,15}$'", name="digits"),
        CheckConstraint("status IN ('pending', 'verified', 'rejected')", name="status"),
        Index("ix_tn_inventory_org_first", "org_id", "first_tn"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    first_tn: Mapped[str] = mapped_column(String(15, collation="C"))
    last_tn: Mapped[str] = mapped_column(String(15, collation="C"))
    status: Mapped[str] = mapped_column(String(16), default=NumberStatus.PENDING.value)
    label: Mapped[str] = mapped_column(String(200), default="")
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def size(self) -> int:
        return int(self.last_tn) - int(self.first_tn) + 1


class SigningCertificate(OrgScoped, Base):
    """A SHAKEN certificate chain (public, served at its x5u URL) and its private key, encrypted with a
    key derived from the server secret and bound to this row's id. At most one is active per
    organization: the one its calls are signed with."""

    __tablename__ = "signing_certificates"
    __table_args__ = (
        Index(
            "uq_signing_certificates_active_per_org",
            "org_id",
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(200), default="")
    spc: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    chain_pem: Mapped[str] = mapped_column(Text)
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime] = mapped_column()
    not_after: Mapped[datetime] = mapped_column()
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
