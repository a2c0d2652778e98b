"""GET /metrics: refused without the token (or outside the allowed networks), and the call counters, the
answer→agent histogram and the dial-time verdicts move when the single places that record them run."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from campaigns import attempts
from campaigns.hopper import lease_leads
from core.runtime import Runtime
from core.settings import load_settings
from tests.conftest import Tenant, run_outside_event_loop
from tests.engine.factories import make_campaign

TOKEN = "scrape-" + uuid.uuid4().hex


def _app(runtime: Runtime, **settings: object):  # type: ignore[no-untyped-def]
    from api.app import create_app

    changed = Runtime(
        settings=dataclasses.replace(runtime.settings, **settings),  # type: ignore[arg-type]
        database_url=runtime.database_url,
        redis_url=runtime.redis_url,
    )
    return create_app(changed)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_need_the_token_and_are_off_until_configured(runtime: Runtime) -> None:
    with TestClient(app=_app(runtime, metrics_token=TOKEN)) as http:
        assert http.get("/metrics").status_code == 401
        wrong = http.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status_code == 401 and "CLEARLINE_METRICS_TOKEN" in wrong.text
        assert http.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
        ok = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    with TestClient(app=_app(runtime)) as http:
        off = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert off.status_code == 403 and "CLEARLINE_METRICS_ALLOW" in off.text


def _get_from(app: object, peer: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://clearline") as http:
            return await http.get("/metrics")

    return run_outside_event_loop(go)  # type: ignore[no-any-return]


def test_an_allowed_network_scrapes_without_the_token_and_others_cannot(runtime: Runtime) -> None:
    app = _app(runtime, metrics_token=TOKEN, metrics_allow=("10.20.0.0/16",))
    assert _get_from(app, "10.20.3.4").status_code == 200
    assert _get_from(app, "10.21.3.4").status_code == 401
    no_token = _app(runtime, metrics_allow=("10.20.0.0/16",))
    assert _get_from(no_token, "192.0.2.1").status_code == 403


def test_a_bad_allowed_network_is_refused_at_start_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"CLEARLINE_METRICS_ALLOW: '10\.0\.0\.300/8' is not a network"):
        load_settings({"CLEARLINE_METRICS_ALLOW": "10.0.0.0/8, 10.0.0.300/8", "CLEARLINE_SECRET_KEY": "k"})


def test_calls_answers_connects_and_abandons_move_the_counters_per_campaign_id(
    runtime: Runtime, tenant: Tenant
) -> None:
    numbers = ["+12025550161", "+12025550162", "+12025550163"]
    campaign = make_campaign(runtime, tenant.id, numbers=numbers)
    app = _app(runtime, metrics_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    label = str(campaign.id)
    with TestClient(app=app) as http:
        now = datetime.now(UTC)
        leases = lease_leads(runtime.db, campaign.id, 3, now, holder="t", lease_s=60)
        ids = [
            attempts.start_attempt(runtime.db, lease.lead_id, holder="t", placed_at=now) for lease in leases
        ]
        during = samples(http.get("/metrics", headers=auth).text)
        assert during[("clearline_calls_total", (("campaign", label), ("outcome", "placed")))] == 3
        assert during[("clearline_calls_in_progress", (("campaign", label),))] == 3

        answered, connected = now + timedelta(seconds=5), now + timedelta(seconds=5, milliseconds=400)
        attempts.record_progress(runtime.db, ids[0], answered_at=answered)
        attempts.record_progress(runtime.db, ids[0], agent_connected_at=connected)
        attempts.finish_attempt(runtime.db, ids[0], outcome="human", ended_at=connected)
        attempts.record_progress(runtime.db, ids[1], answered_at=answered)
        attempts.finish_attempt(runtime.db, ids[1], outcome="abandoned", ended_at=answered)
        attempts.finish_attempt(runtime.db, ids[2], outcome="machine", ended_at=answered)
        text = http.get("/metrics", headers=auth).text
    after = samples(text)

    def calls(outcome: str) -> float:
        return after.get(("clearline_calls_total", (("campaign", label), ("outcome", outcome))), 0.0)

    assert (calls("placed"), calls("connected"), calls("abandoned"), calls("human")) == (3, 1, 1, 1)
    assert (calls("answered_person"), calls("answered_machine")) == (2, 1)
    assert after[("clearline_calls_in_progress", (("campaign", label),))] == 0
    hist = "clearline_answer_to_agent_seconds"
    assert after[(f"{hist}_count", (("campaign", label),))] == 1
    assert abs(after[(f"{hist}_sum", (("campaign", label),))] - 0.4) < 1e-6
    assert after[(f"{hist}_bucket", (("campaign", label), ("le", "0.5")))] == 1
    assert after[(f"{hist}_bucket", (("campaign", label), ("le", "0.3")))] == 0
    for number in numbers:  # ids as labels, never a phone number
        assert number not in text and number[2:] not in text


def test_the_grafana_dashboard_queries_only_metrics_that_exist(repo_root: Path) -> None:
    import json
    import re

    from core import metrics

    defined = {m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_labelnames")}
    # Figures read at scrape time are defined in the route module: the names it gives its metric families.
    route = (repo_root / "api" / "metrics_route.py").read_text()
    defined |= set(re.findall(r'"(clearline_[a-z_]+)"', route))
    dashboard = json.loads((repo_root / "docs" / "grafana-dashboard.json").read_text())
    used = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"clearline_[a-z_]+", target["expr"])
    }
    assert used and used <= defined, used - defined
    panels_for = {"clearline_trunk_calls", "clearline_job_queue_depth", "clearline_line_workers"}
    panels_for |= {
        "clearline_line_worker_calls",
        "clearline_line_worker_legs",
        "clearline_line_worker_pjsua_calls",
    }
    assert panels_for <= used, panels_for - used
    assert len(dashboard["panels"]) >= 8


def test_calls_per_trunk_and_sip_status_and_the_job_queue_depth(runtime: Runtime, tenant: Tenant) -> None:
    import dramatiq

    from core.broker import broker

    numbers = ["+12025550171", "+12025550172", "+12025550173"]
    campaign = make_campaign(runtime, tenant.id, numbers=numbers)
    trunk = f"trunk-{uuid.uuid4().hex[:8]}"
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    app = _app(runtime, metrics_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    now = datetime.now(UTC)
    leases = lease_leads(runtime.db, campaign.id, 3, now, holder="t", lease_s=60)
    ids = [
        attempts.start_attempt(runtime.db, lease.lead_id, holder="t", placed_at=now, trunk=trunk)
        for lease in leases
    ]
    attempts.finish_attempt(runtime.db, ids[0], outcome="busy", ended_at=now, sip_status=486)
    attempts.finish_attempt(runtime.db, ids[1], outcome="busy", ended_at=now, sip_status=486)
    attempts.finish_attempt(runtime.db, ids[2], outcome="failed", ended_at=now, sip_status=503)
    broker.declare_queue(queue)
    try:
        for _ in range(2):  # no worker consumes this queue: both wait
            broker.enqueue(
                dramatiq.Message(queue_name=queue, actor_name="nothing", args=(), kwargs={}, options={})
            )
        with TestClient(app=app) as http:
            after = samples(http.get("/metrics", headers=auth).text)
    finally:
        broker.flush(queue)
    trunk_calls = "clearline_trunk_calls_total"
    assert after[(trunk_calls, (("sip_status", "486"), ("trunk", trunk)))] == 2
    assert after[(trunk_calls, (("sip_status", "503"), ("trunk", trunk)))] == 1
    assert after[("clearline_job_queue_depth", (("queue", queue),))] == 2
