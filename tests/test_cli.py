"""The foundation's commands, run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import select

from core.db import ALL_ORGS
from core.models import Organization, Role, User
from core.runtime import Runtime


def _clearline(
    repo_root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearline.cli", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or os.environ.copy(),
    )


def test_migrate_create_org_and_create_user(runtime: Runtime, repo_root: Path) -> None:
    assert _clearline(repo_root, "migrate").returncode == 0
    name = f"Cli Org {uuid.uuid4().hex[:6]}"
    out = _clearline(repo_root, "create-org", name)
    assert out.returncode == 0, out.stderr
    org_id = uuid.UUID(out.stdout.strip())
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    made = _clearline(repo_root, "create-user", "--email", email, "--role", "manager", "--org", name)
    assert made.returncode == 0, made.stderr
    assert "password:" in made.stdout
    with runtime.db.session(ALL_ORGS) as s:
        assert s.get(Organization, org_id) is not None
        user = s.scalars(select(User).where(User.email == email)).one()
        assert user.org_id == org_id and user.role is Role.MANAGER


def test_bad_input_gets_one_clear_line_not_a_traceback(runtime: Runtime, repo_root: Path) -> None:
    out = _clearline(repo_root, "create-user", "--email", "not-an-email", "--role", "agent", "--org", "nope")
    assert out.returncode == 2
    assert "error: no organization 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


def test_commands_refuse_an_unmigrated_database_and_say_how_to_fix_it(
    runtime: Runtime, repo_root: Path
) -> None:
    name = f"empty_{uuid.uuid4().hex[:8]}"
    admin = runtime.database_url.replace("postgresql+psycopg://", "postgresql://").replace(
        "/clearline?", "/postgres?"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = os.environ.copy()
    env["DATABASE_URL"] = runtime.database_url.replace("/clearline?", f"/{name}?")
    out = _clearline(repo_root, "create-org", "Nobody", env=env)
    assert out.returncode == 2
    assert "run `clearline migrate` first" in out.stderr


def test_commands_that_change_no_data_need_no_database(repo_root: Path) -> None:
    """A pacing simulation is pure: it ran, then waited ~20 s for a database it never needed (to audit the
    command) and printed a traceback about it when none was reachable."""
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    out = _clearline(
        repo_root, "simulate", "--policy", "ratio", "--agents", "3", "--hit-rate", "0.3", "--talk-mean", "60",
        "--wrap-mean", "5", "--hours", "0.2", "--seed", "1", "--lines-per-agent", "3", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "abandon_rate" in out.stdout
    assert "could not audit" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_synthetic_clock_is_refused_outside_a_demo_data_directory(runtime: Runtime, repo_root: Path) -> None:
    """`clearline dialer --synthetic-clock` (the multi-supervisor demo at night) would let a campaign dial
    outside calling hours on a real floor: only a data directory the demo made may use it."""
    out = _clearline(
        repo_root, "dialer", "--supervisor-id", "clock-probe",
        "--synthetic-clock", f"{uuid.uuid4()}=2026-06-01T16:00:00+00:00",
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    assert "only on a data directory made by `clearline demo`" in out.stderr
