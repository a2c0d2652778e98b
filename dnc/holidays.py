"""Holiday calendars kept as data: each holiday is a rule ("01-01", "fourth thursday of november",
"easter-2", "tuesday after first monday of november") with how the law moves it when it falls on a
weekend, evaluated per year. The calendars themselves live in `dnc/state_rules.toml` (the federal one under
`US`, each state's under its own code, with their statutes); this module only computes dates.

A state that forbids calls on a holiday forbids them on the day itself *and* on the day its statute
observes it instead (a holiday on a Saturday, observed on Friday or Monday, refuses both days): the
statutes name the day, the observance moves the day off, and refusing both is the restrictive reading.

Pure: no clock, no I/O; dates in, dates out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
# How a holiday that falls on a weekend is observed:
#   none         the day itself only
#   fri_mon      Saturday -> the Friday before, Sunday -> the Monday after (5 U.S.C. 6103(b) and most states)
#   mon_mon      Saturday or Sunday -> the Monday after (R.I. Gen. Laws 25-1-1)
#   sun_mon      Sunday -> the Monday after (R.I. Gen. Laws 25-1-1 "falls on the first day of the week")
#   week_monday  Tuesday-Friday -> the Monday before, Saturday/Sunday -> the Monday after (Utah Code
#                63G-1-301(2)(c)-(d), Juneteenth)
OBSERVANCES = ("none", "fri_mon", "mon_mon", "sun_mon", "week_monday")
YEARS = ("all", "even", "odd")

_FIXED = re.compile(r"^(\d{2})-(\d{2})$")
_ONE_OFF = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NTH = re.compile(rf"^({'|'.join(ORDINALS)}) ({'|'.join(WEEKDAY_NAMES)}) of ({'|'.join(MONTH_NAMES)})$")
_AFTER = re.compile(rf"^({'|'.join(WEEKDAY_NAMES)}) after ({'|'.join(ORDINALS)}) ({'|'.join(WEEKDAY_NAMES)}) of ({'|'.join(MONTH_NAMES)})$")  # fmt: skip
_EASTER = re.compile(r"^easter([+-]\d{1,3})?$")


@dataclass(frozen=True)
class Holiday:
    """One holiday of a calendar: its name, its date rule, how a weekend date is observed, the years it
    applies (all, even or odd: an election day), when the law that made it took effect or ended, and the
    statute that makes it a holiday."""

    name: str
    on: str
    observed: str = "none"
    years: str = "all"
    since: date | None = None
    until: date | None = None
    source: str = ""

    def day_in(self, year: int) -> date | None:
        """The holiday's own date in `year` (None: not that year)."""
        if (self.years == "even" and year % 2) or (self.years == "odd" and not year % 2):
            return None
        day = _rule_date(self.on, year)
        if day is None or (self.since and day < self.since) or (self.until and day > self.until):
            return None
        return day

    def days_in(self, year: int) -> tuple[date, ...]:
        """The day itself and the day it is observed on, when that differs."""
        day = self.day_in(year)
        if day is None:
            return ()
        moved = observed_day(day, self.observed)
        return (day,) if moved == day else (day, moved)


def easter(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-5, or -1 for the last) weekday (Monday = 0) of a month."""
    if n == -1:
        last = (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def observed_day(day: date, observed: str) -> date:
    weekday = day.weekday()
    if observed == "fri_mon":
        return day - timedelta(days=1) if weekday == 5 else day + timedelta(days=1) if weekday == 6 else day
    if observed == "mon_mon":
        return day + timedelta(days=7 - weekday) if weekday >= 5 else day
    if observed == "sun_mon":
        return day + timedelta(days=1) if weekday == 6 else day
    if observed == "week_monday":
        return day + timedelta(days=7 - weekday) if weekday >= 5 else day - timedelta(days=weekday)
    return day


def _rule_date(rule: str, year: int) -> date | None:
    if m := _FIXED.match(rule):
        return date(year, int(m[1]), int(m[2]))
    if m := _ONE_OFF.match(rule):
        day = date(int(m[1]), int(m[2]), int(m[3]))
        return day if day.year == year else None
    if m := _NTH.match(rule):
        return nth_weekday(year, MONTH_NAMES.index(m[3]) + 1, WEEKDAY_NAMES.index(m[2]), ORDINALS[m[1]])
    if m := _AFTER.match(rule):
        anchor = nth_weekday(year, MONTH_NAMES.index(m[4]) + 1, WEEKDAY_NAMES.index(m[3]), ORDINALS[m[2]])
        return anchor + timedelta(days=(WEEKDAY_NAMES.index(m[1]) - anchor.weekday() - 1) % 7 + 1)
    if m := _EASTER.match(rule):
        return easter(year) + timedelta(days=int(m[1] or 0))
    raise ValueError(rule)


def check_rule(rule: str) -> str | None:
    """Why a date rule is not understood (None: it is)."""
    try:
        _rule_date(rule, 2024)  # a leap year: 02-29 is a valid fixed date
    except ValueError:
        return (
            'not a date rule ("MM-DD", "YYYY-MM-DD", "third monday of january", "last monday of may", '
            '"tuesday after first monday of november", "easter", "easter-2")'
        )
    return None


@lru_cache(maxsize=1024)
def holiday_days(holidays: tuple[Holiday, ...], year: int) -> dict[date, str]:
    """Every day of `year` the calendar refuses, with the holidays that make it one ("Christmas Day
    (observed)")."""
    out: dict[date, list[str]] = {}
    for holiday in holidays:
        for n, day in enumerate(holiday.days_in(year)):
            out.setdefault(day, []).append(holiday.name + (" (observed)" if n else ""))
        # A holiday of late December observed on the 31st of the year before (New Year's Day on a Saturday).
        for n, day in enumerate(holiday.days_in(year + 1)):
            if day.year == year:
                out.setdefault(day, []).append(holiday.name + (" (observed)" if n else ""))
    return {day: "; ".join(dict.fromkeys(names)) for day, names in out.items()}


def holiday_ordinals(holidays: tuple[Holiday, ...], years: Iterable[int]) -> list[int]:
    """The refused days of these years as proleptic ordinals (`date.toordinal()`)."""
    return sorted({d.toordinal() for y in years for d in holiday_days(holidays, y)})
