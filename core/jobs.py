"""Long jobs: a row in `jobs` that a dramatiq actor updates as it goes, readable at GET /api/jobs/{id}."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from core import metrics
from core.db import ALL_ORGS, Database, Scope, utcnow
from core.models import Job, JobStatus


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it; the job rolls back its partial work."""


def create_job(
    db: Database, scope: Scope, *, kind: str, params: dict[str, Any], created_by: uuid.UUID | None
) -> uuid.UUID:
    with db.session(scope) as s:
        job = Job(kind=kind, params=params, created_by=created_by)
        if scope.org_id is not None:
            job.org_id = scope.org_id
        elif "org_id" in params:
            job.org_id = uuid.UUID(str(params["org_id"]))
        s.add(job)
        s.flush()
        return job.id


class JobReporter:
    """What a running job uses to report progress; each report is its own short transaction."""

    def __init__(self, db: Database, job_id: uuid.UUID) -> None:
        self.db = db
        self.job_id = job_id

    def _update(self, **values: Any) -> Job:
        with self.db.session(ALL_ORGS) as s:
            job = s.get(Job, self.job_id)
            if job is None:
                raise LookupError(f"job {self.job_id} does not exist")
            for k, v in values.items():
                setattr(job, k, v)
            s.flush()
            s.expunge(job)
            return job

    def started(self) -> None:
        self._update(status=JobStatus.RUNNING, started_at=utcnow())

    def progress(self, pct: float, counts: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"progress_pct": max(0.0, min(100.0, pct))}
        if counts is not None:
            values["counts"] = counts
        job = self._update(**values)
        if job.cancel_requested:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def succeeded(self, counts: dict[str, Any] | None = None, result: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {
            "status": JobStatus.SUCCEEDED,
            "progress_pct": 100.0,
            "finished_at": utcnow(),
        }
        if counts is not None:
            values["counts"] = counts
        if result is not None:
            values["result"] = result
        self._finished(self._update(**values))

    def failed(self, error: str) -> None:
        self._finished(self._update(status=JobStatus.FAILED, error=error, finished_at=utcnow()))

    def cancelled(self) -> None:
        self._finished(self._update(status=JobStatus.CANCELLED, finished_at=utcnow()))

    @staticmethod
    def _finished(job: Job) -> None:
        took = (
            (job.finished_at - job.started_at).total_seconds() if job.started_at and job.finished_at else None
        )
        metrics.job_finished(job.kind, str(getattr(job.status, "value", job.status)), took)


def get_job(db: Database, scope: Scope, job_id: uuid.UUID) -> Job | None:
    with db.session(scope) as s:
        return s.scalars(select(Job).where(Job.id == job_id)).one_or_none()
