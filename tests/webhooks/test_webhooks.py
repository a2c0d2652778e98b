"""Webhooks end to end: endpoints configured over the API, events emitted by the domain functions where
they happen, delivered by a real dramatiq worker on Redis to a real HTTP receiver on loopback."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import statistics
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns.attempts import finish_attempt, set_disposition, start_attempt
from campaigns.hopper import lease_leads
from campaigns.models import Campaign, CampaignStatus
from campaigns.service import set_status
from core.audit_log import AuditEntry
from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from core.webhooks import EVENT_TYPES
from core.webhooks.delivery import MAX_DELAY_S, retry_delay_s
from core.webhooks.models import WebhookEndpoint
from dialer.engine.attempt_log import DatabaseAttemptLog
from dialer.engine.recorder import Recorder
from tests.conftest import Tenant, wait_job
from tests.webhooks.receiver import Received, running_receiver

# numbers of these tests' own: area code 415, 555-27xx
LEADS = [f"+1415555{2700 + i:04d}" for i in range(3)]


def _create(client: TestClient, tenant: Tenant, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = client.post(
        "/api/webhooks", json={"url": url, "events": events or list(EVENT_TYPES), "description": "CRM"},
        headers=tenant.headers("org_admin"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _verified(received: Received, secret: str, now: float) -> bool:
    """What a receiver does (docs/webhooks.md), written out here independently of core.webhooks.signing."""
    fields = dict(part.split("=", 1) for part in received.headers["Clearline-Signature"].split(","))
    signed = fields["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return abs(now - int(fields["t"])) <= 300 and hmac.compare_digest(expected, fields["v1"])


def _campaign(client: TestClient, tenant: Tenant) -> str:
    r = client.post(
        "/api/campaigns", json={"name": f"hooks {uuid.uuid4().hex[:8]}", "caller_id": "+14155552799"},
        headers=tenant.headers("manager"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _deliveries(client: TestClient, tenant: Tenant, webhook_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=tenant.headers("org_admin"))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def _wait_deliveries(
    client: TestClient, tenant: Tenant, webhook_id: str, done: Any, timeout_s: float = 30
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = _deliveries(client, tenant, webhook_id)
        if done(rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)


def test_every_event_is_delivered_once_signed_with_the_secret_shown_at_creation(
    client: TestClient, runtime: Runtime, tenant: Tenant, private_targets: Runtime, worker: dramatiq.Worker
) -> None:
    with running_receiver() as receiver:
        hook = _create(client, tenant, receiver.url)
        campaign_id = _campaign(client, tenant)
        csv = "phone,first_name\n" + "".join(f"{n},Ann\n" for n in LEADS)
        r = client.post(
            f"/api/campaigns/{campaign_id}/lead-lists", files={"file": ("l.csv", csv.encode(), "text/csv")},
            headers=tenant.headers("manager"),
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert wait_job(client, tenant.headers("manager"), r.json()["job_id"])["status"] == "succeeded"
        db = runtime.db
        with db.session(Scope(tenant.id)) as s:
            campaign = s.get(Campaign, uuid.UUID(campaign_id))
            assert campaign is not None
            set_status(campaign, CampaignStatus.ACTIVE)
        now = datetime.now(UTC)
        leased = lease_leads(db, uuid.UUID(campaign_id), 2, now, holder="hooks-d1", lease_s=60)
        assert len(leased) == 2
        attempts = []
        for lead in leased:
            attempt_id = start_attempt(db, lead.lead_id, holder="hooks-d1", placed_at=now)
            finish_attempt(
                db, attempt_id, outcome="human", ended_at=now + timedelta(seconds=30), sip_status=200
            )
            attempts.append(attempt_id)
        set_disposition(db, attempts[0], code="DNC", agent_id=None, at=now + timedelta(seconds=40))
        set_disposition(db, attempts[1], code="REVOKED", agent_id=None, at=now + timedelta(seconds=41))

        expected = {
            "lead_list.imported": 1, "campaign.state_changed": 1, "call.ended": 2, "disposition.set": 2,
            "opt_out.recorded": 1, "consent.revoked": 1,
        }  # fmt: skip
        got = receiver.wait_for(sum(expected.values()))
        rows = _wait_deliveries(
            client,
            tenant,
            hook["id"],
            lambda rows: len(rows) == 8 and all(d["status"] == "succeeded" for d in rows),
        )
        time.sleep(1.0)  # a second delivery of anything would arrive by now
        got = list(receiver.requests)

    events = [g.event for g in got]
    assert Counter(e["type"] for e in events) == expected
    assert len({e["id"] for e in events}) == len(events)  # each event once
    assert all(_verified(g, hook["secret"], time.time()) for g in got)
    assert not any(_verified(g, "whsec_" + "x" * 43, time.time()) for g in got)
    for g in got:
        e = g.event
        assert (e["schema_version"], e["org_id"]) == (1, str(tenant.id))
        assert g.headers["Clearline-Event"] == e["type"] and g.headers["Clearline-Event-Id"] == e["id"]
        assert g.path == "/hooks/clearline" and g.headers["Content-Type"] == "application/json"
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["campaign.state_changed"] == {"campaign_id": campaign_id, "from": "draft", "to": "active"}
    assert by_type["lead_list.imported"]["counts"]["imported"] == 3
    assert by_type["opt_out.recorded"]["source"] == "agent"
    ended = [e["data"] for e in events if e["type"] == "call.ended"]
    assert {d["attempt_id"] for d in ended} == {str(a) for a in attempts}
    assert all(d["outcome"] == "human" and d["sip_status"] == 200 for d in ended)
    assert not any(n in g.body.decode() for g in got if g.event["type"] == "call.ended" for n in LEADS)
    assert {(d["attempts"], d["last_status_code"], d["last_error"]) for d in rows} == {(1, 200, None)}


def test_the_secret_is_shown_once_kept_encrypted_and_never_in_the_audit_log(
    client: TestClient, runtime: Runtime, tenant: Tenant, private_targets: Runtime
) -> None:
    hook = _create(client, tenant, "http://127.0.0.1:9/hooks")
    secret = hook["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    listed = client.get("/api/webhooks", headers=tenant.headers("org_admin")).text
    one = client.get(f"/api/webhooks/{hook['id']}", headers=tenant.headers("org_admin")).text
    changed = client.patch(
        f"/api/webhooks/{hook['id']}", json={"description": "renamed"}, headers=tenant.headers("org_admin")
    )
    assert changed.status_code == 200 and changed.json()["description"] == "renamed"
    assert secret not in listed + one + changed.text and "secret" not in changed.json()
    with runtime.db.session(ALL_ORGS) as s:
        sealed = s.scalar(
            select(WebhookEndpoint.secret_sealed).where(WebhookEndpoint.id == uuid.UUID(hook["id"]))
        )
        audit = [str(a.detail) for a in s.scalars(select(AuditEntry).where(AuditEntry.org_id == tenant.id))]
    assert sealed and secret not in sealed and sealed.startswith("v1:")
    assert audit and not any(secret in a or (sealed or "") in a for a in audit)
    rotated = client.patch(
        f"/api/webhooks/{hook['id']}", json={"rotate_secret": True}, headers=tenant.headers("org_admin")
    )
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != secret


def test_a_receiver_that_fails_three_times_then_succeeds_gets_the_event_on_a_growing_back_off(
    client: TestClient, runtime: Runtime, tenant: Tenant, private_targets: Runtime, worker: dramatiq.Worker
) -> None:
    with running_receiver(fail_first=3) as receiver:
        hook = _create(client, tenant, receiver.url, ["campaign.state_changed"])
        campaign_id = _campaign(client, tenant)
        r = client.post(f"/api/campaigns/{campaign_id}/pause", headers=tenant.headers("manager"))
        assert r.status_code == 200, r.text
        got = receiver.wait_for(4)
        rows = _wait_deliveries(
            client, tenant, hook["id"], lambda rows: rows and rows[0]["status"] == "succeeded"
        )
        time.sleep(0.5)
        assert len(receiver.requests) == 4
    assert len({g.event["id"] for g in got}) == 1  # the same event each time
    assert [g.headers["Clearline-Attempt"] for g in got] == ["1", "2", "3", "4"]
    assert all(_verified(g, hook["secret"], time.time()) for g in got)
    (row,) = rows
    assert (row["attempts"], row["last_status_code"]) == (4, 200)
    assert [h["status_code"] for h in row["history"]] == [503, 503, 503, 200]
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert gaps[2] > gaps[0]  # 0.05 s, 0.15 s, 0.45 s with the test's base


def test_the_back_off_schedule_grows_threefold_up_to_six_hours() -> None:
    assert [retry_delay_s(n, 30) for n in range(1, 8)] == [30, 90, 270, 810, 2430, 7290, MAX_DELAY_S]


def test_a_delivery_is_sent_again_on_demand_with_the_same_event(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    private_targets: Runtime,
    worker: dramatiq.Worker,
) -> None:
    with running_receiver() as receiver:
        hook = _create(client, tenant, receiver.url, ["campaign.state_changed"])
        campaign_id = _campaign(client, tenant)
        client.post(f"/api/campaigns/{campaign_id}/pause", headers=tenant.headers("manager"))
        (first,) = receiver.wait_for(1)
        (row,) = _wait_deliveries(
            client, tenant, hook["id"], lambda rows: rows and rows[0]["status"] == "succeeded"
        )
        path = f"/api/webhooks/deliveries/{row['id']}/redeliver"
        assert client.post(path, headers=other_tenant.headers("org_admin")).status_code == 404
        assert client.post(path, headers=tenant.headers("manager")).status_code == 403
        r = client.post(path, headers=tenant.headers("org_admin"))
        assert r.status_code == 202, r.text
        _, again = receiver.wait_for(2)
        (row,) = _wait_deliveries(
            client,
            tenant,
            hook["id"],
            lambda rows: rows[0]["status"] == "succeeded" and rows[0]["attempts"] == 2,
        )
    assert again.body == first.body and _verified(again, hook["secret"], time.time())


def test_a_dead_receiver_does_not_slow_the_dialer(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, private_targets: Runtime,
    worker: dramatiq.Worker,
) -> None:  # fmt: skip
    """The dialer records an opt-out key press synchronously (DatabaseAttemptLog.opted_out). With a
    webhook whose receiver holds every request, those calls take about as long as for an organization
    without webhooks, and they all return while the receiver still holds the first delivery."""
    log = DatabaseAttemptLog(runtime.db, Recorder())

    def timed(org: uuid.UUID, start: int) -> list[float]:
        took = []
        for i in range(9):
            t0 = time.perf_counter()
            log.opted_out(org, f"+1415555{start + i:04d}", "pressed 9")
            took.append(time.perf_counter() - t0)
        return took

    with running_receiver(hold=threading.Event()) as receiver:
        _create(client, tenant, receiver.url, ["opt_out.recorded"])
        baseline_warm = timed(other_tenant.id, 2710)
        with_dead_receiver = timed(tenant.id, 2730)
        baseline = timed(other_tenant.id, 2750)
        deadline = time.monotonic() + 30
        while receiver.held == 0:  # a worker is stuck sending the first event now
            assert time.monotonic() < deadline, "no delivery reached the receiver"
            time.sleep(0.02)
        assert receiver.requests == []  # ... and none was answered: every call above returned before
    del baseline_warm  # the first calls of a process pay for its connections: not compared
    median_base, median_dead = statistics.median(baseline), statistics.median(with_dead_receiver)
    print(
        f"opt-out recording: {median_base * 1000:.1f} ms without webhooks, {median_dead * 1000:.1f} ms with a dead receiver"
    )
    assert median_dead < 4 * median_base


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8000/hook", "a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://10.1.2.3/hook", "a private address"),
        ("http://192.168.0.10/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "a loopback address"),
        ("http://224.0.0.1/hook", "a multicast address"),
        ("http://0.0.0.0/hook", "an unspecified address"),
        ("ftp://crm.example.com/hook", "the scheme must be http or https"),
        ("file:///etc/passwd", "the scheme must be http or https"),
        ("http://user:pw@crm.example.com/hook", "must not carry a user name or password"),
        ("https://", "has no host"),
    ],
)
def test_targets_that_are_not_public_http_urls_are_refused_naming_the_field_value_and_rule(
    client: TestClient, tenant: Tenant, url: str, rule: str
) -> None:
    r = client.post(
        "/api/webhooks", json={"url": url, "events": ["call.ended"]}, headers=tenant.headers("org_admin")
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "url"
    assert rule.split(" ", 1)[1] in error["message"], error["message"]
    if "user name" not in rule:
        assert url.split("//")[-1].split("/")[0].strip("[]").split("@")[-1] in error["message"]
    assert client.get("/api/webhooks", headers=tenant.headers("org_admin")).json() == []


def test_unknown_event_types_are_refused_with_the_known_ones(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/webhooks", json={"url": "https://crm.example.com/h", "events": ["call.started"]},
        headers=tenant.headers("org_admin"),
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events"
    assert "'call.started' is not an event type" in r.text and "call.ended" in r.text


def test_the_target_is_checked_again_at_delivery(
    client: TestClient, runtime: Runtime, tenant: Tenant, private_targets: Runtime, worker: dramatiq.Worker
) -> None:
    with running_receiver() as receiver:
        hook = _create(client, tenant, receiver.url, ["campaign.state_changed"])
        # private targets are no longer allowed after the endpoint was configured: what a public name looks
        # like when its DNS later points at 127.0.0.1 (DNS rebinding)
        runtime.settings = dataclasses.replace(runtime.settings, webhooks_allow_private=False)
        campaign_id = _campaign(client, tenant)
        client.post(f"/api/campaigns/{campaign_id}/pause", headers=tenant.headers("manager"))
        (row,) = _wait_deliveries(
            client, tenant, hook["id"], lambda rows: rows and rows[0]["status"] == "failed"
        )
        time.sleep(0.3)
        assert receiver.requests == []
    assert row["attempts"] == 1 and row["last_error"].startswith("refused:")
    assert "127.0.0.1, a loopback address" in row["last_error"]


def test_redirects_are_not_followed(
    client: TestClient, tenant: Tenant, private_targets: Runtime, worker: dramatiq.Worker
) -> None:
    with running_receiver() as elsewhere, running_receiver(status=302) as redirecting:
        redirecting.location = elsewhere.url
        hook = _create(client, tenant, redirecting.url, ["campaign.state_changed"])
        campaign_id = _campaign(client, tenant)
        client.post(f"/api/campaigns/{campaign_id}/pause", headers=tenant.headers("manager"))
        (row,) = _wait_deliveries(client, tenant, hook["id"], lambda rows: rows and rows[0]["attempts"] >= 2)
        assert elsewhere.requests == [] and len(redirecting.requests) >= 2
    assert row["last_status_code"] == 302
    assert "not followed" in row["last_error"] and elsewhere.url in row["last_error"]


def test_a_delivery_whose_message_was_lost_is_sent_again_when_the_job_workers_start(
    client: TestClient, runtime: Runtime, tenant: Tenant, private_targets: Runtime, worker: dramatiq.Worker
) -> None:
    from clearline.workers import clean_up_after_crashes
    from core.webhooks.events import write_deliveries
    from core.webhooks.models import WebhookDelivery

    with running_receiver() as receiver:
        hook = _create(client, tenant, receiver.url, ["campaign.state_changed"])
        with runtime.db.session(Scope(tenant.id)) as s:  # rows written, message never sent (Redis away)
            (lost,) = write_deliveries(
                s, org_id=tenant.id, event_type="campaign.state_changed", data={"x": 1}
            )
            s.get(WebhookDelivery, lost).next_attempt_at = datetime.now(UTC) - timedelta(minutes=6)  # type: ignore[union-attr]
        clean_up_after_crashes(runtime)
        (got,) = receiver.wait_for(1)
        (row,) = _wait_deliveries(client, tenant, hook["id"], lambda rows: rows[0]["status"] == "succeeded")
    assert got.event["data"] == {"x": 1} and row["id"] == str(lost)


def test_webhooks_belong_to_their_organization_and_to_org_admins(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, private_targets: Runtime
) -> None:
    hook = _create(client, tenant, "http://127.0.0.1:9/hooks")
    for path in (f"/api/webhooks/{hook['id']}", f"/api/webhooks/{hook['id']}/deliveries"):
        assert client.get(path, headers=other_tenant.headers("org_admin")).status_code == 404
    assert client.get("/api/webhooks", headers=other_tenant.headers("org_admin")).json() == []
    for role in ("manager", "agent", "compliance"):
        assert client.get("/api/webhooks", headers=tenant.headers(role)).status_code == 403
    assert (
        client.delete(f"/api/webhooks/{hook['id']}", headers=other_tenant.headers("org_admin")).status_code
        == 404
    )
    assert (
        client.delete(f"/api/webhooks/{hook['id']}", headers=tenant.headers("org_admin")).status_code == 204
    )
    assert client.get(f"/api/webhooks/{hook['id']}", headers=tenant.headers("org_admin")).status_code == 404


def test_an_organization_without_webhooks_writes_no_delivery(runtime: Runtime, tenant: Tenant) -> None:
    from core.webhooks.events import write_deliveries

    with runtime.db.session(Scope(tenant.id)) as s:
        assert write_deliveries(s, org_id=tenant.id, event_type="call.ended", data={}) == []


def test_a_dead_receiver_does_not_hold_up_other_organizations_deliveries(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, private_targets: Runtime,
    worker: dramatiq.Worker,
) -> None:  # fmt: skip
    """After the dead endpoint's first failed attempt its other deliveries wait out the back-off without
    connecting (one probe at a time), so another organization's event is not queued behind all of them."""
    from core.webhooks.models import WebhookDelivery

    runtime.settings = dataclasses.replace(
        runtime.settings, webhooks_timeout_s=1.0, webhooks_retry_base_s=30.0
    )
    with running_receiver(hold=threading.Event()) as dead, running_receiver() as alive:
        dead_hook = _create(client, tenant, dead.url, ["opt_out.recorded"])
        _create(client, other_tenant, alive.url, ["opt_out.recorded"])
        log = DatabaseAttemptLog(runtime.db, Recorder())
        for i in range(10):
            log.opted_out(tenant.id, f"+1415555{2770 + i:04d}", "pressed 9")
        _wait_deliveries(
            client, tenant, dead_hook["id"], lambda rows: any(r["status"] == "retrying" for r in rows)
        )
        log.opted_out(other_tenant.id, "+14155552790", "pressed 9")
        alive.wait_for(1, timeout_s=20)
        with runtime.db.session(ALL_ORGS) as s:
            tried = s.scalars(
                select(WebhookDelivery.attempts).where(
                    WebhookDelivery.endpoint_id == uuid.UUID(dead_hook["id"])
                )
            ).all()
    # without the hold, the two worker threads would have tried all ten (a second each) before it
    assert sum(tried) < 10, tried
