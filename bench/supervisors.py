"""`bench/engine.py --supervisors 1,2,4`: the whole engine (supervisors, their line workers, PostgreSQL,
Redis) against a sipp carrier, with the same floor run by 1, 2, 4... supervisor processes in turn.

The floor: `CAMPAIGNS` campaigns (so that up to that many supervisors each own one) of `AGENTS_PER_CAMPAIGN`
agents each, whose phones are a second sipp (nailed legs), ratio pacing, every call answered by a person
after `--ring-ms`, talking `TALK_MS` before the carrier hangs up. The trunk's limits are set far above
what the floor asks, so the figures are the engine's own. Each count gets fresh campaigns and agents on the
same servers, started the same way: supervisors up, campaigns shared out, agents logged in, `WARMUP_S`,
then a window of `--seconds` measured:

- calls/s placed (attempts' `placed_at` in the window, from PostgreSQL: what reached the carrier), and the
  concurrent legs (lead calls in progress + agents' nailed legs), sampled each second;
- answer→agent: the worker's own timestamps of the 200 OK and of the bridge (p50/p99). Agents are kept on
  the workers of the supervisor that owns their campaign (issue 14), so every bridge is within one
  supervisor; cross-worker bridges inside a supervisor are measured by the plain `bench/engine.py` run;
- CPU seconds each process used in the window (supervisors, line workers, PostgreSQL, Redis, sipp),
  from /proc through psutil, and per call placed, so the scaling can be carried to a machine with more
  cores.

Printed per count, then the ratios to the 1-supervisor figures of the same run (the baseline), and the
load average before and after (the machine may be shared). It uses the engine tests' helpers for its data
(`tests.engine`): the same organizations, certificates and campaigns the failover test runs on.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = Path(__file__).resolve().parent / "uas_answer_talk.xml"
PHONE_SCENARIO = ROOT / "tests" / "sip" / "scenarios" / "uas_answer.xml"
CAMPAIGNS = 4
AGENTS_PER_CAMPAIGN = 6
LEADS_PER_CAMPAIGN = 400
TALK_MS = 2500
WARMUP_S = 8.0
POOL = "failover"  # tests.engine.supervisor_process's pool name

# Run as `bench/engine.py`, this directory comes first on the path, and its bench/attestation.py would
# stand for the attestation package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


@dataclass
class Figures:
    supervisors: int
    calls_per_s: float
    legs_mean: float
    legs_max: int
    answered: int
    bridged: int
    safe_harbor: int
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]  # role -> CPU seconds in the window
    window_s: float
    outcomes: dict[str, int]

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())


def _cpu_s(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sipp(directory: Path, scenario: Path, replace: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    text = scenario.read_text()
    for key, value in replace.items():
        text = text.replace(key, value)
    path = directory / f"{scenario.stem}-{port}.xml"
    path.write_text(text)
    argv = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-mp", str(_free_port())]
    argv += ["-rtp_echo", "-nostdin", "-max_socket", "4096"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    return proc, port


class _Processes:
    """The processes whose CPU is counted, by role; sampled at the window's start and end."""

    def __init__(self, home: Path, supervisors: list[subprocess.Popen[bytes]], sipps: list[int]) -> None:
        self.home = str(home)
        self.supervisor_pids = {p.pid for p in supervisors}
        self.sipp_pids = set(sipps)

    def by_role(self) -> dict[int, tuple[str, psutil.Process]]:
        out: dict[int, tuple[str, psutil.Process]] = {}
        for pid in self.supervisor_pids:
            try:
                sup = psutil.Process(pid)
                out[pid] = ("supervisors", sup)
                for child in sup.children(recursive=True):
                    out[child.pid] = ("line workers", child)
            except psutil.Error:
                continue
        for pid in self.sipp_pids:
            try:
                out[pid] = ("sipp (carrier + phones)", psutil.Process(pid))
            except psutil.Error:
                continue
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info.get("cmdline") or [])
            name = proc.info.get("name") or ""
            if name.startswith("postgres") and self.home in cmd:
                out[proc.pid] = ("postgresql", proc)
                for child in proc.children(recursive=True):
                    out[child.pid] = ("postgresql", child)
            elif name.startswith("redis") and self.home in cmd:
                out[proc.pid] = ("redis", proc)
        return out

    def sample(self) -> dict[int, tuple[str, float]]:
        return {pid: (role, _cpu_s(proc)) for pid, (role, proc) in self.by_role().items()}


def _floor(
    runtime: Any, certificates: Any, phones_port: int, count: int
) -> tuple[list[Any], list[list[tuple[Any, uuid.UUID]]]]:
    """Fresh campaigns, each with its agents (all allowed to log in from loopback phones)."""
    from core.accounts import create_user
    from core.db import ALL_ORGS
    from core.models import Role
    from tests.conftest import PASSWORD, make_tenant
    from tests.engine.conftest import provision_identity
    from tests.engine.factories import allow_agent_phones, make_campaign
    from tests.engine.test_engine_calls import seed_answered_history

    campaigns, agents = [], []
    for block in range(CAMPAIGNS):
        tenant = make_tenant(runtime)
        provision_identity(runtime, tenant.id, certificates)
        allow_agent_phones(runtime, tenant.id)
        with runtime.db.session(ALL_ORGS) as s:
            ids = [tenant.users["agent"].id] + [
                create_user(
                    s,
                    email=f"agent{i}.{uuid.uuid4().hex[:8]}@{tenant.org.slug}.example",
                    password=PASSWORD,
                    role=Role.AGENT,
                    org_id=tenant.id,
                ).id
                for i in range(AGENTS_PER_CAMPAIGN - 1)
            ]
        # A valid NANP exchange (2-9 first) per count and campaign, so no number is dialed twice in a run.
        numbers = [f"+1312{200 + 10 * count + block}{i:04d}" for i in range(LEADS_PER_CAMPAIGN)]
        campaign = make_campaign(
            runtime,
            tenant.id,
            agent_ids=ids,
            numbers=numbers,
            settings={
                "trunk_profile": "sandbox",
                "pacing_policy": "ratio",
                "pacing_settings": {"lines_per_agent": 1.5},
            },
        )
        seed_answered_history(runtime, campaign, answered=2000)
        campaigns.append(campaign)
        agents.append([(tenant.id, agent_id) for agent_id in ids])
    return campaigns, agents


def _phase(
    runtime: Any,
    certificates: Any,
    home: Path,
    profiles: Path,
    count: int,
    seconds: float,
    phones: tuple[int, int],
    carrier_pid: int,
) -> Figures:
    from sqlalchemy import func, select

    from campaigns.models import CallAttempt, Campaign, CampaignStatus
    from campaigns.service import set_status
    from core.db import ALL_ORGS, Scope
    from dialer.engine.ownership import OwnershipStore
    from dialer.engine.sessions import start_agent_session

    phones_pid, phones_port = phones
    campaigns, agents = _floor(runtime, certificates, phones_port, count)
    ids = [str(c.id) for c in campaigns]
    logs = home / f"logs-{count}"
    logs.mkdir()
    tag = uuid.uuid4().hex[:4]
    names = [f"bench-{tag}-{i}" for i in range(count)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.engine.supervisor_process", name, str(profiles), str(logs), *ids],
            stdout=open(logs / f"{name}.log", "ab"),  # noqa: SIM115 - owned by the child
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            cwd=ROOT,
        )
        for name in names
    ]
    store = OwnershipStore(runtime.redis)
    try:
        deadline = time.monotonic() + 180
        while not all(b"started" in (logs / f"{n}.log").read_bytes() for n in names):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"supervisors did not start; see {logs}")
            time.sleep(0.2)
        while len(set(lease.owner for lease in store.leases(ids, time.time()).values())) < min(
            count, CAMPAIGNS
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the campaigns were not shared out")
            time.sleep(0.2)
        for campaign, members in zip(campaigns, agents, strict=True):
            with runtime.db.session(Scope(campaign.org_id)) as s:
                row = s.get(Campaign, campaign.id)
                for _org, agent_id in members:
                    start_agent_session(
                        s,
                        runtime.redis,
                        agent_id=agent_id,
                        campaign=row,
                        sip_uri=f"sip:{agent_id}@127.0.0.1:{phones_port}",
                    )
        time.sleep(WARMUP_S)
        watched = _Processes(home, procs, [carrier_pid, phones_pid])
        before = watched.sample()
        start = datetime.now(UTC)
        legs: list[int] = []
        cids = [c.id for c in campaigns]
        from dialer.engine.agents import AgentBoard

        board = AgentBoard(runtime.redis)
        while (datetime.now(UTC) - start).total_seconds() < seconds:
            with runtime.db.session(ALL_ORGS) as s:
                open_calls = s.scalar(
                    select(func.count())
                    .select_from(CallAttempt)
                    .where(CallAttempt.campaign_id.in_(cids), CallAttempt.outcome == "in_progress")
                )
            nailed = sum(1 for c in ids for a in board.campaign_agents(c) if a.worker)
            legs.append(int(open_calls or 0) + nailed)
            time.sleep(1.0)
        end = datetime.now(UTC)
        after = watched.sample()
        with runtime.db.session(ALL_ORGS) as s:
            rows = list(
                s.scalars(
                    select(CallAttempt).where(
                        CallAttempt.campaign_id.in_(cids),
                        CallAttempt.placed_at >= start,
                        CallAttempt.placed_at < end,
                        CallAttempt.trunk != "history",
                    )
                )
            )
        blocked = Counter(r for a in rows if a.outcome == "blocked" for r in a.verdict_reasons)
        if blocked:
            print(f"  blocked by the compliance verdict (not placed): {dict(blocked)}")
        rows = [a for a in rows if a.outcome != "blocked"]
        cpu: dict[str, float] = {}
        for pid, (role, at_end) in after.items():
            at_start = before.get(pid, (role, 0.0))[1]
            cpu[role] = cpu.get(role, 0.0) + max(0.0, at_end - at_start)
        latencies = sorted(
            (a.agent_connected_at - a.answered_at).total_seconds() * 1000
            for a in rows
            if a.answered_at and a.agent_connected_at
        )
        window = (end - start).total_seconds()
        return Figures(
            supervisors=count,
            calls_per_s=len(rows) / window,
            legs_mean=statistics.fmean(legs) if legs else 0.0,
            legs_max=max(legs, default=0),
            answered=sum(1 for a in rows if a.answered_at),
            bridged=len(latencies),
            safe_harbor=sum(1 for a in rows if a.safe_harbor_at),
            p50_ms=latencies[len(latencies) // 2] if latencies else float("nan"),
            p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            if latencies
            else float("nan"),
            cpu=cpu,
            window_s=window,
            outcomes=dict(Counter(a.outcome for a in rows)),
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with runtime.db.session(ALL_ORGS) as s:
            for campaign in campaigns:
                row = s.get(Campaign, campaign.id)
                if row is not None:
                    set_status(row, CampaignStatus.PAUSED)


def _print(f: Figures) -> None:
    print(
        f"\n== {f.supervisors} supervisor(s): {CAMPAIGNS} campaigns x {AGENTS_PER_CAMPAIGN} agents, {f.window_s:.0f} s window"
    )
    print(f"  calls/s placed               {f.calls_per_s:8.2f}")
    print(f"  concurrent legs mean / max   {f.legs_mean:8.1f} / {f.legs_max}")
    print(f"  answered / bridged / harbor  {f.answered} / {f.bridged} / {f.safe_harbor}")
    print(f"  outcomes at the window end   {f.outcomes}")
    print(f"  answer->agent p50 / p99      {f.p50_ms:8.1f} / {f.p99_ms:.1f} ms")
    for role, seconds in sorted(f.cpu.items()):
        print(f"  CPU {role:26s} {seconds:7.1f} s  ({seconds / f.window_s:.2f} cores)")
    per_call = f.cpu_total / (f.calls_per_s * f.window_s) if f.calls_per_s else float("nan")
    print(f"  CPU all / per call placed    {f.cpu_total:7.1f} s  / {per_call * 1000:.0f} ms")


def run_supervisors(counts: list[int], *, seconds: float, ring_ms: int) -> None:
    import tests.conftest  # noqa: F401 - first: importing it points CLEARLINE_HOME at a home of its own

    home = Path(tempfile.mkdtemp(prefix="clearline-bench-sup-"))
    os.environ["CLEARLINE_HOME"] = str(home)  # this bench's, for the supervisors it starts too
    if not os.environ.get("BENCH_KEEP"):
        # Registered before the runtime starts, so it runs after the embedded servers' exit hooks stop them
        # (atexit runs last-registered first); removing the directory first would leave them running.
        atexit.register(shutil.rmtree, home, True)
    os.environ.setdefault("CLEARLINE_DAILY_RETENTION", "0")
    from attestation.certificates import TestCertificateAuthority, load_certificates
    from core.runtime import Runtime, set_runtime
    from core.settings import load_settings
    from dialer.engine.sandbox import write_profile
    from dnc.lists import import_numbers
    from tests.engine.conftest import SPC, TestCertificates

    load_before = os.getloadavg()
    print(
        f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} ({os.cpu_count()} cores)"
    )
    runtime = Runtime.start(load_settings())
    from core.migrations import upgrade

    upgrade(runtime.database_url)
    set_runtime(runtime)  # the DNC list import writes its index under this runtime's home
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    files = ca.write(home / "ca", SPC, now=now)
    certificates = TestCertificates(files=files, anchors=load_certificates(files["root"].read_bytes()))
    import_numbers(runtime.db, kind="national", numbers=["+12025550999"], obtained_at=now - timedelta(days=3))
    work = home / "sip"
    work.mkdir()
    carrier, carrier_port = _sipp(work, SCENARIO, {"__RING_MS__": str(ring_ms), "__TALK_MS__": str(TALK_MS)})
    phones, phones_port = _sipp(work, PHONE_SCENARIO, {"__RING_MS__": "0"})
    profiles = home / "profiles"
    write_profile(profiles, carrier_port=carrier_port, max_cps=500, max_concurrent=2000, ring_timeout_s=15.0)
    results: list[Figures] = []
    try:
        for count in counts:
            figures = _phase(
                runtime, certificates, home, profiles, count, seconds, (phones.pid, phones_port), carrier.pid
            )
            _print(figures)
            results.append(figures)
    finally:
        for proc in (carrier, phones):
            proc.terminate()
            proc.wait(10)
        runtime.db.dispose()
    base = results[0]
    print(f"\n== ratio to {base.supervisors} supervisor(s), same run")
    for f in results:
        cps = f.calls_per_s / base.calls_per_s if base.calls_per_s else float("nan")
        legs = f.legs_mean / base.legs_mean if base.legs_mean else float("nan")
        p99 = f.p99_ms / base.p99_ms if base.p99_ms else float("nan")
        cpu = f.cpu_total / base.cpu_total if base.cpu_total else float("nan")
        print(
            f"  {f.supervisors} supervisors: calls/s {cps:.2f}x, legs {legs:.2f}x, p99 {p99:.2f}x, CPU {cpu:.2f}x"
        )
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if os.environ.get("BENCH_KEEP"):
        print(f"kept {home}")
