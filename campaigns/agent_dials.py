"""Leads for calls an agent starts: the lead offered in preview (its lease, its skip) and the lead of a
number an agent types (manual dial).

The dialer leases these leads exactly like the ones it dials on its own (`campaigns.hopper`), so the same
dial-time check, attempt rows and recycle rules apply; only who decides to dial differs. A typed number
becomes a lead of the campaign's "Manual dials" list, which is paused: the hopper never hands its leads
to the automatic dialer, they are dialed only when an agent types them again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.hopper import LeasedLead, clear_lease, leased_lead, recent_calls_of
from campaigns.models import Campaign, Lead, LeadList, LeadStatus, ListStatus, PreviewSkip
from core.db import ALL_ORGS, Database, Scope
from core.errors import ConflictError, NotFoundError, ValidationError
from dnc.internal import add_internal_dnc

MANUAL_LIST_NAME = "Manual dials"
NOT_NOW_RETRY = timedelta(hours=1)

# Why an agent may skip a lead offered in preview, and what becomes of the lead.
SKIP_REASONS: dict[str, str] = {
    "not_now": "offered again in an hour",
    "wrong_number": "never offered again (lead done)",
    "do_not_call": "the number goes on the internal DNC list (lead done)",
}


def _leased(
    s: Session, lead: Lead, campaign: Campaign, holder: str, expires: datetime, now: datetime
) -> LeasedLead:
    return leased_lead(lead, holder, expires, recent_calls_of(s, campaign, {lead.phone_e164}, now))


def manual_lead(
    db: Database, campaign_id: uuid.UUID, e164: str, now: datetime, *, holder: str, lease_s: float
) -> LeasedLead:
    """The number an agent typed, as a new lead of the campaign's "Manual dials" list leased to `holder`
    (ready for the dial-time check). Refused (409) while another call to that number of the campaign is
    in progress or offered to an agent."""
    with db.session(ALL_ORGS) as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError(f"campaign {campaign_id} not found")
        busy = s.scalar(
            select(Lead.id).where(
                Lead.campaign_id == campaign_id,
                Lead.phone_e164 == e164,
                Lead.status == LeadStatus.IN_PROGRESS.value,
                Lead.lease_expires_at > now,
            )
        )
        if busy is not None:
            raise ConflictError(f"{e164} is being called or offered to an agent right now")
        manual = s.scalar(
            select(LeadList).where(LeadList.campaign_id == campaign_id, LeadList.name == MANUAL_LIST_NAME)
        )
        if manual is None:
            manual = LeadList(
                org_id=campaign.org_id,
                campaign_id=campaign_id,
                name=MANUAL_LIST_NAME,
                status=ListStatus.PAUSED.value,  # never handed to the automatic dialer
            )
            s.add(manual)
            s.flush()
        rows = s.scalar(select(func.count()).select_from(Lead).where(Lead.list_id == manual.id)) or 0
        expires = now + timedelta(seconds=lease_s)
        lead = Lead(
            org_id=campaign.org_id,
            campaign_id=campaign_id,
            list_id=manual.id,
            row_number=rows + 2,
            phone_raw=e164,
            phone_e164=e164,
            status=LeadStatus.IN_PROGRESS.value,
            lease_holder=holder,
            lease_expires_at=expires,
            extra={},
            outcome_counts={},
            verdict_reasons=[],
        )
        s.add(lead)
        s.flush()
        return _leased(s, lead, campaign, holder, expires, now)


def lease_lead(
    db: Database, lead_id: int, now: datetime, *, holder: str, lease_s: float
) -> LeasedLead | None:
    """Lease one lead `holder` already holds (renewed) or that is free to lease; None when it is not."""
    with db.session(ALL_ORGS) as s:
        lead = s.scalars(select(Lead).where(Lead.id == lead_id).with_for_update()).one_or_none()
        if lead is None:
            return None
        held = lead.status == LeadStatus.IN_PROGRESS.value and (
            lead.lease_holder == holder
            or (lead.lease_expires_at is not None and lead.lease_expires_at <= now)
        )
        if not held and lead.status not in (LeadStatus.CALLABLE.value, LeadStatus.CALLBACK.value):
            return None
        campaign = s.get(Campaign, lead.campaign_id)
        assert campaign is not None
        expires = now + timedelta(seconds=lease_s)
        lead.status, lead.lease_holder, lead.lease_expires_at = LeadStatus.IN_PROGRESS.value, holder, expires
        return _leased(s, lead, campaign, holder, expires, now)


def check_skip_reason(reason: str) -> str:
    chosen = (reason or "").strip().lower()
    if chosen not in SKIP_REASONS:
        raise ValidationError(
            f"unknown skip reason {reason!r}; the reasons are "
            + ", ".join(f"{k} ({v})" for k, v in SKIP_REASONS.items()),
            field="reason",
        )
    return chosen


def skip_offered_lead(
    db: Database,
    lead_id: int,
    *,
    holder: str,
    agent_id: uuid.UUID | None,
    reason: str,
    note: str,
    at: datetime,
) -> None:
    """The agent skipped the lead offered to them: the skip is recorded with its reason and the lead's
    lease given back; the reason says what becomes of it (`SKIP_REASONS`)."""
    reason = check_skip_reason(reason)
    with db.session(ALL_ORGS) as s:
        lead = s.scalars(select(Lead).where(Lead.id == lead_id).with_for_update()).one_or_none()
        if lead is None:
            raise NotFoundError("the offered lead no longer exists")
        org_id, e164, campaign_id = lead.org_id, lead.phone_e164, lead.campaign_id
        s.add(
            PreviewSkip(
                org_id=org_id,
                lead_id=lead.id,
                campaign_id=campaign_id,
                agent_id=agent_id,
                reason=reason,
                note=note[:500],
                skipped_at=at,
            )
        )
        if lead.status == LeadStatus.IN_PROGRESS.value and lead.lease_holder == holder:
            clear_lease(lead)
        lead.last_outcome = "skipped"
        if reason == "not_now":
            lead.status = (
                LeadStatus.CALLBACK.value if lead.callback_at is not None else LeadStatus.CALLABLE.value
            )
            lead.next_attempt_at = at + NOT_NOW_RETRY
            if lead.callback_at is not None:
                lead.callback_at = max(lead.callback_at, lead.next_attempt_at)
        else:
            lead.status = LeadStatus.DONE.value
    if reason == "do_not_call":
        with db.session(Scope(org_id)) as s:
            add_internal_dnc(
                s,
                e164=e164,
                campaign_id=None,
                source="agent",
                reason=f"skipped in preview as do-not-call ({note[:200]})"
                if note
                else "skipped in preview as do-not-call",
                added_by=agent_id,
            )


def skips_of(session: Session, lead_id: int) -> list[PreviewSkip]:
    """The preview skips of a lead, oldest first (through the caller's scoped session)."""
    return list(
        session.scalars(
            select(PreviewSkip).where(PreviewSkip.lead_id == lead_id).order_by(PreviewSkip.skipped_at)
        )
    )


__all__ = [
    "MANUAL_LIST_NAME",
    "SKIP_REASONS",
    "check_skip_reason",
    "lease_lead",
    "manual_lead",
    "skip_offered_lead",
    "skips_of",
]
