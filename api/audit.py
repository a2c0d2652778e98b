"""Every mutating request leaves an audit row: who, organization, action, target, client IP, time, outcome.

The middleware also names the actor (`core.audit_context`) for the whole request, so the rows the
database writes for each change the request makes carry the same user, address and process."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.client_ip import client_ip
from api.principal import Principal
from core.audit_context import Actor, reset_actor, set_actor
from core.db import ALL_ORGS
from core.models import AuditEntry
from core.runtime import Runtime

log = logging.getLogger(__name__)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        ip = client_ip(scope, runtime.settings.trusted_proxies)
        process = "console" if not str(scope.get("path", "")).startswith("/api/") else "api"

        def actor() -> Actor:
            principal = scope.get("user")  # known once the request is authenticated
            if isinstance(principal, Principal):
                return Actor(actor=principal.email, user_id=principal.user_id, process=process, client_ip=ip)
            return Actor(process=process, client_ip=ip)

        token = set_actor(actor)
        try:
            await self._audited(scope, receive, send)
        finally:
            reset_actor(token)

    async def _audited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in MUTATING:
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            principal = scope.get("user")
            if isinstance(principal, Principal):
                await anyio.to_thread.run_sync(self._write, scope, principal, status["code"])

    @staticmethod
    def _write(scope: Any, principal: Principal, status_code: int) -> None:
        runtime: Runtime = scope["app"].state.runtime
        template = scope.get("path_template") or scope["path"]
        path_params = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
        outcome = "ok" if status_code < 400 else ("denied" if status_code in (401, 403) else "error")
        try:
            with runtime.db.session(ALL_ORGS) as s:
                s.add(
                    AuditEntry(
                        org_id=principal.org_id,
                        user_id=principal.user_id,
                        actor=principal.email,
                        process="console" if not scope["path"].startswith("/api/") else "api",
                        action=f"{scope['method']} {template}",
                        target=scope["path"],
                        outcome=outcome,
                        client_ip=client_ip(scope, runtime.settings.trusted_proxies),
                        detail={"status": status_code, "path_params": path_params},
                    )
                )
        except Exception:  # the response is already sent; losing the audit row must at least be loud
            log.exception("could not write audit row for %s %s", scope["method"], scope["path"])
