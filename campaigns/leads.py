"""Finding leads and their calls: lookups by id, the lead search, scheduled callbacks, a lead's attempts."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Lead, LeadStatus
from campaigns.service import get_campaign
from core.errors import NotFoundError, ValidationError
from core.models import Role
from core.public_ids import internal_lead_id, public_lead_id
from dnc.normalize import normalize_number

MAX_PAGE = 1000
MAX_CALLBACKS = 500


def _handled_by(agent_id: uuid.UUID) -> ColumnElement[bool]:
    """Leads an agent may see and change: those of calls they handled, and their own callbacks."""
    handled = select(CallAttempt.id).where(CallAttempt.lead_id == Lead.id, CallAttempt.agent_id == agent_id)
    return handled.exists() | (Lead.callback_agent_id == agent_id)


def lead_id_from_public(public: int) -> int:
    """The internal id behind a lead id the API gave out (core.public_ids), or NotFoundError."""
    internal = internal_lead_id(public)
    if internal is None:
        raise NotFoundError(f"lead {public} not found")
    return internal


def after_id_from_public(public: int) -> int:
    """A search cursor: 0 (from the start) or the public id of the last lead seen."""
    if public == 0:
        return 0
    internal = internal_lead_id(public)
    if internal is None:
        raise ValidationError(
            f"after_id {public} is not a lead id; give 0 or the last id seen", field="after_id"
        )
    return internal


def get_lead(
    session: Session, lead_id: int, *, role: Role | None = None, user_id: uuid.UUID | None = None
) -> Lead:
    """The lead, or NotFoundError. For an agent (`role` AGENT), only a lead of a call they handled or a
    callback of theirs: any other is not found, as if it did not exist."""
    query = select(Lead).where(Lead.id == lead_id)
    if role is Role.AGENT:
        assert user_id is not None
        query = query.where(_handled_by(user_id))
    lead = session.scalars(query).one_or_none()
    if lead is None:
        raise NotFoundError(f"lead {public_lead_id(lead_id)} not found")
    return lead


def get_attempt(
    session: Session, attempt_id: uuid.UUID, *, role: Role | None = None, user_id: uuid.UUID | None = None
) -> CallAttempt:
    """The attempt, or NotFoundError; an agent finds only attempts of leads they may see."""
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one_or_none()
    if attempt is None or (
        role is Role.AGENT and attempt.agent_id != user_id and not _may_see(session, attempt.lead_id, user_id)
    ):
        raise NotFoundError(f"call attempt {attempt_id} not found")
    return attempt


def _may_see(session: Session, lead_id: int, agent_id: uuid.UUID | None) -> bool:
    if agent_id is None:
        return False
    return session.scalar(select(Lead.id).where(Lead.id == lead_id, _handled_by(agent_id))) is not None


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


def lead_attempts(
    session: Session, lead_id: int, *, role: Role | None = None, user_id: uuid.UUID | None = None
) -> list[CallAttempt]:
    get_lead(session, lead_id, role=role, user_id=user_id)
    return list(
        session.scalars(
            select(CallAttempt).where(CallAttempt.lead_id == lead_id).order_by(CallAttempt.placed_at)
        )
    )


def scheduled_callbacks(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    for_agent: uuid.UUID | None = None,
    role: Role | None = None,
    user_id: uuid.UUID | None = None,
) -> list[Lead]:
    """Scheduled callbacks, soonest first; with `for_agent`: that agent's plus those for anyone. An agent
    sees only callbacks on leads they may see (calls they handled, callbacks of theirs)."""
    get_campaign(session, campaign_id)
    query = select(Lead).where(Lead.campaign_id == campaign_id, Lead.status == LeadStatus.CALLBACK.value)
    if role is Role.AGENT:
        assert user_id is not None
        query = query.where(_handled_by(user_id))
    if for_agent is not None:
        query = query.where((Lead.callback_agent_id == for_agent) | Lead.callback_agent_id.is_(None))
    return list(session.scalars(query.order_by(Lead.callback_at).limit(MAX_CALLBACKS)))
