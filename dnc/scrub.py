"""Scrub reports: a lead file in, one report row per input number out, every row decided by the engine.

Input CSV: a header with a phone column (`phone`, `number`, `e164` or `phone_number`) and optionally
`lead_id`, `state`, `zip`, `wireless`, `consent`, `consent_at`. Output columns are `REPORT_COLUMNS`.
Cells are neutralised against spreadsheet formula injection (a leading `=`, `+`, `-`, `@`, tab or CR
gets a `'` prefix), except plain signed numbers such as E.164 numbers, which no spreadsheet evaluates
as anything but a number.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.db import Database
from core.errors import ValidationError
from dnc.engine import ComplianceEngine
from dnc.normalize import normalize_many
from dnc.verdicts import CampaignRules, Consent, LeadContext, ScrubVerdict

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
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE = {"1", "true", "yes", "y", "wireless", "mobile"}
BATCH = 200_000

Progress = Callable[[float, dict[str, Any]], None]


def neutralize(cell: str) -> str:
    """A CSV cell that a spreadsheet will show as text, never run as a formula."""
    if cell.startswith(_DANGEROUS_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


@dataclass
class LeadRow:
    row: int
    raw: str
    lead_id: str | None
    state: str | None
    zip_code: str | None
    wireless: bool | None
    consent: Consent
    consent_at: date | None


def read_leads_csv(path: Path) -> list[LeadRow]:
    """Parse a lead file; a bad consent value or date names its row and column."""
    rows: list[LeadRow] = []
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        phone = next((header.index(c) for c in PHONE_COLUMNS if c in header), None)
        if phone is None:
            raise ValidationError(f"the lead file needs a phone column ({', '.join(PHONE_COLUMNS)})", row=1)
        col = {name: header.index(name) if name in header else None for name in header}
        lead_id, state, zip_code = col.get("lead_id"), col.get("state"), col.get("zip")
        wireless, consent, consent_at = col.get("wireless"), col.get("consent"), col.get("consent_at")
        simple = (
            lead_id is None and state is None and zip_code is None and wireless is None and consent is None
        )
        for line, cells in enumerate(reader, start=2):
            if not cells:
                continue
            raw = cells[phone] if phone < len(cells) else ""
            if simple:
                rows.append(LeadRow(line, raw, None, None, None, None, Consent.NONE, None))
                continue
            rows.append(_lead_row(line, cells, raw, lead_id, state, zip_code, wireless, consent, consent_at))
    return rows


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _lead_row(
    line: int,
    cells: list[str],
    raw: str,
    lead_id: int | None,
    state: int | None,
    zip_code: int | None,
    wireless: int | None,
    consent: int | None,
    consent_at: int | None,
) -> LeadRow:
    consent_text = _cell(cells, consent).lower() or Consent.NONE.value
    try:
        consent_value = Consent(consent_text)
    except ValueError as exc:
        choices = ", ".join(c.value for c in Consent)
        raise ValidationError(
            f"consent {consent_text!r} is not one of {choices}", field="consent", row=line
        ) from exc
    consent_date = None
    if _cell(cells, consent_at):
        try:
            consent_date = date.fromisoformat(_cell(cells, consent_at))
        except ValueError as exc:
            raise ValidationError(
                "consent_at must be a date (YYYY-MM-DD)", field="consent_at", row=line
            ) from exc
    wireless_text = _cell(cells, wireless).lower()
    return LeadRow(
        row=line,
        raw=raw,
        lead_id=_cell(cells, lead_id) or None,
        state=_cell(cells, state).upper() or None,
        zip_code=_cell(cells, zip_code) or None,
        wireless=(wireless_text in _TRUE) if wireless_text else None,
        consent=consent_value,
        consent_at=consent_date,
    )


def _report_row(lead: LeadRow, verdict: ScrubVerdict | None, reason: str | None, at: datetime) -> list[str]:
    if verdict is None:
        return [str(lead.row), neutralize(lead.raw), "", neutralize(lead.lead_id or ""), "blocked",
                f"invalid_number:{reason}", "", "", "", "", "", "", at.isoformat()]  # fmt: skip
    return [
        str(lead.row),
        neutralize(lead.raw),
        verdict.e164,
        neutralize(lead.lead_id or ""),
        verdict.verdict,
        " ".join(verdict.reasons),
        " ".join(f"{m.kind}:{m.scope}" for m in verdict.matches),
        " ".join(f"{m.kind}:{m.version}@{m.version_date or ''}" for m in verdict.matches),
        verdict.registry_version,
        " ".join(verdict.time_zones),
        verdict.calling_window,
        verdict.state_rule,
        at.isoformat(),
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
    """Decide every lead of a CSV file at `at` and write the report; returns counts."""
    leads = read_leads_csv(leads_csv)
    engine = ComplianceEngine.load(db, org_id, rules)
    counts = {"total": len(leads), "callable": 0, "blocked": 0, "invalid": 0}
    report_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = report_csv.with_suffix(".partial")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REPORT_COLUMNS)
        for start in range(0, len(leads), BATCH):
            batch = leads[start : start + BATCH]
            normalized = normalize_many([lead.raw for lead in batch])
            valid = [(lead, n.e164) for lead, n in zip(batch, normalized, strict=True) if n.e164 is not None]
            contexts = [
                LeadContext(
                    e164=e164,
                    lead_id=lead.lead_id,
                    state=lead.state,
                    zip_code=lead.zip_code,
                    wireless=lead.wireless,
                    consent=lead.consent,
                    consent_at=lead.consent_at,
                )
                for lead, e164 in valid
            ]
            verdicts = iter(engine.check(contexts, at))
            rows = []
            for lead, n in zip(batch, normalized, strict=True):
                verdict = next(verdicts) if n.e164 is not None else None
                rows.append(_report_row(lead, verdict, n.reason, at))
                if verdict is None:
                    counts["invalid"] += 1
                    counts["blocked"] += 1
                elif verdict.callable:
                    counts["callable"] += 1
                else:
                    counts["blocked"] += 1
            writer.writerows(rows)
            if progress is not None:
                progress(100.0 * (start + len(batch)) / max(len(leads), 1), dict(counts))
    tmp.replace(report_csv)
    return counts


def report_path(home: Path, report_id: uuid.UUID) -> Path:
    return home / "dnc" / "reports" / f"{report_id}.csv"
