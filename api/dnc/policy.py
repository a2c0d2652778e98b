"""Routes of the organization's compliance policy (geo rules and the API's IP firewall)."""

from __future__ import annotations

from litestar import get, put
from sqlalchemy.orm import Session

from api.auth import roles
from api.dnc.access import STAFF, own_org
from api.dnc.schemas import PolicyIO
from api.principal import Principal
from core.models import Role
from dnc.policy import read_policy, replace_policy


@get("/api/dnc/policy", opt=roles(*STAFF), sync_to_thread=True)
def get_policy(session: Session) -> PolicyIO:
    return PolicyIO.of(read_policy(session))


@put("/api/dnc/policy", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def put_policy(data: PolicyIO, principal: Principal, session: Session) -> PolicyIO:
    return PolicyIO.of(replace_policy(session, own_org(principal), data.rules()))


ROUTES = [get_policy, put_policy]
