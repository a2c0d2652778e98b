"""Tables of the foundation: organizations, users, audit log, jobs."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, TenantRoot, utcnow

JsonDict = dict[str, Any]
JSONB_ = JSON().with_variant(JSONB(), "postgresql")


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    ORG_ADMIN = "org_admin"
    MANAGER = "manager"
    AGENT = "agent"
    COMPLIANCE = "compliance"


class Organization(TenantRoot, Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    settings: Mapped[JsonDict] = mapped_column(JSONB_, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(OrgScoped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # NULL only for platform admins, who span every organization.
    org_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=True
    )
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=lambda e: [m.value for m in e])
    )
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Every token carries the version it was issued at; bumping it (password change, deactivation, role
    # change, MFA reset, "log out everywhere") voids all of the user's tokens at once.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # TOTP (core.mfa): the secret, encrypted with a key derived from the server secret; enabled once the
    # user confirmed a code; the last time step accepted (a code is never accepted twice).
    mfa_secret: Mapped[str | None] = mapped_column(Text, default=None)
    mfa_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Set by an org admin's password reset: the temporary password only lets the user choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default="false")


class RecoveryCode(Base):
    """One-time MFA recovery codes, stored as argon2 hashes; `used_at` set when spent."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), default=None
    )
    code_hash: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(Base):
    """One login: the family of refresh tokens that descend from it. Only the newest refresh token of a
    family (`refresh_jti`) is valid; presenting an older one means it was copied, and ends the family.
    Access tokens name their session, so logging out ends them at once too. Not organization data: it
    belongs to a user (platform admins have no organization)."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    refresh_jti: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Absolute: refreshing never extends a session past the refresh-token lifetime counted from login.
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoke_reason: Mapped[str] = mapped_column(String(40), default="")
    client_ip: Mapped[str | None] = mapped_column(INET, default=None)


class AuditEntry(OrgScoped, Base):
    """Who did what to which thing, from where and when: a row for every mutating request (api/audit.py),
    for every change of an audited table whatever made it (a trigger, core/audit.py), and for logins, CLI
    commands and bulk imports. Append-only in the database, except for the retention job."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_org_at", "org_id", "at"),
        Index("ix_audit_log_org_id_id", "org_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("organizations.id", ondelete="SET NULL"), nullable=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(254), default="")
    # which process made the change: "api", "cli create-org", "job dnc_import <id>", "clearline-dialer" ...
    process: Mapped[str] = mapped_column(String(200), default="", server_default="")
    action: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(40), default="ok")
    client_ip: Mapped[str | None] = mapped_column(INET, default=None)
    detail: Mapped[JsonDict] = mapped_column(JSONB_, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(OrgScoped, Base):
    """Progress of one long-running job (imports, purges, reports)."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", values_callable=lambda e: [m.value for m in e]),
        default=JobStatus.QUEUED,
    )
    progress_pct: Mapped[float] = mapped_column(default=0.0)
    counts: Mapped[JsonDict] = mapped_column(JSONB_, default=dict)
    params: Mapped[JsonDict] = mapped_column(JSONB_, default=dict)
    result: Mapped[JsonDict] = mapped_column(JSONB_, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # "host:pid" of the job-worker process running it; a running job whose worker is gone is retried
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # the dramatiq message that runs it (actor, queue, args), sent again when the job is retried
    message: Mapped[JsonDict | None] = mapped_column(JSONB_, default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class StoredFileRow(Base):
    """One file of the shared file store (`core.file_store.PostgresFileStore`). `key` is NULL while the
    file is being written, so no reader can find a half-written file; `org_id` names the organization it
    belongs to (NULL: platform files such as a national DNC index), and deleting the organization deletes
    its files."""

    __tablename__ = "stored_files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, default=None
    )
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoredFileChunk(Base):
    """The bytes of a stored file, in chunks of `core.file_store.CHUNK_BYTES` (the last one shorter)."""

    __tablename__ = "stored_file_chunks"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stored_files.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
