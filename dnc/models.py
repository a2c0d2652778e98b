"""Tables of the dnc package.

PostgreSQL keeps the record: every list and each version of it (when and from which file it was obtained),
internal DNC entries and area-code blocks (who/when/why), the calling rules as data, each organization's
geo and IP policy, and scrub reports. The big number sets (national registry, state, litigator, wireless,
reassigned lists) live in compact index files under `$CLEARLINE_HOME/dnc/` (see `dnc.bitmap_index`); a
version row names the index directory and sequence number it was built as.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

import core.models  # noqa: F401 - the organizations table our foreign keys point at
from core.db import Base, OrgScoped, utcnow

JSONB_ = JSON().with_variant(JSONB(), "postgresql")


class DncList(Base):
    """One list (national, a state's, a litigator list...). Not `OrgScoped`: the platform-wide lists
    (owner_org_id NULL) are shared by every organization, so queries filter on the owner explicitly."""

    __tablename__ = "dnc_lists"
    __table_args__ = (UniqueConstraint("kind", "scope", "owner_org_id", postgresql_nulls_not_distinct=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))  # national | state | litigator | wireless | reassigned
    scope: Mapped[str] = mapped_column(String(20), default="")  # the state for state lists
    owner_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, default=None
    )
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DncListVersion(Base):
    """One import into a list: a full copy or a change list applied on top of the previous version."""

    __tablename__ = "dnc_list_versions"
    __table_args__ = (UniqueConstraint("list_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dnc_lists.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column()
    change_list: Mapped[bool] = mapped_column(default=False)
    source_file: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(BigInteger)  # numbers in the list after this version
    added: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    obtained_at: Mapped[datetime] = mapped_column()  # when this copy was downloaded: the 31-day clock
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # With index_sha256: the key of the packed index in the file store (core.file_store; every host
    # fetches it into its local cache, dnc.index_files). Without (versions imported before the shared
    # store): a directory relative to $CLEARLINE_HOME/dnc on the importing host.
    index_dir: Mapped[str] = mapped_column(String(500))
    index_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # A change list stored as a delta: index_dir/index_sha256 name its base pack and this is the ordered
    # chain of delta files on top of it ([{key, sha256, size}], dnc.index_files.DeltaRef); empty for a
    # version stored as a whole pack. dnc.lists decides when a chain is compacted into a full pack.
    index_deltas: Mapped[list[dict[str, Any]]] = mapped_column(JSONB_, default=list)


class InternalDncEntry(OrgScoped, Base):
    """A consumer's request not to be called (entity-specific list); kept 5 years (47 CFR 64.1200(d)(6))."""

    __tablename__ = "dnc_internal_entries"
    __table_args__ = (
        Index("ix_dnc_internal_entries_org_e164", "org_id", "e164"),
        # One entry per number and scope (organization-wide: campaign_id NULL); adding it again is a no-op.
        Index(
            "uq_dnc_internal_entries_org_e164_campaign",
            "org_id",
            "e164",
            "campaign_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    e164: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # None: organization-wide
    source: Mapped[str] = mapped_column(String(40))  # agent | opt_out_key | compliance | import | api
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The organization's internal-list version (InternalDncVersion.seq) this entry was added at.
    added_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class InternalDncVersion(OrgScoped, Base):
    """An organization's own version of its internal DNC list and area-code blocks: +1 at every change
    (an import counts once), per organization, so the version evidence records neither leaks the global
    row sequence nor changes with other organizations' work. With the `added_seq` / `removed_seq` of the
    entries, blocks and removals it rebuilds the list as it was at any version (`dnc.internal.list_at`)."""

    __tablename__ = "dnc_internal_versions"
    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AreaCodeBlock(OrgScoped, Base):
    """Do not call any number in this area code (organization-wide or one campaign)."""

    __tablename__ = "dnc_area_code_blocks"
    __table_args__ = (
        Index(
            "uq_dnc_area_code_blocks_org_code_campaign",
            "org_id",
            "area_code",
            "campaign_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    area_code: Mapped[str] = mapped_column(String(3))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DncRemoval(OrgScoped, Base):
    """The history of a removed internal DNC entry or area-code block: what it was, who added it and why,
    and who removed it, when and why. Removals are also in the audit log."""

    __tablename__ = "dnc_removals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # number | area_code
    value: Mapped[str] = mapped_column(String(16))  # the E.164 number or the area code
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    source: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column()
    removed_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    removed_at: Mapped[datetime] = mapped_column(default=utcnow)
    removal_reason: Mapped[str] = mapped_column(Text)
    # The internal-list versions the entry or block was added and removed at (0: before versions were kept)
    added_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    removed_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class CompliancePolicy(OrgScoped, Base):
    """An organization's own geo rules and API IP firewall (at most one row per organization)."""

    __tablename__ = "dnc_policies"
    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    allowed_countries: Mapped[list[str]] = mapped_column(JSONB_, default=lambda: ["US"])
    blocked_states: Mapped[list[str]] = mapped_column(JSONB_, default=list)
    blocked_area_codes: Mapped[list[str]] = mapped_column(JSONB_, default=list)
    ip_allow_cidrs: Mapped[list[str]] = mapped_column(JSONB_, default=list)  # empty: every address
    ip_deny_cidrs: Mapped[list[str]] = mapped_column(JSONB_, default=list)
    ip_allowed_countries: Mapped[list[str]] = mapped_column(JSONB_, default=list)  # empty: every country
    # A number whose line type nobody knows: "wireless" (fail closed: it needs written consent) or
    # "not_wireless". See dnc.consent.
    unknown_line_type: Mapped[str] = mapped_column(String(16), default="wireless", server_default="wireless")
    # Per-period call caps of every campaign, [{"calls": N, "days": D}] (dnc.caps).
    call_caps: Mapped[list[dict[str, int]]] = mapped_column(JSONB_, default=list, server_default="[]")
    # A revocation stops every call of the organization to the number, whatever seller (FCC 24-24's
    # "revoke all", postponed to 2027-01-31: off by default).
    revoke_all: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScrubReport(OrgScoped, Base):
    """A scrub of a lead file: the CSV report lives in `$CLEARLINE_HOME/dnc/reports/<id>.csv`."""

    __tablename__ = "dnc_scrub_reports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    checked_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="queued")
    source_file: Mapped[str] = mapped_column(String(500), default="")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB_, default=dict)
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentRecord(OrgScoped, Base):
    """A consumer's consent to calls from a seller, with its artifact; revoked in place, deleted only by
    retention, 5 years after its revocation (core/retention.py)."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("kind IN ('none', 'express', 'express_written')", name="kind"),
        Index("ix_consent_records_org_e164", "org_id", "e164"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    e164: Mapped[str] = mapped_column(String(16))
    seller: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # express | express_written | none (a revocation only)
    source: Mapped[str] = mapped_column(String(40))  # lead_import | api | web_form | ...
    given_at: Mapped[datetime] = mapped_column()
    disclosure: Mapped[str] = mapped_column(Text, default="")  # the disclosure text or its URL
    consumer_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    certificate_id: Mapped[str | None] = mapped_column(String(200), default=None)  # e.g. a lead certificate
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_source: Mapped[str | None] = mapped_column(String(40), default=None)
    revoked_note: Mapped[str | None] = mapped_column(Text, default=None)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    honored_at: Mapped[datetime | None] = mapped_column(default=None)  # the first check that refused a call
