"""Authentication (JWT bearer tokens), role guards, login/refresh with throttling."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select

from api.client_ip import client_ip
from api.principal import Principal
from core.db import ALL_ORGS, utcnow
from core.errors import AuthenticationError, PermissionDeniedError, TooManyRequestsError
from core.models import AuditEntry, Role, User
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
        try:
            role = Role(claims.role)
        except ValueError as exc:
            raise AuthenticationError("invalid role in token") from exc
        email = await _active_user_email(runtime, claims.user_id)
        principal = Principal(user_id=claims.user_id, org_id=claims.org_id, role=role, email=email)
        return AuthenticationResult(user=principal, auth=claims)


async def _active_user_email(runtime: Runtime, user_id: uuid.UUID) -> str:
    """A deactivated or deleted user's tokens stop working at once, not when they expire."""
    import anyio.to_thread

    def lookup() -> str | None:
        with runtime.db.session(ALL_ORGS) as s:
            row = s.execute(select(User.email, User.is_active).where(User.id == user_id)).one_or_none()
            return row.email if row and row.is_active else None

    email = await anyio.to_thread.run_sync(lookup)
    if email is None:
        raise AuthenticationError("user is not active")
    return email


# ------------------------------------------------------------------------------------------ login


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: str


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    role: str
    org_id: uuid.UUID | None


MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 30
FAILURE_WINDOW_S = 900


def _throttle_keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    return [
        (f"clearline:login-fail:user:{email.lower()}", MAX_FAILURES_PER_USER),
        (f"clearline:login-fail:ip:{ip or '-'}", MAX_FAILURES_PER_IP),
    ]


def _check_throttle(runtime: Runtime, email: str, ip: str | None) -> None:
    for key, limit in _throttle_keys(email, ip):
        count = int(runtime.redis.get(key) or 0)
        if count >= limit:
            ttl = int(runtime.redis.ttl(key))
            raise TooManyRequestsError("too many failed logins; try again later", retry_after=max(ttl, 1))


def _record_failure(runtime: Runtime, email: str, ip: str | None, user: User | None) -> None:
    for key, _ in _throttle_keys(email, ip):
        if runtime.redis.incr(key) == 1:  # the window starts at the first failure (redis 6: no EXPIRE NX)
            runtime.redis.expire(key, FAILURE_WINDOW_S)
    log.warning("failed login for %r from %s", email, ip)
    with runtime.db.session(ALL_ORGS) as s:
        s.add(
            AuditEntry(
                org_id=user.org_id if user else None,
                user_id=user.id if user else None,
                actor=email,
                action="auth.login",
                target=email,
                outcome="denied",
                client_ip=ip,
            )
        )


def _issue_pair(runtime: Runtime, user_id: uuid.UUID, org_id: uuid.UUID | None, role: str) -> TokenPair:
    st = runtime.settings
    return TokenPair(
        access_token=issue_token(
            st.secret_key,
            user_id=user_id,
            org_id=org_id,
            role=role,
            kind="access",
            ttl_s=st.access_token_ttl_s,
        ),
        refresh_token=issue_token(
            st.secret_key,
            user_id=user_id,
            org_id=org_id,
            role=role,
            kind="refresh",
            ttl_s=st.refresh_token_ttl_s,
        ),
        token_type="bearer",
        expires_in=st.access_token_ttl_s,
        role=role,
        org_id=org_id,
    )


def authenticate_password(runtime: Runtime, email: str, password: str, ip: str | None) -> User:
    """The one password login, shared by the API's token login and the console's session login: the
    throttle, the constant-time check of unknown accounts, and the audit row on success and failure.
    Returns the user, detached from its session; raises AuthenticationError or TooManyRequestsError."""
    _check_throttle(runtime, email, ip)
    with runtime.db.session(ALL_ORGS) as s:
        user = s.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
        ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
        if not (ok and user and user.is_active):
            s.expunge_all()
            failed_user = user
        else:
            user.last_login_at = utcnow()
            s.add(
                AuditEntry(
                    org_id=user.org_id,
                    user_id=user.id,
                    actor=user.email,
                    action="auth.login",
                    target=user.email,
                    client_ip=ip,
                )
            )
            s.flush()
            s.expunge(user)
            return user
    _record_failure(runtime, email, ip, failed_user)
    raise AuthenticationError("wrong email or password")


@post("/api/auth/login", opt=PUBLIC, sync_to_thread=True, status_code=200, tags=["auth"])
def login(data: LoginRequest, runtime: Runtime, request: Request[Any, Any, Any]) -> TokenPair:
    ip = client_ip(request.scope, runtime.settings.trusted_proxies)
    user = authenticate_password(runtime, data.email, data.password, ip)
    return _issue_pair(runtime, user.id, user.org_id, user.role.value)


@post("/api/auth/refresh", opt=PUBLIC, sync_to_thread=True, status_code=200, tags=["auth"])
def refresh(data: RefreshRequest, runtime: Runtime) -> TokenPair:
    claims = decode_token(runtime.settings.secret_key, data.refresh_token, expected_kind="refresh")
    with runtime.db.session(ALL_ORGS) as s:
        user = s.get(User, claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("user is not active")
        # Role and org come from the database, not the old token: a demoted user is demoted at refresh.
        return _issue_pair(runtime, user.id, user.org_id, user.role.value)
