"""Consent records per number and seller, their revocation by any reasonable means, and the organization's
consent settings (what an unknown line type counts as; whether a revocation stops every seller's calls).

Rules (see docs/compliance.md): an autodialed telemarketing call to a wireless number needs prior express
written consent (47 CFR 64.1200(a)(2)); a number whose line type is unknown counts as wireless unless the
organization says otherwise (fail closed). Consent may be revoked by any reasonable means (47 CFR
64.1200(a)(10), FCC 24-24, in force 2025-04-11) and must be honored within 10 business days: the engine
honors it at the very next check, and the first check that refused a call because of it stamps
`honored_at`, so the delay is on record. "Revoke all" (a revocation stops calls from the caller for every
purpose, FCC 24-24, postponed to 2027-01-31) is the organization setting `revoke_all`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import Database, Scope, scope_of
from core.errors import ValidationError
from core.webhooks import CONSENT_REVOKED
from core.webhooks.events import emit
from dnc.caps import CallCap, caps_json, parse_call_caps
from dnc.models import CompliancePolicy, ConsentRecord
from dnc.normalize import normalize_number

KINDS = ("express", "express_written")
CONSENT_SOURCES = ("lead_import", "api", "web_form", "phone", "paper", "other")
# Per se reasonable means (47 CFR 64.1200(a)(10)) and the ones the dialer itself sees.
REVOCATION_SOURCES = (
    "opt_out_key",
    "agent",
    "api",
    "console",
    "message",
    "web_form",
    "phone",
    "email",
    "other",
    "privacy_request",  # a deletion request of the person (campaigns.privacy)
)
UNKNOWN_LINE_TYPES = ("wireless", "not_wireless")
MAX_TEXT = 10_000


def _org(session: Session) -> uuid.UUID:
    org_id = scope_of(session).org_id
    if org_id is None:
        raise ValidationError("consent records belong to one organization; use an organization account")
    return org_id


def _e164(phone: str) -> str:
    e164 = normalize_number(phone).e164
    if e164 is None:
        raise ValidationError(f"phone {phone!r} is not a phone number", field="phone")
    return e164


def _one_of(value: str, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{name} {value!r} is not one of {', '.join(allowed)}", field=name)
    return value


def record_consent(
    session: Session,
    *,
    phone: str,
    seller: str,
    kind: str,
    source: str,
    given_at: datetime,
    disclosure: str = "",
    consumer_ip: str | None = None,
    certificate_id: str | None = None,
    created_by: uuid.UUID | None = None,
    now: datetime,
) -> ConsentRecord:
    """Store a consent artifact. `seller` "" means the organization itself (campaigns without a seller)."""
    if given_at.tzinfo is None:
        raise ValidationError("given_at needs a time zone", field="given_at")
    if given_at > now:
        raise ValidationError(f"given_at {given_at.isoformat()} is in the future", field="given_at")
    if len(disclosure) > MAX_TEXT:
        raise ValidationError(f"disclosure is longer than {MAX_TEXT} characters", field="disclosure")
    record = ConsentRecord(
        org_id=_org(session),
        e164=_e164(phone),
        seller=seller.strip(),
        kind=_one_of(kind, KINDS, "kind"),
        source=_one_of(source, CONSENT_SOURCES, "source"),
        given_at=given_at,
        disclosure=disclosure,
        consumer_ip=consumer_ip,
        certificate_id=certificate_id,
        created_by=created_by,
        created_at=now,
    )
    session.add(record)
    session.flush()
    return record


def revoke_consent(
    session: Session,
    *,
    phone: str,
    seller: str | None,
    source: str,
    note: str = "",
    revoked_by: uuid.UUID | None = None,
    now: datetime,
) -> list[ConsentRecord]:
    """Record a revocation (of one seller's consent, or every seller's when `seller` is None). It is kept
    even when no consent was on file: the consumer's request is what counts."""
    _one_of(source, REVOCATION_SOURCES, "source")
    if len(note) > MAX_TEXT:
        raise ValidationError(f"note is longer than {MAX_TEXT} characters", field="note")
    e164 = _e164(phone)
    query = select(ConsentRecord).where(ConsentRecord.e164 == e164, ConsentRecord.revoked_at.is_(None))
    if seller is not None:
        query = query.where(ConsentRecord.seller == seller.strip())
    records = list(session.scalars(query.with_for_update()))
    if not records:
        records = [
            ConsentRecord(
                org_id=_org(session),
                e164=e164,
                seller=(seller or "").strip(),
                kind="none",
                source="other",
                given_at=now,
                created_at=now,
                created_by=revoked_by,
            )
        ]
        session.add(records[0])
    for record in records:
        record.revoked_at = now
        record.revoked_source = source
        record.revoked_note = note
        record.revoked_by = revoked_by
    session.flush()
    emit(
        session, org_id=records[0].org_id, event_type=CONSENT_REVOKED, occurred_at=now,
        data={"e164": e164, "seller": seller.strip() if seller is not None else None, "source": source,
              "consent_ids": [r.id for r in records], "revoked_by": revoked_by},
    )  # fmt: skip
    return records


def consents_of(session: Session, phone: str) -> list[ConsentRecord]:
    e164 = _e164(phone)
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.e164 == e164).order_by(ConsentRecord.created_at)
        )
    )


@dataclass(frozen=True)
class ConsentSettings:
    unknown_line_type: str = "wireless"
    revoke_all: bool = False
    # The organization's per-period call caps (dnc.caps); None when saving: keep the current ones.
    call_caps: tuple[CallCap, ...] | None = None


def read_settings(session: Session) -> ConsentSettings:
    policy = session.scalars(select(CompliancePolicy)).one_or_none()
    if policy is None:
        return ConsentSettings(call_caps=())
    caps = parse_call_caps(policy.call_caps, field="call_caps", set_by="organization")
    return ConsentSettings(policy.unknown_line_type, policy.revoke_all, caps)


def save_settings(session: Session, settings: ConsentSettings) -> ConsentSettings:
    _one_of(settings.unknown_line_type, UNKNOWN_LINE_TYPES, "unknown_line_type")
    policy = session.scalars(select(CompliancePolicy)).one_or_none()
    if policy is None:
        policy = CompliancePolicy(org_id=_org(session))
        session.add(policy)
    policy.unknown_line_type = settings.unknown_line_type
    policy.revoke_all = settings.revoke_all
    if settings.call_caps is not None:
        policy.call_caps = caps_json(settings.call_caps)
    session.flush()
    return read_settings(session)


# ------------------------------------------------------------------------------ what the engine reads


@dataclass(frozen=True)
class ConsentFact:
    record_id: str
    seller: str
    kind: str
    given_at: datetime
    revoked_at: datetime | None


def load_consents(session: Session, e164s: Iterable[str] | None) -> dict[str, tuple[ConsentFact, ...]]:
    """Consent records of these numbers (all of the organization's when None), by number."""
    query = select(
        ConsentRecord.id, ConsentRecord.e164, ConsentRecord.seller, ConsentRecord.kind,
        ConsentRecord.given_at, ConsentRecord.revoked_at,
    )  # fmt: skip
    if e164s is not None:
        wanted = sorted(set(e164s))
        if not wanted:
            return {}
        query = query.where(ConsentRecord.e164.in_(wanted))
    out: dict[str, list[ConsentFact]] = {}
    for record_id, e164, seller, kind, given_at, revoked_at in session.execute(query):
        out.setdefault(e164, []).append(ConsentFact(str(record_id), seller, kind, given_at, revoked_at))
    return {k: tuple(v) for k, v in out.items()}


def mark_honored(db: Database, org_id: uuid.UUID, record_ids: Iterable[str], at: datetime) -> None:
    """The first check that refused a call because of these revocations: stamp it (once)."""
    ids = sorted({uuid.UUID(r) for r in record_ids})
    if not ids:
        return
    with db.session(Scope(org_id)) as s:
        s.execute(
            update(ConsentRecord)
            .where(ConsentRecord.id.in_(ids), ConsentRecord.honored_at.is_(None))
            .values(honored_at=at)
            .execution_options(synchronize_session=False)
        )
