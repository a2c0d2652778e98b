"""`clearline demo`: a whole predictive-dialing floor on this machine, end to end, in about a minute.

In a fresh data dir (embedded PostgreSQL and Redis) it creates a sample organization with agents, a test
STI certificate chain and TN inventory, a national DNC registry copy and internal DNC entries that hit some
of the synthetic leads, and a predictive campaign. It then starts the carrier and agent-phone simulators
and the dialer engine with its line workers, runs the campaign for `--seconds` with a live display, and
prints a summary (or JSON). Every process it starts is stopped before it returns.

Calling windows are local-time rules: the leads' area codes are picked among zones where it is between
09:00 and 20:00 right now; when no US zone is (late night everywhere), the compliance verdict of this
synthetic campaign only is taken at 14:00 America/Chicago today, and the output says so.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from core.runtime import Runtime
from dialer.cli import SYNTHETIC_MARKER

# (area code, its zone): none of these states has Sunday or shortened calling hours in the rules table.
AREA_CODES = (
    ("212", "America/New_York"),
    ("312", "America/Chicago"),
    ("303", "America/Denver"),
    ("602", "America/Phoenix"),
    ("213", "America/Los_Angeles"),
    ("907", "America/Anchorage"),
    ("808", "Pacific/Honolulu"),
)
SAFE_LOCAL_HOURS = (9, 20)  # inside every federal and state window, with an hour of margin
OVERRIDE_CLOCK = ("America/Chicago", 14)
NATIONAL_DNC_SHARE = 0.05
INTERNAL_DNC_SHARE = 0.02
DISPOSITIONS = (("NI", 0.65), ("SALE", 0.25), ("DNC", 0.10))

log = logging.getLogger(__name__)


@dataclass
class DemoPlan:
    seconds: float
    agents: int
    leads: int
    area_codes: list[str]
    clock_override: datetime | None
    numbers: list[str] = field(default_factory=list)
    national_dnc: set[str] = field(default_factory=set)
    internal_dnc: set[str] = field(default_factory=set)


def dialable_area_codes(now: datetime, run_s: float) -> list[str]:
    """Area codes whose local time stays inside the safe hours for the whole run."""
    end = now + timedelta(seconds=run_s + 300)
    out = []
    for npa, zone in AREA_CODES:
        tz = ZoneInfo(zone)
        start_local, end_local = now.astimezone(tz), end.astimezone(tz)
        low, high = SAFE_LOCAL_HOURS
        if start_local.date() == end_local.date() and low <= start_local.hour and end_local.hour < high:
            out.append(npa)
    return out


def plan_demo(seconds: float, agents: int, leads: int, now: datetime, rng: random.Random) -> DemoPlan:
    area_codes = dialable_area_codes(now, seconds)
    override = None
    if not area_codes:
        zone, hour = OVERRIDE_CLOCK
        local = now.astimezone(ZoneInfo(zone))
        override = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        area_codes = [npa for npa, _ in AREA_CODES]
    plan = DemoPlan(
        seconds=seconds, agents=agents, leads=leads, area_codes=area_codes, clock_override=override
    )
    per_code = -(-leads // len(area_codes))
    numbers = [f"+1{npa}555{1000 + i:04d}" for npa in area_codes for i in range(per_code)][:leads]
    rng.shuffle(numbers)
    plan.numbers = numbers
    # Spread the DNC hits evenly through the dialing order, so that even a short run meets some of them.
    national_every, internal_every = round(1 / NATIONAL_DNC_SHARE), round(1 / INTERNAL_DNC_SHARE)
    plan.national_dnc = {n for i, n in enumerate(numbers) if i % national_every == 3}
    plan.internal_dnc = {n for i, n in enumerate(numbers) if i % internal_every == 11}
    return plan


UNIX_SOCKET_PATH_MAX = (
    100  # sun_path holds 108 bytes; the embedded Redis socket lives at <home>/redis/redis.sock
)


def demo_home() -> Path:
    """A fresh data dir under $CLEARLINE_HOME/demo, or a temp dir (also when that path would be too long
    for the embedded servers' unix sockets)."""
    base = os.environ.get("CLEARLINE_HOME")
    if base:
        root = Path(base).expanduser().resolve() / "demo"
        if len(str(root)) + len("/xxxxxxxx/redis/redis.sock") <= UNIX_SOCKET_PATH_MAX:
            root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="", dir=root))
    return Path(tempfile.mkdtemp(prefix="clearline-demo-"))


def start_runtime(home: Path) -> Runtime:
    """Embedded servers in the demo's own data dir, whatever the caller's environment points at."""
    from core.migrations import upgrade
    from core.runtime import set_runtime
    from core.settings import load_settings

    os.environ["CLEARLINE_HOME"] = str(home)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    runtime = Runtime.start(load_settings())
    upgrade(runtime.database_url)
    set_runtime(runtime)
    return runtime


@dataclass
class DemoWorld:
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    agent_ids: list[uuid.UUID]
    chain_pem: Path
    root_pem: Path


@dataclass(frozen=True)
class ConsoleLogins:
    """With --console: who can log in to the console (passwords generated per run, printed once)."""

    manager_email: str
    manager_password: str
    agent_email: str
    agent_password: str


def build_world(
    runtime: Runtime, plan: DemoPlan, home: Path, logins: ConsoleLogins | None = None
) -> DemoWorld:
    """Organization, agents, test certificates, TN inventory, DNC lists and the campaign with its leads."""
    from attestation import certificate_store, inventory
    from attestation.certificates import TestCertificateAuthority, load_certificates
    from campaigns.models import Lead, LeadList
    from campaigns.service import assign_agents, create_campaign
    from core.accounts import create_org, create_user
    from core.db import ALL_ORGS, Scope
    from core.models import Role, User
    from dnc.internal import add_internal_dnc
    from dnc.lists import import_numbers

    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    files = ca.write(home / "sti-ca", "7999", now=now)
    certificate_store.trust_anchors_path(runtime.settings.home).write_bytes(files["root"].read_bytes())
    with runtime.db.session(ALL_ORGS) as s:
        org = create_org(s, "Demo Call Center")
        first = create_user(
            s,
            email="agent1@demo.clearline.test",
            password=logins.agent_password if logins else uuid.uuid4().hex,
            role=Role.AGENT,
            org_id=org.id,
            display_name="Agent 1",
        )
        # The demo's agents never log in with a password: they share the first one's (random, never shown)
        # hash rather than spending a deliberately slow password hash each.
        others = [
            User(
                email=f"agent{i + 1}@demo.clearline.test",
                password_hash=first.password_hash,
                role=Role.AGENT,
                org_id=org.id,
                display_name=f"Agent {i + 1}",
            )
            for i in range(1, plan.agents)
        ]
        s.add_all(others)
        if logins is not None:
            create_user(
                s,
                email=logins.manager_email,
                password=logins.manager_password,
                role=Role.MANAGER,
                org_id=org.id,
                display_name="Demo manager",
            )
        s.flush()
        agent_ids = [first.id, *(u.id for u in others)]
    with runtime.db.session(Scope(org.id)) as s:
        certificate_store.add_certificate(
            s,
            org_id=org.id,
            secret_key=runtime.settings.secret_key,
            chain_pem=files["chain"].read_text(),
            key_pem_text=files["key"].read_text(),
            label="demo (test STI-CA)",
            trust_anchors=load_certificates(files["root"].read_bytes()),
            now=now,
        )
        for npa in plan.area_codes:
            block = inventory.add_numbers(
                s, org_id=org.id, first=f"+1{npa}5550100", label="demo local presence"
            )
            inventory.set_status(s, block.id, "verified", at=now)
        campaign = create_campaign(
            s,
            org_id=org.id,
            name="Demo predictive campaign",
            settings={
                "pacing_policy": "predictive",
                "abandon_target": 0.02,
                "trunk_profile": "sandbox",
                "caller_id_mode": "local_presence",
                "caller_id": f"+1{plan.area_codes[0]}5550100",
                "max_lines_per_agent": 3.0,
            },
        )
        assign_agents(s, campaign, agent_ids)
        consent_day = datetime.now(UTC).date() - timedelta(days=30)
        lead_list = LeadList(org_id=org.id, campaign_id=campaign.id, name="synthetic demo leads")
        s.add(lead_list)
        s.flush()
        s.add_all(
            Lead(
                org_id=org.id,
                campaign_id=campaign.id,
                list_id=lead_list.id,
                row_number=row,
                phone_raw=number,
                phone_e164=number,
                first_name=f"Lead{row - 1}",
                # Every line type is known (an unknown one counts as wireless and needs consent): a third
                # are mobile numbers with prior express written consent, the rest landlines.
                wireless=row % 3 == 0,
                consent="express_written" if row % 3 == 0 else "none",
                consent_at=consent_day if row % 3 == 0 else None,
            )
            for row, number in enumerate(plan.numbers, start=2)
        )
        for number in sorted(plan.internal_dnc):
            add_internal_dnc(
                s,
                e164=number,
                campaign_id=None,
                source="compliance",
                reason="demo: asked not to be called",
                added_by=None,
            )
        campaign.status = "active"
        campaign_id = campaign.id
    # A copy obtained yesterday: fresh (<= 31 days) also for a verdict clock set earlier today.
    import_numbers(
        runtime.db,
        kind="national",
        numbers=[*sorted(plan.national_dnc), "+12025550199"],
        obtained_at=now - timedelta(days=1),
    )
    return DemoWorld(org.id, campaign_id, agent_ids, files["chain"], files["root"])


class AutoDispositions:
    """The agents' side after each call: a disposition posted a moment into wrap-up, like a person would."""

    def __init__(
        self, runtime: Runtime, world: DemoWorld, rng: random.Random, skip: frozenset[uuid.UUID] = frozenset()
    ) -> None:
        self.runtime = runtime
        self.world = world
        self.rng = rng
        self.skip = {str(a) for a in skip}  # agents a person plays in the console
        self.stop = threading.Event()
        self.posted: Counter[str] = Counter()
        self.thread = threading.Thread(target=self._run, name="demo-dispositions", daemon=True)

    def _run(self) -> None:
        from dialer.engine.agents import AgentBoard, AgentState
        from dialer.engine.sessions import dispose

        board = AgentBoard(self.runtime.redis)
        codes = [code for code, _ in DISPOSITIONS]
        weights = [weight for _, weight in DISPOSITIONS]
        while not self.stop.wait(0.2):
            now_ms = int(time.time() * 1000)
            for agent in board.campaign_agents(str(self.world.campaign_id)):
                if agent.agent_id in self.skip:
                    continue
                if agent.state is not AgentState.WRAP or now_ms - agent.since_ms < 800:
                    continue
                code = self.rng.choices(codes, weights)[0]
                try:
                    dispose(
                        self.runtime.db,
                        self.runtime.redis,
                        attempt_id=uuid.UUID(agent.last_attempt_id),
                        agent_id=uuid.UUID(agent.agent_id),
                        code=code,
                        at=datetime.now(UTC),
                    )
                    self.posted[code] += 1
                except Exception:  # the call's attempt may still be closing; the wrap timeout covers it
                    log.debug("disposition for %s not posted yet", agent.agent_id, exc_info=True)


@dataclass
class ConsoleServer:
    """The web console (the whole app) on a thread of the demo, with a job worker for lead uploads."""

    url: str
    server: Any
    thread: threading.Thread
    worker: Any

    @classmethod
    def start(cls, runtime: Runtime) -> ConsoleServer:
        import socket

        import dramatiq

        import clearline.actors  # noqa: F401 - declares every actor on the broker
        from api.app import create_app
        from api.console.serve import serve_in_thread
        from core.broker import broker

        host, port = runtime.settings.host, runtime.settings.port
        with socket.socket() as probe:  # the configured port, or any free one if it is taken
            try:
                probe.bind((host, port))
            except OSError:
                probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        try:
            server, thread = serve_in_thread(create_app(runtime), host, port, name="demo-console")
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        worker = dramatiq.Worker(broker, queues={"campaigns"}, worker_threads=1)
        worker.start()
        return cls(f"http://{host}:{port}/console", server, thread, worker)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.worker.stop()


def print_console_banner(url: str, logins: ConsoleLogins, agent_sip_uri: str, out: Any) -> None:
    print(
        "\n".join(
            [
                "",
                f"Console: {url}",
                f"  campaign manager: {logins.manager_email}  password {logins.manager_password}",
                f"  agent:            {logins.agent_email}  password {logins.agent_password}",
                f"                    (the agent's simulated phone: {agent_sip_uri})",
                "The floor keeps dialing until you press Ctrl-C; then it prints its summary.",
                "",
            ]
        ),
        file=out,
        flush=True,
    )


def _progress_line(runtime: Runtime, campaign_id: uuid.UUID, elapsed: float, total: float) -> str:
    """What a manager's live view shows (`GET /api/dialer/campaigns/{id}/live`), on one line."""
    from dialer.engine.agents import AgentBoard, AgentState
    from dialer.engine.live import read_live_stats

    stats = read_live_stats(runtime.redis, str(campaign_id))
    states = Counter(a.state for a in AgentBoard(runtime.redis).campaign_agents(str(campaign_id)))
    agents = " ".join(
        f"{s.value.lower()}={states[s]}"
        for s in (
            AgentState.READY,
            AgentState.INCALL,
            AgentState.WRAP,
            AgentState.PAUSED,
            AgentState.CONNECTING,
        )
        if states[s]
    )
    clock = f"[{elapsed:4.0f}/{total:.0f}s]" if total else f"[{elapsed:5.0f}s]"
    return (
        f"{clock} calls {stats.calls_placed} (live {stats.calls_in_progress})  "
        f"answered {stats.answered}  connected {stats.connected}  abandoned {stats.abandoned}  "
        f"dnc-blocked {stats.blocked}  dial level {stats.dial_level:.2f}  agents: {agents or '-'}"
    )


def _has_evidence(attempt: Any) -> bool:
    """The attempt carries the dial-time verdict it got (and, when dialed, its attestation and the
    campaign's abandon rate), in the schema the evidence API reads."""
    from campaigns.evidence import AttemptEvidence

    if not attempt.evidence:
        return False
    evidence = AttemptEvidence.from_json(attempt.evidence)
    if attempt.outcome == "blocked":
        return not evidence.compliance.callable
    return evidence.compliance.callable and evidence.attestation is not None and evidence.abandon is not None


def summarize(
    runtime: Runtime, world: DemoWorld, plan: DemoPlan, carrier: dict[str, Any], engine: Any
) -> dict[str, Any]:
    """The run's figures from the evidence: attempts in the database and what the carrier saw on the wire."""
    from campaigns.models import CallAttempt
    from core.db import ALL_ORGS
    from dnc.models import InternalDncEntry

    with runtime.db.session(ALL_ORGS) as s:
        rows = list(s.scalars(select(CallAttempt).where(CallAttempt.campaign_id == world.campaign_id)))
        entries = list(s.scalars(select(InternalDncEntry).where(InternalDncEntry.org_id == world.org_id)))
    outcomes = Counter(r.outcome for r in rows)
    human_answered = outcomes["human"] + outcomes["abandoned"]
    delays = sorted(
        (r.agent_connected_at - r.answered_at).total_seconds() * 1000
        for r in rows
        if r.agent_connected_at is not None and r.answered_at is not None
    )

    def pct(q: float) -> float:
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 1) if delays else 0.0

    blocked = [r for r in rows if r.outcome == "blocked"]
    dnc_blocked = sum(1 for r in blocked if any(reason.endswith("_dnc") for reason in r.verdict_reasons))
    # A call to a number that was on a DNC list when it was placed (national copy, or internal entry added
    # before the call: seeded, opt-out key, DNC disposition).
    added_at: dict[str, datetime] = {}
    for entry in entries:
        added_at[entry.e164] = min(added_at.get(entry.e164, entry.added_at), entry.added_at)
    dnc_dialed = 0
    for call in carrier.get("calls", {}).values():
        number = call.get("number", "")
        at = datetime.fromtimestamp(call.get("at", 0), UTC)
        if number in plan.national_dnc or (number in added_at and added_at[number] < at):
            dnc_dialed += 1
    identity = carrier.get("identity", {})
    return {
        "attempts": len(rows),
        "attempts_with_evidence": sum(1 for r in rows if _has_evidence(r)),
        "seconds": plan.seconds,
        "agents": plan.agents,
        "leads": plan.leads,
        "calls_placed": sum(n for o, n in outcomes.items() if o != "blocked"),
        "human_answered": human_answered,
        "connected_to_agent": outcomes["human"],
        "abandoned": outcomes["abandoned"],
        "abandon_rate": round(outcomes["abandoned"] / human_answered, 4) if human_answered else 0.0,
        "machine": outcomes["machine"],
        "no_answer": outcomes["no_answer"],
        "busy": outcomes["busy"],
        "failed": outcomes["failed"],
        "invalid": outcomes["invalid"],
        "in_progress": outcomes["in_progress"],
        "dispositions": dict(Counter(r.disposition for r in rows if r.disposition)),
        "identity_verified": int(identity.get("verified", 0)),
        "identity_failed": int(identity.get("failed", 0)),
        "identity_missing": int(identity.get("missing", 0)),
        "dnc_blocked": dnc_blocked,
        "other_blocked": len(blocked) - dnc_blocked,
        "dnc_dialed": dnc_dialed,
        "opt_outs": sum(1 for e in entries if e.source == "opt_out_key"),
        "answer_to_agent_ms_p50": pct(0.5),
        "answer_to_agent_ms_p99": pct(0.99),
        "max_concurrent_calls": int(
            carrier.get("max_concurrent", engine.max_concurrent_calls if engine is not None else 0)
        ),
        "carrier_invites": int(carrier.get("invites", 0)),
        "area_codes": plan.area_codes,
        "compliance_clock": plan.clock_override.isoformat() if plan.clock_override else "real time",
    }


def run_demo(
    seconds: float,
    agents: int,
    leads: int,
    *,
    out: Any,
    seed: int | None = None,
    console: bool = False,
    supervisors: int = 1,
    kill_one_at: float | None = None,
) -> dict[str, Any]:
    """Run the floor for `seconds`; with `console`, serve the web console too and keep the floor running
    until interrupted (Ctrl-C), leaving the first agent for a person to play in the browser. With
    `supervisors` > 1 the engine runs as that many `clearline dialer` processes sharing the campaign
    (ownership leases, one trunk limit in Redis); `kill_one_at` kills the campaign's owner with -9 then."""
    from attestation.certificates import load_certificates
    from campaigns.models import Campaign
    from core.db import Scope
    from dialer.engine.identity import platform_identity
    from dialer.engine.sandbox import Sandbox, SandboxSettings
    from dialer.engine.sessions import start_agent_session
    from dialer.engine.supervisor import EngineConfig
    from dialer.simulators.carrier import CarrierBehaviour

    rng = random.Random(seed)
    started = time.monotonic()
    home = demo_home()
    (home / SYNTHETIC_MARKER).write_text("made by clearline demo: its campaign may take a synthetic clock\n")
    plan = plan_demo(seconds, agents, leads, datetime.now(UTC), rng)
    print(f"Clearline demo: data dir {home}", file=out)
    if plan.clock_override is not None:
        print(
            f"note: no US area code is inside calling hours right now; the compliance verdict of this synthetic "
            f"campaign only is taken at {plan.clock_override.isoformat()} (the engine's --at override)",
            file=out,
        )
    else:
        print(f"leads in area codes {', '.join(plan.area_codes)} (inside calling hours right now)", file=out)
    runtime = start_runtime(home)
    logins = (
        ConsoleLogins(
            manager_email="manager@demo.clearline.test",
            manager_password=secrets.token_urlsafe(12),
            agent_email="agent1@demo.clearline.test",
            agent_password=secrets.token_urlsafe(12),
        )
        if console
        else None
    )
    world = build_world(runtime, plan, home, logins)
    override = plan.clock_override
    campaign_id = world.campaign_id

    def clock(cid: uuid.UUID, now: datetime) -> datetime:
        return override if override is not None and cid == campaign_id else now

    identity = platform_identity(
        runtime.db,
        secret_key=runtime.settings.secret_key,
        public_base_url=runtime.settings.public_base_url,
        trust_anchors=load_certificates(world.root_pem.read_bytes()),
    )
    box = Sandbox(
        runtime,
        identity,
        SandboxSettings(
            workdir=home / "floor",
            behaviour=CarrierBehaviour(
                human=0.45,
                machine=0.2,
                no_answer=0.2,
                busy=0.15,
                ring_s=(1.0, 4.0),
                talk_s=(3.0, 9.0),
                opt_out=0.5,
            ),
            chain_pem=world.chain_pem,
            trust_anchor_pem=world.root_pem,
            ring_timeout_s=15.0,
            seed=seed,
            engine=EngineConfig(
                campaign_ids=frozenset({campaign_id}),
                compliance_clock=clock,
                min_workers=2,
                max_workers=4,
                wrap_timeout_s=5.0,
            ),
            engine_in_process=supervisors == 1,
        ),
    )
    synthetic = f"{campaign_id}={override.isoformat()}" if override is not None else None
    fleet = SupervisorFleet(home, box.profiles_dir, supervisors, synthetic) if supervisors > 1 else None
    person = frozenset(world.agent_ids[:1]) if console else frozenset()
    dispositions = AutoDispositions(runtime, world, rng, skip=person)
    summary: dict[str, Any] = {}
    served: ConsoleServer | None = None
    try:
        box.start()
        if fleet is not None:
            fleet.start(out)
            # Agents log in once a supervisor owns the campaign: a login that arrives while the campaign is
            # being acquired is otherwise answered twice (the takeover calls the agent again too).
            fleet.wait_for_owner(runtime, campaign_id)
        box.register_phones(world.org_id, world.agent_ids)
        with runtime.db.session(Scope(world.org_id)) as s:
            campaign = s.get(Campaign, campaign_id)
            assert campaign is not None
            for agent_id in world.agent_ids:
                if agent_id in person:
                    continue  # logs in from the console
                start_agent_session(
                    s, runtime.redis, agent_id=agent_id, campaign=campaign, sip_uri=box.agent_uri(agent_id)
                )
        dispositions.thread.start()
        if logins is not None:
            served = ConsoleServer.start(runtime)
            print_console_banner(served.url, logins, box.agent_uri(world.agent_ids[0]), out)
        else:
            print(f"running {seconds:.0f} s with {agents} agents on {leads} leads...", file=out)
        run_start = time.monotonic()
        tty = out.isatty()
        last_print = 0.0
        while console or time.monotonic() - run_start < seconds:
            elapsed = time.monotonic() - run_start
            if console and served is not None and not served.thread.is_alive():
                raise click.ClickException("the console server stopped; see the log above")
            line = _progress_line(runtime, campaign_id, elapsed, 0 if console else seconds)
            if tty:
                print("\r" + line.ljust(150), end="", file=out, flush=True)
            elif elapsed - last_print >= 5 or last_print == 0.0:
                print(line, file=out, flush=True)
                last_print = elapsed or 0.001
            if (
                fleet is not None
                and kill_one_at is not None
                and fleet.killed is None
                and elapsed >= kill_one_at
            ):
                victim = fleet.kill_owner(runtime, campaign_id)
                print(f"\nkilled supervisor {victim} (kill -9) at {elapsed:.0f} s", file=out, flush=True)
            time.sleep(0.5)
        if tty:
            print(file=out)
        print("stopping: letting calls in progress finish...", file=out)
    except KeyboardInterrupt:
        if not console:
            raise
        print("\nstopping: letting calls in progress finish...", file=out)
    finally:
        if served is not None:
            served.stop()
        dispositions.stop.set()
        if fleet is not None:
            fleet.stop()
        box.close(drain_s=3.0)
        if dispositions.thread.is_alive():
            dispositions.thread.join(5)
    summary = summarize(runtime, world, plan, box.carrier_stats(), box.engine)
    summary["dispositions_posted_by_simulated_agents"] = dict(dispositions.posted)
    summary["workers_restarted"] = box.engine.workers_restarted if box.engine is not None else 0
    summary.update(scale_out_figures(runtime, world, box, supervisors))
    summary["wall_s"] = round(time.monotonic() - started, 1)
    summary["data_dir"] = str(home)
    runtime.db.dispose()
    return summary


class SupervisorFleet:
    """`--supervisors N`: N `clearline dialer` processes (as `clearline up` starts one) on the demo's
    embedded servers, each with its own id and line workers; they die with the demo (parent-death signal)."""

    def __init__(
        self, home: Path, profiles_dir: Path, count: int, synthetic_clock: str | None = None
    ) -> None:
        self.home = home
        self.synthetic_clock = synthetic_clock  # CAMPAIGN_ID=instant: the demo's campaign at night
        self.profiles_dir = profiles_dir
        self.ids = [f"demo-{i + 1}" for i in range(count)]
        self.procs: dict[str, Any] = {}
        self.killed: str | None = None

    def start(self, out: Any, timeout_s: float = 120.0) -> None:
        from core.processes import spawn

        logs = self.home / "floor" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for sid in self.ids:
            argv = [sys.executable, "-m", "dialer.cli", "--supervisor-id", sid, "--pool", "demo"]
            argv += ["--profiles-dir", str(self.profiles_dir), "--min-workers", "1", "--max-workers", "4"]
            if self.synthetic_clock is not None:
                argv += ["--synthetic-clock", self.synthetic_clock]
            with open(logs / f"supervisor-{sid}.log", "ab") as log_file:
                self.procs[sid] = spawn(
                    argv, stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy()
                )
        deadline = time.monotonic() + timeout_s
        for sid, proc in self.procs.items():
            path = logs / f"supervisor-{sid}.log"
            while b"running" not in path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = path.read_text(errors="replace")[-2000:]
                    raise click.ClickException(f"supervisor {sid} did not start:\n{tail}")
                time.sleep(0.2)
        print(f"{len(self.ids)} supervisors running: {', '.join(self.ids)}", file=out, flush=True)

    def owner(self, runtime: Runtime, campaign_id: uuid.UUID) -> str | None:
        from dialer.engine.ownership import OwnershipStore

        lease = OwnershipStore(runtime.redis).leases([str(campaign_id)], time.time()).get(str(campaign_id))
        return lease.owner if lease is not None and lease.owner in self.procs else None

    def wait_for_owner(self, runtime: Runtime, campaign_id: uuid.UUID, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while (owner := self.owner(runtime, campaign_id)) is None:
            if time.monotonic() > deadline:
                raise click.ClickException(f"no supervisor took the campaign within {timeout_s:.0f} s")
            time.sleep(0.2)
        return owner

    def kill_owner(self, runtime: Runtime, campaign_id: uuid.UUID) -> str:
        """kill -9 the supervisor that owns the campaign now (any live one if no lease is held yet)."""
        import signal

        victim = self.owner(runtime, campaign_id) or self.ids[0]
        self.procs[victim].send_signal(signal.SIGKILL)
        self.procs[victim].wait()
        self.killed = victim
        return victim

    def stop(self, timeout_s: float = 40.0) -> None:
        import signal

        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _supervisor_of(worker: str) -> str:
    """The supervisor id in an attempt's holder name (`dialer:<supervisor id>:<pool>`)."""
    parts = worker.split(":")
    return ":".join(parts[1:-1]) if len(parts) >= 3 else worker


def scale_out_figures(runtime: Runtime, world: DemoWorld, box: Any, supervisors: int) -> dict[str, Any]:
    """What several supervisors did, from the evidence: attempts and leads in PostgreSQL (who placed each
    call, in order), the carrier's INVITE counts and measured CPS, and the trunk profile's limit."""
    import tomllib

    from campaigns.models import CallAttempt, Lead
    from core.db import ALL_ORGS
    from dialer.engine.sandbox import PROFILE_NAME

    with runtime.db.session(ALL_ORGS) as s:
        rows = list(
            s.scalars(
                select(CallAttempt)
                .where(CallAttempt.campaign_id == world.campaign_id)
                .order_by(CallAttempt.placed_at)
            )
        )
        held = set(
            s.scalars(
                select(Lead.id).where(Lead.campaign_id == world.campaign_id, Lead.status == "in_progress")
            )
        )
    placed = [r for r in rows if r.outcome != "blocked"]
    # A takeover: the next call of the campaign placed by another supervisor than the one before.
    owners = [_supervisor_of(r.worker) for r in placed if r.worker]
    takeovers = sum(1 for a, b in pairwise(owners) if a != b)
    # Lost: a lead still held, or an attempt never finalized, after every supervisor stopped.
    lost = held | {r.lead_id for r in rows if r.outcome == "in_progress"}
    # Dialed twice: a lead called again while its previous call was still open (no recycle rule allows
    # that), or a number the carrier got more INVITEs for than the database has calls.
    twice: set[str] = set()
    by_lead: dict[int, list[Any]] = {}
    for r in placed:
        by_lead.setdefault(r.lead_id, []).append(r)
    for calls in by_lead.values():
        for earlier, later in pairwise(calls):
            if earlier.ended_at is None or later.placed_at < earlier.ended_at:
                twice.add(later.e164)
    stats = box.carrier_stats()
    per_number = Counter(r.e164.lstrip("+") for r in placed)
    for number, invites in (stats.get("calls_by_number") or {}).items():
        if invites > per_number[number.lstrip("+")]:
            twice.add("+" + number.lstrip("+"))
    profile = tomllib.loads((box.profiles_dir / f"{PROFILE_NAME}.toml").read_text())
    return {
        "supervisors": supervisors,
        "campaign_takeovers": takeovers,
        "leads_lost": len(lost),
        "leads_dialed_twice": len(twice),
        "max_cps_observed": int(stats.get("max_cps", 0)),
        "trunk_max_cps": float(profile["limits"]["max_cps"]),
    }


DIAL_LEVEL = "dial level = calls in progress per working agent (above 1: calls placed ahead of free agents)"
# Every outcome of a placed call, so the summary's lines add up to "calls placed".
PLACED_OUTCOMES = (
    ("connected to an agent (<= 2 s)", "connected_to_agent"),
    ("abandoned (safe harbor played)", "abandoned"),
    ("answering machines", "machine"),
    ("no answer", "no_answer"),
    ("busy", "busy"),
    ("invalid numbers", "invalid"),
    ("failed (trunk or network; the lead is retried)", "failed"),
    ("still in progress", "in_progress"),
)


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The summary as (label, value) lines: calls placed first, then every outcome adding up to it."""
    rows: list[tuple[str, Any]] = [("calls placed", summary["calls_placed"])]
    rows += [(f"  {label}", summary.get(key, 0)) for label, key in PLACED_OUTCOMES]
    rows += [
        ("answered by a person", f"{summary['human_answered']} (connected + abandoned)"),
        (
            "abandon rate",
            f"{summary['abandon_rate'] * 100:.2f}%  (abandoned / answered by a person; limit 3%)",
        ),
        (
            "identity verified / failed at carrier",
            f"{summary['identity_verified']} / {summary['identity_failed']}",
        ),
        ("blocked by DNC at dial time (not placed)", summary["dnc_blocked"]),
        ("blocked by other rules (not placed)", summary.get("other_blocked", 0)),
        ("calls to DNC numbers", summary["dnc_dialed"]),
        ("opt-outs (key press) -> internal DNC", summary["opt_outs"]),
        (
            "answer -> agent p50 / p99",
            f"{summary['answer_to_agent_ms_p50']} / {summary['answer_to_agent_ms_p99']} ms",
        ),
        ("max concurrent calls", summary["max_concurrent_calls"]),
        ("compliance clock", summary["compliance_clock"]),
    ]
    dispositions = summary.get("dispositions") or {}
    if dispositions:
        rows.append(("dispositions", ", ".join(f"{code} {n}" for code, n in sorted(dispositions.items()))))
    return rows


def print_summary(summary: dict[str, Any], out: Any) -> None:
    rows = summary_rows(summary)
    width = max(len(label) for label, _ in rows)
    print("\nSummary", file=out)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}", file=out)
    print(f"  ({DIAL_LEVEL})", file=out)


@click.command("demo")
@click.option(
    "--seconds", default=30.0, show_default=True, type=click.FloatRange(5, 3600), help="How long to dial."
)
@click.option("--agents", default=6, show_default=True, type=click.IntRange(1, 100))
@click.option("--leads", default=500, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--seed", type=int, default=None, help="Random seed (leads, DNC hits, callee behaviour).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (progress goes to stderr).")
@click.option(
    "--console",
    is_flag=True,
    help="Serve the web console and keep the floor running until Ctrl-C; prints the URL and logins.",
)
@click.option(
    "--supervisors",
    default=1,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Run the engine as this many supervisor processes sharing the campaign (1: in the demo's process).",
)
@click.option(
    "--kill-one-at",
    type=click.FloatRange(1, 3600),
    default=None,
    help="With --supervisors > 1: kill -9 the supervisor owning the campaign this many seconds in.",
)
def demo(
    seconds: float,
    agents: int,
    leads: int,
    seed: int | None,
    as_json: bool,
    console: bool,
    supervisors: int,
    kill_one_at: float | None,
) -> None:
    """Run a sample campaign end to end on simulated carrier and agent phones, then print its figures."""
    if not click.get_current_context().find_root().params.get("verbose"):  # `clearline -v demo`: every line
        for noisy in ("dialer", "httpx", "dnc", "campaigns", "attestation"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    out = sys.stderr if as_json else sys.stdout
    if kill_one_at is not None and supervisors < 2:
        raise click.BadParameter(
            f"{kill_one_at:g}: killing a supervisor needs --supervisors 2 or more (got {supervisors})",
            param_hint="--kill-one-at",
        )
    summary = run_demo(
        seconds,
        agents,
        leads,
        out=out,
        seed=seed,
        console=console,
        supervisors=supervisors,
        kill_one_at=kill_one_at,
    )
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_summary(summary, out)
