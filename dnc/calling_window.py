"""When a number may be called: federal and state calling hours, Sunday and holiday rules and call caps,
evaluated in every candidate time zone of the number (the most restrictive result wins).

Pure: rules come in as data (`CallingRule` rows), the moment as `at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dnc import reasons
from dnc.nanp import STATE_ZONES

FEDERAL = "US"


@dataclass(frozen=True)
class CallingRuleData:
    jurisdiction: str
    window_start: time
    window_end: time
    no_sunday: bool = False
    no_holidays: bool = False
    max_calls_per_24h: int | None = None
    has_state_dnc_list: bool = False

    def describe(self) -> str:
        parts = [f"{self.jurisdiction} {self.window_start:%H:%M}-{self.window_end:%H:%M}"]
        if self.no_sunday:
            parts.append("no Sunday")
        if self.no_holidays:
            parts.append("no holidays")
        if self.max_calls_per_24h is not None:
            parts.append(f"max {self.max_calls_per_24h}/24h")
        return ", ".join(parts)


@dataclass(frozen=True)
class WindowDecision:
    reasons: tuple[str, ...]
    zones: tuple[str, ...]
    window: str  # the intersected window, e.g. "08:00-20:00 local (America/New_York)"
    state_rule: str
    max_calls_per_24h: int | None


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[date]:
    """US federal holidays (5 U.S.C. 6103) with their observed dates."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    floating = [
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _last_weekday(year, 5, 0),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    ]
    return frozenset(fixed + [_observed(d) for d in fixed] + floating)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def candidate_zones(number_zones: Iterable[str], states: Iterable[str]) -> tuple[str, ...]:
    """The number's zones narrowed to the zones of the states it is known to be in, when they overlap.

    When they do not overlap (a ported or moved number) every zone of both stays a candidate: the window
    must hold in all of them, which is the restrictive choice."""
    zones = tuple(number_zones)
    state_zones = {z for s in states for z in STATE_ZONES.get(s, ())}
    if not state_zones:
        return zones
    narrowed = tuple(z for z in zones if z in state_zones)
    return narrowed or tuple(sorted(set(zones) | state_zones))


def decide_window(
    zones: tuple[str, ...],
    states: tuple[str, ...],
    rules: Mapping[str, CallingRuleData],
    override: tuple[time, time] | None,
    at: datetime,
) -> WindowDecision:
    """Whether `at` is inside every applicable calling window in every candidate zone."""
    federal = rules[FEDERAL]
    state_rules = [rules[s] for s in states if s in rules and s != FEDERAL]
    start, end = federal.window_start, federal.window_end
    for rule in state_rules:
        start, end = max(start, rule.window_start), min(end, rule.window_end)
    if override is not None:
        start, end = max(start, override[0]), min(end, override[1])
    caps = [r.max_calls_per_24h for r in state_rules if r.max_calls_per_24h is not None]
    state_rule = "; ".join(r.describe() for r in state_rules)
    if not zones:
        return WindowDecision((reasons.UNKNOWN_TIME_ZONE,), (), "", state_rule, min(caps, default=None))
    found: set[str] = set()
    for name in zones:
        local = at.astimezone(_zone(name))
        now = local.time().replace(tzinfo=None)
        if not federal.window_start <= now < federal.window_end:
            found.add(reasons.OUTSIDE_FEDERAL_WINDOW)
        for rule in state_rules:
            if not rule.window_start <= now < rule.window_end:
                found.add(reasons.OUTSIDE_STATE_WINDOW)
            if rule.no_sunday and local.weekday() == 6:
                found.add(reasons.STATE_NO_SUNDAY)
            if rule.no_holidays and local.date() in federal_holidays(local.year):
                found.add(reasons.STATE_NO_HOLIDAY)
        if override is not None and not override[0] <= now < override[1]:
            found.add(reasons.OUTSIDE_CAMPAIGN_WINDOW)
    window = _describe_window(zones, start, end, at)
    ordered = tuple(code for code in reasons.ALL if code in found)
    return WindowDecision(ordered, zones, window, state_rule, min(caps, default=None))


def _describe_window(zones: tuple[str, ...], start: time, end: time, at: datetime) -> str:
    """The window in local time, and with several zones the part of `at`'s day common to all of them."""
    if start >= end:
        return "none"
    window = f"{start:%H:%M}-{end:%H:%M} local ({', '.join(zones)})"
    if len(zones) == 1:
        return window
    opens, closes = [], []
    for name in zones:
        zone = _zone(name)
        day = at.astimezone(zone).date()
        opens.append(datetime.combine(day, start, tzinfo=zone))
        closes.append(datetime.combine(day, end, tzinfo=zone))
    first, last = max(opens), min(closes)
    if first >= last:
        return f"{window}; no common hours"
    ref = _zone(zones[0])
    return f"{window}; common {first.astimezone(ref):%H:%M}-{last.astimezone(ref):%H:%M} {zones[0]}"


def calls_in_last_24h(recent_calls: Iterable[datetime], at: datetime) -> int:
    since = at - timedelta(hours=24)
    return sum(1 for t in recent_calls if since < t <= at)
