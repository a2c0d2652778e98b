"""Console errors are pages, not problem+json: 401 goes to the login page, 403 and 404 render a page
that says what happened, a refused htmx request shows its message in the page's notice area."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from api.console.render import context, is_htmx
from core.errors import ClearlineError, TooManyRequestsError

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Cannot do that now",
    413: "File too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Something went wrong",
}
EXPLANATIONS = {
    403: "Your role does not give access to this page. Ask your organization admin if you need it.",
    404: "There is no such page, or it belongs to another organization.",
}


def _respond(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    if status == 401:
        target = f"/console/login?next={quote(request.url.path)}"
        if is_htmx(request):
            return Response(content="", status_code=401, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=303)
    title = TITLES.get(status, "Error")
    if is_htmx(request):  # a refused action: show why in the notice area, leave the page as it was
        return Template(
            template_name="fragments/notice.html",
            context={"kind": "error", "title": title, "message": detail},
            status_code=status,
            headers={"HX-Retarget": "#notice", "HX-Reswap": "innerHTML"},
        )
    return Template(
        template_name="error.html",
        context=context(
            request, status=status, title=title, message=detail, explanation=EXPLANATIONS.get(status, "")
        ),
        status_code=status,
    )


def console_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ClearlineError):
        detail = str(exc)
        if isinstance(exc, TooManyRequestsError):
            detail = f"{detail} (about {max(1, exc.retry_after // 60)} min)"
        return _respond(request, exc.status_code, detail)
    if isinstance(exc, HTTPException):
        return _respond(request, exc.status_code, exc.detail)
    log.exception("unhandled console error on %s %s", request.method, request.url.path)
    return _respond(request, 500, "an unexpected error occurred; it was logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {Exception: console_error}


def with_console_pages(api_handlers: dict[Any, Any]) -> dict[Any, Any]:
    """The app's exception handlers, answering with console pages on console paths. Needed at app level
    because errors raised by middleware (no session, CSRF refused) never reach a router's handlers."""

    def wrap(api_handler: Any) -> Any:
        def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            if request.url.path.startswith("/console"):
                return console_error(request, exc)
            return api_handler(request, exc)

        return handler

    return {exc_type: wrap(h) for exc_type, h in api_handlers.items()}
