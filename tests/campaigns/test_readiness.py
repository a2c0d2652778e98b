"""Campaign readiness ("why is my campaign not dialing?"), the start gate, the engine's cannot-run alarm,
and settings validated where they are written (dialer's checks through the campaigns hook)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from campaigns.models import Campaign, Lead, LeadList
from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from dialer.media import safe_harbor
from dialer.readiness import (
    CertificateFacts,
    LeadFacts,
    ReadinessFacts,
    assess,
    gather_facts,
)
from dialer.sip.options_probe import ProbeResult, probe_options
from dialer.sip.profiles import load_profile
from dnc.freshness import ListCopy
from tests.conftest import Tenant, make_tenant
from tests.dialable import add_signing_certificate, import_fresh_registry, make_dialable

NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def new_campaign(client: TestClient, tenant: Tenant, **settings: Any) -> dict[str, Any]:
    body = {"name": f"Ready {time.monotonic_ns()}", "caller_id": "+12025550199", **settings}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def ready_facts(**changes: Any) -> ReadinessFacts:
    """Facts of a campaign that dials: every blocker test changes one of them."""
    facts = ReadinessFacts(
        campaign_id=uuid.uuid4(),
        status="active",
        trunk_profile="loopback-sim",
        profile=load_profile("loopback-sim"),
        profile_error="",
        trunk_probe=ProbeResult(True, "SIP/2.0 200 OK"),
        certificate=CertificateFacts("demo", NOW + timedelta(days=300)),
        registry_obtained_at=NOW - timedelta(days=2),
        agents_assigned=3,
        agents_working=2,
        agents_ready=1,
        leads=LeadFacts(
            callable_left=100,
            due_now=100,
            next_due_at=None,
            sample_callable_now=50,
            sample_blocked_by_window=0,
            sample_size=100,
            first_window_opens_at=None,
        ),
        human_answered_30d=1000,
        abandoned_30d=10,
        abandon_target=0.025,
        engine_running=True,
    )
    return replace(facts, **changes)


def codes(readiness: Any) -> dict[str, bool]:
    return {b.code: b.hard for b in readiness.blockers}


def test_a_campaign_with_every_fact_in_place_is_ready() -> None:
    readiness = assess(ready_facts(), NOW)
    assert readiness.ready and readiness.blockers == () and readiness.warnings == ()


@pytest.mark.parametrize(
    ("changes", "code", "hard"),
    [
        ({"profile": None, "profile_error": "trunk profile 'gone' not found"}, "trunk_profile_unknown", True),
        ({"trunk_probe": ProbeResult(False, "no answer to SIP OPTIONS")}, "trunk_unreachable", False),
        ({"certificate": None}, "certificate_missing", True),
        ({"certificate": CertificateFacts("demo", NOW - timedelta(days=1))}, "certificate_expired", True),
        ({"registry_obtained_at": None}, "registry_missing", True),
        ({"registry_obtained_at": NOW - timedelta(days=40)}, "registry_stale", True),
        ({"agents_assigned": 0, "agents_working": 0}, "no_agents_assigned", False),
        ({"agents_working": 0, "agents_ready": 0}, "no_agents_logged_in", False),
        ({"abandoned_30d": 30}, "abandon_budget_exhausted", False),
        ({"engine_running": False}, "engine_not_running", False),
        ({"engine_alarm": "trunk profile 'x' not found"}, "engine_cannot_run", False),
        ({"status": "paused"}, "campaign_not_active", False),
        (
            {"list_copies": (ListCopy("state", "TX", "l1", NOW - timedelta(days=32)),)},
            "state_list_stale",
            False,
        ),
        (
            {"list_copies": (ListCopy("litigator", "", "l2", NOW - timedelta(days=40)),)},
            "litigator_list_stale",
            True,
        ),
        (
            {"list_copies": (ListCopy("reassigned", "", "l3", NOW - timedelta(days=60)),)},
            "reassigned_list_stale",
            False,
        ),
    ],
)
def test_each_missing_fact_is_one_blocker_with_a_message_and_a_fix(
    changes: dict[str, Any], code: str, hard: bool
) -> None:
    readiness = assess(ready_facts(**changes), NOW)
    assert not readiness.ready and codes(readiness) == {code: hard}
    (blocker,) = readiness.blockers
    assert blocker.message and blocker.fix and "<" not in blocker.message


def test_fresh_lists_and_kinds_without_a_freshness_rule_are_no_blockers() -> None:
    copies = (
        ListCopy("state", "TX", "l1", NOW - timedelta(days=30)),
        ListCopy("wireless", "", "l4", NOW - timedelta(days=400)),  # line-type data has no freshness rule
    )
    assert assess(ready_facts(list_copies=copies), NOW).blockers == ()
    stale = assess(ready_facts(list_copies=(ListCopy("state", "TX", "l1", NOW - timedelta(days=32)),)), NOW)
    assert "--kind state --state TX" in stale.blockers[0].fix and "32 days ago" in stale.blockers[0].message


def test_no_callable_leads_and_a_closed_window_say_when_the_first_lead_opens() -> None:
    empty = LeadFacts(0, 0, None, 0, 0, 0, None)
    assert codes(assess(ready_facts(leads=empty), NOW)) == {"no_callable_leads": False}
    opens = NOW + timedelta(hours=9)
    closed = LeadFacts(100, 100, None, 0, 100, 100, opens)
    (blocker,) = assess(ready_facts(leads=closed), NOW).blockers
    assert blocker.code == "outside_calling_window" and "2026-06-11 01:00 UTC" in blocker.message


def test_a_signing_certificate_with_another_label_than_the_profile_names_is_a_warning() -> None:
    readiness = assess(ready_facts(certificate=CertificateFacts("other", NOW + timedelta(days=9))), NOW)
    assert readiness.ready and [w.code for w in readiness.warnings] == ["certificate_label_mismatch"]


def test_the_options_probe_tells_an_answering_proxy_from_a_silent_one() -> None:
    import socket
    import threading

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        data, peer = server.recvfrom(65535)
        assert data.startswith(b"OPTIONS sip:127.0.0.1:")
        server.sendto(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", peer)

    thread = threading.Thread(target=answer)
    thread.start()
    assert probe_options(f"127.0.0.1:{port}") == ProbeResult(True, "SIP/2.0 200 OK")
    thread.join()
    silent = probe_options(f"127.0.0.1:{port}", timeout_s=0.3)
    server.close()
    assert not silent.reachable and f"127.0.0.1:{port}" in silent.detail


def test_readiness_over_the_api_names_what_a_new_campaign_lacks(client: TestClient, runtime: Runtime) -> None:
    tenant = make_tenant(runtime)
    campaign = new_campaign(client, tenant)
    r = client.get(f"/api/campaigns/{campaign['id']}/readiness", headers=tenant.headers("manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    found = {b["code"]: b for b in body["blockers"]}
    assert not body["ready"]
    assert {"campaign_not_active", "certificate_missing", "no_agents_assigned", "no_callable_leads"} <= set(
        found
    )
    assert found["certificate_missing"]["hard"] and found["certificate_missing"]["fix"]
    other = make_tenant(runtime)
    assert (
        client.get(f"/api/campaigns/{campaign['id']}/readiness", headers=other.headers("manager")).status_code
        == 404
    )


def test_start_is_refused_with_the_hard_blockers_and_answers_the_soft_ones_as_warnings(
    client: TestClient, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    campaign = new_campaign(client, tenant)
    url = f"/api/campaigns/{campaign['id']}"
    refused = client.post(f"{url}/start", headers=tenant.headers("manager"))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    blockers = {b["code"] for b in refused.json()["blockers"]}
    assert "certificate_missing" in blockers and "no_agents_assigned" not in blockers
    assert client.get(url, headers=tenant.headers("manager")).json()["status"] == "draft"
    add_signing_certificate(runtime, tenant.id)
    import_fresh_registry(runtime, tenant.id)
    started = client.post(f"{url}/start", headers=tenant.headers("manager"))
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "active"
    assert {"no_agents_assigned", "no_callable_leads"} <= {w["code"] for w in started.json()["warnings"]}


def test_readiness_says_when_the_first_lead_opens_when_every_lead_is_outside_its_window(
    runtime: Runtime,
) -> None:
    tenant = make_tenant(runtime)
    make_dialable(runtime, tenant.id)
    eastern = ZoneInfo("America/New_York")
    yesterday = (datetime.now(UTC).astimezone(eastern) - timedelta(days=1)).date()
    late_evening = datetime.combine(yesterday, datetime.min.time().replace(hour=22), eastern)
    with runtime.db.session(Scope(tenant.id)) as s:
        from campaigns.service import create_campaign

        campaign = create_campaign(s, org_id=tenant.id, name="night", settings={"caller_id": "+12025550199"})
        lead_list = LeadList(org_id=tenant.id, campaign_id=campaign.id, name="dc")
        s.add(lead_list)
        s.flush()
        for row, number in enumerate(["+12025550143", "+12025550144"], start=2):
            s.add(
                Lead(
                    org_id=tenant.id,
                    campaign_id=campaign.id,
                    list_id=lead_list.id,
                    row_number=row,
                    phone_raw=number,
                    phone_e164=number,
                )
            )
        campaign_id = campaign.id
    facts = gather_facts(runtime.db, runtime.redis, campaign_id, Scope(tenant.id), late_evening, probe=None)
    assert facts.leads.sample_size == 2 and facts.leads.sample_blocked_by_window == 2
    opens = datetime.combine(yesterday + timedelta(days=1), datetime.min.time().replace(hour=8), eastern)
    assert facts.leads.first_window_opens_at == opens
    assert "outside_calling_window" in codes(assess(facts, late_evening))


def test_the_engine_records_a_campaign_it_cannot_run_as_one_alarm_not_a_traceback_every_refresh(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    from dialer.engine.identity import IdentitySource
    from dialer.engine.supervisor import Engine, EngineConfig

    tenant = make_tenant(runtime)
    make_dialable(runtime, tenant.id)
    campaign = new_campaign(client, tenant, trunk_profile="loopback-sim")
    assert (
        client.post(f"/api/campaigns/{campaign['id']}/start", headers=tenant.headers("manager")).status_code
        == 200
    )
    with runtime.db.session(ALL_ORGS) as s:  # the profile file went away after the campaign was started
        s.execute(
            update(Campaign).where(Campaign.id == campaign["id"]).values(trunk_profile="removed-profile")
        )
    identity = IdentitySource(lambda _o: None, lambda _o, _n: None, lambda _o, _n: None)
    engine = Engine(
        runtime,
        identity,
        EngineConfig(pool=f"t-{uuid.uuid4().hex[:6]}", campaign_ids=frozenset({uuid.UUID(campaign["id"])})),
    )
    try:
        with caplog.at_level(logging.INFO, logger="dialer.engine.supervisor"):
            for _ in range(3):
                engine._refresh_campaigns()
        assert not [r for r in caplog.records if r.exc_info], "no traceback for a known cause"
        assert len([r for r in caplog.records if "cannot run" in r.getMessage()]) == 1
        alarms = client.get("/api/dialer/alarms", headers=tenant.headers("manager")).json()
        (alarm,) = [a for a in alarms if a["campaign_id"] == campaign["id"]]
        assert alarm["kind"] == "campaign_cannot_run" and "removed-profile" in alarm["reason"]
        engine._write_live_stats(running=True)  # the engine's heartbeat
        ready = client.get(
            f"/api/campaigns/{campaign['id']}/readiness", headers=tenant.headers("manager")
        ).json()
        blockers = {b["code"]: b["message"] for b in ready["blockers"]}
        assert "removed-profile" in blockers["engine_cannot_run"]
        with runtime.db.session(ALL_ORGS) as s:
            s.execute(
                update(Campaign).where(Campaign.id == campaign["id"]).values(trunk_profile="loopback-sim")
            )
        engine._refresh_campaigns()
        alarms = client.get("/api/dialer/alarms", headers=tenant.headers("manager")).json()
        assert not [a for a in alarms if a["campaign_id"] == campaign["id"]]
    finally:
        engine._write_live_stats(running=False)
        engine.pool.close()


# ------------------------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("settings", "field", "listed"),
    [
        ({"trunk_profile": "nope"}, "trunk_profile", "loopback-sim"),
        ({"trunk_profile": "../../../../etc/passwd"}, "trunk_profile", "loopback-sim"),
        ({"pacing_policy": "turbo"}, "pacing_policy", "predictive"),
        ({"pacing_settings": {"foo": 1}}, "pacing_settings.foo", "aggressiveness"),
        ({"pacing_policy": "ratio", "pacing_settings": {"lines_per_agent": 50}}, "pacing_settings", "10"),
        ({"max_lines_per_agent": 1e308}, "max_lines_per_agent", "20"),
        ({"max_cps": -1}, "max_cps", "1000"),
        ({"max_lines": 99999999999}, "max_lines", "100000"),
        ({"dial_method": "turbo"}, "dial_method", "predictive, progressive, preview"),
    ],
)
def test_bad_settings_are_refused_when_written_naming_the_setting_and_the_valid_values(
    client: TestClient, tenant: Tenant, settings: dict[str, Any], field: str, listed: str
) -> None:
    body = {"name": f"Bad {time.monotonic_ns()}", **settings}
    created = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert created.status_code == 422, created.text
    problem = created.json()
    assert problem["errors"][0]["field"] == field and listed in problem["detail"]
    assert "'" not in problem["detail"] and "<" not in problem["detail"]  # values, not Python reprs
    campaign = new_campaign(client, tenant)
    updated = client.patch(
        f"/api/campaigns/{campaign['id']}", json=settings, headers=tenant.headers("manager")
    )
    assert updated.status_code == 422 and updated.json()["errors"][0]["field"] == field


def test_the_default_trunk_profile_exists_and_loads(client: TestClient, tenant: Tenant) -> None:
    campaign = new_campaign(client, tenant)
    assert campaign["settings"]["trunk_profile"] == "default"
    assert load_profile("default").proxy == "127.0.0.1:5090"


def test_recycle_rule_errors_show_outcome_names_not_python_reprs(client: TestClient, tenant: Tenant) -> None:
    campaign = new_campaign(client, tenant)
    r = client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"recycle_rules": {"sale": {"delay_s": 1, "max_attempts": 1}}},
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 422
    assert "<Outcome" not in r.json()["detail"] and "no_answer" in r.json()["detail"]


def test_a_server_path_is_no_longer_a_safe_harbor_setting(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/campaigns",
        json={"name": f"Path {time.monotonic_ns()}", "safe_harbor_wav": "/etc/passwd"},
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 400 and "safe_harbor_wav" in r.text


def wav_bytes(*, rate: int = 8000, seconds: float = 3.0, channels: int = 1, width: int = 2) -> bytes:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\x00" * int(rate * seconds) * channels * width)
    return out.getvalue()


def test_the_safe_harbor_message_is_uploaded_checked_and_stored_per_organization(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    campaign = new_campaign(client, tenant)
    url = f"/api/campaigns/{campaign['id']}/safe-harbor"
    assert campaign["settings"]["safe_harbor_message"] == "default"
    incoming = safe_harbor.upload_dir(runtime.settings.home)
    for bad, rule in [
        (wav_bytes(channels=2), "mono"),
        (wav_bytes(rate=44100), "8000 or 16000 Hz"),
        (wav_bytes(seconds=1.0), "2 to 30 s"),
        (wav_bytes(seconds=31.0, rate=8000), "2 to 30 s"),
        (b"RIFF not really a wav", "not a PCM WAV"),
    ]:
        r = client.post(url, content=bad, headers=tenant.headers("manager"))
        assert r.status_code == 422 and rule in r.json()["detail"], r.text
    assert not list(incoming.glob("*.upload"))
    r = client.post(
        url,
        files={"file": ("msg.wav", wav_bytes(rate=16000), "audio/wav")},
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["safe_harbor_message"] == "uploaded"
    sha = r.json()["settings"]["safe_harbor_sha256"]
    assert b"".join(runtime.files.open(safe_harbor.kept_key(tenant.id, sha))) == wav_bytes(rate=16000)
    assert not list(incoming.iterdir())  # nothing of it stays on the receiving host
    assert client.post(url, content=wav_bytes(), headers=tenant.headers("agent")).status_code == 403


def test_the_openapi_document_describes_each_setting_and_the_problem_responses(client: TestClient) -> None:
    doc = client.get("/schema/openapi.json").json()
    create = doc["paths"]["/api/campaigns"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = doc["components"]["schemas"][ref]["properties"]
    assert "EVERY candidate zone" in str(props["calling_window_start"])
    assert "delay_s" in str(props["recycle_rules"]) and "sip_profiles/" in str(props["trunk_profile"])
    problem = create["responses"]["422"]["content"]["application/problem+json"]["schema"]
    name = problem["$ref"].rsplit("/", 1)[-1]
    assert {"type", "title", "status", "detail", "errors"} <= set(
        doc["components"]["schemas"][name]["properties"]
    )
    start = doc["paths"]["/api/campaigns/{campaign_id}/start"]["post"]["responses"]
    assert "409" in start and "application/problem+json" in start["409"]["content"]
    assert "413" in doc["paths"]["/api/campaigns/{campaign_id}/lead-lists"]["post"]["responses"]


def test_a_form_that_sends_a_safe_harbor_path_is_refused_and_an_empty_one_keeps_the_message(
    runtime: Runtime, tenant: Tenant
) -> None:
    from campaigns.service import create_campaign, update_campaign
    from core.errors import ValidationError

    with runtime.db.session(Scope(tenant.id)) as s:
        campaign = create_campaign(s, org_id=tenant.id, name=f"Form {time.monotonic_ns()}", settings={})
        campaign.safe_harbor_wav = "/stored/by/the/upload.wav"
        update_campaign(s, campaign, {"safe_harbor_wav": None, "opt_out_key": "8"})
        assert campaign.safe_harbor_wav == "/stored/by/the/upload.wav"
        with pytest.raises(ValidationError, match="upload the message"):
            update_campaign(s, campaign, {"safe_harbor_wav": "/etc/shadow"})
