"""Console sessions: an opaque cookie naming a server-side record in Redis, and its CSRF token.

The cookie holds 32 random bytes; Redis holds only their SHA-256, so a dump of Redis cannot be replayed
as a cookie. Each console session belongs to a login session of the API's (`core.models.AuthSession`,
opened by `api.auth.open_session`): logging out (here, or everywhere through the API) revokes it, and a
copied cookie stops working at once, as does any session of a user whose password, role or status
changed (their token version). Every state-changing
console request must echo the session's CSRF token in the `X-CSRF-Token` header (htmx adds it to every
request from the `<meta name="csrf-token">` of the page); the login form, which has no session yet, uses
a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request

from core.runtime import Runtime

SESSION_COOKIE = "clearline_session"
LOGIN_CSRF_COOKIE = "clearline_login_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_S = 12 * 3600  # one long shift; the session ends at the latest this long after login
_KEY_PREFIX = "clearline:console-session:"


@dataclass(frozen=True)
class ConsoleSession:
    user_id: uuid.UUID
    token_version: int  # the account's version at login: a password, role or status change ends it
    auth_session_id: uuid.UUID  # the login session (core.models.AuthSession) it belongs to
    org_name: str
    csrf_token: str
    created_at: float


def _key(token: str) -> str:
    return _KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def open_session(
    runtime: Runtime, *, user_id: uuid.UUID, token_version: int, auth_session_id: uuid.UUID, org_name: str
) -> tuple[str, ConsoleSession]:
    """A new console session for a user who has just logged in; returns the cookie value."""
    token = new_token()
    session = ConsoleSession(
        user_id=user_id,
        token_version=token_version,
        auth_session_id=auth_session_id,
        org_name=org_name,
        csrf_token=new_token(),
        created_at=time.time(),
    )
    record = {
        "user_id": str(user_id),
        "token_version": token_version,
        "auth_session_id": str(auth_session_id),
        "org_name": org_name,
        "csrf": session.csrf_token,
        "created_at": session.created_at,
    }
    runtime.redis.set(_key(token), json.dumps(record), ex=SESSION_TTL_S)
    return token, session


def load_session(runtime: Runtime, token: str | None) -> ConsoleSession | None:
    if not token or len(token) > 128:
        return None
    raw = runtime.redis.get(_key(token))
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return ConsoleSession(
        user_id=uuid.UUID(record["user_id"]),
        token_version=int(record["token_version"]),
        auth_session_id=uuid.UUID(record["auth_session_id"]),
        org_name=record["org_name"],
        csrf_token=record["csrf"],
        created_at=record["created_at"],
    )


def close_session(runtime: Runtime, token: str | None) -> None:
    if token:
        runtime.redis.delete(_key(token))


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def cookie_is_secure(request: Request[Any, Any, Any], runtime: Runtime) -> bool:
    """Secure cookies whenever the console is reached over TLS (directly, or per the public URL when a
    TLS-terminating proxy sits in front)."""
    return request.url.scheme == "https" or runtime.settings.public_base_url.startswith("https://")


def cookie_options(request: Request[Any, Any, Any], runtime: Runtime) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": cookie_is_secure(request, runtime),
        "path": "/",
    }


# ------------------------------------------------------------------ the restricted MFA enrolment step

ENROLMENT_COOKIE = "clearline_mfa_enrolment"
ENROLMENT_PATH = "/console/login/mfa"  # the cookie is sent to the enrolment step only
ENROLMENT_TTL_S = 600
_ENROLMENT_PREFIX = "clearline:console-mfa-enrolment:"


@dataclass(frozen=True)
class PendingEnrolment:
    """A user whose password was right but whose organization requires MFA they have not set up: they may
    do one thing, confirm an enrolment. It is not a session: no page or route but the enrolment step reads
    its cookie (a different name, sent only to ENROLMENT_PATH), and it lasts ENROLMENT_TTL_S."""

    user_id: uuid.UUID
    org_id: uuid.UUID | None
    role: str
    email: str
    token_version: int
    csrf_token: str
    next: str


def open_enrolment(runtime: Runtime, pending: PendingEnrolment) -> str:
    token = new_token()
    record = {**pending.__dict__, "user_id": str(pending.user_id),
              "org_id": str(pending.org_id) if pending.org_id else None}  # fmt: skip
    runtime.redis.set(_ENROLMENT_PREFIX + _key(token), json.dumps(record), ex=ENROLMENT_TTL_S)
    return token


def load_enrolment(runtime: Runtime, token: str | None) -> PendingEnrolment | None:
    if not token or len(token) > 128:
        return None
    raw = runtime.redis.get(_ENROLMENT_PREFIX + _key(token))
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return PendingEnrolment(**{**record, "user_id": uuid.UUID(record["user_id"]),
                               "org_id": uuid.UUID(record["org_id"]) if record["org_id"] else None})  # fmt: skip


def close_enrolment(runtime: Runtime, token: str | None) -> None:
    if token:
        runtime.redis.delete(_ENROLMENT_PREFIX + _key(token))
