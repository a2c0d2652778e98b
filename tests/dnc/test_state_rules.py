"""Every state rule of `dnc/state_rules.toml`, one test each, citing the source it encodes; and the file's
own rules (sources required, malformed data refused naming the field).

Local times: 2026-12-07 is a Monday, 2026-12-05 a Saturday, 2026-12-06 a Sunday, 2026-12-25 (Christmas) a
Friday. The decision is `dnc.calling_window.decide_window`, the function the engine applies per group."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.errors import ValidationError
from dnc import reasons
from dnc.calling_window import decide_window
from dnc.state_rules import calling_rules, parse_rules, states_with_dnc_lists

ZONE = {
    "FL": "America/New_York", "OK": "America/Chicago", "MD": "America/New_York", "TX": "America/Chicago",
    "WA": "America/Los_Angeles", "MA": "America/New_York", "CT": "America/New_York",
    "AL": "America/Chicago", "LA": "America/Chicago", "MS": "America/Chicago", "UT": "America/Denver",
    "RI": "America/New_York", "CA": "America/Los_Angeles", "US": "America/New_York",
}  # fmt: skip
MONDAY, SATURDAY, SUNDAY, CHRISTMAS = (
    date(2026, 12, 7),
    date(2026, 12, 5),
    date(2026, 12, 6),
    date(2026, 12, 25),
)


def verdict(state: str, day: date, hh_mm: str) -> tuple[str, ...]:
    """The window reasons for a lead in `state` called at local `hh_mm` on `day`."""
    zone = ZONE[state]
    at = datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=ZoneInfo(zone))
    states = (state,) if state != "US" else ()
    return decide_window((zone,), states, states, calling_rules(), None, at).reasons


def cites(state: str, text: str) -> None:
    citations = " | ".join(s.citation for s in calling_rules()[state].sources)
    assert text in citations, citations


# (state, the source it encodes, [(day, local time, reasons)])
CASES = [
    ("US", "47 CFR 64.1200(c)(1)", [(MONDAY, "07:59", (reasons.OUTSIDE_FEDERAL_WINDOW,)),
                                     (MONDAY, "08:00", ()), (MONDAY, "20:59", ()),
                                     (MONDAY, "21:00", (reasons.OUTSIDE_FEDERAL_WINDOW,))]),
    ("FL", "Fla. Stat. 501.616", [(MONDAY, "08:00", ()), (MONDAY, "19:59", ()),
                                  (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,)),
                                  (MONDAY, "07:59", (reasons.OUTSIDE_FEDERAL_WINDOW, reasons.OUTSIDE_STATE_WINDOW))]),
    ("OK", "775C.4", [(MONDAY, "19:59", ()), (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("MD", "Com. Law 14-4503", [(MONDAY, "19:59", ()), (MONDAY, "20:30", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("TX", "Bus. & Com. Code 301.051", [
        (MONDAY, "08:59", (reasons.OUTSIDE_STATE_WINDOW,)), (MONDAY, "09:00", ()), (MONDAY, "20:59", ()),
        (SATURDAY, "08:30", (reasons.OUTSIDE_STATE_WINDOW,)), (SATURDAY, "09:00", ()),
        (SUNDAY, "09:30", (reasons.OUTSIDE_STATE_WINDOW,)), (SUNDAY, "11:59", (reasons.OUTSIDE_STATE_WINDOW,)),
        (SUNDAY, "12:00", ()), (SUNDAY, "20:59", ()),
        (SUNDAY, "21:00", (reasons.OUTSIDE_FEDERAL_WINDOW, reasons.OUTSIDE_STATE_WINDOW))]),
    ("WA", "RCW 80.36.390", [(MONDAY, "19:59", ()), (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("MA", "ch. 159C", [(MONDAY, "19:59", ()), (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("CT", "42-288a", [(MONDAY, "08:30", (reasons.OUTSIDE_STATE_WINDOW,)), (MONDAY, "09:00", ()),
                       (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("AL", "Ala. Code", [(MONDAY, "10:00", ()), (SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                         (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)),
                         (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("LA", "La. R.S. 45:844", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                               (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)), (SATURDAY, "14:00", ())]),
    ("MS", "Miss. Code 77-3-725", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)), (CHRISTMAS, "14:00", ()),
                                   (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("UT", "Utah Code 13-25a-103", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                                    (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)), (MONDAY, "20:30", ())]),
    ("RI", "R.I. Gen. Laws 5-61-3.4", [
        (MONDAY, "08:59", (reasons.OUTSIDE_STATE_WINDOW,)), (MONDAY, "09:00", ()), (MONDAY, "17:59", ()),
        (MONDAY, "18:00", (reasons.OUTSIDE_STATE_WINDOW,)), (SATURDAY, "09:30", (reasons.OUTSIDE_STATE_WINDOW,)),
        (SATURDAY, "10:00", ()), (SATURDAY, "17:00", (reasons.OUTSIDE_STATE_WINDOW,)),
        (SUNDAY, "12:00", (reasons.STATE_NO_SUNDAY,)), (CHRISTMAS, "12:00", (reasons.STATE_NO_HOLIDAY,))]),
    ("CA", "vendor data", [(MONDAY, "08:30", (reasons.OUTSIDE_STATE_WINDOW,)), (MONDAY, "09:00", ())]),
]  # fmt: skip


@pytest.mark.parametrize(("state", "source", "moments"), CASES, ids=[c[0] for c in CASES])
def test_each_state_rule_decides_as_its_source_says(
    state: str, source: str, moments: list[tuple[date, str, tuple[str, ...]]]
) -> None:
    cites(state, source)
    for day, hh_mm, expected in moments:
        assert verdict(state, day, hh_mm) == expected, f"{state} {day:%a %Y-%m-%d} {hh_mm}"


@pytest.mark.parametrize("state", ["FL", "OK", "MD"])
def test_florida_oklahoma_and_maryland_allow_three_calls_per_24_hours(state: str) -> None:
    """Fla. Stat. 501.616(6)(b); Okla. Stat. tit. 15, 775C.4; Md. Com. Law 14-4503: 3 calls per 24 h on
    the same subject, whatever the caller ID."""
    assert calling_rules()[state].max_calls_per_24h == 3
    at = datetime(2026, 12, 7, 15, tzinfo=ZoneInfo("UTC"))
    zone = ZONE[state]
    assert decide_window((zone,), (state,), (state,), calling_rules(), None, at).max_calls_per_24h == 3
    assert decide_window((zone,), ("NY",), ("NY",), calling_rules(), None, at).max_calls_per_24h is None


def test_the_texas_window_described_is_the_one_of_the_calls_local_weekday() -> None:
    rules = calling_rules()
    sunday = datetime(2026, 12, 6, 13, tzinfo=ZoneInfo("America/Chicago"))
    monday = datetime(2026, 12, 7, 13, tzinfo=ZoneInfo("America/Chicago"))
    on_sunday = decide_window(("America/Chicago",), ("TX",), ("TX",), rules, None, sunday)
    on_monday = decide_window(("America/Chicago",), ("TX",), ("TX",), rules, None, monday)
    assert on_sunday.window.startswith("12:00-21:00 local") and on_monday.window.startswith("09:00-21:00")
    assert on_sunday.state_rule == "TX 09:00-21:00, Sun 12:00-21:00"


def test_the_states_with_their_own_dnc_lists_are_flagged() -> None:
    """The state lists the compliance facts name: CO, FL, IN, LA, MA, MO, OK, PA, TN, TX, WY (and MS)."""
    assert set(states_with_dnc_lists()) >= {"CO", "FL", "IN", "LA", "MA", "MO", "OK", "PA", "TN", "TX", "WY"}


def test_every_rule_has_a_source_an_effective_date_and_an_as_of_date() -> None:
    for code, rule in calling_rules().items():
        assert rule.sources and rule.as_of is not None, code
        assert all(s.citation and s.effective <= rule.as_of for s in rule.sources), code


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[FL]\nhours = ["08:00", "20:00"]\n[[FL.sources]]\ncitation = "x"\neffective = "2020-01-01"\n',
            "the federal rule (US) is required",
        ),
        ('[US]\nhours = ["08:00", "21:00"]\n', "US: sources=[]: every rule cites at least one source"),
        ('[US]\nhours = ["8am", "21:00"]\n', "US: hours='8am': not a local time HH:MM"),
        ('[US]\nhours = ["21:00", "08:00"]\n', "the window must start before it ends"),
        ('[US]\nhours = ["08:00", "21:00"]\ndays = { sunday = ["12:00", "21:00"] }\n', "days.sunday"),
        ('[US]\nhours = ["08:00", "21:00"]\nmax_calls_per_24h = 0\n', "max_calls_per_24h=0"),
        ('[US]\nhours = ["08:00", "21:00"]\nno_sundays = true\n', "no_sundays=True: unknown field"),
        (
            '[US]\nhours = ["08:00", "21:00"]\n[[US.sources]]\ncitation = "x"\neffective = "soon"\n',
            "US.sources[0]: effective='soon': not a date",
        ),
    ],
)
def test_a_malformed_rules_file_is_refused_naming_the_field_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rules(text)
    assert message in str(caught.value)
