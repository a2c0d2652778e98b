"""Jinja filters the console's templates share: how numbers, times and durations are shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

NONE = "\u2013"  # an en dash: the figure does not exist yet


def number(value: Any) -> str:
    if value is None:
        return NONE
    return f"{int(value):,}"


def percent(value: Any, digits: int = 2) -> str:
    if value is None:
        return NONE
    return f"{float(value) * 100:.{digits}f}%"


def when(value: datetime | None) -> str:
    if value is None:
        return NONE
    return value.strftime("%Y-%m-%d %H:%M UTC")


def when_s(value: datetime | None) -> str:
    """To the second, in UTC (evidence timings: answer, agent connect, safe harbor)."""
    if value is None:
        return NONE
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: Any) -> str:
    if seconds is None:
        return NONE
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def zip_self(values: Any) -> list[tuple[Any, Any]]:
    """Options whose value is their own label: [(v, v), ...]."""
    return [(v, v) for v in values]


def report_cell(value: Any, kind: str) -> str:
    """A cell of a daily report (`dialer.reports.Column.kind`): counts, durations, ratios or text."""
    if value is None or value == "":
        return "" if kind == "text" else NONE
    if kind == "int":
        return number(value)
    if kind == "seconds":
        return duration(value)
    if kind == "ratio":
        return percent(value)
    return str(value)


def install(env: Environment) -> None:
    env.filters.update(
        number=number, percent=percent, when=when, duration=duration, zip_self=zip_self, when_s=when_s
    )
    env.filters["report_cell"] = report_cell
