"""The one path from what a caller knows about leads to the engine's `LeadColumns`.

Lead import, scrub reports and the dial-time check all describe a lead by the same facts (number, state,
ZIP code, wireless flag, consent and its date). Cell text is parsed here (`parse_*`, one consent mapping,
one wireless mapping), the state comes from the ZIP code here (`state_of_zip`, cached per batch), and the
consent date becomes the engine's day number here; `ColumnsBuilder` collects the columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import numpy as np

from dnc.nanp import state_of_zip
from dnc.verdicts import Consent, LeadContext

STATES = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california",
    "CO": "colorado", "CT": "connecticut", "DE": "delaware", "DC": "district of columbia",
    "FL": "florida", "GA": "georgia", "HI": "hawaii", "ID": "idaho", "IL": "illinois", "IN": "indiana",
    "IA": "iowa", "KS": "kansas", "KY": "kentucky", "LA": "louisiana", "ME": "maine", "MD": "maryland",
    "MA": "massachusetts", "MI": "michigan", "MN": "minnesota", "MS": "mississippi", "MO": "missouri",
    "MT": "montana", "NE": "nebraska", "NV": "nevada", "NH": "new hampshire", "NJ": "new jersey",
    "NM": "new mexico", "NY": "new york", "NC": "north carolina", "ND": "north dakota", "OH": "ohio",
    "OK": "oklahoma", "OR": "oregon", "PA": "pennsylvania", "RI": "rhode island",
    "SC": "south carolina", "SD": "south dakota", "TN": "tennessee", "TX": "texas", "UT": "utah",
    "VT": "vermont", "VA": "virginia", "WA": "washington", "WV": "west virginia", "WI": "wisconsin",
    "WY": "wyoming", "PR": "puerto rico", "VI": "virgin islands", "GU": "guam",
    "AS": "american samoa", "MP": "northern mariana islands",
}  # fmt: skip
_STATE_BY_NAME = {name: code for code, name in STATES.items()}

# Cell text (lower case) -> consent kind. The one consent mapping: import, scrub and API use it.
CONSENT: dict[str, str] = {
    **dict.fromkeys(["", "none", "no", "n", "false", "0"], Consent.NONE.value),
    **dict.fromkeys(["express", "yes", "y", "true", "1", "verbal", "prior express"], Consent.EXPRESS.value),
    **dict.fromkeys(
        ["express_written", "express written", "written", "pewc", "prior express written", "ewc"],
        Consent.EXPRESS_WRITTEN.value,
    ),
}
CONSENT_RULE = "not one of none, express, express_written"
WIRELESS: dict[str, bool | None] = {
    **dict.fromkeys(["", "unknown", "u", "?"], None),
    **dict.fromkeys(["true", "yes", "y", "1", "wireless", "mobile", "cell", "cellular"], True),
    **dict.fromkeys(["false", "no", "n", "0", "landline", "fixed", "wireline", "voip"], False),
}
WIRELESS_RULE = "not a yes/no wireless flag"
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%m-%d-%Y", "%d.%m.%Y")
DATE_RULE = "not a date (YYYY-MM-DD or MM/DD/YYYY)"
_EPOCH = date(1970, 1, 1)
NO_CONSENT_DAY = -1
UNKNOWN_CONSENT_DAY = -2


def parse_state(value: str) -> str | None:
    """Two-letter code of a US state given by code or name; None when it is neither."""
    upper = value.upper()
    if upper in STATES:
        return upper
    return _STATE_BY_NAME.get(value.lower())


def parse_zip(value: str) -> str | None:
    digits = value if len(value) != 4 or not value.isdigit() else "0" + value  # Excel drops leading zeros
    match = _ZIP.match(digits)
    if match is None:
        return None
    return match.group(1) if match.group(2) is None else f"{match.group(1)}-{match.group(2)}"


def parse_date(value: str) -> date | None:
    text = value[:10] if len(value) > 10 and value[4:5] == "-" else value
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_consent(value: str) -> str | None:
    return CONSENT.get(value.strip().lower())


def consent_day(consent: str, consent_at: date | None) -> int:
    """The engine's consent column: days since 1970-01-01, -1 without consent, -2 consent of unknown date."""
    if consent == Consent.NONE.value or consent not in _CONSENT_KINDS:
        return NO_CONSENT_DAY
    return (consent_at - _EPOCH).days if consent_at else UNKNOWN_CONSENT_DAY


_CONSENT_KINDS = frozenset(c.value for c in Consent)


@dataclass
class LeadColumns:
    """A batch of leads as columns: what `decide` works on. Built by `ColumnsBuilder` / `lead_columns`
    (or `of` for `LeadContext`s); bulk callers skip a million small objects."""

    e164s: list[str]
    lead_ids: list[str | None]
    states: list[str]  # upper-case two-letter state (given, else from the ZIP code), "" when unknown
    wireless: np.ndarray  # int8: 1 wireless, 0 not, -1 unknown
    written_consent: np.ndarray  # bool: prior express written consent
    consent_day: np.ndarray  # int64 days since 1970-01-01; -1 no consent, -2 consent of unknown date
    campaign_ids: list[str | None] | None = None  # None: every lead belongs to the engine's campaign
    recent_calls: dict[int, tuple[datetime, ...]] = field(default_factory=dict)  # lead index -> calls

    @classmethod
    def plain(
        cls, e164s: list[str], lead_ids: list[str | None], states: list[str] | None = None
    ) -> LeadColumns:
        count = len(e164s)
        return cls(
            e164s=e164s,
            lead_ids=lead_ids,
            states=states if states is not None else [""] * count,
            wireless=np.full(count, -1, dtype=np.int8),
            written_consent=np.zeros(count, dtype=bool),
            consent_day=np.full(count, NO_CONSENT_DAY, dtype=np.int64),
        )

    @classmethod
    def of(cls, leads: Sequence[LeadContext]) -> LeadColumns:
        return lead_columns(
            [lead.e164 for lead in leads],
            leads,
            lead_ids=[lead.lead_id for lead in leads],
            campaign_ids=[lead.campaign_id for lead in leads],
            recent_calls=[lead.recent_calls for lead in leads],
        )

    def __len__(self) -> int:
        return len(self.e164s)


class LeadFacts(Protocol):
    """What any lead record (an import row, a leased lead, a `LeadContext`) tells the engine."""

    @property
    def state(self) -> str | None: ...
    @property
    def zip_code(self) -> str | None: ...
    @property
    def wireless(self) -> bool | None: ...
    @property
    def consent(self) -> str: ...
    @property
    def consent_at(self) -> date | None: ...


class ColumnsBuilder:
    """Collects leads into the engine's columns; the ZIP -> state lookups are cached per builder."""

    def __init__(self) -> None:
        self.e164s: list[str] = []
        self.lead_ids: list[str | None] = []
        self.states: list[str] = []
        self.wireless: list[int] = []
        self.written: list[bool] = []
        self.consent_days: list[int] = []
        self.campaign_ids: list[str | None] = []
        self.recent_calls: dict[int, tuple[datetime, ...]] = {}
        self._zip_states: dict[str, str] = {}

    def state_for(self, state: str | None, zip_code: str | None) -> str:
        if state:
            return state.upper()
        zip5 = zip_code[:5] if zip_code else ""
        found = self._zip_states.get(zip5)
        if found is None:
            found = self._zip_states[zip5] = state_of_zip(zip5)
        return found

    def add(
        self,
        e164: str,
        facts: LeadFacts,
        *,
        lead_id: str | None = None,
        campaign_id: str | None = None,
        recent_calls: tuple[datetime, ...] = (),
    ) -> None:
        self.add_values(
            e164,
            lead_id=lead_id,
            state=facts.state,
            zip_code=facts.zip_code,
            wireless=facts.wireless,
            consent=str(facts.consent),
            consent_at=facts.consent_at,
            campaign_id=campaign_id,
            recent_calls=recent_calls,
        )

    def add_values(
        self,
        e164: str,
        *,
        lead_id: str | None = None,
        state: str | None = None,
        zip_code: str | None = None,
        wireless: bool | None = None,
        consent: str = Consent.NONE.value,
        consent_at: date | None = None,
        campaign_id: str | None = None,
        recent_calls: tuple[datetime, ...] = (),
    ) -> None:
        if recent_calls:
            self.recent_calls[len(self.e164s)] = recent_calls
        self.e164s.append(e164)
        self.lead_ids.append(lead_id)
        self.states.append(self.state_for(state, zip_code))
        self.wireless.append(-1 if wireless is None else int(wireless))
        self.written.append(consent == Consent.EXPRESS_WRITTEN.value)
        self.consent_days.append(consent_day(consent, consent_at))
        self.campaign_ids.append(campaign_id)

    def build(self) -> LeadColumns:
        return LeadColumns(
            e164s=self.e164s,
            lead_ids=self.lead_ids,
            states=self.states,
            wireless=np.array(self.wireless, dtype=np.int8),
            written_consent=np.array(self.written, dtype=bool),
            consent_day=np.array(self.consent_days, dtype=np.int64),
            campaign_ids=self.campaign_ids if any(self.campaign_ids) else None,
            recent_calls=self.recent_calls,
        )


def lead_columns(
    e164s: Sequence[str],
    leads: Iterable[LeadFacts],
    *,
    lead_ids: Sequence[str | None] | None = None,
    campaign_ids: Sequence[str | None] | None = None,
    recent_calls: Sequence[tuple[datetime, ...]] | None = None,
) -> LeadColumns:
    """`LeadColumns` from lead records and their E.164 numbers: the one builder every caller uses."""
    builder = ColumnsBuilder()
    for i, (e164, lead) in enumerate(zip(e164s, leads, strict=True)):
        builder.add(
            e164,
            lead,
            lead_id=lead_ids[i] if lead_ids is not None else None,
            campaign_id=campaign_ids[i] if campaign_ids is not None else None,
            recent_calls=recent_calls[i] if recent_calls is not None else (),
        )
    return builder.build()
