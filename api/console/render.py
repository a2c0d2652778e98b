"""Rendering console pages: every page gets the header (organization, user, role), the navigation the
user's role may follow, and the CSRF token; fragments (htmx swaps) get the same context."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from api.console.auth import ConsoleUser
from api.console.nav import visible_sections
from api.principal import Principal


def me(request: Request[Any, Any, Any]) -> ConsoleUser:
    user = request.scope.get("auth")
    assert isinstance(user, ConsoleUser), "console page is not behind the console session middleware"
    return user


def context(request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
    principal = request.scope.get("user")
    auth = request.scope.get("auth")
    if not isinstance(principal, Principal) or not isinstance(auth, ConsoleUser):
        return {"me": None, "nav": [], "path": request.url.path, "csrf_token": "", **extra}
    sections = visible_sections(principal)
    current = extra.pop("section", None) or max(
        (s for s in sections if request.url.path.startswith(s.href)), key=lambda s: len(s.href), default=None
    )
    return {
        "me": auth,
        "nav": sections,
        "current_section": current,
        "path": request.url.path,
        "csrf_token": auth.csrf_token,
        **extra,
    }


def page(request: Request[Any, Any, Any], template: str, status_code: int = 200, **extra: Any) -> Template:
    return Template(template_name=template, context=context(request, **extra), status_code=status_code)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"
