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
from core.errors import NotFoundError
from dnc import reasons
from dnc.caps import parse_call_caps
from dnc.consent import revoke_consent
from dnc.engine import ComplianceEngine
from dnc.internal import add_internal_dnc
from dnc.lead_facts import lead_columns
from dnc.normalize import normalize_column
from dnc.verdicts import CampaignRules

REGISTRY_UNAVAILABLE = frozenset({reasons.NATIONAL_REGISTRY_MISSING, reasons.NATIONAL_REGISTRY_STALE})


def normalize(raws: Sequence[str], default_region: str) -> tuple[list[str | None], list[str | None]]:
    """Two columns: E.164 (None when rejected) and rejection reason code (None when accepted) per raw
    phone string."""
    return normalize_column(raws, default_region)


@dataclass(frozen=True)
class ImportVerdict:
    blocked: bool
    reasons: tuple[str, ...]  # the reasons that block the lead; empty when callable
    registry_unavailable: bool  # no fresh national registry copy: the dialer will refuse until there is


CALLABLE = ImportVerdict(blocked=False, reasons=(), registry_unavailable=False)


def campaign_rules(campaign: Campaign) -> CampaignRules:
    """The campaign's own compliance settings as the engine's rules: the one Campaign -> rules converter
    (lead import, scrub reports, `POST /api/dnc/check` and the dial-time check all use it)."""
    window = None
    if campaign.calling_window_start is not None and campaign.calling_window_end is not None:
        window = (campaign.calling_window_start, campaign.calling_window_end)
    return CampaignRules(
        campaign_id=campaign.id,
        allowed_countries=tuple(campaign.allowed_countries) if campaign.allowed_countries else None,
        blocked_states=tuple(campaign.blocked_states),
        blocked_area_codes=tuple(campaign.blocked_area_codes),
        calling_window_override=window,
        seller=campaign.seller or "",
        call_caps=parse_call_caps(campaign.call_caps, field="call_caps", set_by="campaign"),
    )


def rules_for_campaign(session: Session, campaign_id: uuid.UUID | None) -> CampaignRules:
    """The rules of a campaign looked up through the caller's scoped session (another organization's
    campaign is a 404); no campaign: the organization's rules alone."""
    if campaign_id is None:
        return CampaignRules()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return campaign_rules(campaign)


class ImportScrubber:
    """The compliance engine, loaded once for one campaign's import."""

    def __init__(self, db: Database, campaign: Campaign) -> None:
        self.engine = ComplianceEngine.load(db, campaign.org_id, campaign_rules(campaign))

    def check(self, leads: Sequence[LeadRow], e164s: list[str], at: datetime) -> list[ImportVerdict]:
        """One verdict per lead and its E.164 number, in order. The leads go to the engine as columns
        (`lead_columns`, the one builder import, scrub and the dialer share), without an object per lead;
        leads with the same outcome share one verdict."""
        decision = self.engine.decide(lead_columns(e164s, leads), at)
        by_part = [self._import_verdict(p.reasons) if p.reasons else CALLABLE for p in decision.parts]
        return [by_part[p] for p in decision.part_of.tolist()]

    @staticmethod
    def _import_verdict(all_reasons: tuple[str, ...]) -> ImportVerdict:
        blocking = tuple(r for r in all_reasons if r not in reasons.TIME_BOUND)
        return ImportVerdict(
            blocked=bool(blocking),
            reasons=blocking,
            registry_unavailable=not REGISTRY_UNAVAILABLE.isdisjoint(all_reasons),
        )


def record_revocation(
    session: Session, *, e164: str, seller: str, note: str, revoked_by: uuid.UUID | None, at: datetime
) -> None:
    """An agent's "revoked" disposition: the consumer revoked consent to the seller's calls (any reasonable
    means, 47 CFR 64.1200(a)(10)); honored from the very next dial-time check. `session` must be scoped
    to the lead's organization."""
    revoke_consent(
        session, phone=e164, seller=seller, source="agent", note=note, revoked_by=revoked_by, now=at
    )


def add_to_internal_dnc(
    session: Session, *, e164: str, campaign_id: uuid.UUID | None, reason: str, added_by: uuid.UUID | None
) -> None:
    """An agent's DNC disposition: the number is never called again by the organization (or campaign).
    `session` must be scoped to the lead's organization."""
    add_internal_dnc(
        session, e164=e164, campaign_id=campaign_id, source="agent", reason=reason, added_by=added_by
    )
