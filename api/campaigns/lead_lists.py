"""Routes of lead lists: upload (streamed through `api.uploads`, imported by a job), list, pause, resume,
delete, and the report of rejected rows."""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
from litestar import Request, delete, get, post
from litestar.response import File, Stream
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import LEAD_DATA, MANAGE
from api.campaigns.schemas import ImportAccepted, JobAccepted, LeadListOut
from api.principal import Principal
from api.stored_files import stored_file_response
from api.uploads import receive_upload
from campaigns import lead_lists
from campaigns.models import ListStatus
from core.runtime import Runtime


@post(
    "/api/campaigns/{campaign_id:uuid}/lead-lists",
    opt=roles(*MANAGE),
    status_code=202,
    request_max_body_size=None,  # this route streams to disk and enforces the upload limit itself
    description=(
        "Upload a CSV or XLSX lead file (multipart/form-data: `file`, optional `name`, `mapping` as JSON "
        '{"phone": "Cell"}, `has_header`, `dedupe_scope`, `allow_same_file`, `priority`). The import runs as '
        "a job: follow GET /api/jobs/{job_id}."
    ),
)
async def upload_lead_list(
    campaign_id: uuid.UUID, request: Request[Any, Any, Any], principal: Principal, runtime: Runtime
) -> ImportAccepted:
    def campaign_org() -> uuid.UUID:
        with runtime.db.session(principal.scope) as s:
            return lead_lists.org_taking_leads(s, campaign_id)

    org_id = await anyio.to_thread.run_sync(campaign_org)
    received = await receive_upload(
        request,
        lead_lists.upload_dir(runtime),
        runtime.settings.max_upload_bytes,
        raw_body_allowed=False,
        default_name="leads.csv",
    )
    job_id, list_id = await anyio.to_thread.run_sync(
        lambda: lead_lists.queue_lead_import(
            runtime,
            principal.scope,
            org_id=org_id,
            campaign_id=campaign_id,
            upload=received.file,
            fields=received.fields,
            created_by=principal.user_id,
        )
    )
    return ImportAccepted(job_id=job_id, list_id=list_id, job_url=f"/api/jobs/{job_id}")


@get("/api/campaigns/{campaign_id:uuid}/lead-lists", opt=roles(*LEAD_DATA), sync_to_thread=True)
def list_lead_lists(campaign_id: uuid.UUID, session: Session) -> list[LeadListOut]:
    return [LeadListOut.of(x) for x in lead_lists.campaign_lead_lists(session, campaign_id)]


@get("/api/lead-lists/{list_id:uuid}", opt=roles(*LEAD_DATA), sync_to_thread=True)
def get_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return LeadListOut.of(lead_lists.get_lead_list(session, list_id))


@post("/api/lead-lists/{list_id:uuid}/pause", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def pause_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return LeadListOut.of(lead_lists.set_list_status(session, list_id, ListStatus.PAUSED))


@post("/api/lead-lists/{list_id:uuid}/resume", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def resume_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return LeadListOut.of(lead_lists.set_list_status(session, list_id, ListStatus.ACTIVE))


@delete("/api/lead-lists/{list_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True, status_code=202)
def delete_lead_list(
    list_id: uuid.UUID, principal: Principal, session: Session, runtime: Runtime
) -> JobAccepted:
    job_id = lead_lists.delete_lead_list(session, runtime, list_id, created_by=principal.user_id)
    return JobAccepted(job_id=job_id, job_url=f"/api/jobs/{job_id}")


@get("/api/lead-lists/{list_id:uuid}/errors", opt=roles(*LEAD_DATA), sync_to_thread=True)
def download_error_report(list_id: uuid.UUID, session: Session, runtime: Runtime) -> File:
    # Annotated as the file it documents; a union would make the OpenAPI answer a `oneOf` of two `{}`.
    return error_report_download(session, runtime, list_id)  # type: ignore[return-value]


def error_report_download(session: Session, runtime: Runtime, list_id: uuid.UUID) -> File | Stream:
    """The rows a list's import rejected, from the shared store (or this host's disk for older lists)."""
    report = lead_lists.error_report_file(session, runtime.files, list_id)
    filename = f"lead-list-{list_id}-errors.csv"
    if isinstance(report, str):
        return stored_file_response(runtime.files, report, filename=filename, media_type="text/csv")
    return File(path=report, filename=filename, media_type="text/csv")


ROUTES = [
    upload_lead_list,
    list_lead_lists,
    get_lead_list,
    pause_lead_list,
    resume_lead_list,
    delete_lead_list,
    download_error_report,
]
