"""The data contract of the compliance engine: what a caller passes in and what verdict comes back.

Callers (lead import, the dialer just before each call, scrub reports) build `LeadContext`s and receive one
`ScrubVerdict` per lead from the engine's single decision function.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import msgspec

from dnc.caps import CallCap, caps_json, parse_call_caps


class Consent(enum.StrEnum):
    NONE = "none"
    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"


def prerecorded_message_allowed(consent: str) -> bool:
    """May a telemarketing call leave this lead a prerecorded message (a voicemail drop)? Only with prior
    express written consent (47 CFR 64.1200(a)(2) and (a)(3)): whatever the line type, fail closed."""
    return consent == Consent.EXPRESS_WRITTEN.value


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
    seller: str = ""  # whose consent the calls rely on ("" = the organization itself)
    call_caps: tuple[CallCap, ...] = ()  # the campaign's own per-period caps (dnc.caps)

    def to_params(self) -> dict[str, Any]:
        """As JSON-able job parameters (a scrub job gets the rules its caller resolved)."""
        window = self.calling_window_override
        return {
            "campaign_id": str(self.campaign_id) if self.campaign_id else None,
            "allowed_countries": list(self.allowed_countries) if self.allowed_countries is not None else None,
            "blocked_states": list(self.blocked_states),
            "blocked_area_codes": list(self.blocked_area_codes),
            "calling_window": [window[0].isoformat(), window[1].isoformat()] if window else None,
            "seller": self.seller,
            "call_caps": caps_json(self.call_caps),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CampaignRules:
        window = params.get("calling_window")
        countries = params.get("allowed_countries")
        return cls(
            campaign_id=uuid.UUID(params["campaign_id"]) if params.get("campaign_id") else None,
            allowed_countries=tuple(countries) if countries is not None else None,
            blocked_states=tuple(params.get("blocked_states") or ()),
            blocked_area_codes=tuple(params.get("blocked_area_codes") or ()),
            calling_window_override=(time.fromisoformat(window[0]), time.fromisoformat(window[1]))
            if window
            else None,
            seller=params.get("seller") or "",
            call_caps=parse_call_caps(params.get("call_caps"), field="call_caps", set_by="campaign"),
        )


class ListChecked(msgspec.Struct, frozen=True, kw_only=True):
    """One list the check consulted, at the version it consulted (matched or not)."""

    kind: str  # national | state | litigator | wireless | reassigned | internal | area_code
    list_id: str
    version: str  # the list's version number; for the internal list "<entries>@<highest id>"
    obtained_at: datetime | None = None  # when that copy was downloaded (the freshness clock)
    age_days: float | None = None  # its age at the check
    scope: str = ""
    max_age_days: int | None = None  # its kind's freshness rule (core.legal.LIST_MAX_AGE)
    stale: bool = False  # older than that: the check failed closed for the leads it concerns


class WindowEvidence(msgspec.Struct, frozen=True, kw_only=True):
    number_zones: list[str]  # what the number's prefix maps to
    candidate_zones: list[str]  # the zones the window had to hold in (after the lead's state)
    utc_offsets_min: dict[str, int]  # each candidate zone's UTC offset at the moment of the check
    window: str  # the window applied: federal, state and campaign rules intersected
    state_rule: str
    campaign_window: str | None  # the campaign's own window, when it has one
    # The state holidays that refused the call (`state_no_holiday`): state, holiday, local date, statute
    holidays: list[str] = msgspec.field(default_factory=list)


class PeriodCapEvidence(msgspec.Struct, frozen=True, kw_only=True):
    calls: int  # the cap: at most this many calls ...
    days: int  # ... in this many days
    set_by: str  # organization | campaign
    counted: int  # earlier calls to the number in that period, when the check ran
    reached: bool


class CapEvidence(msgspec.Struct, frozen=True, kw_only=True):
    calls_last_24h: int  # earlier calls to the number the check counted
    max_calls_per_24h: int | None  # the strictest state cap that applied
    periods: list[PeriodCapEvidence] = []  # the organization's and campaign's per-period caps
    counted_for: str = ""  # whose calls were counted: the seller's, across its campaigns and caller IDs


class ConsentEvidence(msgspec.Struct, frozen=True, kw_only=True):
    basis: str  # none | express | express_written
    consent_date: date | None
    wireless: str  # yes | no | unknown
    wireless_decided_by: str  # "lead flag", "list wireless:<id>@<version>", or the unknown-line-type setting
    record_id: str | None = None  # the consent record relied on (None: the lead's own consent fields)
    revocation_ids: list[str] = []  # revoked records that applied to this seller (they block the call)


class ReassignedEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """The Reassigned Numbers Database query for the number (47 CFR 64.1200(m)), as answered."""

    answer: str  # yes | no | no_data | not_queried (no consent relied on)
    consent_date: date | None  # the date queried with
    disconnected_on: date | None  # the latest permanent disconnect on record
    data_version: str  # "<list id>@<version>" of every disconnect file consulted
    data_as_of: datetime | None  # when that data was obtained
    data_age_days: float | None
    source: str  # "local import" (imported disconnect files), "none imported", or the service used
    safe_harbor: bool  # a "no" from current data: the 64.1200(m) safe harbor applies


class ComplianceEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """What one dial-time (or scrub) check of one number saw and decided; stored as it was returned."""

    checked_at: datetime
    callable: bool
    reasons: list[str]
    matched: list[str]  # "<kind>:<scope>:<version>" of every list that contains the number
    lists_checked: list[ListChecked]
    registry_version: str
    registry_age_days: float | None
    window: WindowEvidence
    caps: CapEvidence
    consent: ConsentEvidence
    reassigned: ReassignedEvidence | None = None
