"""`clearline demo --console` keeps the floor running, serves the console and prints working logins."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout_s: float) -> tuple[re.Match[str], str]:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen += line
        match = re.search(pattern, seen)
        if match:
            return match, seen
    raise AssertionError(f"no {pattern!r} in the demo's output:\n{seen}")


@pytest.mark.sip
def test_demo_with_console_prints_the_url_and_logins_that_work_and_stops_on_ctrl_c(repo_root: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="cl-"))  # short: the embedded servers' unix sockets live under it
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(CLEARLINE_HOME=str(home), CLEARLINE_PORT="0", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clearline.cli",
            "demo",
            "--console",
            "--leads",
            "60",
            "--agents",
            "3",
            "--seed",
            "5",
        ],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        match, _ = _read_until(
            proc,
            r"Console: (http://\S+)\n\s+campaign manager: (\S+)\s+password (\S+)\n\s+agent:\s+(\S+)\s+password (\S+)",
            180,
        )
        url, manager, password = match.group(1), match.group(2), match.group(3)
        base = url.removesuffix("/console")
        with httpx.Client(base_url=base, timeout=10) as http:
            login_page = http.get("/console/login")
            token = re.search(r'name="csrf-token" content="([^"]+)"', login_page.text)
            assert token
            done = http.post(
                "/console/login",
                data={"email": manager, "password": password},
                headers={"X-CSRF-Token": token.group(1), "HX-Request": "true"},
            )
            assert done.status_code == 200 and done.headers["hx-redirect"] == "/console"
            campaigns = http.get("/console/campaigns")
            assert "Demo predictive campaign" in campaigns.text
            campaign_id = re.search(r'href="/console/campaigns/([0-9a-f-]{36})/wallboard"', campaigns.text)
            assert campaign_id
            with http.stream("GET", f"/console/campaigns/{campaign_id.group(1)}/wallboard/events") as events:
                for line in events.iter_lines():
                    if line.startswith("data: "):
                        assert '"engine_running": true' in line
                        break
        assert proc.poll() is None  # still dialing
        proc.send_signal(signal.SIGINT)
        _, tail = _read_until(proc, r"calls placed\s+\d+", 90)
        assert "stopping" in tail
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)
