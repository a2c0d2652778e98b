"""Finding leads and their calls: lookups by id, the lead search, scheduled callbacks, a lead's attempts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Lead, LeadStatus
from campaigns.service import get_campaign
from core.errors import NotFoundError, ValidationError
from dnc.normalize import normalize_number

MAX_PAGE = 1000
MAX_CALLBACKS = 500


def get_lead(session: Session, lead_id: int) -> Lead:
    lead = session.scalars(select(Lead).where(Lead.id == lead_id)).one_or_none()
    if lead is None:
        raise NotFoundError(f"lead {lead_id} not found")
    return lead


def get_attempt(session: Session, attempt_id: uuid.UUID) -> CallAttempt:
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one_or_none()
    if attempt is None:
        raise NotFoundError(f"call attempt {attempt_id} not found")
    return attempt


def search_phone(phone: str, default_region: str) -> str:
    """The E.164 form a typed phone number is searched as: normalised like imported leads (in the
    campaign's default region); what cannot be normalised is searched as `+` and its digits."""
    normalized = normalize_number(phone, default_region).e164
    return normalized or "+" + "".join(ch for ch in phone if ch.isdigit())


def search_leads(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    status: str | None = None,
    list_id: uuid.UUID | None = None,
    phone: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[Lead]:
    """Leads of a campaign, by id; page with `after_id` = the last id seen (at most 1000 a page)."""
    campaign = get_campaign(session, campaign_id)
    query = select(Lead).where(Lead.campaign_id == campaign_id, Lead.id > after_id)
    if status is not None:
        if status not in {s.value for s in LeadStatus}:
            valid = ", ".join(s.value for s in LeadStatus)
            raise ValidationError(f"unknown lead status {status!r}; one of {valid}", field="status")
        query = query.where(Lead.status == status)
    if list_id is not None:
        query = query.where(Lead.list_id == list_id)
    if phone:
        query = query.where(Lead.phone_e164 == search_phone(phone, campaign.default_region or "US"))
    return list(session.scalars(query.order_by(Lead.id).limit(max(1, min(limit, MAX_PAGE)))))


def lead_attempts(session: Session, lead_id: int) -> list[CallAttempt]:
    get_lead(session, lead_id)
    return list(
        session.scalars(
            select(CallAttempt).where(CallAttempt.lead_id == lead_id).order_by(CallAttempt.placed_at)
        )
    )


def scheduled_callbacks(
    session: Session, campaign_id: uuid.UUID, *, for_agent: uuid.UUID | None = None
) -> list[Lead]:
    """Scheduled callbacks, soonest first; with `for_agent`: that agent's plus those for anyone."""
    get_campaign(session, campaign_id)
    query = select(Lead).where(Lead.campaign_id == campaign_id, Lead.status == LeadStatus.CALLBACK.value)
    if for_agent is not None:
        query = query.where((Lead.callback_agent_id == for_agent) | Lead.callback_agent_id.is_(None))
    return list(session.scalars(query.order_by(Lead.callback_at).limit(MAX_CALLBACKS)))
