"""Issue 16, a called person's rights: access, correction and deletion requests filed through the API, run
by a real job worker on the real database, with their 30-day due date, evidence and access export."""

from __future__ import annotations

import csv
import io
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from campaigns import recordings
from campaigns.cdr import cdr_csv
from campaigns.models import CallAttempt, CallRecording, Lead, LeadList
from core.db import ALL_ORGS, Scope
from core.models import AuditEntry
from core.runtime import Runtime
from dnc.models import ConsentRecord, InternalDncEntry
from tests.campaigns.conftest import make_world
from tests.conftest import Tenant, job_worker

PHONE = "+12025550871"
OTHER = "+12025550872"


def _wait(client: TestClient, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/privacy/requests/{request_id}", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"privacy request {request_id} did not finish")


def _file(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/privacy/requests", json=body, headers=headers)
    assert r.status_code == 202, r.text
    done = _wait(client, headers, r.json()["id"])
    assert done["status"] == "completed", done
    return done


def _person(runtime: Runtime, tenant: Tenant) -> dict[str, Any]:
    """Two leads with the person's number in two lists, one of someone else; a call that was answered
    and disposed, one that was blocked, one to the other person; a lead-list error report naming both."""
    world = make_world(runtime, tenant)
    report = runtime.settings.home / f"privacy-test-{uuid.uuid4().hex}.csv"
    report.write_text(
        "row,phone,reason\n2,(202) 555-0871,duplicate\n3,202-555-0872,duplicate\n4,12025550871,bad state\n"
    )
    now = datetime.now(UTC)
    with runtime.db.session(Scope(tenant.id)) as s:
        lists = [
            LeadList(org_id=tenant.id, campaign_id=world.campaign_id, name=name, error_report=str(report))
            for name in ("spring", "summer")
        ]
        s.add_all(lists)
        s.flush()
        leads = [
            Lead(org_id=tenant.id, campaign_id=world.campaign_id, list_id=lists[i].id, row_number=2,
                 phone_raw=raw, phone_e164=e164, first_name="Joanna", last_name="Doe", state="DC",
                 zip_code="20001", extra={"email": "joanna@example.org"})
            for i, raw, e164 in ((0, "(202) 555-0871", PHONE), (1, "2025550871", PHONE), (0, "202 555 0872", OTHER))
        ]  # fmt: skip
        s.add_all(leads)
        s.flush()
        answered = CallAttempt(
            org_id=tenant.id, lead_id=leads[0].id, campaign_id=world.campaign_id, e164=PHONE,
            caller_id="+12025550199", placed_at=now - timedelta(minutes=5), answered_at=now - timedelta(minutes=4),
            agent_connected_at=now - timedelta(minutes=4), ended_at=now - timedelta(minutes=1), outcome="human",
            agent_id=tenant.users["agent"].id, disposition="SALE", disposition_source="agent", dtmf_digits="1",
            sip_call_id="call-privacy-1", verdict_reasons=[], evidence={"schema_version": 1, "lead": "Joanna"},
        )  # fmt: skip
        blocked = CallAttempt(org_id=tenant.id, lead_id=leads[1].id, campaign_id=world.campaign_id, e164=PHONE,
                              placed_at=now - timedelta(minutes=3), outcome="blocked", verdict_reasons=["dnc"])  # fmt: skip
        other = CallAttempt(org_id=tenant.id, lead_id=leads[2].id, campaign_id=world.campaign_id, e164=OTHER,
                            placed_at=now - timedelta(minutes=2), outcome="busy", verdict_reasons=[], dtmf_digits="5")  # fmt: skip
        s.add_all([answered, blocked, other])
        s.flush()
        ids = {"answered": answered.id, "other": other.id}
    for name, attempt_id in list(ids.items()):  # both recorded: a stored encrypted file and its row
        spooled = runtime.settings.home / f"privacy-{attempt_id}.wav"
        with wave.open(str(spooled), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
            out.writeframes(b"\x10\x00" * 8000)
        done = recordings.FinishedRecording(
            attempt_id, spooled, now.timestamp() - 1, now.timestamp(), announced=False
        )
        row = recordings.store_recording(runtime.db, runtime.files, runtime.settings.secret_key, done)
        assert row.file_key and runtime.files.exists(row.file_key)
        ids[f"{name}_recording"] = row.file_key
    return {
        "world": world, "report": report, "leads": [lead.id for lead in leads], "answered": answered.id,
        "blocked": blocked.id, "other": other.id, "since": now - timedelta(hours=1),
        "answered_recording": ids["answered_recording"], "other_recording": ids["other_recording"],
    }  # fmt: skip


def test_access_correction_and_deletion_of_a_called_person(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    data = _person(runtime, tenant)
    headers = tenant.headers("compliance")
    r = client.post("/api/compliance/consents", headers=headers, json={
        "phone": PHONE, "kind": "express_written", "given_at": "2026-01-02T10:00:00Z", "disclosure": "terms v2"})  # fmt: skip
    assert r.status_code == 201, r.text

    with job_worker("campaigns"):
        # Access: everything held about the number, as JSON and CSV; nothing about the other person.
        access = _file(client, headers, kind="access", phone="(202) 555-0871", name="Joanna Doe")
        received = datetime.fromisoformat(access["received_at"])
        assert datetime.fromisoformat(access["due_at"]) - received == timedelta(days=30)
        assert access["phone"] == PHONE and access["export_available"] and not access["overdue"]
        assert access["evidence"]["exported"]["leads"] == 2
        export = client.get(f"/api/privacy/requests/{access['id']}/export.json", headers=headers)
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
        doc = export.json()
        assert {lead["phone_raw"] for lead in doc["leads"]} == {"(202) 555-0871", "2025550871"}
        assert {a["outcome"] for a in doc["call_attempts"]} == {"human", "blocked"}
        assert doc["dispositions"][0]["code"] == "SALE" and doc["dispositions"][0]["label"]
        assert (
            doc["consents"][0]["kind"] == "express_written" and doc["consents"][0]["disclosure"] == "terms v2"
        )
        assert [(r["attempt_id"], r["status"], r["seconds"]) for r in doc["recordings"]] == [
            (str(data["answered"]), "recorded", 1.0)]  # fmt: skip
        assert "file_key" not in doc["recordings"][0] and "deletion request deletes" in doc["recordings_note"]
        assert OTHER not in export.text
        as_csv = client.get(f"/api/privacy/requests/{access['id']}/export.csv", headers=headers)
        rows = list(csv.reader(io.StringIO(as_csv.text)))
        assert rows[0] == ["section", "record", "field", "value"]
        assert ["leads", "1", "first_name", "Joanna"] in rows
        assert any(row[0] == "call_attempts" and row[2] == "dtmf_digits" and row[3] == "1" for row in rows)

        # Correction: the name and email fields of the person's leads.
        fixed = _file(client, headers, kind="correction", phone=PHONE,
                      corrections={"first_name": "Jo", "email": "jo@example.org"})  # fmt: skip
        assert fixed["evidence"]["corrected"] == {"leads": 2, "fields": ["email", "first_name"]}
        with runtime.db.session(Scope(tenant.id)) as s:
            leads = s.scalars(select(Lead).where(Lead.phone_e164 == PHONE)).all()
            assert {(lead.first_name, lead.last_name, lead.extra["email"]) for lead in leads} == {
                ("Jo", "Doe", "jo@example.org")}  # fmt: skip

        # Deletion: the person's data goes; the DNC entry, consent record and minimized CDR stay.
        gone = _file(client, headers, kind="deletion", phone=PHONE, email="jo@example.org")
    evidence = gone["evidence"]
    assert evidence["deleted"]["leads"] == 2 and evidence["deleted"]["blocked_attempts"] == 1
    assert evidence["deleted"]["earlier_requests_cleared"] == 2
    assert evidence["deleted"]["recordings"] == 1
    # The person's recording is deleted from the file store, its row says so; the other person's stays.
    assert not runtime.files.exists(data["answered_recording"])
    assert runtime.files.exists(data["other_recording"])
    assert sum(evidence["deleted"]["report_rows"].values()) == 2  # both lists share one report file
    assert {k["rule"] for k in evidence["kept"]} == {"do_not_call", "call_records", "consent_records",
                                                    "audit_compliance"}  # fmt: skip
    assert all(k["reason"] for k in evidence["kept"])
    with runtime.db.session(Scope(tenant.id)) as s:
        assert s.scalars(select(Lead).where(Lead.phone_e164 == PHONE)).all() == []
        assert s.get(Lead, data["leads"][2]) is not None  # the other person's lead stays
        assert s.get(CallAttempt, data["blocked"]) is None
        kept = s.get(CallAttempt, data["answered"])
        assert kept is not None and kept.e164 == PHONE and kept.disposition == "SALE"
        assert (kept.lead_id, kept.dtmf_digits, kept.sip_call_id, kept.evidence) == (0, None, None, None)
        deleted = s.scalars(select(CallRecording).where(CallRecording.attempt_id == data["answered"])).one()
        assert (deleted.status, deleted.file_key) == ("deleted", None)
        assert deleted.reason == f"deleted on the called person's deletion request {gone['id']}"
        kept_recording = s.scalars(
            select(CallRecording).where(CallRecording.attempt_id == data["other"])
        ).one()
        assert (kept_recording.status, kept_recording.file_key) == ("recorded", data["other_recording"])
        untouched = s.get(CallAttempt, data["other"])
        assert untouched is not None and untouched.dtmf_digits == "5"
        dnc = s.scalars(select(InternalDncEntry).where(InternalDncEntry.e164 == PHONE)).one()
        assert dnc.source == "privacy_request" and dnc.campaign_id is None
        consent = s.scalars(select(ConsentRecord).where(ConsentRecord.e164 == PHONE)).one()
        assert consent.revoked_at is not None and consent.revoked_source == "privacy_request"
    report = data["report"].read_text()
    assert "0871" not in report and "202-555-0872" in report
    # The call-detail record the TSR requires is still exported.
    cdr = "".join(cdr_csv(runtime.db, tenant.id, data["since"], datetime.now(UTC)))
    assert str(data["answered"]) in cdr and PHONE in cdr
    # The earlier access export is gone with the rest; the request rows keep no name or email.
    assert client.get(f"/api/privacy/requests/{access['id']}/export.json", headers=headers).status_code == 409
    with runtime.db.session(ALL_ORGS) as s:
        from core.privacy import PrivacyRequest

        names = s.execute(select(PrivacyRequest.subject_name, PrivacyRequest.subject_email)
                          .where(PrivacyRequest.org_id == tenant.id)).all()  # fmt: skip
        assert set(names) == {(None, None)}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.org_id == tenant.id,
                                                   AuditEntry.action.startswith("privacy_request."))).all()  # fmt: skip
        assert {a.action for a in audit} >= {"privacy_request.created", "privacy_request.updated"}
        assert not any("Joanna" in str(a.detail) or "jo@example.org" in str(a.detail) for a in audit)
    listed = client.get("/api/privacy/requests", headers=headers).json()
    assert [r["kind"] for r in listed] == ["deletion", "correction", "access"]


def test_requests_are_checked_role_gated_and_scoped(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    headers = tenant.headers("org_admin")
    bad = client.post("/api/privacy/requests", headers=headers, json={"kind": "erase", "phone": PHONE})
    assert bad.status_code == 422 and "erase" in bad.json()["detail"]
    bad = client.post(
        "/api/privacy/requests", headers=headers, json={"kind": "access", "phone": "not-a-number"}
    )
    assert bad.status_code == 422 and "not-a-number" in bad.json()["detail"]
    bad = client.post("/api/privacy/requests", headers=headers,
                      json={"kind": "correction", "phone": PHONE, "corrections": {"phone_e164": "+1"}})  # fmt: skip
    assert bad.status_code == 422 and "phone_e164" in bad.json()["detail"]
    for role in ("agent", "manager"):
        denied = client.post("/api/privacy/requests", headers=tenant.headers(role),
                             json={"kind": "access", "phone": PHONE})  # fmt: skip
        assert denied.status_code == 403
        assert client.get("/api/privacy/requests", headers=tenant.headers(role)).status_code == 403
    filed = client.post("/api/privacy/requests", headers=headers, json={"kind": "access", "phone": PHONE})
    assert filed.status_code == 202
    request_id = filed.json()["id"]
    assert (
        client.get(f"/api/privacy/requests/{request_id}", headers=other_tenant.headers()).status_code == 404
    )
    assert request_id not in str(client.get("/api/privacy/requests", headers=other_tenant.headers()).json())


def test_report_scrubbing_keeps_other_numbers(tmp_path: Path) -> None:
    from campaigns.privacy import scrub_csv_file

    path = tmp_path / "r.csv"
    path.write_text("phone,note\n+1 202 555 0871,x\n20255508710,longer number\n5550871,short\n")
    assert scrub_csv_file(path, PHONE) == 1
    assert path.read_text() == "phone,note\n20255508710,longer number\n5550871,short\n"


def test_retention_removes_exports_after_30_days_and_requests_after_24_months(
    runtime: Runtime, tenant: Tenant
) -> None:
    from clearline.retention import enforce
    from core.privacy import PrivacyRequest

    now = datetime.now(UTC)
    ages = {"fresh": timedelta(days=5), "month": timedelta(days=40), "old": timedelta(days=800)}
    with runtime.db.session(Scope(tenant.id)) as s:
        rows = {
            name: PrivacyRequest(org_id=tenant.id, kind="access", subject="lead", phone_e164=PHONE,
                                 status="completed", received_at=now - age, due_at=now - age + timedelta(days=30),
                                 completed_at=now - age, export={"leads": []})
            for name, age in ages.items()
        }  # fmt: skip
        s.add_all(rows.values())
        s.flush()
        ids = {name: r.id for name, r in rows.items()}
    report = {r.kind: r.count for r in enforce(runtime, now)}
    assert report["privacy_requests"] >= 1 and report["privacy_exports"] >= 1
    with runtime.db.session(Scope(tenant.id)) as s:
        fresh, month = s.get(PrivacyRequest, ids["fresh"]), s.get(PrivacyRequest, ids["month"])
        assert fresh is not None and fresh.export == {"leads": []}
        assert month is not None and month.export is None  # the request and its evidence stay
        assert s.get(PrivacyRequest, ids["old"]) is None
    again = {r.kind: r.count for r in enforce(runtime, now)}
    assert again["privacy_requests"] == 0 and again["privacy_exports"] == 0
