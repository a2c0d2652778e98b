"""Call-detail records as the Telemarketing Sales Rule requires them (16 CFR 310.5(a)(2), 2024
amendments, compliance date 2024-10-15): for every call placed, the calling and called numbers, date,
time, duration, disposition, telemarketer, seller, good or service, and whether a prerecorded message
was used. Kept 5 years (`core.legal.retain_until`, the `retain_until` column).

Exported as CSV, page by page in (placed_at, id) order, each page its own short transaction, so a month
of a busy floor streams in bounded memory. Blocked attempts were never calls and are not CDRs (their
evidence is in the compliance evidence API).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import and_, or_, select

from campaigns.models import CallAttempt, Campaign, Outcome
from core.db import Database, Scope
from core.errors import ValidationError
from core.legal import retain_until
from core.models import Organization
from core.safe_csv import SafeWriter

CDR_PAGE = 5000
CDR_COLUMNS = (
    "attempt_id",
    "calling_number",
    "called_number",
    "date",  # UTC date the call was placed
    "time",  # UTC time the call was placed
    "placed_at",
    "answered_at",
    "ended_at",
    "duration_s",  # answer to hang-up (0 when not answered)
    "ring_s",  # placed to answer, or to release when not answered
    "disposition",  # the call's outcome, and the agent's disposition when one was given
    "telemarketer",  # the organization that placed the call
    "seller",
    "good_or_service",  # the campaign
    "prerecorded_message",  # yes when the safe-harbor message played or a voicemail message was left
    "agent_id",
    "retain_until",
)

# The call_attempts columns the CDR above is made of (and the abandon-rate report, which the TSR's
# 3% rule needs): what a person's deletion request keeps of their calls (campaigns.privacy).
CDR_ATTEMPT_COLUMNS = (
    "id", "org_id", "campaign_id", "caller_id", "e164", "placed_at", "answered_at", "agent_connected_at",
    "ended_at", "outcome", "disposition", "safe_harbor_at", "agent_id", "voicemail_left_at",
)  # fmt: skip


def _seconds(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "0"
    return f"{max(0.0, (end - start).total_seconds()):.1f}"


def cdr_csv(db: Database, org_id: uuid.UUID, since: datetime, until: datetime) -> Iterator[str]:
    """The organization's CDRs of calls placed in [since, until), as CSV text chunks (one per page).
    The range is checked at once, before the first chunk."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValidationError(
            "give since and until with a time zone (e.g. 2026-11-01T00:00:00Z)", field="since"
        )
    if until <= since:
        raise ValidationError(
            f"until ({until.isoformat()}) must be after since ({since.isoformat()})", field="until"
        )
    return _pages(db, org_id, since, until)


def _pages(db: Database, org_id: uuid.UUID, since: datetime, until: datetime) -> Iterator[str]:
    scope = Scope(org_id)
    with db.session(scope) as s:
        organization = s.get(Organization, org_id)
        telemarketer = organization.name if organization else str(org_id)
        campaigns = {cid: name for cid, name in s.execute(select(Campaign.id, Campaign.name))}
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(CDR_COLUMNS)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = select(CallAttempt).where(
            CallAttempt.placed_at >= since,
            CallAttempt.placed_at < until,
            CallAttempt.outcome != Outcome.BLOCKED.value,
        )
        if after is not None:
            query = query.where(
                or_(
                    CallAttempt.placed_at > after[0],
                    and_(CallAttempt.placed_at == after[0], CallAttempt.id > after[1]),
                )
            )
        with db.session(scope) as s:
            page = list(s.scalars(query.order_by(CallAttempt.placed_at, CallAttempt.id).limit(CDR_PAGE)))
        for a in page:
            disposition = a.outcome if not a.disposition else f"{a.outcome}/{a.disposition}"
            writer.writerow(
                [
                    str(a.id),
                    a.caller_id or "",
                    a.e164,
                    a.placed_at.date().isoformat(),
                    a.placed_at.time().isoformat(timespec="seconds"),
                    a.placed_at.isoformat(),
                    a.answered_at.isoformat() if a.answered_at else "",
                    a.ended_at.isoformat() if a.ended_at else "",
                    _seconds(a.answered_at, a.ended_at),
                    _seconds(a.placed_at, a.answered_at or a.ended_at),
                    disposition,
                    telemarketer,
                    telemarketer,  # the organization sells for itself: campaigns name no other seller
                    campaigns.get(a.campaign_id, str(a.campaign_id)),
                    "yes" if a.safe_harbor_at or a.voicemail_left_at else "no",
                    str(a.agent_id) if a.agent_id else "",
                    retain_until(a.placed_at).date().isoformat(),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < CDR_PAGE:
            return
        after = (page[-1].placed_at, page[-1].id)
