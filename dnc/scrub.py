"""Scrub reports: a lead file in, one report row per input number out, every row decided by the engine.

Input CSV: a header with a phone column (`phone`, `number`, `e164` or `phone_number`) and optionally
`lead_id`, `state`, `zip`, `wireless`, `consent`, `consent_at`. Output columns are `REPORT_COLUMNS`.
Cells are neutralised against spreadsheet formula injection (a leading `=`, `+`, `-`, `@`, tab or CR
gets a `'` prefix), except plain signed numbers such as E.164 numbers, which no spreadsheet evaluates
as anything but a number.
"""

from __future__ import annotations

import csv
import gc
import io
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import NotFoundError, ValidationError
from core.file_limits import LIMITS, FileLimitError, allow_csv_cells_up_to, bounded_lines, check_cell_lengths
from core.file_store import FileStore, stash_upload
from core.jobs import create_job
from core.runtime import current_runtime
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
    """See `_read_leads_csv`; the cyclic garbage collector is paused meanwhile (a million row lists, none
    of them cyclic, would trigger it over and over)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_leads_csv(path)
    finally:
        if enabled:
            gc.enable()


def _read_leads_csv(path: Path) -> LeadFile:
    """Parse a lead file with the same cell rules as lead import (`dnc.lead_facts`). A bad cell does not
    stop the scrub: its row is reported blocked with `invalid_input`, naming the row, field, value and rule."""
    leads = LeadFile([], [], [], [], [], [], [])
    builder = ColumnsBuilder()  # the ZIP -> state lookups, cached across the file
    limits = LIMITS
    allow_csv_cells_up_to(limits.max_cell_chars)
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
        rows: list[tuple[int, list[str]]] = []
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
            check_cell_lengths(cells, line, limits.max_cell_chars)
            rows.append((line, cells))
    # Column by column, each distinct cell value parsed once (lead files repeat states, flags and dates).
    count = len(rows)
    leads.rows = [line for line, _ in rows]
    leads.raws = [cells[phone] if phone < len(cells) else "" for _, cells in rows]
    leads.lead_ids = [v or None for v in _column(rows, lead_id)] if lead_id is not None else [None] * count
    problems: dict[int, list[str]] = {}
    state_codes: list[str | None] = [None] * count
    if state is not None:
        texts = _column(rows, state)
        parsed_states = {v: parse_state(v) if v else None for v in set(texts)}
        state_codes = [parsed_states[v] for v in texts]
        for i, (text, code) in enumerate(zip(texts, state_codes, strict=True)):
            if text and code is None:
                problems.setdefault(i, []).append(f"state={text!r}: not a US state code or name")
    if zip_code is not None:
        zips = _column(rows, zip_code)
        parsed_zips = {v: parse_zip(v) if v else None for v in set(zips)}
        leads.states = [builder.state_for(s, parsed_zips[z]) for s, z in zip(state_codes, zips, strict=True)]
    else:
        leads.states = [builder.state_for(s, None) for s in state_codes]
    leads.wireless = [-1] * count
    if wireless is not None:
        texts = [v.lower() for v in _column(rows, wireless)]
        flags = {v: WIRELESS.get(v, "bad") for v in set(texts)}
        for i, text in enumerate(texts):
            flag = flags[text]
            if flag == "bad":
                problems.setdefault(i, []).append(f"wireless={text!r}: {WIRELESS_RULE}")
            elif flag is not None:
                leads.wireless[i] = int(flag)
    leads.written_consent = [False] * count
    leads.consent_day = [NO_CONSENT_DAY] * count
    if consent is not None or consent_at is not None:
        keys = list(
            zip(
                [v.lower() for v in _column(rows, consent)] if consent is not None else [""] * count,
                _column(rows, consent_at) if consent_at is not None else [""] * count,
                strict=True,
            )
        )
        consents = {key: _consent(*key) for key in set(keys)}
        for i, key in enumerate(keys):
            parsed = consents[key]
            if isinstance(parsed, str):
                problems.setdefault(i, []).append(parsed)
            else:
                leads.written_consent[i], leads.consent_day[i] = parsed
    for i in sorted(problems):  # each row's problems in field order: state, wireless, consent
        leads.errors[i] = f"row {leads.rows[i]}: " + "; ".join(problems[i])
    return leads


def _column(rows: list[tuple[int, list[str]]], index: int) -> list[str]:
    return [cells[index].strip() if index < len(cells) else "" for _, cells in rows]


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


# A cell written as it is: no CSV quoting needed and nothing `neutralize` would change (anything else takes
# the exact path: neutralize, then csv quoting).
_AS_IS = re.compile(r'(?:[^,"\r\n=+\-@\t][^,"\r\n]*|[+-][\d ().-]+)?\Z')


def _csv_line(cells: Sequence[str]) -> str:
    """One CSV line (no terminator) exactly as `csv.writer` writes it."""
    out = io.StringIO()
    csv.writer(out).writerow(cells)  # its own "\r\n" terminator: cells holding one get quoted
    return out.getvalue()[:-2]


def _safe_cells(values: Sequence[str]) -> list[str]:
    """Cells neutralised against formula injection and CSV-quoted: a regex test per cell, the exact path
    only for the rare cells that need it."""
    as_is = _AS_IS.match
    return [v if as_is(v) else _csv_line([neutralize(v)]) for v in values]


def report_lines(
    leads: LeadFile,
    start: int,
    raws: Sequence[str],
    e164s: Sequence[str | None],
    rejections: Sequence[str | None],
    valid: Sequence[int],
    parts: Sequence[VerdictParts],
    part_of: np.ndarray,
    registry_version: str,
    checked_at: str,
) -> str:
    """The report rows of one batch as CSV text (`\r\n` lines, as `csv.writer` writes them), built from
    the columnar verdicts: the cells every lead of a verdict shares are encoded once per verdict, each row
    is one string join of its own four cells and its verdict's tail."""
    count = len(raws)
    tails = [_csv_line(_tail(p, registry_version, checked_at)) for p in parts]
    tail_of: list[str] = [""] * count
    if len(valid):
        shared = np.array(tails, dtype=object)[part_of]
        for offset, tail in zip(valid, shared.tolist(), strict=True):
            tail_of[offset] = tail
    for offset in range(count):
        error = leads.errors.get(start + offset)
        if e164s[offset] is None or error is not None:
            reason = f"{INVALID_INPUT}:{error}" if error else f"invalid_number:{rejections[offset]}"
            tail_of[offset] = _csv_line(["blocked", reason, "", "", "", "", "", "", checked_at])
    row_numbers = leads.rows[start : start + count]
    inputs = _safe_cells(raws)
    lead_ids = _safe_cells([lead_id or "" for lead_id in leads.lead_ids[start : start + count]])
    numbers = [e or "" for e in e164s]  # E.164 or empty: never needs quoting or neutralising
    lines = [
        f"{row},{raw},{e164},{lead_id},{tail}"
        for row, raw, e164, lead_id, tail in zip(row_numbers, inputs, numbers, lead_ids, tail_of, strict=True)
    ]
    lines.append("")
    return "\r\n".join(lines)


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
        fh.write(_csv_line(REPORT_COLUMNS) + "\r\n")
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
            fh.write(
                report_lines(
                    leads, start, raws, e164s, rejections, valid, decision.parts, decision.part_of,
                    decision.registry_version, checked_at,
                )
            )  # fmt: skip
            callable_parts = np.array([p.callable for p in decision.parts], dtype=bool)
            callable_now = int(callable_parts[decision.part_of].sum()) if len(valid) else 0
            counts["callable"] += callable_now
            errors = sum(1 for offset in range(len(e164s)) if start + offset in leads.errors)
            counts["invalid_input"] += errors
            counts["invalid"] += len(e164s) - len(valid) - errors
            counts["blocked"] += len(e164s) - callable_now
            if progress is not None:
                progress(100.0 * stop / max(total, 1), dict(counts))
    tmp.replace(report_csv)
    return counts


def report_key(org_id: uuid.UUID, report_id: uuid.UUID) -> str:
    """Where a scrub report's CSV is kept in the shared file store (`core.file_store`)."""
    return f"reports/scrub/{org_id}/{report_id}.csv"


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
    store = current_runtime().files
    file_key = stash_upload(store, path, org_id=org_id)  # the job may run on another host
    params = {
        "file_key": file_key,
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
        store.delete(file_key)
        raise
    from dnc import tasks

    tasks.scrub_report_job.send(str(job_id), str(report.id), params)
    return report


def get_scrub_report(session: Session, report_id: uuid.UUID) -> ScrubReport:
    report = session.scalars(select(ScrubReport).where(ScrubReport.id == report_id)).one_or_none()
    if report is None:
        raise NotFoundError(f"scrub report {report_id} not found")
    return report


def finished_report_key(session: Session, store: FileStore, report_id: uuid.UUID) -> str:
    """The stored CSV of a scrub report whose job succeeded, or NotFoundError saying what state it is in."""
    report = get_scrub_report(session, report_id)
    key = report_key(report.org_id, report.id)
    if report.status != "succeeded" or not store.exists(key):
        raise NotFoundError(f"scrub report {report_id} is {report.status}, not ready")
    return key
