"""The data dir (`CLEARLINE_HOME`) is private: directories 0700, files 0600, for every process.

It holds phone numbers (scrub reports, DNC uploads and bitmaps, Redis's `appendonly.aof` and `dump.rdb`
with job messages and dial commands, dialer logs), the secret key and the admin credentials. Every
Clearline process sets its umask to 077 before it creates anything (children such as Redis inherit
it), and `secure_home` tightens what an older version or another tool left more open.

Embedded PostgreSQL run by root runs as its own system user (uid `embedded_postgres`, gid 0, see
`core.embedded`), which must be able to pass through the data dir to reach `pg/`: then the data dir is
0710 with group root, so that user can traverse it and nobody else can enter or list it. `pg/` itself
belongs to that user, and PostgreSQL keeps it 0700/0600.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
DIR_MODE, FILE_MODE = 0o700, 0o600
HOME_MODE_FOR_POSTGRES_USER = 0o710


def private_umask() -> None:
    os.umask(PRIVATE_UMASK)


def postgres_runs_as_another_user(home: Path) -> bool:
    """An embedded PostgreSQL data dir here that belongs to another user (root ran it as its own user).
    Decided from the disk, not from settings: a child process joins the server through DATABASE_URL."""
    try:
        return (home / "pg").stat().st_uid != os.geteuid()
    except FileNotFoundError:
        return False


def home_mode(home: Path) -> int:
    return HOME_MODE_FOR_POSTGRES_USER if postgres_runs_as_another_user(home) else DIR_MODE


def secure_home(home: Path) -> int:
    """Make everything under `home` private (except `pg/`, PostgreSQL's own); returns how many modes
    were changed."""
    changed = 0
    mode = home_mode(home)
    if stat.S_IMODE(home.stat().st_mode) != mode:
        home.chmod(mode)
        changed += 1
    for root, dirs, files in os.walk(home):
        here = Path(root)
        if here == home and "pg" in dirs:
            dirs.remove("pg")  # owned by the PostgreSQL system user, kept 0700/0600 by PostgreSQL
        for name in dirs:
            changed += _tighten(here / name, DIR_MODE)
        for name in files:
            changed += _tighten(here / name, FILE_MODE)
    if changed:
        log.info("data dir %s: made %d file(s) and directories private", home, changed)
    return changed


def _tighten(path: Path, mode: int) -> int:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return 0  # links are not followed; sockets carry their own permission (Redis: unixsocketperm 700)
    if stat.S_IMODE(st.st_mode) & ~mode:
        path.chmod(stat.S_IMODE(st.st_mode) & mode)
        return 1
    return 0
