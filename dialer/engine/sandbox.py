"""A complete dialing floor on loopback: the carrier simulator, the agent-phones simulator and an engine
whose trunk profile points at that carrier. Used by `clearline demo` and the engine's tests.

Everything it starts is a child process or a thread it stops in `close()`; ports are picked free on
127.0.0.1 so several sandboxes (or a test run next to a demo) never collide.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.db import Scope
from core.runtime import Runtime
from dialer.campaign_settings import provide_profile_name
from dialer.engine.identity import IdentitySource
from dialer.engine.supervisor import Engine, EngineConfig
from dialer.phone_policy import add_rule
from dialer.simulators.agent_phones import start_agent_phones
from dialer.simulators.carrier import CarrierBehaviour, read_stats, start_carrier, wait_listening

PROFILE_NAME = "sandbox"
provide_profile_name(PROFILE_NAME)  # written into the sandbox's own profiles dir when it starts


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_profile(
    directory: Path, *, carrier_port: int, max_cps: float, max_concurrent: int, ring_timeout_s: float
) -> Path:
    """The sandbox's trunk profile: the loopback carrier, signed calls, simulated AMD."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PROFILE_NAME}.toml"
    path.write_text(
        "\n".join(
            [
                'description = "Carrier simulator of a Clearline sandbox (demo and tests)"',
                "[sip]",
                f'proxy = "127.0.0.1:{carrier_port}"',
                'transport = "udp"',
                "[caller_id]",
                'presentation = "from_and_pai"',
                "[stir_shaken]",
                "enabled = true",
                'certificate = "sandbox"',
                "[limits]",
                f"max_cps = {max_cps}",
                f"max_concurrent_calls = {max_concurrent}",
                f"ring_timeout_s = {ring_timeout_s}",
                "[media]",
                'codecs = ["PCMU", "PCMA", "telephone-event"]',
                "[amd]",
                'header = "X-Sim-Answered-By"',
                "",
            ]
        )
    )
    return path


@dataclass
class SandboxSettings:
    workdir: Path
    behaviour: CarrierBehaviour = field(default_factory=CarrierBehaviour)
    chain_pem: Path | None = None  # the carrier verifies every Identity header against this chain
    trust_anchor_pem: Path | None = None
    answer_delay_s: float = 0.2
    max_cps: float = 30.0
    max_concurrent: int = 300
    ring_timeout_s: float = 15.0
    seed: int | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    # False: no engine in this process; supervisors run as processes of their own (`clearline demo
    # --supervisors N`) against `profiles_dir`.
    engine_in_process: bool = True


class Sandbox:
    def __init__(self, runtime: Runtime, identity: IdentitySource, settings: SandboxSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.workdir = settings.workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.carrier_port = free_udp_port()
        self.phones_port = free_udp_port()
        self.carrier_stats_path = self.workdir / "carrier.json"
        self.phones_stats_path = self.workdir / "phones.json"
        profiles = self.profiles_dir = self.workdir / "profiles"
        write_profile(
            profiles,
            carrier_port=self.carrier_port,
            max_cps=settings.max_cps,
            max_concurrent=settings.max_concurrent,
            ring_timeout_s=settings.ring_timeout_s,
        )
        config = replace(
            settings.engine,
            profiles_dir=profiles,
            worker_log_dir=settings.engine.worker_log_dir or self.workdir / "logs",
            pool=settings.engine.pool
            if settings.engine.pool != "default"
            else f"sandbox-{uuid.uuid4().hex[:8]}",
        )
        self.engine = Engine(runtime, identity, config) if settings.engine_in_process else None
        self.children: list[subprocess.Popen[bytes]] = []
        self.started = False

    def start(self) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        carrier = start_carrier(
            port=self.carrier_port,
            stats_path=self.carrier_stats_path,
            behaviour=self.settings.behaviour,
            chain_pem=self.settings.chain_pem,
            trust_anchor_pem=self.settings.trust_anchor_pem,
            seed=self.settings.seed,
            log_path=logs / "carrier.log",
        )
        self.children.append(carrier)
        phones = start_agent_phones(
            port=self.phones_port,
            stats_path=self.phones_stats_path,
            answer_delay_s=self.settings.answer_delay_s,
            log_path=logs / "phones.log",
        )
        self.children.append(phones)
        try:
            wait_listening(carrier, self.carrier_stats_path)
            wait_listening(phones, self.phones_stats_path)
            if self.engine is not None:
                self.engine.start()
        except BaseException:
            self._stop_children()
            raise
        self.started = True

    def agent_uri(self, agent_id: uuid.UUID | str) -> str:
        return f"sip:{agent_id}@127.0.0.1:{self.phones_port}"

    def register_phones(self, org_id: uuid.UUID, agent_ids: Sequence[uuid.UUID]) -> None:
        """Allow each agent's simulated phone (`agent_uri`) in the organization's agent-phone rules, as an
        org admin would register real ones: the engine calls no phone an org has not allowed."""
        with self.runtime.db.session(Scope(org_id)) as s:
            for agent_id in agent_ids:
                add_rule(
                    s,
                    org_id=org_id,
                    kind="phone",
                    value=self.agent_uri(agent_id),
                    agent_id=agent_id,
                    note="simulated agent phone of a Clearline sandbox",
                )

    def carrier_stats(self) -> dict[str, Any]:
        return read_stats(self.carrier_stats_path)

    def phone_stats(self) -> dict[str, Any]:
        return read_stats(self.phones_stats_path)

    def close(self, *, drain_s: float = 10.0) -> None:
        try:
            if self.started:
                self.started = False
                if self.engine is not None:
                    self.engine.stop(drain_s=drain_s)
        finally:
            self._stop_children()

    def _stop_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
