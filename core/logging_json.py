"""Logs as one JSON object per line (`CLEARLINE_LOG_FORMAT=json`), for a log shipper; text otherwise.

Each line has `ts` (UTC, ISO 8601), `level`, `logger`, `message`, the context ids that apply where it was
logged (`request_id`, `org_id`, `campaign_id`, `attempt_id`, `lead_id`, `job_id`, `worker_id`: bound with `log_context()` or passed
as `extra=`), and `exc` for a traceback. Phone numbers are masked as on every record (core/log_scrub.py,
applied again here to extras and tracebacks) and fields named like a secret (password, token, secret,
authorization, cookie, key) are replaced by "[redacted]", whatever logged them.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from core.log_scrub import scrub

FORMAT_ENV = "CLEARLINE_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("request_id", "org_id", "campaign_id", "attempt_id", "lead_id", "job_id", "worker_id")
_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "key")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("clearline_log_context", default=None)

# Attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def bind(**fields: object) -> contextvars.Token[dict[str, str] | None]:
    """Add ids to the context of every later log line of this task or thread; returns the reset token."""
    merged = {**(_context.get() or {}), **{k: str(v) for k, v in fields.items() if v is not None}}
    return _context.set(merged)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


def add_process_field(name: str, value: object) -> None:
    """A field on every line this process logs, from any thread (a line worker's `worker_id`): a filter on
    the root handlers, as pjsua2's threads do not inherit the context of `bind()`."""

    def add(record: logging.LogRecord) -> bool:
        if not hasattr(record, name):
            setattr(record, name, value)
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(add)


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_id")


def _clean(name: str, value: Any) -> Any:
    if _is_secret(name):
        return "[redacted]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(_context.get() or {})
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = _clean(name, value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exc"] = scrub(record.exc_text or self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = scrub(record.exc_text)
        return json.dumps(line, default=str, ensure_ascii=False)


def json_logging() -> bool:
    return os.environ.get(FORMAT_ENV, "").strip().lower() == "json"


def configure_logging(level: int = logging.INFO, *, stream: Any = None) -> None:
    """The root handler of a process: JSON lines when CLEARLINE_LOG_FORMAT=json, plain text otherwise."""
    fmt = os.environ.get(FORMAT_ENV, "").strip().lower()
    if fmt not in ("", "text", "json"):
        raise ValueError(f"{FORMAT_ENV}: {fmt!r} is not a log format (text or json)")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def uvicorn_log_config() -> dict[str, Any] | None:
    """uvicorn's own text handlers, or none in JSON mode, so that its lines reach the JSON root handler."""
    if json_logging():
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
