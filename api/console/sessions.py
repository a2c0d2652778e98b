"""Console sessions: an opaque cookie naming a server-side record in Redis, and its CSRF token.

The cookie holds 32 random bytes; Redis holds only their SHA-256, so a dump of Redis cannot be replayed
as a cookie. Logging out deletes the record, so a copied cookie stops working at once. Every state-changing
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

from api.auth import start_session
from core.accounts import AccountState
from core.runtime import Runtime

SESSION_COOKIE = "clearline_session"
LOGIN_CSRF_COOKIE = "clearline_login_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_S = 12 * 3600  # one long shift; the session ends at the latest this long after login
_KEY_PREFIX = "clearline:console-session:"


@dataclass(frozen=True)
class ConsoleSession:
    user_id: uuid.UUID
    csrf_token: str
    created_at: float
    # The login session row it belongs to (the API's too) and the user's token version at login: a logout
    # elsewhere, a revocation or a password/role change ends the console session as it ends tokens.
    auth_session_id: uuid.UUID
    token_version: int


def _key(token: str) -> str:
    return _KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def open_session(runtime: Runtime, account: AccountState, ip: str | None) -> tuple[str, ConsoleSession]:
    """A new session for a user `api.auth.login_user` accepted; returns the cookie value."""
    auth_session_id, _ = start_session(runtime, account, ip, SESSION_TTL_S)
    token = new_token()
    session = ConsoleSession(
        user_id=account.user_id,
        csrf_token=new_token(),
        created_at=time.time(),
        auth_session_id=auth_session_id,
        token_version=account.token_version,
    )
    record = {
        "user_id": str(account.user_id),
        "csrf": session.csrf_token,
        "created_at": session.created_at,
        "auth_session_id": str(auth_session_id),
        "token_version": account.token_version,
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
        csrf_token=record["csrf"],
        created_at=record["created_at"],
        auth_session_id=uuid.UUID(record["auth_session_id"]),
        token_version=int(record["token_version"]),
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
