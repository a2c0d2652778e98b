"""Campaign ownership (issue 14): the pure fair-share decision, and the leases on real Redis."""

from __future__ import annotations

import time
import uuid

from core.runtime import Runtime
from dialer.engine.ownership import (
    LEASE_TTL_S,
    CampaignOwnership,
    Lease,
    OwnershipStore,
    Supervisor,
    fair_share,
)

A, B, C = Supervisor("a"), Supervisor("b"), Supervisor("c")


def _loads(share: dict[str, str], agents: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for campaign_id, owner in share.items():
        out[owner] = out.get(owner, 0) + agents[campaign_id] + 1
    return out


def test_campaigns_are_shared_out_by_agents_and_every_campaign_has_one_owner() -> None:
    agents = {"c1": 10, "c2": 9, "c3": 1, "c4": 1, "c5": 0}
    share = fair_share([A, B], agents, {}, now=100.0)
    assert set(share) == set(agents)
    assert _loads(share, agents) == {"a": 13, "b": 13}  # weights 11, 10, 2, 2, 1: 11+2 and 10+2+1
    # Every supervisor computes the same answer whatever order it lists the others in.
    assert fair_share([B, A], agents, {}, now=100.0) == share


def test_a_current_owner_keeps_its_campaign_unless_moving_it_evens_out_a_real_imbalance() -> None:
    agents = {"c1": 3, "c2": 3, "c3": 3, "c4": 3}
    all_on_a = {c: Lease("a", expires_at=105.0) for c in agents}
    share = fair_share([A, B], agents, all_on_a, now=100.0)
    assert sorted(share.values()) == ["a", "a", "b", "b"]  # b joined: half moves, half stays
    balanced = {c: Lease(o, expires_at=105.0) for c, o in share.items()}
    agents_changed = {**agents, "c1": 4}  # one more agent somewhere does not move anything
    assert fair_share([A, B], agents_changed, balanced, now=100.0) == share


def test_a_dead_supervisors_lapsed_leases_go_to_the_live_ones() -> None:
    agents = {"c1": 2, "c2": 2, "c3": 2}
    leases = {"c1": Lease("a", 99.0), "c2": Lease("b", 110.0), "c3": Lease("a", 99.0)}
    share = fair_share([B, C], agents, leases, now=100.0)  # a is gone, its leases lapsed at 99
    assert share["c2"] == "b" and set(share.values()) == {"b", "c"}
    assert share["c1"] != share["c3"]


def test_a_supervisor_limited_to_some_campaigns_gets_only_those() -> None:
    only_c1 = Supervisor("a", campaigns=frozenset({"c1"}))
    share = fair_share([only_c1, B], {"c1": 0, "c2": 5, "c3": 5}, {}, now=0.0)
    assert share == {"c2": "b", "c3": "b", "c1": "a"}
    assert fair_share([only_c1], {"c2": 1}, {}, now=0.0) == {}  # no one may run c2: it stays unowned


def test_campaigns_no_live_supervisor_may_run_do_not_stop_the_others_being_shared_out() -> None:
    # Two supervisors limited to c1 and c2 on a database with other active campaigns (another pool's, or
    # an earlier shift's): those must not count towards the fair share, or the first owner keeps both.
    pool = frozenset({"c1", "c2"})
    a, b = Supervisor("a", campaigns=pool), Supervisor("b", campaigns=pool)
    agents = {"c1": 0, "c2": 0, **{f"other{i}": 0 for i in range(10)}}
    all_on_a = {"c1": Lease("a", expires_at=105.0), "c2": Lease("a", expires_at=105.0)}
    share = fair_share([a, b], agents, all_on_a, now=100.0)
    assert sorted(share) == ["c1", "c2"]
    assert sorted(share.values()) == ["a", "b"]


def test_leases_on_redis_one_owner_at_a_time_renewed_only_by_it(runtime: Runtime) -> None:
    store = OwnershipStore(runtime.redis)
    campaign = str(uuid.uuid4())
    assert store.acquire(campaign, "sup-x")
    assert not store.acquire(campaign, "sup-y")  # held: the second one waits
    assert store.renew([campaign], "sup-y") == set()  # only the holder extends it
    assert store.renew([campaign], "sup-x") == {campaign}
    lease = store.leases([campaign], now=1000.0)[campaign]
    assert lease.owner == "sup-x" and 1000.0 < lease.expires_at <= 1000.0 + LEASE_TTL_S
    store.release(campaign, "sup-y")  # not its lease: nothing happens
    assert store.leases([campaign], now=0.0)[campaign].owner == "sup-x"
    store.release(campaign, "sup-x")
    assert store.leases([campaign], now=0.0) == {}
    assert store.acquire(campaign, "sup-y")
    store.release(campaign, "sup-y")


def test_two_supervisors_split_the_campaigns_and_a_graceful_stop_hands_its_own_over(runtime: Runtime) -> None:
    tag = uuid.uuid4().hex[:8]
    campaigns = {f"{tag}-{i}": 1 for i in range(4)}
    store = OwnershipStore(runtime.redis)
    first = CampaignOwnership(store, Supervisor(f"{tag}-a", holder=f"dialer:{tag}-a:default"))
    second = CampaignOwnership(store, Supervisor(f"{tag}-b", holder=f"dialer:{tag}-b:default"))
    now = time.time()
    try:
        assert first.step(campaigns, now).acquired == set(campaigns)  # alone: it takes them all
        second.step(campaigns, now + 0.5)  # registered: first sees it at its next step
        given: set[str] = set()
        t = now + 1.0
        while t < now + 10.0:  # first hands half over once fair share said so for HANDOVER_AFTER_S
            for campaign_id in first.step(campaigns, t).hand_over:
                first.release(campaign_id)
                given.add(campaign_id)
            second.step(campaigns, t + 0.25)
            t += 0.5
        assert len(given) == 2 and second.held == given and first.held == set(campaigns) - given
        holders = {f"dialer:{tag}-a:default", f"dialer:{tag}-b:default"}
        assert holders <= first.live_holders() and holders <= second.live_holders()
        first.close()
        assert second.step(campaigns, t).acquired == set(campaigns) - given  # at once: no lease to wait out
    finally:
        first.close()
        second.close()
    assert store.leases(campaigns, now=0.0) == {}
