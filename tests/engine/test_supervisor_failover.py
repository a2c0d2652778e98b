"""Two supervisors as processes of their own on one PostgreSQL and Redis, real SIP over loopback (issue 14):
they share the campaigns out, one is killed with -9 mid-shift, the other takes its campaign over.
Asserted: every attempt of the dead one is finalized within 10 s of the kill, no lead is lost, no number
is dialed twice, the carrier never sees more calls per second than the trunk allows (both supervisors
dial the one trunk), and the dead one's agent takes calls again from the survivor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.models import CallAttempt, Campaign, Lead
from core.db import ALL_ORGS
from core.runtime import Runtime
from dialer.engine.agents import AgentBoard, AgentState
from dialer.engine.ownership import OwnershipStore
from dialer.engine.sandbox import PROFILE_NAME, free_udp_port, write_profile
from dialer.simulators.agent_phones import start_agent_phones
from dialer.simulators.carrier import CarrierBehaviour, read_stats, start_carrier, wait_listening
from tests.conftest import Tenant, make_tenant
from tests.engine.conftest import TestCertificates, provision_identity
from tests.engine.factories import allow_agent_phones, make_campaign
from tests.engine.test_engine_calls import HISTORY_TRUNK, login, seed_answered_history, wait_for

MAX_CPS = 2  # low, so that the two supervisors together would go past it if each kept it alone
LEADS = 24


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 40.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_supervisor_killed_mid_shift_is_taken_over_without_losing_or_redialing_a_lead(
    runtime: Runtime,
    client: TestClient,
    certificates: TestCertificates,
    national_registry: None,
    tmp_path: Path,
) -> None:
    carrier_port, phones_port = free_udp_port(), free_udp_port()
    profiles = tmp_path / "profiles"
    write_profile(
        profiles, carrier_port=carrier_port, max_cps=MAX_CPS, max_concurrent=300, ring_timeout_s=15.0
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    carrier_stats, phones_stats = tmp_path / "carrier.json", tmp_path / "phones.json"
    children = [
        start_carrier(
            port=carrier_port,
            stats_path=carrier_stats,
            behaviour=CarrierBehaviour(
                human=1.0, machine=0, no_answer=0, busy=0, ring_s=(0.2, 0.4), talk_s=(0.8, 1.5)
            ),
            log_path=logs / "carrier.log",
        ),
        start_agent_phones(port=phones_port, stats_path=phones_stats, log_path=logs / "phones.log"),
    ]
    supervisors: dict[str, subprocess.Popen[bytes]] = {}
    try:
        wait_listening(children[0], carrier_stats)
        wait_listening(children[1], phones_stats)
        tenants, campaigns = [], []
        for block in (0, 1):
            tenant = make_tenant(runtime)
            provision_identity(runtime, tenant.id, certificates)
            allow_agent_phones(runtime, tenant.id)
            numbers = [f"+1312555{7000 + 100 * block + i:04d}" for i in range(LEADS)]
            campaign = make_campaign(
                runtime,
                tenant.id,
                agent_ids=[tenant.users["agent"].id],
                numbers=numbers,
                settings={
                    "trunk_profile": PROFILE_NAME,
                    "pacing_policy": "ratio",
                    "pacing_settings": {"lines_per_agent": 2.0},
                },
            )
            seed_answered_history(runtime, campaign)
            tenants.append(tenant)
            campaigns.append(campaign)
        ids = [str(c.id) for c in campaigns]
        tag = uuid.uuid4().hex[:6]
        for name in (f"fo-{tag}-a", f"fo-{tag}-b"):
            supervisors[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.engine.supervisor_process",
                    name,
                    str(profiles),
                    str(logs),
                    *ids,
                ],
                stdout=open(logs / f"{name}.log", "ab"),  # noqa: SIM115 - owned by the child
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
        store = OwnershipStore(runtime.redis)

        def owners() -> dict[str, str]:
            return {c: lease.owner for c, lease in store.leases(ids, time.time()).items()}

        def started(name: str) -> bool:
            return b"started" in (logs / f"{name}.log").read_bytes()

        # Starting (imports, a line worker with pjsua2) takes long on a loaded machine: wait for both.
        wait_for(lambda: all(started(n) for n in supervisors), 120, "both supervisors to start")
        # The share-out is not a legal bound (the takeover after the kill, below, is: 10 s). A campaign the
        # first supervisor took alone moves only once its calls have ended, which can take its talk times.
        try:
            wait_for(lambda: len(set(owners().values())) == 2, 90, "each supervisor to own one campaign")
        except AssertionError as exc:  # what each supervisor decided, to tell why it did not share out
            tails = {n: (logs / f"{n}.log").read_text(errors="replace")[-3000:] for n in supervisors}
            raise AssertionError(f"{exc}; owners {owners()}; logs {tails}") from None
        for tenant, campaign in zip(tenants, campaigns, strict=True):
            agent_id = tenant.users["agent"].id
            login(client, tenant, "agent", f"sip:{agent_id}@127.0.0.1:{phones_port}", campaign.id)
        board = AgentBoard(runtime.redis)

        def connected(campaign_index: int) -> int:
            return sum(1 for a in _attempts(runtime, campaigns[campaign_index].id) if a.agent_connected_at)

        try:
            wait_for(lambda: connected(0) >= 2 and connected(1) >= 2, 60, "both agents to take calls")
        except AssertionError:
            raise AssertionError(_state(runtime, campaigns, board, tenants)) from None

        victim_name = owners()[ids[0]]
        survivor_name = next(n for n in supervisors if n != victim_name)
        victim_holder = f"dialer:{victim_name}:failover"
        supervisors[victim_name].kill()  # kill -9, mid-shift
        killed_at = time.monotonic()
        supervisors[victim_name].wait()

        def victims_open() -> int:
            return sum(
                1
                for c in campaigns
                for a in _attempts(runtime, c.id)
                if a.worker == victim_holder and a.outcome == "in_progress"
            )

        wait_for(lambda: victims_open() == 0, 15, "the dead supervisor's attempts to be finalized")
        finalized_after_s = time.monotonic() - killed_at
        assert finalized_after_s <= 10.0, finalized_after_s
        wait_for(lambda: set(owners().values()) == {survivor_name}, 10, "the survivor to own both")
        taken_over_after_s = time.monotonic() - killed_at
        before = connected(0)
        wait_for(lambda: connected(0) > before, 40, "the dead one's agent to take calls from the survivor")
        agent0 = board.status(str(tenants[0].users["agent"].id))
        assert agent0 is not None and agent0.state is not AgentState.LOGGED_OUT

        def all_dialed() -> bool:  # every lead tried at least once (a failed one waits for its retry)
            return all(
                len({a.lead_id for a in _attempts(runtime, c.id)}) == LEADS
                and not _leads(runtime, c.id, status="in_progress")
                for c in campaigns
            )

        wait_for(all_dialed, 90, "every lead to be dialed")
        _stop(supervisors[survivor_name])

        stats = read_stats(carrier_stats)
        ours = {n: k for n, k in stats["calls_by_number"].items() if n.startswith(("1312555", "+1312555"))}
        assert ours and max(ours.values()) == 1, {n: k for n, k in ours.items() if k > 1}  # none twice
        assert stats["max_cps"] <= MAX_CPS, stats["max_cps"]
        for campaign in campaigns:  # no lead lost: each ended, or waits for its next try, none held
            assert not _leads(runtime, campaign.id, status="in_progress")
            assert all(a.outcome != "in_progress" for a in _attempts(runtime, campaign.id))
        print(
            f"finalized {finalized_after_s:.1f} s, taken over {taken_over_after_s:.1f} s after the kill; "
            f"carrier max CPS {stats['max_cps']} (limit {MAX_CPS}); {len(ours)} numbers dialed once"
        )
    finally:
        for proc in supervisors.values():
            _stop(proc)
        for child in children:
            child.terminate()
            child.wait(10)


def _attempts(runtime: Runtime, campaign_id: uuid.UUID) -> list[CallAttempt]:
    with runtime.db.session(ALL_ORGS) as s:
        return list(
            s.scalars(
                select(CallAttempt).where(
                    CallAttempt.campaign_id == campaign_id, CallAttempt.trunk != HISTORY_TRUNK
                )
            )
        )


def _leads(runtime: Runtime, campaign_id: uuid.UUID, *, status: str) -> list[int]:
    with runtime.db.session(ALL_ORGS) as s:
        return list(s.scalars(select(Lead.id).where(Lead.campaign_id == campaign_id, Lead.status == status)))


def _state(runtime: Runtime, campaigns: list[Campaign], board: AgentBoard, tenants: list[Tenant]) -> str:
    out = []
    for c, t in zip(campaigns, tenants, strict=True):
        rows = _attempts(runtime, c.id)
        out.append(f"{c.id}: {[(a.outcome, a.worker, a.verdict_reasons) for a in rows][:6]}")
        out.append(f"agent: {board.status(str(t.users['agent'].id))}")
    return "\n".join(out)
