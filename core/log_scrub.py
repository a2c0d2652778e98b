"""Phone numbers never reach a log line in full (issue 18, item 11).

Installed once per process by `Runtime.start()`: a log-record factory rewrites every record's message,
arguments and traceback text as it is created, whichever library logs it (ours, uvicorn's access log,
dramatiq, SQLAlchemy). A number keeps its last two digits so that an operator can still tell two apart.
Bound SQL parameters are not logged at all (core/db.py: hide_parameters) unless CLEARLINE_DEBUG_SQL=1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

_PHONE = re.compile(
    r"\+\d{8,15}(?!\d)"  # E.164
    r"|(?<![\w.+-])1?[2-9]\d{9}(?![\w])"  # NANP digits, 10 or 11 (epoch seconds start with 1: spared)
    r"|(?<![\w.+-])(?:\+?1[ .-])?\(?[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4}(?![\w])"  # (202) 555-0123 and kin
)


def _mask(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"<phone …{digits[-2:]}>"


def scrub(text: str) -> str:
    return _PHONE.sub(_mask, text)


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return scrub(arg)
    if arg is None or isinstance(arg, int | float | bool):
        return arg  # numbers keep their type: "%d" must still format
    return scrub(str(arg))


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    record.msg = scrub(record.msg if isinstance(record.msg, str) else str(record.msg))
    if isinstance(record.args, Mapping):
        record.args = {k: _scrub_arg(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(a) for a in record.args)
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters use exc_text when it is set: format the traceback now, scrubbed.
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    return record


_installed = False


def install() -> None:
    """Idempotent: wraps the current log-record factory once."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
