"""The dramatiq actor that delivers webhooks (queue `webhooks`)."""

from __future__ import annotations

import uuid

import dramatiq

import core.broker  # noqa: F401 - the broker must exist before actors are declared
from core.runtime import current_runtime
from core.webhooks.delivery import deliver
from core.webhooks.events import ACTOR, QUEUE


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=0, time_limit=5 * 60 * 1000)
def deliver_webhook(delivery_id: str, seq: int) -> None:
    """Retries are not dramatiq's: `deliver` schedules the next attempt itself on the documented back-off."""
    runtime = current_runtime()
    deliver(runtime.db, runtime.settings, uuid.UUID(delivery_id), seq, runtime.redis)
