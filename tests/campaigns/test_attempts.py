"""Call attempts are recorded with their evidence and move their leads on by the recycle rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns.attempts import (
    LeaseLostError,
    finish_attempt,
    record_blocked,
    record_progress,
    set_disposition,
    start_attempt,
)
from campaigns.hopper import lease_leads
from campaigns.models import CallAttempt, Lead, LeadStatus
from core.errors import ConflictError, ValidationError
from tests.campaigns.conftest import CampaignWorld, numbers

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def _lead(world: CampaignWorld, lead_id: int) -> Lead:
    with world.runtime.db.session(world.scope) as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        return lead


def test_a_no_answer_call_is_recorded_and_its_lead_recycled(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(1))
    leased = lease_leads(db, world.campaign_id, 1, NOW, holder="d1", lease_s=60)[0]
    attempt_id = start_attempt(
        db,
        leased.lead_id,
        holder="d1",
        placed_at=NOW,
        trunk="carrier-a",
        caller_id="+12025550199",
        attestation="A",
        attestation_reason="own number",
        origid="7f1c6c1e-0000-4000-8000-000000000001",
        identity_header_present=True,
        sip_call_id="abc@127.0.0.1",
    )
    record_progress(db, attempt_id, ringing_at=NOW + timedelta(seconds=1))
    status = finish_attempt(
        db, attempt_id, outcome="no_answer", ended_at=NOW + timedelta(seconds=25), sip_status=487
    )
    assert status is LeadStatus.CALLABLE
    lead = _lead(world, leased.lead_id)
    assert (lead.attempts, lead.outcome_counts, lead.lease_holder) == (1, {"no_answer": 1}, None)
    assert lead.next_attempt_at == NOW + timedelta(seconds=25) + timedelta(hours=1)
    with db.session(world.scope) as s:
        attempt = s.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one()
    assert (attempt.outcome, attempt.sip_status, attempt.attestation, attempt.e164) == (
        "no_answer",
        487,
        "A",
        leased.e164,
    )
    assert attempt.ringing_at == NOW + timedelta(seconds=1)
    with pytest.raises(ConflictError, match="already ended"):
        finish_attempt(db, attempt_id, outcome="busy", ended_at=NOW)


def test_a_dialer_that_lost_its_lease_cannot_start_a_call(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(1))
    leased = lease_leads(db, world.campaign_id, 1, NOW, holder="d1", lease_s=10)[0]
    lease_leads(db, world.campaign_id, 1, NOW + timedelta(seconds=11), holder="d2", lease_s=10)
    with pytest.raises(LeaseLostError):
        start_attempt(db, leased.lead_id, holder="d1", placed_at=NOW + timedelta(seconds=12))


def test_a_dial_time_block_is_evidence_and_blocks_the_lead_unless_it_can_retry(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(2))
    a, b = lease_leads(db, world.campaign_id, 2, NOW, holder="d1", lease_s=60)
    record_blocked(db, a.lead_id, holder="d1", at=NOW, verdict_reasons=["national_dnc"])
    record_blocked(
        db,
        b.lead_id,
        holder="d1",
        at=NOW,
        verdict_reasons=["outside_calling_window"],
        retry_at=NOW + timedelta(hours=3),
    )
    lead_a, lead_b = _lead(world, a.lead_id), _lead(world, b.lead_id)
    assert (lead_a.status, lead_a.verdict_reasons, lead_a.attempts) == ("blocked", ["national_dnc"], 0)
    assert (lead_b.status, lead_b.next_attempt_at) == ("callable", NOW + timedelta(hours=3))
    with pytest.raises(ValidationError):
        record_blocked(db, b.lead_id, holder="d1", at=NOW, verdict_reasons=[])


def test_a_callback_disposition_schedules_the_lead_for_the_same_agent(world: CampaignWorld) -> None:
    db = world.runtime.db
    agent_id = world.tenant.users["agent"].id
    world.add_list(numbers(1))
    leased = lease_leads(db, world.campaign_id, 1, NOW, holder="d1", lease_s=60)[0]
    attempt_id = start_attempt(db, leased.lead_id, holder="d1", placed_at=NOW)
    record_progress(db, attempt_id, answered_at=NOW, agent_connected_at=NOW, agent_id=agent_id)
    assert (
        finish_attempt(db, attempt_id, outcome="human", ended_at=NOW + timedelta(minutes=3))
        is LeadStatus.DONE
    )
    later = NOW + timedelta(days=1)
    with pytest.raises(ValidationError, match="callback_at"):
        set_disposition(db, attempt_id, code="CALLBACK", agent_id=agent_id, at=NOW)
    status = set_disposition(
        db,
        attempt_id,
        code="CALLBACK",
        agent_id=agent_id,
        at=NOW,
        callback_at=later,
        callback_same_agent=True,
    )
    assert status is LeadStatus.CALLBACK
    lead = _lead(world, leased.lead_id)
    assert (lead.callback_at, lead.callback_agent_id) == (later, agent_id)
    assert lease_leads(db, world.campaign_id, 1, later - timedelta(seconds=1), holder="d1", lease_s=60) == []
    back = lease_leads(db, world.campaign_id, 1, later, holder="d1", lease_s=60)
    assert [(x.lead_id, x.callback_agent_id) for x in back] == [(leased.lead_id, agent_id)]


def test_unknown_disposition_codes_are_refused(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(1))
    leased = lease_leads(db, world.campaign_id, 1, NOW, holder="d1", lease_s=60)[0]
    attempt_id = start_attempt(db, leased.lead_id, holder="d1", placed_at=NOW)
    with pytest.raises(ValidationError, match="no disposition MAYBE; its dispositions are "):
        set_disposition(db, attempt_id, code="MAYBE", agent_id=None, at=NOW)
