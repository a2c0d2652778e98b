"""Routes of scrub reports: upload a lead file to scrub (a job), follow the report, download its CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from litestar import Request, get, post
from litestar.response import Stream
from sqlalchemy.orm import Session

from api.auth import roles
from api.dnc.access import STAFF, own_org
from api.dnc.schemas import ReportOut
from api.principal import Principal
from api.stored_files import stored_file_response
from api.uploads import receive_upload
from campaigns.scrubbing import rules_for_campaign
from core.db import Scope
from core.errors import NotFoundError
from core.models import Role
from core.runtime import Runtime
from dnc.lists import upload_dir
from dnc.models import ScrubReport
from dnc.scrub import finished_report_key, get_scrub_report, queue_scrub_report
from dnc.verdicts import CampaignRules


@post(
    "/api/dnc/scrub-reports",
    opt=roles(*STAFF, Role.MANAGER),
    status_code=202,
    request_max_body_size=None,  # streamed to disk by api.uploads, which enforces the upload limit
    description="Upload a lead CSV as the raw request body; the scrub runs as a job.",
)
async def create_scrub_report(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    campaign_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> ReportOut:
    report = await receive_scrub_upload(request, principal, runtime, campaign_id=campaign_id, at=at)
    return ReportOut.of(report)


async def receive_scrub_upload(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    *,
    campaign_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> ScrubReport:
    """Resolve the campaign's rules (another organization's campaign: 404, before the upload is read),
    stream the lead file to disk and queue the scrub job: the one path of this route and the console's."""
    org_id = own_org(principal)

    def campaign_rules() -> CampaignRules:
        with runtime.db.session(Scope(org_id)) as s:  # another organization's campaign: 404
            return rules_for_campaign(s, campaign_id)

    rules = await anyio.to_thread.run_sync(campaign_rules)
    received = await receive_upload(
        request, upload_dir(), runtime.settings.max_upload_bytes, default_name="leads.csv"
    )
    return await anyio.to_thread.run_sync(
        lambda: queue_scrub_report(
            runtime.db,
            org_id=org_id,
            path=received.file.path,
            checked_at=at or datetime.now(UTC),
            rules=rules,
            created_by=principal.user_id,
        )
    )


@get("/api/dnc/scrub-reports/{report_ref:str}", opt=roles(*STAFF, Role.MANAGER), sync_to_thread=True)
def get_scrub_report_route(report_ref: str, session: Session, runtime: Runtime) -> ReportOut:
    """`{id}` gives the report's status (JSON); `{id}.csv` downloads the report itself (text/csv).

    Annotated with the JSON answer only: a union with File made the OpenAPI 200 a `oneOf` that every
    body matched twice (File documents as `{}`)."""
    as_csv = report_ref.endswith(".csv")
    try:
        report_id = uuid.UUID(report_ref.removesuffix(".csv"))
    except ValueError as exc:
        raise NotFoundError(f"scrub report {report_ref} not found") from exc
    if not as_csv:
        return ReportOut.of(get_scrub_report(session, report_id))
    return report_download(session, runtime, report_id)  # type: ignore[return-value]


def report_download(session: Session, runtime: Runtime, report_id: uuid.UUID) -> Stream:
    """The report's CSV, from the shared file store (it may have been written on another host)."""
    key = finished_report_key(session, runtime.files, report_id)
    return stored_file_response(runtime.files, key, filename=f"scrub-{report_id}.csv", media_type="text/csv")


ROUTES = [create_scrub_report, get_scrub_report_route]
