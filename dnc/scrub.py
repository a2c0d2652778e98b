"""Scrub reports: a lead file in, one report row per input number out, every row decided by the engine.

Input CSV: a header with a phone column (`phone`, `number`, `e164` or `phone_number`) and optionally
`lead_id`, `state`, `zip`, `wireless`, `consent`, `consent_at`. Output columns are `REPORT_COLUMNS`.
Cells are neutralised against spreadsheet formula injection (a leading `=`, `+`, `-`, `@`, tab or CR
gets a `'` prefix), except plain signed numbers such as E.164 numbers, which no spreadsheet evaluates
as anything but a number.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import NotFoundError, ValidationError
from core.file_limits import LIMITS, FileLimitError, bounded_lines
from core.jobs import create_job
from core.safe_csv import neutralize
from dnc.engine import ComplianceEngine, LeadColumns, VerdictParts
from dnc.models import ScrubReport
from dnc.nanp import state_of_zip
from dnc.normalize import normalize_column
from dnc.verdicts import CampaignRules, Consent

PHONE_COLUMNS = ("phone", "number", "e164", "phone_number")
REPORT_COLUMNS = (
    "row",
    "input",
    "e164",
    "lead_id",
    "verdict",
    "reasons",
    "lists",
    "list_versions",
    "registry_version",
    "time_zones",
    "calling_window",
    "state_rule",
    "checked_at",
)
_TRUE = {"1", "true", "yes", "y", "wireless", "mobile"}
BATCH = 250_000

Progress = Callable[[float, dict[str, Any]], None]


_EPOCH = date(1970, 1, 1)


@dataclass
class LeadFile:
    """A lead file as columns (one entry per non-blank data row)."""

    rows: list[int]  # line number in the file
    raws: list[str]
    lead_ids: list[str | None]
    states: list[str]
    wireless: list[int]  # 1 / 0 / -1 unknown
    written_consent: list[bool]
    consent_day: list[int]  # -1 none, -2 unknown date


def read_leads_csv(path: Path) -> LeadFile:
    """Parse a lead file; a bad consent value or date names its row and column."""
    leads = LeadFile([], [], [], [], [], [], [])
    limits = LIMITS
    csv.field_size_limit(limits.max_cell_chars)
    with path.open("rb") as fh:
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        lines = bounded_lines(
            fh, max_bytes=limits.max_row_chars, max_rows=limits.max_scrub_rows, what="scrub inputs"
        )
        reader = csv.reader(lines)
        header = [h.strip().lower() for h in next(reader, [])]
        phone = next((header.index(c) for c in PHONE_COLUMNS if c in header), None)
        if phone is None:
            raise ValidationError(f"the lead file needs a phone column ({', '.join(PHONE_COLUMNS)})", row=1)
        col = {name: header.index(name) for name in header}
        lead_id, state, zip_code = col.get("lead_id"), col.get("state"), col.get("zip")
        wireless, consent, consent_at = col.get("wireless"), col.get("consent"), col.get("consent_at")
        for line, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(cells) > limits.max_columns:
                raise FileLimitError(
                    f"{len(cells)} columns, more than the {limits.max_columns}-column limit",
                    row=line,
                    limit="columns",
                    value=limits.max_columns,
                )
            leads.rows.append(line)
            leads.raws.append(cells[phone] if phone < len(cells) else "")
            leads.lead_ids.append(_cell(cells, lead_id) or None)
            leads.states.append((_cell(cells, state) or state_of_zip(_cell(cells, zip_code))).upper())
            wireless_text = _cell(cells, wireless).lower()
            leads.wireless.append((1 if wireless_text in _TRUE else 0) if wireless_text else -1)
            given, day = _consent(line, _cell(cells, consent), _cell(cells, consent_at))
            leads.written_consent.append(given is Consent.EXPRESS_WRITTEN)
            leads.consent_day.append(day)
    return leads


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _consent(line: int, text: str, at_text: str) -> tuple[Consent, int]:
    if not text and not at_text:
        return Consent.NONE, -1
    try:
        given = Consent(text.lower() or Consent.NONE.value)
    except ValueError as exc:
        choices = ", ".join(c.value for c in Consent)
        raise ValidationError(f"consent {text!r} is not one of {choices}", field="consent", row=line) from exc
    if given is Consent.NONE:
        return given, -1
    if not at_text:
        return given, -2
    try:
        return given, (date.fromisoformat(at_text) - _EPOCH).days
    except ValueError as exc:
        raise ValidationError("consent_at must be a date (YYYY-MM-DD)", field="consent_at", row=line) from exc


def _tail(parts: VerdictParts, registry_version: str, checked_at: str) -> list[str]:
    """The report cells every lead with these verdict parts shares."""
    return [
        "callable" if parts.callable else "blocked",
        " ".join(parts.reasons),
        " ".join(f"{m.kind}:{m.scope}" for m in parts.matches),
        " ".join(f"{m.kind}:{m.version}@{m.version_date or ''}" for m in parts.matches),
        registry_version,
        " ".join(parts.time_zones),
        parts.calling_window,
        parts.state_rule,
        checked_at,
    ]


def scrub_file(
    db: Database,
    org_id: uuid.UUID,
    leads_csv: Path,
    report_csv: Path,
    *,
    at: datetime,
    rules: CampaignRules | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Decide every lead of a CSV file at `at` (the engine's one decision function) and write the report."""
    leads = read_leads_csv(leads_csv)
    engine = ComplianceEngine.load(db, org_id, rules)
    total = len(leads.rows)
    counts = {"total": total, "callable": 0, "blocked": 0, "invalid": 0}
    report_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = report_csv.with_suffix(".partial")
    checked_at = at.isoformat()
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REPORT_COLUMNS)
        for start in range(0, total, BATCH):
            stop = min(start + BATCH, total)
            raws = leads.raws[start:stop]
            e164s, rejections = normalize_column(raws)
            valid = [i for i, e in enumerate(e164s) if e is not None]
            picked = np.array(valid, dtype=np.int64) + start
            cols = LeadColumns(
                e164s=[e164s[i] for i in valid],  # type: ignore[misc]
                lead_ids=[leads.lead_ids[start + i] for i in valid],
                states=[leads.states[start + i] for i in valid],
                wireless=np.array(leads.wireless, dtype=np.int8)[picked],
                written_consent=np.array(leads.written_consent, dtype=bool)[picked],
                consent_day=np.array(leads.consent_day, dtype=np.int64)[picked],
            )
            decision = engine.decide(cols, at)
            tails = [_tail(p, decision.registry_version, checked_at) for p in decision.parts]
            part_of = iter(decision.part_of.tolist())
            rows = []
            for offset, e164 in enumerate(e164s):
                i = start + offset
                head = [
                    str(leads.rows[i]),
                    neutralize(raws[offset]),
                    e164 or "",
                    neutralize(leads.lead_ids[i] or ""),
                ]
                if e164 is None:
                    tail = [
                        "blocked",
                        f"invalid_number:{rejections[offset]}",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        checked_at,
                    ]
                else:
                    tail = tails[next(part_of)]
                rows.append(head + tail)
            callable_parts = np.array([p.callable for p in decision.parts], dtype=bool)
            callable_now = int(callable_parts[decision.part_of].sum()) if len(valid) else 0
            counts["callable"] += callable_now
            counts["invalid"] += len(e164s) - len(valid)
            counts["blocked"] += len(e164s) - callable_now
            writer.writerows(rows)
            if progress is not None:
                progress(100.0 * stop / max(total, 1), dict(counts))
    tmp.replace(report_csv)
    return counts


def report_path(home: Path, report_id: uuid.UUID) -> Path:
    return home / "dnc" / "reports" / f"{report_id}.csv"


def queue_scrub_report(
    db: Database,
    *,
    org_id: uuid.UUID,
    path: Path,
    checked_at: datetime,
    campaign_id: uuid.UUID | None = None,
    created_by: uuid.UUID | None = None,
) -> ScrubReport:
    """Record a scrub report of an uploaded lead file as of `checked_at` and queue the job that writes it;
    returns the (detached) report row. The job deletes the uploaded file."""
    at = checked_at if checked_at.tzinfo else checked_at.replace(tzinfo=UTC)
    params = {
        "path": str(path),
        "org_id": str(org_id),
        "campaign_id": str(campaign_id) if campaign_id else None,
        "at": at.isoformat(),
    }
    try:
        job_id = create_job(db, Scope(org_id), kind="dnc.scrub", params=params, created_by=created_by)
        with db.session(Scope(org_id)) as s:
            report = ScrubReport(
                org_id=org_id, campaign_id=campaign_id, checked_at=at, job_id=job_id, created_by=created_by
            )
            s.add(report)
            s.flush()
            s.expunge(report)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    from dnc import tasks

    tasks.scrub_report_job.send(str(job_id), str(report.id), params)
    return report


def get_scrub_report(session: Session, report_id: uuid.UUID) -> ScrubReport:
    report = session.scalars(select(ScrubReport).where(ScrubReport.id == report_id)).one_or_none()
    if report is None:
        raise NotFoundError(f"scrub report {report_id} not found")
    return report


def finished_report_file(session: Session, home: Path, report_id: uuid.UUID) -> Path:
    """The CSV of a scrub report whose job succeeded, or NotFoundError saying what state it is in."""
    report = get_scrub_report(session, report_id)
    path = report_path(home, report.id)
    if report.status != "succeeded" or not path.exists():
        raise NotFoundError(f"scrub report {report_id} is {report.status}, not ready")
    return path
