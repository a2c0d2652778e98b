"""Tables of the webhooks: the endpoints an organization configured, and one delivery row per event and
endpoint (the delivery log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, utcnow
from core.models import JSONB_


class WebhookEndpoint(OrgScoped, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSONB_, default=list)  # event types subscribed
    enabled: Mapped[bool] = mapped_column(default=True)
    # the signing secret, AES-GCM encrypted under a key derived from the server secret (core.webhooks.secrets)
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryStatus:
    PENDING = "pending"  # queued, not tried yet (or a redelivery asked for)
    DELIVERING = "delivering"  # a worker is sending it now
    RETRYING = "retrying"  # the last attempt failed; the next one is at next_attempt_at
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed, or the target was refused; redeliver on demand


class WebhookDelivery(OrgScoped, Base):
    """One event for one endpoint: its exact body (a redelivery sends the same bytes, newly signed), and
    what happened to its attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    # bumped whenever a message is sent for the row: a worker acts only on the message of the current one,
    # so a retry still waiting in the delay queue does nothing after a redelivery
    seq: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_duration_ms: Mapped[int | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # every attempt: {"at", "status_code", "error", "duration_ms"}, the newest last (capped)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB_, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
