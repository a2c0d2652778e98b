"""A called person's rights over their data: access, deletion and correction of everything the
organization holds about one phone number. The one home of these rules; the API, the console and the
job worker call them.

`file_lead_request` records the request (due in 30 days) and queues its job; `run_privacy_job` carries
it out in one transaction of the organization's scope and stores the evidence of what it did:

- **access**: every lead with the number (all columns), every call attempt to it with its disposition
  and stored evidence, its consent records, its do-not-call entries and their removals, earlier requests;
  the number's call recordings (when, how long, announced; not the audio). Stored as JSON, downloadable
  as JSON or CSV.
- **deletion**: leads with the number are deleted (a lead on a call at that moment is anonymized and
  closed instead, so the call can end normally); attempts that were never calls (blocked) are deleted;
  call attempts that were calls are minimized to the fields of the TSR call-detail record
  (`campaigns.cdr.CDR_ATTEMPT_COLUMNS`), kept for their 5 years; rows naming the number are removed from
  the organization's stored reports (lead-list error reports, scrub reports) and earlier access exports;
  the audio of the number's call recordings is deleted from the file store (their rows say so).
  Kept, because the law requires it: the number on the internal do-not-call list (a deletion request
  is a do-not-call request, source `privacy_request`), the consent records (revoked), the minimized
  call-detail records, and the audit rows of compliance changes that name the number.
- **correction**: the name and email fields of the number's leads get the corrected values.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from campaigns import recordings
from campaigns.cdr import CDR_ATTEMPT_COLUMNS
from campaigns.jobs import is_stored_report
from campaigns.models import CallAttempt, Campaign, Disposition, Lead, LeadList, LeadStatus, Outcome
from core import retention
from core.db import Scope, utcnow
from core.errors import ValidationError
from core.file_store import FileStore, file_chunks, local_copy
from core.jobs import create_job
from core.legal import retain_until
from core.models import Job, Organization
from core.privacy import (
    HANDLERS,
    JOB_KIND,
    PrivacyRequest,
    RequestKind,
    due_date,
    optional_text,
    parse_kind,
)
from core.public_ids import public_lead_id
from core.runtime import Runtime, current_runtime
from core.safe_csv import SafeWriter
from dnc.consent import revoke_consent
from dnc.internal import add_internal_dnc
from dnc.models import ConsentRecord, DncRemoval, InternalDncEntry, ScrubReport
from dnc.normalize import normalize_number
from dnc.scrub import report_key

log = logging.getLogger(__name__)

# What a correction may change: the lead's own columns, and `email` among the file's extra columns.
CORRECTABLE = ("first_name", "last_name", "email")
DNC_REASON = "do-not-call request implied by the person's deletion request {id}"
RECORDINGS_NOTE = (
    "call recordings of the number (campaigns with recording_mode on) are listed under recordings, without "
    "their audio, which only managers, compliance staff and org admins can hear (docs/recordings.md); a "
    "deletion request deletes the audio of every one of them, each row then says it was deleted and why"
)
RECORDING_DELETED = "deleted on the called person's deletion request {id}"


def phone_of(value: str) -> str:
    """The E.164 form of a number as the person or the staff typed it, or an error naming it."""
    e164 = normalize_number(value).e164 if value.strip() else None
    if e164 is None:
        raise ValidationError(f"phone {value!r} is not a phone number (e.g. +12025550143)", field="phone")
    return e164


def _corrections(kind: RequestKind, corrections: dict[str, Any] | None) -> dict[str, str | None]:
    if kind is not RequestKind.CORRECTION:
        if corrections:
            raise ValidationError(f"corrections are only for a correction request, not {kind.value}",
                                  field="corrections")  # fmt: skip
        return {}
    if not corrections:
        raise ValidationError(f"a correction needs corrections: one or more of {', '.join(CORRECTABLE)}",
                              field="corrections")  # fmt: skip
    out: dict[str, str | None] = {}
    for key, value in corrections.items():
        if key not in CORRECTABLE:
            raise ValidationError(f"corrections.{key} cannot be corrected; one of {', '.join(CORRECTABLE)}",
                                  field=f"corrections.{key}")  # fmt: skip
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"corrections.{key} must be text or null, got {value!r}",
                                  field=f"corrections.{key}")  # fmt: skip
        out[key] = optional_text(value, f"corrections.{key}")
    return out


def file_lead_request(
    runtime: Runtime,
    *,
    org_id: uuid.UUID,
    kind: str,
    phone: str,
    name: str | None = None,
    email: str | None = None,
    corrections: dict[str, Any] | None = None,
    requested_by: uuid.UUID | None = None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Record a called person's request and queue the job that answers it; returns the request id."""
    request_kind = parse_kind(kind)
    e164 = phone_of(phone)
    fixes = _corrections(request_kind, corrections)
    received = now or utcnow()
    job_id = create_job(runtime.db, Scope(org_id), kind=JOB_KIND, params={"org_id": str(org_id)},
                        created_by=requested_by)  # fmt: skip
    with runtime.db.session(Scope(org_id)) as s:
        request = PrivacyRequest(
            org_id=org_id,
            kind=request_kind.value,
            subject="lead",
            phone_e164=e164,
            subject_name=optional_text(name, "name"),
            subject_email=optional_text(email, "email"),
            corrections=fixes,
            received_at=received,
            due_at=due_date(received),
            job_id=job_id,
            requested_by=requested_by,
        )
        s.add(request)
        s.flush()
        request_id = request.id
    from campaigns.tasks import run_privacy_request

    run_privacy_request.send(str(job_id))
    return request_id


# ------------------------------------------------------------------------------------------ the job


def carry_out_lead_request(
    session: Session, home: Path, request: PrivacyRequest, now: datetime
) -> dict[str, Any]:
    assert request.phone_e164 is not None
    kind = RequestKind(request.kind)
    if kind is RequestKind.ACCESS:
        request.export = access_export(session, request.phone_e164, request_id=request.id, now=now)
        counts = {k: len(v) for k, v in request.export.items() if isinstance(v, list)}
        return {"kind": kind.value, "exported": counts}
    if kind is RequestKind.CORRECTION:
        return {"kind": kind.value, **correct(session, request.phone_e164, request.corrections)}
    return {"kind": kind.value, **delete_person(session, home, request, now=now)}


HANDLERS["lead"] = carry_out_lead_request


# ------------------------------------------------------------------------------------------- access


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _row(obj: Any, *, skip: tuple[str, ...] = ("org_id",)) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip}


def access_export(session: Session, e164: str, *, request_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Everything the organization holds about the number, as one JSON-ready document."""
    org = session.scalars(select(Organization)).first()
    campaigns = dict(session.execute(select(Campaign.id, Campaign.name)).tuples().all())
    lists = dict(session.execute(select(LeadList.id, LeadList.name)).tuples().all())
    leads = []
    for lead in session.scalars(select(Lead).where(Lead.phone_e164 == e164).order_by(Lead.id)):
        row = _row(lead, skip=("org_id", "lease_holder", "lease_expires_at"))
        row["id"] = public_lead_id(lead.id)
        row["campaign"] = campaigns.get(lead.campaign_id, "")
        row["list"] = lists.get(lead.list_id, "")
        leads.append(row)
    labels = {
        (d.campaign_id, d.code): d.label
        for d in session.scalars(select(Disposition))
    }  # fmt: skip
    attempts, dispositions = [], []
    query = select(CallAttempt).where(CallAttempt.e164 == e164).order_by(CallAttempt.placed_at)
    for a in session.scalars(query):
        row = _row(a, skip=("org_id", "worker"))
        row["lead_id"] = public_lead_id(a.lead_id) if a.lead_id else None
        row["campaign"] = campaigns.get(a.campaign_id, "")
        attempts.append(row)
        if a.disposition:
            dispositions.append({
                "attempt_id": str(a.id), "code": a.disposition,
                "label": labels.get((a.campaign_id, a.disposition), ""),
                "source": a.disposition_source, "at": _plain(a.disposed_at),
            })  # fmt: skip
    consents = [_row(c) for c in session.scalars(
        select(ConsentRecord).where(ConsentRecord.e164 == e164).order_by(ConsentRecord.created_at))]  # fmt: skip
    dnc = [_row(d) for d in session.scalars(select(InternalDncEntry).where(InternalDncEntry.e164 == e164))]
    removals = [_row(r) for r in session.scalars(select(DncRemoval).where(DncRemoval.value == e164))]
    earlier = [
        {"id": str(r.id), "kind": r.kind, "received_at": _plain(r.received_at), "status": r.status,
         "completed_at": _plain(r.completed_at)}
        for r in session.scalars(select(PrivacyRequest).where(
            PrivacyRequest.phone_e164 == e164, PrivacyRequest.id != request_id).order_by(PrivacyRequest.received_at))
    ]  # fmt: skip
    return {
        "phone": e164,
        "organization": org.name if org else "",
        "generated_at": now.isoformat(),
        "request_id": str(request_id),
        "leads": leads,
        "call_attempts": attempts,
        "dispositions": dispositions,
        "consents": consents,
        "do_not_call": dnc,
        "do_not_call_removals": removals,
        "recordings": [
            _row(r, skip=("org_id", "file_key")) for r in recordings.recordings_of_number(session, e164)
        ],
        "recordings_note": RECORDINGS_NOTE,
        "privacy_requests": earlier,
    }


EXPORT_CSV_COLUMNS = ("section", "record", "field", "value")


def export_csv(export: dict[str, Any]) -> str:
    """The access export as one CSV: a line per field of every record (section, record number, field,
    value), so records of every kind fit one file a spreadsheet opens safely."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(EXPORT_CSV_COLUMNS)
    for section, value in export.items():
        if isinstance(value, list):
            for number, record in enumerate(value, start=1):
                for field, cell in record.items():
                    text = json.dumps(cell, ensure_ascii=False) if isinstance(cell, dict | list) else cell
                    writer.writerow([section, number, field, "" if text is None else text])
        else:
            writer.writerow([section, "", "", value])
    return buffer.getvalue()


# --------------------------------------------------------------------------------------- correction


def correct(session: Session, e164: str, corrections: dict[str, Any]) -> dict[str, Any]:
    leads = list(session.scalars(select(Lead).where(Lead.phone_e164 == e164).with_for_update()))
    for lead in leads:
        for field, value in corrections.items():
            if field == "email":
                extra = dict(lead.extra or {})
                if value is None:
                    extra.pop("email", None)
                else:
                    extra["email"] = value
                lead.extra = extra
            else:
                setattr(lead, field, value)
    session.flush()
    return {"corrected": {"leads": len(leads), "fields": sorted(corrections)}}


# ----------------------------------------------------------------------------------------- deletion


def _cdr_kept_until(session: Session, e164: str) -> str | None:
    last = session.scalars(
        select(func.max(CallAttempt.placed_at)).where(CallAttempt.e164 == e164)
    ).one_or_none()
    return retain_until(last).date().isoformat() if last else None


def _minimize_attempts(session: Session, e164: str) -> int:
    """Every column of the person's call attempts that the call-detail record does not need is cleared."""
    cleared: dict[str, Any] = {}
    for column in CallAttempt.__table__.columns:
        if column.key in CDR_ATTEMPT_COLUMNS:
            continue
        if column.nullable:
            cleared[column.key] = None
        elif column.key == "lead_id":
            cleared[column.key] = 0  # no link left to the person's (deleted) lead
        elif column.key == "verdict_reasons":
            cleared[column.key] = []
        elif column.key in ("trunk", "worker"):
            cleared[column.key] = ""
        elif column.key == "identity_header_present":
            cleared[column.key] = False
        else:  # a new column: decide whether the CDR needs it (and add it there), or clear it here
            raise AssertionError(f"call_attempts.{column.key}: not known to the privacy minimization")
    result = session.execute(
        update(CallAttempt)
        .where(CallAttempt.e164 == e164, CallAttempt.outcome != Outcome.BLOCKED.value)
        .values(**cleared)
        .execution_options(synchronize_session=False)
    )
    return _count(result)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _names_number(cells: list[str], national: str) -> bool:
    """A CSV row names the number when a cell's digits are the number (with or without country code)."""
    for cell in cells:
        digits = _digits(cell)
        if digits and len(digits) >= len(national) and digits.endswith(national) and len(digits) <= 15:
            return True
    return False


def scrub_csv_file(path: Path, e164: str) -> int:
    """Rewrite a stored CSV report without the rows naming the number; returns how many went."""
    if not path.is_file():
        return 0
    national = e164[2:] if e164.startswith("+1") else e164.lstrip("+")
    kept, removed = io.StringIO(), 0
    writer = csv.writer(kept, lineterminator="\n")
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for number, cells in enumerate(csv.reader(handle)):
            if number > 0 and _names_number(cells, national):
                removed += 1
                continue
            writer.writerow(cells)
    if removed:
        tmp = path.with_suffix(path.suffix + ".privacy")
        tmp.write_text(kept.getvalue(), encoding="utf-8")
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    return removed


def _stored_reports(session: Session) -> Iterator[tuple[str, Path | tuple[uuid.UUID, str]]]:
    """Every kept report of the organization: a path on this host, or (organization, key) in the shared
    file store."""
    for list_id, org_id, report in session.execute(
        select(LeadList.id, LeadList.org_id, LeadList.error_report).where(LeadList.error_report.is_not(None))
    ):
        name = f"lead list {list_id} error report"
        yield name, (org_id, report) if is_stored_report(report) else Path(report)
    for report_id, org_id in session.execute(select(ScrubReport.id, ScrubReport.org_id)):
        yield f"scrub report {report_id}", (org_id, report_key(org_id, report_id))


def scrub_stored_csv(store: FileStore, org_id: uuid.UUID, key: str, e164: str, workdir: Path) -> int:
    """`scrub_csv_file` of a report kept in the shared store: fetched, rewritten, stored again."""
    if not store.exists(key):
        return 0
    with local_copy(store, key, workdir) as path:
        removed = scrub_csv_file(path, e164)
        if removed:
            store.put(key, file_chunks(path), org_id=org_id)
    return removed


def _rule(kind: str) -> dict[str, Any]:
    rule = retention.BY_KIND[kind]
    return {"rule": kind, "kept_for_days": rule.days, "reason": rule.reason}


def delete_person(session: Session, home: Path, request: PrivacyRequest, *, now: datetime) -> dict[str, Any]:
    e164 = request.phone_e164
    assert e164 is not None
    reason = DNC_REASON.format(id=request.id)
    dnc_added = add_internal_dnc(session, e164=e164, campaign_id=None, source="privacy_request",
                                 reason=reason, added_by=request.requested_by)  # fmt: skip
    consents = revoke_consent(session, phone=e164, seller=None, source="privacy_request", note=reason,
                              revoked_by=request.requested_by, now=now)  # fmt: skip
    consents_held = session.scalars(
        select(func.count()).select_from(ConsentRecord).where(ConsentRecord.e164 == e164)
    ).one()

    on_a_call = _count(session.execute(
        update(Lead)
        .where(Lead.phone_e164 == e164, Lead.status == LeadStatus.IN_PROGRESS.value)
        .values(phone_raw="", phone_e164="", first_name=None, last_name=None, state=None, zip_code=None,
                consent_at=None, wireless=None, extra={}, status=LeadStatus.DONE.value, lease_holder=None,
                lease_expires_at=None, callback_at=None, next_attempt_at=None, verdict="blocked",
                verdict_reasons=["deleted_on_request"])
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    deleted_leads = _count(
        session.execute(
            delete(Lead).where(Lead.phone_e164 == e164).execution_options(synchronize_session=False)
        )
    )
    blocked = _count(
        session.execute(
            delete(CallAttempt)
            .where(CallAttempt.e164 == e164, CallAttempt.outcome == Outcome.BLOCKED.value)
            .execution_options(synchronize_session=False)
        )
    )
    cdr_until = _cdr_kept_until(session, e164)
    store = current_runtime().files
    recordings_deleted = recordings.delete_recordings_of_number(
        session, store, e164, RECORDING_DELETED.format(id=request.id)
    )
    minimized = _minimize_attempts(session, e164)

    report_rows: dict[str, int] = {}
    for name, where in _stored_reports(session):
        if isinstance(where, Path):
            removed = scrub_csv_file(where, e164)
        else:
            removed = scrub_stored_csv(store, *where, e164, home / "privacy")
        if removed:
            report_rows[name] = removed
    earlier = _count(
        session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.phone_e164 == e164, PrivacyRequest.id != request.id)
            .values(export=None, subject_name=None, subject_email=None, corrections={})
            .execution_options(synchronize_session=False)
        )
    )
    request.subject_name = request.subject_email = None
    session.flush()

    kept = [
        {"what": "the number on the organization's internal do-not-call list (a deletion request is a "
                 "do-not-call request)", "count": 1, "newly_added": dnc_added, "rule": "do_not_call",
         "kept_for_days": None,
         "reason": "47 CFR 64.1200(d)(6) and 16 CFR 310.4(b)(1)(iii)(A): a do-not-call request is honored "
                   "for at least 5 years; removing it is a compliance decision made by a person"},
        {"what": "call-detail records of the calls placed to the number, minimized to the fields the TSR "
                 f"names ({', '.join(CDR_ATTEMPT_COLUMNS)})", "count": minimized, "until": cdr_until,
         **_rule("call_records")},
        {"what": "consent records of the number, revoked by this request", "count": consents_held,
         "revoked_now": len(consents), **_rule("consent_records")},
        {"what": "audit log rows of compliance changes naming the number (do-not-call, consent)",
         **_rule("audit_compliance")},
    ]  # fmt: skip
    return {
        "phone": e164,
        "deleted": {
            "leads": deleted_leads,
            "blocked_attempts": blocked,
            "recordings": recordings_deleted,
            "report_rows": report_rows,
            "earlier_requests_cleared": earlier,
            "name_and_email_of_this_request": True,
        },
        "anonymized": {"leads_on_a_call": on_a_call},
        "minimized": {"call_attempts": minimized, "kept_fields": list(CDR_ATTEMPT_COLUMNS)},
        "kept": kept,
        "recordings": RECORDINGS_NOTE,
    }


def job_of_request(session: Session, request: PrivacyRequest) -> Job | None:
    return session.get(Job, request.job_id) if request.job_id else None
