"""The service behind `/api/webhooks` and the console's Webhooks page: endpoints, the delivery log,
redelivery. `session` is scoped to the caller's organization (another organization's endpoint is a 404)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.errors import ConflictError, NotFoundError, ValidationError
from core.webhooks import EVENT_TYPES, signing
from core.webhooks.events import send
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from core.webhooks.targets import check_target

MAX_DESCRIPTION = 200
MAX_ENDPOINTS_PER_ORG = 20
DELIVERIES_SHOWN = 100


def _events(events: Sequence[str], field: str = "events") -> list[str]:
    chosen = []
    for name in events:
        if name not in EVENT_TYPES:
            raise ValidationError(
                f"events: {name!r} is not an event type; one of {', '.join(EVENT_TYPES)}", field=field
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValidationError(f"events: subscribe to at least one of {', '.join(EVENT_TYPES)}", field=field)
    return chosen


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise ValidationError(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
    return text


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the org admin this once; only its sealed form is stored


def create_endpoint(
    session: Session,
    *,
    org_id: uuid.UUID,
    url: str,
    events: Sequence[str],
    description: str = "",
    enabled: bool = True,
    server_secret: str,
    allow_private: bool,
    created_by: uuid.UUID | None,
) -> CreatedEndpoint:
    chosen = _events(events)
    target = check_target(url, allow_private=allow_private)
    count = len(list(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.org_id == org_id))))
    if count >= MAX_ENDPOINTS_PER_ORG:
        raise ConflictError(
            f"the organization has {count} webhook endpoints, the most allowed; delete one first"
        )
    secret = signing.new_secret()
    endpoint_id = uuid.uuid4()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        org_id=org_id,
        url=target.url,
        events=chosen,
        description=_description(description),
        enabled=enabled,
        secret_sealed=signing.seal(server_secret, secret, endpoint_id),
        created_by=created_by,
    )
    session.add(endpoint)
    session.flush()
    return CreatedEndpoint(endpoint, secret)


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(
        session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
    )


def get_endpoint(session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)).one_or_none()
    if endpoint is None:
        raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
    return endpoint


def update_endpoint(
    session: Session,
    endpoint_id: uuid.UUID,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    rotate_secret: bool = False,
    server_secret: str,
    allow_private: bool,
) -> CreatedEndpoint:
    """Change what was given; `rotate_secret` replaces the signing secret (the new one is returned once,
    the old one stops signing at once). The returned secret is "" unless rotated."""
    endpoint = get_endpoint(session, endpoint_id)
    if url is not None:
        endpoint.url = check_target(url, allow_private=allow_private).url
    if events is not None:
        endpoint.events = _events(events)
    if description is not None:
        endpoint.description = _description(description)
    if enabled is not None:
        endpoint.enabled = enabled
    secret = ""
    if rotate_secret:
        secret = signing.new_secret()
        endpoint.secret_sealed = signing.seal(server_secret, secret, endpoint.id)
    endpoint.updated_at = utcnow()
    session.flush()
    return CreatedEndpoint(endpoint, secret)


def delete_endpoint(session: Session, endpoint_id: uuid.UUID) -> None:
    session.delete(get_endpoint(session, endpoint_id))  # its deliveries go with it (ON DELETE CASCADE)
    session.flush()


def list_deliveries(
    session: Session, endpoint_id: uuid.UUID, *, limit: int = DELIVERIES_SHOWN
) -> list[WebhookDelivery]:
    get_endpoint(session, endpoint_id)
    if not 1 <= limit <= 1000:
        raise ValidationError(f"limit {limit} is not between 1 and 1000", field="limit")
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
        )
    )


def get_delivery(session: Session, delivery_id: uuid.UUID) -> WebhookDelivery:
    row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_id} not found")
    return row


def redeliver(session: Session, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send the delivery's event again now (the same body and event id, newly signed), whatever became of
    it; a retry still waiting is replaced by this one. Sent once `session` commits."""
    row = get_delivery(session, delivery_id)
    if row.status == DeliveryStatus.DELIVERING:
        raise ConflictError(f"webhook delivery {delivery_id} is being sent right now; try again when it ends")
    endpoint = session.get(WebhookEndpoint, row.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        raise ConflictError(f"webhook endpoint {row.endpoint_id} is disabled; enable it to redeliver")
    row.seq += 1
    row.status = DeliveryStatus.PENDING
    row.next_attempt_at = utcnow()
    session.flush()
    queued = (row.id, row.seq)

    from sqlalchemy import event

    event.listen(session, "after_commit", lambda _s: send([queued]), once=True)
    return row
