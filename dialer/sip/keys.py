"""Redis key names shared by line workers and their client (one place, so both sides agree)."""

from __future__ import annotations

PREFIX = "clearline:sip"


def command_key(pool: str, worker_id: str) -> str:
    """List of encoded commands for one worker: the client RPUSHes, the worker LPOPs."""
    return f"{PREFIX}:{pool}:cmd:{worker_id}"


def events_key(pool: str) -> str:
    """List of encoded events from every worker of a pool: workers RPUSH, the pool's client BLPOPs."""
    return f"{PREFIX}:{pool}:events"


def alive_key(pool: str, worker_id: str) -> str:
    """The worker's `WorkerReady`, refreshed with a short TTL: present while the worker is alive."""
    return f"{PREFIX}:{pool}:alive:{worker_id}"
