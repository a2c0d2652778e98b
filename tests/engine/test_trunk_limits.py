"""A trunk's limits hold across processes (issue 14): several processes take slots of one trunk on the real
Redis at once; neither the calls per second nor the concurrent calls ever exceed the trunk's limits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

from core.runtime import Runtime
from dialer.engine.trunk_limits import TrunkLimits

# Each process takes slots as fast as it can for `seconds`, holding each for `hold_s`; prints the moment
# (after the grant) and the end (before the release) of every slot it got.
_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import redis
    from dialer.engine.trunk_limits import TrunkLimits
    url, trunk, cps, concurrent, seconds, hold_s = sys.argv[1:]
    limits = TrunkLimits(redis.Redis.from_url(url))
    held, out = [], []
    end = time.time() + float(seconds)
    while time.time() < end:
        now = time.time()
        while held and held[0][0] <= now:
            _, start, token = held.pop(0)
            out.append((start, time.time()))
            limits.release(trunk, token)
        token = limits.acquire(trunk, float(cps), int(concurrent))
        if token is not None:
            held.append((time.time() + float(hold_s), time.time(), token))
        else:
            time.sleep(0.002)
    for _, start, token in held:
        out.append((start, time.time()))
        limits.release(trunk, token)
    print(json.dumps(out))
    """
)


def _run_processes(
    runtime: Runtime, trunk: str, *, cps: int, concurrent: int, seconds: float, hold_s: float, n: int = 4
) -> list[tuple[float, float]]:
    argv = [sys.executable, "-c", _WORKER, runtime.redis_url, trunk, str(cps), str(concurrent)]
    procs = [
        subprocess.Popen([*argv, str(seconds), str(hold_s)], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    slots: list[tuple[float, float]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 30)
        assert proc.returncode == 0
        slots.extend(tuple(s) for s in json.loads(out))  # type: ignore[misc]
    return slots


def _max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def _max_overlap(slots: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in slots] + [(e, -1) for _, e in slots], key=lambda x: (x[0], x[1]))
    level = best = 0
    for _, step in edges:
        level += step
        best = max(best, level)
    return best


def test_four_processes_never_place_more_calls_per_second_than_the_trunk_allows(runtime: Runtime) -> None:
    trunk = f"t-cps-{uuid.uuid4().hex[:8]}"
    slots = _run_processes(runtime, trunk, cps=20, concurrent=10_000, seconds=4.0, hold_s=0.0)
    starts = [s for s, _ in slots]
    assert _max_in_any_second(starts) <= 20
    # ... and they did use the trunk: 20 per 1.25 s (the margin for the way to the carrier) for 4 s.
    assert len(starts) >= 0.8 * 20 * 4.0 / 1.25


def test_four_processes_never_hold_more_concurrent_calls_than_the_trunk_allows(runtime: Runtime) -> None:
    trunk = f"t-conc-{uuid.uuid4().hex[:8]}"
    slots = _run_processes(runtime, trunk, cps=1000, concurrent=5, seconds=3.0, hold_s=0.03)
    assert _max_overlap(slots) <= 5
    assert len(slots) >= 100  # 5 at a time, 30 ms each: the limit was reached, again and again
    assert TrunkLimits(runtime.redis).in_flight(trunk) == 0  # every slot given back


def test_a_peek_takes_nothing_and_a_released_slot_is_free_again(runtime: Runtime) -> None:
    limits = TrunkLimits(runtime.redis)
    trunk = f"t-peek-{uuid.uuid4().hex[:8]}"
    assert limits.allowance(trunk, 5, 2, wanted=10) == 2
    assert limits.allowance(trunk, 5, 2, wanted=10) == 2  # peeking twice took nothing
    first, second = limits.acquire(trunk, 5, 2), limits.acquire(trunk, 5, 2)
    assert first and second and limits.acquire(trunk, 5, 2) is None
    limits.release(trunk, first)
    assert limits.allowance(trunk, 5, 2, wanted=10) == 1
    limits.renew(trunk, [second])
    assert limits.in_flight(trunk) == 1
