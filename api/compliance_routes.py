"""Compliance routes: why a number was (or was not) dialed, from what was stored at the time, and the
call-detail records the Telemarketing Sales Rule requires."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import get
from litestar.response import Stream
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.cdr import cdr_csv
from campaigns.evidence import (
    MAX_PAGE,
    EvidenceRecord,
    evidence_for_number,
    evidence_of_attempt,
)
from core.errors import ValidationError
from core.models import Role
from core.runtime import Runtime
from dnc.normalize import normalize_number

EVIDENCE_ROLES = (Role.COMPLIANCE, Role.ORG_ADMIN, Role.MANAGER)


class EvidenceOut(msgspec.Struct):
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
    # The evidence document as stored when the dial-time verdict was taken (schema_version, compliance,
    # attestation, abandon); null only for attempts recorded before evidence was kept.
    evidence: dict[str, Any] | None


class EvidencePageOut(msgspec.Struct):
    phone: str
    attempts: list[EvidenceOut]
    next_cursor: str | None


def _out(record: EvidenceRecord) -> EvidenceOut:
    return EvidenceOut(
        attempt_id=record.attempt_id,
        campaign_id=record.campaign_id,
        campaign_name=record.campaign_name,
        lead_id=record.lead_id,
        e164=record.e164,
        outcome=record.outcome,
        placed_at=record.placed_at,
        ringing_at=record.ringing_at,
        answered_at=record.answered_at,
        agent_connected_at=record.agent_connected_at,
        safe_harbor_at=record.safe_harbor_at,
        ended_at=record.ended_at,
        agent_id=record.agent_id,
        disposition=record.disposition,
        caller_id=record.caller_id,
        verdict_reasons=record.verdict_reasons,
        evidence=record.evidence.to_json() if record.evidence else None,
    )


@get("/api/compliance/evidence", opt=roles(*EVIDENCE_ROLES), sync_to_thread=True, tags=["compliance"])
def evidence_by_phone(
    session: Session, phone: str, limit: int = 100, cursor: str | None = None
) -> EvidencePageOut:
    """Every attempt to a number, dialed or blocked, across the organization's campaigns, newest first,
    with the verdict the dial-time check returned. Paged: pass `next_cursor` back as `cursor`."""
    e164 = normalize_number(phone).e164
    if e164 is None:
        raise ValidationError(f"phone {phone!r} is not a phone number", field="phone")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}", field="limit")
    page = evidence_for_number(session, e164, limit=limit, cursor=cursor)
    return EvidencePageOut(phone=e164, attempts=[_out(r) for r in page.records], next_cursor=page.next_cursor)


@get(
    "/api/compliance/evidence/{attempt_id:uuid}",
    opt=roles(*EVIDENCE_ROLES),
    sync_to_thread=True,
    tags=["compliance"],
)
def evidence_by_attempt(session: Session, attempt_id: uuid.UUID) -> EvidenceOut:
    """One attempt's evidence: its times (answer, agent connect, safe harbor) and the stored verdict."""
    return _out(evidence_of_attempt(session, attempt_id))


@get(
    "/api/compliance/cdr.csv",
    opt=roles(Role.COMPLIANCE, Role.ORG_ADMIN),
    sync_to_thread=True,
    tags=["compliance"],
)
def cdr_export(
    principal: Principal, runtime: Runtime, since: datetime, until: datetime, org_id: uuid.UUID | None = None
) -> Stream:
    """Call-detail records (16 CFR 310.5(a)(2), as amended in 2024) of the calls placed in
    [since, until): calling and called number, date, time, duration, disposition, telemarketer, seller,
    good or service, prerecorded message. Streamed page by page. A platform admin names the `org_id`."""
    chunks = cdr_csv(runtime.db, principal.org_for_write(org_id), since, until)
    name = f"cdr-{since:%Y%m%dT%H%M%S}-{until:%Y%m%dT%H%M%S}.csv"
    return Stream(
        chunks, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


ROUTES: list[ControllerRouterHandler] = [evidence_by_phone, evidence_by_attempt, cdr_export]
