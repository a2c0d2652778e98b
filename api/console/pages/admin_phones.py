"""Admin > Agent phones: which SIP phones the dialer may call for the organization's agents, through the
same `dialer.phone_policy` services as `/api/agent-phones` (the URI, host and CIDR rules and their
normalisation are the service's). Without a rule no agent phone is called."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.admin import (
    ADMIN,
    FormData,
    Organizations,
    admin_page,
    field_errors,
    form_value,
)
from api.principal import Principal
from campaigns import service as campaign_service
from core.errors import ConflictError, NotFoundError, ValidationError
from dialer import phone_policy

KINDS = {
    "phone": "One phone: a SIP URI (sip:alice@10.0.0.12)",
    "domain": "Any phone in a SIP domain (pbx.example.com, or *.example.com)",
    "cidr": "Any phone at an address in a network (10.0.0.0/24)",
}


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    agents = campaign_service.assignable_users(session, principal.org_id) if principal.org_id else []
    return admin_page(
        request,
        "admin/agent_phones.html",
        "agent-phones",
        status_code=status_code,
        rules=phone_policy.list_rules(session),
        agents=agents,
        agent_names={a.id: a.email for a in agents},
        kinds=KINDS,
        orgs=Organizations(session, principal),
        v=values or {"kind": "phone"},
        errors=errors or FormErrors(),
        notice=notice,
    )


@get("/console/admin/agent-phones", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def agent_phones(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    return _page(request, session, principal)


@post("/console/admin/agent-phones/new", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def add_agent_phone(
    request: Request[Any, Any, Any], session: Session, principal: Principal, data: FormData
) -> Response[Any]:
    values = {k: form_value(data, k).strip() for k in ("kind", "value", "agent_id", "note", "org_id")}
    errors = FormErrors()
    org_id = Organizations(session, principal).for_write(values["org_id"], errors)
    agent_id = None
    if values["agent_id"]:
        try:
            agent_id = uuid.UUID(values["agent_id"])
        except ValueError:
            errors.add("agent_id", "choose an agent from the list")
    if not errors and org_id is not None:
        try:
            rule = phone_policy.add_rule(
                session,
                org_id=org_id,
                kind=values["kind"],
                value=values["value"],
                agent_id=agent_id,
                note=values["note"],
                created_by=principal.user_id,
            )
            notice = {"kind": "ok", "title": "Added.", "message": f"The dialer may now call {rule.value}."}
            return _page(request, session, principal, notice=notice)
        except ValidationError as exc:
            session.rollback()
            field_errors(errors, exc, {})
        except NotFoundError as exc:  # the agent is not one of this organization's
            session.rollback()
            errors.add("agent_id", str(exc))
        except ConflictError as exc:  # the same rule exists
            session.rollback()
            errors.add("value", str(exc))
    return _page(request, session, principal, values, errors, status_code=422)


@post(
    "/console/admin/agent-phones/{phone_rule_id:uuid}/remove",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_agent_phone(
    request: Request[Any, Any, Any], phone_rule_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    phone_policy.delete_rule(session, phone_rule_id)
    session.flush()
    notice = {
        "kind": "ok",
        "title": "Removed.",
        "message": "Agents already logged in from such a phone keep their call leg until they log out.",
    }
    return _page(request, session, principal, notice=notice)


PAGES = [agent_phones, add_agent_phone, remove_agent_phone]
