"""Campaign ownership across supervisors: each active campaign is driven by exactly one supervisor.

Each supervisor keeps a short-lived registration in Redis (its holder name, which campaigns it may run)
and one lease per campaign it owns (`SET NX PX`: the key exists only while its owner renews it, so a
supervisor killed with -9 loses them within `LEASE_TTL_S`). Which campaigns a supervisor should own is the
pure `fair_share`: every live supervisor computes the same assignment from the same inputs (the live
supervisors, the campaigns with their agents, the current owners), so they agree without talking to each
other; the leases make sure that, while they briefly disagree, a campaign still has one owner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

PREFIX = "clearline:dialer:"
SUPERVISORS_KEY = PREFIX + "supervisors"  # sorted set: supervisor id -> registration expiry (epoch ms)
SUPERVISOR_INFO_KEY = PREFIX + "supervisor-info"  # hash: supervisor id -> JSON (holder, campaigns)
LEASE_KEY = PREFIX + "campaign-lease:"  # + campaign id -> owning supervisor id, with a TTL

LEASE_TTL_S = 4.0  # a dead supervisor's campaigns are free this long after its last heartbeat
HEARTBEAT_S = 0.5  # registration and leases renewed this often (8 chances before they lapse)
HANDOVER_AFTER_S = 3.0  # fair share must say "move" this long before a running campaign is handed over

# Extend (or drop) a lease only if we still hold it: a lease that lapsed and went to another supervisor
# must not be taken back by a late renewal.
_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Supervisor:
    """A live supervisor as the others see it."""

    supervisor_id: str
    holder: str = ""  # the name its leads and attempts are recorded under
    campaigns: frozenset[str] | None = None  # the campaigns it may run (None: any)

    def may_run(self, campaign_id: str) -> bool:
        return self.campaigns is None or campaign_id in self.campaigns


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at: float


def fair_share(
    supervisors: Sequence[Supervisor],
    agents: Mapping[str, int],
    leases: Mapping[str, Lease],
    now: float,
) -> dict[str, str]:
    """Which live supervisor should own each campaign (campaign id -> supervisor id).

    `agents`: the active campaigns with their logged-in agents. A campaign weighs its agents + 1 (a
    campaign without agents still costs a little). A live owner keeps its campaigns while they fit in its
    fair share (total weight / supervisors, plus half the campaign's weight); every other campaign,
    heaviest first, goes to the least loaded supervisor that may run it. So ownership moves only to even
    out a real imbalance (a supervisor joined or died). Deterministic: ties break by id, so every supervisor computes the same answer."""
    live = {s.supervisor_id: s for s in supervisors}
    load = dict.fromkeys(sorted(live), 0)
    if not live:
        return {}
    owners = {c: lease.owner for c, lease in leases.items() if lease.expires_at > now and lease.owner in live}
    # Only campaigns some live supervisor may run are shared out and count towards the fair share: one
    # that none may run (another pool's) would otherwise raise everyone's share until nothing moves.
    runnable = {c: n for c, n in agents.items() if any(s.may_run(c) for s in live.values())}
    weight = {c: n + 1 for c, n in runnable.items()}
    target = sum(weight.values()) / len(live)
    heaviest_first = sorted(runnable, key=lambda c: (-weight[c], c))
    out: dict[str, str] = {}
    # Owners keep what fits in their fair share (plus half the campaign: whole campaigns rarely divide
    # evenly, and moving one costs its agents a new call to their phones).
    for campaign_id in heaviest_first:
        owner = owners.get(campaign_id)
        if owner is None or not live[owner].may_run(campaign_id):
            continue
        if load[owner] + weight[campaign_id] <= target + weight[campaign_id] / 2:
            out[campaign_id] = owner
            load[owner] += weight[campaign_id]
    # The rest, heaviest first, each to the least loaded supervisor that may run it.
    for campaign_id in heaviest_first:
        if campaign_id in out:
            continue
        eligible = [s for s in load if live[s].may_run(campaign_id)]
        if not eligible:
            continue
        least = min(eligible, key=lambda s: (load[s], s))
        out[campaign_id] = least
        load[least] += weight[campaign_id]
    return out


class OwnershipStore:
    """The Redis side: registrations and leases (every call is one round trip)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    # ------------------------------------------------------------------------------------ supervisors

    def register(self, me: Supervisor, now: float) -> None:
        info = {"holder": me.holder, "campaigns": sorted(me.campaigns) if me.campaigns is not None else None}
        pipe = self.redis.pipeline()
        pipe.zadd(SUPERVISORS_KEY, {me.supervisor_id: int((now + LEASE_TTL_S) * 1000)})
        pipe.hset(SUPERVISOR_INFO_KEY, me.supervisor_id, json.dumps(info))
        pipe.execute()

    def is_registered(self, supervisor_id: str, now: float) -> bool:
        score: Any = self.redis.zscore(SUPERVISORS_KEY, supervisor_id)
        return score is not None and score > now * 1000

    def unregister(self, supervisor_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.zrem(SUPERVISORS_KEY, supervisor_id)
        pipe.hdel(SUPERVISOR_INFO_KEY, supervisor_id)
        pipe.execute()

    def live_supervisors(self, now: float) -> list[Supervisor]:
        ids: Any = self.redis.zrangebyscore(SUPERVISORS_KEY, int(now * 1000), "+inf")
        names = [i.decode() for i in ids]
        if not names:
            return []
        infos: Any = self.redis.hmget(SUPERVISOR_INFO_KEY, names)
        out = []
        for name, raw in zip(names, infos, strict=True):
            info = json.loads(raw) if raw else {}
            campaigns = info.get("campaigns")
            out.append(
                Supervisor(
                    supervisor_id=name,
                    holder=info.get("holder", ""),
                    campaigns=frozenset(campaigns) if campaigns is not None else None,
                )
            )
        return out

    def forget_dead(self, now: float, *, after_s: float = 3600.0) -> None:
        """Registrations that lapsed long ago (their leases are long gone)."""
        stale: Any = self.redis.zrangebyscore(SUPERVISORS_KEY, "-inf", int((now - after_s) * 1000))
        if stale:
            self.redis.zrem(SUPERVISORS_KEY, *stale)
            self.redis.hdel(SUPERVISOR_INFO_KEY, *stale)

    # ------------------------------------------------------------------------------------ leases

    def leases(self, campaign_ids: Iterable[str], now: float) -> dict[str, Lease]:
        ids = list(campaign_ids)
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for campaign_id in ids:
            pipe.get(LEASE_KEY + campaign_id)
            pipe.pttl(LEASE_KEY + campaign_id)
        raw = pipe.execute()
        out = {}
        for i, campaign_id in enumerate(ids):
            owner, ttl_ms = raw[2 * i], raw[2 * i + 1]
            if owner is not None and ttl_ms > 0:
                out[campaign_id] = Lease(owner=owner.decode(), expires_at=now + ttl_ms / 1000)
        return out

    def acquire(self, campaign_id: str, supervisor_id: str) -> bool:
        return bool(
            self.redis.set(LEASE_KEY + campaign_id, supervisor_id, nx=True, px=int(LEASE_TTL_S * 1000))
        )

    def renew(self, campaign_ids: Sequence[str], supervisor_id: str) -> set[str]:
        """Extend our leases; returns those we still hold (the others were lost)."""
        if not campaign_ids:
            return set()
        held: Any = self._renew(
            keys=[LEASE_KEY + c for c in campaign_ids], args=[supervisor_id, int(LEASE_TTL_S * 1000)]
        )
        return {c for c, ok in zip(campaign_ids, held, strict=True) if ok}

    def release(self, campaign_id: str, supervisor_id: str) -> None:
        self._release(keys=[LEASE_KEY + campaign_id], args=[supervisor_id])


@dataclass
class OwnershipStep:
    acquired: set[str]  # leases just taken: recover the campaign, then run it
    lost: set[str]  # leases that lapsed or went to another supervisor: stop dialing them at once
    hand_over: set[str]  # fair share wants them elsewhere: drain them, then `release`


class CampaignOwnership:
    """One supervisor's leases: register, renew, take what fair share gives it, hand over the rest.

    Not thread-safe: the engine's event thread calls it (outside the engine's lock: it does Redis I/O)."""

    def __init__(self, store: OwnershipStore, me: Supervisor) -> None:
        self.store = store
        self.me = me
        self.held: set[str] = set()
        self.move_wanted_since: dict[str, float] = {}
        self.supervisors: list[Supervisor] = []

    def live_holders(self) -> set[str]:
        """The holder names of the supervisors alive at the last step (this one included)."""
        return {s.holder for s in self.supervisors if s.holder} | {self.me.holder}

    def step(self, agents: Mapping[str, int], now: float) -> OwnershipStep:
        """`agents`: every active campaign (not only those this supervisor may run) with its agents."""
        self.store.register(self.me, now)
        self.supervisors = self.store.live_supervisors(now)
        if all(s.supervisor_id != self.me.supervisor_id for s in self.supervisors):
            self.supervisors.append(self.me)
        still = self.store.renew(sorted(self.held), self.me.supervisor_id)
        lost = self.held - still
        self.held = still
        leases = self.store.leases(agents, now)
        share = fair_share(self.supervisors, agents, leases, now)
        wanted = {c for c, owner in share.items() if owner == self.me.supervisor_id}
        acquired = set()
        for campaign_id in sorted(wanted - self.held):
            if campaign_id not in leases and self.store.acquire(campaign_id, self.me.supervisor_id):
                acquired.add(campaign_id)
        self.held |= acquired
        hand_over = set()
        for campaign_id in self.held:
            if campaign_id in wanted or campaign_id not in agents:
                self.move_wanted_since.pop(campaign_id, None)
                continue
            since = self.move_wanted_since.setdefault(campaign_id, now)
            if now - since >= HANDOVER_AFTER_S:
                hand_over.add(campaign_id)
        for campaign_id in list(self.move_wanted_since):
            if campaign_id not in self.held:
                del self.move_wanted_since[campaign_id]
        return OwnershipStep(acquired=acquired, lost=lost, hand_over=hand_over)

    def keep_alive(self, now: float) -> None:
        """Registration and leases renewed, nothing taken or given (while the engine stops)."""
        self.store.register(self.me, now)
        self.held = self.store.renew(sorted(self.held), self.me.supervisor_id)

    def release(self, campaign_id: str) -> None:
        self.held.discard(campaign_id)
        self.move_wanted_since.pop(campaign_id, None)
        self.store.release(campaign_id, self.me.supervisor_id)

    def others_alive(self) -> bool:
        return any(s.supervisor_id != self.me.supervisor_id for s in self.supervisors)

    def close(self) -> None:
        """Graceful stop: every lease and the registration go at once (the others take over now)."""
        for campaign_id in sorted(self.held):
            self.store.release(campaign_id, self.me.supervisor_id)
        self.held.clear()
        self.store.unregister(self.me.supervisor_id)
