"""Benchmark of the SIP layer against sipp on loopback: sustained calls/s and concurrent legs with media,
answer→agent-bridged latency with agents spread over workers, and answered calls left unrouted while an
agent was free.

    .venv/bin/python bench/engine.py [--workers 16] [--cps 32] [--seconds 30] [--agents-per-worker 3] [--record]
    .venv/bin/python bench/engine.py --supervisors 1,2,4 [--seconds 30]   (the whole engine, bench/supervisors.py)

The bench plays the engine: it paces DialLeads round-robin over the workers, routes each answer to a free
agent (one in the call's own worker first, else any), plays safe harbor when none is free, and hangs up
bridged calls after the talk time. sipp (with RTP echo) is the carrier and the agents' phones.
Baseline in the same run: one worker, two agents, 2 calls/s — the unloaded answer→agent latency.
`--record` runs the load phase a second time with every bridged call recorded (both legs into one WAV,
`DialLead.record`, as a campaign with `recording_mode` on does) and prints both against the targets, with
the CPU and disk cost of recording.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from core.embedded import ensure_redis, stop_redis
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool

ROOT = Path(__file__).resolve().parent.parent
ANSWER_SCENARIO = ROOT / "tests" / "sip" / "scenarios" / "uas_answer.xml"
TARGETS = {"concurrent_legs": 300, "calls_per_s": 30.0, "answer_to_agent_p99_ms": 250.0, "unrouted": 0}


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sipp(directory: Path, ring_ms: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    scenario = directory / f"answer-{port}.xml"
    scenario.write_text(ANSWER_SCENARIO.read_text().replace("__RING_MS__", str(ring_ms)))
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_port())]
    argv += ["-rtp_echo", "-nostdin", "-max_socket", "4096"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    return process, port


@dataclass
class Phase:
    """One measured run: the engine's view of calls and agents, and what it measured."""

    pool: LineWorkerPool
    trunk: str
    cps: float
    seconds: float
    talk_s: float
    workers: list[str]
    agents_by_worker: dict[str, list[str]]
    free_agents: dict[str, set[str]] = field(default_factory=dict)
    agent_worker: dict[str, str] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    bridge_kind: dict[str, str] = field(default_factory=dict)
    bridge_sent_at: dict[str, float] = field(default_factory=dict)
    to_engine_ms: list[float] = field(default_factory=list)
    to_bridged_ms: list[float] = field(default_factory=list)
    latencies_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    local_bridges: int = 0
    cross_bridges: int = 0
    no_agent_free: int = 0
    unrouted_while_free: int = 0
    bridge_failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    placed_in_window: int = 0
    concurrency_samples: list[int] = field(default_factory=list)
    admission_waits: int = 0
    hangup_at: dict[str, float] = field(default_factory=dict)
    record_dir: Path | None = None  # --record: every bridged call recorded here
    recordings_saved: int = 0
    recording_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recorded_bytes: int = 0
    recorded_s: float = 0.0

    def run(self) -> None:
        for worker, agents in self.agents_by_worker.items():
            self.free_agents[worker] = set()
            for agent in agents:
                self.agent_worker[agent] = worker
        stats: dict[str, p.WorkerStats] = {}
        deadline = time.monotonic() + 20
        while sum(len(a) for a in self.free_agents.values()) < len(self.agent_worker):
            if time.monotonic() > deadline:
                raise RuntimeError("agent legs did not come up")
            for event in self.pool.events(0.05):
                self.handle(event, stats, (0.0, 0.0))
        start = time.monotonic()
        window = (start + min(5.0, self.seconds / 4), start + self.seconds)
        sent = 0
        next_sample = start + 1.0
        while True:
            now = time.monotonic()
            if now < window[1]:
                due = int((now - start) * self.cps)
                while sent < due:
                    worker = self.workers[sent % len(self.workers)]
                    attempt = f"b-{uuid.uuid4().hex[:10]}"
                    self.pool.send(
                        worker,
                        p.DialLead(
                            attempt_id=attempt,
                            to=f"+1555{sent:07d}",
                            from_number="+12025550100",
                            trunk=self.trunk,
                            record=p.RecordCall(wav_path=str(self.record_dir / f"{attempt}.wav"))
                            if self.record_dir is not None
                            else None,
                        ),
                    )
                    sent += 1
            elif not self.pool_has_calls(stats) or now > window[1] + self.talk_s + 25:
                break
            for attempt, at in list(self.hangup_at.items()):
                if at <= now:
                    del self.hangup_at[attempt]
                    self.pool.hangup(attempt)
            for event in self.pool.events(0.005):
                self.handle(event, stats, window)
            if now >= next_sample:
                next_sample += 1.0
                if window[0] <= now <= window[1]:
                    self.concurrency_samples.append(sum(s.calls for s in stats.values()))

    def pool_has_calls(self, stats: dict[str, p.WorkerStats]) -> bool:
        return any(s.lead_calls or s.queued_dials for s in stats.values())

    def handle(self, event: p.Event, stats: dict[str, p.WorkerStats], window: tuple[float, float]) -> None:
        if isinstance(event, p.WorkerStats):
            stats[event.worker_id] = event
            self.admission_waits = max(self.admission_waits, sum(s.admission_waits for s in stats.values()))
        elif isinstance(event, p.AgentLegUp):
            self.free_agents[event.worker_id].add(event.agent_id)
        elif isinstance(event, p.Dialing):
            mono = time.monotonic() - (time.time() - event.at)
            if window[0] <= mono <= window[1]:
                self.placed_in_window += 1
        elif isinstance(event, p.Answered):
            self.answered_at[event.attempt_id] = event.at
            self.to_engine_ms.append((time.time() - event.at) * 1000)
            self.route(event)
        elif isinstance(event, p.Bridged):
            answered = self.answered_at.get(event.attempt_id)
            sent = self.bridge_sent_at.pop(event.attempt_id, None)
            if sent is not None:
                self.to_bridged_ms.append((event.at - sent) * 1000)
            if answered is not None:
                self.latencies_ms.append((event.at - answered) * 1000)
                self.latencies_by_kind[self.bridge_kind.get(event.attempt_id, "?")].append(
                    (event.at - answered) * 1000
                )
            self.hangup_at[event.attempt_id] = time.monotonic() + self.talk_s
        elif isinstance(event, p.BridgeFailed):
            self.bridge_failures[event.reason] += 1
            self.unrouted_while_free += 1
            self.pool.play_safe_harbor(
                p.PlaySafeHarbor(attempt_id=event.attempt_id, wav_path=str(DEFAULT_SAFE_HARBOR_WAV))
            )
        elif isinstance(event, p.AgentFree):
            self.free_agents[self.agent_worker[event.agent_id]].add(event.agent_id)
        elif isinstance(event, p.RecordingSaved):
            if event.error:
                self.recording_errors[event.error] += 1
            else:
                wav = Path(event.wav_path)
                self.recordings_saved += 1
                self.recorded_bytes += wav.stat().st_size
                self.recorded_s += event.at - event.started_at
                wav.unlink()  # measured; keep the disk free for the rest of the run
        elif isinstance(event, p.Ended):
            self.outcomes[event.outcome.value] += 1
            self.hangup_at.pop(event.attempt_id, None)

    def route(self, answered: p.Answered) -> None:
        local = self.free_agents.get(answered.worker_id)
        if local:
            agent = local.pop()
            self.local_bridges += 1
            self.bridge_kind[answered.attempt_id] = "local"
        else:
            donor = max(self.free_agents, key=lambda w: len(self.free_agents[w]))
            if not self.free_agents[donor]:
                self.no_agent_free += 1
                self.pool.play_safe_harbor(
                    p.PlaySafeHarbor(attempt_id=answered.attempt_id, wav_path=str(DEFAULT_SAFE_HARBOR_WAV))
                )
                return
            agent = self.free_agents[donor].pop()
            self.cross_bridges += 1
            self.bridge_kind[answered.attempt_id] = "cross-worker"
        self.bridge_sent_at[answered.attempt_id] = time.time()
        self.pool.bridge(answered.attempt_id, agent)

    def report(self, label: str) -> dict[str, float]:
        lat = sorted(self.latencies_ms)
        measured = self.seconds - min(5.0, self.seconds / 4)
        figures = {
            "calls_per_s": self.placed_in_window / measured,
            "concurrent_legs_max": max(self.concurrency_samples, default=0),
            "concurrent_legs_mean": statistics.fmean(self.concurrency_samples)
            if self.concurrency_samples
            else 0,
            "answer_to_agent_p50_ms": lat[len(lat) // 2] if lat else float("nan"),
            "answer_to_agent_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
            "bridged": len(lat),
            "unrouted_while_agent_free": self.unrouted_while_free,
        }
        print(f"\n== {label}")
        for key, value in figures.items():
            print(f"  {key:28s} {value:10.1f}")
        print(f"  local/cross-worker bridges   {self.local_bridges} / {self.cross_bridges}")
        for kind, values in sorted(self.latencies_by_kind.items()):
            ordered = sorted(values)
            p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(f"  answer->agent {kind:14s} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (n={len(ordered)})")
        for name, values in (
            ("worker -> engine", self.to_engine_ms),
            ("Bridge sent -> bridged", self.to_bridged_ms),
        ):
            ordered = sorted(values) or [float("nan")]
            p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(f"    of which {name:22s} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        print(f"  answered with no agent free  {self.no_agent_free} (safe harbor)")
        print(f"  outcomes                     {dict(self.outcomes)}")
        print(f"  admission waits              {self.admission_waits}")
        if self.bridge_failures:
            print(f"  bridge failures              {dict(self.bridge_failures)}")
        if self.record_dir is not None:
            rate = self.recorded_bytes / self.recorded_s / 1024 if self.recorded_s else 0.0
            print(
                f"  recordings                   {self.recordings_saved} saved, {sum(self.recording_errors.values())} "
                f"failed, {self.recorded_s:.0f} s of audio, {self.recorded_bytes / 1e6:.1f} MB ({rate:.1f} KiB/s per call)"
            )
            if self.recording_errors:
                print(f"  recording errors             {dict(self.recording_errors)}")
            figures["recordings_saved"] = self.recordings_saved
            figures["recording_errors"] = sum(self.recording_errors.values())
        return figures


def run_phase(
    redis_url: str,
    directory: Path,
    *,
    label: str,
    workers: int,
    agents_per_worker: int,
    cps: float,
    seconds: float,
    ring_ms: int,
    talk_s: float,
    record: bool = False,
    record_dir: Path | None = None,
) -> dict[str, float]:
    directory.mkdir(parents=True, exist_ok=True)
    carrier, carrier_port = start_sipp(directory, ring_ms)
    phones, phones_port = start_sipp(directory, 0)
    profiles = directory / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "bench.toml").write_text(
        f'[sip]\nproxy = "127.0.0.1:{carrier_port}"\n[stir_shaken]\nenabled = false\n[limits]\nring_timeout_s = 20\n'
    )
    pool = LineWorkerPool(redis_url, pool=f"bench-{uuid.uuid4().hex[:6]}", log_dir=directory / "logs")
    try:
        ids = [pool.start_worker(profiles_dir=profiles) for _ in range(workers)]
        pool.wait_ready(ids, timeout_s=60)
        agents_by_worker: dict[str, list[str]] = {}
        for w_index, worker in enumerate(ids):
            agents_by_worker[worker] = []
            for a_index in range(agents_per_worker):
                agent = f"agent{w_index:02d}{a_index}"
                agents_by_worker[worker].append(agent)
                pool.send(worker, p.CallAgent(agent_id=agent, sip_uri=f"sip:{agent}@127.0.0.1:{phones_port}"))
        phase = Phase(
            pool=pool,
            trunk="bench",
            cps=cps,
            seconds=seconds,
            talk_s=talk_s,
            workers=ids,
            agents_by_worker=agents_by_worker,
            record_dir=(record_dir or directory / "recordings") if record else None,
        )
        time.sleep(0.5)
        processes = [psutil.Process(info.ready.pid) for info in pool.workers().values() if info.ready]
        processes += [psutil.Process(carrier.pid), psutil.Process(phones.pid)]
        cpu_before = [_cpu(proc) for proc in processes]
        started = time.monotonic()
        phase.run()
        elapsed = time.monotonic() - started
        cpu = [_cpu(proc) - before for proc, before in zip(processes, cpu_before, strict=True)]
        figures = phase.report(label)
        workers_cpu = sum(cpu[:-2]) / elapsed
        figures["worker_cpu_cores"] = workers_cpu
        print(
            f"  CPU, all line workers        {workers_cpu:.2f} cores; sipp carrier+phones {sum(cpu[-2:]) / elapsed:.2f} cores"
        )
        if figures["concurrent_legs_mean"]:
            per_leg = workers_cpu * 1000 / figures["concurrent_legs_mean"]
            print(f"  CPU per concurrent leg       {per_leg:.2f} ms per second (line workers)")
        return figures
    finally:
        pool.close()
        for process in (carrier, phones):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def _against_targets(label: str, figures: dict[str, float]) -> None:
    print(f"\n== against targets ({label})")
    rows = [
        ("concurrent legs (max)", figures["concurrent_legs_max"], TARGETS["concurrent_legs"], ">="),
        ("calls/s sustained", figures["calls_per_s"], TARGETS["calls_per_s"], ">="),
        ("answer->agent p99 ms", figures["answer_to_agent_p99_ms"], TARGETS["answer_to_agent_p99_ms"], "<="),
        ("unrouted while agent free", figures["unrouted_while_agent_free"], TARGETS["unrouted"], "<="),
    ]
    if "recording_errors" in figures:
        rows.append(("recordings failed", figures["recording_errors"], 0, "<="))
    for name, value, target, op in rows:
        ok = value >= target if op == ">=" else value <= target
        print(f"  {name:28s} {value:8.1f}  target {op} {target:<6}  {'OK' if ok else 'BELOW TARGET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--supervisors",
        help="e.g. 1,2,4: run the whole engine as that many supervisor processes instead (bench/supervisors.py)",
    )
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--agents-per-worker", type=int, default=3)
    parser.add_argument("--cps", type=float, default=32.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ring-ms", type=int, default=1000)
    parser.add_argument("--talk-s", type=float, default=8.0)
    parser.add_argument("--record", action="store_true", help="also run the load with every call recorded")
    parser.add_argument(
        "--record-dir",
        type=Path,
        help="with --record: where the WAVs are written (default: the run's temp dir)",
    )
    parser.add_argument("--record-first", action="store_true", help="with --record: the recorded load first")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        sys.exit("sipp is needed (Debian package sip-tester)")
    if args.supervisors:
        from bench.supervisors import run_supervisors

        counts = [int(n) for n in args.supervisors.split(",") if n.strip()]
        if not counts or min(counts) < 1:
            sys.exit(f"--supervisors {args.supervisors!r}: a comma-separated list of counts >= 1, e.g. 1,2,4")
        run_supervisors(counts, seconds=args.seconds, ring_ms=args.ring_ms)
        return
    home = Path(tempfile.mkdtemp(prefix="clearline-bench-"))
    redis_url = ensure_redis(home)
    recorded: dict[str, float] | None = None
    try:
        baseline = run_phase(
            redis_url,
            home / "baseline",
            label="baseline: 1 worker, 2 agents, 2 calls/s",
            workers=1,
            agents_per_worker=2,
            cps=2,
            seconds=8,
            ring_ms=args.ring_ms,
            talk_s=0.5,
        )

        def load() -> dict[str, float]:
            return run_phase(
                redis_url,
                home / "load",
                label=f"load: {args.workers} workers x {args.agents_per_worker} agents, {args.cps} calls/s offered",
                workers=args.workers,
                agents_per_worker=args.agents_per_worker,
                cps=args.cps,
                seconds=args.seconds,
                ring_ms=args.ring_ms,
                talk_s=args.talk_s,
            )

        def load_recorded() -> dict[str, float]:
            return run_phase(
                redis_url,
                home / "load-recorded",
                label=f"load with recording: {args.workers} workers x {args.agents_per_worker} agents, "
                f"{args.cps} calls/s offered, every bridged call recorded",
                workers=args.workers,
                agents_per_worker=args.agents_per_worker,
                cps=args.cps,
                seconds=args.seconds,
                ring_ms=args.ring_ms,
                talk_s=args.talk_s,
                record=True,
                record_dir=args.record_dir / uuid.uuid4().hex[:8] if args.record_dir else None,
            )

        # The machine's load drifts during a run: --record-first swaps the order to show that drift.
        if args.record and args.record_first:
            recorded = load_recorded()
        loaded = load()
        if args.record and not args.record_first:
            recorded = load_recorded()
    finally:
        stop_redis(home / "redis")
        shutil.rmtree(home, ignore_errors=True)
    _against_targets("load", loaded)
    if recorded is not None:
        _against_targets("load with recording", recorded)
        extra = recorded["worker_cpu_cores"] - loaded["worker_cpu_cores"]
        print(
            f"  recording cost: line workers {recorded['worker_cpu_cores']:.2f} vs {loaded['worker_cpu_cores']:.2f} "
            f"cores ({extra:+.2f}); answer->agent p99 {recorded['answer_to_agent_p99_ms']:.1f} vs "
            f"{loaded['answer_to_agent_p99_ms']:.1f} ms "
            f"({recorded['answer_to_agent_p99_ms'] / loaded['answer_to_agent_p99_ms']:.2f}x)"
        )
    ratio = loaded["answer_to_agent_p50_ms"] / baseline["answer_to_agent_p50_ms"]
    print(
        f"  answer->agent p50 loaded / baseline: {ratio:.2f}x "
        f"({loaded['answer_to_agent_p50_ms']:.1f} ms vs {baseline['answer_to_agent_p50_ms']:.1f} ms)"
    )


if __name__ == "__main__":
    main()
