"""Processes after a crash: children die with their parent (even after kill -9), one dialer supervisor
per pool, partial uploads are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from core.errors import ConflictError
from core.processes import SingleInstance
from core.runtime import Runtime
from core.uploads import remove_stale_uploads

PARENT = textwrap.dedent(
    """
    import sys, time
    from core.processes import spawn, watch_parent
    armed = sys.argv[1] == "signal"
    child_code = (
        "import time\\n"
        "from core.processes import watch_parent\\n"
        "import os\\n"
        "watch_parent(lambda: os._exit(0), every_s=0.2)\\n"
        "time.sleep(120)\\n"
    ) if not armed else "import time; time.sleep(120)"
    child = spawn([sys.executable, "-c", child_code], parent_death_signal=armed)
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def _gone(pid: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["signal", "watch"], ids=["parent-death signal", "parent watch"])
def test_a_child_dies_when_its_parent_is_killed_with_sigkill(repo_root: Path, how: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, how], cwd=repo_root, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert psutil.pid_exists(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        assert _gone(child), "the orphaned child kept running"
    finally:
        if psutil.pid_exists(child):
            os.kill(child, signal.SIGKILL)


def test_killing_clearline_worker_takes_its_dramatiq_workers_with_it(
    runtime: Runtime, repo_root: Path
) -> None:
    from core.job_workers import live_workers

    before = set(live_workers(runtime.redis))
    sup = subprocess.Popen(
        [sys.executable, "-m", "clearline.cli", "worker", "--threads", "1"],
        cwd=repo_root,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while not (new := set(live_workers(runtime.redis)) - before) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert new, "the job worker never reported in"
        pids = [int(w.rpartition(":")[2]) for w in new]
        sup.send_signal(signal.SIGKILL)
        sup.wait()
        assert all(_gone(pid, 30) for pid in pids), "dramatiq workers outlived clearline worker"
    finally:
        if sup.poll() is None:
            sup.kill()


def test_a_second_dialer_supervisor_of_the_same_id_is_refused_naming_the_first(
    runtime: Runtime, repo_root: Path
) -> None:
    """Supervisors of one pool share the campaigns out when their ids differ (host:pid by default); a second
    start under the same id would share the first one's line workers and command lists, so it is refused."""
    from clearline.cli import main

    lock_path = runtime.settings.home / "run" / "dialer-busy-pool-probe.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from core.processes import SingleInstance\n"
         f"lock = SingleInstance(Path({str(lock_path)!r}), 'x').acquire(); print('held', flush=True); time.sleep(120)"],
        cwd=repo_root, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(main, ["dialer", "--pool", "busy-pool", "--supervisor-id", "probe"])
        assert result.exit_code != 0
        assert (
            f"a dialer supervisor 'probe' of pool 'busy-pool' is already running (pid {holder.pid})"
            in result.output
        )
    finally:
        holder.kill()
        holder.wait()
    # the holder died (kill -9): the kernel released its lock, nothing stale blocks the next start
    SingleInstance(lock_path, "x").acquire().release()
    with pytest.raises(ConflictError):
        lock = SingleInstance(lock_path, "x").acquire()
        try:
            SingleInstance(lock_path, "x").acquire()
        finally:
            lock.release()


def test_partial_and_abandoned_uploads_are_removed_but_pending_and_fresh_ones_kept(tmp_path: Path) -> None:
    leads, incoming = tmp_path / "lead-files", tmp_path / "incoming"
    leads.mkdir()
    incoming.mkdir()
    abandoned, pending, fresh = leads / "a.upload", incoming / "p.upload", incoming / "f.upload"
    report = leads / "x.errors.csv"
    for path in (abandoned, pending, fresh, report):
        path.write_text("2025550143\n")
    old = time.time() - 3600
    for path in (abandoned, pending, report):
        os.utime(path, (old, old))
    removed = remove_stale_uploads([leads, incoming], keep={pending}, older_than=timedelta(minutes=10))
    assert removed == [abandoned]
    assert pending.exists() and fresh.exists() and report.exists()
