"""Call recordings without SIP (the recorded call itself: tests/engine/test_call_recording.py): the
consent rule, encrypted storage, who may play or download a recording (every access audited, another
organization's not found), the campaign setting, and the retention job."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from campaigns import recordings
from campaigns.models import CallAttempt, CallRecording
from clearline.retention import enforce
from core.db import ALL_ORGS
from core.errors import ConfigurationError, ValidationError
from core.models import AuditEntry, Organization, User
from core.runtime import Runtime
from dnc.recording_consent import all_party_states, called_party_states, parse_consent_rules, recording_plan
from tests.conftest import Tenant
from tests.engine.factories import make_campaign


def test_the_consent_rule_announces_or_skips_all_party_states_and_records_one_party_ones() -> None:
    assert {"CA", "FL", "IL", "MD", "MA", "MT", "NH", "PA", "WA"} <= set(all_party_states())
    assert all(s.citation and s.url.startswith("http") for s in all_party_states().values())
    assert not recording_plan("off", ["CA"]).record
    assert recording_plan("on", ["TX"]) == recording_plan("announced", ["TX"])
    assert (recording_plan("on", ["TX"]).record, recording_plan("on", ["TX"]).announce) == (True, False)
    skipped = recording_plan("on", ["TX", "CA"])  # a Texas resident on a California mobile number
    assert not skipped.record and "CA" in skipped.reason and "Penal Code 632" in skipped.reason
    announced = recording_plan("announced", ["FL"])
    assert (announced.record, announced.announce) == (True, True) and "934.03" in announced.reason
    unknown = recording_plan("announced", [])
    assert unknown.announce and "unknown" in unknown.reason
    assert not recording_plan("on", []).record
    # The called party's states: the lead's own, its ZIP code's, its number's area code's.
    assert called_party_states(e164="+12135550100", state="tx", zip_code="10001") == ("TX", "NY", "CA")
    with pytest.raises(ValueError):
        recording_plan("sometimes", ["TX"])


def test_a_malformed_consent_file_is_refused_naming_the_state_and_field() -> None:
    with pytest.raises(ValidationError, match=r"CA: url='': required"):
        parse_consent_rules({"CA": {"name": "California", "citation": "PC 632", "url": ""}})
    with pytest.raises(ValidationError, match="unknown field"):
        parse_consent_rules({"CA": {"name": "x", "citation": "y", "url": "https://x", "since": 1}})
    with pytest.raises(ValidationError, match="two-letter"):
        parse_consent_rules({"California": {}})


def _wav(path: Path, seconds: float = 1.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(samples.tobytes())
    return path.read_bytes()


def _recorded_attempt(runtime: Runtime, tenant: Tenant, tmp_path: Path) -> tuple[uuid.UUID, bytes]:
    campaign = make_campaign(runtime, tenant.id, settings={"recording_mode": "announced"}, active=False)
    with runtime.db.session(ALL_ORGS) as s:
        attempt = CallAttempt(
            org_id=tenant.id, lead_id=0, campaign_id=campaign.id, trunk="t", outcome="human"
        )
        s.add(attempt)
        s.flush()
        attempt_id = attempt.id
    spooled = tmp_path / f"{attempt_id}.wav"
    audio = _wav(spooled)
    now = datetime.now(UTC).timestamp()
    done = recordings.FinishedRecording(attempt_id, spooled, now - 1, now, announced=True)
    row = recordings.store_recording(runtime.db, runtime.files, runtime.settings.secret_key, done)
    assert row.status == "recorded" and row.seconds == 1.0 and not spooled.exists()
    return attempt_id, audio


def _audits(runtime: Runtime, attempt_id: uuid.UUID) -> list[tuple[str, uuid.UUID | None]]:
    with runtime.db.session(ALL_ORGS) as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.user_id)
            .where(AuditEntry.target == str(attempt_id), AuditEntry.action.like("recording.%"))
            .order_by(AuditEntry.id)
        )
        return [(a, u) for a, u in rows]


def test_recordings_are_stored_encrypted_and_only_the_allowed_roles_hear_them_every_access_audited(
    runtime: Runtime,
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    platform_admin: tuple[User, dict[str, str]],
    tmp_path: Path,
) -> None:
    attempt_id, audio = _recorded_attempt(runtime, tenant, tmp_path)
    key = recordings.file_key(tenant.id, attempt_id)
    stored = b"".join(runtime.files.open(key))
    assert audio[44:1044] not in stored and len(stored) > len(audio)  # no plaintext at rest
    tampered = stored[:100] + bytes([stored[100] ^ 1]) + stored[101:]
    with pytest.raises(ConfigurationError):
        b"".join(recordings.decrypt(runtime.settings.secret_key, tenant.id, attempt_id, [tampered]))

    base = f"/api/call-attempts/{attempt_id}/recording"
    for role in ("manager", "compliance", "org_admin"):
        info = client.get(base, headers=tenant.headers(role))
        assert info.status_code == 200, info.text
        body = info.json()
        assert (body["status"], body["announced"], body["retention_days"]) == ("recorded", True, 365)
        heard = client.get(body["audio_url"], headers=tenant.headers(role))
        assert heard.status_code == 200 and heard.content == audio
        assert heard.headers["content-type"].startswith("audio/wav")
    got = client.get(f"{base}.wav?download=true", headers=tenant.headers("compliance"))
    assert got.content == audio and got.headers["content-disposition"].startswith("attachment")
    users = tenant.users
    assert _audits(runtime, attempt_id) == [
        ("recording.play", users["manager"].id),
        ("recording.play", users["compliance"].id),
        ("recording.play", users["org_admin"].id),
        ("recording.download", users["compliance"].id),
    ]

    assert client.get(base, headers=tenant.headers("agent")).status_code == 403
    assert client.get(f"{base}.wav", headers=tenant.headers("agent")).status_code == 403
    for role in ("manager", "compliance", "org_admin"):  # another organization's recording: not found
        assert client.get(base, headers=other_tenant.headers(role)).status_code == 404
        assert client.get(f"{base}.wav", headers=other_tenant.headers(role)).status_code == 404
    denied = client.get(f"{base}.wav", headers=platform_admin[1])
    assert denied.status_code == 403 and "organization's managers" in denied.text
    assert len(_audits(runtime, attempt_id)) == 4  # refused requests heard nothing and logged no access


def test_a_call_not_recorded_says_why_and_has_no_audio(
    runtime: Runtime, client: TestClient, tenant: Tenant
) -> None:
    campaign = make_campaign(runtime, tenant.id, settings={"recording_mode": "on"}, active=False)
    with runtime.db.session(ALL_ORGS) as s:
        attempt = CallAttempt(
            org_id=tenant.id, lead_id=0, campaign_id=campaign.id, trunk="t", outcome="human"
        )
        s.add(attempt)
        s.flush()
        attempt_id = attempt.id
    recordings.note_not_recorded(runtime.db, attempt_id, recording_plan("on", ["PA"]).reason)
    info = client.get(f"/api/call-attempts/{attempt_id}/recording", headers=tenant.headers("manager"))
    assert info.json()["status"] == "not_recorded" and "18 Pa. C.S. 5703" in info.json()["reason"]
    assert info.json()["audio_url"] is None
    audio = client.get(f"/api/call-attempts/{attempt_id}/recording.wav", headers=tenant.headers("manager"))
    assert audio.status_code == 404 and "not_recorded" in audio.text


def test_the_recording_mode_setting_is_checked_and_the_consent_states_are_listed(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"name": f"rec-{uuid.uuid4().hex[:8]}", "recording_mode": "always"}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code in (400, 422) and "recording_mode" in r.text and "announced" in r.text, r.text
    body["recording_mode"] = "announced"
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 201 and r.json()["settings"]["recording_mode"] == "announced", r.text
    states = client.get("/api/recording-consent-states", headers=tenant.headers("agent")).json()
    assert {s["state"] for s in states} == set(all_party_states())
    assert next(s for s in states if s["state"] == "WA")["citation"].startswith("Rev. Code Wash. 9.73.030")


def test_the_retention_job_removes_recordings_past_their_organizations_period(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    old, _ = _recorded_attempt(runtime, tenant, tmp_path)  # 13 months old: past the default 12
    fresh, _ = _recorded_attempt(runtime, tenant, tmp_path)  # 2 months old: kept
    short, _ = _recorded_attempt(runtime, other_tenant, tmp_path)  # 2 months, organization keeps 30 days
    now = datetime.now(UTC)
    with runtime.db.session(ALL_ORGS) as s:
        for attempt_id, age in ((old, 395), (fresh, 60), (short, 60)):
            row = s.scalars(select(CallRecording).where(CallRecording.attempt_id == attempt_id)).one()
            row.created_at = now - timedelta(days=age)
        org = s.get(Organization, other_tenant.id)
        assert org is not None
        org.settings = {**org.settings, "retention_days": {"recordings": 30}}

    report = {r.kind: r.count for r in enforce(runtime, now)}
    assert report["recordings"] >= 2
    with runtime.db.session(ALL_ORGS) as s:
        rows = {
            r.attempt_id: r
            for r in s.scalars(select(CallRecording).where(CallRecording.attempt_id.in_([old, fresh, short])))
        }
    assert rows[fresh].status == "recorded" and runtime.files.exists(recordings.file_key(tenant.id, fresh))
    for attempt_id, org_id, kept in ((old, tenant.id, 365), (short, other_tenant.id, 30)):
        assert rows[attempt_id].status == "expired" and rows[attempt_id].file_key is None
        assert f"kept {kept} days" in rows[attempt_id].reason
        assert not runtime.files.exists(recordings.file_key(org_id, attempt_id))
    assert {r.kind: r.count for r in enforce(runtime, now)}["recordings"] == 0  # idempotent


def test_the_engine_orders_recording_per_call_and_a_bridged_call_it_may_not_record_says_why(
    runtime: Runtime, tenant: Tenant
) -> None:
    from campaigns.hopper import LeasedLead
    from dialer.engine.recordings import EngineRecordings
    from dialer.sip import protocol as p

    campaign = make_campaign(runtime, tenant.id, settings={"recording_mode": "on"}, active=False)
    engine = EngineRecordings(runtime)

    def lead(e164: str, state: str | None) -> LeasedLead:
        now = datetime.now(UTC)
        return LeasedLead(0, tenant.id, campaign.id, uuid.uuid4(), e164, None, None, state, None, None,
                          "none", None, 0, None, None, {}, "t", now)  # fmt: skip

    texas = engine.order_for("on", lead("+15125550100", "TX"), "a1")
    assert texas is not None and texas.announcement_wav == "" and texas.wav_path.endswith("a1.wav")
    announced = engine.order_for("announced", lead("+13055550100", None), "a2")  # Miami area code: FL
    assert announced is not None and announced.announcement_wav.endswith("recording_announcement.wav")
    assert engine.order_for("off", lead("+15125550100", "TX"), "a3") is None
    with runtime.db.session(ALL_ORGS) as s:
        attempt = CallAttempt(
            org_id=tenant.id, lead_id=0, campaign_id=campaign.id, trunk="t", outcome="human"
        )
        s.add(attempt)
        s.flush()
        attempt_id = str(attempt.id)
    assert engine.order_for("on", lead("+14155550100", None), attempt_id) is None  # San Francisco: CA
    engine.on_event(p.Bridged(worker_id="w", at=0.0, attempt_id=attempt_id, agent_id="x"))
    assert engine.flush()
    with runtime.db.session(ALL_ORGS) as s:
        row = s.scalars(select(CallRecording).where(CallRecording.attempt_id == uuid.UUID(attempt_id))).one()
        assert row.status == "not_recorded" and "Cal. Penal Code 632" in row.reason
    engine.close()


def test_spools_left_by_killed_processes_are_swept_at_start_and_a_live_ones_kept(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    import subprocess
    import sys

    from core.processes import owner_tag
    from dialer.engine.recordings import EngineRecordings, sweep_recording_spool
    from dialer.sip.line_worker import sweep_amd_spool

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(gone.stdout)  # that process has exited: its pid owns nothing now
    host = socket.gethostname()
    spool = recordings.spool_dir(runtime.settings.home)
    stale = spool / f"supervisor-{host}.{dead}"
    live = EngineRecordings(runtime).spool  # this process's own directory
    other_host = spool / f"supervisor-elsewhere.example.{dead}"
    for directory in (stale, live, other_host):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{uuid.uuid4()}.wav").write_bytes(b"RIFF")
    flat = spool / f"{uuid.uuid4()}.wav"  # the layout before per-supervisor directories
    flat.write_bytes(b"RIFF")
    assert live.name == f"supervisor-{owner_tag()}"
    with caplog.at_level("WARNING"):
        removed = sweep_recording_spool(runtime.settings.home)
    assert set(removed) == {stale, flat} and not stale.exists() and not flat.exists()
    assert any(live.iterdir()) and any(other_host.iterdir())
    assert f"removed spool directory {stale} of dead process {dead} (1 file(s) it left)" in caplog.text

    shm = tmp_path / "shm"  # the line worker's AMD spools (tmpfs), named <host>.<pid>-<mkdtemp suffix>
    amd_dead, amd_live = (
        shm / f"clearline-amd-{host}.{dead}-k2x_9a",
        shm / f"clearline-amd-{owner_tag()}-p0q1",
    )
    unrelated = shm / f"someone-else-{host}.{dead}"
    for directory in (amd_dead, amd_live, unrelated):
        directory.mkdir(parents=True)
        (directory / "a.wav").write_bytes(b"RIFF")
    assert sweep_amd_spool(shm) == [amd_dead]
    assert amd_live.exists() and unrelated.exists() and not amd_dead.exists()
