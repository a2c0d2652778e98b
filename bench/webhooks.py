"""Benchmark: what webhooks add to the dialer's path, and how fast they go out.

1. The dialer records an opt-out key press synchronously (`DatabaseAttemptLog.opted_out`, the call that
   emits `opt_out.recorded`). Timed N times for an organization without webhooks (the baseline) and,
   interleaved, for one whose endpoint is *dead* (a socket that accepts and never answers), while a real
   dramatiq worker is stuck sending to it. Target: p50 with the dead receiver <= 1.5 x the baseline's.
2. Delivery throughput: N events to a live HTTP receiver on loopback through the same worker (4
   threads), while the dead endpoint's deliveries are still queued; events/s from the first emit to the
   last receipt (the dead endpoint is held after its first failures, so it does not starve the others).

Runs on its own embedded PostgreSQL/Redis (CLEARLINE_WEBHOOKS_ALLOW_PRIVATE=1: the receivers are local).
Run: `.venv/bin/python bench/webhooks.py [--calls 300] [--events 500]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATIO_TARGET = 1.5


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cl-bench-hooks-"))
    os.environ.update({"CLEARLINE_HOME": str(home), "CLEARLINE_WEBHOOKS_ALLOW_PRIVATE": "1"})
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import dramatiq

    from core.accounts import create_org
    from core.db import ALL_ORGS
    from core.migrations import upgrade
    from core.runtime import Runtime, set_runtime

    runtime = Runtime.start()
    upgrade(runtime.database_url)
    set_runtime(runtime)
    import clearline.actors  # noqa: F401 - declares the actors
    from core.broker import broker
    from core.webhooks.endpoints import create_endpoint
    from dialer.engine.attempt_log import DatabaseAttemptLog
    from dialer.engine.recorder import Recorder

    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead.listen(1000)  # accepts (the kernel does) and never answers
    received: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(time.monotonic())
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *a: object) -> None:
            pass

    live = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    with runtime.db.session(ALL_ORGS) as s:
        plain, hooked, busy = (
            create_org(s, f"bench {n} {time.time_ns()}").id for n in ("plain", "dead", "live")
        )
    with runtime.db.session(ALL_ORGS) as s:
        for org, port in ((hooked, dead.getsockname()[1]), (busy, live.server_address[1])):
            create_endpoint(
                s, org_id=org, url=f"http://127.0.0.1:{port}/hooks", events=["opt_out.recorded"],
                server_secret=runtime.settings.secret_key, allow_private=True, created_by=None,
            )  # fmt: skip
    worker = dramatiq.Worker(broker, queues={"webhooks"}, worker_threads=4, worker_timeout=100)
    worker.start()
    log = DatabaseAttemptLog(runtime.db, Recorder())
    try:
        for i in range(20):  # warm the pools
            log.opted_out(plain, f"+1415556{i:04d}", "warm-up")
        base: list[float] = []
        with_dead: list[float] = []
        for i in range(args.calls):
            for org, out, prefix in ((plain, base, "+1415557"), (hooked, with_dead, "+1415558")):
                t0 = time.perf_counter()
                log.opted_out(org, f"{prefix}{i:04d}", "pressed 9")
                out.append(time.perf_counter() - t0)
        b50, d50 = statistics.median(base), statistics.median(with_dead)
        print(f"opt-out recorded on the dialer's path, {args.calls} calls each:")
        print(f"  no webhooks:        p50 {b50 * 1000:6.2f} ms  p99 {p(base, 0.99) * 1000:6.2f} ms")
        print(f"  dead receiver:      p50 {d50 * 1000:6.2f} ms  p99 {p(with_dead, 0.99) * 1000:6.2f} ms")
        verdict = "met" if d50 <= RATIO_TARGET * b50 else "NOT met"
        print(f"  ratio p50 {d50 / b50:.2f} (target <= {RATIO_TARGET}: {verdict})")

        start = time.monotonic()
        for i in range(args.events):
            log.opted_out(busy, f"+1415559{i:04d}", "pressed 9")
        deadline = time.monotonic() + 300
        while len(received) < args.events and time.monotonic() < deadline:
            time.sleep(0.01)
        took = (received[-1] if received else time.monotonic()) - start
        print(
            f"delivery to a live receiver: {len(received)}/{args.events} events in {took:.2f} s = {len(received) / took:.0f} events/s (4 worker threads)"
        )
        print(f"machine load: {Path('/proc/loadavg').read_text().strip()}")
    finally:
        worker.stop()
        live.shutdown()
        dead.close()
        set_runtime(None)
        runtime.db.dispose()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
