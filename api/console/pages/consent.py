"""Consent revocations on the compliance console: record one (told to staff, or a message received: an
SMS reply "STOP", an email or a letter) and see a number's consent records with when each revocation was
honored. The same service as `POST /api/compliance/revocations`: `dnc.consent.record_revocation` (a
message is classified by `dnc.consent.classify_revocation_text`); the list is `dnc.consent.consents_of`
(`GET /api/compliance/consents`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.compliance import COMPLIANCE, FormData, compliance_page, form_value
from api.dnc.access import own_org
from api.principal import Principal
from core.errors import ValidationError
from dnc.consent import MESSAGE_CHANNELS, RevocationRequest, consents_of, record_revocation
from dnc.models import ConsentRecord

# How the consumer revoked: a message received (classified) or told to staff / filled in a form.
HOW = (
    ("sms", "Text message (SMS) received"),
    ("email", "Email received"),
    ("letter", "Letter received"),
    ("other", "Other message received"),
    ("phone", "Said on a call, to staff"),
    ("web_form", "Web form"),
    ("console", "Another way, told to compliance staff"),
)
# Domain error fields -> the form's fields.
FIELDS = {"phone": "phone", "seller": "seller", "channel": "how", "source": "how", "received_at": "received_at",
          "text": "text", "note": "text"}  # fmt: skip


def _received_at(text: str) -> datetime | None:
    """The form's "received at": UTC, `YYYY-MM-DD HH:MM` (or with its own offset); empty: now."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(
            f"received_at {text!r} is not a date and time (YYYY-MM-DD HH:MM, UTC)", field="received_at"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _honored_after(record: ConsentRecord) -> float | None:
    if record.honored_at and record.revoked_at:
        return (record.honored_at - record.revoked_at).total_seconds()
    return None


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    *,
    phone: str = "",
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    errors = errors or FormErrors()
    records: list[ConsentRecord] = []
    e164 = ""
    if phone.strip():
        try:
            records = consents_of(session, phone)
        except ValidationError as exc:
            errors.add("lookup_phone", str(exc))
        else:
            e164 = records[0].e164 if records else ""
    return compliance_page(
        request,
        "compliance/revocations.html",
        "revocations",
        status_code=status_code,
        phone=phone,
        e164=e164,
        records=records,
        honored_after=_honored_after,
        errors=errors,
        v=typed or {"how": "sms"},
        how=HOW,
        notice=notice,
    )


@get("/console/compliance/revocations", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def revocations_page(request: Request[Any, Any, Any], session: Session, lookup_phone: str = "") -> Template:
    return _page(request, session, phone=lookup_phone)


@post("/console/compliance/revocations", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def record_revocation_form(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Template:
    own_org(principal)
    typed = {k: form_value(data, k) for k in ("phone", "seller", "how", "received_at", "text")}
    how, words, seller = typed["how"], typed["text"], typed["seller"] or None
    try:
        received_at = _received_at(typed["received_at"])
        now = datetime.now(UTC)
        if how in MESSAGE_CHANNELS:
            request_ = RevocationRequest(
                phone=typed["phone"], seller=seller, channel=how, received_at=received_at or now, text=words
            )
        else:
            if received_at is not None:
                raise ValidationError(
                    "the time received goes with a message; this revocation is recorded now",
                    field="received_at",
                )
            request_ = RevocationRequest(phone=typed["phone"], seller=seller, source=how, note=words)
        verdict, records = record_revocation(session, request_, revoked_by=principal.user_id, now=now)
    except ValidationError as exc:
        session.rollback()  # nothing of a refused form is kept
        errors = FormErrors()
        errors.add(FIELDS.get(exc.field or "", "phone"), str(exc))
        return _page(request, session, errors=errors, typed=typed, status_code=422)
    whose = f"{seller}'s" if seller else "every seller's"
    said = f" ({verdict.matched})" if verdict else ""
    notice = (
        f"Revocation recorded{said}: {whose} calls to {records[0].e164} stop at the next dial-time check."
    )
    return _page(request, session, phone=records[0].e164, notice=notice)


PAGES = [revocations_page, record_revocation_form]
