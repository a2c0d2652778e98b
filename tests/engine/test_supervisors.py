"""Several supervisors on one PostgreSQL and Redis (issue 14): each has line workers and an event list of
its own, and a request reaches only the supervisor that runs the request's campaign."""

from __future__ import annotations

import time
import uuid

from core.runtime import Runtime
from dialer.engine.config import EngineConfig
from dialer.engine.requests import EngineRequest, pop_requests, push_request, requests_key
from dialer.engine.supervisor import Engine
from tests.engine.conftest import TestCertificates, identity_source


def _request(campaign_id: str, agent_id: str) -> EngineRequest:
    return EngineRequest(kind="agent_login", agent_id=agent_id, org_id="o", campaign_id=campaign_id)


def test_a_request_waits_in_its_campaigns_list_for_the_supervisor_that_runs_that_campaign(
    runtime: Runtime,
) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    push_request(runtime.redis, _request(mine, "a1"))
    push_request(runtime.redis, _request(theirs, "a2"))
    push_request(runtime.redis, _request(mine, "a3"))

    popped = pop_requests(runtime.redis, [mine])

    assert [r.agent_id for r in popped] == ["a1", "a3"]
    assert runtime.redis.llen(requests_key(theirs)) == 1  # left for the supervisor owning that campaign
    assert [r.agent_id for r in pop_requests(runtime.redis, [theirs])] == ["a2"]
    assert pop_requests(runtime.redis, []) == []


def test_a_second_supervisor_neither_clears_nor_pops_the_first_ones_worker_events(
    runtime: Runtime, certificates: TestCertificates
) -> None:
    identity = identity_source(runtime, certificates)
    nothing: frozenset[uuid.UUID] = frozenset()  # no campaign: only the workers and their events matter
    first = Engine(runtime, identity, EngineConfig(supervisor_id="sup-a", campaign_ids=nothing))
    second = Engine(runtime, identity, EngineConfig(supervisor_id="sup-b", campaign_ids=nothing))
    first.start()
    try:
        second.start()
        try:
            time.sleep(1.5)  # several worker stats heartbeats (and death checks) on both sides
            mine, theirs = set(first.pool.workers()), set(second.pool.workers())
            assert mine and theirs and not mine & theirs
            assert first.ready_workers == mine and second.ready_workers == theirs
            assert first.holder != second.holder
            assert first.workers_restarted == second.workers_restarted == 0
        finally:
            second.stop(drain_s=0)
    finally:
        first.stop(drain_s=0)
