"""The one decoding check every request passes before anything else reads it (firewall, login, routes).

Values no part of Clearline can store or compute with are refused here with a 400 problem naming the
place and the rule, instead of failing deep inside (PostgreSQL refuses NUL in text, bigint columns stop
at 2**63 - 1, datetime arithmetic overflows near year 1 and 9999):
- a NUL character anywhere in the path, a query parameter, or a string (or key) of a JSON body;
- an integer outside the signed 64-bit range in a path segment, a query parameter or a JSON body;
- a date-time before year 1900 or after 9000 in a query parameter or a JSON string.
Narrower bounds (a column that holds 32 bits, a setting's sane range) belong to the domain's validation;
what still slips through is turned into a 4xx by api/problems.py, never a 500.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MIN_YEAR, MAX_YEAR = 1900, 9000
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATETIME = re.compile(r"^([+-]?\d{4,6})-\d{2}-\d{2}([T ]\d{2}:\d{2}|$)")


class InputRejected(Exception):
    def __init__(self, where: str, rule: str) -> None:
        super().__init__(f"{where}: {rule}")
        self.where = where
        self.rule = rule


def check_scalar_text(value: str, where: str) -> None:
    """A path segment or query value (always text)."""
    if "\x00" in value:
        raise InputRejected(where, "contains a NUL character")
    if _INTEGER.match(value) and not INT64_MIN <= int(value) <= INT64_MAX:
        raise InputRejected(where, f"integer {value[:40]} is outside the 64-bit range")
    _check_datetime_text(value, where)


def _check_datetime_text(value: str, where: str) -> None:
    m = _DATETIME.match(value)
    if m and not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
        raise InputRejected(where, f"date {value[:40]!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")


def check_json(value: Any, where: str = "body") -> None:
    """Walks a decoded JSON document; the first bad value is named by its JSON path."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InputRejected(where, "contains a NUL character")
        _check_datetime_text(value, where)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputRejected(where, f"integer {str(value)[:40]} is outside the 64-bit range")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise InputRejected(f"{where} key {key!r}", "contains a NUL character")
            check_json(item, f"{where}.{key}")


def check_request_line(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = unquote(raw_path.decode("latin-1")) if isinstance(raw_path, bytes) else scope["path"]
    for segment in path.split("/"):
        check_scalar_text(segment, f"path segment {segment[:40]!r}")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name:
            raise InputRejected("query parameter name", "contains a NUL character")
        check_scalar_text(value, f"query parameter {name!r}")


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class InputGuardMiddleware:
    """Outermost middleware. JSON bodies are read (up to the body limit), checked and replayed; other
    bodies (uploads) stream through untouched to their own parsers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_request_line(scope)
        except InputRejected as exc:
            await _refuse(scope, send, exc)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH") and _is_json(scope):
            body, more, receive = await read_body(receive, self.max_body_bytes)
            if not more and body:
                try:
                    document = msgspec.json.decode(body)
                except msgspec.DecodeError:
                    document = None  # malformed JSON: the application's decoder answers 400 with details
                try:
                    check_json(document)
                except InputRejected as exc:
                    await _refuse(scope, send, exc)
                    return
        await self.app(scope, receive, send)


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool, Receive]:
    """Reads the body up to `limit` bytes; returns it, whether more remains, and a `receive` that replays
    it to the application (which then reads whatever remains as usual)."""
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

    return body, more, replay


async def _refuse(scope: Scope, send: Send, exc: InputRejected) -> None:
    body = msgspec.json.encode(
        {
            "type": "https://clearline.dev/problems/400",
            "title": "Bad request",
            "status": 400,
            "detail": f"{exc.where} {exc.rule}",
            "instance": scope.get("path", ""),
            "errors": [{"field": exc.where, "row": None, "message": exc.rule}],
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
