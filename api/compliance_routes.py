"""Compliance routes: why a number was (or was not) dialed, from what was stored at the time, and the
call-detail records the Telemarketing Sales Rule requires."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import get, post, put
from litestar.response import Stream
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns.cdr import cdr_csv
from campaigns.evidence import EvidenceRecord, evidence_for_phone, evidence_of_attempt
from core.models import Role
from core.public_ids import public_lead_id
from core.runtime import Runtime
from dnc.caps import caps_json, parse_call_caps
from dnc.consent import (
    ConsentSettings,
    RevocationRequest,
    consents_of,
    read_settings,
    record_consent,
    record_revocation,
    save_settings,
)
from dnc.models import ConsentRecord

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
    # The safe-harbor message: when the worker finished it, why it could not be played, keys pressed.
    safe_harbor_played_at: datetime | None = None
    safe_harbor_error: str | None = None
    dtmf_digits: str | None = None
    safe_harbor_sha256: str | None = None  # the message played: GET /api/safe-harbor-messages/{sha256}
    # Answering-machine detection on the audio: human / machine / notsure, why, the audio time it decided
    # at (ms from the answer), and when the greeting ended (the 2-second rule counts from it).
    amd_result: str | None = None
    amd_cause: str | None = None
    amd_decided_ms: int | None = None
    amd_greeting_ended_at: datetime | None = None
    # The voicemail message left on a machine: GET /api/safe-harbor-messages/{sha256}, and when it ended.
    voicemail_sha256: str | None = None
    voicemail_left_at: datetime | None = None


class EvidencePageOut(msgspec.Struct):
    phone: str
    attempts: list[EvidenceOut]
    next_cursor: str | None


def _out(record: EvidenceRecord) -> EvidenceOut:
    return EvidenceOut(
        attempt_id=record.attempt_id,
        campaign_id=record.campaign_id,
        campaign_name=record.campaign_name,
        lead_id=public_lead_id(record.lead_id),
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
        safe_harbor_played_at=record.safe_harbor_played_at,
        safe_harbor_error=record.safe_harbor_error,
        dtmf_digits=record.dtmf_digits,
        safe_harbor_sha256=record.safe_harbor_sha256,
        amd_result=record.amd_result,
        amd_cause=record.amd_cause,
        amd_decided_ms=record.amd_decided_ms,
        amd_greeting_ended_at=record.amd_greeting_ended_at,
        voicemail_sha256=record.voicemail_sha256,
        voicemail_left_at=record.voicemail_left_at,
    )


@get("/api/compliance/evidence", opt=roles(*EVIDENCE_ROLES), sync_to_thread=True, tags=["compliance"])
def evidence_by_phone(
    session: Session, phone: str, limit: int = 100, cursor: str | None = None
) -> EvidencePageOut:
    """Every attempt to a number, dialed or blocked, across the organization's campaigns, newest first,
    with the verdict the dial-time check returned. Paged: pass `next_cursor` back as `cursor`."""
    e164, page = evidence_for_phone(session, phone, limit=limit, cursor=cursor)
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
    media_type="text/csv",
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


# ------------------------------------------------------------------------------------- consent


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: str
    kind: str  # express | express_written
    given_at: datetime
    seller: str = ""  # "" = the organization itself (a campaign without a seller of its own)
    source: str = "api"
    disclosure: str = ""  # the disclosure text the consumer agreed to, or its URL
    consumer_ip: str | None = None
    certificate_id: str | None = None  # e.g. a lead-certificate id


class RevocationIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either a revocation told to you (`source`, `note`) or a message received from the consumer
    (`channel`, `received_at`, `text`: classified, e.g. an SMS reply "STOP")."""

    phone: str
    source: str | None = (
        None  # opt_out_key | agent | api | console | message | web_form | phone | email | other
    )
    seller: str | None = None  # None: every seller's consent
    note: str = ""
    channel: str | None = None  # sms | email | letter | other: a message received
    received_at: datetime | None = None  # when the message was received (the revocation's time)
    text: str | None = None  # the message as received


class ConsentOut(msgspec.Struct):
    id: uuid.UUID
    e164: str
    seller: str
    kind: str
    source: str
    given_at: datetime
    disclosure: str
    consumer_ip: str | None
    certificate_id: str | None
    revoked_at: datetime | None
    revoked_source: str | None
    revoked_note: str | None
    honored_at: datetime | None  # the first dial-time check that refused a call because of the revocation
    honored_after_s: float | None  # revocation -> that check

    @classmethod
    def of(cls, r: ConsentRecord) -> ConsentOut:
        after = (r.honored_at - r.revoked_at).total_seconds() if r.honored_at and r.revoked_at else None
        return cls(
            id=r.id, e164=r.e164, seller=r.seller, kind=r.kind, source=r.source, given_at=r.given_at,
            disclosure=r.disclosure, consumer_ip=r.consumer_ip, certificate_id=r.certificate_id,
            revoked_at=r.revoked_at, revoked_source=r.revoked_source, revoked_note=r.revoked_note,
            honored_at=r.honored_at, honored_after_s=after,
        )  # fmt: skip


class ConsentSettingsIO(msgspec.Struct, forbid_unknown_fields=True):
    unknown_line_type: str = "wireless"  # wireless (fail closed) | not_wireless
    revoke_all: bool = False  # a revocation stops every seller's calls to the number
    # Per-period caps of every campaign: [{"calls": 7, "days": 7}]; omitted (null) on PUT: unchanged.
    call_caps: list[dict[str, int]] | None = None

    @classmethod
    def of(cls, settings: ConsentSettings) -> ConsentSettingsIO:
        return cls(settings.unknown_line_type, settings.revoke_all, caps_json(settings.call_caps or ()))


CONSENT_WRITERS = (Role.COMPLIANCE, Role.ORG_ADMIN)
CONSENT_READERS = (Role.COMPLIANCE, Role.ORG_ADMIN, Role.MANAGER)


@post("/api/compliance/consents", opt=roles(*CONSENT_WRITERS), sync_to_thread=True, tags=["compliance"])
def create_consent(data: ConsentIn, principal: Principal, session: Session) -> ConsentOut:
    """Record a consent artifact: the dial-time check relies on it for the seller it names."""
    record = record_consent(
        session,
        phone=data.phone,
        seller=data.seller,
        kind=data.kind,
        source=data.source,
        given_at=data.given_at,
        disclosure=data.disclosure,
        consumer_ip=data.consumer_ip,
        certificate_id=data.certificate_id,
        created_by=principal.user_id,
        now=datetime.now(UTC),
    )
    return ConsentOut.of(record)


@post(
    "/api/compliance/revocations",
    opt=roles(*CONSENT_WRITERS, Role.MANAGER, Role.AGENT),
    sync_to_thread=True,
    tags=["compliance"],
)
def create_revocation(data: RevocationIn, principal: Principal, session: Session) -> list[ConsentOut]:
    """A consumer revoked consent, by any reasonable means: `source` says how (with their words as
    `note`), or `channel` + `received_at` + `text` give the message received (an SMS reply, an email or
    letter forwarded by an integration), which must carry a revocation (STOP, QUIT, END, REVOKE, OPT OUT,
    CANCEL, UNSUBSCRIBE or a plain request to stop: 47 CFR 64.1200(a)(10)); it counts from `received_at`.
    Honored at the very next dial-time check, which stamps `honored_at` (`honored_after_s` from the
    revocation)."""
    _, records = record_revocation(
        session,
        RevocationRequest(
            phone=data.phone, seller=data.seller, source=data.source, note=data.note, channel=data.channel,
            received_at=data.received_at, text=data.text,
        ),
        revoked_by=principal.user_id,
        now=datetime.now(UTC),
    )  # fmt: skip
    return [ConsentOut.of(r) for r in records]


@get("/api/compliance/consents", opt=roles(*CONSENT_READERS), sync_to_thread=True, tags=["compliance"])
def list_consents(session: Session, phone: str) -> list[ConsentOut]:
    """A number's consent records and revocations, with the time from revocation to the check that
    honored it."""
    return [ConsentOut.of(r) for r in consents_of(session, phone)]


@get("/api/compliance/settings", opt=roles(*CONSENT_READERS), sync_to_thread=True, tags=["compliance"])
def get_consent_settings(session: Session) -> ConsentSettingsIO:
    return ConsentSettingsIO.of(read_settings(session))


@put(
    "/api/compliance/settings",
    opt=roles(Role.ORG_ADMIN, Role.COMPLIANCE),
    sync_to_thread=True,
    tags=["compliance"],
)
def put_consent_settings(data: ConsentSettingsIO, session: Session) -> ConsentSettingsIO:
    """`unknown_line_type`: what a number of unknown line type counts as (default wireless: it needs
    written consent). `revoke_all`: a revocation stops calls from every seller of the organization.
    `call_caps`: at most `calls` calls to a number in `days` days, for every campaign (counted over the
    seller's calls across campaigns and caller IDs); omitted: unchanged."""
    caps = (
        parse_call_caps(data.call_caps, field="call_caps", set_by="organization")
        if data.call_caps is not None
        else None
    )
    saved = save_settings(session, ConsentSettings(data.unknown_line_type, data.revoke_all, caps))
    return ConsentSettingsIO.of(saved)


ROUTES += [create_consent, create_revocation, list_consents, get_consent_settings, put_consent_settings]
