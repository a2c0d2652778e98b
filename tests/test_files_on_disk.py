"""Everything under CLEARLINE_HOME is private (directories 0700, files 0600): scrub reports, DNC uploads
and bitmaps, Redis's appendonly.aof and dump.rdb, dialer logs, credentials - with embedded PostgreSQL
still reaching its data dir when run by root; and the first-run admin password is never printed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from core.home import secure_home
from core.runtime import Runtime
from dnc.lists import import_numbers
from dnc.scrub import scrub_file
from tests.conftest import Tenant

AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def loose_entries(home: Path) -> list[str]:
    """Whatever under `home` a user other than the owner could read or enter."""
    loose = []
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(root) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                continue
            if stat.S_IMODE(st.st_mode) & 0o077:
                loose.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(home)}")
    return loose


def test_data_files_of_every_kind_are_private_and_the_data_dir_lets_only_postgres_through(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    home = runtime.settings.home
    import_numbers(
        runtime.db, kind="national", numbers=["2025550143"], owner_org_id=tenant.id, obtained_at=AT
    )
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n2025550143\n2025550150\n")
    scrub_file(runtime.db, tenant.id, leads, home / "dnc" / "reports" / f"{uuid.uuid4()}.csv", at=AT)
    runtime.redis.set(f"probe-{uuid.uuid4().hex}", "+12025550143")
    runtime.redis.bgrewriteaof()
    runtime.redis.bgsave(schedule=True)
    log = home / "logs" / "dialer" / "w-probe.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:  # as LineWorkerPool opens a line worker's log
        fh.write(b"INVITE sip:+12025550143@trunk\n")
    deadline = time.monotonic() + 10
    while not (home / "redis" / "dump.rdb").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    present = {p.relative_to(home).parts[0] for p in home.rglob("*") if not p.is_relative_to(home / "pg")}
    assert {"dnc", "redis", "logs", "secret_key"} <= present
    assert list((home / "dnc" / "reports").iterdir()) and (home / "redis" / "appendonly.aof").exists()
    assert loose_entries(home) == [], loose_entries(home)
    as_root_with_embedded_postgres = os.geteuid() == 0 and runtime.settings.uses_embedded_postgres
    assert stat.S_IMODE(home.stat().st_mode) == (0o710 if as_root_with_embedded_postgres else 0o700)
    if as_root_with_embedded_postgres:
        assert home.stat().st_gid == 0  # the PostgreSQL user runs with gid 0: it passes, nobody else
        assert (home / "pg").owner() == "embedded_postgres"


def test_an_older_data_dir_left_world_readable_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dnc" / "reports").mkdir(parents=True)
    (home / "redis").mkdir()
    for name in ("dnc/reports/r.csv", "redis/dump.rdb", "admin-credentials"):
        (home / name).write_text("+12025550143\n")
        (home / name).chmod(0o644)
    for directory in (home, home / "dnc", home / "dnc" / "reports", home / "redis"):
        directory.chmod(0o755)
    assert secure_home(home) == 7
    assert loose_entries(home) == [] and stat.S_IMODE(home.stat().st_mode) == 0o700


def test_first_run_says_where_the_admin_password_is_and_never_prints_it(
    runtime: Runtime, repo_root: Path, tmp_path: Path
) -> None:
    """A fresh data dir and database: `clearline up` creates the platform admin."""
    database = f"firstrun_{uuid.uuid4().hex[:8]}"
    admin_url = runtime.database_url.replace("postgresql+psycopg://", "postgresql://").replace(
        "/clearline?", "/postgres?"
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    home = tmp_path / "fresh-home"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own embedded Redis
    env.update(
        CLEARLINE_HOME=str(home),
        DATABASE_URL=runtime.database_url.replace("/clearline?", f"/{database}?"),
        CLEARLINE_PORT="0",
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "up", "--no-workers", "--no-dialer"],
        cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        lines = []
        while len(lines) < 10 and lines[-1:] != [""]:  # up to the first-run line (or the end)
            lines.append(up.stdout.readline())
            if lines[-1].startswith(("First run", "Admin credentials")):
                break
    finally:
        up.terminate()
        out = "".join(lines) + up.communicate(timeout=60)[0]
    credentials = home / "admin-credentials"
    email, password = credentials.read_text().split()
    assert f"First run: platform admin {email}; its password is in {credentials} (mode 0600)" in out, out
    assert password not in out
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert loose_entries(home) == [], loose_entries(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700  # no embedded PostgreSQL here: fully private
