"""The hopper hands each lead to one dialer at a time, in the right order, and gets back what a dead
dialer held once its lease expires. Concurrency is tested with real separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from campaigns.hopper import lease_leads, release_leads, renew_leases
from campaigns.models import CampaignStatus, Lead, LeadList, ListStatus
from tests.campaigns.conftest import CampaignWorld, numbers

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.campaigns.leaser", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_callbacks_due_come_first_then_priority_then_upload_order(world: CampaignWorld) -> None:
    db = world.runtime.db
    low = world.add_list(numbers(3, 0), priority=0)
    world.add_list(numbers(2, 100), priority=5)
    world.add_list(numbers(1, 200), status="callback", callback_at=NOW - timedelta(minutes=1))
    world.add_list(numbers(1, 300), status="callback", callback_at=NOW + timedelta(hours=1))
    world.add_list(numbers(1, 400), next_attempt_at=NOW + timedelta(minutes=5))
    leased = lease_leads(db, world.campaign_id, 10, NOW, holder="d1", lease_s=60)
    assert [lead.e164 for lead in leased] == [*numbers(1, 200), *numbers(2, 100), *numbers(3, 0)]
    assert leased[0].callback_at == NOW - timedelta(minutes=1)
    assert all(lead.lease_expires_at == NOW + timedelta(seconds=60) for lead in leased)
    assert {lead.list_id for lead in leased[3:]} == {low}


def test_nothing_is_leased_from_a_paused_campaign_or_a_paused_list(world: CampaignWorld) -> None:
    db = world.runtime.db
    paused_list = world.add_list(numbers(2, 0))
    world.add_list(numbers(2, 10))
    with db.session(world.scope) as s:
        s.execute(update(LeadList).where(LeadList.id == paused_list).values(status=ListStatus.PAUSED.value))
    world.set_status(CampaignStatus.PAUSED)
    assert lease_leads(db, world.campaign_id, 10, NOW, holder="d1", lease_s=60) == []
    world.set_status(CampaignStatus.ACTIVE)
    leased = lease_leads(db, world.campaign_id, 10, NOW, holder="d1", lease_s=60)
    assert [lead.e164 for lead in leased] == numbers(2, 10)


def test_a_leased_lead_is_not_leased_again_until_released_or_expired(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(4))
    first = lease_leads(db, world.campaign_id, 3, NOW, holder="d1", lease_s=60)
    second = lease_leads(db, world.campaign_id, 3, NOW, holder="d2", lease_s=600)
    assert len(first) == 3 and len(second) == 1
    assert {lead.lead_id for lead in first}.isdisjoint(lead.lead_id for lead in second)
    ids = [lead.lead_id for lead in first]
    renewed = renew_leases(db, ids, NOW + timedelta(seconds=50), holder="d1", lease_s=60)
    assert sorted(renewed) == sorted(ids)
    assert renew_leases(db, ids, NOW + timedelta(seconds=50), holder="d2", lease_s=60) == []
    assert lease_leads(db, world.campaign_id, 3, NOW + timedelta(seconds=70), holder="d2", lease_s=60) == []
    assert release_leads(db, ids[:1], holder="d2") == 0  # not d2's to give back
    assert release_leads(db, ids[:1], holder="d1") == 1
    again = lease_leads(db, world.campaign_id, 3, NOW + timedelta(seconds=70), holder="d2", lease_s=60)
    assert [lead.lead_id for lead in again] == ids[:1]
    expired = lease_leads(db, world.campaign_id, 3, NOW + timedelta(seconds=111), holder="d3", lease_s=60)
    assert sorted(lead.lead_id for lead in expired) == sorted(ids[1:])


def test_two_dialer_processes_draining_one_campaign_get_disjoint_leads(world: CampaignWorld) -> None:
    world.add_list(numbers(400))
    # Both start on one signal once both are up: a start time fixed in advance let the first drain all
    # 400 leads while the second was still importing, on a loaded machine.
    procs = [_spawn("drain", str(world.campaign_id), f"dialer-{i}", "7") for i in range(2)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    a, b = (set(r) for r in results)
    assert len(results[0]) == len(a) and len(results[1]) == len(b)
    assert a.isdisjoint(b)
    assert len(a | b) == 400
    assert a and b, "both processes should have leased some leads"


def test_a_killed_dialers_leads_come_back_after_its_lease_expires(world: CampaignWorld) -> None:
    db = world.runtime.db
    world.add_list(numbers(10))
    proc = _spawn("hold", str(world.campaign_id), "doomed", "6", NOW.isoformat(), "30")
    try:
        assert proc.stdout is not None
        held = json.loads(proc.stdout.readline())
        assert len(held) == 6
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    during = lease_leads(db, world.campaign_id, 10, NOW + timedelta(seconds=29), holder="d2", lease_s=30)
    assert {lead.lead_id for lead in during}.isdisjoint(held) and len(during) == 4
    after = lease_leads(db, world.campaign_id, 10, NOW + timedelta(seconds=31), holder="d2", lease_s=30)
    assert sorted(lead.lead_id for lead in after) == sorted(held)


def test_rows_locked_by_a_dialer_that_dies_mid_transaction_are_skipped_then_freed(
    world: CampaignWorld,
) -> None:
    db = world.runtime.db
    world.add_list(numbers(5))
    proc = _spawn("lock", str(world.campaign_id), "3")
    try:
        assert proc.stdout is not None
        locked = json.loads(proc.stdout.readline())
        meanwhile = lease_leads(db, world.campaign_id, 5, NOW, holder="d2", lease_s=30)
        assert sorted(lead.lead_id for lead in meanwhile) == sorted(
            set(range(min(locked), min(locked) + 5)) - set(locked)
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    freed: list[int] = []
    while len(freed) < 3 and time.monotonic() < deadline:  # the server notices the dead client's socket
        freed += [
            lead.lead_id for lead in lease_leads(db, world.campaign_id, 5, NOW, holder="d3", lease_s=30)
        ]
        time.sleep(0.05)
    assert sorted(freed) == sorted(locked)


def test_leased_leads_carry_the_numbers_recent_calls(world: CampaignWorld) -> None:
    from campaigns.attempts import finish_attempt, start_attempt

    db = world.runtime.db
    world.add_list(numbers(1))
    first = lease_leads(db, world.campaign_id, 1, NOW, holder="d1", lease_s=60)[0]
    attempt = start_attempt(db, first.lead_id, holder="d1", placed_at=NOW, trunk="t1")
    finish_attempt(db, attempt, outcome="no_answer", ended_at=NOW + timedelta(seconds=20))
    world.add_list(numbers(1))  # the same number again in another list
    with db.session(world.scope) as s:
        s.execute(update(Lead).where(Lead.id == first.lead_id).values(next_attempt_at=None))
    leased = lease_leads(db, world.campaign_id, 5, NOW + timedelta(minutes=1), holder="d1", lease_s=60)
    assert len(leased) == 2
    assert all(lead.recent_calls == (NOW,) for lead in leased)
