"""TOTP multi-factor authentication (RFC 6238 with pyotp): enrolment, codes, recovery codes, org policy.

- A user enrols (`begin_enrolment`: a new secret, shown once as an otpauth URI) and confirms with a code
  (`confirm_enrolment`), which turns MFA on and returns ten one-time recovery codes. The secret is kept
  encrypted (AES-GCM, key derived from the server secret, bound to the user id); recovery codes are kept
  as keyed hashes (HMAC-SHA256 under a key derived from the server secret: they carry 60 random bits, so
  a slow hash adds nothing, and a copy of the table alone cannot test guesses).
- A code is accepted for the current 30 s step and one step either side (clock drift), and only for a
  step later than the last one accepted: a code seen once (shoulder-surfed, phished, replayed) is refused.
- An organization may require MFA for all its users or for some roles (`required_for`); its users who
  have not enrolled then cannot log in until they do (they enrol with their email and password).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.accounts import bump_token_version, forget_account_after_commit
from core.db import utcnow
from core.errors import ConflictError, ValidationError
from core.models import Organization, RecoveryCode, Role, User

ISSUER = "Clearline"
STEP_S = 30
DRIFT_STEPS = 1  # one step either side
RECOVERY_CODES = 10
POLICY_KEY = "mfa_required_roles"
ORG_ROLES = (Role.ORG_ADMIN, Role.MANAGER, Role.AGENT, Role.COMPLIANCE)


def _key(secret_key: str, purpose: bytes) -> bytes:
    return hmac.digest(secret_key.encode(), b"clearline-mfa\x00" + purpose, "sha256")


def encrypt_secret(secret_key: str, totp_secret: str, user_id: uuid.UUID) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret_key, b"secret")).encrypt(nonce, totp_secret.encode(), user_id.bytes)
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def decrypt_secret(secret_key: str, stored: str, user_id: uuid.UUID) -> str:
    if not stored.startswith("v1:"):
        raise ValueError("unknown MFA secret format")
    raw = base64.b64decode(stored[3:])
    try:
        return AESGCM(_key(secret_key, b"secret")).decrypt(raw[:12], raw[12:], user_id.bytes).decode()
    except InvalidTag:
        raise ValueError("MFA secret does not decrypt with this server's key") from None


def accepted_step(totp_secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is valid for at `now` (within the drift), if later than `last_step`; else
    None. Pure: the clock is passed in."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(totp_secret, interval=STEP_S)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def otpauth_uri(totp_secret: str, email: str) -> str:
    return pyotp.TOTP(totp_secret, interval=STEP_S).provisioning_uri(name=email, issuer_name=ISSUER)


# ------------------------------------------------------------------------------ organization policy


def required_roles(settings: dict[str, Any] | None) -> frozenset[Role]:
    return frozenset(Role(r) for r in (settings or {}).get(POLICY_KEY, []) if r in Role._value2member_map_)


def required_for(settings: dict[str, Any] | None, role: Role) -> bool:
    """Whether an organization with these settings requires MFA of a user with this role."""
    return role in required_roles(settings)


def set_policy(session: Session, org: Organization, roles: Iterable[str]) -> frozenset[Role]:
    """Require MFA for these roles of the organization (all four: the whole organization; none: off)."""
    chosen: set[Role] = set()
    for value in roles:
        if value not in {r.value for r in ORG_ROLES}:
            valid = ", ".join(r.value for r in ORG_ROLES)
            raise ValidationError(f"unknown role {value!r}; one of {valid}", field="required_roles")
        chosen.add(Role(value))
    org.settings = {**(org.settings or {}), POLICY_KEY: sorted(r.value for r in chosen)}
    return frozenset(chosen)


# ------------------------------------------------------------------------------ enrolment and codes


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def begin_enrolment(session: Session, user: User, secret_key: str) -> Enrolment:
    """A new secret for the user, not yet in force (the old one, if MFA is on, stays until reset)."""
    if user.mfa_enabled:
        raise ConflictError("multi-factor authentication is already on; an org admin can reset it")
    totp_secret = pyotp.random_base32()
    user.mfa_secret = encrypt_secret(secret_key, totp_secret, user.id)
    user.mfa_last_step = None
    return Enrolment(totp_secret, otpauth_uri(totp_secret, user.email))


def _code_hash(secret_key: str, code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hmac.new(_key(secret_key, b"recovery"), normalized.encode(), hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def confirm_enrolment(session: Session, user: User, code: str, secret_key: str, now: datetime) -> list[str]:
    """Turn MFA on with a first valid code; returns the recovery codes (shown once, stored hashed)."""
    if user.mfa_enabled:
        raise ConflictError("multi-factor authentication is already on")
    if not user.mfa_secret:
        raise ConflictError("start the enrolment first (POST /api/users/me/mfa)")
    step = accepted_step(decrypt_secret(secret_key, user.mfa_secret, user.id), code, now=now, last_step=None)
    if step is None:
        raise ValidationError("the code is not the current one; check the device's clock", field="code")
    user.mfa_enabled, user.mfa_last_step = True, step
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(
        RecoveryCode(user_id=user.id, org_id=user.org_id, code_hash=_code_hash(secret_key, c)) for c in codes
    )
    forget_account_after_commit(session, user.id)
    return codes


def check_second_factor(session: Session, user: User, code: str, secret_key: str, now: datetime) -> bool:
    """Whether `code` (a current TOTP code, or an unused recovery code) passes for this MFA user; the
    accepted step, or the recovery code, is spent in the caller's transaction. The caller holds the user
    row locked (`SELECT ... FOR UPDATE`), so two logins racing with one code cannot both pass."""
    if not user.mfa_enabled or not user.mfa_secret:
        return False
    step = accepted_step(
        decrypt_secret(secret_key, user.mfa_secret, user.id), code, now=now, last_step=user.mfa_last_step
    )
    if step is not None:
        user.mfa_last_step = step
        return True
    spent = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(secret_key, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(RecoveryCode.id)
    ).first()
    return spent is not None


def recovery_codes_left(session: Session, user_id: uuid.UUID) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def reset(session: Session, user: User) -> None:
    """Turn a user's MFA off (a lost device): secret and recovery codes gone, every token voided."""
    user.mfa_secret, user.mfa_enabled, user.mfa_last_step = None, False, None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    bump_token_version(session, user)
    forget_account_after_commit(session, user.id)
