"""A real sandbox floor (`clearline demo`: supervisor, line workers over loopback SIP, sipp carriers and
phones) run with CLEARLINE_LOG_FORMAT=json: the engine's lines about a call (the supervisor's and the line
workers') carry its campaign and attempt ids as fields, and no line carries a phone number."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

# A number as dialed (E.164) or as bare NANP digits: what a leak would look like.
_NUMBER = re.compile(r"\+1\d{10}|(?<!\d)[2-9]\d{2}[2-9]\d{6}(?!\d)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            obj = json.loads(line)  # every line that looks like JSON is one whole object
            if "logger" in obj:
                out.append(obj)
    return out


@pytest.mark.sip
@pytest.mark.slow
def test_engine_json_lines_carry_campaign_and_attempt_ids_and_no_phone_number(repo_root: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="cl-"))  # short: the embedded servers' unix sockets live under it
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        CLEARLINE_HOME=str(home), CLEARLINE_PORT="0", PYTHONUNBUFFERED="1", CLEARLINE_LOG_FORMAT="json"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "-v", "demo", "--leads", "40", "--agents", "3"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = ""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        ended = 0
        while time.monotonic() < deadline and ended < 5:
            line = proc.stdout.readline()
            if not line:
                if proc.poll() is not None:
                    break
                continue
            seen += line
            if line.startswith("{") and "ended:" in line and '"dialer.engine.floor"' in line:
                ended += 1
        assert ended >= 5, f"fewer than 5 calls ended in the demo's log:\n{seen[-4000:]}"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        seen += rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    try:
        engine = _json_lines(seen)
        workers_text = "".join(p.read_text(errors="replace") for p in home.rglob("*.log"))
        workers = [o for o in _json_lines(workers_text) if "worker_id" in o]
    finally:
        shutil.rmtree(home, ignore_errors=True)

    placed = [
        o for o in engine if o["logger"] == "dialer.engine.dial_path" and o["message"].startswith("placed")
    ]
    finished = [o for o in engine if o["logger"] == "dialer.engine.floor" and "ended:" in o["message"]]
    assert placed and finished
    for line in placed + finished:
        assert _UUID.fullmatch(line["campaign_id"]) and _UUID.fullmatch(line["attempt_id"]), line
        assert line["attempt_id"] in line["message"] and isinstance(line["lead_id"], int | str)
    campaign = placed[0]["campaign_id"]
    assert {o["campaign_id"] for o in placed} == {campaign}  # the demo runs one campaign
    # The line workers' own lines about the calls carry the same ids, and their worker's id.
    worker_ended = [o for o in workers if "ended:" in o["message"]]
    assert worker_ended, f"no line worker logged a call's end:\n{workers_text[-3000:]}"
    placed_ids = {o["attempt_id"] for o in placed}
    for line in worker_ended:
        assert line["campaign_id"] == campaign and line["attempt_id"] in placed_ids, line
        assert line["worker_id"]
    everything = [json.dumps(o) for o in engine + workers]
    leaks = [line for line in everything if _NUMBER.search(line)]
    assert not leaks, leaks[:5]
