"""The Reassigned Numbers Database (RND, 47 CFR 64.1200(m); FCC DA 21-1649), behind an interface.

A query is (number, the date the caller obtained consent) and the answer is:
- `yes`: the number was permanently disconnected on or after that date (it may belong to someone else
  now: the consent no longer counts, `reassigned_since_consent`);
- `no`: it was not; a caller who asked the most recent data and got "no" has the safe harbor of
  64.1200(m) if the number had in fact been reassigned;
- `no_data`: the database cannot tell (no data for that number or that far back): no safe harbor.

Numbers called without consent are not queried (the RND only protects reliance on consent). A consent of
unknown date cannot be queried as such: any disconnect on record answers `yes`, otherwise `no_data`.

The real database is a paid subscription (1,000 numbers per API call) this project cannot reach;
`LocalReassignedNumbers` answers from imported disconnect files (`--kind reassigned`, `NUMBER,YYYY-MM-DD`).
Its data reaches back to the earliest disconnect date it holds: a consent older than that is `no_data`.
An implementation of `ReassignedNumbers` for the real service slots in where the snapshot builds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

YES, NO, NO_DATA, NOT_QUERIED = 1, 0, -1, -2
ANSWER_NAMES = {YES: "yes", NO: "no", NO_DATA: "no_data", NOT_QUERIED: "not_queried"}
RND_BATCH = 1000  # the FCC database's numbers per API call
_NO_CONSENT_DAY, _UNKNOWN_CONSENT_DAY = -1, -2


@dataclass(frozen=True)
class RndAnswers:
    """One answer per number queried (`YES`, `NO`, `NO_DATA`, `NOT_QUERIED`), and which data gave them."""

    answers: np.ndarray  # int8
    disconnected_day: np.ndarray  # int64 days since 1970-01-01 of the latest disconnect on record, -1 none
    version: str  # the data version queried ("" when there is none)
    data_as_of: datetime | None  # when that data was obtained (its age is the freshness clock)
    source: str
    stale: bool = False  # the data is older than its freshness rule allows: no safe harbor


class DisconnectData(Protocol):
    """An imported disconnect file, as the local database reads it (`dnc.dated_index.DatedIndexHandle`)."""

    def lookup(self, national: np.ndarray) -> np.ndarray: ...
    def first_day(self) -> int: ...


class ReassignedNumbers(Protocol):
    """The RND's query: per national number and consent day (-1 none, -2 unknown date), the answer."""

    def query(self, national: np.ndarray, consent_day: np.ndarray) -> RndAnswers: ...


@dataclass(frozen=True)
class LocalReassignedNumbers:
    """The RND's semantics over imported disconnect files (every reassigned list the organization sees).

    `datasets` are (label "<list id>@<version>", obtained_at, data)."""

    datasets: Sequence[tuple[str, datetime, DisconnectData]]

    def query(self, national: np.ndarray, consent_day: np.ndarray) -> RndAnswers:
        count = len(national)
        disconnected = np.full(count, -1, dtype=np.int64)
        answers = np.full(count, NOT_QUERIED, dtype=np.int8)
        queried = (consent_day != _NO_CONSENT_DAY) & (national >= 0)
        if not self.datasets:
            answers[queried] = NO_DATA
            return RndAnswers(answers, disconnected, "", None, "none imported")
        first_day = min(data.first_day() for _, _, data in self.datasets)
        for start in range(0, count, RND_BATCH):  # the real service's batch size, kept here too
            part = slice(start, start + RND_BATCH)
            for _, _, data in self.datasets:
                disconnected[part] = np.maximum(disconnected[part], data.lookup(national[part]))
        unknown_date = consent_day == _UNKNOWN_CONSENT_DAY
        dated = queried & ~unknown_date
        listed = disconnected >= 0
        answers[dated] = NO
        answers[dated & (consent_day < first_day)] = NO_DATA  # before the data reaches back
        answers[dated & listed & (disconnected >= consent_day)] = YES
        answers[queried & unknown_date] = np.where(listed[queried & unknown_date], YES, NO_DATA)
        labels = sorted(label for label, _, _ in self.datasets)
        oldest = min(obtained for _, obtained, _ in self.datasets)
        return RndAnswers(answers, disconnected, ";".join(labels), oldest, "local import")


def answer_name(answer: int) -> str:
    return ANSWER_NAMES[int(answer)]
