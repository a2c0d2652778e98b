"""Every mutating request leaves an audit row: who, organization, action, target, client IP, time, outcome."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.client_ip import client_ip
from api.principal import Principal
from core.db import ALL_ORGS
from core.models import AuditEntry
from core.runtime import Runtime

log = logging.getLogger(__name__)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in MUTATING:
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
                        action=f"{scope['method']} {template}",
                        target=scope["path"],
                        outcome=outcome,
                        client_ip=client_ip(scope, runtime.settings.trusted_proxies),
                        detail={"status": status_code, "path_params": path_params},
                    )
                )
        except Exception:  # the response is already sent; losing the audit row must at least be loud
            log.exception("could not write audit row for %s %s", scope["method"], scope["path"])
