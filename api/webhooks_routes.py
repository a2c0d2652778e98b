"""HTTP routes of an organization's webhooks (`core.webhooks.endpoints`): org admins configure endpoints,
read the delivery log and redeliver. The signing secret is in the response that creates (or rotates) it,
and never again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from core.models import Role
from core.runtime import Runtime
from core.webhooks import endpoints
from core.webhooks.models import WebhookDelivery, WebhookEndpoint


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: str  # http(s); its host must resolve to public addresses (unless the platform allows private ones)
    events: list[str]  # event types: call.ended, disposition.set, opt_out.recorded, consent.revoked, ...
    description: str = ""
    enabled: bool = True
    org_id: uuid.UUID | None = None  # platform admins only: the organization the endpoint belongs to


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True):
    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None
    rotate_secret: bool = False  # a new signing secret, returned once in this response


class EndpointOut(msgspec.Struct):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, e: WebhookEndpoint) -> EndpointOut:
        return cls(e.id, e.url, list(e.events), e.description, e.enabled, e.created_at, e.updated_at)


class EndpointWithSecret(msgspec.Struct):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    secret: str  # shown this once: keep it in the receiver to verify Clearline-Signature

    @classmethod
    def of(cls, e: WebhookEndpoint, secret: str) -> EndpointWithSecret:
        return cls(e.id, e.url, list(e.events), e.description, e.enabled, e.created_at, e.updated_at, secret)


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    last_duration_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    history: list[dict[str, Any]]

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.last_status_code,
            d.last_error, d.last_attempt_at, d.last_duration_ms, d.next_attempt_at, d.delivered_at,
            d.created_at, list(d.history),
        )  # fmt: skip


@post("/", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def create_webhook(
    data: EndpointIn, principal: Principal, session: Session, runtime: Runtime
) -> EndpointWithSecret:
    created = endpoints.create_endpoint(
        session,
        org_id=principal.org_for_write(data.org_id),
        url=data.url,
        events=data.events,
        description=data.description,
        enabled=data.enabled,
        server_secret=runtime.settings.secret_key,
        allow_private=runtime.settings.webhooks_allow_private,
        created_by=principal.user_id,
    )
    return EndpointWithSecret.of(created.endpoint, created.secret)


@get("/", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def list_webhooks(session: Session) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in endpoints.list_endpoints(session)]


@get("/{webhook_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def get_webhook(webhook_id: uuid.UUID, session: Session) -> EndpointOut:
    return EndpointOut.of(endpoints.get_endpoint(session, webhook_id))


@patch("/{webhook_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def change_webhook(
    webhook_id: uuid.UUID, data: EndpointChange, session: Session, runtime: Runtime
) -> EndpointOut | EndpointWithSecret:
    changed = endpoints.update_endpoint(
        session,
        webhook_id,
        url=data.url,
        events=data.events,
        description=data.description,
        enabled=data.enabled,
        rotate_secret=data.rotate_secret,
        server_secret=runtime.settings.secret_key,
        allow_private=runtime.settings.webhooks_allow_private,
    )
    if changed.secret:
        return EndpointWithSecret.of(changed.endpoint, changed.secret)
    return EndpointOut.of(changed.endpoint)


@delete("/{webhook_id:uuid}", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def delete_webhook(webhook_id: uuid.UUID, session: Session) -> None:
    endpoints.delete_endpoint(session, webhook_id)


@get("/{webhook_id:uuid}/deliveries", opt=roles(Role.ORG_ADMIN), sync_to_thread=True)
def list_webhook_deliveries(
    webhook_id: uuid.UUID, session: Session, limit: int = Parameter(default=endpoints.DELIVERIES_SHOWN)
) -> list[DeliveryOut]:
    """The newest deliveries first: status, attempts, the last status code and error, and every attempt."""
    return [DeliveryOut.of(d) for d in endpoints.list_deliveries(session, webhook_id, limit=limit)]


@post(
    "/deliveries/{delivery_id:uuid}/redeliver",
    opt=roles(Role.ORG_ADMIN),
    sync_to_thread=True,
    status_code=202,
)
def redeliver_webhook(delivery_id: uuid.UUID, session: Session) -> DeliveryOut:
    """Send the event again now (same body and event id, newly signed)."""
    return DeliveryOut.of(endpoints.redeliver(session, delivery_id))


router = Router(
    "/api/webhooks",
    route_handlers=[
        create_webhook, list_webhooks, get_webhook, change_webhook, delete_webhook,
        list_webhook_deliveries, redeliver_webhook,
    ],
    tags=["webhooks"],
)  # fmt: skip
ROUTES: list[ControllerRouterHandler] = [router]
