"""The live wallboard of a campaign, and its Server-Sent Events stream (see `api.console.wallboard`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template
from sqlalchemy.orm import Session

from api.console.nav import section
from api.console.pages.campaigns import CAMPAIGNS, MANAGERS
from api.console.render import page
from api.console.wallboard import hub_of, read_snapshot, updates
from api.principal import Principal
from campaigns import service
from campaigns.models import CampaignStatus
from core.runtime import Runtime

WALLBOARD = section("Wallboard", "/console/wallboard", MANAGERS, order=20)


@get("/console/wallboard", opt=WALLBOARD.opt, include_in_schema=False, sync_to_thread=True)
def wallboard_index(request: Request[Any, Any, Any], session: Session) -> Template:
    campaigns = [c for c in service.list_campaigns(session) if c.status != CampaignStatus.FINISHED.value]
    return page(request, "wallboard/index.html", campaigns=campaigns)


@get(
    "/console/campaigns/{campaign_id:uuid}/wallboard",
    opt=CAMPAIGNS.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def wallboard(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, session: Session, runtime: Runtime
) -> Template:
    campaign = service.get_campaign(session, campaign_id)
    snapshot = read_snapshot(runtime, campaign.org_id, campaign.id)
    return page(request, "wallboard/board.html", campaign=campaign, snapshot=snapshot, section=WALLBOARD)


@get("/console/campaigns/{campaign_id:uuid}/wallboard/events", opt=CAMPAIGNS.opt, include_in_schema=False)
async def wallboard_events(
    request: Request[Any, Any, Any], campaign_id: uuid.UUID, principal: Principal, runtime: Runtime
) -> ServerSentEvent:
    def org_of_campaign() -> uuid.UUID:
        with runtime.db.session(principal.scope) as s:
            return service.get_campaign(s, campaign_id).org_id  # another organization's: 404

    org_id = await anyio.to_thread.run_sync(org_of_campaign)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async for update in updates(hub_of(request.app), org_id, campaign_id):
            if update is None:
                yield ServerSentEventMessage(comment="keepalive")
            else:
                seq, text = update
                yield ServerSentEventMessage(data=text, event="update", id=str(seq))

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


PAGES = [wallboard_index, wallboard, wallboard_events]
