"""When a number may be called: federal and state calling hours, Sunday and holiday rules and call caps,
evaluated in every candidate time zone of the number (the most restrictive result wins).

Pure: rules come in as data (`CallingRuleData`, loaded from `dnc/state_rules.toml` by `dnc.state_rules`), the
moment as `at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from dnc import reasons
from dnc.holidays import Holiday, holiday_days, holiday_ordinals
from dnc.nanp import STATE_ZONES

FEDERAL = "US"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


@dataclass(frozen=True)
class RuleSource:
    """Where a rule comes from: the statute or regulation, where to read it, and when it took effect."""

    citation: str
    url: str
    effective: date


@dataclass(frozen=True)
class CallingRuleData:
    """The calling rules of one jurisdiction ("US" = federal), as loaded from `dnc/state_rules.toml`."""

    jurisdiction: str
    window_start: time  # every day's window, unless `day_windows` gives a weekday its own
    window_end: time
    no_sunday: bool = False
    no_holidays: bool = False
    max_calls_per_24h: int | None = None
    has_state_dnc_list: bool = False
    day_windows: tuple[tuple[int, time, time], ...] = ()  # (weekday, Monday = 0, start, end)
    name: str = ""
    sources: tuple[RuleSource, ...] = ()
    as_of: date | None = None
    # The holiday calendar a `no_holidays` ban refuses (the state's own days, plus the federal ones when
    # `holidays_with_federal`: already merged in by the loader).
    holidays: tuple[Holiday, ...] = ()
    holidays_with_federal: bool = False

    def window_on(self, weekday: int) -> tuple[time, time]:
        """The local window on a weekday (Monday = 0)."""
        for day, start, end in self.day_windows:
            if day == weekday:
                return start, end
        return self.window_start, self.window_end

    def describe(self) -> str:
        parts = [f"{self.jurisdiction} {self.window_start:%H:%M}-{self.window_end:%H:%M}"]
        for day, start, end in self.day_windows:
            parts.append(f"{WEEKDAYS[day].capitalize()} {start:%H:%M}-{end:%H:%M}")
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
    # The holidays that refused the call, e.g. "AL: Confederate Memorial Day 2026-04-27 (Ala. Code 1-3-8)"
    holidays: tuple[str, ...] = ()


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Instants:
    """Moments (UTC epoch seconds) with each zone's UTC offset at them, computed once per zone: lets one
    window decision cover a single call or a whole year of instants (the exhaustive test)."""

    def __init__(self, epoch_s: np.ndarray) -> None:
        self.epoch_s = np.asarray(epoch_s, dtype=np.int64)
        self._offsets: dict[str, np.ndarray] = {}

    @classmethod
    def of(cls, at: datetime) -> Instants:
        return cls(np.array([int(at.timestamp())], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.epoch_s)

    def offset_min(self, zone: str) -> np.ndarray:
        """The zone's UTC offset in minutes at each instant."""
        found = self._offsets.get(zone)
        if found is None:
            tz = _zone(zone)
            found = np.array(
                [int(_utcoffset_s(tz, int(t)) // 60) for t in self.epoch_s.tolist()], dtype=np.int64
            )
            self._offsets[zone] = found
        return found


def _utcoffset_s(tz: ZoneInfo, epoch_s: int) -> float:
    offset = datetime.fromtimestamp(epoch_s, tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def candidate_mask(
    number_zones: tuple[str, ...], state_zones: tuple[str, ...], instants: Instants
) -> tuple[tuple[str, ...], np.ndarray]:
    """The zones the window must hold in, per instant: (names, bool[len(names), len(instants)]).

    Zones are compared by their UTC offsets at the moment, never by name. The number is in one of its
    prefix's offsets; when the lead's state is known it is also in one of the state's: the candidates are
    the offsets both allow. When they allow none in common (a ported or moved number) every offset of
    both stays a candidate, the restrictive choice. Never fewer than the two allow together."""
    names = tuple(dict.fromkeys((*number_zones, *state_zones)))
    offsets = np.stack([instants.offset_min(z) for z in names]) if names else np.zeros((0, len(instants)))
    if not state_zones:
        return names, np.ones((len(names), len(instants)), dtype=bool)
    number_offsets = offsets[: len(number_zones)] if number_zones else np.zeros((0, len(instants)))
    state_offsets = np.stack([instants.offset_min(z) for z in state_zones])
    in_number = (offsets[:, None, :] == number_offsets[None, :, :]).any(axis=1)
    in_state = (offsets[:, None, :] == state_offsets[None, :, :]).any(axis=1)
    common = in_number & in_state
    some_common = common.any(axis=0)
    return names, np.where(some_common[None, :], common, True)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _holiday_mask(rule: CallingRuleData, days: np.ndarray) -> np.ndarray:
    """days since 1970-01-01 -> bool: a day the rule's holiday calendar refuses (observed days included)."""
    first, last = _EPOCH + timedelta(days=int(days.min())), _EPOCH + timedelta(days=int(days.max()))
    ordinals = holiday_ordinals(rule.holidays, range(first.year, last.year + 1))
    return np.isin(days, np.asarray(ordinals, dtype=np.int64) - _EPOCH.toordinal())


_EPOCH = date(1970, 1, 1)


def _outside_rule(rule: CallingRuleData, minute: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Local minute of day outside the rule's window of that local weekday."""
    start = np.full(len(minute), _minutes(rule.window_start), dtype=np.int64)
    end = np.full(len(minute), _minutes(rule.window_end), dtype=np.int64)
    for day, day_start, day_end in rule.day_windows:
        on_day = weekday == day
        start[on_day] = _minutes(day_start)
        end[on_day] = _minutes(day_end)
    return (minute < start) | (minute >= end)


def window_reasons(
    number_zones: tuple[str, ...],
    lead_states: tuple[str, ...],
    rule_states: tuple[str, ...],
    rules: Mapping[str, CallingRuleData],
    override: tuple[time, time] | None,
    instants: Instants,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Reason bits (`dnc.reasons.BIT`) per instant for a number with these prefix zones, a lead in
    `lead_states` (narrows the zones) and the calling rules of `rule_states` (the lead's and the area
    code's states). Returns (bits, candidate zone names, candidate mask)."""
    count = len(instants)
    bits = np.zeros(count, dtype=np.uint64)
    if not number_zones:
        bits |= np.uint64(1) << np.uint64(reasons.BIT[reasons.UNKNOWN_TIME_ZONE])
        return bits, (), np.zeros((0, count), dtype=bool)
    state_zones = tuple(dict.fromkeys(z for s in lead_states for z in STATE_ZONES.get(s, ())))
    names, mask = candidate_mask(number_zones, state_zones, instants)
    federal = rules[FEDERAL]
    state_rules = [rules[s] for s in rule_states if s in rules and s != FEDERAL]
    utc_min = instants.epoch_s // 60
    found = {code: np.zeros(count, dtype=bool) for code in reasons.ALL}
    for z, name in enumerate(names):
        local = utc_min + instants.offset_min(name)
        minute = local % 1440
        day = local // 1440
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        here = mask[z]

        def outside(start: time, end: time, minute: np.ndarray = minute) -> np.ndarray:
            return (minute < _minutes(start)) | (minute >= _minutes(end))

        found[reasons.OUTSIDE_FEDERAL_WINDOW] |= here & _outside_rule(federal, minute, weekday)
        for rule in state_rules:
            found[reasons.OUTSIDE_STATE_WINDOW] |= here & _outside_rule(rule, minute, weekday)
            if rule.no_sunday:
                found[reasons.STATE_NO_SUNDAY] |= here & (weekday == 6)
            if rule.no_holidays:
                found[reasons.STATE_NO_HOLIDAY] |= here & _holiday_mask(rule, day)
        if override is not None:
            found[reasons.OUTSIDE_CAMPAIGN_WINDOW] |= here & outside(override[0], override[1])
    for code, hit in found.items():
        if hit.any():
            bits |= hit.astype(np.uint64) << np.uint64(reasons.BIT[code])
    return bits, names, mask


def decide_window(
    number_zones: tuple[str, ...],
    lead_states: tuple[str, ...],
    rule_states: tuple[str, ...],
    rules: Mapping[str, CallingRuleData],
    override: tuple[time, time] | None,
    at: datetime,
) -> WindowDecision:
    """Whether `at` is inside every applicable calling window in every candidate zone (`window_reasons`
    at one instant), with the window applied described for the verdict."""
    federal = rules[FEDERAL]
    state_rules = [rules[s] for s in rule_states if s in rules and s != FEDERAL]
    caps = [r.max_calls_per_24h for r in state_rules if r.max_calls_per_24h is not None]
    state_rule = "; ".join(r.describe() for r in state_rules)
    bits, names, mask = window_reasons(
        number_zones, lead_states, rule_states, rules, override, Instants.of(at)
    )
    zones = tuple(sorted(n for n, m in zip(names, mask[:, 0].tolist(), strict=True) if m)) if names else ()
    value = int(bits[0])
    ordered = tuple(code for code in reasons.ALL if value >> reasons.BIT[code] & 1)
    # The window of the call's local weekday (Texas's Sunday differs), in the first candidate zone.
    weekday = at.astimezone(_zone(zones[0])).weekday() if zones else at.weekday()
    start, end = federal.window_on(weekday)
    for rule in state_rules:
        rule_start, rule_end = rule.window_on(weekday)
        start, end = max(start, rule_start), min(end, rule_end)
    if override is not None:
        start, end = max(start, override[0]), min(end, override[1])
    window = _describe_window(zones, start, end, at) if zones else ""
    holidays = holidays_applied(state_rules, zones, at) if reasons.STATE_NO_HOLIDAY in ordered else ()
    return WindowDecision(ordered, zones, window, state_rule, min(caps, default=None), holidays)


def holidays_applied(
    state_rules: Iterable[CallingRuleData], zones: tuple[str, ...], at: datetime
) -> tuple[str, ...]:
    """Which holiday of which state's calendar falls on the call's local date in some candidate zone."""
    out = []
    for rule in state_rules:
        if not rule.no_holidays:
            continue
        for day in sorted({at.astimezone(_zone(z)).date() for z in zones}):
            names = holiday_days(rule.holidays, day.year).get(day)
            if names:
                on_day = [h for h in rule.holidays if day in (*h.days_in(day.year), *h.days_in(day.year + 1))]
                sources = "; ".join(dict.fromkeys(h.source for h in on_day))
                out.append(f"{rule.jurisdiction}: {names} {day.isoformat()} ({sources})")
    return tuple(dict.fromkeys(out))


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
