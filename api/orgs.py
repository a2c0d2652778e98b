"""Organizations: platform admins create and list them; org admins read and rename their own."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Router, get, patch, post
from sqlalchemy.orm import Session

from api.auth import roles
from core.accounts import create_org, get_org, list_orgs, rename_org
from core.models import Organization, Role


class OrgOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime

    @classmethod
    def of(cls, o: Organization) -> OrgOut:
        return cls(id=o.id, name=o.name, slug=o.slug, created_at=o.created_at)


class OrgCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class OrgUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: str


@post("/", opt=roles(Role.PLATFORM_ADMIN), sync_to_thread=True)
def create_organization(data: OrgCreate, session: Session) -> OrgOut:
    return OrgOut.of(create_org(session, data.name))


@get("/", opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT), sync_to_thread=True)
def list_organizations(session: Session) -> list[OrgOut]:
    return [OrgOut.of(o) for o in list_orgs(session)]


@get(
    "/{org_id:uuid}",
    opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT),
    sync_to_thread=True,
)
def get_organization(org_id: uuid.UUID, session: Session) -> OrgOut:
    return OrgOut.of(get_org(session, org_id))


@patch("/{org_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def update_organization(org_id: uuid.UUID, data: OrgUpdate, session: Session) -> OrgOut:
    return OrgOut.of(rename_org(session, get_org(session, org_id), data.name))


router = Router(
    "/api/orgs",
    route_handlers=[create_organization, list_organizations, get_organization, update_organization],
    tags=["organizations"],
)
