"""Authentication: login, sessions (refresh-token rotation), logout, bearer tokens, role guards.

The two functions every way of logging in must share live here:
- `login_user` checks an email and password (normalization, throttling, audit, alarms) - the token route
  and the console's cookie login both call it;
- `principal_for` turns a user id + token version + session id into the caller, reading role,
  organization and activity from the database (briefly cached) - the bearer middleware and the
  console's cookie sessions both call it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import login_throttle
from api.client_ip import client_ip
from api.principal import Principal
from core import mfa
from core.accounts import (
    AccountState,
    account_state,
    bump_token_version,
    forget_session_after_commit,
    normalize_email,
    session_is_live,
)
from core.db import ALL_ORGS, utcnow
from core.errors import (
    AuthenticationError,
    ClearlineError,
    MfaEnrolmentRequiredError,
    MfaRequiredError,
    PasswordChangeRequiredError,
    PermissionDeniedError,
    TooManyRequestsError,
    ValidationError,
)
from core.models import AuditEntry, AuthSession, Organization, Role, User
from core.passwords import MAX_PASSWORD
from core.runtime import Runtime
from core.security import DUMMY_HASH, decode_token, issue_token, verify_password

log = logging.getLogger(__name__)

PUBLIC = {"exclude_from_auth": True, "public": True}


def roles(*allowed: Role) -> dict[str, Any]:
    """Handler options that declare who may call a route (platform admins always may)."""
    return {"roles": tuple(r.value for r in allowed)}


def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Applied to every route: public routes are marked so; all others must declare their roles."""
    if handler.opt.get("public") or connection.scope["path"].startswith("/schema"):
        return  # public routes, and the OpenAPI document itself
    allowed = handler.opt.get("roles")
    if allowed is None:  # fail closed: a route that forgot to declare its roles is reachable by nobody
        raise PermissionDeniedError(f"route {handler.handler_name} declares no roles")
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise AuthenticationError("authentication required")
    if principal.is_platform_admin or principal.role.value in allowed:
        return
    raise PermissionDeniedError(f"role {principal.role.value} may not do this")


class JWTAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        runtime: Runtime = connection.app.state.runtime
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("missing bearer token")
        claims = decode_token(runtime.settings.secret_key, token.strip(), expected_kind="access")
        principal = await anyio.to_thread.run_sync(
            principal_for, runtime, claims.user_id, claims.version, claims.session_id
        )
        return AuthenticationResult(user=principal, auth=claims)


def principal_for(
    runtime: Runtime, user_id: uuid.UUID, token_version: int, session_id: uuid.UUID | None
) -> Principal:
    """The caller as the database sees it now. Refuses a deleted or deactivated user, a token issued
    before the user's last token-version bump, and a session that was logged out, revoked or expired.
    Role and organization come from the database (cached ACCOUNT_CACHE_TTL_S), never from the token."""
    account = account_state(runtime.db, user_id)
    if account is None or not account.is_active:
        raise AuthenticationError("user is not active")
    if token_version != account.token_version:
        raise AuthenticationError("token was revoked (password, role or status changed); log in again")
    if session_id is not None and not session_is_live(runtime.db, session_id):
        raise AuthenticationError("session ended; log in again")
    return Principal(
        user_id=account.user_id,
        org_id=account.org_id,
        role=account.role,
        email=account.email,
        session_id=session_id,
    )


# ------------------------------------------------------------------------------------------ login


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    totp: str | None = None  # the current TOTP code, or a recovery code, for an account with MFA


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: str


class LogoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    all_sessions: bool = False  # True: end every session of the user, on every device


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    role: str
    org_id: uuid.UUID | None


async def login_user(
    runtime: Runtime,
    email: str,
    password: str,
    ip: str | None,
    totp: str | None = None,
    *,
    password_only: bool = False,
    replacing_password: bool = False,
) -> AccountState:
    """Check an email, password and (for an MFA account) code; the one login check (API tokens, console
    cookies; with `password_only` the password alone, for MFA enrolment before a first login and for
    password changes, which then audit what they change); with `replacing_password` a full login that
    lets a temporary password through (POST /api/auth/password replaces it).

    Throttled per (account, IP) with growing delays, per IP, and slowed down (never locked) per account;
    every failure (a wrong code too) is audited and a burst on one account raises an alarm. Raises
    AuthenticationError (401, the same for an unknown email and a wrong password; problem types
    `mfa_required`, `mfa_enrolment_required`, `password_change_required` once the password is right) or
    TooManyRequestsError (429)."""
    email = normalize_email(email)
    await _pass_throttle(runtime, email, ip)
    return await anyio.to_thread.run_sync(
        lambda: _check_credentials(
            runtime, email, password, ip, totp, password_only=password_only, replacing=replacing_password
        )
    )


async def _pass_throttle(runtime: Runtime, email: str, ip: str | None) -> None:
    """Refuse (429) or hold back an attempt the login throttle says must wait: every check of a password
    or a code goes through here first."""
    verdict = await anyio.to_thread.run_sync(login_throttle.check, runtime.redis, email, ip)
    if verdict.retry_after_s > 0:
        raise TooManyRequestsError(
            "too many failed logins; try again later", retry_after=verdict.retry_after_s
        )
    if verdict.slowdown_s > 0:
        await anyio.sleep(verdict.slowdown_s)  # async: holding back an answer costs no thread


class _WrongCode(AuthenticationError):
    pass


class MfaEnrolmentPending(MfaEnrolmentRequiredError):
    """`mfa_enrolment_required`, carrying the account whose password was right: the console takes the user
    to its restricted enrolment step with it (the API answers the same 401 as its parent)."""

    def __init__(self, message: str, account: AccountState) -> None:
        super().__init__(message)
        self.account = account


def _second_factor(
    runtime: Runtime, s: Session, user: User, totp: str | None, account: AccountState
) -> ClearlineError | None:
    """None when the user may log in as far as MFA goes, else why not."""
    if user.mfa_enabled:
        if not totp:
            return MfaRequiredError(
                "this account uses multi-factor authentication: send the current code (or a recovery code) "
                "as `totp`"
            )
        # Lock the row: two logins racing with one code must not both spend it.
        s.scalars(select(User).where(User.id == user.id).with_for_update()).one()
        if mfa.check_second_factor(s, user, totp, runtime.settings.secret_key, utcnow()):
            return None
        return _WrongCode("wrong email, password or code")
    org = s.get(Organization, user.org_id) if user.org_id else None
    if org is not None and mfa.required_for(org.settings, user.role):
        return MfaEnrolmentPending(
            "your organization requires multi-factor authentication: enrol with POST /api/auth/mfa/enrol "
            "(email and password), confirm with POST /api/auth/mfa/confirm, then log in with the code",
            account,
        )
    return None


def _check_credentials(
    runtime: Runtime,
    email: str,
    password: str,
    ip: str | None,
    totp: str | None,
    *,
    password_only: bool,
    replacing: bool = False,
) -> AccountState:
    refusal: ClearlineError | None = None
    with runtime.db.session(ALL_ORGS) as s:
        user = s.scalars(select(User).where(User.email == email)).one_or_none()
        # Over-long passwords are refused unhashed, after the same work as a wrong one would cost.
        candidate = password if len(password) <= MAX_PASSWORD else ""
        ok = verify_password(user.password_hash if user else DUMMY_HASH, candidate) and bool(candidate)
        if ok and user is not None and user.is_active:
            account = AccountState(user.id, user.org_id, user.role, user.email, True, user.token_version or 0)
            if password_only:
                return account  # MFA enrolment, password change: those routes audit what they change
            refusal = _second_factor(runtime, s, user, totp, account)
            if refusal is None and user.must_change_password and not replacing:
                refusal = PasswordChangeRequiredError(
                    "this is a temporary password: choose a new one with POST /api/auth/password"
                )
            if refusal is None:
                _record_login(runtime, s, user, ip)
                return account
            if not isinstance(refusal, _WrongCode):  # the password was right; the client has a step to do
                s.add(AuditEntry(org_id=user.org_id, user_id=user.id, actor=user.email, action="auth.login",
                                 target=user.email, outcome="denied", client_ip=ip,
                                 detail={"reason": getattr(refusal, "problem_type", "")}))  # fmt: skip
        failed = (user.org_id, user.id) if user is not None else (None, None)
    if refusal is not None and not isinstance(refusal, _WrongCode):
        raise refusal
    _record_failure(runtime, email, ip, *failed, reason="wrong code" if refusal else "wrong password")
    raise refusal or AuthenticationError("wrong email or password")


def _record_login(runtime: Runtime, s: Session, user: User, ip: str | None) -> None:
    """An accepted login: audited, its (account, IP) throttle counter cleared."""
    user.last_login_at = utcnow()
    s.add(AuditEntry(org_id=user.org_id, user_id=user.id, actor=user.email, action="auth.login",
                     target=user.email, client_ip=ip, detail={"mfa": user.mfa_enabled}))  # fmt: skip
    login_throttle.record_success(runtime.redis, user.email, ip)


@dataclass(frozen=True)
class ConfirmedEnrolment:
    account: AccountState
    recovery_codes: list[str]  # shown once
    logged_in: bool  # False: the password is a temporary one, to replace at the next login first


async def confirm_enrolment(
    runtime: Runtime, account: AccountState, code: str, ip: str | None, *, log_in: bool
) -> ConfirmedEnrolment:
    """The last step of enrolling before a first login, for an account whose password was just checked
    (POST /api/auth/mfa/confirm; the console's restricted enrolment step after its login form): the first
    code turns MFA on (`core.mfa.confirm_enrolment`) and answers the recovery codes. The code goes through
    the login throttle, and a wrong one counts in it and is audited like a wrong login code (then a
    ValidationError on `code`). With `log_in` the confirmation is the login itself (audited as such), for
    the caller to open a session, unless the password is a temporary one. An account changed meanwhile
    (deactivated, reset: its token version moved) is refused."""
    await _pass_throttle(runtime, account.email, ip)
    return await anyio.to_thread.run_sync(lambda: _confirm_enrolment(runtime, account, code, ip, log_in))


def _confirm_enrolment(
    runtime: Runtime, account: AccountState, code: str, ip: str | None, log_in: bool
) -> ConfirmedEnrolment:
    with runtime.db.session(ALL_ORGS) as s:
        # Locked: two confirmations racing with one code must not both pass.
        user = s.scalars(select(User).where(User.id == account.user_id).with_for_update()).one_or_none()
        if user is None or not user.is_active or (user.token_version or 0) != account.token_version:
            raise AuthenticationError("the account changed since the password was checked; log in again")
        try:
            codes = mfa.confirm_enrolment(s, user, code, runtime.settings.secret_key, utcnow())
        except ValidationError as exc:
            wrong = exc
        else:
            logged_in = log_in and not user.must_change_password
            if logged_in:
                _record_login(runtime, s, user, ip)
            return ConfirmedEnrolment(account, codes, logged_in)
    _record_failure(runtime, account.email, ip, account.org_id, account.user_id, reason="wrong code")
    raise wrong


def _record_failure(
    runtime: Runtime,
    email: str,
    ip: str | None,
    org_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    *,
    reason: str = "wrong password",
) -> None:
    account_failures = login_throttle.record_failure(runtime.redis, email, ip)
    log.warning("failed login for %r from %s (%d on this account in the window)", email, ip, account_failures)
    with runtime.db.session(ALL_ORGS) as s:
        s.add(AuditEntry(org_id=org_id, user_id=user_id, actor=email, action="auth.login", target=email,
                         outcome="denied", client_ip=ip, detail={"reason": reason}))  # fmt: skip
        if login_throttle.is_alarm_point(account_failures):
            log.error(
                "ALARM: login burst on account %r: %d failed logins in %d s from several addresses; "
                "answers on this account are now slowed down",
                email, account_failures, login_throttle.WINDOW_S,
            )  # fmt: skip
            s.add(AuditEntry(org_id=org_id, user_id=user_id, actor="", action="security.login_burst",
                             target=email, outcome="alarm", client_ip=ip,
                             detail={"failures": account_failures, "window_s": login_throttle.WINDOW_S}))  # fmt: skip


def _tokens(
    runtime: Runtime, account: AccountState, session_id: uuid.UUID, refresh_jti: str, refresh_ttl_s: int
) -> TokenPair:
    st = runtime.settings
    common = {"user_id": account.user_id, "org_id": account.org_id, "role": account.role.value,
              "version": account.token_version, "session_id": session_id}  # fmt: skip
    return TokenPair(
        access_token=issue_token(st.secret_key, kind="access", ttl_s=st.access_token_ttl_s, **common),  # type: ignore[arg-type]
        refresh_token=issue_token(
            st.secret_key,
            kind="refresh",
            ttl_s=refresh_ttl_s,
            token_id=refresh_jti,
            **common,  # type: ignore[arg-type]
        ),
        token_type="bearer",
        expires_in=st.access_token_ttl_s,
        role=account.role.value,
        org_id=account.org_id,
    )


def start_session(
    runtime: Runtime, account: AccountState, ip: str | None, ttl_s: int
) -> tuple[uuid.UUID, str]:
    """A new login session row for a user `login_user` accepted (API tokens and console cookies alike,
    so logout, revocation and token-version bumps end both); returns its id and refresh-token id."""
    jti = uuid.uuid4().hex
    with runtime.db.session(ALL_ORGS) as s:
        session = AuthSession(user_id=account.user_id, refresh_jti=jti,
                              expires_at=utcnow() + timedelta(seconds=ttl_s), client_ip=ip)  # fmt: skip
        s.add(session)
        s.flush()
        return session.id, jti


def open_session(runtime: Runtime, account: AccountState, ip: str | None) -> tuple[uuid.UUID, TokenPair]:
    """A new login session for a user `login_user` accepted, and its first token pair."""
    ttl = runtime.settings.refresh_token_ttl_s
    session_id, jti = start_session(runtime, account, ip, ttl)
    return session_id, _tokens(runtime, account, session_id, jti, ttl)


def refresh_session(runtime: Runtime, refresh_token: str, ip: str | None) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair issued. A refresh token that was
    already spent is a copy in someone else's hands: the whole session is revoked (logged, audited)."""
    claims = decode_token(runtime.settings.secret_key, refresh_token, expected_kind="refresh")
    if claims.session_id is None:
        raise AuthenticationError("refresh token belongs to no session; log in again")
    reused = False
    with runtime.db.session(ALL_ORGS) as s:
        session = s.scalars(
            select(AuthSession).where(AuthSession.id == claims.session_id).with_for_update()
        ).one_or_none()
        if session is None or session.user_id != claims.user_id or session.revoked_at is not None:
            raise AuthenticationError("session ended; log in again")
        if session.refresh_jti != claims.token_id:
            reused = True
            session.revoked_at, session.revoke_reason = utcnow(), "refresh token reused"
            forget_session_after_commit(s, session.id)
            s.add(AuditEntry(user_id=session.user_id, action="security.refresh_reuse", target=str(session.id),
                             outcome="alarm", client_ip=ip))  # fmt: skip
        else:
            remaining = int((session.expires_at - utcnow()).total_seconds())
            if remaining <= 0:
                raise AuthenticationError("session expired; log in again")
            user = s.get(User, session.user_id)
            if user is None or not user.is_active or (user.token_version or 0) != claims.version:
                raise AuthenticationError("token was revoked; log in again")
            session.refresh_jti, session.last_used_at = uuid.uuid4().hex, utcnow()
            account = AccountState(user.id, user.org_id, user.role, user.email, True, user.token_version or 0)
            jti = session.refresh_jti
    if reused:
        log.error("ALARM: refresh token of session %s reused from %s: session revoked", claims.session_id, ip)
        raise AuthenticationError("refresh token already used; the session was ended, log in again")
    return _tokens(
        runtime, account, claims.session_id, jti, min(remaining, runtime.settings.refresh_token_ttl_s)
    )


def reissue_tokens(runtime: Runtime, session_id: uuid.UUID) -> TokenPair:
    """New tokens for a live session, at the user's current token version (after the user's own password
    change voided the old ones): the session goes on, its old refresh token is spent."""
    with runtime.db.session(ALL_ORGS) as s:
        session = s.scalars(select(AuthSession).where(AuthSession.id == session_id).with_for_update()).one()
        user = s.get(User, session.user_id)
        if user is None or session.revoked_at is not None:
            raise AuthenticationError("session ended; log in again")
        session.refresh_jti, session.last_used_at = uuid.uuid4().hex, utcnow()
        remaining = int((session.expires_at - utcnow()).total_seconds())
        account = AccountState(user.id, user.org_id, user.role, user.email, True, user.token_version or 0)
        jti = session.refresh_jti
    return _tokens(
        runtime, account, session_id, jti, max(1, min(remaining, runtime.settings.refresh_token_ttl_s))
    )


def end_sessions(runtime: Runtime, principal: Principal, *, all_sessions: bool) -> None:
    """Log out: the caller's session (its access and refresh tokens stop working at once), or with
    `all_sessions` every session of the user (a token-version bump)."""
    with runtime.db.session(ALL_ORGS) as s:
        if all_sessions:
            user = s.get(User, principal.user_id)
            if user is not None:
                bump_token_version(s, user)
            s.execute(update(AuthSession).where(AuthSession.user_id == principal.user_id,
                                                AuthSession.revoked_at.is_(None))
                      .values(revoked_at=utcnow(), revoke_reason="logout everywhere"))  # fmt: skip
        if principal.session_id is not None:
            s.execute(update(AuthSession).where(AuthSession.id == principal.session_id,
                                                AuthSession.revoked_at.is_(None))
                      .values(revoked_at=utcnow(), revoke_reason="logout"))  # fmt: skip
            forget_session_after_commit(s, principal.session_id)


@post("/api/auth/login", opt=PUBLIC, status_code=200, tags=["auth"])
async def login(data: LoginRequest, runtime: Runtime, request: Request[Any, Any, Any]) -> TokenPair:
    ip = client_ip(request.scope, runtime.settings.trusted_proxies)
    account = await login_user(runtime, data.email, data.password, ip, data.totp)
    _, pair = await anyio.to_thread.run_sync(open_session, runtime, account, ip)
    return pair


@post("/api/auth/refresh", opt=PUBLIC, sync_to_thread=True, status_code=200, tags=["auth"])
def refresh(data: RefreshRequest, runtime: Runtime, request: Request[Any, Any, Any]) -> TokenPair:
    return refresh_session(
        runtime, data.refresh_token, client_ip(request.scope, runtime.settings.trusted_proxies)
    )


@post(
    "/api/auth/logout",
    opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.AGENT, Role.COMPLIANCE),
    sync_to_thread=True,
    status_code=204,
    tags=["auth"],
)
def logout(principal: Principal, runtime: Runtime, data: LogoutRequest | None = None) -> None:
    end_sessions(runtime, principal, all_sessions=bool(data and data.all_sessions))
