"""HTTP routes of an organization's agent-phone rules: which SIP phones the dialer may call for its agents
(`dialer.phone_policy`). Org admins manage them; managers read them; anyone may check a URI."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Router, delete, get, post
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from core.models import Role
from dialer import phone_policy
from dialer.models import AgentPhoneRule


class PhoneRuleIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str  # phone | domain | cidr
    value: str  # a SIP URI, a host name (or *.domain), or a CIDR
    agent_id: uuid.UUID | None = None  # reserve a phone rule to one agent
    note: str = ""
    org_id: uuid.UUID | None = None  # platform admins only: the organization the rule belongs to


class PhoneRuleOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    value: str
    agent_id: uuid.UUID | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, r: AgentPhoneRule) -> PhoneRuleOut:
        return cls(r.id, r.kind, r.value, r.agent_id, r.note, r.created_at)


class PhoneCheckIn(msgspec.Struct, forbid_unknown_fields=True):
    sip_uri: str


class PhoneCheckOut(msgspec.Struct):
    sip_uri: str
    allowed: bool
    reason: str


@get("/", opt=roles(Role.ORG_ADMIN, Role.MANAGER), sync_to_thread=True)
def list_phone_rules(session: Session) -> list[PhoneRuleOut]:
    return [PhoneRuleOut.of(r) for r in phone_policy.list_rules(session)]


@post("/", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def add_phone_rule(data: PhoneRuleIn, principal: Principal, session: Session) -> PhoneRuleOut:
    rule = phone_policy.add_rule(
        session,
        org_id=principal.org_for_write(data.org_id),
        kind=data.kind,
        value=data.value,
        agent_id=data.agent_id,
        note=data.note,
        created_by=principal.user_id,
    )
    return PhoneRuleOut.of(rule)


@delete("/{phone_rule_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def delete_phone_rule(phone_rule_id: uuid.UUID, session: Session) -> None:
    phone_policy.delete_rule(session, phone_rule_id)


@post("/check", opt=roles(Role.ORG_ADMIN, Role.MANAGER, Role.AGENT), sync_to_thread=True, status_code=200)
def check_phone(data: PhoneCheckIn, principal: Principal, session: Session) -> PhoneCheckOut:
    """Would the dialer call this URI as the caller's phone? (The same check as at login.)"""
    verdict = phone_policy.check_phone(session, agent_id=principal.user_id, sip_uri=data.sip_uri)
    return PhoneCheckOut(data.sip_uri, verdict.allowed, verdict.reason)


router = Router(
    "/api/agent-phones",
    route_handlers=[list_phone_rules, add_phone_rule, delete_phone_rule, check_phone],
    tags=["agent phones"],
)
ROUTES: list[ControllerRouterHandler] = [router]
