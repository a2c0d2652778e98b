"""Who is using the console: the session cookie, checked on every request, and the CSRF rule.

The session only names the user; role, organization and the active flag are read from the database on
every request, exactly like the API's bearer tokens (a deactivated or demoted user is so at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select

from api.auth import principal_for
from api.console.sessions import CSRF_HEADER, SESSION_COOKIE, ConsoleSession, load_session, tokens_match
from api.principal import Principal
from core.db import ALL_ORGS
from core.errors import AuthenticationError, PermissionDeniedError
from core.models import Organization, Role
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


def _lookup(runtime: Runtime, session: ConsoleSession) -> tuple[Principal, str]:
    """The caller as the database sees it now, by the same check as a bearer token (`principal_for`:
    active user, current token version, live login session), and the name of their organization."""
    principal = principal_for(runtime, session.user_id, session.token_version, session.auth_session_id)
    if principal.org_id is None:
        return principal, "All organizations"
    with runtime.db.session(ALL_ORGS) as s:
        name = s.scalar(select(Organization.name).where(Organization.id == principal.org_id))
    return principal, name or ""


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
        principal, org_name = await anyio.to_thread.run_sync(_lookup, runtime, session)
        if connection.scope.get("method") in STATE_CHANGING and not tokens_match(
            session.csrf_token, connection.headers.get(CSRF_HEADER)
        ):
            raise CSRFRefusedError(
                "this request did not carry the page's security token (CSRF); reload the page and try again"
            )
        user = ConsoleUser(email=principal.email, role=principal.role, org_name=org_name, session=session)
        return AuthenticationResult(user=principal, auth=user)
