"""The data contract of the compliance engine: what a caller passes in and what verdict comes back.

Callers (lead import, the dialer just before each call, scrub reports) build `LeadContext`s and receive one
`ScrubVerdict` per lead from the engine's single decision function.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time


class Consent(enum.StrEnum):
    NONE = "none"
    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"


@dataclass(frozen=True)
class LeadContext:
    """One number to check, with what the caller knows about the lead."""

    e164: str
    lead_id: str | None = None
    state: str | None = None  # two-letter US state the lead lives in, when known
    zip_code: str | None = None
    wireless: bool | None = None  # None = unknown
    consent: Consent = Consent.NONE
    consent_at: date | None = None
    campaign_id: str | None = None
    # Times of earlier calls to this number (any campaign of the organization) that the caller knows of;
    # the engine applies the per-24h caps to them. Supplied by the caller because attempts are its data.
    recent_calls: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class ListMatch:
    """A list that contains the number, and which version of it said so."""

    kind: str  # national | state | internal | litigator | reassigned | wireless | area_code
    list_id: str
    version: str
    version_date: date | None = None
    scope: str = ""  # e.g. "TX", "org", "campaign:<id>"


@dataclass(frozen=True)
class ScrubVerdict:
    e164: str
    lead_id: str | None
    callable: bool
    reasons: tuple[str, ...]  # every reason code that applied; empty when callable
    matches: tuple[ListMatch, ...] = ()
    time_zones: tuple[str, ...] = ()
    calling_window: str = ""  # e.g. "08:00-21:00 local" after intersecting every rule and zone
    state_rule: str = ""
    checked_at: datetime | None = None
    registry_version: str = ""  # which national registry copy (date) the number was checked against
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "callable" if self.callable else "blocked"


@dataclass(frozen=True)
class CampaignRules:
    """A campaign's own restrictions; they can only narrow what the law and the organization allow."""

    campaign_id: uuid.UUID | None = None
    allowed_countries: tuple[str, ...] | None = None  # None: the organization's allowed countries
    blocked_states: tuple[str, ...] = ()
    blocked_area_codes: tuple[str, ...] = ()
    calling_window_override: tuple[time, time] | None = None  # local time; intersected with the law's
