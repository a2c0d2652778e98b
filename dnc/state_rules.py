"""The calling rules of every jurisdiction, loaded from the one data file `dnc/state_rules.toml`.

The rules are data with their sources (citation, URL, effective date) and the date they were last checked
(`as_of`); this module is the only reader. The dial-time check, scrub reports, lead import and
`POST /api/dnc/check` all get their rules from `calling_rules()` (through `ComplianceEngine.load`), so a
rule changed in the file changes every verdict at once. A malformed file is refused naming the
jurisdiction, the field, the value and the rule.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import ValidationError
from dnc.calling_window import FEDERAL, WEEKDAYS, CallingRuleData, RuleSource
from dnc.holidays import OBSERVANCES, YEARS, Holiday, check_rule

RULES_FILE = Path(__file__).with_name("state_rules.toml")
_KEYS = frozenset(
    {"name", "hours", "days", "no_sunday", "no_holidays", "max_calls_per_24h", "state_dnc_list", "as_of",
     "sources", "holidays"}
)  # fmt: skip
_CALENDAR_KEYS = frozenset({"federal", "source", "days"})
_HOLIDAY_KEYS = frozenset({"name", "on", "observed", "years", "since", "until", "source"})


def _fail(where: str, field: str, value: object, rule: str) -> ValidationError:
    return ValidationError(f"{RULES_FILE.name}: {where}: {field}={value!r}: {rule}", field=field)


def _time(where: str, field: str, value: object) -> time:
    try:
        if not isinstance(value, str) or len(value) != 5:
            raise ValueError
        return time.fromisoformat(value)
    except ValueError:
        raise _fail(where, field, value, "not a local time HH:MM") from None


def _window(where: str, field: str, value: object) -> tuple[time, time]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(where, field, value, 'not a window ["HH:MM", "HH:MM"]')
    start, end = _time(where, field, value[0]), _time(where, field, value[1])
    if start >= end:
        raise _fail(where, field, value, "the window must start before it ends")
    return start, end


def _date(where: str, field: str, value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(where, field, value, "not a date YYYY-MM-DD") from None


def _holiday(where: str, entry: object, default_source: str) -> Holiday:
    if not isinstance(entry, dict):
        raise _fail(
            where, "holiday", entry, "each holiday is a table { name, on, observed?, years?, since?, until? }"
        )
    unknown = sorted(set(entry) - _HOLIDAY_KEYS)
    if unknown:
        raise _fail(
            where, unknown[0], entry[unknown[0]], f"unknown field (known: {', '.join(sorted(_HOLIDAY_KEYS))})"
        )
    name, on = entry.get("name"), entry.get("on")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "name", name, "every holiday has a name")
    if not isinstance(on, str):
        raise _fail(where, "on", on, "a date rule as text")
    if (why := check_rule(on)) is not None:
        raise _fail(where, "on", on, why)
    observed, years = entry.get("observed", "none"), entry.get("years", "all")
    if observed not in OBSERVANCES:
        raise _fail(where, "observed", observed, f"one of {', '.join(OBSERVANCES)}")
    if years not in YEARS:
        raise _fail(where, "years", years, f"one of {', '.join(YEARS)}")
    since = _date(where, "since", entry["since"]) if "since" in entry else None
    until = _date(where, "until", entry["until"]) if "until" in entry else None
    source = entry.get("source", default_source)
    if not isinstance(source, str) or not source.strip():
        raise _fail(where, "source", source, "every holiday cites the statute that makes it one")
    return Holiday(name.strip(), on, observed, years, since, until, source.strip())


def _calendar(code: str, body: Any) -> tuple[tuple[Holiday, ...], bool]:
    """A jurisdiction's own holidays and whether the federal calendar is added to them."""
    if body is None:
        return (), False
    if not isinstance(body, dict):
        raise _fail(code, "holidays", body, "a table { federal?, source, days = [...] }")
    unknown = sorted(set(body) - _CALENDAR_KEYS)
    if unknown:
        raise _fail(
            code, f"holidays.{unknown[0]}", body[unknown[0]], "unknown field (known: days, federal, source)"
        )
    federal = body.get("federal", False)
    if not isinstance(federal, bool):
        raise _fail(code, "holidays.federal", federal, "true or false")
    days = body.get("days", [])
    if not isinstance(days, list):
        raise _fail(code, "holidays.days", days, "a list of holidays")
    source = str(body.get("source", ""))
    return tuple(_holiday(f"{code}.holidays.days[{n}]", d, source) for n, d in enumerate(days)), federal


def _rule(code: str, body: Any, default_as_of: date | None) -> CallingRuleData:
    if not isinstance(body, dict):
        raise _fail(code, "table", body, "each jurisdiction is a table")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise _fail(code, unknown[0], body[unknown[0]], f"unknown field (known: {', '.join(sorted(_KEYS))})")
    if "hours" not in body:
        raise _fail(code, "hours", None, "every jurisdiction needs its hours")
    start, end = _window(code, "hours", body["hours"])
    days = []
    for day, window in (body.get("days") or {}).items():
        if day not in WEEKDAYS:
            raise _fail(code, f"days.{day}", window, f"not a weekday ({', '.join(WEEKDAYS)})")
        days.append((WEEKDAYS.index(day), *_window(code, f"days.{day}", window)))
    cap = body.get("max_calls_per_24h")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        raise _fail(code, "max_calls_per_24h", cap, "a whole number of calls, at least 1")
    sources = []
    for n, source in enumerate(body.get("sources") or []):
        where = f"{code}.sources[{n}]"
        citation = source.get("citation") if isinstance(source, dict) else None
        if not citation:
            raise _fail(where, "citation", citation, "every source names its statute or regulation")
        sources.append(
            RuleSource(
                citation=str(citation),
                url=str(source.get("url", "")),
                effective=_date(where, "effective", source.get("effective")),
            )
        )
    if not sources:
        raise _fail(code, "sources", [], "every rule cites at least one source")
    flags = {}
    for flag in ("no_sunday", "no_holidays", "state_dnc_list"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise _fail(code, flag, value, "true or false")
        flags[flag] = value
    holidays, with_federal = _calendar(code, body.get("holidays"))
    if flags["no_holidays"] and not holidays and not with_federal:
        raise _fail(
            code,
            "no_holidays",
            True,
            "a holiday ban needs its calendar ([X.holidays] days or federal = true)",
        )
    return CallingRuleData(
        jurisdiction=code,
        holidays=holidays,
        holidays_with_federal=with_federal,
        window_start=start,
        window_end=end,
        no_sunday=flags["no_sunday"],
        no_holidays=flags["no_holidays"],
        max_calls_per_24h=cap,
        has_state_dnc_list=flags["state_dnc_list"],
        day_windows=tuple(sorted(days)),
        name=str(body.get("name", code)),
        sources=tuple(sources),
        as_of=_date(code, "as_of", body["as_of"]) if "as_of" in body else default_as_of,
    )


def parse_rules(text: str) -> dict[str, CallingRuleData]:
    """The rules of a state-rules file's text; refuses a malformed one (see the module doc)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{RULES_FILE.name}: not valid TOML: {exc}") from None
    default_as_of = _date("file", "as_of", data.pop("as_of")) if "as_of" in data else None
    rules = {}
    for code, body in data.items():
        if len(code) != 2 or not code.isupper():
            raise _fail(code, "jurisdiction", code, "a two-letter code (US for the federal rule)")
        rules[code] = _rule(code, body, default_as_of)
    if FEDERAL not in rules:
        raise _fail(FEDERAL, "jurisdiction", None, "the federal rule (US) is required")
    federal_days = rules[FEDERAL].holidays
    for code, rule in rules.items():
        if rule.holidays_with_federal:
            if not federal_days:
                raise _fail(code, "holidays.federal", True, "the federal calendar ([US.holidays]) is empty")
            rules[code] = replace(rule, holidays=(*rule.holidays, *federal_days))
    return rules


@lru_cache(maxsize=1)
def calling_rules() -> Mapping[str, CallingRuleData]:
    """Every jurisdiction's rules, read once per process from `dnc/state_rules.toml`."""
    return MappingProxyType(parse_rules(RULES_FILE.read_text(encoding="utf-8")))


def states_with_dnc_lists() -> tuple[str, ...]:
    """The states that keep their own do-not-call list (import them with `--kind state --state XX`)."""
    return tuple(sorted(code for code, rule in calling_rules().items() if rule.has_state_dnc_list))
