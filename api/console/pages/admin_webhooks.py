"""Admin > Webhooks: the organization's endpoints, their recent deliveries with a Redeliver button, and a
form to add one, through the same `core.webhooks.endpoints` services as `/api/webhooks`. The signing
secret is shown once, on the page that follows the creation."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.orm import Session

from api.console.forms import FormErrors
from api.console.pages.admin import ADMIN, FormData, Organizations, admin_page, field_errors, form_value
from api.principal import Principal
from core.errors import ConflictError, ValidationError
from core.runtime import Runtime
from core.webhooks import EVENT_TYPES, endpoints

DELIVERIES_SHOWN = 10
EVENT_LABELS = {
    "call.ended": "Call ended",
    "disposition.set": "Disposition set",
    "opt_out.recorded": "Opt-out recorded (internal DNC)",
    "consent.revoked": "Consent revoked",
    "lead_list.imported": "Lead list imported",
    "campaign.state_changed": "Campaign started, paused or finished",
}


def _page(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    notice: dict[str, str] | None = None,
    secret: str = "",
    status_code: int = 200,
) -> Template:
    hooks = endpoints.list_endpoints(session)
    return admin_page(
        request,
        "admin/webhooks.html",
        "webhooks",
        status_code=status_code,
        hooks=hooks,
        deliveries={h.id: endpoints.list_deliveries(session, h.id, limit=DELIVERIES_SHOWN) for h in hooks},
        event_labels=EVENT_LABELS,
        orgs=Organizations(session, principal),
        v=values or {"events": list(EVENT_TYPES)},
        errors=errors or FormErrors(),
        notice=notice,
        secret=secret,
    )


@get("/console/admin/webhooks", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def webhooks_page(request: Request[Any, Any, Any], session: Session, principal: Principal) -> Template:
    return _page(request, session, principal)


def _events(data: dict[str, Any]) -> list[str]:
    raw = data.get("events", [])
    return [str(e) for e in (raw if isinstance(raw, list) else [raw]) if e]


@post("/console/admin/webhooks/new", opt=ADMIN.opt, include_in_schema=False, sync_to_thread=True)
def add_webhook(
    request: Request[Any, Any, Any], session: Session, principal: Principal, runtime: Runtime, data: FormData
) -> Template:
    values: dict[str, Any] = {k: form_value(data, k).strip() for k in ("url", "description", "org_id")}
    values["events"] = _events(data)
    errors = FormErrors()
    org_id = Organizations(session, principal).for_write(values["org_id"], errors)
    if not errors and org_id is not None:
        try:
            created = endpoints.create_endpoint(
                session,
                org_id=org_id,
                url=values["url"],
                events=values["events"],
                description=values["description"],
                server_secret=runtime.settings.secret_key,
                allow_private=runtime.settings.webhooks_allow_private,
                created_by=principal.user_id,
            )
            notice = {
                "kind": "ok",
                "title": "Added.",
                "message": f"Events now go to {created.endpoint.url}. Copy the signing secret below into the "
                "receiver now: it is not shown again.",
            }
            return _page(request, session, principal, notice=notice, secret=created.secret)
        except ValidationError as exc:
            session.rollback()
            field_errors(errors, exc, {})
        except ConflictError as exc:
            session.rollback()
            errors.add("url", str(exc))
    return _page(request, session, principal, values, errors, status_code=422)


@post(
    "/console/admin/webhooks/deliveries/{delivery_id:uuid}/redeliver",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def redeliver_webhook(
    request: Request[Any, Any, Any], delivery_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    try:
        row = endpoints.redeliver(session, delivery_id)
    except ConflictError as exc:
        session.rollback()
        notice = {"kind": "error", "title": "Not sent.", "message": str(exc)}
        return _page(request, session, principal, notice=notice, status_code=409)
    notice = {"kind": "ok", "title": "Queued.", "message": f"The {row.event_type} event is being sent again."}
    return _page(request, session, principal, notice=notice)


@post(
    "/console/admin/webhooks/{webhook_id:uuid}/remove",
    opt=ADMIN.opt,
    include_in_schema=False,
    sync_to_thread=True,
)
def remove_webhook(
    request: Request[Any, Any, Any], webhook_id: uuid.UUID, session: Session, principal: Principal
) -> Template:
    endpoints.delete_endpoint(session, webhook_id)
    notice = {"kind": "ok", "title": "Removed.", "message": "No more events go to that endpoint."}
    return _page(request, session, principal, notice=notice)


PAGES = [webhooks_page, add_webhook, redeliver_webhook, remove_webhook]
