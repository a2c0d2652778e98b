"""Line workers under stress and failure: the admission rule holds past 30 calls without losing a lead,
and a worker killed mid-call is reported dead with the attempts and agents it held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from core.runtime import Runtime
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool
from tests.sip.conftest import CALLER, Simulators, collect, ended, first, wait_for_stats, write_profile

pytestmark = pytest.mark.sip


def test_more_dials_than_slots_wait_for_admission_and_all_complete(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, carrier_stats = simulators.carrier(
        CarrierBehaviour(human=1, machine=0, no_answer=0, busy=0, ring_s=(0.2, 0.4), talk_s=(0.8, 1.2))
    )
    trunk = write_profile(tmp_path, "sim", carrier_port)
    worker = pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([worker])
    attempts = {f"burst-{i}" for i in range(45)}
    for i, attempt_id in enumerate(sorted(attempts)):
        pool.send(
            worker, p.DialLead(attempt_id=attempt_id, to=f"+1720555{i:04d}", from_number=CALLER, trunk=trunk)
        )

    events = collect(pool, lambda evs: ended(evs, attempts), 30)
    outcomes = {e.attempt_id: e.outcome for e in events if isinstance(e, p.Ended)}
    assert set(outcomes.values()) == {p.SipOutcome.ANSWERED}, outcomes
    stats = wait_for_stats(carrier_stats, lambda s: s["invites"] == 45)
    assert stats["max_concurrent"] <= 30


def test_worker_killed_mid_call_is_reported_dead_with_its_attempts_and_agents(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, _ = simulators.carrier(CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(60, 60)))
    phones_port, _ = simulators.phones()
    trunk = write_profile(tmp_path, "sim", carrier_port)
    doomed, survivor = pool.start_worker(profiles_dir=tmp_path), pool.start_worker(profiles_dir=tmp_path)
    pool.wait_ready([doomed, survivor])
    pool.send(doomed, p.CallAgent(agent_id="agent-on-doomed", sip_uri=f"sip:a1@127.0.0.1:{phones_port}"))
    for attempt_id, headers in (("talking", "human"), ("ringing", "no_answer")):
        pool.send(
            doomed,
            p.DialLead(
                attempt_id=attempt_id,
                to="+17205550001",
                from_number=CALLER,
                trunk=trunk,
                extra_headers={"X-Sim-Behaviour": headers},
            ),
        )
    pool.send(
        survivor,
        p.DialLead(
            attempt_id="elsewhere",
            to="+17205550002",
            from_number=CALLER,
            trunk=trunk,
            extra_headers={"X-Sim-Behaviour": "no_answer"},
        ),
    )
    collect(
        pool,
        lambda evs: (
            {e.attempt_id for e in evs if isinstance(e, p.Answered)} == {"talking"}
            and {e.attempt_id for e in evs if isinstance(e, p.Ringing)} >= {"ringing", "elsewhere"}
            and any(isinstance(e, p.AgentLegUp) for e in evs)
        ),
        10,
    )
    pid = pool.workers()[doomed].ready.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)

    events = collect(pool, lambda evs: any(isinstance(e, p.WorkerDied) for e in evs), 5)
    died = next(e for e in events if isinstance(e, p.WorkerDied))
    assert died.worker_id == doomed and died.exit_code == -signal.SIGKILL
    assert died.attempt_ids == ["ringing", "talking"]
    assert died.agent_ids == ["agent-on-doomed"]
    holders = {a: w for w, info in pool.workers().items() for a in info.attempt_ids}
    assert "talking" not in holders and holders["elsewhere"] == survivor
    assert doomed not in pool.workers()


def test_worker_started_elsewhere_joins_the_pool_and_is_declared_dead_when_its_heartbeat_stops(
    runtime: Runtime, tmp_path: Path
) -> None:
    # A worker on "another machine": started by hand, known to the pool only through Redis.
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", heartbeat_timeout_s=1.5)
    argv = [sys.executable, "-m", "dialer.sip.line_worker", "--redis-url", runtime.redis_url]
    argv += ["--pool", pool.pool, "--worker-id", "remote-1"]
    remote = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pool.wait_ready(["remote-1"])
        assert pool.workers()["remote-1"].sip_uri.startswith("sip:remote-1@127.0.0.1:")
        remote.send_signal(signal.SIGSTOP)  # alive but silent, as behind a dead network link
        events = collect(pool, lambda evs: any(isinstance(e, p.WorkerDied) for e in evs), 6)
        died = next(e for e in events if isinstance(e, p.WorkerDied))
        assert died.worker_id == "remote-1" and died.exit_code is None
    finally:
        remote.kill()
        remote.wait()
        pool.close()


def test_hung_local_worker_is_killed_and_reported_dead(runtime: Runtime) -> None:
    pool = LineWorkerPool(runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", heartbeat_timeout_s=1.5)
    try:
        worker = pool.start_worker()
        pool.wait_ready([worker])
        process = pool.workers()[worker].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        events = collect(pool, lambda evs: any(isinstance(e, p.WorkerDied) for e in evs), 6)
        died = next(e for e in events if isinstance(e, p.WorkerDied))
        assert died.worker_id == worker and died.exit_code == -signal.SIGKILL
        assert process.poll() is not None
    finally:
        pool.close()


def test_agent_phone_hanging_up_mid_call_leaves_the_lead_up_and_reports_the_lost_bridge(
    simulators: Simulators, make_pool: Callable[[], LineWorkerPool], tmp_path: Path
) -> None:
    pool = make_pool()
    carrier_port, _ = simulators.carrier(CarrierBehaviour(ring_s=(0.1, 0.1), talk_s=(4, 4)))
    phones_port, _ = simulators.phones()
    phones = simulators.processes[-1]
    trunk = write_profile(tmp_path, "sim", carrier_port)
    lead_worker, agent_worker = (
        pool.start_worker(profiles_dir=tmp_path),
        pool.start_worker(profiles_dir=tmp_path),
    )
    pool.wait_ready([lead_worker, agent_worker])
    for agent_id, worker in (("near", lead_worker), ("far", agent_worker)):
        pool.send(worker, p.CallAgent(agent_id=agent_id, sip_uri=f"sip:{agent_id}@127.0.0.1:{phones_port}"))
    agent_for = {"to-near": "near", "to-far": "far"}
    for attempt_id in agent_for:
        pool.send(
            lead_worker,
            p.DialLead(
                attempt_id=attempt_id,
                to="+17205550003",
                from_number=CALLER,
                trunk=trunk,
                extra_headers={"X-Sim-Behaviour": "human"},
            ),
        )

    def bridge_on_answer(event: p.Event) -> None:
        if isinstance(event, p.Answered):
            pool.bridge(event.attempt_id, agent_for[event.attempt_id])

    collect(pool, lambda evs: sum(isinstance(e, p.Bridged) for e in evs) == 2, 10, bridge_on_answer)
    phones.send_signal(signal.SIGUSR1)  # every agent's phone hangs up
    events = collect(pool, lambda evs: ended(evs, set(agent_for)), 10)
    lost = {e.attempt_id: e.reason for e in events if isinstance(e, p.BridgeFailed)}
    assert lost == {"to-near": "agent leg lost", "to-far": "agent leg lost"}
    assert {e.agent_id for e in events if isinstance(e, p.AgentLegDown)} == {"near", "far"}
    for attempt_id in agent_for:  # the callees stayed on the line until they hung up themselves
        end = first(events, p.Ended, attempt_id=attempt_id)
        assert isinstance(end, p.Ended) and end.answered and end.at - lost_at(events, attempt_id) > 1.0
    assert not [e for e in events if isinstance(e, p.AgentFree)]


def lost_at(events: list[p.Event], attempt_id: str) -> float:
    return next(e.at for e in events if isinstance(e, p.BridgeFailed) and e.attempt_id == attempt_id)
