"""The engine placing real SIP calls over loopback to the carrier simulator, with agents on simulated
phones: attempts are recorded with their evidence, DNC additions take effect mid-run, dead workers are
replaced without losing or double-dialing leads, and unanswered abandons get safe harbor and opt-out."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import select, update

from attestation.certificates import TestCertificateAuthority
from campaigns import attempts
from campaigns.hopper import lease_leads
from campaigns.models import CallAttempt, Campaign, Lead
from core.db import ALL_ORGS, Scope
from core.legal import AGENT_CONNECT_DEADLINE_S
from core.models import User
from core.runtime import Runtime
from dialer.engine.sandbox import PROFILE_NAME
from dialer.engine.supervisor import EngineConfig
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.models import AgentSession
from dialer.simulators.carrier import CarrierBehaviour
from dnc.internal import add_internal_dnc
from dnc.models import InternalDncEntry
from tests.conftest import Tenant, make_tenant
from tests.engine.conftest import MakeSandbox, TestCertificates, noon_eastern, provision_identity
from tests.engine.factories import make_campaign

BEHAVIOUR_BY_SUFFIX = {"1": "human", "2": "machine", "3": "busy", "4": "no_answer"}


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


HISTORY_TRUNK = "history"  # marks the seeded record of earlier days, apart from the calls under test


def attempts_of(runtime: Runtime, campaign_id: uuid.UUID) -> list[CallAttempt]:
    with runtime.db.session(ALL_ORGS) as s:
        return list(
            s.scalars(
                select(CallAttempt).where(
                    CallAttempt.campaign_id == campaign_id, CallAttempt.trunk != HISTORY_TRUNK
                )
            )
        )


def seed_answered_history(runtime: Runtime, campaign: Campaign, answered: int = 200) -> None:
    """Yesterday's record of `answered` calls connected to agents, none abandoned: the abandon guard
    lets a campaign dial ahead of its agents only on a budget it has earned (a new one cannot drop)."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with runtime.db.session(ALL_ORGS) as s:
        s.add_all(
            CallAttempt(
                org_id=campaign.org_id,
                lead_id=0,
                campaign_id=campaign.id,
                trunk=HISTORY_TRUNK,
                placed_at=yesterday,
                answered_at=yesterday,
                ended_at=yesterday,
                outcome="human",
            )
            for _ in range(answered)
        )


def engine_config(campaign_id: uuid.UUID, **overrides: object) -> EngineConfig:
    return replace(
        EngineConfig(
            campaign_ids=frozenset({campaign_id}),
            compliance_clock=noon_eastern,
            extra_headers=lambda lead: {"X-Sim-Behaviour": BEHAVIOUR_BY_SUFFIX.get(lead.e164[-2], "human")},
            wrap_timeout_s=1.0,
            min_workers=1,
        ),
        **overrides,  # type: ignore[arg-type]
    )


def one_agent_floor(
    runtime: Runtime, certificates: TestCertificates, numbers: list[str], *, lines_per_agent: float
) -> tuple[Tenant, User, Campaign]:
    """An organization with signing identity, one agent, and an active ratio-paced campaign of `numbers`
    (with a clean 30-day record, so the abandon guard lets it dial ahead of the agent)."""
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)
    agent = tenant.users["agent"]
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=numbers,
        settings={
            "trunk_profile": PROFILE_NAME,
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": lines_per_agent},
        },
    )
    seed_answered_history(runtime, campaign)
    return tenant, agent, campaign


def login(client: TestClient, tenant: Tenant, role_user: str, uri: str, campaign_id: uuid.UUID) -> None:
    r = client.post(
        "/api/agents/me/session",
        json={"sip_uri": uri, "campaign_id": str(campaign_id)},
        headers=tenant.headers(role_user),
    )
    assert r.status_code == 201, r.text


def test_a_campaign_run_records_every_attempt_with_its_evidence_and_honours_dnc_added_mid_run(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates, "+12025550100")
    agent = tenant.users["agent"]
    # (No-answer calls and our CANCEL after >= 15 s of ringing are covered by the SIP layer's sipp tests.)
    numbers = [f"+1202555{n:04d}" for n in (1011, 1021, 1031, 1051, 1061)]
    blocked_before, blocked_mid_run = "+12025551071", "+12025551081"
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=[*numbers, blocked_before, blocked_mid_run],
        settings={
            "trunk_profile": PROFILE_NAME,
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 2.0},
        },
    )
    seed_answered_history(runtime, campaign)
    with runtime.db.session(ALL_ORGS) as s:  # the mid-run number is the very last lead handed out
        s.execute(update(Lead).where(Lead.phone_e164 == blocked_mid_run).values(priority=-1))
    with runtime.db.session(Scope(tenant.id)) as s:
        add_internal_dnc(
            s, e164=blocked_before, campaign_id=None, source="compliance", reason="test", added_by=None
        )
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.5), talk_s=(1.0, 2.0), machine_talk_s=(1.0, 1.5)),
        engine=engine_config(campaign.id),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)
    wait_for(lambda: box.carrier_stats().get("invites", 0) >= 1, 20, "the first INVITE")
    with runtime.db.session(Scope(tenant.id)) as s:
        add_internal_dnc(
            s, e164=blocked_mid_run, campaign_id=None, source="compliance", reason="test", added_by=None
        )

    def settled() -> bool:
        rows = attempts_of(runtime, campaign.id)
        return len(rows) >= 7 and all(r.outcome != "in_progress" for r in rows)

    wait_for(settled, 60, "every lead to be attempted")
    box.engine.recorder.flush()
    rows = {r.e164: r for r in attempts_of(runtime, campaign.id)}
    stats = box.carrier_stats()

    assert (
        rows[blocked_before].outcome == "blocked" and "internal_dnc" in rows[blocked_before].verdict_reasons
    )
    assert (
        rows[blocked_mid_run].outcome == "blocked" and "internal_dnc" in rows[blocked_mid_run].verdict_reasons
    )
    dialed = stats["calls_by_number"]
    assert blocked_before.lstrip("+") not in dialed and blocked_mid_run.lstrip("+") not in dialed
    assert all(count == 1 for count in dialed.values())
    expected = {"1": "human", "2": "machine", "3": "busy", "5": "human", "6": "human"}
    for number in numbers:
        row = rows[number]
        assert row.outcome in (expected[number[-2]], "abandoned"), (number, row.outcome)
        assert row.placed_at and row.ended_at and row.sip_call_id and row.caller_id == "+12025550100"
        assert row.attestation == "A" and row.origid and row.identity_header_present
        if row.outcome != "busy":  # a busy callee answers the INVITE with 486 straight away
            assert row.ringing_at is not None, (number, row.outcome)
        if row.outcome in ("human", "abandoned", "machine"):
            assert row.answered_at is not None
        if row.outcome == "human":
            assert row.agent_id == agent.id and row.agent_connected_at is not None
            assert row.answered_at is not None
            assert (row.agent_connected_at - row.answered_at).total_seconds() <= 2.0
    assert stats["identity"].get("verified", 0) == stats["invites"] and not stats["identity"].get("failed")
    assert sum(1 for r in rows.values() if r.outcome == "human") >= 1
    assert_evidence_answers_for_every_attempt(client, tenant, list(rows.values()))


def assert_evidence_answers_for_every_attempt(
    client: TestClient, tenant: Tenant, rows: list[CallAttempt]
) -> None:
    """The evidence API returns, for each attempt, the verdict the dial-time check returned then."""
    for row in rows:
        r = client.get(f"/api/compliance/evidence/{row.id}", headers=tenant.headers("compliance"))
        assert r.status_code == 200, r.text
        got = r.json()
        evidence = got["evidence"]
        assert evidence is not None and evidence["schema_version"] == 1, row.e164
        checked = evidence["compliance"]
        assert checked["reasons"] == row.verdict_reasons or (checked["callable"] and not row.verdict_reasons)
        assert any(c["kind"] == "national" for c in checked["lists_checked"])
        assert checked["window"]["candidate_zones"] == ["America/New_York"]
        if row.outcome == "blocked":
            assert not checked["callable"] and evidence["attestation"] is None
        else:
            assert checked["callable"] and evidence["attestation"]["origid"] == row.origid
            assert evidence["attestation"]["level"] == row.attestation == "A"
            assert 0.0 <= evidence["abandon"]["rate_30d"] <= 0.03
        answered = datetime.fromisoformat(got["answered_at"]) if got["answered_at"] else None
        assert answered == row.answered_at


def test_a_line_worker_killed_mid_call_is_replaced_and_no_lead_is_lost_or_dialed_twice(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(2011, 2071, 10)]  # all "human"
    tenant, agent, campaign = one_agent_floor(runtime, certificates, numbers, lines_per_agent=2.0)
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.4), talk_s=(4.0, 5.0)),
        engine=engine_config(campaign.id, min_workers=2),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)

    def connected() -> list[CallAttempt]:
        return [
            r
            for r in attempts_of(runtime, campaign.id)
            if r.agent_connected_at and r.outcome == "in_progress"
        ]

    wait_for(lambda: bool(connected()), 30, "a call bridged to the agent")
    victim = connected()[0]
    ((worker, info),) = [
        (w, i) for w, i in box.engine.pool.workers().items() if str(victim.id) in i.attempt_ids
    ]
    assert info.process is not None
    os.kill(info.process.pid, signal.SIGKILL)

    wait_for(lambda: box.engine.workers_restarted >= 1, 15, "the supervisor to notice the dead worker")
    wait_for(lambda: len(box.engine.ready_workers) >= 2, 30, "a replacement worker")
    wait_for(
        lambda: all(
            r.outcome != "in_progress" for r in attempts_of(runtime, campaign.id) if r.id == victim.id
        ),
        15,
        "the dead worker's call to be finalized",
    )
    # The agent's phone is called again from a live worker and takes calls again.
    wait_for(
        lambda: (s := box.engine.board.status(str(agent.id))) is not None and s.worker not in ("", worker),
        30,
        "the agent's leg to be re-nailed",
    )
    box.close(drain_s=6.0)

    rows = attempts_of(runtime, campaign.id)
    assert all(r.outcome != "in_progress" for r in rows)
    finalized = next(r for r in rows if r.id == victim.id)
    assert (
        finalized.outcome == "human" and finalized.ended_at is not None
    )  # it was answered and bridged in time
    dialed = box.carrier_stats()["calls_by_number"]
    assert all(count == 1 for count in dialed.values()), dialed
    assert len([r for r in rows if r.outcome != "blocked"]) == sum(dialed.values())
    with runtime.db.session(ALL_ORGS) as s:
        leads = list(s.scalars(select(Lead).where(Lead.campaign_id == campaign.id)))
    assert len(leads) == len(numbers)
    for lead in leads:  # every lead is either finished or waiting for its next turn: none is stuck or lost
        assert lead.status in ("done", "callable"), (lead.phone_e164, lead.status)
        assert lead.lease_holder is None


def test_an_answered_call_with_no_free_agent_gets_safe_harbor_and_the_opt_out_key_adds_it_to_the_internal_dnc(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    numbers = ["+12025553011", "+12025553051", "+12025553061"]
    tenant, agent, campaign = one_agent_floor(runtime, certificates, numbers, lines_per_agent=2.0)
    box = sandbox(
        # The key is pressed after the message (≈1.5 s + 2.7 s), in the listen window that follows it.
        behaviour=CarrierBehaviour(ring_s=(0.3, 0.3), talk_s=(8.0, 9.0), opt_out=1.0, opt_out_after_s=5.0),
        engine=engine_config(campaign.id),
    )
    # A call left in progress by an earlier supervisor of this pool that was killed: closed at start.
    orphan_holder = f"dialer:{socket.gethostname()}:999999999:{box.engine.config.pool}"
    now = datetime.now(UTC)
    (orphan_lead,) = lease_leads(runtime.db, campaign.id, 1, now, holder=orphan_holder, lease_s=600)
    orphan = attempts.start_attempt(runtime.db, orphan_lead.lead_id, holder=orphan_holder, placed_at=now)
    box.start()
    with runtime.db.session(ALL_ORGS) as s:
        closed = s.get(CallAttempt, orphan)
        assert closed is not None and closed.outcome == "failed" and closed.ended_at is not None
        lead_row = s.get(Lead, orphan_lead.lead_id)
        assert lead_row is not None and lead_row.status == "callable" and lead_row.lease_holder is None
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)

    def both_ended() -> bool:
        rows = attempts_of(runtime, campaign.id)
        return len(rows) == 3 and any(r.outcome == "abandoned" for r in rows)

    wait_for(both_ended, 30, "one call to be abandoned")
    box.engine.recorder.flush()
    rows = attempts_of(runtime, campaign.id)
    abandoned = next(r for r in rows if r.outcome == "abandoned")
    connected = next(r for r in rows if r.id not in (abandoned.id, orphan))
    assert (
        abandoned.answered_at is not None
        and abandoned.agent_connected_at is None
        and abandoned.agent_id is None
    )
    assert connected.agent_id == agent.id
    assert abandoned.safe_harbor_at is not None and abandoned.answered_at is not None
    assert (abandoned.safe_harbor_at - abandoned.answered_at).total_seconds() <= AGENT_CONNECT_DEADLINE_S
    # When the message really started, by the worker's clock: its end less the WAV's length.
    assert abandoned.safe_harbor_played_at is not None
    with wave.open(str(DEFAULT_SAFE_HARBOR_WAV), "rb") as wav:
        message_s = wav.getnframes() / wav.getframerate()
    started = abandoned.safe_harbor_played_at.timestamp() - message_s
    assert started - abandoned.answered_at.timestamp() <= AGENT_CONNECT_DEADLINE_S
    with runtime.db.session(ALL_ORGS) as s:
        entries = list(s.scalars(select(InternalDncEntry).where(InternalDncEntry.org_id == tenant.id)))
    assert [(e.e164, e.source) for e in entries] == [(abandoned.e164, "opt_out_key")]
    live = client.get(f"/api/dialer/campaigns/{campaign.id}/live", headers=tenant.headers("manager")).json()
    assert live["engine_running"] and live["abandoned"] == 1 and live["answered"] == 2


def test_an_answered_call_reaches_a_free_agent_whose_leg_lives_in_another_worker(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    numbers = ["+12025554011", "+12025554051"]
    tenant, agent, campaign = one_agent_floor(runtime, certificates, numbers, lines_per_agent=1.0)
    # One leg per worker: the agent's worker has no room for lead calls, so every bridge crosses workers.
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(1.5, 2.0)),
        engine=engine_config(campaign.id, min_workers=2, max_workers=3, calls_per_worker=1),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)
    wait_for(
        lambda: len([r for r in attempts_of(runtime, campaign.id) if r.outcome != "in_progress"]) == 2,
        45,
        "two calls",
    )
    box.engine.recorder.flush()
    status = box.engine.board.status(str(agent.id))
    assert status is not None and status.worker
    rows = attempts_of(runtime, campaign.id)
    assert [r.outcome for r in rows] == ["human"] * 2
    for row in rows:
        assert row.agent_connected_at is not None and row.answered_at is not None
        assert (row.agent_connected_at - row.answered_at).total_seconds() <= 2.0
    assert (
        box.phone_stats()["loud_packets_heard"].get(str(agent.id), 0) > 0
    )  # the leads' audio reached the agent

    # Logging out hangs up the nailed leg; the session keeps when the leg was up and why it ended.
    assert client.delete("/api/agents/me/session", headers=tenant.headers("agent")).status_code == 200
    wait_for(
        lambda: box.phone_stats()["legs_up"].get(str(agent.id)) is False, 10, "the agent's leg to be released"
    )
    box.engine.recorder.flush()  # the session's end is queued with the release, written by the recorder
    with runtime.db.session(ALL_ORGS) as s:
        session_row = s.scalars(select(AgentSession).where(AgentSession.agent_id == agent.id)).one()
    assert session_row.connected_at is not None and session_row.worker == status.worker
    assert session_row.ended_at is not None and session_row.end_reason == "logout"
    assert session_row.calls_handled == 2
    assert box.phone_stats()["legs_answered"][str(agent.id)] == 1  # one nailed leg carried every call


def test_a_carrier_rejecting_our_identity_raises_an_alarm_and_does_not_burn_the_lead(
    runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates, tmp_path: Path
) -> None:
    tenant, agent, campaign = one_agent_floor(runtime, certificates, ["+12025555011"], lines_per_agent=1.0)
    # The carrier trusts another STI-CA: our signature does not verify and it answers 438.
    stranger = TestCertificateAuthority.create(datetime.now(UTC)).write(
        tmp_path / "other-ca", "7001", now=datetime.now(UTC)
    )
    box = sandbox(
        behaviour=CarrierBehaviour(reject_bad_identity=True),
        chain_pem=stranger["chain"],
        trust_anchor_pem=stranger["root"],
        engine=engine_config(campaign.id),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])
    login(client, tenant, "agent", box.agent_uri(agent.id), campaign.id)
    wait_for(
        lambda: any(r.outcome == "failed" for r in attempts_of(runtime, campaign.id)), 20, "the rejected call"
    )
    box.engine.recorder.flush()
    (row,) = attempts_of(runtime, campaign.id)
    assert row.sip_status in (428, 436, 437, 438) and row.identity_header_present
    alarms = client.get("/api/dialer/alarms", headers=tenant.headers("manager")).json()
    assert [(a["kind"], a["attempt_id"], a["sip_status"]) for a in alarms] == [
        ("identity_rejected", str(row.id), row.sip_status)
    ]
    with runtime.db.session(ALL_ORGS) as s:
        lead = s.scalars(select(Lead).where(Lead.campaign_id == campaign.id)).one()
    assert lead.attempts == 0 and lead.status == "callable"  # a carrier problem says nothing about the lead
