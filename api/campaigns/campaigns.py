"""Routes of campaigns themselves: create, read, change, delete, start / pause / finish, their agents and
dispositions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import MANAGE, READ
from api.campaigns.schemas import (
    AgentsIn,
    BlockerOut,
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    DispositionIn,
    DispositionOut,
    ReadinessOut,
)
from api.principal import Principal
from api.uploads import receive_upload
from campaigns import service
from campaigns.models import CampaignStatus
from core import audit
from core.errors import NotFoundError, ValidationError
from core.models import Role
from core.runtime import Runtime
from dialer import readiness
from dialer.media import DEFAULT_SAFE_HARBOR_WAV, safe_harbor

KEPT_MESSAGE_READERS = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE)


@post("/api/campaigns", opt=roles(*MANAGE), sync_to_thread=True, status_code=201)
def create_campaign(
    data: CampaignCreate, principal: Principal, session: Session, runtime: Runtime
) -> CampaignOut:
    org_id = principal.org_for_write(data.org_id)
    settings = data.given()
    settings.pop("name")
    settings.pop("org_id", None)
    campaign = service.create_campaign(session, org_id=org_id, name=data.name, settings=settings)
    safe_harbor.generate_campaign_message(session, campaign, runtime.files)
    return CampaignOut.of(campaign)


@get("/api/campaigns", opt=roles(*READ), sync_to_thread=True)
def list_campaigns(session: Session) -> list[CampaignOut]:
    return [CampaignOut.of(c) for c in service.list_campaigns(session)]


@get("/api/campaigns/{campaign_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return CampaignOut.of(service.get_campaign(session, campaign_id))


@patch("/api/campaigns/{campaign_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True)
def update_campaign(
    campaign_id: uuid.UUID, data: CampaignUpdate, session: Session, runtime: Runtime
) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id)
    service.update_campaign(session, campaign, data.given())
    safe_harbor.generate_campaign_message(session, campaign, runtime.files)
    return CampaignOut.of(campaign)


@post(
    "/api/campaigns/{campaign_id:uuid}/safe-harbor/generate",
    opt=roles(*MANAGE),
    sync_to_thread=True,
    status_code=200,
    description=(
        "Generate the campaign's safe-harbor message now (espeak-ng, 8 kHz mono 16-bit PCM) from its seller, "
        "safe_harbor_callback_number and opt_out_key, replacing a recorded one. 400 when the campaign has "
        "no callback number."
    ),
)
def generate_safe_harbor(campaign_id: uuid.UUID, session: Session, runtime: Runtime) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id)
    if not campaign.safe_harbor_callback_number:
        raise ValidationError(
            "set safe_harbor_callback_number before generating the safe-harbor message",
            field="safe_harbor_callback_number",
        )
    campaign.safe_harbor_source = None  # asked for explicitly: the generated message replaces a recorded one
    safe_harbor.generate_campaign_message(session, campaign, runtime.files)
    return CampaignOut.of(campaign)


@get(
    "/api/safe-harbor-messages/{sha256:str}",
    opt=roles(*KEPT_MESSAGE_READERS),
    sync_to_thread=True,
    media_type="audio/wav",
    description=(
        "Download a kept copy of a safe-harbor message the organization played (an attempt's evidence names "
        "its sha256): the WAV, with its source and words in the X-Clearline-Source / X-Clearline-Text headers. "
        "Every download is audited."
    ),
)
def download_safe_harbor_message(
    sha256: str, session: Session, principal: Principal, runtime: Runtime
) -> Response[bytes]:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValidationError(f"sha256 {sha256[:80]} is not 64 lowercase hex digits", field="sha256")
    kept = safe_harbor.kept_message(session, sha256)
    if kept is not None:
        ref, source, text, campaign = kept.path, kept.source, kept.text or "", kept.campaign_id
    elif sha256 == safe_harbor.DEFAULT_SHA256:  # the shipped placeholder: any organization may have played it
        ref, source, text, campaign = str(DEFAULT_SAFE_HARBOR_WAV), "default", "", None
    else:
        raise NotFoundError(f"no kept safe-harbor message {sha256} in this organization")
    store = runtime.files
    body = b"".join(safe_harbor.message_chunks(store, ref))  # at most MAX_BYTES: a 30 s message
    audit.record(
        session,
        action="safe_harbor_message.download",
        target=sha256,
        org_id=kept.org_id if kept is not None else principal.org_id,
        detail={"source": source, "campaign_id": str(campaign) if campaign else None},
    )
    return Response(
        body,
        media_type="audio/wav",
        headers={
            "Content-Disposition": f'attachment; filename="safe-harbor-{sha256[:12]}.wav"',
            "X-Clearline-Source": source,
            "X-Clearline-Text": text.encode("ascii", "replace").decode(),
        },
    )


@delete(
    "/api/campaigns/{campaign_id:uuid}",
    opt=roles(*MANAGE),
    sync_to_thread=True,
    status_code=204,
    description="Only a draft campaign that never placed a call can be deleted; finish any other.",
)
def delete_campaign(campaign_id: uuid.UUID, session: Session) -> None:
    service.delete_campaign(session, service.get_campaign(session, campaign_id))


def _set_status(session: Session, campaign_id: uuid.UUID, status: CampaignStatus) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id)
    service.set_status(campaign, status)
    session.flush()
    return CampaignOut.of(campaign)


@post(
    "/api/campaigns/{campaign_id:uuid}/start",
    opt=roles(*MANAGE),
    sync_to_thread=True,
    status_code=200,
    description=(
        "Start (or resume) dialing. Answers 409 with `blockers` [{code, message, fix}] when dialing is "
        "impossible (unknown trunk profile, no or expired signing certificate while the profile signs, no or "
        "stale national registry copy); what still stops dialing but may change by itself (no agent logged "
        "in, calling window closed, engine not running) comes back as `warnings`."
    ),
)
def start_campaign(campaign_id: uuid.UUID, principal: Principal, runtime: Runtime) -> CampaignOut:
    campaign, ready = readiness.start_campaign(
        runtime.db, runtime.redis, campaign_id, principal.scope, datetime.now(UTC)
    )
    out = CampaignOut.of(campaign)
    out.warnings = [
        BlockerOut.of(b) for b in (*ready.blockers, *ready.warnings) if b.code != "campaign_not_active"
    ]
    return out


@get(
    "/api/campaigns/{campaign_id:uuid}/readiness",
    opt=roles(*READ),
    sync_to_thread=True,
    description=(
        "Why the campaign is (not) dialing now: trunk profile and whether its proxy answers SIP OPTIONS, "
        "signing certificate, national registry copy, agents assigned and logged in, callable leads and "
        "their calling windows (with when the first opens), the 30-day abandon budget, the engine."
    ),
)
def campaign_readiness(campaign_id: uuid.UUID, principal: Principal, runtime: Runtime) -> ReadinessOut:
    return ReadinessOut.of(
        readiness.campaign_readiness(
            runtime.db, runtime.redis, campaign_id, principal.scope, datetime.now(UTC)
        )
    )


@post("/api/campaigns/{campaign_id:uuid}/pause", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def pause_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.PAUSED)


@post("/api/campaigns/{campaign_id:uuid}/finish", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def finish_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.FINISHED)


@post(
    "/api/campaigns/{campaign_id:uuid}/safe-harbor",
    opt=roles(*MANAGE),
    status_code=200,
    request_max_body_size=None,  # streamed to disk by api.uploads under the message's own size limit
    description=(
        "Upload the campaign's safe-harbor message (played when no agent is free within 2 s of the answer; "
        "it must name the seller and give the opt-out key): a WAV file, 16-bit PCM mono at 8000 or 16000 Hz, "
        "2-30 s, as the raw body or the `file` part of multipart/form-data. Stored per organization."
    ),
)
async def upload_safe_harbor(
    campaign_id: uuid.UUID, request: Request[Any, Any, Any], principal: Principal, runtime: Runtime
) -> CampaignOut:
    def campaign_org() -> uuid.UUID:
        with runtime.db.session(principal.scope) as s:
            return service.get_campaign(s, campaign_id).org_id

    await anyio.to_thread.run_sync(campaign_org)  # 404 before the body is read
    limit = min(runtime.settings.max_upload_bytes, safe_harbor.MAX_BYTES)
    directory = safe_harbor.upload_dir(runtime.settings.home)
    received = await receive_upload(request, directory, limit, default_name="safe-harbor.wav")

    def store() -> CampaignOut:
        try:
            with runtime.db.session(principal.scope) as s:
                campaign = service.get_campaign(s, campaign_id)
                safe_harbor.set_campaign_message(s, campaign, runtime.files, received.file.path)
                return CampaignOut.of(campaign)
        finally:
            received.file.path.unlink(missing_ok=True)  # consumed when stored; never left behind

    return await anyio.to_thread.run_sync(store)


@get("/api/campaigns/{campaign_id:uuid}/agents", opt=roles(*READ), sync_to_thread=True)
def list_agents(campaign_id: uuid.UUID, session: Session) -> list[uuid.UUID]:
    return service.campaign_agents(session, service.get_campaign(session, campaign_id))


@put("/api/campaigns/{campaign_id:uuid}/agents", opt=roles(*MANAGE), sync_to_thread=True)
def set_agents(campaign_id: uuid.UUID, data: AgentsIn, session: Session) -> list[uuid.UUID]:
    return service.assign_agents(session, service.get_campaign(session, campaign_id), data.agent_ids)


@get("/api/campaigns/{campaign_id:uuid}/dispositions", opt=roles(*READ), sync_to_thread=True)
def list_dispositions(campaign_id: uuid.UUID, session: Session) -> list[DispositionOut]:
    campaign = service.get_campaign(session, campaign_id)
    return [DispositionOut.of(d) for d in service.list_dispositions(session, campaign)]


@post(
    "/api/campaigns/{campaign_id:uuid}/dispositions", opt=roles(*MANAGE), sync_to_thread=True, status_code=201
)
def add_disposition(campaign_id: uuid.UUID, data: DispositionIn, session: Session) -> DispositionOut:
    spec = service.DispositionSpec(**msgspec.structs.asdict(data))
    return DispositionOut.of(
        service.add_disposition(session, service.get_campaign(session, campaign_id), spec)
    )


ROUTES = [
    create_campaign,
    list_campaigns,
    get_campaign,
    update_campaign,
    delete_campaign,
    start_campaign,
    campaign_readiness,
    pause_campaign,
    finish_campaign,
    upload_safe_harbor,
    generate_safe_harbor,
    download_safe_harbor_message,
    list_agents,
    set_agents,
    list_dispositions,
    add_disposition,
]
