"""The evidence of every call attempt: the typed document stored with it, and how it is read back.

The dialer builds an `AttemptEvidence` when it takes the dial-time verdict (dialed or blocked): the
compliance engine's own record of what it checked (`dnc.verdicts.ComplianceEvidence`), the attestation it
signed with and the campaign's rolling 30-day abandon rate at that moment. It is stored as it was, in
`call_attempts.evidence`, and never re-derived: `load_evidence` answers "why was this number dialed?" from
it and the attempt's own times, in one query whatever the number of attempts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, Campaign
from core.errors import NotFoundError, ValidationError
from dnc.normalize import normalize_number
from dnc.verdicts import ComplianceEvidence

EVIDENCE_SCHEMA_VERSION = 1
MAX_PAGE = 500


class AttestationEvidence(msgspec.Struct, frozen=True, kw_only=True):
    level: str | None  # A | B | C, None when the call was not signed
    reason: str | None
    origid: str | None  # the PASSporT's origid
    caller_id: str | None
    identity_header_present: bool


class AbandonEvidence(msgspec.Struct, frozen=True, kw_only=True):
    rate_30d: float  # the campaign's rolling 30-day abandon rate when the call was placed
    human_answered_30d: int
    abandoned_30d: int
    limit: float


class AttemptEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt's evidence document (versioned: readers check `schema_version`)."""

    schema_version: int = EVIDENCE_SCHEMA_VERSION
    compliance: ComplianceEvidence
    attestation: AttestationEvidence | None = None  # None: blocked, never dialed
    abandon: AbandonEvidence | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttemptEvidence:
        version = data.get("schema_version")
        if version != EVIDENCE_SCHEMA_VERSION:
            raise ValueError(
                f"evidence schema version {version!r}; this code reads {EVIDENCE_SCHEMA_VERSION}"
            )
        return msgspec.convert(data, cls, strict=False)


@dataclass(frozen=True)
class EvidenceRecord:
    """An attempt with its times and its stored evidence (None for attempts older than the evidence)."""

    attempt_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    lead_id: int
    e164: str
    outcome: str
    placed_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    agent_connected_at: datetime | None
    safe_harbor_at: datetime | None
    ended_at: datetime | None
    agent_id: uuid.UUID | None
    disposition: str | None
    caller_id: str | None
    verdict_reasons: list[str]
    evidence: AttemptEvidence | None
    # The safe-harbor message: when the worker finished it, why it could not be played, keys pressed.
    safe_harbor_played_at: datetime | None = None
    safe_harbor_error: str | None = None
    dtmf_digits: str | None = None
    safe_harbor_sha256: str | None = None  # which message was played: its kept copy's sha256
    # Answering-machine detection on the audio: human / machine / notsure, why, the audio time it decided
    # at (ms from the answer), and when the greeting ended (the 2-second rule counts from it).
    amd_result: str | None = None
    amd_cause: str | None = None
    amd_decided_ms: int | None = None
    amd_greeting_ended_at: datetime | None = None
    # The voicemail message left on a machine: GET /api/safe-harbor-messages/{sha256}, and when it ended.
    voicemail_sha256: str | None = None
    voicemail_left_at: datetime | None = None


def _query() -> Select[Any]:
    return select(CallAttempt, Campaign.name).join(Campaign, Campaign.id == CallAttempt.campaign_id)


def _record(attempt: CallAttempt, campaign_name: str) -> EvidenceRecord:
    return EvidenceRecord(
        attempt_id=attempt.id,
        campaign_id=attempt.campaign_id,
        campaign_name=campaign_name,
        lead_id=attempt.lead_id,
        e164=attempt.e164,
        outcome=attempt.outcome,
        placed_at=attempt.placed_at,
        ringing_at=attempt.ringing_at,
        answered_at=attempt.answered_at,
        agent_connected_at=attempt.agent_connected_at,
        safe_harbor_at=attempt.safe_harbor_at,
        ended_at=attempt.ended_at,
        agent_id=attempt.agent_id,
        disposition=attempt.disposition,
        caller_id=attempt.caller_id,
        verdict_reasons=list(attempt.verdict_reasons),
        evidence=AttemptEvidence.from_json(attempt.evidence) if attempt.evidence else None,
        safe_harbor_played_at=attempt.safe_harbor_played_at,
        safe_harbor_error=attempt.safe_harbor_error,
        dtmf_digits=attempt.dtmf_digits,
        safe_harbor_sha256=attempt.safe_harbor_sha256,
        amd_result=attempt.amd_result,
        amd_cause=attempt.amd_cause,
        amd_decided_ms=attempt.amd_decided_ms,
        amd_greeting_ended_at=attempt.amd_greeting_ended_at,
        voicemail_sha256=attempt.voicemail_sha256,
        voicemail_left_at=attempt.voicemail_left_at,
    )


def evidence_of_attempt(session: Session, attempt_id: uuid.UUID) -> EvidenceRecord:
    """One attempt's evidence, through the caller's organization-scoped session (another org's: 404)."""
    row = session.execute(_query().where(CallAttempt.id == attempt_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"call attempt {attempt_id} not found")
    return _record(row[0], row[1])


@dataclass(frozen=True)
class EvidencePage:
    records: list[EvidenceRecord]
    next_cursor: str | None  # pass back as `cursor` for the next (older) page


def _cursor(record: EvidenceRecord) -> str:
    return f"{record.placed_at.isoformat()}|{record.attempt_id}"


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        placed, attempt = cursor.split("|", 1)
        return datetime.fromisoformat(placed), uuid.UUID(attempt)
    except ValueError as exc:
        raise ValidationError(f"cursor {cursor!r} is not one this API returned", field="cursor") from exc


def evidence_for_number(
    session: Session, e164: str, *, limit: int = 100, cursor: str | None = None
) -> EvidencePage:
    """Every attempt to a number across the organization's campaigns, newest first, one query per page."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}", field="limit")
    query = _query().where(CallAttempt.e164 == e164)
    if cursor:
        placed, attempt = _parse_cursor(cursor)
        query = query.where(
            (CallAttempt.placed_at < placed)
            | ((CallAttempt.placed_at == placed) & (CallAttempt.id < attempt))
        )
    rows = session.execute(
        query.order_by(CallAttempt.placed_at.desc(), CallAttempt.id.desc()).limit(limit + 1)
    ).all()
    records = [_record(attempt, name) for attempt, name in rows[:limit]]
    return EvidencePage(records, _cursor(records[-1]) if len(rows) > limit else None)


def evidence_for_phone(
    session: Session, phone: str, *, limit: int = 100, cursor: str | None = None
) -> tuple[str, EvidencePage]:
    """`evidence_for_number` for a number as a person types it ("(202) 555-0143"): its E.164 form and
    the page; a text that is no phone number is a ValidationError naming it."""
    e164 = normalize_number(phone).e164
    if e164 is None:
        raise ValidationError(f"phone {phone!r} is not a phone number", field="phone")
    return e164, evidence_for_number(session, e164, limit=limit, cursor=cursor)
