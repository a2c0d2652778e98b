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
from datetime import datetime

from sqlalchemy.orm import Session

from campaigns.lead_columns import LeadRow
from campaigns.models import Campaign
from core.db import Database
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.internal import add_internal_dnc
from dnc.normalize import normalize_many
from dnc.verdicts import CampaignRules, Consent, LeadContext

_CONSENT = {c.value: c for c in Consent}
REGISTRY_UNAVAILABLE = frozenset({reasons.NATIONAL_REGISTRY_MISSING, reasons.NATIONAL_REGISTRY_STALE})


def normalize(raws: Sequence[str], default_region: str) -> list[tuple[str | None, str | None]]:
    """(E.164, None) or (None, rejection reason code) per raw phone string."""
    return [(n.e164, n.reason) for n in normalize_many(raws, default_region)]


@dataclass(frozen=True)
class ImportVerdict:
    blocked: bool
    reasons: tuple[str, ...]  # the reasons that block the lead; empty when callable
    registry_unavailable: bool  # no fresh national registry copy: the dialer will refuse until there is


CALLABLE = ImportVerdict(blocked=False, reasons=(), registry_unavailable=False)


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

    def check(self, leads: Sequence[tuple[LeadRow, str]], at: datetime) -> list[ImportVerdict]:
        """One verdict per (lead, E.164 number), in order."""
        campaign_id, consent = self.campaign_id, _CONSENT
        contexts = [
            LeadContext(
                e164=e164,
                state=lead.state,
                zip_code=lead.zip_code[:5] if lead.zip_code else None,
                wireless=lead.wireless,
                consent=consent[lead.consent],
                consent_at=lead.consent_at,
                campaign_id=campaign_id,
            )
            for lead, e164 in leads
        ]
        return [
            self._import_verdict(v.reasons) if v.reasons else CALLABLE
            for v in self.engine.check(contexts, at)
        ]

    @staticmethod
    def _import_verdict(all_reasons: tuple[str, ...]) -> ImportVerdict:
        blocking = tuple(r for r in all_reasons if r not in reasons.TIME_BOUND)
        return ImportVerdict(
            blocked=bool(blocking),
            reasons=blocking,
            registry_unavailable=not REGISTRY_UNAVAILABLE.isdisjoint(all_reasons),
        )


def add_to_internal_dnc(
    session: Session, *, e164: str, campaign_id: uuid.UUID | None, reason: str, added_by: uuid.UUID | None
) -> None:
    """An agent's DNC disposition: the number is never called again by the organization (or campaign).
    `session` must be scoped to the lead's organization."""
    add_internal_dnc(
        session, e164=e164, campaign_id=campaign_id, source="agent", reason=reason, added_by=added_by
    )
