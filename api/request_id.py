"""Every request gets an id (the caller's X-Request-ID when it is a sane token, else a new one), returned in
the X-Request-ID response header and bound to every log line written while the request runs, with the
caller's organization once authentication has found it (core/logging_json.py)."""

from __future__ import annotations

import re
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.logging_json import log_context

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == HEADER and _SANE.fullmatch(value):
            return value.decode("ascii")
    return None


class RequestIdMiddleware:
    """Outermost: even a request refused before authentication has its id in the logs and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, request_id.encode("ascii"))]
            await send(message)

        with log_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)


class OrgLogContextMiddleware:
    """After authentication: the caller's organization joins the request's log context."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        org_id = getattr(scope.get("user"), "org_id", None) if "user" in scope else None
        if org_id is None:
            await self.app(scope, receive, send)
            return
        with log_context(org_id=org_id):
            await self.app(scope, receive, send)
