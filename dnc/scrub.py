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
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from dnc.lead_facts import (
    CONSENT_RULE,
    DATE_RULE,
    NO_CONSENT_DAY,
    WIRELESS,
    WIRELESS_RULE,
    ColumnsBuilder,
    consent_day,
    parse_consent,
    parse_date,
    parse_state,
    parse_zip,
)
from dnc.models import ScrubReport
from dnc.normalize import normalize_column
from dnc.verdicts import CampaignRules, Consent

PHONE_COLUMNS = ("phone", "number", "e164", "phone_number")
INVALID_INPUT = "invalid_input"  # a cell the lead rules reject: the row is blocked, the scrub goes on
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
BATCH = 250_000

Progress = Callable[[float, dict[str, Any]], None]


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
    errors: dict[int, str] = field(default_factory=dict)  # row index -> "field=value: rule"


def read_leads_csv(path: Path) -> LeadFile:
    """Parse a lead file with the same cell rules as lead import (`dnc.lead_facts`). A bad cell does not
    stop the scrub: its row is reported blocked with `invalid_input`, naming the row, field, value and rule."""
    leads = LeadFile([], [], [], [], [], [], [])
    builder = ColumnsBuilder()  # the ZIP -> state lookups, cached across the file
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
        lead_id, state, zip_code = col.get("lead_id"), col.get("state"), col.get("zip", col.get("zip_code"))
        wireless, consent, consent_at = col.get("wireless"), col.get("consent"), col.get("consent_at")
        consent_cache: dict[tuple[str, str], tuple[bool, int] | str] = {}
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
            index = len(leads.rows)
            problems: list[str] = []
            leads.rows.append(line)
            leads.raws.append(cells[phone] if phone < len(cells) else "")
            leads.lead_ids.append(_cell(cells, lead_id) or None)
            state_text = _cell(cells, state)
            state_code = parse_state(state_text) if state_text else None
            if state_text and state_code is None:
                problems.append(f"state={state_text!r}: not a US state code or name")
            zip_text = _cell(cells, zip_code)
            leads.states.append(builder.state_for(state_code, parse_zip(zip_text) if zip_text else None))
            wireless_text = _cell(cells, wireless).lower()
            if wireless_text in WIRELESS:
                flag = WIRELESS[wireless_text]
                leads.wireless.append(-1 if flag is None else int(flag))
            else:
                leads.wireless.append(-1)
                problems.append(f"wireless={wireless_text!r}: {WIRELESS_RULE}")
            key = (_cell(cells, consent).lower(), _cell(cells, consent_at))
            parsed = consent_cache.get(key)
            if parsed is None:
                parsed = consent_cache[key] = _consent(*key)
            if isinstance(parsed, str):
                problems.append(parsed)
                leads.written_consent.append(False)
                leads.consent_day.append(NO_CONSENT_DAY)
            else:
                leads.written_consent.append(parsed[0])
                leads.consent_day.append(parsed[1])
            if problems:
                leads.errors[index] = f"row {line}: " + "; ".join(problems)
    return leads


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _consent(text: str, at_text: str) -> tuple[bool, int] | str:
    """(written consent, consent day) by the one consent mapping, or what is wrong with the cells."""
    kind = parse_consent(text)
    if kind is None:
        return f"consent={text!r}: {CONSENT_RULE}"
    at = None
    if at_text:
        at = parse_date(at_text)
        if at is None:
            return f"consent_at={at_text!r}: {DATE_RULE}"
    return kind == Consent.EXPRESS_WRITTEN.value, consent_day(kind, at)


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
    counts = {"total": total, "callable": 0, "blocked": 0, "invalid": 0, "invalid_input": 0}
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
            valid = [i for i, e in enumerate(e164s) if e is not None and (start + i) not in leads.errors]
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
                error = leads.errors.get(i)
                if e164 is None or error is not None:
                    tail = [
                        "blocked",
                        f"{INVALID_INPUT}:{error}" if error else f"invalid_number:{rejections[offset]}",
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
            errors = sum(1 for offset in range(len(e164s)) if start + offset in leads.errors)
            counts["invalid_input"] += errors
            counts["invalid"] += len(e164s) - len(valid) - errors
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
    rules: CampaignRules | None = None,
    created_by: uuid.UUID | None = None,
) -> ScrubReport:
    """Record a scrub report of an uploaded lead file as of `checked_at` and queue the job that writes it;
    returns the (detached) report row. The job deletes the uploaded file. `rules` are the campaign's own
    (window, geo), resolved by the caller (`campaigns.scrubbing.rules_for_campaign`)."""
    at = checked_at if checked_at.tzinfo else checked_at.replace(tzinfo=UTC)
    rules = rules or CampaignRules()
    campaign_id = rules.campaign_id
    params = {
        "path": str(path),
        "org_id": str(org_id),
        "campaign_id": str(campaign_id) if campaign_id else None,
        "rules": rules.to_params(),
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
