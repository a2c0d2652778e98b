"""Issue 18, item 7: lead ids are one global sequence inside, but what the API shows is a keyed permutation
of it, so an organization can neither read the platform's volume from its own ids nor probe by counting."""

from __future__ import annotations

import csv
import io
import itertools
import secrets
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.attempts import finish_attempt, start_attempt
from campaigns.hopper import lease_leads
from campaigns.models import Lead
from core.db import Scope
from core.public_ids import LIMIT, IdKind, IdPermutation, derive_key, internal_lead_id, public_lead_id
from core.runtime import Runtime
from tests.campaigns.conftest import make_world, numbers
from tests.conftest import Tenant


def test_the_permutation_round_trips_never_gives_zero_and_hides_order_and_distance() -> None:
    perm = IdPermutation(derive_key("a secret", IdKind.LEAD))
    internal = [*range(1, 2001), LIMIT - 1, 2**40 + 3]
    public = [perm.encode(i) for i in internal]
    assert [perm.decode(p) for p in public] == internal
    assert len(set(public)) == len(public) and all(0 < p < LIMIT for p in public)
    # Consecutive rows: neither ordered nor close to each other.
    gaps = [abs(b - a) for a, b in itertools.pairwise(public[:2000])]
    assert min(gaps) > 1 and sorted(gaps)[len(gaps) // 2] > 2**40
    increasing = sum(b > a for a, b in itertools.pairwise(public[:2000]))
    assert 800 < increasing < 1200  # a coin toss, not a sequence
    # Numbers outside the id space are no ids; every number inside decodes to some id (found or not).
    assert [perm.decode(x) for x in (0, -5, LIMIT, 2**63 - 1)] == [None, None, None, None]
    # Another key (another server, or another kind of id) gives unrelated ids.
    other = IdPermutation(derive_key("another secret", IdKind.LEAD))
    dnc = IdPermutation(derive_key("a secret", IdKind.DNC_ENTRY))
    assert sum(other.encode(i) == perm.encode(i) or dnc.encode(i) == perm.encode(i) for i in internal) == 0
    with pytest.raises(ValueError):
        perm.encode(0)


def _lead_ids(client: TestClient, tenant: Tenant, campaign_id: object, **params: object) -> list[int]:
    r = client.get(f"/api/campaigns/{campaign_id}/leads", params=params, headers=tenant.headers("manager"))
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()]


def test_an_organization_cannot_read_others_volume_or_probe_by_counting_and_ids_round_trip(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, theirs = make_world(runtime, tenant), make_world(runtime, other_tenant)
    mine.add_list(numbers(4))
    theirs.add_list(numbers(7, start=100))  # the other organization's import, in between
    mine.add_list(numbers(4, start=200))
    with runtime.db.session(Scope(tenant.id)) as s:
        internal = sorted(s.scalars(select(Lead.id).where(Lead.campaign_id == mine.campaign_id)))
    assert internal[4] - internal[3] >= 8  # inside, the sequence has the other import's 7 rows in the gap

    shown = _lead_ids(client, tenant, mine.campaign_id)
    assert sorted(internal_lead_id(x) or 0 for x in shown) == internal
    assert set(shown).isdisjoint(internal)  # the sequence itself never leaves the server
    assert all(abs(b - a) > 1000 for a, b in itertools.pairwise(shown))
    # Round trip: every id the API gave out opens its lead; its neighbours open nothing.
    for public in shown:
        lead = client.get(f"/api/leads/{public}", headers=tenant.headers("manager"))
        assert lead.status_code == 200 and lead.json()["id"] == public
    for probe in {p + d for p in shown for d in (-1, 1)} - set(shown):
        r = client.get(f"/api/leads/{probe}", headers=tenant.headers("manager"))
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert str(internal_lead_id(probe)) not in r.text  # the answer names the id asked for, nothing else
    # The other organization, given the ids outright, finds nothing.
    for public in shown:
        assert client.get(f"/api/leads/{public}", headers=other_tenant.headers("manager")).status_code == 404
    # Paging with after_id = the last id seen walks every lead once, in the same order.
    paged: list[int] = []
    after = 0
    while page := _lead_ids(client, tenant, mine.campaign_id, after_id=after, limit=3):
        paged += page
        after = page[-1]
    assert paged == shown
    bad = client.get(
        f"/api/campaigns/{mine.campaign_id}/leads", params={"after_id": LIMIT}, headers=tenant.headers()
    )
    assert bad.status_code == 422 and "after_id" in bad.text
    # The export and a lead's call attempts carry the same public ids.
    export = client.get(
        f"/api/campaigns/{mine.campaign_id}/leads/export", headers=tenant.headers("compliance")
    )
    assert sorted(int(row["id"]) for row in csv.DictReader(io.StringIO(export.text))) == sorted(shown)
    now = datetime.now(UTC)
    leased = lease_leads(runtime.db, mine.campaign_id, 1, now, holder="ids", lease_s=60)[0]
    attempt = start_attempt(runtime.db, leased.lead_id, holder="ids", placed_at=now)
    finish_attempt(runtime.db, attempt, outcome="busy", ended_at=now)
    public = public_lead_id(leased.lead_id)
    history = client.get(f"/api/leads/{public}/attempts", headers=tenant.headers("manager")).json()
    assert [a["lead_id"] for a in history] == [public]
    call = client.get(f"/api/call-attempts/{attempt}", headers=tenant.headers("manager")).json()
    assert call["lead_id"] == public


def test_a_random_public_id_is_a_404_never_a_500(client: TestClient, tenant: Tenant) -> None:
    for probe in (1, 2, LIMIT - 1, secrets.randbelow(LIMIT - 1) + 1):
        r = client.get(f"/api/leads/{probe}", headers=tenant.headers("manager"))
        assert r.status_code == 404, r.text
        assert client.post(f"/api/leads/{probe}/callback", json={"at": "2030-01-01T12:00:00Z"},
                           headers=tenant.headers("manager")).status_code == 404  # fmt: skip
