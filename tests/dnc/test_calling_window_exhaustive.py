"""Calling windows, exhaustively: every NANP area code in phonenumbers x every state (and none) x every
15 minutes of 2026 (both DST switches included), against a brute-force reference written here.

The reference works on UTC offset values, not zone names: at each instant the number may be at any offset
its area code's zones have; a lead's state narrows that to the offsets both allow (or, when they allow
none in common, widens it to every offset of either); the call must be inside the federal window, every
state rule's window and day rules at every candidate offset. States and area codes with the same zones
and rules are decided identically by the law, so each such class is computed once (every state and area
code is still covered, as the test checks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import phonenumbers
import pytest
from phonenumbers import timezone as phone_timezone

from dnc import reasons
from dnc.calling_window import FEDERAL, CallingRuleData, Instants, window_reasons
from dnc.holidays import holiday_days
from dnc.nanp import STATE_ZONES, numbering_plan
from dnc.state_rules import calling_rules

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP_S = 15 * 60
STEPS = 365 * 96  # a year at 15-minute steps: 2026-03-08 and 2026-11-01 (the DST switches) included
EPOCH = date(1970, 1, 1)
FIRST_DAY = (date(2025, 12, 30) - EPOCH).days  # local dates of 2026's instants, every zone's
WEEKDAY = np.array([(EPOCH + timedelta(days=FIRST_DAY + i)).weekday() for i in range(370)])


def area_code_zones() -> dict[int, tuple[str, ...]]:
    """Every NANP area code phonenumbers knows (a valid number in it), with its zones."""
    out = {}
    for npa in range(200, 1000):
        for exchange in ("234", "555", "456", "789", "321", "900"):
            number = phonenumbers.PhoneNumber(country_code=1, national_number=int(f"{npa}{exchange}0143"))
            if phonenumbers.is_valid_number(number):
                zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if "Unknown" not in z)
                out[npa] = zones
                break
    return out


_CALENDAR: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def rule_holidays(rule: CallingRuleData) -> list[int]:
    """The days (since 1970-01-01) the rule's holiday calendar refuses around 2026 (the calendar's own
    dates are checked one by one against their statutes in test_state_rules.py)."""
    return [(d - EPOCH).days for y in (2025, 2026, 2027) for d in holiday_days(rule.holidays, y)]


def local_calendar(offset_min: int, utc_min: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(local minute of day, local weekday (Monday = 0), local day since 1970-01-01) at each instant for a
    UTC offset."""
    if offset_min not in _CALENDAR:
        local = utc_min + offset_min
        day = local // 1440
        _CALENDAR[offset_min] = (local % 1440, WEEKDAY[day - FIRST_DAY], day)
    return _CALENDAR[offset_min]


def reference(
    number_zones: tuple[str, ...],
    lead_state: str,
    rule_states: tuple[str, ...],
    rules: dict[str, CallingRuleData],
    offsets: dict[str, np.ndarray],
    utc_min: np.ndarray,
) -> dict[str, np.ndarray]:
    """Brute force over offset values: which reasons hold at each instant."""
    values = sorted({int(v) for z in (*number_zones, *STATE_ZONES.get(lead_state, ())) for v in offsets[z]})
    at_number = {v: np.zeros(len(utc_min), dtype=bool) for v in values}
    at_state = {v: np.zeros(len(utc_min), dtype=bool) for v in values}
    for z in number_zones:
        for v in values:
            at_number[v] |= offsets[z] == v
    for z in STATE_ZONES.get(lead_state, ()):
        for v in values:
            at_state[v] |= offsets[z] == v
    if lead_state:
        both = {v: at_number[v] & at_state[v] for v in values}
        any_both = np.logical_or.reduce([both[v] for v in values])
        candidate = {v: np.where(any_both, both[v], at_number[v] | at_state[v]) for v in values}
    else:
        candidate = at_number
    found = {code: np.zeros(len(utc_min), dtype=bool) for code in reasons.ALL}
    applying = [rules[s] for s in rule_states if s in rules and s != FEDERAL]
    for v in values:
        minute, weekday, local_day = local_calendar(v, utc_min)
        sunday = weekday == 6

        def outside(
            rule: CallingRuleData, minute: np.ndarray = minute, weekday: np.ndarray = weekday
        ) -> np.ndarray:
            """Outside the rule's window of the local weekday (a weekday's own window, else every day's)."""
            own = {day: (start, end) for day, start, end in rule.day_windows}
            result = np.zeros(len(minute), dtype=bool)
            for day in range(7):
                start, end = own.get(day, (rule.window_start, rule.window_end))
                inside = (start.hour * 60 + start.minute <= minute) & (minute < end.hour * 60 + end.minute)
                result |= (weekday == day) & ~inside
            return result

        here = candidate[v]
        found[reasons.OUTSIDE_FEDERAL_WINDOW] |= here & outside(rules[FEDERAL])
        for rule in applying:
            found[reasons.OUTSIDE_STATE_WINDOW] |= here & outside(rule)
            if rule.no_sunday:
                found[reasons.STATE_NO_SUNDAY] |= here & sunday
            if rule.no_holidays:
                found[reasons.STATE_NO_HOLIDAY] |= here & np.isin(local_day, rule_holidays(rule))
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_area_code_state_and_quarter_hour_of_a_year_gets_the_strictest_window_over_every_candidate_offset() -> (
    None
):
    rules = dict(calling_rules())
    assert rules["TX"].day_windows  # Texas's Sunday is its own window: the reference covers weekdays
    plan = numbering_plan()
    codes = area_code_zones()
    assert len(codes) > 350  # the US, Canada and the Caribbean
    instants = Instants(np.arange(STEPS, dtype=np.int64) * STEP_S + int(START.timestamp()))
    utc_min = instants.epoch_s // 60
    zones = {z for zs in codes.values() for z in zs} | {z for zs in STATE_ZONES.values() for z in zs}
    offsets = {z: instants.offset_min(z) for z in zones}  # computed by zoneinfo, shared with the code

    def rule_key(state: str) -> tuple[object, ...]:
        rule = rules.get(state)
        return (
            (
                rule.window_start,
                rule.window_end,
                rule.day_windows,
                rule.no_sunday,
                rule.no_holidays,
                rule.holidays,
            )
            if rule
            else ()
        )

    # Equivalence classes: an area code by (zones, its state's rule), a lead state by (zones, rule).
    code_classes: dict[tuple[object, ...], tuple[tuple[str, ...], str]] = {}
    for npa, zs in codes.items():
        npa_state = plan.npa_state[npa]
        code_classes.setdefault((zs, rule_key(npa_state)), (zs, npa_state))
    state_classes: dict[tuple[object, ...], str] = {}
    for state in ["", *sorted(STATE_ZONES)]:
        state_classes.setdefault((STATE_ZONES.get(state, ()), rule_key(state)), state)
    assert {s for (zs, _), s in state_classes.items()} <= {"", *STATE_ZONES}

    compared = 0
    for number_zones, npa_state in code_classes.values():
        for lead_state in state_classes.values():
            rule_states = tuple(sorted({s for s in (lead_state, npa_state) if s}))
            got, _, _ = window_reasons(
                number_zones, (lead_state,) if lead_state else (), rule_states, rules, None, instants
            )
            if not number_zones:
                assert (got == np.uint64(1) << np.uint64(reasons.BIT[reasons.UNKNOWN_TIME_ZONE])).all()
                continue
            want = reference(number_zones, lead_state, rule_states, rules, offsets, utc_min)
            for code, expected in want.items():
                actual = (got >> np.uint64(reasons.BIT[code])) & np.uint64(1)
                wrong = np.flatnonzero(actual.astype(bool) != expected)
                assert not len(wrong), (
                    f"{code} for zones {number_zones} (area code state {npa_state}), lead state "
                    f"{lead_state or '-'} at {datetime.fromtimestamp(int(instants.epoch_s[wrong[0]]), UTC)}"
                )
            compared += STEPS
    assert compared > 100 * STEPS
