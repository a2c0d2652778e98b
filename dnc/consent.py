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

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
# A revocation received as a message (an SMS reply, an email or letter forwarded by an integration): its
# channel; stored as the revocation's source `message:<channel>`.
MESSAGE_CHANNELS = ("sms", "email", "letter", "other")
# 47 CFR 64.1200(a)(10) (FCC 24-24): "stop", "quit", "end", "revoke", "opt out", "cancel" or "unsubscribe"
# sent in reply to a text message is a valid revocation, per se. Matched as whole words, any case.
REVOCATION_KEYWORDS = ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe")
# Other words a reasonable person would read as a revocation (the same rule: "any reasonable means").
REVOCATION_PHRASES = (
    "stop calling", "stop texting", "do not call", "don't call", "dont call", "do not text", "don't text",
    "dont text", "remove me", "take me off", "no more calls", "no more texts", "optout", "stopall",
)  # fmt: skip
MAX_MESSAGE_AGE_DAYS = 366  # a message "received" longer ago than this is a typo in received_at
CLOCK_SKEW_S = 300


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
    revoked_at: datetime | None = None,
) -> list[ConsentRecord]:
    """Record a revocation (of one seller's consent, or every seller's when `seller` is None). It is kept
    even when no consent was on file: the consumer's request is what counts. `revoked_at`: when the
    consumer revoked (a message's receipt), `now` when not given."""
    if not source.startswith("message:"):
        _one_of(source, REVOCATION_SOURCES, "source")
    when = revoked_at or now
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
        record.revoked_at = when
        record.revoked_source = source
        record.revoked_note = note
        record.revoked_by = revoked_by
    session.flush()
    emit(
        session, org_id=records[0].org_id, event_type=CONSENT_REVOKED, occurred_at=when,
        data={"e164": e164, "seller": seller.strip() if seller is not None else None, "source": source,
              "consent_ids": [r.id for r in records], "revoked_by": revoked_by},
    )  # fmt: skip
    return records


@dataclass(frozen=True)
class MessageClassification:
    """Whether a message's text revokes consent, the word or phrase that says so, and the rule applied."""

    revokes: bool
    matched: str | None
    rule: str


_NON_WORD = re.compile(r"[^a-z0-9']+")


def classify_revocation_text(text: str) -> MessageClassification:
    """Does a consumer's message revoke consent? Pure. The FCC's keywords (47 CFR 64.1200(a)(10): STOP,
    QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE) anywhere in the text as whole words, in any case and
    whatever the punctuation ("Stop!", "opt-out", "STOP ALL"), or a plain request such as "don't call me
    again" or "remove me from your list". Restrictive by design: "end" in "at the end of the day" counts,
    since a missed revocation is the violation and an honored one costs a lead."""
    lowered = text.casefold().replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")
    words = " ".join(_NON_WORD.sub(" ", lowered).split())
    padded = f" {words} "
    for keyword in REVOCATION_KEYWORDS:
        if f" {keyword} " in padded:
            return MessageClassification(True, keyword.upper(), "47 CFR 64.1200(a)(10): revocation keyword")
    for phrase in REVOCATION_PHRASES:
        if f" {phrase} " in padded:
            return MessageClassification(
                True, phrase, "47 CFR 64.1200(a)(10): revocation by any reasonable means"
            )
    return MessageClassification(
        False,
        None,
        "no revocation keyword ("
        + ", ".join(k.upper() for k in REVOCATION_KEYWORDS)
        + ") or request to stop",
    )


def revoke_by_message(
    session: Session,
    *,
    phone: str,
    seller: str | None,
    channel: str,
    received_at: datetime,
    text: str,
    revoked_by: uuid.UUID | None = None,
    now: datetime,
) -> tuple[MessageClassification, list[ConsentRecord]]:
    """A message received from the consumer (an SMS reply "STOP", an email or letter forwarded by an
    integration): classified by `classify_revocation_text`; a revocation is recorded as received at
    `received_at` with source `message:<channel>` and the text as its note, and honored at the very next
    dial-time check like any other. A text that revokes nothing is refused naming the rule (nothing is
    recorded: staff who read a revocation in other words record it with a `source`)."""
    _one_of(channel, MESSAGE_CHANNELS, "channel")
    if received_at.tzinfo is None:
        raise ValidationError("received_at needs a time zone", field="received_at")
    if received_at > now + timedelta(seconds=CLOCK_SKEW_S):
        raise ValidationError(f"received_at {received_at.isoformat()} is in the future", field="received_at")
    if received_at < now - timedelta(days=MAX_MESSAGE_AGE_DAYS):
        raise ValidationError(
            f"received_at {received_at.isoformat()} is more than {MAX_MESSAGE_AGE_DAYS} days ago",
            field="received_at",
        )
    if not text.strip():
        raise ValidationError("text is empty: give the message as received", field="text")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"text is longer than {MAX_TEXT} characters", field="text")
    verdict = classify_revocation_text(text)
    if not verdict.revokes:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ValidationError(f"text {shown!r} does not revoke consent: {verdict.rule}", field="text")
    records = revoke_consent(
        session,
        phone=phone,
        seller=seller,
        source=f"message:{channel}",
        note=f"{verdict.matched}: {text}",
        revoked_by=revoked_by,
        now=now,
        revoked_at=min(received_at, now),
    )
    return verdict, records


@dataclass(frozen=True)
class RevocationRequest:
    """A revocation as the API and the console receive it: either told to staff / the dialer (`source`,
    with the consumer's words as `note`) or a message received (`channel`, `received_at`, `text`)."""

    phone: str
    seller: str | None = None  # None: every seller's consent
    source: str | None = None
    note: str = ""
    channel: str | None = None
    received_at: datetime | None = None
    text: str | None = None


def record_revocation(
    session: Session, request: RevocationRequest, *, revoked_by: uuid.UUID | None, now: datetime
) -> tuple[MessageClassification | None, list[ConsentRecord]]:
    """THE entry for a revocation from a person (API, console): a message is classified and recorded as
    received (`revoke_by_message`), anything else is recorded now with its source (`revoke_consent`)."""
    if request.channel is not None:
        if request.source is not None:
            raise ValidationError(
                "give either source (a revocation told to you) or channel (a message received), not both",
                field="source",
            )
        if request.received_at is None:
            raise ValidationError("a message needs received_at: when it was received", field="received_at")
        return revoke_by_message(
            session, phone=request.phone, seller=request.seller, channel=request.channel,
            received_at=request.received_at, text=request.text or "", revoked_by=revoked_by, now=now,
        )  # fmt: skip
    if request.source is None:
        raise ValidationError(
            "give source (how the consumer revoked) or channel (the message received)", field="source"
        )
    if request.text is not None or request.received_at is not None:
        raise ValidationError("text and received_at go with channel (a message received)", field="channel")
    records = revoke_consent(
        session, phone=request.phone, seller=request.seller, source=request.source, note=request.note,
        revoked_by=revoked_by, now=now,
    )  # fmt: skip
    return None, records


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
