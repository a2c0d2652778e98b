"""The hopper: hands callable leads to dialer processes under an expiring lease.

`lease_leads` locks candidate rows with `FOR UPDATE SKIP LOCKED`, so two dialers asking at once get
disjoint leads, and marks them `in_progress` until `now + lease_s`. A dialer that dies simply stops
renewing; once the lease has expired the next `lease_leads` hands those leads out again, so no lead is lost
and none is dialed by two processes at the same time. Order: scheduled callbacks that are due, then leads
whose lease expired, then callable leads by priority (highest first) and upload order.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true, update
from sqlalchemy.orm import Session

from campaigns.models import (
    AgentCallbackFallback,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Lead,
    LeadList,
    LeadStatus,
    ListStatus,
    Outcome,
)
from core.db import ALL_ORGS, Database
from dnc.caps import lookback, parse_call_caps
from dnc.models import CompliancePolicy

RECENT_CALLS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class LeasedLead:
    """What a dialer needs to check, dial and route one lead."""

    lead_id: int
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    list_id: uuid.UUID
    e164: str
    first_name: str | None
    last_name: str | None
    state: str | None
    zip_code: str | None
    wireless: bool | None
    consent: str
    consent_at: date | None
    attempts: int
    callback_at: datetime | None  # set when this is a scheduled callback
    callback_agent_id: uuid.UUID | None  # the agent the callback belongs to; None = any agent
    extra: dict[str, Any]
    lease_holder: str
    lease_expires_at: datetime
    for_agent: uuid.UUID | None = None  # an agent's own callback, leased while they are READY: theirs
    # Earlier calls to the same number by this organization in the last 24 h (for the engine's caps).
    recent_calls: tuple[datetime, ...] = ()


def agent_callback_allowed(
    campaign: Campaign, ready_agents: Collection[uuid.UUID] | None, now: datetime
) -> ColumnElement[bool]:
    """The lease rule of callbacks an agent kept for themselves ("mine"): such a lead is leased only while
    its agent is READY on the campaign (`ready_agents`), to be bridged to that agent. Once its time is the
    campaign's `agent_callback_window_min` past without them, `give_to_anyone` lets any agent have it and
    `keep_waiting` keeps it for them. Leads kept for no one are not concerned. `ready_agents=None`: the
    caller routes no call to an agent (tools, reports): the rule does not apply."""
    if ready_agents is None:
        return true()
    allowed: list[ColumnElement[bool]] = [Lead.callback_agent_id.is_(None)]
    if ready_agents:
        allowed.append(Lead.callback_agent_id.in_(sorted(ready_agents)))
    if campaign.agent_callback_fallback == AgentCallbackFallback.GIVE_TO_ANYONE.value:
        window = timedelta(minutes=campaign.agent_callback_window_min)
        allowed.append(Lead.callback_at <= now - window)
    return or_(*allowed)


def _candidates(
    campaign: Campaign, now: datetime, ready_agents: Collection[uuid.UUID] | None
) -> list[Select[tuple[int]]]:
    campaign_id = campaign.id
    active_lists = select(LeadList.id).where(
        LeadList.campaign_id == campaign_id, LeadList.status == ListStatus.ACTIVE.value
    )
    base = select(Lead.id).where(
        Lead.campaign_id == campaign_id,
        Lead.list_id.in_(active_lists),
        agent_callback_allowed(campaign, ready_agents, now),
    )
    due: ColumnElement[bool] = or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now)
    return [
        base.where(Lead.status == LeadStatus.CALLBACK.value, Lead.callback_at <= now).order_by(
            Lead.callback_at, Lead.id
        ),
        base.where(Lead.status == LeadStatus.IN_PROGRESS.value, Lead.lease_expires_at <= now).order_by(
            Lead.lease_expires_at, Lead.id
        ),
        base.where(Lead.status == LeadStatus.CALLABLE.value, due).order_by(Lead.priority.desc(), Lead.id),
    ]


def lease_leads(
    db: Database,
    campaign_id: uuid.UUID,
    n: int,
    now: datetime,
    *,
    holder: str,
    lease_s: float,
    ready_agents: Collection[uuid.UUID] | None = None,
) -> list[LeasedLead]:
    """Lease up to `n` leads of an active campaign to `holder` until `now + lease_s`. The dialer gives
    `ready_agents` (the campaign's READY agents): an agent's own callback is leased only for its agent
    (`LeasedLead.for_agent`), see `agent_callback_allowed`."""
    if n <= 0:
        return []
    expires = now + timedelta(seconds=lease_s)
    with db.session(ALL_ORGS) as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.ACTIVE.value:
            return []
        ids: list[int] = []
        for query in _candidates(campaign, now, ready_agents):
            if len(ids) >= n:
                break
            locked = query.limit(n - len(ids)).with_for_update(skip_locked=True, of=Lead)
            ids.extend(s.scalars(locked))
        if not ids:
            return []
        leads = s.scalars(
            update(Lead)
            .where(Lead.id.in_(ids))
            .values(status=LeadStatus.IN_PROGRESS.value, lease_holder=holder, lease_expires_at=expires)
            .returning(Lead)
            .execution_options(synchronize_session=False)
        ).all()
        recent = recent_calls_of(s, campaign, {lead.phone_e164 for lead in leads}, now)
        order = {lead_id: i for i, lead_id in enumerate(ids)}
        return [
            leased_lead(
                lead,
                holder,
                expires,
                recent,
                for_agent=lead.callback_agent_id
                if ready_agents and lead.callback_agent_id in ready_agents
                else None,
            )
            for lead in sorted(leads, key=lambda lead: order[lead.id])
        ]


def leased_lead(
    lead: Lead,
    holder: str,
    expires: datetime,
    recent: dict[str, list[datetime]],
    *,
    for_agent: uuid.UUID | None = None,
) -> LeasedLead:
    """What the dialer needs of a lead it holds, from the lead row and its recent calls (`recent_calls_of`)."""
    return LeasedLead(
        lead_id=lead.id,
        org_id=lead.org_id,
        campaign_id=lead.campaign_id,
        list_id=lead.list_id,
        e164=lead.phone_e164,
        first_name=lead.first_name,
        last_name=lead.last_name,
        state=lead.state,
        zip_code=lead.zip_code,
        wireless=lead.wireless,
        consent=lead.consent,
        consent_at=lead.consent_at,
        attempts=lead.attempts,
        callback_at=lead.callback_at,
        callback_agent_id=lead.callback_agent_id,
        for_agent=for_agent,
        extra=dict(lead.extra),
        lease_holder=holder,
        lease_expires_at=expires,
        recent_calls=tuple(recent.get(lead.phone_e164, ())),
    )


def recent_calls_of(
    s: Session, campaign: Campaign, numbers: set[str], now: datetime
) -> dict[str, list[datetime]]:
    """The numbers' calls placed for the campaign's seller (every campaign and caller ID of it) as far back
    as the caps need: the states' 24 hours, or the longest per-period cap of the organization or campaign."""
    if not numbers:
        return {}
    org_caps = s.scalars(select(CompliancePolicy.call_caps).where(CompliancePolicy.org_id == campaign.org_id))
    caps = [
        *parse_call_caps(campaign.call_caps, field="call_caps", set_by="campaign"),
        *parse_call_caps(org_caps.one_or_none(), field="call_caps", set_by="organization"),
    ]
    rows = s.execute(
        select(CallAttempt.e164, CallAttempt.placed_at)
        .join(Campaign, Campaign.id == CallAttempt.campaign_id)
        .where(
            CallAttempt.org_id == campaign.org_id,
            Campaign.seller.is_not_distinct_from(campaign.seller),
            CallAttempt.e164.in_(numbers),
            CallAttempt.placed_at > now - lookback(caps, RECENT_CALLS_WINDOW),
            CallAttempt.placed_at <= now,
            CallAttempt.outcome != Outcome.BLOCKED.value,
        )
    )
    recent: dict[str, list[datetime]] = {}
    for e164, placed_at in rows:
        recent.setdefault(e164, []).append(placed_at)
    return recent


def renew_leases(
    db: Database, lead_ids: Sequence[int], now: datetime, *, holder: str, lease_s: float
) -> list[int]:
    """Extend `holder`'s leases; returns the ids still held (a lease that expired and moved on is lost)."""
    if not lead_ids:
        return []
    with db.session(ALL_ORGS) as s:
        return list(
            s.scalars(
                update(Lead)
                .where(
                    Lead.id.in_(lead_ids),
                    Lead.lease_holder == holder,
                    Lead.status == LeadStatus.IN_PROGRESS.value,
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
                .returning(Lead.id)
                .execution_options(synchronize_session=False)
            )
        )


def release_leads(db: Database, lead_ids: Sequence[int], *, holder: str) -> int:
    """Give back leads `holder` leased but did not dial; they keep their place and attempt count."""
    if not lead_ids:
        return 0
    with db.session(ALL_ORGS) as s:
        held = list(
            s.scalars(
                select(Lead)
                .where(
                    Lead.id.in_(lead_ids),
                    Lead.lease_holder == holder,
                    Lead.status == LeadStatus.IN_PROGRESS.value,
                )
                .with_for_update()
            )
        )
        for lead in held:
            clear_lease(lead)
            lead.status = (
                LeadStatus.CALLBACK.value if lead.callback_at is not None else LeadStatus.CALLABLE.value
            )
        return len(held)


def clear_lease(lead: Lead) -> None:
    lead.lease_holder = None
    lead.lease_expires_at = None
