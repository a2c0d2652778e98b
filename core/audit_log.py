"""Reading the audit log: the one query behind `GET /api/audit`, its CSV export and the console's audit
page. Filters (who, action, target, outcome, date range) are applied in the database; pages are cut by
a cursor on the row id (newest first), so any number of rows can be read, never a silent cap.

The rows themselves are written by the database for every change of an audited table (migration
0012_secpriv, `core/audit_context.py`), and by the API's audit middleware, the login check, the firewall,
the CLI and bulk imports (`core/audit.py`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import ValidationError
from core.models import AuditEntry
from core.safe_csv import SafeWriter

MAX_PAGE = 1000
CSV_PAGE = 5000
OUTCOMES = ("ok", "denied", "error")
CSV_COLUMNS = (
    "id", "at", "actor", "action", "target", "outcome", "client_ip", "org_id", "user_id", "process", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field left empty matches every row. Text filters match anywhere in the
    field, case-insensitively (`actor="alice"` finds `alice@example.com`); `since` is inclusive,
    `until` exclusive."""

    actor: str = ""
    action: str = ""
    target: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def checked(self) -> AuditFilter:
        if self.outcome and self.outcome not in OUTCOMES:
            raise ValidationError(
                f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}", field="outcome"
            )
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationError(
                    f"give {name} with a time zone (e.g. 2026-11-01T00:00:00Z), got {value.isoformat()}",
                    field=name,
                )
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValidationError(
                f"until ({self.until.isoformat()}) must be after since ({self.since.isoformat()})",
                field="until",
            )
        return self


def _query(filters: AuditFilter) -> Select[tuple[AuditEntry]]:
    f = filters.checked()
    query = select(AuditEntry)
    for column, text in (
        (AuditEntry.actor, f.actor),
        (AuditEntry.action, f.action),
        (AuditEntry.target, f.target),
    ):
        if text.strip():
            query = query.where(column.icontains(text.strip(), autoescape=True))
    if f.outcome:
        query = query.where(AuditEntry.outcome == f.outcome)
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEntry.at < f.until)
    return query


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditEntry]
    next_cursor: int | None  # pass back as `cursor` for the next (older) page


def audit_page(
    session: Session, filters: AuditFilter, *, limit: int = 100, cursor: int | None = None
) -> AuditPage:
    """The rows matching `filters` that the session's scope may read, newest first, one page."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}", field="limit")
    query = _query(filters)
    if cursor is not None:
        query = query.where(AuditEntry.id < cursor)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return AuditPage(page, page[-1].id if len(rows) > limit else None)


def _csv_row(a: AuditEntry) -> list[str]:
    return [
        str(a.id),
        a.at.isoformat(),
        a.actor,
        a.action,
        a.target,
        a.outcome,
        str(a.client_ip) if a.client_ip else "",
        str(a.org_id) if a.org_id else "",
        str(a.user_id) if a.user_id else "",
        a.process,
        json.dumps(a.detail or {}, sort_keys=True, default=str),
    ]


def audit_csv(db: Database, scope: Scope, filters: AuditFilter) -> Iterator[str]:
    """Every row matching `filters` as CSV text chunks, newest first, page by page (each page its own short
    transaction: a long export holds no lock and bounded memory). The filters are checked at once."""
    filters.checked()
    return _csv_pages(db, scope, filters)


def _csv_pages(db: Database, scope: Scope, filters: AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor: int | None = None
    while True:
        with db.session(scope) as s:
            page = audit_page(s, filters, limit=MAX_PAGE, cursor=cursor)
            for row in page.rows:
                writer.writerow(_csv_row(row))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
