"""Test data for the engine: an active campaign with agents assigned and synthetic leads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from campaigns.models import Campaign, CampaignStatus, Lead, LeadList
from campaigns.service import assign_agents, create_campaign, set_status
from core.db import Scope
from core.runtime import Runtime


def make_campaign(
    runtime: Runtime,
    org_id: uuid.UUID,
    *,
    agent_ids: Sequence[uuid.UUID] = (),
    numbers: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    active: bool = True,
) -> Campaign:
    with runtime.db.session(Scope(org_id)) as s:
        campaign = create_campaign(
            s,
            org_id=org_id,
            name=f"campaign-{uuid.uuid4().hex[:8]}",
            settings={"caller_id": "+12025550100", "trunk_profile": "loopback-sim", **(settings or {})},
        )
        if agent_ids:
            assign_agents(s, campaign, list(agent_ids))
        lead_list = LeadList(org_id=org_id, campaign_id=campaign.id, name="synthetic")
        s.add(lead_list)
        s.flush()
        for row, number in enumerate(numbers, start=2):
            s.add(
                Lead(
                    org_id=org_id,
                    campaign_id=campaign.id,
                    list_id=lead_list.id,
                    row_number=row,
                    phone_raw=number,
                    phone_e164=number,
                )
            )
        if active:
            set_status(campaign, CampaignStatus.ACTIVE)
        s.flush()
        return campaign


def allow_agent_phones(runtime: Runtime, org_id: uuid.UUID, cidr: str = "127.0.0.1/32") -> None:
    """An org admin's agent-phone rule letting agents log in from phones in `cidr` (loopback by default)."""
    from dialer.phone_policy import add_rule

    with runtime.db.session(Scope(org_id)) as s:
        add_rule(s, org_id=org_id, kind="cidr", value=cidr, note="test phones")
