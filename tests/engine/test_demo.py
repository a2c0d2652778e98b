"""`clearline demo` runs a whole floor end to end and its figures are consistent with each other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest


def test_clearline_demo_json_runs_and_its_numbers_add_up(repo_root: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="cl-"))  # short: the embedded servers' unix sockets live under it
    try:
        _run_demo_and_check(home, repo_root)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_demo_and_check(home: Path, repo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CLEARLINE_HOME"] = str(home)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clearline.cli",
            "demo",
            "--seconds",
            "20",
            "--leads",
            "200",
            "--json",
            "--seed",
            "7",
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["calls_placed"] > 0
    assert summary["carrier_invites"] == summary["calls_placed"]
    assert summary["identity_verified"] == summary["calls_placed"] and summary["identity_failed"] == 0
    assert summary["dnc_dialed"] == 0 and summary["dnc_blocked"] >= 1
    assert summary["human_answered"] == summary["connected_to_agent"] + summary["abandoned"]
    expected_rate = summary["abandoned"] / summary["human_answered"] if summary["human_answered"] else 0.0
    assert abs(summary["abandon_rate"] - expected_rate) < 1e-3
    assert summary["connected_to_agent"] >= 1 and summary["answer_to_agent_ms_p99"] <= 2000
    assert summary["in_progress"] == 0  # every call was finalized before the demo returned
    assert summary["attempts_with_evidence"] == summary["attempts"] > 0  # dialed and blocked alike
    assert 1 <= summary["max_concurrent_calls"] <= summary["calls_placed"]
    assert "calls" in proc.stderr and "Clearline demo" in proc.stderr  # the live display went to stderr
    assert summary["data_dir"].startswith(str(home / "demo"))
    # Every process it started is gone: nothing runs from its data dir any more.
    leftovers = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if any(str(home) in part for part in (p.info["cmdline"] or []))
    ]
    assert leftovers == []


@pytest.mark.slow
def test_clearline_demo_with_two_supervisors_survives_a_kill_9_without_losing_or_redialing(
    repo_root: Path,
) -> None:
    """`--supervisors 2 --kill-one-at 12`: two `clearline dialer` processes share the campaign, its owner is
    killed with -9 mid-run, the other takes it over; the figures come from the attempts, leads and carrier."""
    home = Path(tempfile.mkdtemp(prefix="cl-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["CLEARLINE_HOME"] = str(home)
        args = ["demo", "--seconds", "30", "--leads", "200", "--json", "--seed", "11"]
        proc = subprocess.run(
            [sys.executable, "-m", "clearline.cli", *args, "--supervisors", "2", "--kill-one-at", "12"],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(proc.stdout)
        assert "killed supervisor" in proc.stderr
        assert summary["supervisors"] == 2
        assert summary["campaign_takeovers"] >= 1
        assert summary["leads_lost"] == 0 and summary["in_progress"] == 0
        assert summary["leads_dialed_twice"] == 0
        assert 1 <= summary["max_cps_observed"] <= summary["trunk_max_cps"]
        assert summary["carrier_invites"] == summary["calls_placed"] > 0
        assert summary["connected_to_agent"] >= 1 and summary["dnc_dialed"] == 0
        leftovers = [
            p.info["pid"]
            for p in psutil.process_iter(["pid", "cmdline"])
            if any(str(home) in part for part in (p.info["cmdline"] or []))
        ]
        assert leftovers == []
    finally:
        shutil.rmtree(home, ignore_errors=True)
