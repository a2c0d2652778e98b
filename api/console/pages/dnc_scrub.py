"""Scrub a lead file: upload it (optionally under a campaign's own window and geo rules), watch the scrub
job, read the counts and download the report. The same calls as `POST /api/dnc/scrub-reports` and
`GET /api/dnc/scrub-reports/{id}[.csv]` (`api.dnc.scrub.receive_scrub_upload`, `dnc.scrub`)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from api.console.pages.compliance import COMPLIANCE, compliance_page
from api.console.render import page
from api.dnc.scrub import receive_scrub_upload, report_download
from api.principal import Principal
from campaigns import service
from core.errors import NotFoundError
from core.jobs import get_job
from core.runtime import Runtime
from dnc.models import ScrubReport
from dnc.scrub import PHONE_COLUMNS, get_scrub_report

FINISHED = {"succeeded", "failed", "cancelled"}


@get("/console/compliance/scrub", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def scrub_page(request: Request[Any, Any, Any], session: Session) -> Template:
    return compliance_page(
        request,
        "compliance/scrub.html",
        "scrub",
        campaigns=service.list_campaigns(session),
        phone_columns=PHONE_COLUMNS,
    )


@post(
    "/console/compliance/scrub/uploads",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    request_max_body_size=None,  # streamed to disk by api.uploads, which enforces the upload limit
)
async def upload_scrub_file(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    campaign_id: uuid.UUID | None = None,
) -> Template:
    report = await receive_scrub_upload(request, principal, runtime, campaign_id=campaign_id)
    return _progress(request, runtime, principal, report)


def _report_id(report_ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(report_ref)
    except ValueError as exc:
        raise NotFoundError(f"scrub report {report_ref} not found") from exc


def _progress(
    request: Request[Any, Any, Any], runtime: Runtime, principal: Principal, report: ScrubReport
) -> Template:
    job = get_job(runtime.db, principal.scope, report.job_id) if report.job_id else None
    return page(
        request,
        "compliance/scrub_progress.html",
        report=report,
        finished=report.status in FINISHED,
        pct=100 if report.status == "succeeded" else round(job.progress_pct if job else 0),
        error=job.error if job else None,
    )


@get(
    "/console/compliance/scrub-reports/{report_ref:str}",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def scrub_progress(
    request: Request[Any, Any, Any], report_ref: str, session: Session, principal: Principal, runtime: Runtime
) -> Template:
    return _progress(request, runtime, principal, get_scrub_report(session, _report_id(report_ref)))


@get(
    "/console/compliance/scrub-reports/{report_ref:str}/download",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def scrub_download(report_ref: str, session: Session, runtime: Runtime) -> Stream:
    report_id = _report_id(report_ref)
    return report_download(session, runtime, report_id)


PAGES = [scrub_page, upload_scrub_file, scrub_progress, scrub_download]
