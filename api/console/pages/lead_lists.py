"""Lead list pages: drop a CSV/XLSX, check the column mapping on a preview, import it with a progress
bar fed by the import job, read the counts (blocked ones with their reasons), download the rejected rows;
pause, resume, delete a list. The domain calls are `campaigns.lead_lists`, as in the API's routes
(`api/campaigns/lead_lists.py`), and the upload is received by the API's own `api.uploads`."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import File, Stream, Template
from sqlalchemy.orm import Session

from api.campaigns.lead_lists import error_report_download
from api.console.pages.campaigns import CAMPAIGNS
from api.console.render import page
from api.console.staging import stage, staged, staged_copy, staging_dir, unstage
from api.principal import Principal
from api.uploads import receive_upload
from campaigns import lead_lists, service
from campaigns.jobs import IMPORT_KIND
from campaigns.lead_columns import FIELDS
from campaigns.models import ListStatus
from core.errors import ClearlineError, NotFoundError, ValidationError
from core.file_store import StashedUpload
from core.jobs import get_job
from core.models import JobStatus
from core.runtime import Runtime
from dnc.reasons import DESCRIPTIONS

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
FIELD_LABELS = {
    "phone": "Phone number",
    "first_name": "First name",
    "last_name": "Last name",
    "state": "State",
    "zip_code": "ZIP code",
    "consent": "Consent",
    "consent_at": "Consent date",
    "wireless": "Wireless",
}
FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


def _value(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return str(value[-1] if isinstance(value, list) else value).strip()


def _mapping_of(data: dict[str, Any]) -> dict[str, str | int]:
    """The preview's selects: `map_<field>` holds a column index, empty for "not in the file"."""
    return {f: int(_value(data, f"map_{f}")) for f in FIELDS if _value(data, f"map_{f}").isdigit()}


def _has_header(data: dict[str, Any]) -> bool | None:
    raw = _value(data, "has_header")
    return None if raw == "" else raw == "true"


def _preview(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    principal: Principal,
    token: str,
    mapping: dict[str, str | int] | None,
    has_header: bool | None,
    *,
    list_name: str = "",
    allow_same_file: bool = False,
    error: str = "",
    status_code: int = 200,
) -> Template:
    item = staged(runtime, token, principal.user_id)
    with staged_copy(runtime, item) as path:
        preview = lead_lists.preview_file(path, mapping, has_header)
    return page(
        request,
        "lead_lists/preview.html",
        status_code=status_code,
        token=token,
        upload=item,
        preview=preview,
        fields=FIELDS,
        field_labels=FIELD_LABELS,
        list_name=list_name or item.file_name,
        allow_same_file=allow_same_file,
        error=error,
    )


@post(
    "/console/campaigns/{campaign_id:uuid}/uploads",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    request_max_body_size=None,  # streamed to disk by api.uploads, which enforces the upload limit
)
async def upload_file(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> Template:
    def check_campaign() -> uuid.UUID:
        with runtime.db.session(principal.scope) as s:
            return lead_lists.org_taking_leads(s, campaign_id)

    org_id = await anyio.to_thread.run_sync(check_campaign)
    received = await receive_upload(
        request,
        staging_dir(runtime),
        runtime.settings.max_upload_bytes,
        raw_body_allowed=False,
        default_name="leads.csv",
    )
    item = await anyio.to_thread.run_sync(
        lambda: stage(
            runtime, received.file, org_id=org_id, campaign_id=campaign_id, user_id=principal.user_id
        )
    )
    try:
        return await anyio.to_thread.run_sync(
            lambda: _preview(request, runtime, principal, item.token, None, None)
        )
    except ValidationError:
        unstage(runtime, item.token, delete_file=True)  # unreadable: nothing to map, nothing kept
        raise


@post(
    "/console/uploads/{upload_token:str}/preview",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def preview_upload(
    request: Request[Any, Any, Any], upload_token: str, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    return _preview(
        request,
        runtime,
        principal,
        upload_token,
        _mapping_of(data),
        _has_header(data),
        list_name=_value(data, "name"),
        allow_same_file=_value(data, "allow_same_file") == "true",
    )


@post(
    "/console/uploads/{upload_token:str}/import",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def import_upload(
    request: Request[Any, Any, Any], upload_token: str, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    item = staged(runtime, upload_token, principal.user_id)
    mapping = _mapping_of(data)
    fields = {"name": _value(data, "name") or item.file_name, "mapping": json.dumps(mapping)}
    if _has_header(data) is not None:
        fields["has_header"] = "true" if _has_header(data) else "false"
    if _value(data, "allow_same_file") == "true":
        fields["allow_same_file"] = "true"
    with runtime.db.session(principal.scope) as s:
        org_id = lead_lists.org_taking_leads(s, item.campaign_id)
    try:
        job_id, _ = lead_lists.queue_lead_import(
            runtime,
            principal.scope,
            org_id=org_id,
            campaign_id=item.campaign_id,
            upload=StashedUpload(item.file_key, item.file_name, item.sha256, item.size),
            fields=fields,
            created_by=principal.user_id,
        )
    except ClearlineError as exc:  # e.g. the same file again: say so on the preview, keep nothing
        unstage(runtime, upload_token, delete_file=True)
        return page(
            request,
            "lead_lists/refused.html",
            status_code=exc.status_code,
            message=str(exc),
            campaign_id=item.campaign_id,
        )
    unstage(runtime, upload_token)
    return _progress(request, runtime, principal, job_id)


def _progress(
    request: Request[Any, Any, Any], runtime: Runtime, principal: Principal, job_id: uuid.UUID
) -> Template:
    job = get_job(runtime.db, principal.scope, job_id)
    if job is None or job.kind != IMPORT_KIND:
        raise NotFoundError(f"import {job_id} not found")
    reasons: list[tuple[str, str, int]] = []
    list_id = job.params.get("list_id")
    lead_list = None
    if JobStatus(job.status) is JobStatus.SUCCEEDED and list_id:
        with runtime.db.session(principal.scope) as s:
            lead_list = lead_lists.get_lead_list(s, uuid.UUID(list_id))
            reasons = [
                (code, DESCRIPTIONS.get(code, code), n)
                for code, n in lead_lists.blocked_reasons(s, uuid.UUID(list_id))
            ]
            s.expunge(lead_list)
    return page(
        request,
        "lead_lists/progress.html",
        job=job,
        finished=JobStatus(job.status) in FINISHED,
        lead_list=lead_list,
        reasons=reasons,
        file_name=job.params.get("file_name", ""),
    )


@get("/console/imports/{job_id:uuid}", opt=CAMPAIGNS.opt, include_in_schema=False, sync_to_thread=True)
def import_progress(
    request: Request[Any, Any, Any], job_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> Template:
    return _progress(request, runtime, principal, job_id)


def _list_row(request: Request[Any, Any, Any], session: Session, list_id: uuid.UUID) -> Template:
    lead_list = lead_lists.get_lead_list(session, list_id)
    campaign = service.get_campaign(session, lead_list.campaign_id)
    return page(request, "lead_lists/row.html", lead_list=lead_list, campaign=campaign)


@post(
    "/console/lead-lists/{list_id:uuid}/pause",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def pause_list(request: Request[Any, Any, Any], list_id: uuid.UUID, session: Session) -> Template:
    lead_lists.set_list_status(session, list_id, ListStatus.PAUSED)
    return _list_row(request, session, list_id)


@post(
    "/console/lead-lists/{list_id:uuid}/resume",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def resume_list(request: Request[Any, Any, Any], list_id: uuid.UUID, session: Session) -> Template:
    lead_lists.set_list_status(session, list_id, ListStatus.ACTIVE)
    return _list_row(request, session, list_id)


@post(
    "/console/lead-lists/{list_id:uuid}/delete",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def delete_list(
    request: Request[Any, Any, Any],
    list_id: uuid.UUID,
    session: Session,
    principal: Principal,
    runtime: Runtime,
) -> Template:
    lead_lists.delete_lead_list(session, runtime, list_id, created_by=principal.user_id)
    return _list_row(request, session, list_id)


@get(
    "/console/lead-lists/{list_id:uuid}/errors",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def error_report(list_id: uuid.UUID, session: Session, runtime: Runtime) -> File | Stream:
    return error_report_download(session, runtime, list_id)


PAGES = [
    upload_file,
    preview_upload,
    import_upload,
    import_progress,
    pause_list,
    resume_list,
    delete_list,
    error_report,
]
