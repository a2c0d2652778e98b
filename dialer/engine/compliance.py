"""The dial-time compliance verdict: leases become `LeadContext`s, the organization's `ComplianceEngine`
decides, and each blocked lead is told when (if ever) it may be tried again.

A verdict that passes with time (outside the calling window, a 24-hour cap, a Sunday rule, a missing or
stale registry copy that someone must import) puts the lead back for later; any other reason (a DNC list,
wireless without consent, a blocked state) blocks it for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from campaigns.hopper import LeasedLead
from campaigns.models import Campaign, Lead
from core.db import Database
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.verdicts import CampaignRules, Consent, LeadContext, ScrubVerdict

RETRY_TRANSIENT_AFTER = timedelta(minutes=15)


def lead_context(lead: LeasedLead) -> LeadContext:
    return _context(lead, lead.e164, lead.lead_id, lead.recent_calls)


def stored_lead_context(lead: Lead) -> LeadContext:
    """A lead as stored (not leased): what the verdict of its next call would look at, bar recent calls."""
    return _context(lead, lead.phone_e164, lead.id, ())


def _context(
    lead: LeasedLead | Lead, e164: str, lead_id: int, recent_calls: Sequence[datetime]
) -> LeadContext:
    try:
        consent = Consent(lead.consent)
    except ValueError:
        consent = Consent.NONE
    return LeadContext(
        e164=e164,
        lead_id=str(lead_id),
        state=lead.state,
        zip_code=lead.zip_code,
        wireless=lead.wireless,
        consent=consent,
        consent_at=lead.consent_at,
        campaign_id=str(lead.campaign_id),
        recent_calls=tuple(recent_calls),
    )


def retry_at_for(verdict: ScrubVerdict, at: datetime) -> datetime | None:
    """When a blocked lead may be tried again: None when a reason blocks it for good."""
    if verdict.reasons and set(verdict.reasons) <= reasons.TIME_BOUND:
        return at + RETRY_TRANSIENT_AFTER
    return None


class DialTimeCompliance:
    """One organization's compliance engine with one campaign's rules, loaded once per campaign run."""

    def __init__(self, db: Database, campaign: Campaign) -> None:
        window = None
        if campaign.calling_window_start is not None and campaign.calling_window_end is not None:
            window = (campaign.calling_window_start, campaign.calling_window_end)
        rules = CampaignRules(
            campaign_id=campaign.id,
            allowed_countries=tuple(campaign.allowed_countries) if campaign.allowed_countries else None,
            blocked_states=tuple(campaign.blocked_states or ()),
            blocked_area_codes=tuple(campaign.blocked_area_codes or ()),
            calling_window_override=window,
        )
        self.org_id: uuid.UUID = campaign.org_id
        self.engine = ComplianceEngine.load(db, campaign.org_id, rules)

    def check(self, leads: Sequence[LeasedLead], at: datetime) -> list[ScrubVerdict]:
        return list(self.engine.check([lead_context(lead) for lead in leads], at))
