"""Recording call attempts (the compliance evidence) and moving their leads on by the recycle rules.

The dialer calls `start_attempt` when it places a call on a leased lead (or `record_blocked` when the
dial-time verdict says no), `record_progress` as the call rings/answers/connects, and `finish_attempt`
when it ends. Agents then give a disposition (`set_disposition`), which may schedule a callback or add the
number to the internal DNC list. These are system calls keyed by ids; API routes look the objects up
through the caller's scoped session before calling them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.evidence import AttemptEvidence
from campaigns.hopper import clear_lease
from campaigns.models import CallAttempt, Campaign, Disposition, Lead, LeadStatus, Outcome
from campaigns.recycle import (
    FINAL_OUTCOMES,
    NextStep,
    RecycleRules,
    after_outcome,
    counts_as_attempt,
    recycle,
)
from campaigns.scrubbing import add_to_internal_dnc, record_revocation
from core import metrics
from core.db import ALL_ORGS, Database, Scope
from core.errors import ConflictError, NotFoundError, ValidationError
from core.models import Role
from core.public_ids import public_lead_id
from core.webhooks import CALL_ENDED, DISPOSITION_SET
from core.webhooks.events import emit


class LeaseLostError(ConflictError):
    """The lead is no longer leased to this dialer (its lease expired and it moved on)."""


def _locked_lead(s: Session, lead_id: int) -> Lead:
    lead = s.scalars(select(Lead).where(Lead.id == lead_id).with_for_update()).one_or_none()
    if lead is None:
        raise NotFoundError(f"lead {public_lead_id(lead_id)} not found")
    return lead


def _held_lead(s: Session, lead_id: int, holder: str) -> Lead:
    lead = _locked_lead(s, lead_id)
    if lead.status != LeadStatus.IN_PROGRESS.value or lead.lease_holder != holder:
        raise LeaseLostError(f"lead {lead_id} is not leased to {holder!r}")
    return lead


def start_attempt(
    db: Database,
    lead_id: int,
    *,
    holder: str,
    placed_at: datetime,
    trunk: str = "",
    caller_id: str | None = None,
    attestation: str | None = None,
    attestation_reason: str | None = None,
    origid: str | None = None,
    identity_header_present: bool = False,
    sip_call_id: str | None = None,
    verdict_reasons: Sequence[str] = (),
    evidence: AttemptEvidence | None = None,
    attempt_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record that a call to a lead leased by `holder` is being placed; returns the attempt id (`attempt_id`
    when the dialer chose it before, e.g. to reserve the agent the call is for)."""
    with db.session(ALL_ORGS) as s:
        lead = _held_lead(s, lead_id, holder)
        attempt = CallAttempt(
            id=attempt_id or uuid.uuid4(),
            org_id=lead.org_id,
            lead_id=lead.id,
            campaign_id=lead.campaign_id,
            e164=lead.phone_e164,
            trunk=trunk,
            caller_id=caller_id,
            attestation=attestation,
            attestation_reason=attestation_reason,
            origid=origid,
            identity_header_present=identity_header_present,
            sip_call_id=sip_call_id,
            placed_at=placed_at,
            outcome=Outcome.IN_PROGRESS.value,
            verdict_reasons=list(verdict_reasons),
            evidence=evidence.to_json() if evidence else None,
            worker=holder,
        )
        s.add(attempt)
        lead.last_attempt_at = placed_at
        s.flush()
        attempt_id, campaign_id = attempt.id, attempt.campaign_id
    metrics.call_placed(campaign_id)  # once committed: a call counts when its evidence exists
    return attempt_id


def record_blocked(
    db: Database,
    lead_id: int,
    *,
    holder: str,
    at: datetime,
    verdict_reasons: Sequence[str],
    retry_at: datetime | None = None,
    evidence: AttemptEvidence | None = None,
) -> uuid.UUID:
    """Record that a leased lead was not dialed because of its dial-time verdict.

    `retry_at` is for verdicts that pass with time (outside the calling window, 24-hour cap): the lead
    becomes callable again then. Without it the lead is blocked for good.
    """
    if not verdict_reasons:
        raise ValidationError("a blocked attempt needs the verdict's reasons", field="verdict_reasons")
    with db.session(ALL_ORGS) as s:
        lead = _held_lead(s, lead_id, holder)
        attempt = CallAttempt(
            org_id=lead.org_id,
            lead_id=lead.id,
            campaign_id=lead.campaign_id,
            e164=lead.phone_e164,
            placed_at=at,
            ended_at=at,
            outcome=Outcome.BLOCKED.value,
            verdict_reasons=list(verdict_reasons),
            evidence=evidence.to_json() if evidence else None,
            worker=holder,
        )
        s.add(attempt)
        clear_lease(lead)
        lead.last_outcome = Outcome.BLOCKED.value
        if retry_at is None:
            lead.status = LeadStatus.BLOCKED.value
            lead.verdict = "blocked"
            lead.verdict_reasons = list(verdict_reasons)
            lead.scrubbed_at = at
        else:
            lead.status = LeadStatus.CALLBACK.value if lead.callback_at else LeadStatus.CALLABLE.value
            lead.next_attempt_at = retry_at
            if lead.callback_at is not None:
                lead.callback_at = max(lead.callback_at, retry_at)
        s.flush()
        attempt_id, campaign_id = attempt.id, attempt.campaign_id
    metrics.call_blocked(campaign_id)
    return attempt_id


def record_progress(
    db: Database,
    attempt_id: uuid.UUID,
    *,
    ringing_at: datetime | None = None,
    answered_at: datetime | None = None,
    agent_connected_at: datetime | None = None,
    safe_harbor_at: datetime | None = None,
    agent_id: uuid.UUID | None = None,
    sip_call_id: str | None = None,
    sip_status: int | None = None,
    safe_harbor_played_at: datetime | None = None,
    safe_harbor_error: str | None = None,
    dtmf_digits: str | None = None,
    safe_harbor_sha256: str | None = None,
    amd_result: str | None = None,
    amd_cause: str | None = None,
    amd_decided_ms: int | None = None,
    amd_greeting_ended_at: datetime | None = None,
    voicemail_sha256: str | None = None,
    voicemail_left_at: datetime | None = None,
) -> None:
    """Stamp what happened so far on a call; arguments left as None are not changed."""
    values = {
        "ringing_at": ringing_at,
        "answered_at": answered_at,
        "agent_connected_at": agent_connected_at,
        "safe_harbor_at": safe_harbor_at,
        "safe_harbor_played_at": safe_harbor_played_at,
        "safe_harbor_sha256": safe_harbor_sha256,
        "safe_harbor_error": safe_harbor_error[:2000] if safe_harbor_error else None,
        "dtmf_digits": dtmf_digits[:32] if dtmf_digits else None,
        "agent_id": agent_id,
        "sip_call_id": sip_call_id,
        "sip_status": sip_status,
        "amd_result": amd_result,
        "amd_cause": amd_cause[:64] if amd_cause else None,
        "amd_decided_ms": amd_decided_ms,
        "amd_greeting_ended_at": amd_greeting_ended_at,
        "voicemail_sha256": voicemail_sha256,
        "voicemail_left_at": voicemail_left_at,
    }
    with db.session(ALL_ORGS) as s:
        attempt = s.get(CallAttempt, attempt_id, with_for_update=True)
        if attempt is None:
            raise NotFoundError(f"call attempt {attempt_id} not found")
        connected_now = agent_connected_at is not None and attempt.agent_connected_at is None
        for name, value in values.items():
            if value is not None:
                setattr(attempt, name, value)
        campaign_id, answered = attempt.campaign_id, attempt.answered_at
    if connected_now and agent_connected_at is not None:
        latency = (agent_connected_at - answered).total_seconds() if answered is not None else None
        metrics.call_connected(campaign_id, latency)


def _rules(s: Session, campaign_id: uuid.UUID) -> RecycleRules:
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return RecycleRules.of(campaign.recycle_rules, campaign.max_attempts)


def _apply(lead: Lead, step: NextStep) -> None:
    lead.status = step.status.value
    lead.next_attempt_at = step.next_attempt_at
    if step.status is not LeadStatus.CALLBACK:
        lead.callback_at = None
        lead.callback_agent_id = None


def finish_attempt(
    db: Database,
    attempt_id: uuid.UUID,
    *,
    outcome: str,
    ended_at: datetime,
    sip_status: int | None = None,
    ended_by: str | None = None,
) -> LeadStatus:
    """Close an attempt with its outcome and move the lead on by the campaign's recycle rules.

    Returns the lead's new status. If the lead's lease was lost meanwhile (another dialer has it now),
    the attempt is still recorded and counted, but the lead's status is left to its current holder.
    """
    if outcome not in FINAL_OUTCOMES or outcome == Outcome.BLOCKED:
        raise ValidationError(
            f"outcome {outcome!r} cannot end a placed call; one of "
            f"{sorted(FINAL_OUTCOMES - {Outcome.BLOCKED.value})}",
            field="outcome",
        )
    with db.session(ALL_ORGS) as s:
        status, campaign_id, trunk, final_status = _close(
            s, attempt_id, outcome, ended_at, sip_status, ended_by
        )
    metrics.call_ended(campaign_id, outcome, trunk=trunk, sip_status=final_status)
    return status


def _close(
    s: Session,
    attempt_id: uuid.UUID,
    outcome: str,
    ended_at: datetime,
    sip_status: int | None,
    ended_by: str | None,
) -> tuple[LeadStatus, uuid.UUID, str, int | None]:
    attempt = s.get(CallAttempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise NotFoundError(f"call attempt {attempt_id} not found")
    if attempt.outcome != Outcome.IN_PROGRESS.value:
        raise ConflictError(f"call attempt {attempt_id} already ended ({attempt.outcome})")
    attempt.outcome = outcome
    attempt.ended_at = ended_at
    if sip_status is not None:
        attempt.sip_status = sip_status
    attempt.ended_by = ended_by
    lead = _locked_lead(s, attempt.lead_id)
    if counts_as_attempt(outcome):
        lead.attempts += 1
    lead.outcome_counts = {**lead.outcome_counts, outcome: lead.outcome_counts.get(outcome, 0) + 1}
    lead.last_outcome = outcome
    if lead.status != LeadStatus.IN_PROGRESS.value or lead.lease_holder != attempt.worker:
        status = LeadStatus(lead.status)
    else:
        step = after_outcome(
            _rules(s, lead.campaign_id),
            outcome=outcome,
            attempts=lead.attempts,
            outcome_count=lead.outcome_counts[outcome],
            now=ended_at,
        )
        clear_lease(lead)
        _apply(lead, step)
        status = step.status
    emit(
        s,
        org_id=attempt.org_id,
        event_type=CALL_ENDED,
        occurred_at=ended_at,
        data=_call_ended(attempt, status),
    )
    return status, attempt.campaign_id, attempt.trunk, attempt.sip_status


def _call_ended(attempt: CallAttempt, lead_status: LeadStatus) -> dict[str, object]:
    """The `call.ended` webhook's data: ids and times, no phone number (docs/webhooks.md)."""
    return {
        "attempt_id": attempt.id,
        "campaign_id": attempt.campaign_id,
        "lead_id": public_lead_id(attempt.lead_id),
        "outcome": attempt.outcome,
        "sip_status": attempt.sip_status,
        "ended_by": attempt.ended_by,
        "agent_id": attempt.agent_id,
        "placed_at": attempt.placed_at,
        "answered_at": attempt.answered_at,
        "agent_connected_at": attempt.agent_connected_at,
        "ended_at": attempt.ended_at,
        "lead_status": lead_status.value,
    }


class DispositionSource:
    AGENT = "agent"  # the agent who took the call (or a correction of theirs within the wrap-up)
    TIMEOUT = "timeout"  # the campaign's timeout_disposition: the wrap-up ended without one
    MANAGER = "manager"  # a manager's or org admin's correction, at any time (audited)


CORRECTORS = frozenset({Role.MANAGER, Role.ORG_ADMIN, Role.PLATFORM_ADMIN})


def set_disposition(
    db: Database,
    attempt_id: uuid.UUID,
    *,
    code: str,
    agent_id: uuid.UUID | None,
    at: datetime,
    callback_at: datetime | None = None,
    callback_same_agent: bool = False,
    source: str = DispositionSource.AGENT,
    note: str = "",
) -> LeadStatus:
    """Apply a disposition to an attempt and its lead; returns the lead's new status. `agent_id` is who
    gave it (recorded with `source`); callers check who may (`dispose_attempt`).

    DNC: the number goes on the organization's internal DNC list and the lead is done. Revoke: the
    consumer's revocation of the campaign seller's consent is recorded (source agent, `note` the agent's
    words) and the lead is done; every campaign of that seller stops calling at its next check. Callback: the lead
    is scheduled at `callback_at`, for any agent or only this one. Sale or final: done. Anything else:
    recycled by the campaign's `human` rule.
    """
    with db.session(ALL_ORGS) as s:
        org_id = s.scalar(select(CallAttempt.org_id).where(CallAttempt.id == attempt_id))
    if org_id is None:
        raise NotFoundError(f"call attempt {attempt_id} not found")
    with db.session(Scope(org_id)) as s:  # scoped: a DNC disposition writes the org's internal DNC list
        attempt = s.get(CallAttempt, attempt_id, with_for_update=True)
        assert attempt is not None
        disposition = s.scalars(
            select(Disposition).where(
                Disposition.campaign_id == attempt.campaign_id, Disposition.code == code
            )
        ).one_or_none()
        if disposition is None:
            known = sorted(
                s.scalars(select(Disposition.code).where(Disposition.campaign_id == attempt.campaign_id))
            )
            raise ValidationError(
                f"the campaign has no disposition {code}; its dispositions are {', '.join(known)}",
                field="disposition",
            )
        attempt.disposition = code
        attempt.disposition_source = source
        attempt.disposed_by = agent_id
        attempt.disposed_at = at
        if agent_id is not None and attempt.agent_id is None and source == DispositionSource.AGENT:
            attempt.agent_id = agent_id
        lead = _locked_lead(s, attempt.lead_id)
        if lead.status == LeadStatus.IN_PROGRESS.value and lead.lease_holder != attempt.worker:
            raise ConflictError(
                f"lead {public_lead_id(lead.id)} is being called again; dispose of that call instead"
            )
        step = _after_disposition(s, lead, disposition, at=at, callback_at=callback_at)
        if disposition.dnc:
            add_to_internal_dnc(
                s, e164=lead.phone_e164, campaign_id=None, reason=f"disposition {code}", added_by=agent_id
            )
        if disposition.revoke:
            seller = s.scalar(select(Campaign.seller).where(Campaign.id == attempt.campaign_id))
            record_revocation(
                s, e164=lead.phone_e164, seller=seller or "", note=note.strip() or f"disposition {code}",
                revoked_by=agent_id, at=at,
            )  # fmt: skip
        clear_lease(lead)
        _apply(lead, step)
        if step.status is LeadStatus.CALLBACK:
            lead.callback_at = callback_at
            lead.callback_agent_id = (attempt.agent_id or agent_id) if callback_same_agent else None
        emit(
            s, org_id=org_id, event_type=DISPOSITION_SET, occurred_at=at,
            data={
                "attempt_id": attempt.id,
                "campaign_id": attempt.campaign_id,
                "lead_id": public_lead_id(lead.id),
                "disposition": code,
                "source": source,
                "disposed_by": agent_id,
                "agent_id": attempt.agent_id,
                "lead_status": step.status.value,
                "callback_at": lead.callback_at if step.status is LeadStatus.CALLBACK else None,
            },
        )  # fmt: skip
        return step.status


def agent_disposition_deadline(attempt: CallAttempt, wrap_up_s: int, now: datetime) -> datetime | None:
    """Until when the agent who took the call may give or change its disposition: no limit (None) while
    it has none or only the wrap-up timeout's, else the campaign's wrap-up time after the call ended."""
    if attempt.disposition is None or attempt.disposition_source == DispositionSource.TIMEOUT:
        return None
    return (attempt.ended_at or now) + timedelta(seconds=wrap_up_s)


def dispose_attempt(
    db: Database,
    attempt: CallAttempt,
    *,
    code: str,
    by: uuid.UUID,
    role: Role,
    at: datetime,
    callback_at: datetime | None = None,
    callback_same_agent: bool = False,
    note: str = "",
) -> LeadStatus:
    """Who may give or correct a disposition, then `set_disposition`. An agent disposes only calls they
    handled, and corrects their disposition only within the campaign's wrap-up time after the call ended;
    a manager or org admin corrects any at any time (recorded as `manager`; the request is audited)."""
    code = code.strip()
    if not code:
        raise ValidationError("disposition must not be empty", field="disposition")
    source = DispositionSource.AGENT
    if role is Role.AGENT:
        if attempt.agent_id != by:
            raise NotFoundError(f"call attempt {attempt.id} was not connected to you")
        wrap_up_s = _wrap_up_s(db, attempt.campaign_id)
        deadline = agent_disposition_deadline(attempt, wrap_up_s, at)
        if deadline is not None and at > deadline:
            raise ConflictError(
                f"call attempt {attempt.id} was disposed {attempt.disposition}; the {wrap_up_s}-second "
                "wrap-up for corrections is over: ask a manager to correct it"
            )
    elif role in CORRECTORS and attempt.disposition is not None:
        source = DispositionSource.MANAGER
    return set_disposition(
        db,
        attempt.id,
        code=code,
        agent_id=by,
        at=at,
        callback_at=callback_at,
        callback_same_agent=callback_same_agent,
        source=source,
        note=note,
    )


def _wrap_up_s(db: Database, campaign_id: uuid.UUID) -> int:
    with db.session(ALL_ORGS) as s:
        return int(s.scalar(select(Campaign.wrap_up_s).where(Campaign.id == campaign_id)) or 30)


def dispose_timed_out(db: Database, attempt_id: uuid.UUID, *, at: datetime) -> bool:
    """The wrap-up ended without a disposition: give the call its campaign's timeout_disposition,
    recorded as such. Returns False when the call had one by then."""
    with db.session(ALL_ORGS) as s:
        row = s.execute(
            select(CallAttempt.disposition, Campaign.timeout_disposition)
            .join(Campaign, Campaign.id == CallAttempt.campaign_id)
            .where(CallAttempt.id == attempt_id)
        ).first()
    if row is None or row[0] is not None:
        return False
    set_disposition(db, attempt_id, code=row[1], agent_id=None, at=at, source=DispositionSource.TIMEOUT)
    return True


def _after_disposition(
    s: Session, lead: Lead, disposition: Disposition, *, at: datetime, callback_at: datetime | None
) -> NextStep:
    if disposition.dnc:
        lead.verdict = "blocked"
        lead.verdict_reasons = sorted({*lead.verdict_reasons, "internal_dnc"})
        return NextStep(LeadStatus.DONE, None)
    if disposition.revoke:
        lead.verdict = "blocked"
        lead.verdict_reasons = sorted({*lead.verdict_reasons, "consent_revoked"})
        return NextStep(LeadStatus.DONE, None)
    if disposition.callback:
        if callback_at is None:
            raise ValidationError(
                f"disposition {disposition.code!r} schedules a callback: give callback_at",
                field="callback_at",
            )
        if callback_at <= at:
            raise ValidationError("callback_at must be in the future", field="callback_at")
        return NextStep(LeadStatus.CALLBACK, callback_at)
    if disposition.sale or disposition.final:
        return NextStep(LeadStatus.DONE, None)
    return recycle(
        _rules(s, lead.campaign_id),
        outcome=Outcome.HUMAN.value,
        attempts=lead.attempts,
        outcome_count=lead.outcome_counts.get(Outcome.HUMAN.value, 0),
        now=at,
    )


def schedule_callback(
    s: Session, lead: Lead, *, callback_at: datetime, agent_id: uuid.UUID | None, now: datetime
) -> None:
    """Schedule a callback on a lead looked up by the caller (through its scoped session)."""
    if callback_at <= now:
        raise ValidationError("callback_at must be in the future", field="callback_at")
    if lead.status in (LeadStatus.BLOCKED.value, LeadStatus.IN_PROGRESS.value):
        raise ConflictError(f"lead {public_lead_id(lead.id)} is {lead.status}; it cannot be scheduled")
    lead.status = LeadStatus.CALLBACK.value
    lead.callback_at = callback_at
    lead.callback_agent_id = agent_id
    lead.next_attempt_at = callback_at
