"""`clearline up` serves the API (health and OpenAPI) and runs job workers, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.runtime import Runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_clearline_up_serves_health_and_openapi(runtime: Runtime, repo_root: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "up", "--port", str(port)],
        cwd=repo_root,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)  # the API, then its job workers come up
        assert health is not None and health.status_code == 200, "API did not come up"
        checks = health.json()["checks"]
        assert checks["database"] == checks["redis"] == "ok" and checks["job_workers"].startswith("ok ("), (
            checks
        )
        # the first request builds the OpenAPI document (some 200 routes now): seconds on a loaded machine
        doc = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=30)
        assert doc.status_code == 200 and "/api/health" in doc.json()["paths"]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert f"http://127.0.0.1:{port}/api/health" in out
    assert proc.returncode is not None
