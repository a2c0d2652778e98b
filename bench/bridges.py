"""Benchmark: answer→agent through the whole engine (claim on the Redis board, Bridge command, the line
worker's bridge) for a call answered in the worker holding the agent's leg, against one answered in
another worker of the same supervisor (the cross-worker bridge: an internal loopback SIP leg with a
one-time token, `dialer.sip.admission`).

    .venv/bin/python bench/bridges.py [--seconds 40] [--agents 1]

Two runs of one in-process supervisor on the embedded PostgreSQL/Redis, the carrier and phone
simulators over loopback, every lead answered by a person (ring 0.2-0.4 s, talk 0.5-0.8 s, wrap-up 0.3 s),
ratio pacing at one line per agent:
- same worker (the baseline): one line worker holds the agents' legs and the calls;
- cross worker: two workers with one slot each per agent (`calls_per_worker` = agents), so the agents'
  worker is full and every call is placed on, and answered in, the other one.
Figures from the evidence: each attempt's `agent_connected_at - answered_at` (both stamped by the line
workers). The legal bound is 2 s (`core.legal.AGENT_CONNECT_DEADLINE_S`); the figure is the ratio.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Run:
    label: str
    delays_ms: list[float]
    answered: int
    safe_harbor: int

    def pct(self, q: float) -> float:
        ordered = sorted(self.delays_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def run_floor(
    runtime, world, identity, home: Path, *, label: str, workers: int, calls_per_worker: int, seconds: float
) -> Run:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from campaigns.models import CallAttempt, Campaign
    from core.db import ALL_ORGS, Scope
    from dialer.engine.sandbox import Sandbox, SandboxSettings
    from dialer.engine.sessions import log_out, start_agent_session
    from dialer.engine.supervisor import EngineConfig
    from dialer.simulators.carrier import CarrierBehaviour

    started = datetime.now(UTC)
    box = Sandbox(
        runtime,
        identity,
        SandboxSettings(
            workdir=home / label.replace(" ", "-"),
            behaviour=CarrierBehaviour(
                human=1.0, machine=0.0, no_answer=0.0, busy=0.0, ring_s=(0.2, 0.4), talk_s=(0.5, 0.8)
            ),
            chain_pem=world.chain_pem,
            trust_anchor_pem=world.root_pem,
            engine=EngineConfig(
                campaign_ids=frozenset({world.campaign_id}),
                min_workers=workers,
                max_workers=workers,
                calls_per_worker=calls_per_worker,
                wrap_timeout_s=0.3,
                compliance_clock=world.clock,
            ),
        ),
    )
    try:
        box.start()
        box.register_phones(world.org_id, world.agent_ids)
        with runtime.db.session(Scope(world.org_id)) as s:
            campaign = s.get(Campaign, world.campaign_id)
            assert campaign is not None
            for agent_id in world.agent_ids:
                start_agent_session(
                    s, runtime.redis, agent_id=agent_id, campaign=campaign, sip_uri=box.agent_uri(agent_id)
                )
        time.sleep(seconds)
        with runtime.db.session(Scope(world.org_id)) as s:
            for agent_id in world.agent_ids:
                log_out(s, runtime.redis, agent_id=agent_id)
    finally:
        box.close(drain_s=3.0)
    with runtime.db.session(ALL_ORGS) as s:
        rows = list(
            s.scalars(
                select(CallAttempt).where(
                    CallAttempt.campaign_id == world.campaign_id,
                    CallAttempt.placed_at >= started,
                    CallAttempt.answered_at.is_not(None),
                )
            )
        )
    delays = [
        (r.agent_connected_at - r.answered_at).total_seconds() * 1000
        for r in rows
        if r.agent_connected_at is not None and r.answered_at is not None
    ]
    return Run(label, delays, len(rows), sum(1 for r in rows if r.safe_harbor_at is not None))


@dataclass
class World:
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    agent_ids: list[uuid.UUID]
    chain_pem: Path
    root_pem: Path
    override: datetime | None

    def clock(self, campaign_id: uuid.UUID, now: datetime) -> datetime:
        return self.override if self.override is not None else now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="dialing time of each run")
    parser.add_argument("--agents", type=int, default=1)
    args = parser.parse_args()

    from attestation.certificates import load_certificates
    from campaigns.models import Campaign
    from clearline.demo import build_world, demo_home, plan_demo, start_runtime
    from core.db import Scope
    from core.embedded import stop_redis
    from core.legal import AGENT_CONNECT_DEADLINE_S
    from dialer.engine.identity import platform_identity

    home = demo_home()
    runtime = start_runtime(home)
    try:
        leads = int(args.seconds * 2 * args.agents) + 20
        plan = plan_demo(args.seconds * 2 + 60, args.agents, leads, datetime.now(UTC), random.Random(7))
        plan.national_dnc, plan.internal_dnc = set(), set()
        built = build_world(runtime, plan, home)
        with runtime.db.session(Scope(built.org_id)) as s:
            campaign = s.get(Campaign, built.campaign_id)
            assert campaign is not None
            campaign.pacing_policy, campaign.pacing_settings = "ratio", {"lines_per_agent": 1.0}
        world = World(
            built.org_id,
            built.campaign_id,
            built.agent_ids,
            built.chain_pem,
            built.root_pem,
            plan.clock_override,
        )
        identity = platform_identity(
            runtime.db,
            secret_key=runtime.settings.secret_key,
            public_base_url=runtime.settings.public_base_url,
            trust_anchors=load_certificates(world.root_pem.read_bytes()),
        )
        same = run_floor(
            runtime,
            world,
            identity,
            home,
            label="same worker",
            workers=1,
            calls_per_worker=28,
            seconds=args.seconds,
        )
        cross = run_floor(
            runtime,
            world,
            identity,
            home,
            label="cross worker",
            workers=2,
            calls_per_worker=args.agents,
            seconds=args.seconds,
        )
    finally:
        runtime.db.dispose()
        stop_redis(home / "redis")  # PostgreSQL stops with its last process, this one
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n== answer->agent through the engine, {args.agents} agent(s), {args.seconds:.0f} s per run")
    for run in (same, cross):
        print(
            f"  {run.label:13s} p50 {run.pct(0.5):7.1f} ms  p99 {run.pct(0.99):7.1f} ms  max "
            f"{max(run.delays_ms, default=float('nan')):7.1f} ms  (bridged {len(run.delays_ms)} of "
            f"{run.answered} answered, safe harbor {run.safe_harbor})"
        )
    print(
        f"  cross / same worker: p50 {cross.pct(0.5) / same.pct(0.5):.2f}x, p99 {cross.pct(0.99) / same.pct(0.99):.2f}x"
    )
    print(
        f"  legal bound {AGENT_CONNECT_DEADLINE_S * 1000:.0f} ms: cross-worker p99 is "
        f"{cross.pct(0.99) / (AGENT_CONNECT_DEADLINE_S * 1000):.1%} of it"
    )


if __name__ == "__main__":
    main()
