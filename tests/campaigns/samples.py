"""Sample objects of the campaigns package for the tenant-isolation walker (tests/tenancy_samples.py)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from campaigns.models import CallAttempt, Lead, LeadList
from core.db import Scope
from core.public_ids import internal_lead_id, public_lead_id
from tests.conftest import Tenant


def lead_list_sample(owner: Tenant, campaign_id: str) -> str:
    with owner.runtime.db.session(Scope(owner.id)) as s:
        lead_list = LeadList(
            org_id=owner.id, campaign_id=uuid.UUID(campaign_id), name="sample", error_report=None
        )
        s.add(lead_list)
        s.flush()
        return str(lead_list.id)


def lead_sample(owner: Tenant, campaign_id: str, list_id: str) -> str:
    with owner.runtime.db.session(Scope(owner.id)) as s:
        lead = Lead(
            # A distinctive id far above the sequence (the walker looks for sample ids in other
            # organizations' responses), inside the range public ids are made of (core.public_ids).
            id=secrets.randbelow(2**50) + 2**51,
            org_id=owner.id,
            campaign_id=uuid.UUID(campaign_id),
            list_id=uuid.UUID(list_id),
            row_number=2,
            phone_raw="(202) 555-0143",
            phone_e164="+12025550143",
            status="done",
            extra={},
            outcome_counts={},
            verdict_reasons=[],
        )
        s.add(lead)
        s.flush()
        return str(public_lead_id(lead.id))  # what the API shows and takes


def attempt_sample(owner: Tenant, campaign_id: str, lead_id: str) -> str:
    with owner.runtime.db.session(Scope(owner.id)) as s:
        attempt = CallAttempt(
            org_id=owner.id,
            lead_id=internal_lead_id(int(lead_id)),
            campaign_id=uuid.UUID(campaign_id),
            e164="+12025550143",
            placed_at=datetime.now(UTC),
            outcome="human",
            verdict_reasons=[],
        )
        s.add(attempt)
        s.flush()
        return str(attempt.id)
