"""Who is using the console: the session cookie, checked on every request, and the CSRF rule.

The session only names the user and their login session; `api.auth.principal_for`, the bearer tokens'
own check, reads role, organization and the active flag from the database on every request (a
deactivated or demoted user is so at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.auth import principal_for
from api.console.sessions import CSRF_HEADER, SESSION_COOKIE, ConsoleSession, load_session, tokens_match
from core.errors import AuthenticationError, PermissionDeniedError
from core.models import Role
from core.runtime import Runtime

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

ROLE_LABELS = {
    Role.PLATFORM_ADMIN: "Platform admin",
    Role.ORG_ADMIN: "Organization admin",
    Role.MANAGER: "Campaign manager",
    Role.AGENT: "Agent",
    Role.COMPLIANCE: "Compliance",
}


class CSRFRefusedError(PermissionDeniedError):
    title = "Request refused"


@dataclass(frozen=True)
class ConsoleUser:
    """What the header shows, and the session's CSRF token the page embeds."""

    email: str
    role: Role
    org_name: str
    session: ConsoleSession

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


class ConsoleSessionMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        runtime: Runtime = connection.app.state.runtime
        session = await anyio.to_thread.run_sync(
            load_session, runtime, connection.cookies.get(SESSION_COOKIE)
        )
        if session is None:
            raise AuthenticationError("please log in")
        # The API's own check: active user, unchanged token version, login session not revoked.
        principal = await anyio.to_thread.run_sync(
            principal_for, runtime, session.user_id, session.token_version, session.auth_session_id
        )
        if connection.scope.get("method") in STATE_CHANGING and not tokens_match(
            session.csrf_token, connection.headers.get(CSRF_HEADER)
        ):
            raise CSRFRefusedError(
                "this request did not carry the page's security token (CSRF); reload the page and try again"
            )
        user = ConsoleUser(
            email=principal.email, role=principal.role, org_name=session.org_name, session=session
        )
        return AuthenticationResult(user=principal, auth=user)
