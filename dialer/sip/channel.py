"""A line worker's side of the Redis transport (docs/sip.md, "Transport"): its command list, the pool's
event list and its alive key. No pjsua2: the worker's main loop calls it between `libHandleEvents` pumps.
"""

from __future__ import annotations

from typing import Any

import redis

from dialer.sip import protocol as p
from dialer.sip.keys import alive_key, command_key, events_key

COMMAND_BATCH = 64


class WorkerChannel:
    def __init__(self, redis_url: str, *, pool: str, worker_id: str) -> None:
        self.redis = redis.Redis.from_url(redis_url)
        self.cmd_key = command_key(pool, worker_id)
        self.events_key = events_key(pool)
        self.alive_key = alive_key(pool, worker_id)
        self.outbox: list[bytes] = []
        self.deferred: list[bytes] = []
        """Commands read early (while looking for an `ExpectBridge`), handed out at the next `commands()`."""

    def emit(self, event: p.Event) -> None:
        self.outbox.append(p.encode(event))

    @property
    def has_events(self) -> bool:
        return bool(self.outbox)

    def flush(self) -> None:
        if self.outbox:
            self.redis.rpush(self.events_key, *self.outbox)
            self.outbox.clear()

    def commands(self) -> list[bytes]:
        """The commands queued for this worker, in order (those read early first)."""
        raw: Any = self.redis.lpop(self.cmd_key, COMMAND_BATCH)
        if self.deferred:
            raw, self.deferred = [*self.deferred, *(raw or ())], []
        return list(raw or ())

    def take_expect_bridges(self) -> list[p.ExpectBridge]:
        """Read the command queue at once for `ExpectBridge`s (an internal leg's INVITE may arrive before the
        worker's next poll); every other command is kept, in order, for the next `commands()`."""
        found: list[p.ExpectBridge] = []
        raw: Any = self.redis.lpop(self.cmd_key, COMMAND_BATCH)
        for data in raw or ():
            try:
                command = p.decode_command(data)
            except Exception:
                command = None
            if isinstance(command, p.ExpectBridge):
                found.append(command)
            else:
                self.deferred.append(data)
        return found

    def publish_alive(self, stats: p.WorkerStats, ttl_ms: int) -> None:
        self.redis.set(self.alive_key, p.encode(stats), px=ttl_ms)

    def close(self) -> None:
        self.redis.delete(self.alive_key)
        self.redis.close()
