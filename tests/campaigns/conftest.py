"""Fixtures for the campaigns tests: a campaign in a fresh organization, and leads written straight to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert

from campaigns.models import Campaign, CampaignStatus, Lead, LeadList
from campaigns.service import create_campaign
from core.db import Scope
from core.runtime import Runtime
from tests.conftest import Tenant, make_tenant


@dataclass
class CampaignWorld:
    runtime: Runtime
    tenant: Tenant
    campaign_id: uuid.UUID

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant.id)

    def set_status(self, status: CampaignStatus) -> None:
        with self.runtime.db.session(self.scope) as s:
            campaign = s.get(Campaign, self.campaign_id)
            assert campaign is not None
            campaign.status = status.value

    def add_list(self, numbers: list[str], *, priority: int = 0, **lead_values: Any) -> uuid.UUID:
        """A lead list whose leads are callable now, one per number, in this order."""
        with self.runtime.db.session(self.scope) as s:
            lead_list = LeadList(
                org_id=self.tenant.id, campaign_id=self.campaign_id, name=f"list-{uuid.uuid4().hex[:6]}"
            )
            s.add(lead_list)
            s.flush()
            if numbers:
                s.execute(
                    insert(Lead),
                    [
                        {
                            "org_id": self.tenant.id,
                            "campaign_id": self.campaign_id,
                            "list_id": lead_list.id,
                            "row_number": i + 2,
                            "phone_raw": number,
                            "phone_e164": number,
                            "priority": priority,
                            "extra": {},
                            "outcome_counts": {},
                            "verdict_reasons": [],
                            **lead_values,
                        }
                        for i, number in enumerate(numbers)
                    ],
                )
            return lead_list.id


def numbers(n: int, start: int = 0) -> list[str]:
    """Distinct E.164 numbers in area code 202."""
    return [f"+1202{5550000 + start + i:07d}" for i in range(n)]


def make_world(runtime: Runtime, tenant: Tenant) -> CampaignWorld:
    """A new active campaign (with a fixed caller ID) in the tenant's organization."""
    with runtime.db.session(Scope(tenant.id)) as s:
        campaign = create_campaign(
            s,
            org_id=tenant.id,
            name=f"Spring renewals {uuid.uuid4().hex[:8]}",
            settings={"caller_id": "+12025550199"},
        )
        campaign.status = CampaignStatus.ACTIVE.value
        campaign_id = campaign.id
    return CampaignWorld(runtime=runtime, tenant=tenant, campaign_id=campaign_id)


@pytest.fixture(scope="module")
def shared_tenant(runtime: Runtime) -> Tenant:
    """One organization for a whole module whose tests each work in their own campaign (creating an
    organization with its users costs seconds of password hashing)."""
    return make_tenant(runtime)


@pytest.fixture
def world(runtime: Runtime, shared_tenant: Tenant) -> CampaignWorld:
    return make_world(runtime, shared_tenant)
