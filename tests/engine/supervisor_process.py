"""One dialer supervisor as a process of its own, for the failover test (test_supervisor_failover.py):
`python -m tests.engine.supervisor_process ID PROFILES_DIR LOG_DIR CAMPAIGN_ID...`. It joins the test's
PostgreSQL and Redis through DATABASE_URL / REDIS_URL and runs until SIGTERM (or kill -9). The compliance
verdict is taken at noon Eastern (as the in-process engine tests do) so that any area code is callable."""

from __future__ import annotations

import logging
import signal
import sys
import threading
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
    engine = Engine(runtime, identity, config)
    engine.start()
    print("started", flush=True)
    stop.wait()
    engine.stop(drain_s=2)


if __name__ == "__main__":
    main()
