"""Freshness of the imported lists: each kind has a maximum age (`core.legal.LIST_MAX_AGE`: the national
registry's 31 days by law, the same for state, litigator and reassigned-number data), measured from when
the copy was obtained. Pure: the lists and the moment come in. The engine turns a stale list into reasons
(fail closed) and campaign readiness into blockers, both from `stale_lists`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.legal import LIST_MAX_AGE


@dataclass(frozen=True)
class ListCopy:
    kind: str
    scope: str  # a state list's state; "" otherwise
    list_id: str
    obtained_at: datetime


@dataclass(frozen=True)
class StaleList:
    copy: ListCopy
    age: timedelta
    max_age: timedelta

    def describe(self) -> str:
        where = f" ({self.copy.scope})" if self.copy.scope else ""
        return (
            f"the {self.copy.kind} list{where} {self.copy.list_id} was obtained "
            f"{self.copy.obtained_at:%Y-%m-%d %H:%M} UTC, {self.age.days} days ago: older than "
            f"{self.max_age.days} days"
        )


def max_age(kind: str) -> timedelta | None:
    """The freshness rule of a list kind (None: the kind has none, e.g. wireless line-type data)."""
    return LIST_MAX_AGE.get(kind)


def is_stale(kind: str, obtained_at: datetime, at: datetime) -> bool:
    """Whether a copy of a `kind` list obtained at `obtained_at` is too old to check against at `at`: the
    one comparison (the engine, campaign readiness and the DNC lists page all come here)."""
    limit = max_age(kind)
    return limit is not None and at - obtained_at > limit


def stale_lists(
    copies: Iterable[ListCopy], at: datetime, *, kinds: Iterable[str] | None = None
) -> list[StaleList]:
    """The copies older than their kind allows at `at` (only of `kinds`, when given)."""
    wanted = set(kinds) if kinds is not None else None
    out = []
    for copy in copies:
        limit = max_age(copy.kind)
        if limit is None or (wanted is not None and copy.kind not in wanted):
            continue
        if is_stale(copy.kind, copy.obtained_at, at):
            out.append(StaleList(copy, at - copy.obtained_at, limit))
    return out
