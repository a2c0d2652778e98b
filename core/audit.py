"""Writing the audit log where no table change does it, and the one way to delete from it.

Table changes audit themselves (triggers of migration 0012, actor from `core.audit_context`); this module
writes what is not a row change (a CLI command and its outcome, a bulk import's summary). Reading is
`core/audit_log.py` (the one query behind the API, its CSV and the console). The log is append-only in
the database; only `purge_before` (the retention job) may delete, and it says so to the trigger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, text
from sqlalchemy.orm import Session

from core.audit_context import current_actor
from core.models import AuditEntry

MAX_PAGE = 1000
OUTCOMES = ("ok", "denied", "error")


def record(
    session: Session,
    *,
    action: str,
    target: str = "",
    outcome: str = "ok",
    org_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
    user_id: uuid.UUID | None = None,
    client_ip: str | None = None,
    process: str | None = None,
) -> None:
    """One audit row in the session's transaction; who acts defaults to the current actor."""
    current = current_actor()
    session.execute(
        insert(AuditEntry).values(
            org_id=org_id,
            user_id=user_id if user_id is not None else (current.user_id if current else None),
            actor=(actor if actor is not None else (current.actor if current else ""))[:254],
            process=(process if process is not None else (current.process if current else ""))[:200],
            action=action[:200],
            target=target[:500],
            outcome=outcome,
            client_ip=client_ip if client_ip is not None else (current.client_ip if current else None),
            detail=detail or {},
        )
    )


@dataclass
class BulkChange:
    """What a bulk statement did, filled in by the caller; written as one row when the block ends."""

    detail: dict[str, Any] = field(default_factory=dict)


@contextmanager
def bulk(session: Session, *, action: str, target: str, org_id: uuid.UUID | None) -> Iterator[BulkChange]:
    """Inside the block the triggers skip their row per change (a 5-million-number import must not write
    5 million audit rows); at its end one row says what the block did. Same transaction: all or nothing."""
    change = BulkChange()
    session.execute(text("SELECT set_config('clearline.audit_bulk', :a, true)"), {"a": action})
    yield change  # on an error the transaction rolls back, and the setting with it
    session.execute(text("SELECT set_config('clearline.audit_bulk', '', true)"))
    record(session, action=action, target=target, org_id=org_id, detail=change.detail)


def purge_before(session: Session, cutoff: datetime, *, keep_actions: tuple[str, ...] = ()) -> int:
    """The retention job's deletion: rows older than `cutoff`, except actions starting with one of
    `keep_actions` (kept longer by their own rule). The only path the append-only trigger lets through."""
    session.execute(text("SELECT set_config('clearline.audit_retention', 'on', true)"))
    try:
        stmt = delete(AuditEntry).where(AuditEntry.at < cutoff)
        if keep_actions:
            stmt = stmt.where(~or_(*(AuditEntry.action.startswith(a) for a in keep_actions)))
        result = session.execute(stmt.execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        session.execute(text("SELECT set_config('clearline.audit_retention', '', true)"))
