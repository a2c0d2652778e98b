"""Child processes that die with their parent, and a lock that keeps one supervisor per pool.

`spawn` starts a child in its own process group with the parent-death signal set (Linux
`PR_SET_PDEATHSIG`): if the parent dies, even by `kill -9`, the kernel sends the child SIGTERM and it
shuts down as on a normal stop, taking its own children with it. `SingleInstance` is an exclusive
`flock` on a file under the data dir: the kernel releases it when its holder dies, so a live holder is
always detected (and named) and a dead one never blocks a restart.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from core.errors import ConflictError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "CLEARLINE_PARENT_PID"
# A spool directory owned by one process: <prefix><host>.<pid>, optionally followed by -<mkdtemp suffix>.
_OWNED_NAME = re.compile(r"^(?P<host>.+)\.(?P<pid>\d+)(?:-[^.]*)?$")


def owner_tag() -> str:
    """This process's name for a spool directory it owns (`sweep_dead_owners` removes it once it is gone)."""
    return f"{socket.gethostname()}.{os.getpid()}"


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_dead_owners(parent: Path, prefix: str) -> list[Path]:
    """Remove the directories `<prefix><owner_tag>` under `parent` whose process (on this host) is dead:
    what a killed process left (a recording or AMD spool, personal data). A directory of another host, or
    of a live process (even one reusing a dead one's pid: kept, never a live one's removed) is kept.
    Returns and logs what was removed."""
    removed: list[Path] = []
    host = socket.gethostname()
    try:
        entries = list(parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir() or entry.is_symlink():
            continue
        owned = _OWNED_NAME.match(entry.name[len(prefix) :])
        if owned is None or owned["host"] != host or pid_is_alive(int(owned["pid"])):
            continue
        files = sum(1 for f in entry.rglob("*") if f.is_file())
        shutil.rmtree(entry, ignore_errors=True)
        if entry.exists():
            log.warning("spool directory %s of dead process %s could not be removed", entry, owned["pid"])
            continue
        log.warning(
            "removed spool directory %s of dead process %s (%d file(s) it left)", entry, owned["pid"], files
        )
        removed.append(entry)
    return removed


def _die_with_parent(parent_pid: int, armed: bool) -> None:
    """Runs in the child between fork and exec."""
    os.setpgid(0, 0)  # own group: a terminal's Ctrl-C reaches the parent, which stops children in order
    if not armed:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: children are still stopped by the parent's finally
        pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def spawn(argv: list[str], *, parent_death_signal: bool = True, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen in its own process group, signalled SIGTERM when the parent dies. The kernel sends that
    signal when the *thread* that spawned the child ends, so a child started from a short-lived thread
    passes `parent_death_signal=False` and watches its parent itself (`watch_parent`)."""
    parent = os.getpid()
    env = dict(kwargs.pop("env", None) or os.environ)
    env[PARENT_PID_ENV] = str(parent)  # what the child's `watch_parent` compares with, even if it starts late
    return subprocess.Popen(
        argv, preexec_fn=lambda: _die_with_parent(parent, parent_death_signal), env=env, **kwargs
    )


def watch_parent(on_orphaned: Callable[[], None], every_s: float = 1.0) -> threading.Thread:
    """Call `on_orphaned` once when this process's parent is gone (it was re-parented), also when that
    happened before this was called (the parent that spawned us is named in the environment)."""
    parent = int(os.environ.get(PARENT_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        log.warning("parent process %d is gone: stopping", parent)
        on_orphaned()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def stop_process(child: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`; the child's process group goes with it."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):  # what the child left in its group
        os.killpg(child.pid, signal.SIGKILL)


class SingleInstance:
    """Hold `path` exclusively for the life of this process; `ConflictError` naming the holder if a
    live process already does."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fh: IO[str] | None = None

    def acquire(self) -> SingleInstance:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(self.path, "a+")  # noqa: SIM115 - held open until release()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise ConflictError(
                f"{self.what} is already running (pid {holder}); stop it first, or use another name"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
