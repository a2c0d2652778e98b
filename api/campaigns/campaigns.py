"""Routes of campaigns themselves: create, read, change, delete, start / pause / finish, their agents and
dispositions."""

from __future__ import annotations

import uuid

import msgspec
from litestar import delete, get, patch, post, put
from sqlalchemy.orm import Session

from api.auth import roles
from api.campaigns.access import MANAGE, READ
from api.campaigns.schemas import (
    AgentsIn,
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    DispositionIn,
    DispositionOut,
)
from api.principal import Principal
from campaigns import service
from campaigns.models import CampaignStatus


@post("/api/campaigns", opt=roles(*MANAGE), sync_to_thread=True, status_code=201)
def create_campaign(data: CampaignCreate, principal: Principal, session: Session) -> CampaignOut:
    org_id = principal.org_for_write(data.org_id)
    settings = data.given()
    settings.pop("name")
    settings.pop("org_id", None)
    return CampaignOut.of(service.create_campaign(session, org_id=org_id, name=data.name, settings=settings))


@get("/api/campaigns", opt=roles(*READ), sync_to_thread=True)
def list_campaigns(session: Session) -> list[CampaignOut]:
    return [CampaignOut.of(c) for c in service.list_campaigns(session)]


@get("/api/campaigns/{campaign_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return CampaignOut.of(service.get_campaign(session, campaign_id))


@patch("/api/campaigns/{campaign_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True)
def update_campaign(campaign_id: uuid.UUID, data: CampaignUpdate, session: Session) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id)
    return CampaignOut.of(service.update_campaign(session, campaign, data.given()))


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


@post("/api/campaigns/{campaign_id:uuid}/start", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def start_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.ACTIVE)


@post("/api/campaigns/{campaign_id:uuid}/pause", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def pause_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.PAUSED)


@post("/api/campaigns/{campaign_id:uuid}/finish", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def finish_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.FINISHED)


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
    pause_campaign,
    finish_campaign,
    list_agents,
    set_agents,
    list_dispositions,
    add_disposition,
]
