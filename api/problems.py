"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec
import redis.exceptions
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy import exc as sa_exc

from core.errors import ClearlineError, TooManyRequestsError, ValidationError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str = "",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://clearline.dev/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def clearline_error_handler(request: Request[Any, Any, Any], exc: ClearlineError) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        extra["errors"] = [{"field": exc.field, "row": exc.row, "message": str(exc)}]
    fields = getattr(exc, "problem_fields", None)
    if isinstance(fields, dict):
        extra.update(fields)
    if isinstance(exc, TooManyRequestsError):
        headers["Retry-After"] = str(exc.retry_after)
    return problem(
        exc.status_code, exc.title, str(exc), instance=request.url.path, extra=extra, headers=headers
    )


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        # Litestar names the bad input `key` (and where it was: body, query, path): the same shape as
        # every other problem's errors, so clients read one format.
        items = exc.extra if isinstance(exc.extra, list) else [exc.extra]
        extra["errors"] = [
            {
                "field": e.get("key"),
                "row": None,
                "message": str(e.get("message", "")),
                "source": e.get("source"),
            }
            if isinstance(e, dict)
            else {"field": None, "row": None, "message": str(e)}
            for e in items
        ]
    title = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
    }.get(exc.status_code, "Error")
    return problem(
        exc.status_code,
        title,
        exc.detail,
        instance=request.url.path,
        extra=extra,
        headers=dict(exc.headers or {}),
    )


# The safety net under the input guard (api/input_guard.py) and the domains' validation: whatever bad
# value still reaches the database or the arithmetic is the client's error (4xx), and a database or
# Redis that cannot be reached is a 503, never a 500. Messages never carry SQL or bound parameters.
RETRY_AFTER_S = 5


def _pg_message(exc: sa_exc.DBAPIError) -> str:
    """PostgreSQL's own one-line reason ('integer out of range'), without the statement or parameters."""
    first = str(getattr(exc, "orig", "") or "").strip().splitlines()
    return first[0][:200] if first else "value not storable"


def data_error_handler(request: Request[Any, Any, Any], exc: sa_exc.DataError) -> Response[dict[str, Any]]:
    log.warning("refused a value the database cannot store on %s %s: %s", request.method, request.url.path,
                _pg_message(exc))  # fmt: skip
    return problem(
        422, "Invalid input", f"a value is out of range or cannot be stored: {_pg_message(exc)}",
        instance=request.url.path,
    )  # fmt: skip


def integrity_error_handler(
    request: Request[Any, Any, Any], exc: sa_exc.IntegrityError
) -> Response[dict[str, Any]]:
    log.warning("conflict on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
    return problem(
        409, "Conflict", "this conflicts with an existing record (a name or number already in use)",
        instance=request.url.path,
    )  # fmt: skip


def overflow_error_handler(request: Request[Any, Any, Any], exc: OverflowError) -> Response[dict[str, Any]]:
    log.warning("arithmetic overflow on %s %s: %s", request.method, request.url.path, exc)
    return problem(422, "Invalid input", f"a value is out of range: {exc}", instance=request.url.path)


def unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    service = "the database" if isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError) else "Redis"
    log.error(
        "%s is unavailable (%s) on %s %s", service, type(exc).__name__, request.method, request.url.path
    )
    return problem(
        503, "Service unavailable", f"{service} is unavailable; try again shortly",
        instance=request.url.path, headers={"Retry-After": str(RETRY_AFTER_S)},
    )  # fmt: skip


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500, "Internal server error", "an unexpected error occurred; it was logged", instance=request.url.path
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ClearlineError: clearline_error_handler,
    HTTPException: http_error_handler,
    sa_exc.DataError: data_error_handler,
    sa_exc.IntegrityError: integrity_error_handler,
    sa_exc.OperationalError: unavailable_handler,
    sa_exc.InterfaceError: unavailable_handler,
    sa_exc.TimeoutError: unavailable_handler,  # the connection pool is exhausted
    redis.exceptions.ConnectionError: unavailable_handler,
    redis.exceptions.TimeoutError: unavailable_handler,
    OverflowError: overflow_error_handler,
    Exception: unexpected_error_handler,
}

__all__ = ["EXCEPTION_HANDLERS", "MediaType", "problem"]


class ProblemError(msgspec.Struct):
    message: str
    field: str | None = None
    row: int | None = None
    source: str | None = None  # where a malformed request's bad input was: body, query, path, header


class Problem(msgspec.Struct):
    """RFC 9457 problem details, as every 4xx/5xx of this API is answered (media type
    application/problem+json). `errors` names the bad input of a 422; a 409 of `start` lists `blockers`."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None
    blockers: list[dict[str, str]] | None = None


_PROBLEMS = {
    400: "Malformed request (body not JSON, unknown field, wrong type)",
    401: "Not authenticated (no, expired or invalid token)",
    403: "The caller's role or address may not do this",
    404: "Not found (or another organization's)",
    409: "Conflicts with the current state (named in detail)",
    413: "The body or upload is larger than the limit",
    422: "Invalid input: `errors` names the field (and row) and the rule",
    429: "Too many attempts: retry after Retry-After seconds",
    503: "The database or Redis is unreachable: retry after Retry-After seconds",
}


def document_problem_responses(handlers: Iterable[Any]) -> None:
    """Give every route's OpenAPI operation the problem+json responses it can answer with."""
    from litestar import Router
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.datastructures import ResponseSpec

    for handler in handlers:
        if isinstance(handler, Router):
            document_problem_responses(
                h for route in handler.routes for h in getattr(route, "route_handlers", [])
            )
            continue
        if not isinstance(handler, HTTPRouteHandler):
            continue
        codes = [400, 401, 403, 404, 422, 503]
        if handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}:
            codes.append(409)
        if handler.request_max_body_size is None or handler.http_methods & {"POST", "PUT", "PATCH"}:
            codes.append(413)
        if handler.paths & {"/api/auth/login", "/api/auth/refresh"} or handler.opt.get("throttled"):
            codes.append(429)
        specs = {
            code: ResponseSpec(
                data_container=Problem,
                description=_PROBLEMS[code],
                media_type=PROBLEM_JSON,
                generate_examples=False,
            )
            for code in codes
        }
        handler.responses = {**specs, **(handler.responses or {})}
