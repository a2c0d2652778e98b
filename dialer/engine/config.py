"""The engine's settings (`clearline dialer` options, the sandbox's and the tests' overrides)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from campaigns.hopper import LeasedLead


def default_supervisor_id() -> str:
    """host:pid: unique among the supervisors sharing one PostgreSQL and Redis."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_pool_name(pool: str, supervisor_id: str) -> str:
    """The Redis namespace of one supervisor's line workers (`dialer.sip.keys`)."""
    return f"{pool}:{supervisor_id}"


@dataclass
class EngineConfig:
    pool: str = "default"
    # This supervisor among the others on the same PostgreSQL/Redis (`clearline dialer --supervisor-id`):
    # its line workers, their event list and the attempts it places are named by it. None: host:pid.
    supervisor_id: str | None = None
    min_workers: int = 1
    max_workers: int = 8
    calls_per_worker: int = (
        28  # lead calls + agent legs we place on one worker (pjsua2 holds 32, keep 30 safe)
    )
    worker_log_dir: Path | None = None
    profiles_dir: Path | None = None
    campaign_ids: frozenset[uuid.UUID] | None = None  # None: every active campaign
    tick_s: float = 0.02
    dial_interval_s: float = 0.1
    agent_wait_s: float = (
        1.5  # give up on finding an agent this long after the answer (bridge needs the rest)
    )
    wrap_timeout_s: float | None = None  # None: each campaign's wrap_up_s
    lease_s: float = 300.0
    safe_harbor_listen_s: float = 2.0
    # The clock the compliance verdict is taken at, per campaign (the demo's synthetic campaign only).
    compliance_clock: Callable[[uuid.UUID, datetime], datetime] | None = None
    # Extra SIP headers per lead (simulator hints in tests and the demo).
    extra_headers: Callable[[LeasedLead], dict[str, str]] | None = None
