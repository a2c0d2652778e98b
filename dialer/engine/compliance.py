"""The dial-time compliance verdict: leases become the engine's `LeadColumns`, the organization's `ComplianceEngine`
decides, and each blocked lead is told when (if ever) it may be tried again.

A verdict that passes with time (outside the calling window, a 24-hour cap, a Sunday rule, a missing or
stale registry copy that someone must import) puts the lead back for later; any other reason (a DNC list,
wireless without consent, a blocked state) blocks it for good.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from campaigns.evidence import AbandonEvidence, AttemptEvidence, AttestationEvidence
from campaigns.hopper import LeasedLead
from campaigns.models import Campaign, Lead
from campaigns.scrubbing import campaign_rules
from core import metrics
from core.db import Database
from dialer.engine.identity import CallIdentity
from dialer.pacing.budget import AbandonBudget
from dnc import reasons
from dnc.consent import mark_honored
from dnc.engine import ComplianceEngine
from dnc.lead_facts import lead_columns
from dnc.verdicts import ComplianceEvidence, ScrubVerdict

RETRY_TRANSIENT_AFTER = timedelta(minutes=15)


def retry_at_for(verdict: ScrubVerdict, at: datetime) -> datetime | None:
    """When a blocked lead may be tried again: None when a reason blocks it for good."""
    if verdict.reasons and set(verdict.reasons) <= reasons.TIME_BOUND:
        return at + RETRY_TRANSIENT_AFTER
    return None


@dataclass(frozen=True)
class DialVerdict:
    verdict: ScrubVerdict
    evidence: ComplianceEvidence  # what the check saw and decided, stored with the attempt


class DialTimeCompliance:
    """One organization's compliance engine with one campaign's rules, loaded once per campaign run."""

    def __init__(self, db: Database, campaign: Campaign) -> None:
        self.org_id: uuid.UUID = campaign.org_id
        self.campaign_id: uuid.UUID = campaign.id
        self.engine = ComplianceEngine.load(db, campaign.org_id, campaign_rules(campaign))

    def decide(self, leads: Sequence[LeasedLead], at: datetime) -> list[DialVerdict]:
        """The verdict of every leased lead at `at`, with its evidence: the same inputs (`lead_columns`),
        rules (`campaign_rules`) and decision (`dnc.engine.decide`) as lead import and scrub reports."""
        columns = lead_columns(
            [lead.e164 for lead in leads],
            leads,
            lead_ids=[str(lead.lead_id) for lead in leads],
            campaign_ids=[str(lead.campaign_id) for lead in leads],
            recent_calls=[lead.recent_calls for lead in leads],
        )
        started = time.perf_counter()
        decision = self.engine.decide(columns, at)
        verdicts = decision.verdicts()
        metrics.dial_verdicts(
            self.campaign_id, [(v.callable, v.reasons) for v in verdicts], time.perf_counter() - started
        )
        # The first check that honors a revocation is on record: the delay the law allows is 10 business days.
        mark_honored(self.engine.db, self.org_id, decision.revocations_honored(), datetime.now(UTC))
        return [DialVerdict(verdict, decision.evidence(i)) for i, verdict in enumerate(verdicts)]

    def check(self, leads: Sequence[LeasedLead], at: datetime) -> list[ScrubVerdict]:
        return [d.verdict for d in self.decide(leads, at)]

    def check_stored(self, leads: Sequence[Lead], at: datetime) -> list[ScrubVerdict]:
        """Leads as stored (not leased): the verdict their next call would get at `at`, bar recent calls."""
        columns = lead_columns(
            [lead.phone_e164 for lead in leads],
            leads,
            lead_ids=[str(lead.id) for lead in leads],
            campaign_ids=[str(lead.campaign_id) for lead in leads],
        )
        return list(self.engine.decide(columns, at).verdicts())


def attempt_evidence(
    compliance: ComplianceEvidence,
    *,
    identity: CallIdentity | None = None,
    budget: AbandonBudget | None = None,
    at: float | None = None,
) -> AttemptEvidence:
    """The evidence document of an attempt: the verdict as returned, plus (for a placed call) the
    attestation it was signed with and the campaign's rolling 30-day abandon rate at `at` (epoch s)."""
    attestation = None
    if identity is not None:
        attestation = AttestationEvidence(
            level=identity.attestation or None,
            reason=identity.attestation_reason or None,
            origid=identity.origid or None,
            caller_id=identity.caller_id,
            identity_header_present=bool(identity.identity_header),
        )
    abandon = None
    if budget is not None and at is not None:
        abandon = AbandonEvidence(
            rate_30d=round(budget.rate(at), 6),
            human_answered_30d=budget.human_answered(at),
            abandoned_30d=budget.dropped(at),
            limit=budget.limit,
        )
    return AttemptEvidence(compliance=compliance, attestation=attestation, abandon=abandon)
