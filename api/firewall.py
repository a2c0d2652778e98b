"""The IP firewall middleware: applies each organization's `ip_*` policy rules (`dnc.policy`,
`dnc.firewall`) to every request before authentication, and audits every refusal."""

from __future__ import annotations

import ipaddress
import uuid

import anyio.to_thread
import msgspec
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy import select

from api.client_ip import client_ip
from api.input_guard import read_body
from core.accounts import account_state, normalize_email
from core.db import ALL_ORGS
from core.errors import AuthenticationError
from core.models import AuditEntry, User
from core.runtime import Runtime
from core.security import decode_token
from dnc.firewall import decide_ip
from dnc.policy import firewall_rules


def _bearer_user(scope: Scope, runtime: Runtime) -> uuid.UUID | None:
    """The user a request claims to be, from a validly signed token (expiry, version and session aside:
    the authentication middleware that runs next decides about those)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() != "bearer":
                return None
            return _token_user(runtime, token.strip(), ("access", "refresh"))
    return None


def _token_user(runtime: Runtime, token: str, kinds: tuple[str, ...]) -> uuid.UUID | None:
    for expected in kinds:
        try:
            return decode_token(runtime.settings.secret_key, token, expected_kind=expected).user_id
        except AuthenticationError:
            continue
    return None


LOGIN_PATH = "/api/auth/login"
REFRESH_PATH = "/api/auth/refresh"


async def _peek_body_field(receive: Receive, limit: int, field: str) -> tuple[str | None, Receive]:
    """A string field of a JSON body, and a `receive` that replays the body to the application."""
    body, more, replay = await read_body(receive, limit)
    value = None
    if not more:
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get(field), str):
            value = data[field]
    return value, replay


def _login_org(runtime: Runtime, email: str) -> uuid.UUID | None:
    with runtime.db.session(ALL_ORGS) as s:
        org_id: uuid.UUID | None = s.scalar(select(User.org_id).where(User.email == normalize_email(email)))
        return org_id


def _user_org(runtime: Runtime, user_id: uuid.UUID | None) -> uuid.UUID | None:
    """The organization from the database (as for every request), not the one a token names."""
    account = account_state(runtime.db, user_id) if user_id is not None else None
    return account.org_id if account is not None else None


class IPFirewallMiddleware:
    """Refuses requests from addresses the caller's organization does not allow, before authentication,
    and audits every refusal. The organization is the one of the user of a validly signed token (bearer,
    or the refresh token in a refresh body), or for a login the one of the account it names.
    X-Forwarded-For is believed only from CLEARLINE_TRUSTED_PROXIES (api/client_ip.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        login_email = refresh_token = None
        limit = runtime.settings.max_request_body_bytes
        if scope.get("method") == "POST" and scope["path"] == LOGIN_PATH:
            # The organization of a login is the one of the account it names: read (and replay) the body.
            login_email, receive = await _peek_body_field(receive, limit, "email")
        elif scope.get("method") == "POST" and scope["path"] == REFRESH_PATH:
            # A refresh carries its token in the body: it is as much a request of that user as any other.
            refresh_token, receive = await _peek_body_field(receive, limit, "refresh_token")
        blocked = await anyio.to_thread.run_sync(self._blocked, scope, runtime, login_email, refresh_token)
        if blocked is None:
            await self.app(scope, receive, send)
            return
        body = msgspec.json.encode(
            {
                "type": "https://clearline.dev/problems/403",
                "title": "Forbidden",
                "status": 403,
                "detail": "requests from this address are not allowed for this organization",
                "instance": scope["path"],
            }
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 403, "headers": headers}
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)

    @staticmethod
    def _blocked(
        scope: Scope, runtime: Runtime, login_email: str | None, refresh_token: str | None
    ) -> str | None:
        if login_email:
            org_id = _login_org(runtime, login_email)
        elif refresh_token:
            org_id = _user_org(runtime, _token_user(runtime, refresh_token.strip(), ("refresh",)))
        else:
            org_id = _user_org(runtime, _bearer_user(scope, runtime))
        if org_id is None:
            return None
        policy = firewall_rules(runtime.db, org_id)
        ip = client_ip(scope, runtime.settings.trusted_proxies)
        decision = decide_ip(
            ip,
            allow_cidrs=policy.ip_allow_cidrs,
            deny_cidrs=policy.ip_deny_cidrs,
            allowed_countries=policy.ip_allowed_countries,
        )
        if decision.allowed:
            return None
        with runtime.db.session(ALL_ORGS) as s:
            s.add(
                AuditEntry(
                    org_id=org_id,
                    actor="",
                    action="ip_firewall.block",
                    target=scope["path"],
                    outcome="denied",
                    client_ip=ip if ip and _is_ip(ip) else None,
                    detail={"rule": decision.rule, "method": scope.get("method", "")},
                )
            )
        return decision.rule


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
