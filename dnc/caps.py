"""Per-period call caps: "at most N calls to a number in D days", set by an organization (every campaign)
or a campaign, e.g. 7 calls in 7 days per number for debt collection (12 CFR 1006.14(b)(2), Regulation F).

A cap counts the earlier calls to the number placed for the same seller, across every campaign and caller
ID (the caller supplies those calls, `LeadColumns.recent_calls`; `lookback` says how far back it must
look). Pure: the caps are data, the moment is passed in. The states' 24-hour caps are rules of
`dnc/state_rules.toml`; these are the organization's and campaigns' own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.errors import ValidationError

MAX_CAP_DAYS = 366
MAX_CAP_CALLS = 1000
CAP_RULE = 'a list of {"calls": N, "days": D} (N 1-1000 calls in D 1-366 days)'


@dataclass(frozen=True)
class CallCap:
    calls: int  # at most this many calls to a number ...
    days: int  # ... in any period of this many days (24 h each), the call being decided included
    set_by: str = "campaign"  # organization | campaign

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)

    def describe(self) -> str:
        return f"{self.calls} calls in {self.days} day{'s' if self.days != 1 else ''} ({self.set_by})"

    def to_json(self) -> dict[str, int]:
        return {"calls": self.calls, "days": self.days}


def parse_call_caps(value: Any, *, field: str, set_by: str) -> tuple[CallCap, ...]:
    """Caps from their JSON form (a setting): refused naming the field, the value and the rule."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{field}={value!r}: {CAP_RULE}", field=field)
    caps = []
    for n, item in enumerate(value):
        where = f"{field}[{n}]"
        if not isinstance(item, dict) or set(item) != {"calls", "days"}:
            raise ValidationError(f"{where}={item!r}: {CAP_RULE}", field=field)
        calls, days = item["calls"], item["days"]
        for name, number, highest in (("calls", calls, MAX_CAP_CALLS), ("days", days, MAX_CAP_DAYS)):
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= highest:
                raise ValidationError(
                    f"{where}.{name}={number!r}: a whole number from 1 to {highest}", field=field
                )
        caps.append(CallCap(calls, days, set_by))
    return tuple(dict.fromkeys(caps))


def caps_json(caps: Iterable[CallCap]) -> list[dict[str, int]]:
    return [c.to_json() for c in caps]


def lookback(caps: Sequence[CallCap], floor: timedelta = timedelta(hours=24)) -> timedelta:
    """How far back the earlier calls of a number must be read for these caps (at least `floor`: the
    states' 24-hour caps)."""
    return max([floor, *(c.period for c in caps)])


def calls_in(recent_calls: Iterable[datetime], at: datetime, period: timedelta) -> int:
    """Earlier calls in the period ending at `at` (a call exactly one period ago is out of it)."""
    since = at - period
    return sum(1 for t in recent_calls if since < t <= at)


@dataclass(frozen=True)
class CapCount:
    cap: CallCap
    counted: int  # earlier calls in the cap's period

    @property
    def reached(self) -> bool:
        return self.counted >= self.cap.calls


def count_caps(caps: Sequence[CallCap], recent_calls: Iterable[datetime], at: datetime) -> list[CapCount]:
    """Each cap with the earlier calls it counts at `at`; a cap is reached when one more call would
    exceed it."""
    recent = tuple(recent_calls)
    return [CapCount(cap, calls_in(recent, at, cap.period)) for cap in caps]
