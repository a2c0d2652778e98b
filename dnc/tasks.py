"""dramatiq actors of the dnc package: list imports and scrub reports, reporting through `core.jobs`."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import dramatiq

import core.broker  # noqa: F401 - the broker must exist before actors are declared
from core.db import Scope
from core.file_store import file_chunks, local_copy
from core.jobs import JobCancelled, JobReporter
from core.runtime import Runtime, current_runtime
from dnc.lists import ImportResult, import_list_file, upload_dir
from dnc.models import ScrubReport
from dnc.scrub import report_key, scrub_file
from dnc.verdicts import CampaignRules


@dramatiq.actor(queue_name="dnc", max_retries=0, time_limit=6 * 3600 * 1000)
def import_list_job(job_id: str, params: dict[str, Any]) -> None:
    """Import an uploaded list file; the upload is deleted afterwards whatever the outcome."""
    runtime = current_runtime()
    reporter = JobReporter(runtime.db, uuid.UUID(job_id))
    reporter.started()
    try:
        with local_copy(runtime.files, params["file_key"], upload_dir()) as path:
            result = _import(runtime, path, params, reporter)
    except JobCancelled:
        reporter.cancelled()
        return
    except Exception as exc:
        reporter.failed(str(exc))
        return
    finally:
        runtime.files.delete(params["file_key"])
    reporter.succeeded(counts={"records": result.record_count}, result=result.as_dict())


def _import(runtime: Runtime, path: Path, params: dict[str, Any], reporter: JobReporter) -> ImportResult:
    return import_list_file(
        runtime.db,
        kind=params["kind"],
        path=path,
        owner_org_id=uuid.UUID(params["org_id"]) if params.get("org_id") else None,
        state=params.get("state"),
        change_list=bool(params.get("change_list")),
        obtained_at=datetime.fromisoformat(params["obtained_at"]) if params.get("obtained_at") else None,
        imported_by=uuid.UUID(params["user_id"]) if params.get("user_id") else None,
        source_name=params.get("source_name"),
        campaign_id=uuid.UUID(params["campaign_id"]) if params.get("campaign_id") else None,
        progress=reporter.progress,
        replace_smaller=bool(params.get("replace_smaller")),
    )


@dramatiq.actor(queue_name="dnc", max_retries=0, time_limit=3600 * 1000)
def scrub_report_job(job_id: str, report_id: str, params: dict[str, Any]) -> None:
    runtime = current_runtime()
    reporter = JobReporter(runtime.db, uuid.UUID(job_id))
    org_id = uuid.UUID(params["org_id"])
    reporter.started()
    status, counts = "failed", {}
    try:
        # The caller resolved the campaign's own rules (window, geo) when it queued the job.
        rules = CampaignRules.from_params(params["rules"]) if params.get("rules") else CampaignRules()
        report_csv = upload_dir() / f"report-{report_id}.partial"
        try:
            with local_copy(runtime.files, params["file_key"], upload_dir()) as source:
                counts = scrub_file(
                    runtime.db,
                    org_id,
                    source,
                    report_csv,
                    at=datetime.fromisoformat(params["at"]),
                    rules=rules,
                    progress=reporter.progress,
                )
            key = report_key(org_id, uuid.UUID(report_id))
            runtime.files.put(key, file_chunks(report_csv), org_id=org_id)  # read from any host
        finally:
            report_csv.unlink(missing_ok=True)
        status = "succeeded"
    except JobCancelled:
        reporter.cancelled()
        status = "cancelled"
    except Exception as exc:
        reporter.failed(str(exc))
    finally:
        runtime.files.delete(params["file_key"])
        with runtime.db.session(Scope(org_id)) as s:
            report = s.get(ScrubReport, uuid.UUID(report_id))
            if report is not None:
                report.status = status
                report.counts = counts
    if status == "succeeded":
        reporter.succeeded(counts=counts, result={"report_id": report_id})
