"""The engine's handle on a pool of line workers: start/stop them, send commands, receive events, notice deaths.

Transport is Redis (see `dialer.sip` for the key layout), so a worker may run on another machine: start it
there with `python -m dialer.sip.line_worker --redis-url ... --pool ... --worker-id ...` and this client
sees it through its `WorkerReady` event and heartbeats. One `LineWorkerPool` instance should be the only
consumer of a pool's event list. Methods are safe to call from several threads (redis-py pools its
connections; the bookkeeping is behind a lock).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import redis

from core.processes import spawn
from dialer.sip import protocol as p
from dialer.sip.admission import sip_address
from dialer.sip.keys import alive_key, command_key, events_key

DEFAULT_HEARTBEAT_TIMEOUT_S = 5.0
log = logging.getLogger(__name__)
_DEATH_CHECK_INTERVAL_S = 0.2


@dataclass
class WorkerInfo:
    """What the pool knows about one worker: address once ready, last stats, what it holds right now."""

    worker_id: str
    process: subprocess.Popen[bytes] | None = None
    ready: p.WorkerReady | None = None
    stats: p.WorkerStats | None = None
    last_seen: float = 0.0
    attempt_ids: set[str] = field(default_factory=set)
    agent_ids: set[str] = field(default_factory=set)

    @property
    def sip_uri(self) -> str:
        return self.ready.sip_uri if self.ready else ""


class WorkerNotReadyError(RuntimeError):
    pass


class LineWorkerPool:
    """Starts local line-worker processes and talks to any worker of `pool` through Redis."""

    def __init__(
        self,
        redis_url: str,
        *,
        pool: str = "default",
        heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S,
        log_dir: Path | None = None,
        fresh: bool = True,
    ) -> None:
        """`fresh=True` drops events left in the pool's list by a previous client (set False to take over
        workers that kept running on other machines: their pending events are then replayed)."""
        self.redis_url = redis_url
        self.pool = pool
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.log_dir = log_dir
        self._redis = redis.Redis.from_url(redis_url)
        self._lock = threading.RLock()
        self._workers: dict[str, WorkerInfo] = {}
        self._attempt_worker: dict[str, str] = {}
        self._agent_worker: dict[str, str] = {}
        self._pending: list[p.Event] = []
        self._last_death_check = 0.0
        self._logs: list[IO[bytes]] = []
        if fresh:
            self._redis.delete(events_key(pool))

    # ------------------------------------------------------------------------------------ processes

    def start_worker(
        self,
        worker_id: str | None = None,
        *,
        sip_port: int = 0,
        rtp_port: int = 0,
        max_calls: int = 30,
        host: str = "127.0.0.1",
        profiles_dir: Path | None = None,
    ) -> str:
        """Start a line-worker process on this machine; returns its id at once (wait with `wait_ready`).

        `sip_port=0` lets the worker pick a free UDP port; `rtp_port=0` a random RTP range."""
        worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self._redis.delete(command_key(self.pool, worker_id))
        argv = [
            sys.executable,
            "-m",
            "dialer.sip.line_worker",
            "--redis-url",
            self.redis_url,
            "--pool",
            self.pool,
            "--worker-id",
            worker_id,
            "--sip-port",
            str(sip_port),
            "--rtp-port",
            str(rtp_port),
            "--max-calls",
            str(max_calls),
            "--host",
            host,
        ]
        if profiles_dir is not None:
            argv += ["--profiles-dir", str(profiles_dir)]
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file = open(self.log_dir / f"{worker_id}.log", "ab")  # noqa: SIM115 - kept open for the child
            self._logs.append(log_file)
            out = log_file
        # The engine's threads come and go: the worker watches this process itself (line_worker.main).
        process = spawn(
            argv, parent_death_signal=False, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        with self._lock:
            self._workers[worker_id] = WorkerInfo(worker_id=worker_id, process=process, last_seen=time.time())
        return worker_id

    def wait_ready(self, worker_ids: list[str], timeout_s: float = 15.0) -> None:
        """Block until every listed worker sent `WorkerReady`; other events stay queued for `events()`."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                missing = [w for w in worker_ids if not (w in self._workers and self._workers[w].ready)]
                dead = [e for e in self._pending if isinstance(e, p.WorkerDied) and e.worker_id in worker_ids]
            if dead:
                raise WorkerNotReadyError(f"line worker {dead[0].worker_id} died before it was ready")
            if not missing:
                return
            if time.monotonic() > deadline:
                raise WorkerNotReadyError(f"line workers not ready after {timeout_s} s: {missing}")
            received = self._receive(0.1)
            with self._lock:
                self._pending.extend(received)

    def stop_worker(self, worker_id: str, timeout_s: float = 5.0, *, already_asked: bool = False) -> None:
        """Ask a worker to hang up everything and exit; kill it if it does not within `timeout_s`."""
        if not already_asked:
            self.send(worker_id, p.Shutdown())
        with self._lock:
            info = self._workers.get(worker_id)
        if info is not None and info.process is not None:
            try:
                info.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                info.process.kill()
                info.process.wait()
        with self._lock:
            self._forget_worker(worker_id)

    def close(self) -> None:
        """Stop every worker this pool knows (local ones are waited for), then drop the connection."""
        with self._lock:
            ids = list(self._workers)
        for worker_id in ids:
            self.send(worker_id, p.Shutdown())
        for worker_id in ids:
            self.stop_worker(worker_id, already_asked=True)
        for log_file in self._logs:
            log_file.close()
        self._redis.close()

    # ------------------------------------------------------------------------------------- commands

    def send(self, worker_id: str, command: p.Command) -> None:
        """Queue a command for a worker. Tracks which worker holds which attempt and agent."""
        with self._lock:
            if isinstance(command, p.DialLead):
                self._attempt_worker[command.attempt_id] = worker_id
                self._info(worker_id).attempt_ids.add(command.attempt_id)
            elif isinstance(command, p.CallAgent):
                self._agent_worker[command.agent_id] = worker_id
                self._info(worker_id).agent_ids.add(command.agent_id)
        self._redis.rpush(command_key(self.pool, worker_id), p.encode(command))

    def bridge(self, attempt_id: str, agent_id: str) -> None:
        """Bridge a lead call to an agent, wherever each lives. A cross-worker bridge gets a one-time token
        that both workers are given (`dialer.sip.admission`)."""
        with self._lock:
            lead_worker = self._attempt_worker.get(attempt_id)
            agent_worker = self._agent_worker.get(agent_id)
            if lead_worker is None:
                raise KeyError(f"attempt {attempt_id} is not held by any worker of pool {self.pool}")
            if agent_worker is None:
                raise KeyError(f"agent {agent_id} has no nailed leg in pool {self.pool}")
            local = agent_worker == lead_worker
            uri = self._info(agent_worker).sip_uri
            source = sip_address(self._info(lead_worker).sip_uri)
        if local:
            self.send(lead_worker, p.Bridge(attempt_id=attempt_id, agent_id=agent_id))
            return
        # The agent's worker must hold the token before the lead's worker can send the INVITE: queued
        # first on Redis, it is there when that INVITE arrives (the worker reads it then at the latest).
        token = secrets.token_urlsafe(18)
        expect = p.ExpectBridge(attempt_id=attempt_id, agent_id=agent_id, token=token, source=source)
        self.send(agent_worker, expect)
        self.send(
            lead_worker, p.Bridge(attempt_id=attempt_id, agent_id=agent_id, agent_worker_uri=uri, token=token)
        )

    def hangup(self, attempt_id: str) -> None:
        with self._lock:
            worker = self._attempt_worker.get(attempt_id)
        if worker is not None:
            self.send(worker, p.Hangup(attempt_id=attempt_id))

    def play_safe_harbor(self, command: p.PlaySafeHarbor) -> None:
        with self._lock:
            worker = self._attempt_worker.get(command.attempt_id)
        if worker is not None:
            self.send(worker, command)

    # --------------------------------------------------------------------------------------- events

    def events(self, timeout_s: float = 0.1) -> list[p.Event]:
        """Events since the last call (blocks up to `timeout_s` for the first), including `WorkerDied`."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            return pending + self._receive(0)
        return self._receive(timeout_s)

    def _receive(self, timeout_s: float) -> list[p.Event]:
        key = events_key(self.pool)
        raw: list[bytes | str] = []
        if timeout_s > 0:
            first: Any = self._redis.blpop([key], timeout=timeout_s)
            if first is not None:
                raw.append(first[1])
        batch: Any = self._redis.lpop(key, 1000)
        if batch:
            raw.extend(batch)
        out: list[p.Event] = []
        with self._lock:
            for data in raw:
                try:
                    event = p.decode_event(data)
                except msgspec.DecodeError:
                    log.exception("line-worker pool %s: undecodable event %r", self.pool, data[:200])
                    continue
                self._track(event)
                out.append(event)
            out.extend(self._check_deaths())
        return out

    def _track(self, event: p.Event) -> None:
        info = self._workers.get(event.worker_id)
        if info is None:  # a worker started elsewhere joined the pool
            info = self._workers[event.worker_id] = WorkerInfo(worker_id=event.worker_id)
        info.last_seen = time.time()
        if isinstance(event, p.WorkerReady):
            info.ready = event
        elif isinstance(event, p.WorkerStats):
            info.stats = event
        elif isinstance(event, p.Ended):
            info.attempt_ids.discard(event.attempt_id)
            self._attempt_worker.pop(event.attempt_id, None)
        elif isinstance(event, p.AgentLegDown):
            info.agent_ids.discard(event.agent_id)
            if self._agent_worker.get(event.agent_id) == event.worker_id:
                del self._agent_worker[event.agent_id]

    def _check_deaths(self) -> list[p.Event]:
        now = time.time()
        if now - self._last_death_check < _DEATH_CHECK_INTERVAL_S:
            return []
        self._last_death_check = now
        died: list[p.Event] = []
        for worker_id, info in list(self._workers.items()):
            exit_code: int | None = None
            silent = now - info.last_seen >= self.heartbeat_timeout_s
            if info.process is not None:
                exit_code = info.process.poll()
                if exit_code is None and not (silent and info.ready):
                    continue
                if exit_code is None:  # running but hung: kill it so that it can be replaced
                    log.error(
                        "line worker %s sent nothing for %.1f s: killing it", worker_id, now - info.last_seen
                    )
                    info.process.kill()
                    exit_code = info.process.wait()
            elif not silent:
                continue
            died.append(
                p.WorkerDied(
                    worker_id=worker_id,
                    at=now,
                    exit_code=exit_code,
                    attempt_ids=sorted(info.attempt_ids),
                    agent_ids=sorted(info.agent_ids),
                )
            )
            self._forget_worker(worker_id)
        return died

    def _forget_worker(self, worker_id: str) -> None:
        info = self._workers.pop(worker_id, None)
        if info is None:
            return
        for attempt_id in info.attempt_ids:
            self._attempt_worker.pop(attempt_id, None)
        for agent_id in info.agent_ids:
            if self._agent_worker.get(agent_id) == worker_id:
                del self._agent_worker[agent_id]
        self._redis.delete(command_key(self.pool, worker_id), alive_key(self.pool, worker_id))

    # ---------------------------------------------------------------------------------------- state

    def workers(self) -> dict[str, WorkerInfo]:
        """A snapshot of the known workers (ready or starting)."""
        with self._lock:
            return dict(self._workers)

    def _info(self, worker_id: str) -> WorkerInfo:
        info = self._workers.get(worker_id)
        if info is None:
            info = self._workers[worker_id] = WorkerInfo(worker_id=worker_id, last_seen=time.time())
        return info
