"""Fixtures for real SIP over loopback: line-worker pools, trunk profiles, sipp carriers, simulators,
and a signer whose Identity headers the carrier simulator can verify."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from attestation.certificates import TestCertificateAuthority
from attestation.signer import PassportSigner
from core.runtime import Runtime
from dialer.simulators.agent_phones import start_agent_phones
from dialer.simulators.carrier import CarrierBehaviour, read_stats, start_carrier, wait_listening
from dialer.sip import protocol as p
from dialer.sip.client import LineWorkerPool

SCENARIOS = Path(__file__).parent / "scenarios"
CALLER = "+12025550100"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_profile(
    directory: Path, name: str, port: int, *, stir_shaken: bool = False, extra: str = ""
) -> str:
    (directory / f"{name}.toml").write_text(
        f'[sip]\nproxy = "127.0.0.1:{port}"\n[stir_shaken]\nenabled = {str(stir_shaken).lower()}\n'
        f'[limits]\nring_timeout_s = 15\n[amd]\nheader = "X-Sim-Answered-By"\n{extra}'
    )
    return name


def start_sipp(
    scenario: str,
    port: int,
    directory: Path,
    *,
    calls: int = 1,
    fill: dict[str, str] | None = None,
    rtp_echo: bool = False,
) -> subprocess.Popen[bytes]:
    """Run sipp as a carrier on `port`; `fill` replaces __NAME__ placeholders in the scenario first."""
    text = (SCENARIOS / scenario).read_text()
    for name, value in (fill or {}).items():
        text = text.replace(f"__{name.upper()}__", value)
    path = directory / f"{port}-{scenario}"
    path.write_text(text)
    argv = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-m", str(calls), "-nostdin"]
    argv += ["-timeout", "60s", "-timeout_error", "-mp", str(free_udp_port())]
    argv += ["-trace_err", "-error_file", str(directory / f"sipp-{port}-errors.log")]
    if rtp_echo:
        argv.append("-rtp_echo")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)


def collect(
    pool: LineWorkerPool,
    done: Callable[[list[p.Event]], bool],
    timeout_s: float,
    on_event: Callable[[p.Event], None] | None = None,
) -> list[p.Event]:
    """Receive events until `done(events)` or the timeout; fails the test on timeout."""
    events: list[p.Event] = []
    deadline = time.monotonic() + timeout_s
    while not done(events):
        assert time.monotonic() < deadline, (
            f"timed out; events so far: {[e for e in events if not isinstance(e, p.WorkerStats)]}"
        )
        for event in pool.events(0.05):
            events.append(event)
            if on_event is not None:
                on_event(event)
    return events


def ended(events: list[p.Event], attempt_ids: set[str]) -> bool:
    return attempt_ids <= {e.attempt_id for e in events if isinstance(e, p.Ended)}


def first(events: list[p.Event], kind: type, **match: object) -> p.Event:
    for event in events:
        if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
            return event
    raise AssertionError(
        f"no {kind.__name__} {match} among {[e for e in events if not isinstance(e, p.WorkerStats)]}"
    )


@pytest.fixture
def make_pool(runtime: Runtime, tmp_path: Path) -> Iterator[Callable[[], LineWorkerPool]]:
    pools: list[LineWorkerPool] = []

    def make() -> LineWorkerPool:
        pool = LineWorkerPool(
            runtime.redis_url, pool=f"test-{uuid.uuid4().hex[:8]}", log_dir=tmp_path / "logs"
        )
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@dataclass
class TestSigner:
    __test__ = False
    signer: PassportSigner
    chain_pem: Path
    root_pem: Path

    def identity(self, orig: str, dest: str) -> str:
        return self.signer.identity_header(orig, [dest], "A", str(uuid.uuid4()), int(time.time()))


@pytest.fixture(scope="session")
def test_signer(tmp_path_factory: pytest.TempPathFactory) -> TestSigner:
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    key, leaf = ca.issue("1234", not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    directory = tmp_path_factory.mktemp("shaken")
    pem = serialization.Encoding.PEM
    chain = directory / "chain.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.intermediate.public_bytes(pem))
    root = directory / "root.pem"
    root.write_bytes(ca.root.public_bytes(pem))
    signer = PassportSigner(private_key=key, x5u="https://certs.clearline.test/shaken/1234.pem")
    return TestSigner(signer=signer, chain_pem=chain, root_pem=root)


@dataclass
class Simulators:
    """Carrier and agent-phone simulator processes started by a test (stopped after it)."""

    directory: Path
    processes: list[subprocess.Popen[bytes]]

    def carrier(
        self, behaviour: CarrierBehaviour, *, verify_with: TestSigner | None = None
    ) -> tuple[int, Path]:
        port = free_udp_port()
        stats = self.directory / f"carrier-{port}.json"
        process = start_carrier(
            port=port,
            stats_path=stats,
            behaviour=behaviour,
            chain_pem=verify_with.chain_pem if verify_with else None,
            trust_anchor_pem=verify_with.root_pem if verify_with else None,
            log_path=self.directory / f"carrier-{port}.log",
        )
        self.processes.append(process)
        wait_listening(process, stats)
        return port, stats

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(5)

    def phones(self) -> tuple[int, Path]:
        port = free_udp_port()
        stats = self.directory / f"phones-{port}.json"
        process = start_agent_phones(port=port, stats_path=stats, answer_delay_s=0.05)
        self.processes.append(process)
        wait_listening(process, stats)
        return port, stats


@pytest.fixture
def simulators(tmp_path: Path) -> Iterator[Simulators]:
    sims = Simulators(directory=tmp_path, processes=[])
    yield sims
    sims.stop()


def wait_for_stats(
    path: Path, check: Callable[[dict[str, Any]], bool], timeout_s: float = 6.0
) -> dict[str, Any]:
    """Simulators rewrite their stats file a few times a second: wait until `check` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = read_stats(path)
        if stats and check(stats):
            return stats
        assert time.monotonic() < deadline, f"simulator stats never satisfied the check: {stats}"
        time.sleep(0.1)
