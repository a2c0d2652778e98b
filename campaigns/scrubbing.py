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

import numpy as np
from sqlalchemy.orm import Session

from campaigns.lead_columns import LeadRow
from campaigns.models import Campaign
from core.db import Database
from dnc import reasons
from dnc.engine import ComplianceEngine, LeadColumns
from dnc.internal import add_internal_dnc
from dnc.nanp import state_of_zip
from dnc.normalize import normalize_column
from dnc.verdicts import CampaignRules, Consent

# consent value -> (prior express written consent, any consent at all); an unknown value is a KeyError
_CONSENT = {c.value: (c is Consent.EXPRESS_WRITTEN, c is not Consent.NONE) for c in Consent}
_EPOCH = date(1970, 1, 1)
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
        self.engine = ComplianceEngine.load(db, campaign.org_id, campaign_rules(campaign))

    def check(self, leads: Sequence[LeadRow], e164s: list[str], at: datetime) -> list[ImportVerdict]:
        """One verdict per lead and its E.164 number, in order. The leads go to the engine as columns
        (`ComplianceEngine.decide`), the same facts `LeadContext` would carry, without an object per lead;
        leads with the same outcome share one verdict."""
        count = len(leads)
        states: list[str] = []
        wireless = np.full(count, -1, dtype=np.int8)
        written_consent = np.zeros(count, dtype=bool)
        consent_day = np.full(count, -1, dtype=np.int64)
        zip_states: dict[str, str] = {}  # state_of_zip scans the ZIP ranges; files repeat ZIP codes a lot
        consent = _CONSENT
        for i, lead in enumerate(leads):
            state = lead.state
            if not state:
                zip5 = lead.zip_code[:5] if lead.zip_code else ""
                state = zip_states.get(zip5)
                if state is None:
                    state = zip_states[zip5] = state_of_zip(zip5)
            states.append(state.upper())
            if lead.wireless is not None:
                wireless[i] = lead.wireless
            written, consented = consent[lead.consent]
            if written:
                written_consent[i] = True
            if consented:
                consent_day[i] = (lead.consent_at - _EPOCH).days if lead.consent_at else -2
        columns = LeadColumns(
            e164s=e164s,
            lead_ids=[None] * count,
            states=states,
            wireless=wireless,
            written_consent=written_consent,
            consent_day=consent_day,
            campaign_ids=None,  # every lead belongs to the engine's campaign (`campaign_rules`)
        )
        decision = self.engine.decide(columns, at)
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


def add_to_internal_dnc(
    session: Session, *, e164: str, campaign_id: uuid.UUID | None, reason: str, added_by: uuid.UUID | None
) -> None:
    """An agent's DNC disposition: the number is never called again by the organization (or campaign).
    `session` must be scoped to the lead's organization."""
    add_internal_dnc(
        session, e164=e164, campaign_id=campaign_id, source="agent", reason=reason, added_by=added_by
    )
