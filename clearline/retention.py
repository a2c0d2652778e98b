"""The daily retention job: removes what `core.retention.RULES` says is kept no longer.

`enforce(runtime, now)` takes the clock as an argument (tests pass one), deletes in short batches, is
idempotent (a second run the same day removes nothing), writes one audit row `retention.run` with what
it removed per kind, and returns the same report. Deleting audited rows writes no row per deletion: the
summary says what went. `DailyRetention` runs it once a day per deployment (a Redis key per day), from
every process that supervises job workers (`clearline up`, `clearline worker`); `clearline retention
run` runs it by hand.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.orm import Session

from campaigns.models import CallAttempt, LeadList, ListStatus
from core import audit, retention
from core.db import ALL_ORGS
from core.file_store import UPLOADS_PREFIX
from core.models import AuthSession, Job, JobStatus, Organization
from core.privacy import PrivacyRequest
from core.runtime import Runtime
from dialer.models import TrunkAlarm
from dnc.models import ConsentRecord

log = logging.getLogger(__name__)

BATCH = 10_000
LOCK_KEY = "clearline:retention:"


@dataclass(frozen=True)
class Removed:
    kind: str
    count: int
    cutoff: datetime | None
    note: str = ""


def _quietly(session: Session) -> None:
    """The per-row audit triggers stay silent in this transaction: the run's summary row says it all."""
    session.execute(text("SELECT set_config('clearline.audit_bulk', 'retention', true)"))


def _delete_in_batches(runtime: Runtime, model: Any, ids: Select[Any]) -> int:
    total = 0
    while True:
        with runtime.db.session(ALL_ORGS) as s:
            _quietly(s)
            batch = s.scalars(ids.limit(BATCH)).all()
            if batch:
                s.execute(
                    delete(model).where(model.id.in_(batch)).execution_options(synchronize_session=False)
                )
        total += len(batch)
        if len(batch) < BATCH:
            return total


def _fixed(kind: str, now: datetime) -> datetime:
    found = retention.cutoff(retention.BY_KIND[kind], None, now)
    assert found is not None
    return found


def enforce(runtime: Runtime, now: datetime) -> list[Removed]:
    report: list[Removed] = []

    def run(kind: str, model: Any, column: Any, *extra: Any) -> None:
        cut = _fixed(kind, now)
        ids = select(model.id).where(column < cut, *extra)
        report.append(Removed(kind, _delete_in_batches(runtime, model, ids), cut))

    run("call_records", CallAttempt, CallAttempt.placed_at)
    run("consent_records", ConsentRecord, ConsentRecord.revoked_at, ConsentRecord.revoked_at.is_not(None))
    run("sessions", AuthSession, func.coalesce(AuthSession.revoked_at, AuthSession.expires_at))
    run(
        "jobs",
        Job,
        Job.finished_at,
        Job.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]),
    )
    run("alarms", TrunkAlarm, TrunkAlarm.cleared_at, TrunkAlarm.cleared_at.is_not(None))
    run(
        "privacy_requests",
        PrivacyRequest,
        PrivacyRequest.completed_at,
        PrivacyRequest.completed_at.is_not(None),
    )
    report.append(_privacy_exports(runtime, now))
    report.append(_stored_uploads(runtime, now))

    usage_cut, compliance_cut = _fixed("audit_log", now), _fixed("audit_compliance", now)
    with runtime.db.session(ALL_ORGS) as s:
        usage = audit.purge_before(s, usage_cut, keep_actions=retention.COMPLIANCE_ACTIONS)
        compliance = audit.purge_before(s, compliance_cut)
    report.append(Removed("audit_log", usage, usage_cut))
    report.append(Removed("audit_compliance", compliance, compliance_cut))

    report.append(_recordings(runtime, now))
    report.append(_lead_lists(runtime, now))

    with runtime.db.session(ALL_ORGS) as s:
        audit.record(
            s,
            action="retention.run",
            target=now.date().isoformat(),
            actor="",
            process="retention",
            detail={r.kind: r.count for r in report} | {"now": now.isoformat()},
        )
    log.info("retention run at %s removed %s", now.isoformat(), {r.kind: r.count for r in report if r.count})
    return report


def _recordings(runtime: Runtime, now: datetime) -> Removed:
    """Recordings past their organization's period: the encrypted file goes, the row says so."""
    from campaigns.recordings import purge_expired

    count = purge_expired(runtime.db, runtime.files, now)
    return Removed("recordings", count, None, "per organization (default 12 months)")


def _privacy_exports(runtime: Runtime, now: datetime) -> Removed:
    """Access exports go before their request does: the export is a copy made only for the person."""
    cut = _fixed("privacy_exports", now)
    with runtime.db.session(ALL_ORGS) as s:
        _quietly(s)
        result = s.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.export.is_not(None), PrivacyRequest.completed_at < cut)
            .values(export=None)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return Removed("privacy_exports", count, cut)


def _stored_uploads(runtime: Runtime, now: datetime) -> Removed:
    """Uploads in the shared store no job will read (the job crashed before it was queued, was cancelled,
    or nobody imported the console preview): older than the rule and named by no queued or running job."""
    cut = _fixed("stored_uploads", now)
    with runtime.db.session(ALL_ORGS) as s:
        pending = s.scalars(
            select(Job.params).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        ).all()
    wanted = {str(p["file_key"]) for p in pending if p and p.get("file_key")}
    stale = [k for k in runtime.files.keys_stored_before(UPLOADS_PREFIX, cut) if k not in wanted]
    removed = sum(runtime.files.delete(key) for key in stale)
    return Removed("stored_uploads", removed, cut)


def _lead_lists(runtime: Runtime, now: datetime) -> Removed:
    """Lists older than their organization's maximum are purged by the same job as a manual delete."""
    from campaigns.jobs import create_purge_job

    rule = retention.BY_KIND["lead_lists"]
    due: list[tuple[uuid.UUID, uuid.UUID]] = []
    with runtime.db.session(ALL_ORGS) as s:
        for org_id, settings in s.execute(select(Organization.id, Organization.settings)):
            cut = retention.cutoff(rule, settings, now)
            if cut is None:
                continue
            due += [
                (org_id, list_id)
                for list_id in s.scalars(
                    select(LeadList.id).where(
                        LeadList.org_id == org_id,
                        LeadList.created_at < cut,
                        LeadList.status != ListStatus.DELETING.value,
                    )
                )
            ]
    for org_id, list_id in due:
        create_purge_job(runtime, org_id=org_id, list_id=list_id, created_by=None)
    return Removed("lead_lists", len(due), None, "lists queued for purge" if due else "")


def run_once_today(runtime: Runtime, now: datetime) -> list[Removed] | None:
    """Run unless a process of this deployment already ran today (the first to take the day's key)."""
    key = LOCK_KEY + now.date().isoformat()
    if not runtime.redis.set(
        key, f"{socket.gethostname()}:{threading.get_native_id()}", nx=True, ex=3 * 86400
    ):
        return None
    try:
        return enforce(runtime, now)
    except Exception:
        runtime.redis.delete(key)  # let a later check (or another process) try again
        raise


class DailyRetention:
    """A thread that checks every `every_s` whether today's run is due."""

    def __init__(self, runtime: Runtime, every_s: float = 900.0) -> None:
        self.runtime, self.every_s = runtime, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DailyRetention:
        self._thread = threading.Thread(target=self._loop, name="daily-retention", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_once_today(self.runtime, datetime.now(UTC))
            except Exception:
                log.exception(
                    "ALARM: the daily retention run failed; it is tried again in %.0f s", self.every_s
                )
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
