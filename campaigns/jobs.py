"""The long jobs of the campaigns package (lead import, list purge), as plain functions over a job id.

`campaigns.tasks` runs them from dramatiq workers; the CLI runs the import in its own process. Each
reports through `core.jobs.JobReporter`, so `GET /api/jobs/{id}` shows progress, counts and the outcome.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from campaigns.importer import ImportRequest, import_lead_file
from campaigns.models import Lead, LeadList, ListStatus
from core.db import ALL_ORGS, Scope, utcnow
from core.errors import ClearlineError
from core.file_store import FileNotStoredError, file_chunks, local_copy, stash_upload
from core.jobs import JobCancelled, JobReporter, create_job
from core.models import Job
from core.runtime import Runtime

log = logging.getLogger(__name__)

IMPORT_KIND = "lead_import"
PURGE_KIND = "lead_list_purge"
PURGE_BATCH = 20_000


def lead_files_dir(runtime: Runtime) -> Path:
    """Where uploads wait for their import and where error reports are kept."""
    path = runtime.settings.home / "lead-files"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def create_import_job(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    path: Path | None = None,
    file_key: str | None = None,
    file_name: str,
    list_name: str | None = None,
    mapping: dict[str, str | int] | None = None,
    has_header: bool | None = None,
    dedupe_scope: str | None = None,
    allow_same_file: bool = False,
    priority: int = 0,
    created_by: uuid.UUID | None = None,
    delete_file_after: bool = True,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A queued import job; returns (job id, id the new list will have). The file: `path` on this
    host's disk, or `file_key`, an upload already in the shared file store. An upload
    (`delete_file_after`) is moved into the store first: the job may run on another host. A file the CLI
    names stays where it is (the CLI runs the job itself)."""
    list_id = uuid.uuid4()
    if file_key is not None:
        where, delete_file_after = {"file_key": file_key}, True
    elif path is None:
        raise ValueError("an import job needs a path or a file_key")
    elif delete_file_after:
        where = {"file_key": stash_upload(runtime.files, path, org_id=org_id)}
    else:
        where = {"path": str(path)}
    params: dict[str, Any] = {
        "org_id": str(org_id),
        "campaign_id": str(campaign_id),
        "list_id": str(list_id),
        **where,
        "file_name": file_name,
        "list_name": list_name or file_name,
        "mapping": mapping,
        "has_header": has_header,
        "dedupe_scope": dedupe_scope,
        "allow_same_file": allow_same_file,
        "priority": priority,
        "delete_file_after": delete_file_after,
    }
    try:
        job_id = create_job(runtime.db, Scope(org_id), kind=IMPORT_KIND, params=params, created_by=created_by)
    except BaseException:
        if "file_key" in where:
            runtime.files.delete(where["file_key"])
        raise
    return job_id, list_id


def error_report_key(org_id: uuid.UUID, list_id: uuid.UUID) -> str:
    """Where a lead list's rejected rows are kept in the shared file store."""
    return f"reports/lead-errors/{org_id}/{list_id}.csv"


def is_stored_report(error_report: str) -> bool:
    """`LeadList.error_report` names a key of the shared store (else a path on the importing host, as
    lists imported before the store have it)."""
    return error_report.startswith("reports/")


def _job(runtime: Runtime, job_id: uuid.UUID) -> Job:
    with runtime.db.session(ALL_ORGS) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        s.expunge(job)
        return job


def run_import_job(runtime: Runtime, job_id: uuid.UUID) -> None:
    job = _job(runtime, job_id)
    p = job.params
    if not p.get("file_key"):
        _run_import(runtime, job, Path(p["path"]))
        return
    try:
        with local_copy(runtime.files, p["file_key"], lead_files_dir(runtime)) as path:
            _run_import(runtime, job, path)
    except FileNotStoredError as exc:
        JobReporter(runtime.db, job_id).failed(f"the uploaded file is gone ({exc}); upload it again")
    finally:
        runtime.files.delete(p["file_key"])


def _run_import(runtime: Runtime, job: Job, path: Path) -> None:
    p, job_id = job.params, job.id
    reporter = JobReporter(runtime.db, job_id)
    request = ImportRequest(
        org_id=uuid.UUID(p["org_id"]),
        campaign_id=uuid.UUID(p["campaign_id"]),
        list_id=uuid.UUID(p["list_id"]),
        path=path,
        list_name=p["list_name"],
        file_name=p["file_name"],
        mapping=p.get("mapping"),
        has_header=p.get("has_header"),
        dedupe_scope=p.get("dedupe_scope"),
        allow_same_file=bool(p.get("allow_same_file")),
        priority=int(p.get("priority") or 0),
        created_by=job.created_by,
        job_id=job_id,
    )
    try:
        reporter.started()
        result = import_lead_file(
            runtime.db,
            request,
            at=utcnow(),
            report_dir=lead_files_dir(runtime),
            progress=reporter.progress,
        )
        if result.error_report is not None:
            _store_error_report(runtime, request.org_id, request.list_id, result.error_report)
        reporter.succeeded(counts=result.counts.as_dict(), result=result.as_dict())
    except JobCancelled:
        reporter.cancelled()
    except ClearlineError as exc:
        reporter.failed(str(exc))
    except Exception as exc:
        log.exception("lead import job %s failed", job_id)
        reporter.failed(f"unexpected error ({type(exc).__name__}); nothing was imported")
    finally:
        if p.get("delete_file_after"):
            request.path.unlink(missing_ok=True)


def _store_error_report(runtime: Runtime, org_id: uuid.UUID, list_id: uuid.UUID, path: Path) -> None:
    """Move the rejected rows the import wrote on this host into the shared store, for every API host."""
    key = error_report_key(org_id, list_id)
    runtime.files.put(key, file_chunks(path), org_id=org_id)
    with runtime.db.session(Scope(org_id)) as s:
        s.execute(update(LeadList).where(LeadList.id == list_id).values(error_report=key))
    path.unlink(missing_ok=True)


def create_purge_job(
    runtime: Runtime, *, org_id: uuid.UUID, list_id: uuid.UUID, created_by: uuid.UUID | None
) -> uuid.UUID:
    """Mark a list as being deleted (never leased again from now on) and queue the job that removes it."""
    with runtime.db.session(Scope(org_id)) as s:
        s.execute(update(LeadList).where(LeadList.id == list_id).values(status=ListStatus.DELETING.value))
    return create_job(
        runtime.db,
        Scope(org_id),
        kind=PURGE_KIND,
        params={"org_id": str(org_id), "list_id": str(list_id)},
        created_by=created_by,
    )


def run_purge_job(runtime: Runtime, job_id: uuid.UUID) -> None:
    """Delete a list's leads in batches (short transactions; call attempts, the evidence, stay)."""
    job = _job(runtime, job_id)
    org_id, list_id = uuid.UUID(job.params["org_id"]), uuid.UUID(job.params["list_id"])
    reporter = JobReporter(runtime.db, job_id)
    scope = Scope(org_id)
    try:
        reporter.started()
        with runtime.db.session(scope) as s:
            lead_list = s.scalars(select(LeadList).where(LeadList.id == list_id)).one_or_none()
            campaign_id = lead_list.campaign_id if lead_list else None
            counts = lead_list.counts if lead_list else {}
            total = int(counts.get("imported", 0)) + int(counts.get("blocked", 0))
            report = lead_list.error_report if lead_list else None
        deleted = 0
        while True:
            with runtime.db.session(scope) as s:
                batch = (
                    select(Lead.id)
                    .where(Lead.campaign_id == campaign_id, Lead.list_id == list_id, Lead.org_id == org_id)
                    .limit(PURGE_BATCH)
                )
                removed = len(
                    s.scalars(
                        delete(Lead)
                        .where(Lead.id.in_(batch.scalar_subquery()))
                        .returning(Lead.id)
                        .execution_options(synchronize_session=False)
                    ).all()
                )
            deleted += removed
            if removed < PURGE_BATCH:
                break
            reporter.progress(100.0 * deleted / max(total, deleted + 1), {"deleted": deleted})
        with runtime.db.session(scope) as s:
            s.execute(delete(LeadList).where(LeadList.id == list_id))
        if report and is_stored_report(report):
            runtime.files.delete(report)
        elif report:
            Path(report).unlink(missing_ok=True)
        reporter.succeeded(counts={"deleted": deleted})
    except JobCancelled:
        reporter.cancelled()  # the list stays marked as deleting; running the purge again finishes it
    except Exception as exc:
        log.exception("lead list purge job %s failed", job_id)
        reporter.failed(f"purge stopped ({type(exc).__name__}); run it again to finish")
