"""Webhooks: events pushed to the systems an organization names (its CRM, its data warehouse).

- `events.emit(session, ...)` is called by the one domain function where each event happens, inside its
  transaction: it writes one `WebhookDelivery` row per subscribed endpoint, and after the commit sends a
  dramatiq message per row (a Redis push: the caller never waits for a receiver).
- `delivery.deliver(...)` (the `deliver_webhook` actor, `core.webhooks.tasks`) checks the target again
  (`targets`: DNS resolved now, private addresses refused unless the platform allows them), connects to the
  address it checked, POSTs the signed body (`signing`), never follows a redirect, records the attempt and
  schedules the next one on the back-off schedule (`delivery.retry_delay_s`).
- `endpoints` is the service behind the API and the console: create (the secret is shown once), list,
  change, delete, the delivery log and redelivery.

See docs/webhooks.md for the payloads, the signature and how a receiver verifies it.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

CALL_ENDED = "call.ended"
DISPOSITION_SET = "disposition.set"
OPT_OUT_RECORDED = "opt_out.recorded"
CONSENT_REVOKED = "consent.revoked"
LEAD_LIST_IMPORTED = "lead_list.imported"
CAMPAIGN_STATE_CHANGED = "campaign.state_changed"

EVENT_TYPES: tuple[str, ...] = (
    CALL_ENDED,
    DISPOSITION_SET,
    OPT_OUT_RECORDED,
    CONSENT_REVOKED,
    LEAD_LIST_IMPORTED,
    CAMPAIGN_STATE_CHANGED,
)
