"""The line worker's timers and its Redis channel, without pjsua2 (real Redis, as everywhere)."""

from __future__ import annotations

import uuid

from core.runtime import Runtime
from dialer.sip import protocol as p
from dialer.sip.channel import WorkerChannel
from dialer.sip.keys import command_key
from dialer.sip.timers import TimerQueue


def test_timers_fire_when_due_earliest_first() -> None:
    timers, fired = TimerQueue(), []
    timers.schedule(100.0, 2.0, lambda: fired.append("safe harbor end"))
    timers.schedule(100.0, 0.5, lambda: fired.append("ring timeout"))
    timers.schedule(100.0, 0.5, lambda: fired.append("second at the same time"))
    assert timers.fire_due(100.4) == 0 and fired == []
    assert timers.fire_due(100.5) == 2 and fired == ["ring timeout", "second at the same time"]
    assert timers.fire_due(103.0) == 1 and len(timers) == 0


def test_an_early_read_for_expect_bridge_keeps_every_other_command_in_order(runtime: Runtime) -> None:
    pool, worker = f"t-{uuid.uuid4().hex[:6]}", "w-1"
    channel = WorkerChannel(runtime.redis_url, pool=pool, worker_id=worker)
    try:
        queued = [
            p.Hangup(attempt_id="a-1"),
            p.ExpectBridge(attempt_id="a-2", agent_id="ag", token="tok", source="127.0.0.1:5071"),
            p.ReleaseAgent(agent_id="ag-2"),
        ]
        runtime.redis.rpush(command_key(pool, worker), *(p.encode(c) for c in queued))
        assert channel.take_expect_bridges() == [queued[1]]
        runtime.redis.rpush(command_key(pool, worker), p.encode(p.Shutdown()))
        got = [p.decode_command(raw) for raw in channel.commands()]
        assert got == [queued[0], queued[2], p.Shutdown()]
        assert channel.commands() == []
    finally:
        channel.close()
