"""One dialer supervisor as a process of its own, for the failover test (test_supervisor_failover.py):
`python -m tests.engine.supervisor_process ID PROFILES_DIR LOG_DIR CAMPAIGN_ID...` (or `@FILE`: the campaign
ids, one a line, from a file the test writes once it made them, so that the imports and the connection
to PostgreSQL and Redis, the slow part of a start, overlap with the test's setup). It joins the test's
PostgreSQL and Redis through DATABASE_URL / REDIS_URL and runs until SIGTERM (or kill -9). The compliance
verdict is taken at noon Eastern (as the in-process engine tests do) so that any area code is callable."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

from core.runtime import Runtime
from core.settings import load_settings
from dialer.engine.config import EngineConfig
from dialer.engine.identity import platform_identity
from dialer.engine.supervisor import Engine
from tests.engine.conftest import noon_eastern


def main() -> None:
    supervisor_id, profiles, logs, *campaigns = sys.argv[1:]
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {supervisor_id} %(levelname)s %(name)s: %(message)s"
    )
    runtime = Runtime.start(load_settings())
    if len(campaigns) == 1 and campaigns[0].startswith("@"):
        campaigns = _wait_for_ids(Path(campaigns[0][1:]))
    identity = platform_identity(
        runtime.db,
        secret_key=runtime.settings.secret_key,
        public_base_url="https://clearline.test",
        trust_anchors=None,
    )
    config = EngineConfig(
        supervisor_id=supervisor_id,
        pool="failover",
        campaign_ids=frozenset(uuid.UUID(c) for c in campaigns),
        compliance_clock=noon_eastern,
        extra_headers=lambda _lead: {"X-Sim-Behaviour": "human"},
        wrap_timeout_s=0.5,
        min_workers=1,
        profiles_dir=Path(profiles),
        worker_log_dir=Path(logs),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack when one does not stop
    engine = Engine(runtime, identity, config)
    engine.start()
    print("started", flush=True)
    stop.wait()
    engine.stop(drain_s=2)


def _wait_for_ids(path: Path, timeout_s: float = 300.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while not path.exists():  # written whole by a rename: once it exists it is complete
        if time.monotonic() > deadline:
            sys.exit(f"no campaign ids in {path} after {timeout_s:.0f} s")
        time.sleep(0.1)
    return path.read_text().split()


if __name__ == "__main__":
    main()
