"""The one place where campaigns calls the compliance engine (`dnc`): number normalization, the import
scrub, and adding numbers to the internal DNC list.

At import a lead is *blocked* only for reasons that belong to the number or the lead (DNC lists, wireless
without consent, geo rules, invalid). Reasons that pass with time (calling window, Sunday, holiday, 24-hour
cap) or that describe the system's state (registry copy missing or stale) do not block it: the dialer
checks every lead again just before dialing, and those reasons are decided then.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from campaigns.models import Campaign
from core.db import Database
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.internal import add_internal_dnc
from dnc.normalize import normalize_many
from dnc.verdicts import CampaignRules, Consent, LeadContext

DECIDED_AT_DIAL_TIME = frozenset(
    {
        reasons.OUTSIDE_FEDERAL_WINDOW,
        reasons.OUTSIDE_STATE_WINDOW,
        reasons.OUTSIDE_CAMPAIGN_WINDOW,
        reasons.STATE_NO_SUNDAY,
        reasons.STATE_NO_HOLIDAY,
        reasons.STATE_CALL_CAP,
        reasons.NATIONAL_REGISTRY_MISSING,
        reasons.NATIONAL_REGISTRY_STALE,
        reasons.LIST_INDEX_STALE,
    }
)
REGISTRY_UNAVAILABLE = frozenset({reasons.NATIONAL_REGISTRY_MISSING, reasons.NATIONAL_REGISTRY_STALE})


def normalize(raws: Sequence[str], default_region: str) -> list[tuple[str | None, str | None]]:
    """(E.164, None) or (None, rejection reason code) per raw phone string."""
    return [(n.e164, n.reason) for n in normalize_many(raws, default_region)]


@dataclass(frozen=True)
class ScrubInput:
    e164: str
    state: str | None
    zip_code: str | None
    wireless: bool | None
    consent: str
    consent_at: date | None


@dataclass(frozen=True)
class ImportVerdict:
    blocked: bool
    reasons: tuple[str, ...]  # the reasons that block the lead; empty when callable
    registry_unavailable: bool  # no fresh national registry copy: the dialer will refuse until there is


def campaign_rules(campaign: Campaign) -> CampaignRules:
    window = None
    if campaign.calling_window_start is not None and campaign.calling_window_end is not None:
        window = (campaign.calling_window_start, campaign.calling_window_end)
    return CampaignRules(
        campaign_id=campaign.id,
        allowed_countries=tuple(campaign.allowed_countries) if campaign.allowed_countries else None,
        blocked_states=tuple(campaign.blocked_states),
        blocked_area_codes=tuple(campaign.blocked_area_codes),
        calling_window_override=window,
    )


class ImportScrubber:
    """The compliance engine, loaded once for one campaign's import."""

    def __init__(self, db: Database, campaign: Campaign) -> None:
        self.campaign_id = str(campaign.id)
        self.engine = ComplianceEngine.load(db, campaign.org_id, campaign_rules(campaign))

    def check(self, leads: Sequence[ScrubInput], at: datetime) -> list[ImportVerdict]:
        contexts = [
            LeadContext(
                e164=lead.e164,
                state=lead.state,
                zip_code=lead.zip_code[:5] if lead.zip_code else None,
                wireless=lead.wireless,
                consent=Consent(lead.consent),
                consent_at=lead.consent_at,
                campaign_id=self.campaign_id,
            )
            for lead in leads
        ]
        verdicts = []
        for verdict in self.engine.check(contexts, at):
            blocking = tuple(r for r in verdict.reasons if r not in DECIDED_AT_DIAL_TIME)
            verdicts.append(
                ImportVerdict(
                    blocked=bool(blocking),
                    reasons=blocking,
                    registry_unavailable=not REGISTRY_UNAVAILABLE.isdisjoint(verdict.reasons),
                )
            )
        return verdicts


def add_to_internal_dnc(
    session: Session, *, e164: str, campaign_id: uuid.UUID | None, reason: str, added_by: uuid.UUID | None
) -> None:
    """An agent's DNC disposition: the number is never called again by the organization (or campaign).
    `session` must be scoped to the lead's organization."""
    add_internal_dnc(
        session, e164=e164, campaign_id=campaign_id, source="agent", reason=reason, added_by=added_by
    )
