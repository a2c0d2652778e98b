"""DNC lists: every list the organization's checks use, its current version, age and whether it is stale
(the compliance engine's own rule, `dnc.lists.freshness`), and uploading a list file with a progress bar
for the upload and then for the import job. The same calls as `GET /api/dnc/lists` and
`POST /api/dnc/imports` (`api.dnc.lists.lists_with_freshness`, `receive_list_upload`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Template

from api.console.pages.compliance import COMPLIANCE, compliance_page
from api.console.render import page
from api.dnc.lists import lists_with_freshness, receive_list_upload
from api.principal import Principal
from core.errors import NotFoundError, ValidationError
from core.jobs import get_job
from core.legal import LIST_MAX_AGE
from core.models import JobStatus
from core.runtime import Runtime
from dnc.lists import IMPORT_KINDS, list_history
from dnc.nanp import STATE_ZONES

KIND_LABELS = {
    "national": "National DNC registry",
    "state": "State DNC list",
    "litigator": "Litigator list",
    "wireless": "Wireless numbers",
    "reassigned": "Reassigned numbers (disconnect dates)",
    "internal": "Internal DNC (numbers to add)",
}
FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
IMPORT_JOB_PREFIX = "dnc.import."


@get("/console/compliance/dnc-lists", opt=COMPLIANCE.opt, include_in_schema=False, sync_to_thread=True)
def dnc_lists(request: Request[Any, Any, Any], principal: Principal, runtime: Runtime) -> Template:
    return compliance_page(
        request,
        "compliance/dnc_lists.html",
        "lists",
        lists=lists_with_freshness(runtime, principal),
        history=list_history(runtime.db, principal.org_id),
        kinds=[(k, KIND_LABELS.get(k, k)) for k in IMPORT_KINDS],
        kind_labels=KIND_LABELS,
        states=sorted(STATE_ZONES),
        max_age_days={k: v.days for k, v in LIST_MAX_AGE.items()},
    )


def _obtained_at(text: str) -> datetime | None:
    """The form's "downloaded at" (a local date-time input, read as UTC; the service checks the value)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"obtained_at {text!r} is not a date and time", field="obtained_at") from exc


@post(
    "/console/compliance/dnc-lists/uploads",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    request_max_body_size=None,  # streamed to disk by api.uploads, which enforces the upload limit
)
async def upload_dnc_list(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    kind: str = "",
    list_state: Annotated[str, Parameter(query="state")] = "",
    obtained_at: str = "",
    change_list: bool = False,
    replace_smaller: bool = False,
) -> Template:
    """The file comes as a multipart `file` part; the import's settings in the query string, checked
    before a byte of the file is read (as the API route's)."""
    job_id = await receive_list_upload(
        request,
        principal,
        runtime,
        kind=kind,
        state=list_state or None,
        change_list=change_list,
        obtained_at=_obtained_at(obtained_at),
        filename="upload.txt",
        replace_smaller=replace_smaller,
    )
    return _progress(request, runtime, principal, job_id)


def _progress(
    request: Request[Any, Any, Any], runtime: Runtime, principal: Principal, job_id: uuid.UUID
) -> Template:
    job = get_job(runtime.db, principal.scope, job_id)
    if job is None or not job.kind.startswith(IMPORT_JOB_PREFIX):
        raise NotFoundError(f"DNC import {job_id} not found")
    kind = job.kind.removeprefix(IMPORT_JOB_PREFIX)
    return page(
        request,
        "compliance/dnc_import.html",
        job=job,
        status=JobStatus(job.status).value,
        finished=JobStatus(job.status) in FINISHED,
        kind_label=KIND_LABELS.get(kind, kind),
        file_name=job.params.get("source_name", ""),
    )


@get(
    "/console/compliance/dnc-imports/{job_id:uuid}",
    opt=COMPLIANCE.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def dnc_import_progress(
    request: Request[Any, Any, Any], job_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> Template:
    return _progress(request, runtime, principal, job_id)


PAGES = [dnc_lists, upload_dnc_list, dnc_import_progress]
