"""One delivery attempt: claim the row, check the target again, POST the signed body to the checked
address, record what happened and schedule the next attempt.

Back-off: after failed attempt n the next one waits `base * 3**(n-1)` seconds, at most 6 hours
(`CLEARLINE_WEBHOOKS_RETRY_BASE_S`, 30 s by default: 30 s, 1.5 min, 4.5 min, 13.5 min, 40.5 min,
2 h 1.5 min, 6 h), `MAX_ATTEMPTS` (8) in all over about 9 hours; then the delivery is failed and waits
for a redelivery.
A redirect is never followed (it counts as a failed attempt and says where it pointed).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import select

from core.db import ALL_ORGS, Database, utcnow
from core.errors import ValidationError
from core.settings import Settings
from core.webhooks import signing
from core.webhooks.events import send
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from core.webhooks.targets import Target, TargetRefused, check_target

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_FACTOR = 3
MAX_DELAY_S = 6 * 3600
HISTORY_KEPT = 50
RESPONSE_KEPT_CHARS = 200
USER_AGENT = "Clearline-Webhooks/1"


def retry_delay_s(failed_attempts: int, base_s: float) -> float:
    """How long to wait after the `failed_attempts`-th failed attempt (1, 2, ...). Pure."""
    return float(min(base_s * BACKOFF_FACTOR ** max(failed_attempts - 1, 0), MAX_DELAY_S))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address the SSRF check approved, with the URL's host as TLS server name and for the
    certificate check: the name is not resolved a second time."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, headers: dict[str, str], body: bytes, timeout_s: float) -> Outcome:
    started = time.monotonic()
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(target.host, target.port, target.address, timeout_s)
    else:
        conn = http.client.HTTPConnection(target.address, target.port, timeout=timeout_s)
    try:
        conn.request("POST", target.path, body=body, headers={"Host": _host_header(target), **headers})
        response = conn.getresponse()
        text = response.read(4096).decode("utf-8", "replace")
        status = response.status
        location = response.getheader("Location")
    except (OSError, http.client.HTTPException) as exc:
        took = int((time.monotonic() - started) * 1000)
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, took)
    finally:
        conn.close()
    took = int((time.monotonic() - started) * 1000)
    if 200 <= status < 300:
        return Outcome(status, None, took)
    if 300 <= status < 400:
        return Outcome(
            status,
            f"HTTP {status}: redirect to {location!r} not followed (webhooks never follow redirects)",
            took,
        )
    snippet = " ".join(text.split())[:RESPONSE_KEPT_CHARS]
    return Outcome(status, f"HTTP {status}" + (f": {snippet}" if snippet else ""), took)


@dataclass(frozen=True)
class _Claimed:
    endpoint_id: uuid.UUID
    url: str
    secret: str
    body: str
    event_id: uuid.UUID
    event_type: str
    attempt: int


def _claim(
    db: Database, settings: Settings, delivery_id: uuid.UUID, seq: int, now: datetime
) -> _Claimed | None:
    with db.session(ALL_ORGS) as s:
        row = s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(skip_locked=True)
        ).one_or_none()
        if row is None or row.seq != seq:
            return None  # gone, being handled, or a stale message after a redelivery
        if row.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
            return None  # delivered already: a message seen twice delivers once
        endpoint = s.get(WebhookEndpoint, row.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            row.status, row.last_error = DeliveryStatus.FAILED, "the endpoint is disabled"
            row.next_attempt_at = None
            return None
        row.status = DeliveryStatus.DELIVERING
        row.attempts += 1
        row.last_attempt_at = now
        return _Claimed(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            secret=signing.unseal(settings.secret_key, endpoint.secret_sealed, endpoint.id),
            body=row.body,
            event_id=row.event_id,
            event_type=row.event_type,
            attempt=row.attempts,
        )


def attempt_once(claimed: _Claimed, delivery_id: uuid.UUID, settings: Settings) -> tuple[Outcome, bool]:
    """(what happened, whether to try again)."""
    started = time.monotonic()
    try:
        target = check_target(claimed.url, allow_private=settings.webhooks_allow_private)
    except TargetRefused as exc:
        return Outcome(None, f"refused: {exc}", int((time.monotonic() - started) * 1000)), False
    except ValidationError as exc:  # the name does not resolve now: DNS may come back
        return Outcome(None, str(exc), int((time.monotonic() - started) * 1000)), True
    body = claimed.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Clearline-Event": claimed.event_type,
        "Clearline-Event-Id": str(claimed.event_id),
        "Clearline-Delivery": str(delivery_id),
        "Clearline-Attempt": str(claimed.attempt),
        signing.HEADER: signing.signature_header(claimed.secret, int(time.time()), body),
    }
    outcome = post(target, headers, body, settings.webhooks_timeout_s)
    return outcome, not outcome.ok


HOLD_KEY = (
    "clearline:webhooks:hold:"  # + endpoint id: the endpoint failed; nothing is sent to it until expiry
)
BUSY_KEY = "clearline:webhooks:busy:"  # + endpoint id: one attempt to a failing endpoint is under way


def _endpoint_of(db: Database, delivery_id: uuid.UUID) -> uuid.UUID | None:
    with db.session(ALL_ORGS) as s:
        return s.scalar(select(WebhookDelivery.endpoint_id).where(WebhookDelivery.id == delivery_id))


def _held_for_ms(client: redis.Redis | None, endpoint_id: uuid.UUID, settings: Settings) -> int:
    """How long this delivery should wait without trying, because its endpoint is failing: 0 to go.

    After an endpoint's attempt fails, its other deliveries wait until the back-off of that failure ends,
    and then only one attempt at a time probes it. Without this, one dead receiver would hold every
    worker thread for its timeout, once per queued event, and every other organization's events (and the
    lead imports sharing the workers) would wait behind it."""
    if client is None:
        return 0
    try:
        ttl = int(client.pttl(HOLD_KEY + str(endpoint_id)))
        if ttl > 0:
            return ttl
        if client.exists(HOLD_KEY + str(endpoint_id) + ":failing"):
            probe_ms = int((settings.webhooks_timeout_s + 5) * 1000)
            if not client.set(BUSY_KEY + str(endpoint_id), b"1", nx=True, px=probe_ms):
                return max(100, int(settings.webhooks_timeout_s * 1000))
        return 0
    except redis.RedisError:
        return 0  # Redis away: try, as without the hold


def _after_attempt(client: redis.Redis | None, endpoint_id: uuid.UUID, ok: bool, hold_s: float) -> None:
    if client is None:
        return
    key = HOLD_KEY + str(endpoint_id)
    try:
        client.delete(BUSY_KEY + str(endpoint_id))
        if ok:
            client.delete(key, key + ":failing")
        else:
            client.set(key, b"1", px=max(1, int(hold_s * 1000)))
            client.set(key + ":failing", b"1", ex=MAX_DELAY_S + 3600)
    except redis.RedisError:
        pass


def deliver(
    db: Database, settings: Settings, delivery_id: uuid.UUID, seq: int, client: redis.Redis | None = None
) -> str | None:
    """Run the attempt the message (delivery id, seq) stands for; returns the delivery's new status, or
    None when the message had nothing to do (or was put back to wait while its endpoint is failing)."""
    endpoint_id = _endpoint_of(db, delivery_id)
    if endpoint_id is None:
        return None
    wait_ms = _held_for_ms(client, endpoint_id, settings)
    if wait_ms:
        send([(delivery_id, seq)], delay_ms=wait_ms)  # not an attempt: the same message, later
        return None
    now = utcnow()
    claimed = _claim(db, settings, delivery_id, seq, now)
    if claimed is None:
        if client is not None:
            with contextlib.suppress(redis.RedisError):
                client.delete(BUSY_KEY + str(endpoint_id))
        return None
    outcome, retry = attempt_once(claimed, delivery_id, settings)
    _after_attempt(
        client, endpoint_id, outcome.ok, retry_delay_s(claimed.attempt, settings.webhooks_retry_base_s)
    )
    next_seq: int | None = None
    delay_s = 0.0
    with db.session(ALL_ORGS) as s:
        row = s.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            return None
        entry: dict[str, Any] = {
            "attempt": claimed.attempt,
            "at": now.isoformat(),
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        }
        row.history = [*row.history, entry][-HISTORY_KEPT:]
        row.last_status_code = outcome.status_code
        row.last_error = outcome.error
        row.last_duration_ms = outcome.duration_ms
        if outcome.ok:
            row.status, row.delivered_at, row.next_attempt_at = DeliveryStatus.SUCCEEDED, utcnow(), None
        elif retry and row.attempts < MAX_ATTEMPTS:
            delay_s = retry_delay_s(row.attempts, settings.webhooks_retry_base_s)
            row.status = DeliveryStatus.RETRYING
            row.next_attempt_at = utcnow() + timedelta(seconds=delay_s)
            row.seq += 1
            next_seq = row.seq
        else:
            row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
            if retry:
                row.last_error = f"{outcome.error}; gave up after {row.attempts} attempts"
        status = row.status
    if next_seq is not None:
        send([(delivery_id, next_seq)], delay_ms=max(1, int(delay_s * 1000)))
    if not outcome.ok:
        log.info("webhook delivery %s attempt %d failed; now %s", delivery_id, claimed.attempt, status)
    return status
