"""Prometheus metrics shared by every Clearline process (API, supervisor, job workers, line workers).

Each process writes its samples to memory-mapped files in one directory under the data dir
(`$CLEARLINE_HOME/metrics`, prometheus_client's multiprocess mode); `GET /metrics` in the API process reads
them all, so a counter incremented by the supervisor's recorder is visible there. `configure()` is called
by `Runtime.start()` in every process: the first process of a data dir (no directory inherited in the
environment) removes the files of processes that are gone, its children inherit the directory.

Every metric here has labels: prometheus_client creates a labelled metric's storage on first `.labels()`,
after `configure()` switched the value class to the multiprocess one, whatever was imported first.
Labels carry ids (campaign id, job kind, reason code), never a phone number.

The instrumentation sits at the single places where each thing happens: `campaigns.attempts` (calls
placed, blocked, answered, connected, ended), `dialer.engine.compliance` (dial-time verdicts and how long
the check took), `core.jobs` (job durations). Figures that are state rather than events (agents by state,
DNC list age) are read at scrape time by the API (`api/metrics_route.py`).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, multiprocess, values

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
_FILE = re.compile(r"^(?P<kind>[a-z_]+)_(?P<pid>\d+)\.db$")

CALLS = Counter(
    "clearline_calls",
    "Call attempts by campaign and outcome: placed, blocked (dial-time verdict), answered_person, "
    "answered_machine, connected (bridged to an agent), and every final outcome (human, abandoned, machine, "
    "no_answer, busy, invalid, failed).",
    ["campaign", "outcome"],
)
CALLS_IN_PROGRESS = Gauge(
    "clearline_calls_in_progress",
    "Calls placed and not yet ended, by campaign.",
    ["campaign"],
    multiprocess_mode="livesum",
)
DIAL_VERDICTS = Counter(
    "clearline_dial_verdicts",
    "Dial-time compliance verdicts by campaign, verdict (callable/blocked) and reason code (none when callable).",
    ["campaign", "verdict", "reason"],
)
DIAL_CHECK_SECONDS = Histogram(
    "clearline_dial_check_seconds",
    "How long one dial-time compliance check of a batch of leased leads took.",
    ["campaign"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ANSWER_TO_AGENT_SECONDS = Histogram(
    "clearline_answer_to_agent_seconds",
    "From a person answering to the call being bridged to an agent (the legal limit is 2 s).",
    ["campaign"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
JOB_SECONDS = Histogram(
    "clearline_job_duration_seconds",
    "Long jobs (imports, scrubs, exports) from start to end, by kind and final status.",
    ["kind", "status"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)

TRUNK_CALLS = Counter(
    "clearline_trunk_calls",
    "Placed calls that ended, by trunk profile and final SIP status of the call (none: no final response "
    "was recorded, e.g. a call answered and hung up by BYE, or one that failed before any response).",
    ["trunk", "sip_status"],
)

# Each line worker process sets these at its heartbeat (every second); "livesum": a worker that is gone stops
# counting, and the sum over `worker` is the pool's figure (`clearline_line_workers` summed: workers alive).
_WORKER = ["pool", "worker"]
LINE_WORKERS = Gauge(
    "clearline_line_workers",
    "Line worker processes alive: 1 per worker.",
    _WORKER,
    multiprocess_mode="livesum",
)
LINE_WORKER_CALLS = Gauge(
    "clearline_line_worker_calls",
    "Lead calls in progress on each line worker (dialing, ringing, answered).",
    _WORKER,
    multiprocess_mode="livesum",
)
LINE_WORKER_LEGS = Gauge(
    "clearline_line_worker_legs",
    "SIP legs on each line worker by kind: lead (a call to a lead), agent (an agent's phone), internal "
    "(the loopback leg that bridges a lead to an agent).",
    [*_WORKER, "kind"],
    multiprocess_mode="livesum",
)
LINE_WORKER_HANDLES = Gauge(
    "clearline_line_worker_pjsua_calls",
    "pjsua2 call handles in use on each line worker (every leg holds one).",
    _WORKER,
    multiprocess_mode="livesum",
)
LINE_WORKER_HANDLE_LIMIT = Gauge(
    "clearline_line_worker_pjsua_calls_limit",
    "pjsua2 call handles each line worker may use (its max calls).",
    _WORKER,
    multiprocess_mode="livesum",
)
LINE_WORKER_QUEUED = Gauge(
    "clearline_line_worker_queued_dials",
    "Dials waiting on each line worker for its admission rule (a free handle, sockets to settle).",
    _WORKER,
    multiprocess_mode="livesum",
)


def metrics_dir(home: Path) -> Path:
    return home / "metrics"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files(directory: Path) -> list[tuple[Path, str, int]]:
    found = []
    for path in directory.glob("*.db"):
        match = _FILE.match(path.name)
        if match:
            found.append((path, match.group("kind"), int(match.group("pid"))))
    return found


def configure(home: Path) -> Path:
    """Put this process's metrics in the data dir's shared directory; returns the directory."""
    directory = metrics_dir(home)
    inherited = os.environ.get(ENV_DIR) == str(directory)
    if not inherited:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A new start of the platform: counters of processes that are gone start again from zero
        # (Prometheus's rate() treats that as a reset), their gauges must not count any more.
        for path, _, pid in _files(directory):
            if not _pid_alive(pid):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        os.environ[ENV_DIR] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    return directory


def configure_inherited() -> bool:
    """A child process that does not start a Runtime (a line worker): write to the directory its parent
    configured, if any; returns whether it does."""
    if not os.environ.get(ENV_DIR):
        return False
    values.ValueClass = values.MultiProcessValue()
    return True


def forget_dead_processes(directory: Path) -> None:
    """Gauges of processes that died (a killed line worker or supervisor) stop counting in the sums."""
    for _, kind, pid in _files(directory):
        if kind.startswith("gauge_live") and not _pid_alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def campaign_label(campaign_id: object) -> str:
    return str(campaign_id)


def call_placed(campaign_id: object) -> None:
    CALLS.labels(campaign_label(campaign_id), "placed").inc()
    CALLS_IN_PROGRESS.labels(campaign_label(campaign_id)).inc()


def call_blocked(campaign_id: object) -> None:
    CALLS.labels(campaign_label(campaign_id), "blocked").inc()


def call_connected(campaign_id: object, answer_to_agent_s: float | None) -> None:
    CALLS.labels(campaign_label(campaign_id), "connected").inc()
    if answer_to_agent_s is not None:
        ANSWER_TO_AGENT_SECONDS.labels(campaign_label(campaign_id)).observe(max(0.0, answer_to_agent_s))


# Final outcomes that are answers, by who answered (the rest were never answered).
ANSWERED_BY = {"human": "answered_person", "abandoned": "answered_person", "machine": "answered_machine"}


def call_ended(campaign_id: object, outcome: str, *, trunk: str = "", sip_status: int | None = None) -> None:
    label = campaign_label(campaign_id)
    TRUNK_CALLS.labels(trunk or "none", str(sip_status) if sip_status is not None else "none").inc()
    CALLS.labels(label, outcome).inc()
    answered = ANSWERED_BY.get(outcome)
    if answered:
        CALLS.labels(label, answered).inc()
    CALLS_IN_PROGRESS.labels(label).dec()


def dial_verdicts(campaign_id: object, verdicts: list[tuple[bool, tuple[str, ...]]], seconds: float) -> None:
    label = campaign_label(campaign_id)
    DIAL_CHECK_SECONDS.labels(label).observe(seconds)
    for callable_, reasons in verdicts:
        if callable_:
            DIAL_VERDICTS.labels(label, "callable", "none").inc()
            continue
        for reason in reasons or ("unspecified",):
            DIAL_VERDICTS.labels(label, "blocked", reason).inc()


def job_finished(kind: str, status: str, seconds: float | None) -> None:
    if seconds is not None:
        JOB_SECONDS.labels(kind, status).observe(max(0.0, seconds))


def line_worker_stats(
    pool: str,
    worker: str,
    *,
    lead_calls: int,
    agent_legs: int,
    internal_legs: int,
    handles: int,
    handle_limit: int,
    queued_dials: int,
) -> None:
    LINE_WORKERS.labels(pool, worker).set(1)
    LINE_WORKER_CALLS.labels(pool, worker).set(lead_calls)
    for kind, count in (("lead", lead_calls), ("agent", agent_legs), ("internal", internal_legs)):
        LINE_WORKER_LEGS.labels(pool, worker, kind).set(count)
    LINE_WORKER_HANDLES.labels(pool, worker).set(handles)
    LINE_WORKER_HANDLE_LIMIT.labels(pool, worker).set(handle_limit)
    LINE_WORKER_QUEUED.labels(pool, worker).set(queued_dials)
