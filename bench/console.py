"""Benchmark: the console's live wallboard pushed to 200 clients on one live campaign.

The real server (`clearline up --no-workers --no-dialer`, a separate process on the bench's embedded
PostgreSQL/Redis) serves the wallboard's Server-Sent Events; this process plays the engine (it writes the
campaign's live counters to Redis once a second, exactly as the engine does, each write an "event"
stamped with its time) and opens N plain-HTTP SSE clients with a console session.

Figures: whether every client received every update, the delay from the engine's write to each client's
receipt (p50 / p99 / max; target p99 <= 1 s), and the server's CPU with N clients against the same run
with no client (so the publisher and the fan-out are what is added).
Run: `.venv/bin/python bench/console.py [--clients 200] [--seconds 30]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

P99_TARGET_S = 1.0
PASSWORD = "bench password, long enough"


@dataclass
class ClientLog:
    received: dict[int, float] = field(default_factory=dict)  # engine write (updated_ms) -> receipt time, s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_world(runtime) -> tuple[uuid.UUID, str]:  # type: ignore[no-untyped-def]
    from campaigns.models import CampaignStatus
    from campaigns.service import create_campaign, set_status
    from core.accounts import create_org, create_user
    from core.db import ALL_ORGS, Scope
    from core.models import Role

    with runtime.db.session(ALL_ORGS) as s:
        org = create_org(s, f"bench-{uuid.uuid4().hex[:6]}")
        manager = create_user(
            s, email=f"manager@{org.slug}.example", password=PASSWORD, role=Role.MANAGER, org_id=org.id
        )
        org_id, email = org.id, manager.email
    with runtime.db.session(Scope(org_id)) as s:
        campaign = create_campaign(
            s, org_id=org_id, name="bench campaign", settings={"caller_id": "+12025550100"}
        )
        set_status(campaign, CampaignStatus.ACTIVE)
        return campaign.id, email


def login(base: str, email: str) -> str:
    import httpx

    with httpx.Client(base_url=base) as http:
        page = http.get("/console/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token, page.text[:300]
        r = http.post(
            "/console/login",
            data={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": token.group(1), "HX-Request": "true"},
        )
        assert r.status_code == 200, r.text[:300]
        return str(http.cookies["clearline_session"])


class FakeEngine:
    """Writes the campaign's live counters as the engine does (write_live_stats), once a second."""

    def __init__(self, runtime, campaign_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
        self.runtime, self.campaign_id = runtime, campaign_id
        self.writes: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from dialer.engine.live import LiveStats, write_live_stats

        client = self.runtime.redis
        n = 0
        while not self.stop.is_set():
            n += 1
            now_ms = int(time.time() * 1000)
            stats = LiveStats(
                calls_placed=n * 3,
                calls_in_progress=n % 7,
                answered=n,
                connected=n,
                dial_level=1.5,
                updated_ms=now_ms,
                running=True,
            )
            write_live_stats(client, str(self.campaign_id), stats, writer="bench")
            self.writes.append(now_ms)
            self.stop.wait(1.0)


async def sse_client(
    base: str, path: str, cookie: str, log: ClientLog, ready: asyncio.Event, count: list[int], n: int
) -> None:
    import httpx

    async with (
        httpx.AsyncClient(base_url=base, cookies={"clearline_session": cookie}, timeout=None) as http,
        http.stream("GET", path) as response,
    ):
        assert response.status_code == 200, response.status_code
        count[0] += 1
        if count[0] == n:
            ready.set()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                got = time.time()
                snapshot = json.loads(line[6:])
                log.received[int(snapshot["engine_updated_ms"])] = got


async def run_clients(
    base: str, path: str, cookie: str, n: int, seconds: float, engine: FakeEngine, server_pid: int
) -> tuple[list[ClientLog], list[int], float, float]:
    import psutil

    logs = [ClientLog() for _ in range(n)]
    ready = asyncio.Event()
    count = [0]
    tasks = [asyncio.create_task(sse_client(base, path, cookie, log, ready, count, n)) for log in logs]
    if n:
        await asyncio.wait_for(ready.wait(), 60)
    await asyncio.sleep(2.0)  # settle: every client subscribed, the publisher running
    server = psutil.Process(server_pid)
    cpu0, t0 = sum(server.cpu_times()[:2]), time.monotonic()
    first_write = len(engine.writes)
    await asyncio.sleep(seconds)
    cpu1, t1 = sum(server.cpu_times()[:2]), time.monotonic()
    writes = engine.writes[first_write : len(engine.writes) - 1]  # the last may still be in flight
    await asyncio.sleep(1.5)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return logs, writes, (cpu1 - cpu0) / (t1 - t0), t1 - t0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cl-bench-"))
    os.environ["CLEARLINE_HOME"] = str(home)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    from core.migrations import upgrade
    from core.runtime import Runtime

    runtime = Runtime.start()
    upgrade(runtime.database_url)
    campaign_id, email = setup_world(runtime)
    port = free_port()
    env = {**os.environ, "CLEARLINE_PORT": str(port), "CLEARLINE_HOST": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "up", "--no-workers", "--no-dialer"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    engine = FakeEngine(runtime, campaign_id)
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        cookie = login(base, email)
        engine.thread.start()
        path = f"/console/campaigns/{campaign_id}/wallboard/events"
        print(
            f"console wallboard bench: {args.clients} SSE clients, {args.seconds:.0f} s per run, 1 engine write/s"
        )
        _, _, idle_cpu, _ = asyncio.run(run_clients(base, path, cookie, 0, args.seconds, engine, server.pid))
        logs, writes, busy_cpu, window = asyncio.run(
            run_clients(base, path, cookie, args.clients, args.seconds, engine, server.pid)
        )
    finally:
        engine.stop.set()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        runtime.db.dispose()
        shutil.rmtree(home, ignore_errors=True)

    delays = [log.received[w] - w / 1000 for log in logs for w in writes if w in log.received]
    missing = sum(1 for log in logs for w in writes if w not in log.received)
    expected = len(logs) * len(writes)
    p50, p99, worst = (
        percentile(delays, 0.5),
        percentile(delays, 0.99),
        max(delays) if delays else float("nan"),
    )
    added = busy_cpu - idle_cpu
    if os.environ.get("BENCH_DEBUG"):
        for w in writes:
            per = [log.received[w] - w / 1000 for log in logs if w in log.received]
            print(f"    write {w}: min {min(per) * 1000:.0f} ms, max {max(per) * 1000:.0f} ms")
    print(
        f"  engine writes in the window: {len(writes)}; deliveries expected {expected}, received {expected - missing}"
        f" ({'every client got every update' if missing == 0 else f'{missing} MISSING'})"
    )
    print(
        f"  delay engine write -> client: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms"
        f"  (target p99 <= {P99_TARGET_S * 1000:.0f} ms: {'met' if p99 <= P99_TARGET_S else 'NOT met'};"
        f" ratio to target {p99 / P99_TARGET_S:.2f})"
    )
    print(
        f"  server CPU: {idle_cpu * 100:.1f}% of a core with no client, {busy_cpu * 100:.1f}% with {args.clients};"
        f" added {added * 100:.1f}% ({added * 100 / max(args.clients, 1):.3f}% per client)"
    )
    print(
        json.dumps(
            {
                "clients": args.clients,
                "writes": len(writes),
                "missing": missing,
                "p50_ms": round(p50 * 1000),
                "p99_ms": round(p99 * 1000),
                "max_ms": round(worst * 1000),
                "cpu_idle_pct": round(idle_cpu * 100, 1),
                "cpu_clients_pct": round(busy_cpu * 100, 1),
                "window_s": round(window, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
