"""The worker fleet: which line workers are up, how loaded each is, where the next call or agent leg goes,
and how many workers the load needs (start one when short, retire an idle one when the pool is larger).

Plain bookkeeping with the clock passed in; it reaches the processes through `WorkerPool`
(`dialer.sip.client.LineWorkerPool` in production). Not thread-safe: the engine calls it under its lock.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from dialer.sip import protocol as p

log = logging.getLogger(__name__)

IDLE_RETIRE_S = 60.0  # a worker above the pool's needed size that held nothing this long is stopped
WORKER_MAX_CALLS = 30  # the line worker's own admission limit (pjsua2 holds 32)


class WorkerPool(Protocol):
    def start_worker(self, *, max_calls: int = ..., profiles_dir: Path | None = None) -> str: ...

    def send(self, worker_id: str, command: p.Command) -> None: ...

    def workers(self) -> dict[str, Any]: ...


class WorkerFleet:
    def __init__(
        self,
        pool: WorkerPool,
        *,
        calls_per_worker: int,
        min_workers: int,
        max_workers: int,
        profiles_dir: Path | None = None,
    ) -> None:
        self.pool = pool
        self.calls_per_worker = calls_per_worker  # lead calls + agent legs we place on one worker
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.profiles_dir = profiles_dir
        self.ready: set[str] = set()
        self.starting: dict[str, float] = {}
        self.load: Counter[str] = Counter()
        self.agent_worker: dict[str, str] = {}  # agent id -> worker holding its nailed leg
        self.idle_since: dict[str, float] = {}
        self.retiring: set[str] = set()  # workers asked to exit because the pool is larger than the load
        self.restarted = 0

    # ------------------------------------------------------------------------------------ workers

    def start_worker(self, now: float) -> str:
        worker_id = self.pool.start_worker(max_calls=WORKER_MAX_CALLS, profiles_dir=self.profiles_dir)
        self.starting[worker_id] = now
        return worker_id

    def worker_ready(self, worker_id: str) -> None:
        self.starting.pop(worker_id, None)
        self.ready.add(worker_id)
        self.load.setdefault(worker_id, 0)

    def free_slots(self, worker_id: str) -> int:
        return self.calls_per_worker - self.load[worker_id]

    def capacity(self) -> int:
        return sum(max(0, self.free_slots(w)) for w in self.ready)

    def worker_for_call(self, ready_agents_by_worker: Counter[str]) -> str | None:
        """The worker with most READY agents of the campaign (bridges stay local), then most room."""
        candidates = [w for w in self.ready if self.free_slots(w) > 0]
        if not candidates:
            return None
        return max(candidates, key=lambda w: (ready_agents_by_worker[w], self.free_slots(w), w))

    def worker_for_agent(self) -> str | None:
        candidates = [w for w in self.ready if self.free_slots(w) > 0]
        if not candidates:
            return None
        return max(candidates, key=lambda w: (self.free_slots(w), w))

    def reserve(self, worker_id: str) -> None:
        self.load[worker_id] += 1

    def release(self, worker_id: str) -> None:
        if worker_id in self.load:
            self.load[worker_id] = max(0, self.load[worker_id] - 1)

    # ------------------------------------------------------------------------------------ agent legs

    def agent_leg(self, agent_id: str, worker_id: str) -> None:
        """The agent's phone is being called from this worker: its leg counts on that worker."""
        self.reserve(worker_id)
        self.agent_worker[agent_id] = worker_id

    def agent_leg_gone(self, agent_id: str, worker_id: str) -> None:
        if self.agent_worker.get(agent_id) == worker_id:
            del self.agent_worker[agent_id]
            self.release(worker_id)

    # ------------------------------------------------------------------------------------ sizing

    def size(self, *, wanted_room: float, calls: int, now: float) -> None:
        """Enough workers for the calls and agent legs in progress plus room for the next second of dials."""
        load = sum(self.load[w] for w in self.ready)
        needed = load + max(wanted_room - calls, 0) + 2
        desired = min(self.max_workers, max(self.min_workers, math.ceil(needed / self.calls_per_worker)))
        have = len(self.ready) + len(self.starting)
        if have < desired:
            self.start_worker(now)
        elif have > desired:
            self._retire_an_idle_worker(now)
        known = self.pool.workers()
        for worker_id, since in list(self.starting.items()):
            if now - since > 30 and worker_id not in known:
                del self.starting[worker_id]

    def _retire_an_idle_worker(self, now: float) -> None:
        """Shrink the pool by one worker that has held no call and no agent leg for `IDLE_RETIRE_S`."""
        hosting_agents = set(self.agent_worker.values())
        for worker_id in sorted(self.ready):
            if self.load[worker_id] or worker_id in hosting_agents:
                self.idle_since.pop(worker_id, None)
                continue
            if now - self.idle_since.setdefault(worker_id, now) >= IDLE_RETIRE_S:
                self.ready.discard(worker_id)
                self.idle_since.pop(worker_id, None)
                self.retiring.add(worker_id)
                self.pool.send(worker_id, p.Shutdown())
                log.info("retiring idle line worker %s", worker_id)
                return

    # ------------------------------------------------------------------------------------ deaths

    def died(self, event: p.WorkerDied) -> list[str] | None:
        """Forget a worker that exited; returns the agents whose legs it held (to call again), or None when
        it was a retired idle worker leaving as asked."""
        if event.worker_id in self.retiring and not event.attempt_ids and not event.agent_ids:
            self.retiring.discard(event.worker_id)
            self.load.pop(event.worker_id, None)
            return None
        self.ready.discard(event.worker_id)
        self.starting.pop(event.worker_id, None)
        self.load.pop(event.worker_id, None)
        orphans = set(event.agent_ids) | {a for a, w in self.agent_worker.items() if w == event.worker_id}
        for agent_id in orphans:
            self.agent_worker.pop(agent_id, None)
        return sorted(orphans)
