"""The IP firewall middleware: applies each organization's `ip_*` policy rules (`dnc.policy`,
`dnc.firewall`) to every request before authentication, and audits every refusal."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import anyio.to_thread
import msgspec
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy import select

from api.client_ip import client_ip
from core.db import ALL_ORGS
from core.errors import AuthenticationError
from core.models import AuditEntry, User
from core.runtime import Runtime
from core.security import decode_token
from dnc.firewall import decide_ip
from dnc.policy import firewall_rules


def _bearer_org(scope: Scope, runtime: Runtime) -> uuid.UUID | None:
    """The organization a request claims to act for, from a validly signed token (expiry aside: the
    authentication middleware that runs next decides about that)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() != "bearer":
                return None
            for expected in ("access", "refresh"):
                try:
                    return decode_token(
                        runtime.settings.secret_key, token.strip(), expected_kind=expected
                    ).org_id
                except AuthenticationError:
                    continue
    return None


LOGIN_PATH = "/api/auth/login"


async def _peek_login_email(receive: Receive, limit: int) -> tuple[str | None, Receive]:
    """The `email` of a login body, and a `receive` that replays the body to the application."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more and size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    email = None
    if not more:
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            email = data["email"].strip().lower()
    return email, replay


def _login_org(runtime: Runtime, email: str) -> uuid.UUID | None:
    with runtime.db.session(ALL_ORGS) as s:
        org_id: uuid.UUID | None = s.scalar(select(User.org_id).where(User.email == email))
        return org_id


class IPFirewallMiddleware:
    """Refuses requests from addresses the caller's organization does not allow, before authentication,
    and audits every refusal. The organization is the one of a validly signed token, or for a login the
    one of the account it names. X-Forwarded-For is believed only from CLEARLINE_TRUSTED_PROXIES."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        login_email = None
        if scope.get("method") == "POST" and scope["path"] == LOGIN_PATH:
            # The organization of a login is the one of the account it names: read (and replay) the body.
            login_email, receive = await _peek_login_email(receive, runtime.settings.max_request_body_bytes)
        blocked = await anyio.to_thread.run_sync(self._blocked, scope, runtime, login_email)
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
    def _blocked(scope: Scope, runtime: Runtime, login_email: str | None) -> str | None:
        org_id = _login_org(runtime, login_email) if login_email else _bearer_org(scope, runtime)
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
