"""The embedded PostgreSQL and Redis: started on demand, shared by processes, stopped by the last one,
and the data survives a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from core.runtime import Runtime
    rt = Runtime.start()
    mode = sys.argv[1]
    with rt.db.engine.begin() as c:
        if mode == "write":
            c.execute(text("CREATE TABLE IF NOT EXISTS probe (v text)"))
            c.execute(text("INSERT INTO probe VALUES (:v)"), {"v": "kept"})
            rt.redis.set("probe", "kept-too")
        rows = [r[0] for r in c.execute(text("SELECT v FROM probe"))]
    print("DATA", rows, rt.redis.get("probe"), flush=True)
    if mode == "write":
        print("READY", flush=True)
        sys.stdin.readline()  # hold the servers until told to go
    """
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CLEARLINE_HOME"] = str(home)
    return env


def _server_pids(home: Path) -> set[int]:
    pids = set()
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(home) in cmd and ("postgres" in cmd or "redis-server" in cmd):
            pids.add(p.pid)
    return pids


def test_embedded_services_are_shared_stopped_by_the_last_user_and_keep_data(
    tmp_path: Path, repo_root: Path
) -> None:
    home = tmp_path / "home"
    env = _env(home)
    holder = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "write"],
        cwd=repo_root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        lines = [holder.stdout.readline() for _ in range(2)]
        assert "['kept']" in lines[0] and "kept-too" in lines[0], lines
        assert _server_pids(home), "servers should be running while a process uses them"
        joiner = subprocess.run(
            [sys.executable, "-c", SCRIPT, "read"],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "['kept']" in joiner.stdout and "kept-too" in joiner.stdout, joiner.stderr[-2000:]
        assert _server_pids(home), "a second process leaving must not stop servers the first still uses"
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    deadline = time.monotonic() + 20
    while _server_pids(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _server_pids(home), "the last process to leave stops the servers"
    again = subprocess.run(
        [sys.executable, "-c", SCRIPT, "read"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "['kept']" in again.stdout and "kept-too" in again.stdout, again.stderr[-2000:]


def test_a_client_killed_with_sigkill_does_not_keep_embedded_postgres_running_for_ever(
    tmp_path: Path, repo_root: Path
) -> None:
    home = tmp_path / "home"
    env = _env(home)
    holder = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "write"], cwd=repo_root, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert "READY" in holder.stdout.readline() + holder.stdout.readline()
    holder.kill()  # kill -9: its pid stays in the refcount file
    holder.wait()
    assert holder.pid in json.loads((home / "pg" / ".handle_pids.json").read_text())
    joiner = subprocess.run(
        [sys.executable, "-c", SCRIPT, "read"], cwd=repo_root, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert "['kept']" in joiner.stdout, joiner.stderr[-2000:]
    deadline = time.monotonic() + 20
    while _server_pids(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _server_pids(home), "the last live client stops the servers; the dead one no longer counts"
