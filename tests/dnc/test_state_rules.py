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
from dnc.holidays import easter, holiday_days
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
    ("AL", "Ala. Admin. Code r. 770-X-5-.17(1)(b)", [(MONDAY, "10:00", ()), (SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                         (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)),
                         (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("LA", "La. R.S. 45:811(2)-(3)", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                               (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)), (SATURDAY, "14:00", ())]),
    ("MS", "Miss. Code 77-3-723(1)", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)), (CHRISTMAS, "14:00", ()),
                                   (MONDAY, "20:00", (reasons.OUTSIDE_STATE_WINDOW,))]),
    ("UT", "Utah Code 13-25a-103(3)", [(SUNDAY, "14:00", (reasons.STATE_NO_SUNDAY,)),
                                    (CHRISTMAS, "14:00", (reasons.STATE_NO_HOLIDAY,)), (MONDAY, "20:30", ())]),
    ("RI", "R.I. Gen. Laws 5-61-3.6 and 5-61-2", [
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


# ------------------------------------------------------------------------------ holiday calendars
# Each state's holiday ban refuses the days of its own calendar (dnc/state_rules.toml [X.holidays]), kept
# as data: dates below are worked out by hand from the statute, never from the code.


def holidays(state: str, year: int) -> dict[date, str]:
    return holiday_days(calling_rules()[state].holidays, year)


def calendar_cites(state: str, text: str) -> None:
    sources = {h.source for h in calling_rules()[state].holidays}
    assert any(text in s for s in sources), sources


def test_easter_is_the_gregorian_computus() -> None:
    assert [easter(y) for y in (2024, 2025, 2026, 2027, 2038)] == [
        date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2027, 3, 28), date(2038, 4, 25),
    ]  # fmt: skip


def test_the_federal_calendar_is_5_usc_6103_with_weekend_dates_observed() -> None:
    """5 U.S.C. 6103(a); Saturday -> Friday, Sunday -> Monday. 2026-07-04 is a Saturday; 2028-01-01 is a
    Saturday, observed on Friday 2027-12-31."""
    calendar_cites("US", "5 U.S.C. 6103(a)")
    assert sorted(holidays("US", 2026)) == [
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25), date(2026, 6, 19),
        date(2026, 7, 3), date(2026, 7, 4), date(2026, 9, 7), date(2026, 10, 12), date(2026, 11, 11),
        date(2026, 11, 26), date(2026, 12, 25),
    ]  # fmt: skip
    assert holidays("US", 2026)[date(2026, 7, 3)] == "Independence Day (observed)"
    assert holidays("US", 2027)[date(2027, 12, 31)] == "New Year's Day (observed)"
    assert date(2020, 6, 19) not in holidays("US", 2020)  # Juneteenth is a federal holiday from 2021-06-17
    assert verdict("US", date(2026, 11, 26), "14:00") == ()  # no federal ban on holiday calls


# (state, the source it encodes, [(local day, expected reasons at 14:00)])
HOLIDAY_CASES = [
    ("AL", "Ala. Code 1-3-8", [
        (date(2026, 4, 27), (reasons.STATE_NO_HOLIDAY,)),  # Confederate Memorial Day: fourth Monday of April
        (date(2026, 6, 1), (reasons.STATE_NO_HOLIDAY,)),  # Jefferson Davis' Birthday: first Monday of June
        (date(2026, 2, 17), (reasons.STATE_NO_HOLIDAY,)),  # Mardi Gras: Easter (Apr 5) - 47 days
        (date(2026, 6, 19), (reasons.STATE_NO_HOLIDAY,)),  # Juneteenth: the federal calendar is part of AL's
        (date(2026, 7, 3), (reasons.STATE_NO_HOLIDAY,)),  # Independence Day on a Saturday: Friday observed
        (date(2026, 4, 28), ()),
    ]),
    ("LA", "La. R.S. 1:55(A)(1)", [
        (date(2026, 1, 8), (reasons.STATE_NO_HOLIDAY,)),  # Battle of New Orleans
        (date(2026, 4, 3), (reasons.STATE_NO_HOLIDAY,)),  # Good Friday
        (date(2026, 2, 17), (reasons.STATE_NO_HOLIDAY,)),  # Mardi Gras
        (date(2027, 8, 30), (reasons.STATE_NO_HOLIDAY,)),  # Huey P. Long Day (a Monday in 2027)
        (date(2026, 6, 19), ()),  # Juneteenth is not a Louisiana state holiday
        (date(2026, 7, 3), ()),  # 1:55(A) observes no holiday on another day
    ]),
    ("UT", "Utah Code 63G-1-301", [
        (date(2026, 7, 24), (reasons.STATE_NO_HOLIDAY,)),  # Pioneer Day
        (date(2026, 6, 15), (reasons.STATE_NO_HOLIDAY,)),  # Juneteenth on a Friday: the Monday before
        (date(2026, 6, 19), (reasons.STATE_NO_HOLIDAY,)),  # ... and the day itself
        (date(2026, 4, 3), ()),  # Good Friday is a holiday from 2026-05-06 ...
        (date(2027, 3, 26), (reasons.STATE_NO_HOLIDAY,)),  # ... so 2027's is refused
        (date(2026, 11, 26), (reasons.STATE_NO_HOLIDAY,)),  # Thanksgiving: fourth Thursday of November
    ]),
    ("RI", "R.I. Gen. Laws 25-1-1", [
        (date(2026, 8, 10), (reasons.STATE_NO_HOLIDAY,)),  # Victory Day: second Monday of August
        (date(2026, 5, 4), (reasons.STATE_NO_HOLIDAY,)),  # Rhode Island Independence Day
        (date(2026, 11, 3), (reasons.STATE_NO_HOLIDAY,)),  # Election Day, an even year
        (date(2027, 11, 2), ()),  # no general election in 2027
        (date(2026, 7, 4), (reasons.STATE_NO_HOLIDAY,)),  # a Saturday holiday ...
        (date(2026, 7, 6), (reasons.STATE_NO_HOLIDAY,)),  # ... observed the Monday after (25-1-1)
        (date(2026, 7, 3), (reasons.STATE_NO_HOLIDAY,)),  # ... and the Friday the federal calendar observes
        (date(2026, 11, 26), (reasons.STATE_NO_HOLIDAY,)),  # Thanksgiving: a federal holiday
    ]),
    ("MS", "No holiday ban since the PSC's rules", [
        (date(2026, 4, 27), ()), (date(2026, 12, 25), ()),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("state", "source", "days"), HOLIDAY_CASES, ids=[c[0] for c in HOLIDAY_CASES])
def test_each_states_holiday_calendar_refuses_the_days_its_statute_names(
    state: str, source: str, days: list[tuple[date, tuple[str, ...]]]
) -> None:
    if state == "MS":
        cites(state, source)
        assert not calling_rules()[state].no_holidays
    else:
        calendar_cites(state, source)
    for day, expected in days:
        assert verdict(state, day, "14:00") == expected, f"{state} {day:%a %Y-%m-%d}"


def test_the_window_decision_names_the_holiday_the_state_and_the_statute() -> None:
    at = datetime(2026, 4, 27, 14, tzinfo=ZoneInfo("America/Chicago"))
    decision = decide_window(("America/Chicago",), ("AL",), ("AL",), calling_rules(), None, at)
    assert decision.reasons == (reasons.STATE_NO_HOLIDAY,)
    assert decision.holidays == ("AL: Confederate Memorial Day 2026-04-27 (Ala. Code 1-3-8)",)
    # Just past midnight UTC it is still the holiday in Chicago, no longer in UTC terms: local dates count.
    late = datetime(2026, 4, 28, 1, 30, tzinfo=ZoneInfo("UTC"))  # 20:30 CDT on the 27th
    assert (
        reasons.STATE_NO_HOLIDAY
        in decide_window(("America/Chicago",), ("AL",), ("AL",), calling_rules(), None, late).reasons
    )


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ("no_holidays = true\n", "no_holidays=True: a holiday ban needs its calendar"),
        ('no_holidays = true\nholidays = { days = [{ name = "X", on = "13-01" }] }\n', "not a date rule"),
        (
            'no_holidays = true\nholidays = { days = [{ name = "X", on = "second fryday of may" }] }\n',
            "on='second fryday of may': not a date rule",
        ),
        (
            'no_holidays = true\nholidays = { days = [{ name = "X", on = "01-01", observed = "sat" }] }\n',
            "observed='sat': one of none",
        ),
        (
            'no_holidays = true\nholidays = { days = [{ on = "01-01", source = "s" }] }\n',
            "FL.holidays.days[0]: name=None: every holiday has a name",
        ),
        (
            'no_holidays = true\nholidays = { days = [{ name = "X", on = "01-01" }] }\n',
            "source='': every holiday cites the statute",
        ),
        (
            "no_holidays = true\nholidays = { federal = true }\n",
            "the federal calendar ([US.holidays]) is empty",
        ),
    ],
)
def test_a_malformed_holiday_calendar_is_refused_naming_the_field_and_the_rule(
    calendar: str, message: str
) -> None:
    text = (
        '[US]\nhours = ["08:00", "21:00"]\n[[US.sources]]\ncitation = "x"\neffective = "2020-01-01"\n'
        f'[FL]\nhours = ["08:00", "20:00"]\n{calendar}[[FL.sources]]\ncitation = "y"\neffective = "2020-01-01"\n'
    )
    with pytest.raises(ValidationError) as caught:
        parse_rules(text)
    assert message in str(caught.value)
