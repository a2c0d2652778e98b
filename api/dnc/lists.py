"""Routes of DNC lists: upload a list file (imported by a job) and the lists with their current versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, get, post
from litestar.params import Parameter

from api.auth import roles
from api.dnc.access import ANY_ROLE, STAFF, own_org
from api.dnc.schemas import ImportQueued, ListOut
from api.principal import Principal
from api.uploads import receive_upload
from core.db import utcnow
from core.runtime import Runtime
from dnc.lists import (
    Freshness,
    check_import_kind,
    check_obtained_at,
    freshness,
    list_versions,
    queue_list_import,
    upload_dir,
)
from dnc.models import DncList, DncListVersion


@post(
    "/api/dnc/imports",
    opt=roles(*STAFF),
    status_code=202,
    request_max_body_size=None,  # streamed to disk by api.uploads, which enforces the upload limit
    description=(
        "Upload a list file as the raw request body; the import runs as a job (GET /api/jobs/{id}). "
        "`obtained_at` in the future is refused; a full copy with fewer than half the numbers of the "
        "current one needs `replace_smaller=true`."
    ),
)
async def upload_list(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    kind: str,
    list_state: Annotated[str | None, Parameter(query="state")] = None,
    change_list: bool = False,
    campaign_id: uuid.UUID | None = None,
    obtained_at: datetime | None = None,
    filename: str = "upload.txt",
    replace_smaller: bool = False,
) -> ImportQueued:
    job_id = await receive_list_upload(
        request,
        principal,
        runtime,
        kind=kind,
        state=list_state,
        change_list=change_list,
        campaign_id=campaign_id,
        obtained_at=obtained_at,
        filename=filename,
        replace_smaller=replace_smaller,
    )
    return ImportQueued(job_id=job_id)


async def receive_list_upload(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    *,
    kind: str,
    state: str | None = None,
    change_list: bool = False,
    campaign_id: uuid.UUID | None = None,
    obtained_at: datetime | None = None,
    filename: str = "upload.txt",
    replace_smaller: bool = False,
) -> uuid.UUID:
    """Check the import's parameters, stream the list file to disk and queue its import job: the one path
    of this route and the console's DNC upload (raw body or a multipart `file` part)."""
    check_import_kind(kind)
    if obtained_at is not None:
        check_obtained_at(obtained_at, utcnow())  # refused before the upload is read
    org_id = own_org(principal)  # platform-wide copies are imported with `clearline dnc import`
    received = await receive_upload(
        request, upload_dir(), runtime.settings.max_upload_bytes, default_name=filename
    )
    return await anyio.to_thread.run_sync(
        lambda: queue_list_import(
            runtime.db,
            org_id=org_id,
            kind=kind,
            path=received.file.path,
            state=state,
            change_list=change_list,
            campaign_id=campaign_id,
            obtained_at=obtained_at,
            source_name=received.file.file_name,
            imported_by=principal.user_id,
            replace_smaller=replace_smaller,
        )
    )


@get("/api/dnc/lists", opt=roles(*ANY_ROLE), sync_to_thread=True)
def get_lists(principal: Principal, runtime: Runtime) -> list[ListOut]:
    return lists_with_freshness(runtime, principal)


def lists_with_freshness(runtime: Runtime, principal: Principal) -> list[ListOut]:
    """Every list the caller's organization sees, with its current version and freshness now."""
    now = utcnow()
    return [
        _list_out(lst, v, freshness(lst.kind, v.obtained_at if v else None, now))
        for lst, v in list_versions(runtime.db, principal.org_id)
    ]


def _list_out(lst: DncList, v: DncListVersion | None, fresh: Freshness) -> ListOut:
    return ListOut(
        list_id=lst.id,
        kind=lst.kind,
        scope=lst.scope,
        platform_wide=lst.owner_org_id is None,
        version=v.seq if v else None,
        record_count=v.record_count if v else None,
        obtained_at=v.obtained_at if v else None,
        source_file=v.source_file if v else None,
        age_days=fresh.age_days,
        max_age_days=fresh.max_age_days,
        stale=fresh.stale,
    )


ROUTES = [upload_list, get_lists]
