"""Routes of a user's own credentials and of the org admin's levers on them: TOTP MFA (enrolment,
confirmation, reset, the organization's policy) and passwords (change, reset, the temporary password's
replacement). The rules live in core/mfa.py and core/credentials.py."""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, get, post, put
from sqlalchemy.orm import Session

from api.auth import PUBLIC, TokenPair, confirm_enrolment, login_user, open_session, reissue_tokens, roles
from api.client_ip import client_ip
from api.principal import Principal
from core import credentials, mfa
from core.accounts import AccountState
from core.db import ALL_ORGS, utcnow
from core.errors import AuthenticationError, NotFoundError, ValidationError
from core.models import Organization, Role, User
from core.runtime import Runtime

ANY_ROLE = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
# Routes that check a password through the login throttle (and so may answer 429)
PUBLIC_THROTTLED = {**PUBLIC, "throttled": True}


class EnrolmentOut(msgspec.Struct):
    secret: str  # base32, for typing into an authenticator app
    otpauth_uri: str  # the same as a URI (the console shows it as a QR code)


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]  # shown once; each logs in once in place of a code


class MfaStatusOut(msgspec.Struct):
    enabled: bool
    required: bool  # by the organization's policy, for this user's role
    recovery_codes_left: int


class CredentialsIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class CredentialsCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    code: str


class MfaPolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    required_roles: list[str]  # roles that must use MFA; all four: the whole organization; []: off


class MfaPolicyOut(msgspec.Struct):
    required_roles: list[str]


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class PasswordReplaceIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str  # the current (e.g. temporary) password
    new_password: str
    totp: str | None = None


class TemporaryPasswordOut(msgspec.Struct):
    temporary_password: str  # shown once: the user must choose a new one at the next login


def _ip(request: Request[Any, Any, Any], runtime: Runtime) -> str | None:
    return client_ip(request.scope, runtime.settings.trusted_proxies)


def _me(session: Session, principal: Principal) -> User:
    user = credentials.user_by_id(session, principal.user_id)
    if user is None:
        raise AuthenticationError("user is not active")
    return user


def _member(session: Session, user_id: uuid.UUID) -> User:
    user = credentials.user_by_id(session, user_id)  # the org-scoped session sees only its own users
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


# ------------------------------------------------------------------------------------------- MFA


@get("/api/users/me/mfa", opt=roles(*ANY_ROLE), sync_to_thread=True, tags=["users"])
def mfa_status(principal: Principal, session: Session) -> MfaStatusOut:
    user = _me(session, principal)
    org = session.get(Organization, user.org_id) if user.org_id else None
    return MfaStatusOut(
        enabled=user.mfa_enabled,
        required=bool(org and mfa.required_for(org.settings, user.role)),
        recovery_codes_left=mfa.recovery_codes_left(session, user.id) if user.mfa_enabled else 0,
    )


@post("/api/users/me/mfa", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=201, tags=["users"])
def enrol_mfa(principal: Principal, session: Session, runtime: Runtime) -> EnrolmentOut:
    """Start enrolling: a new TOTP secret (shown once). MFA is on only after POST /api/users/me/mfa/confirm."""
    found = mfa.begin_enrolment(session, _me(session, principal), runtime.settings.secret_key)
    return EnrolmentOut(secret=found.secret, otpauth_uri=found.otpauth_uri)


@post("/api/users/me/mfa/confirm", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=200, tags=["users"])
def confirm_mfa(data: CodeIn, principal: Principal, session: Session, runtime: Runtime) -> RecoveryCodesOut:
    """Turn MFA on with a current code; from now on a login needs `totp`. Returns the recovery codes."""
    codes = mfa.confirm_enrolment(
        session, _me(session, principal), data.code, runtime.settings.secret_key, utcnow()
    )
    return RecoveryCodesOut(recovery_codes=codes)


@post("/api/auth/mfa/enrol", opt=PUBLIC_THROTTLED, status_code=201, tags=["auth"])
async def enrol_mfa_before_login(
    data: CredentialsIn, runtime: Runtime, request: Request[Any, Any, Any]
) -> EnrolmentOut:
    """For a user whose organization requires MFA and who has not enrolled (login answers
    `mfa_enrolment_required`): start enrolling with the email and password (throttled like a login)."""
    account = await login_user(runtime, data.email, data.password, _ip(request, runtime), password_only=True)

    def run() -> EnrolmentOut:
        with runtime.db.session(ALL_ORGS) as s:
            user = s.get(User, account.user_id)
            assert user is not None
            found = mfa.begin_enrolment(s, user, runtime.settings.secret_key)
            return EnrolmentOut(secret=found.secret, otpauth_uri=found.otpauth_uri)

    return await anyio.to_thread.run_sync(run)


@post("/api/auth/mfa/confirm", opt=PUBLIC_THROTTLED, status_code=200, tags=["auth"])
async def confirm_mfa_before_login(
    data: CredentialsCodeIn, runtime: Runtime, request: Request[Any, Any, Any]
) -> RecoveryCodesOut:
    """The second step of POST /api/auth/mfa/enrol: turn MFA on with a current code; then log in. A wrong
    code (422 on `code`) counts in the login throttle like a wrong login code."""
    ip = _ip(request, runtime)
    account = await login_user(runtime, data.email, data.password, ip, password_only=True)
    confirmed = await confirm_enrolment(runtime, account, data.code, ip, log_in=False)
    return RecoveryCodesOut(confirmed.recovery_codes)


@post("/api/users/{user_id:uuid}/mfa/reset", opt=roles(Role.ORG_ADMIN), sync_to_thread=True, status_code=204,
      tags=["users"])  # fmt: skip
def reset_mfa(user_id: uuid.UUID, session: Session) -> None:
    """A user lost their device: MFA off, recovery codes gone, every token void; they enrol again."""
    mfa.reset(session, _member(session, user_id))


@get(
    "/api/orgs/{org_id:uuid}/mfa-policy",
    opt=roles(Role.ORG_ADMIN),
    sync_to_thread=True,
    tags=["organizations"],
)
def get_mfa_policy(org_id: uuid.UUID, session: Session) -> MfaPolicyOut:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFoundError(f"organization {org_id} not found")
    return MfaPolicyOut(sorted(r.value for r in mfa.required_roles(org.settings)))


@put(
    "/api/orgs/{org_id:uuid}/mfa-policy",
    opt=roles(Role.ORG_ADMIN),
    sync_to_thread=True,
    tags=["organizations"],
)
def put_mfa_policy(org_id: uuid.UUID, data: MfaPolicyIn, session: Session) -> MfaPolicyOut:
    """Require MFA of these roles in the organization (its users who have not enrolled must enrol
    before their next login; sessions already open go on)."""
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFoundError(f"organization {org_id} not found")
    return MfaPolicyOut(sorted(r.value for r in mfa.set_policy(session, org, data.required_roles)))


# ------------------------------------------------------------------------------------- passwords


@post("/api/users/me/password", opt={**roles(*ANY_ROLE), "throttled": True}, status_code=200, tags=["users"])
async def change_password(
    data: PasswordChangeIn, principal: Principal, runtime: Runtime, request: Request[Any, Any, Any]
) -> TokenPair:
    """Change one's password with the current one (checked and throttled like a login). Every other
    session of the user ends; this one goes on with the new tokens returned (the old ones are void)."""
    ip = _ip(request, runtime)
    try:
        await login_user(runtime, principal.email, data.current_password, ip, password_only=True)
    except AuthenticationError:  # a 401 would read as "your token expired"; the failure is counted
        raise ValidationError("the current password is wrong", field="current_password") from None

    def run() -> TokenPair:
        with runtime.db.session(ALL_ORGS) as s:
            user = s.get(User, principal.user_id)
            assert user is not None
            credentials.set_new_password(s, user, data.new_password, old_password=data.current_password,
                                         keep_session=principal.session_id)  # fmt: skip
        if principal.session_id is None:
            raise AuthenticationError("password changed; log in again")
        return reissue_tokens(runtime, principal.session_id)

    return await anyio.to_thread.run_sync(run)


@post("/api/users/{user_id:uuid}/password-reset", opt=roles(Role.ORG_ADMIN), sync_to_thread=True, status_code=200,
      tags=["users"])  # fmt: skip
def reset_password(user_id: uuid.UUID, session: Session) -> TemporaryPasswordOut:
    """A temporary password for the user (hand it over out of band); every session of theirs ends, and
    their next login must replace it (POST /api/auth/password)."""
    return TemporaryPasswordOut(credentials.reset_password(session, _member(session, user_id)))


@post("/api/auth/password", opt=PUBLIC_THROTTLED, status_code=200, tags=["auth"])
async def replace_password(
    data: PasswordReplaceIn, runtime: Runtime, request: Request[Any, Any, Any]
) -> TokenPair:
    """Choose a new password with the current one (the temporary one after a reset; the MFA code too when
    the account has MFA), and log in: answers a token pair. Other sessions end."""
    ip = _ip(request, runtime)
    fresh = await replace_password_and_log_in(
        runtime, data.email, data.password, data.new_password, ip, data.totp
    )
    _, pair = await anyio.to_thread.run_sync(open_session, runtime, fresh, ip)
    return pair


async def replace_password_and_log_in(
    runtime: Runtime, email: str, password: str, new_password: str, ip: str | None, totp: str | None
) -> AccountState:
    """The one "choose a new password" step (POST /api/auth/password, the console's login page): a full
    login with the current (e.g. temporary) password, throttled and audited, then the new password (the
    policy's refusal is a ValidationError on `new_password`). Returns the account as it now is, for the
    caller to open its login session; every other session has ended."""
    account = await login_user(runtime, email, password, ip, totp, replacing_password=True)

    def run() -> AccountState:
        with runtime.db.session(ALL_ORGS) as s:
            user = s.get(User, account.user_id)
            assert user is not None
            credentials.set_new_password(s, user, new_password, old_password=password, keep_session=None)
            return AccountState(user.id, user.org_id, user.role, user.email, True, user.token_version or 0)

    return await anyio.to_thread.run_sync(run)


ROUTES = [
    mfa_status,
    enrol_mfa,
    confirm_mfa,
    enrol_mfa_before_login,
    confirm_mfa_before_login,
    reset_mfa,
    get_mfa_policy,
    put_mfa_policy,
    change_password,
    reset_password,
    replace_password,
]
