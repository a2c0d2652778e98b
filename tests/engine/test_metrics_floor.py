"""A real sandbox floor (`clearline demo --console`: supervisor, line workers over loopback SIP, sipp carriers
and phones, the API) is scraped at GET /metrics with the token while it dials: the call counters of its
campaign move between two scrapes, the dial-time check and the agents are there too, and so are the line
workers' own gauges (workers, their calls, legs and pjsua2 handles), which move as calls come and go."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.console.test_demo_console import _read_until


def _sum(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _calls(text: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "clearline_calls_total":
                out[(s.labels["campaign"], s.labels["outcome"])] = s.value
    return out


@pytest.mark.sip
@pytest.mark.slow
def test_metrics_scraped_during_a_sandbox_floor_show_its_calls_moving(repo_root: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="cl-"))  # short: the embedded servers' unix sockets live under it
    token = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        CLEARLINE_HOME=str(home), CLEARLINE_PORT="0", PYTHONUNBUFFERED="1", CLEARLINE_METRICS_TOKEN=token
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "demo", "--console", "--leads", "80", "--agents", "3"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        match, _ = _read_until(proc, r"Console: (http://\S+)", 180)
        base = match.group(1).removesuffix("/console")
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=15) as http:
            assert http.get("/metrics").status_code == 401
            first: dict[tuple[str, str], float] = {}
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not any(o == "placed" for _, o in first):
                first = _calls(http.get("/metrics", headers=auth).text)
                time.sleep(1)
            placed = {c: v for (c, o), v in first.items() if o == "placed"}
            assert placed, "no call was counted within 90 s of the floor starting"
            (campaign, placed_first), *_ = placed.items()
            assert re.fullmatch(r"[0-9a-f-]{36}", campaign)  # the campaign's id, not its name or a number
            later = first
            # The line workers' own gauges (written by each worker process): seen at every scrape.
            workers, lead_calls, handles, lead_legs, in_progress = set(), set(), set(), set(), set()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                time.sleep(1)
                text = http.get("/metrics", headers=auth).text
                later = _calls(text)
                workers.add(_sum(text, "clearline_line_workers"))
                lead_calls.add(_sum(text, "clearline_line_worker_calls"))
                handles.add(_sum(text, "clearline_line_worker_pjsua_calls"))
                lead_legs.add(_sum(text, "clearline_line_worker_legs", kind="lead"))
                in_progress.add(_sum(text, "clearline_calls_in_progress", campaign=campaign))
                ended = sum(
                    v for (c, o), v in later.items() if c == campaign and o in ("human", "no_answer", "busy")
                )
                moved = len(lead_calls) > 1 and len(handles) > 1 and len(in_progress) > 1
                if later[(campaign, "placed")] > placed_first and ended > 0 and moved:
                    break
            assert max(workers) >= 1, workers  # line worker processes report themselves
            assert len(lead_calls) > 1 and max(lead_calls) > 0, lead_calls  # calls come and go on it
            assert len(handles) > 1 and max(handles) >= max(lead_calls), handles  # agents' legs hold some too
            assert max(lead_legs) > 0 and len(in_progress) > 1, (lead_legs, in_progress)
            assert 'clearline_line_worker_pjsua_calls_limit{pool="' in text
            assert later[(campaign, "placed")] > placed_first  # the counter moves while the floor dials
            assert f'clearline_dial_verdicts_total{{campaign="{campaign}"' in text
            assert f'clearline_dial_check_seconds_count{{campaign="{campaign}"}}' in text
            assert f'clearline_agents{{campaign="{campaign}",state=' in text
            assert re.search(r"\+1\d{10}", text) is None  # no phone number in any label
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)
