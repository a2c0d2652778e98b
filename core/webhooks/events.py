"""Emitting an event: called from the one domain function where it happens, in its transaction.

The delivery rows commit (or roll back) with the change they describe; the dramatiq messages that send
them go out after the commit, one Redis push each. Nothing here waits for a receiver, so a slow or dead
receiver never slows the dialer. A message lost on the way (Redis away at that moment, a crash between
the commit and the push) leaves its row pending, and `requeue_stalled` sends it again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, cast, event, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from core.db import utcnow
from core.webhooks import EVENT_TYPES, SCHEMA_VERSION
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

QUEUE = "webhooks"
ACTOR = "deliver_webhook"
_PENDING_KEY = "clearline_webhook_deliveries"


def event_body(
    *, event_id: uuid.UUID, event_type: str, org_id: uuid.UUID, occurred_at: datetime, data: Mapping[str, Any]
) -> str:
    """The JSON body every endpoint of the event receives (the same bytes for each)."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "id": str(event_id),
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "org_id": str(org_id),
        "data": dict(data),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_deliveries(
    bind: Session | Connection,
    *,
    org_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> list[uuid.UUID]:
    """One pending delivery per enabled endpoint of the organization subscribed to `event_type`, in the
    caller's transaction; returns their ids (nothing to do for an organization without webhooks)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoint_ids = list(
        bind.execute(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.org_id == org_id,
                WebhookEndpoint.enabled.is_(True),
                cast(WebhookEndpoint.events, JSONB).contains([event_type]),
            )
        ).scalars()
    )
    if not endpoint_ids:
        return []
    now = utcnow()
    event_id = uuid.uuid4()
    body = event_body(
        event_id=event_id, event_type=event_type, org_id=org_id, occurred_at=occurred_at or now, data=data
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "event_type": event_type,
            "body": body,
            "status": DeliveryStatus.PENDING,
            "seq": 1,
            "attempts": 0,
            "next_attempt_at": now,
            "history": [],
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    bind.execute(insert(WebhookDelivery), rows)
    return [uuid.UUID(str(row["id"])) for row in rows]


def emit(
    session: Session,
    *,
    org_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> None:
    """Record the event for every subscribed endpoint in `session`'s transaction; the messages that
    deliver them are sent once it commits (nothing is sent if it rolls back)."""
    ids = write_deliveries(session, org_id=org_id, event_type=event_type, data=data, occurred_at=occurred_at)
    if not ids:
        return
    pending: list[tuple[uuid.UUID, int]] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = []

        def after_commit(s: Session) -> None:
            sent = s.info.pop(_PENDING_KEY, [])
            send(sent)

        def after_rollback(s: Session) -> None:
            s.info.pop(_PENDING_KEY, None)

        event.listen(session, "after_commit", after_commit, once=True)
        event.listen(session, "after_soft_rollback", after_rollback, once=True)
    pending.extend((delivery_id, 1) for delivery_id in ids)


def send(deliveries: Iterable[tuple[uuid.UUID, int]], *, delay_ms: int | None = None) -> None:
    """A dramatiq message per (delivery id, seq), after the rows committed. Never raises: a message that
    could not be sent leaves its row pending for `requeue_stalled`."""
    deliveries = list(deliveries)
    if not deliveries:
        return
    try:
        from core.broker import broker

        for delivery_id, seq in deliveries:
            broker.enqueue(message(delivery_id, seq), delay=delay_ms or None)
    except Exception as exc:  # Redis away: the rows wait, pending, for the sweep
        log.warning("%d webhook deliveries not queued (%s); they are sent again later", len(deliveries), exc)


def message(delivery_id: uuid.UUID, seq: int) -> Any:
    import dramatiq

    return dramatiq.Message(
        queue_name=QUEUE, actor_name=ACTOR, args=(), kwargs={"delivery_id": str(delivery_id), "seq": seq},
        options={},
    )  # fmt: skip


STALLED_AFTER = timedelta(minutes=5)


def requeue_stalled(session: Session, now: datetime) -> list[tuple[uuid.UUID, int]]:
    """Deliveries whose message was lost: pending or retrying and due for longer than `STALLED_AFTER`, or
    `delivering` by a worker that stopped answering that long ago. Returns (id, seq) to `send` after the
    commit; `session` must span all organizations."""
    stalled = list(
        session.execute(
            update(WebhookDelivery)
            .where(
                (
                    WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
                    & (WebhookDelivery.next_attempt_at < now - STALLED_AFTER)
                )
                | (
                    (WebhookDelivery.status == DeliveryStatus.DELIVERING)
                    & (WebhookDelivery.last_attempt_at < now - STALLED_AFTER)
                )
            )
            .values(seq=WebhookDelivery.seq + 1, status=DeliveryStatus.PENDING, next_attempt_at=now)
            .returning(WebhookDelivery.id, WebhookDelivery.seq)
            .execution_options(synchronize_session=False)
        ).tuples()
    )
    return [(row[0], row[1]) for row in stalled]
