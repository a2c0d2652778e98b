"""Live wallboards pushed by Server-Sent Events: ONE publisher per campaign per server process.

The first browser that opens a campaign's wallboard starts its publisher, an asyncio task that reads the
engine's live state from Redis every tick (and the call records from PostgreSQL when the counters moved,
at most once a second, and every few seconds regardless), builds one snapshot, serializes it once, and
hands the same text to every subscriber's queue. Browsers never query the database; a hundred browsers on
one campaign cost one reader. When the last browser leaves, the publisher stops.

A publisher only publishes when the snapshot changed, so "every update" is every change; a client too
slow to keep up loses its oldest queued updates (counted in `dropped`), never the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from litestar import Litestar

from campaigns import service
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.live import CampaignLive, read_campaign_live
from dialer.wallboard import RecordFigures, read_record_figures, wallboard_snapshot

log = logging.getLogger(__name__)

TICK_S = 0.25  # how often the publisher reads the engine's live state
RECORDS_MIN_S = 1.0  # the call records are read at most this often (when the engine's counters moved)
RECORDS_MAX_S = 5.0  # ... and at least this often
QUEUE_SIZE = 64
KEEPALIVE_S = 15.0


def read_snapshot(runtime: Runtime, org_id: uuid.UUID, campaign_id: uuid.UUID) -> dict[str, Any]:
    """One wallboard snapshot, read directly (the page's first paint; the publisher's every read)."""
    live = read_campaign_live(runtime.redis, str(campaign_id))
    status, records = _read_records(runtime, org_id, campaign_id, live)
    return wallboard_snapshot(campaign_id, status, live, records, now=datetime.now(UTC))


def _read_records(
    runtime: Runtime, org_id: uuid.UUID, campaign_id: uuid.UUID, live: CampaignLive
) -> tuple[str, RecordFigures]:
    with runtime.db.session(Scope(org_id)) as s:
        status = service.get_campaign(s, campaign_id).status
        records = read_record_figures(
            s, campaign_id, [a.agent_id for a in live.agents], now=datetime.now(UTC)
        )
    return status, records


class CampaignPublisher:
    def __init__(
        self, hub: WallboardHub, runtime: Runtime, org_id: uuid.UUID, campaign_id: uuid.UUID
    ) -> None:
        self.hub, self.runtime, self.org_id, self.campaign_id = hub, runtime, org_id, campaign_id
        self.redis = runtime.redis  # one client (and connection pool) for the publisher's life
        self.subscribers: set[asyncio.Queue[tuple[int, str]]] = set()
        self.seq = 0
        self.last: tuple[int, str] | None = None
        self.dropped = 0
        self.status = ""
        self.records: RecordFigures
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._run())

    def subscribe(self) -> asyncio.Queue[tuple[int, str]]:
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(QUEUE_SIZE)
        if self.last is not None:
            queue.put_nowait(self.last)
        self.subscribers.add(queue)
        return queue

    def _publish(self, text: str) -> None:
        self.seq += 1
        message = (self.seq, text)
        self.last = message
        for queue in self.subscribers:
            if queue.full():
                queue.get_nowait()  # a slow client loses its oldest update, never the newest
                self.dropped += 1
            queue.put_nowait(message)

    async def _refresh_records(self, live: CampaignLive) -> bool:
        try:
            self.status, self.records = await anyio.to_thread.run_sync(
                _read_records, self.runtime, self.org_id, self.campaign_id, live
            )
            return True
        except Exception:  # the next refresh retries; the engine's figures keep flowing meanwhile
            log.exception("wallboard of campaign %s could not read the call records", self.campaign_id)
            return False

    async def _run(self) -> None:
        """Every tick: read the engine's state, publish if the snapshot changed. The call records are
        refreshed beside it (a slow database never delays the engine's figures), first thing and then
        when the counters moved (at most every RECORDS_MIN_S) or every RECORDS_MAX_S."""
        while True:  # the first snapshot needs both halves
            try:
                live = await anyio.to_thread.run_sync(read_campaign_live, self.redis, str(self.campaign_id))
                if await self._refresh_records(live):
                    break
            except Exception:
                log.exception("wallboard of campaign %s cannot read the engine's state", self.campaign_id)
            await asyncio.sleep(1.0)
        refresh: asyncio.Task[bool] | None = None
        records_at, records_counters = time.monotonic(), None
        previous = ""
        while True:
            try:
                live = await anyio.to_thread.run_sync(read_campaign_live, self.redis, str(self.campaign_id))
                stats = live.stats
                counters = (stats.calls_placed, stats.answered, stats.abandoned, stats.connected)
                since = time.monotonic() - records_at
                idle = refresh is None or refresh.done()
                if idle and (
                    since >= RECORDS_MAX_S or (counters != records_counters and since >= RECORDS_MIN_S)
                ):
                    refresh = asyncio.get_running_loop().create_task(self._refresh_records(live))
                    records_at, records_counters = time.monotonic(), counters
                snapshot = wallboard_snapshot(
                    self.campaign_id, self.status, live, self.records, now=datetime.now(UTC)
                )
                # Changed? (the clock field always changes; everything else only with the floor)
                fingerprint = json.dumps({k: v for k, v in snapshot.items() if k != "now_ms"}, sort_keys=True)
                if fingerprint != previous:
                    previous = fingerprint
                    snapshot["seq"] = self.seq + 1
                    self._publish(json.dumps(snapshot))
            except asyncio.CancelledError:
                if refresh is not None:
                    refresh.cancel()
                raise
            except Exception:  # keep publishing once Redis/PostgreSQL are back; say so in the log
                log.exception("wallboard publisher of campaign %s failed a tick", self.campaign_id)
                await asyncio.sleep(1.0)
            await asyncio.sleep(TICK_S)


class WallboardHub:
    """The publishers of one server process, by campaign."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.publishers: dict[uuid.UUID, CampaignPublisher] = {}

    def subscribe(self, org_id: uuid.UUID, campaign_id: uuid.UUID) -> asyncio.Queue[tuple[int, str]]:
        publisher = self.publishers.get(campaign_id)
        if publisher is None:
            publisher = self.publishers[campaign_id] = CampaignPublisher(
                self, self.runtime, org_id, campaign_id
            )
        return publisher.subscribe()

    def unsubscribe(self, campaign_id: uuid.UUID, queue: asyncio.Queue[tuple[int, str]]) -> None:
        publisher = self.publishers.get(campaign_id)
        if publisher is None:
            return
        publisher.subscribers.discard(queue)
        if not publisher.subscribers:
            publisher.task.cancel()
            del self.publishers[campaign_id]

    async def close(self) -> None:
        for publisher in list(self.publishers.values()):
            publisher.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher.task
        self.publishers.clear()


def hub_of(app: Litestar) -> WallboardHub:
    hub = getattr(app.state, "wallboard_hub", None)
    if hub is None:
        hub = app.state.wallboard_hub = WallboardHub(app.state.runtime)
    return hub


async def close_wallboards(app: Litestar) -> None:
    """App shutdown: stop every publisher."""
    hub = getattr(app.state, "wallboard_hub", None)
    if hub is not None:
        await hub.close()


async def updates(
    hub: WallboardHub, org_id: uuid.UUID, campaign_id: uuid.UUID
) -> AsyncIterator[tuple[int, str] | None]:
    """One subscriber's updates; None every KEEPALIVE_S of silence (the route sends a comment)."""
    queue = hub.subscribe(org_id, campaign_id)
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield None
    finally:
        hub.unsubscribe(campaign_id, queue)
