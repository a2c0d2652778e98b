"""Importing one lead file into a new lead list: streamed, normalized, de-duplicated, scrubbed, all or
nothing.

The file is read row by row in batches. Each batch is cleaned (`lead_columns`), its numbers normalized and
de-duplicated (against the file so far and the campaign's or organization's existing leads, kept as
compact bitmaps), scrubbed by the compliance engine, and streamed with PostgreSQL `COPY` straight into
`leads` while the next batch is parsed, so the database's work overlaps ours. Everything, including the
`lead_lists` row, is written in one transaction: a failed or cancelled import leaves nothing behind. An
advisory lock serializes imports of one organization so that de-duplication across lists holds.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from pyroaring import BitMap64
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from campaigns.lead_columns import Columns, LeadRow, RowError, clean_row, resolve_columns
from campaigns.lead_files import LeadFile
from campaigns.models import Campaign, CampaignStatus, DedupeScope, Lead, LeadList, LeadStatus, ListStatus
from campaigns.scrubbing import ImportScrubber, normalize
from core.db import Database, Scope
from core.errors import ConflictError, NotFoundError, ValidationError
from core.safe_csv import SafeWriter
from core.webhooks import LEAD_LIST_IMPORTED
from core.webhooks import events as webhook_events

BATCH_ROWS = 50_000  # per batch the engine re-reads its lists once; bigger batches, fewer reads
BATCH_CHARS = 32 * 1024 * 1024  # ...and a batch of wide rows is flushed sooner: memory stays bounded
REPORT_VALUE_CHARS = 200

COPY_COLUMNS = (
    "row_number",
    "phone_raw",
    "phone_e164",
    "first_name",
    "last_name",
    "state",
    "zip_code",
    "consent",
    "consent_at",
    "wireless",
    "extra",
    "status",
    "verdict",
    "verdict_reasons",
    # the same for every row of the import:
    "org_id",
    "campaign_id",
    "list_id",
    "priority",
    "attempts",
    "outcome_counts",
    "scrubbed_at",
)
CONSENT_COPY_COLUMNS = (
    "id",
    "org_id",
    "seller",
    "e164",
    "kind",
    "given_at",
    "disclosure",
    "consumer_ip",
    "certificate_id",
    "source",
    "created_at",
    "created_by",
)
# A batch is built with control characters the reader strips from every file (lead_files.strip_controls)
# as field separator, row end and NULL, then escaped for COPY's text format in a few passes over the batch.
_FIELD, _ROW, _NULL = "\x1f", "\x1e", "\x1d"
_COPY_ESCAPES = (
    ("\\", "\\\\"),
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    (_FIELD, "\t"),
    (_ROW, "\n"),
    (_NULL, "\\N"),
)


def _copy_text(rows: list[str]) -> str:
    text = _ROW.join(rows)
    for char, escaped in _COPY_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


_json = msgspec.json.Encoder()
_CALLABLE, _BLOCKED = LeadStatus.CALLABLE.value, LeadStatus.BLOCKED.value
_NO_DEDUPE = DedupeScope.NONE.value


@dataclass(frozen=True)
class ImportRequest:
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    list_id: uuid.UUID
    path: Path
    list_name: str
    file_name: str
    mapping: dict[str, str | int] | None = None
    has_header: bool | None = None
    dedupe_scope: str | None = None  # None: the campaign's setting
    allow_same_file: bool = False
    priority: int = 0
    created_by: uuid.UUID | None = None
    job_id: uuid.UUID | None = None


@dataclass
class ImportCounts:
    total: int = 0  # data rows read (empty rows are skipped, not counted)
    imported: int = 0  # stored as callable leads
    duplicates: int = 0
    invalid: int = 0
    blocked: int = 0  # stored, but blocked by the compliance engine

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ImportResult:
    list_id: uuid.UUID
    counts: ImportCounts
    error_report: Path | None
    file_sha256: str
    columns: dict[str, Any]
    registry_unavailable: int  # leads checked while no fresh national registry copy was loaded
    consent_records: int = 0  # consent artifacts stored for the campaign's seller (dnc.consent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "consent_records": self.consent_records,
            "list_id": str(self.list_id),
            "counts": self.counts.as_dict(),
            "error_report": bool(self.error_report),
            "file_sha256": self.file_sha256,
            "columns": self.columns,
            "registry_unavailable": self.registry_unavailable,
        }


Progress = Callable[[float, dict[str, int]], None]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def same_file_list(
    conn_or_session: Connection | Session, campaign_id: uuid.UUID, sha256: str
) -> uuid.UUID | None:
    """The list of this campaign that was imported from a file with these exact bytes, if any."""
    return conn_or_session.execute(
        select(LeadList.id).where(
            LeadList.campaign_id == campaign_id,
            LeadList.file_sha256 == sha256,
            LeadList.status != ListStatus.DELETING.value,
        )
    ).scalar()


def _lock_key(org_id: uuid.UUID) -> int:
    return int.from_bytes(org_id.bytes[:8], "big", signed=True)


class _ErrorReport:
    """The rejected rows as CSV (row, field, value, reason), opened on the first error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None
        self._writer: SafeWriter | None = None

    def add(self, row: int, errors: list[RowError]) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._writer = SafeWriter(self._fh)
            self._writer.writerow(["row", "field", "value", "reason"])
        for name, value, reason in errors:
            shown = value if len(value) <= REPORT_VALUE_CHARS else value[:REPORT_VALUE_CHARS] + "..."
            self._writer.writerow([row, name, shown, reason])

    @property
    def written(self) -> bool:
        return self._writer is not None

    def close(self, *, keep: bool) -> None:
        if self._fh is not None:
            self._fh.close()
        if not keep:
            self.path.unlink(missing_ok=True)


@dataclass
class _Dedupe:
    scope: str
    existing: BitMap64 = field(default_factory=BitMap64)
    seen: BitMap64 = field(default_factory=BitMap64)


class _Import:
    """The state of one running import: counts, error report, de-duplication sets, the engine."""

    def __init__(self, db: Database, request: ImportRequest, campaign: Campaign, at: datetime, report: Path):
        self.db = db
        self.request = request
        self.campaign = campaign
        self.at = at
        self.counts = ImportCounts()
        self.errors = _ErrorReport(report)
        self.registry_unavailable = 0
        self.scrubber = ImportScrubber(db, campaign)
        self.dedupe = _Dedupe(request.dedupe_scope or campaign.dedupe_scope)
        # Consent records of the accepted leads, as COPY text spooled to disk (memory stays bounded) and
        # copied after the leads, in the same transaction.
        self.consents = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.consent_records = 0
        self.consent_prefix = _FIELD.join([str(request.org_id), (campaign.seller or "").strip()])
        self.consent_suffix = _FIELD.join(
            ["lead_import", at.isoformat(), str(request.created_by) if request.created_by else _NULL]
        )
        self.suffix = _FIELD.join(
            [
                str(request.org_id),
                str(request.campaign_id),
                str(request.list_id),
                str(request.priority),
                "0",
                "{}",
                at.isoformat(),
            ]
        )

    def load_existing(self, conn: Connection) -> None:
        scope = self.dedupe.scope
        if scope == DedupeScope.CAMPAIGN.value:
            where = Lead.campaign_id == self.request.campaign_id
        elif scope == DedupeScope.ORGANIZATION.value:
            where = Lead.campaign_id.in_(select(Campaign.id).where(Campaign.org_id == self.request.org_id))
        else:
            return  # list scope: the list is new, so only the file itself counts
        result = conn.execute(select(Lead.phone_e164).where(where).execution_options(yield_per=100_000))
        for chunk in result.partitions():
            self.dedupe.existing.update([int(e164[1:]) for (e164,) in chunk])

    def copy_text(self, batch: list[LeadRow]) -> str:
        """COPY text of one batch's accepted leads; rejected rows go to the error report."""
        e164s, rejections = normalize([lead.phone_raw for lead in batch], self.campaign.default_region)
        accepted: list[LeadRow] = []
        accepted_e164s: list[str] = []
        dedupe = self.dedupe.scope != _NO_DEDUPE
        seen, existing = self.dedupe.seen, self.dedupe.existing
        for lead, e164, reason in zip(batch, e164s, rejections, strict=True):
            if e164 is None:
                self.counts.invalid += 1
                self.errors.add(
                    lead.row_number, [("phone", lead.phone_raw, f"not a phone number ({reason})")]
                )
                continue
            if dedupe:
                key = int(e164[1:])
                duplicate = (
                    "the number appears earlier in this file"
                    if key in seen
                    else f"the number is already a lead of this {self.dedupe.scope}"
                    if key in existing
                    else None
                )
                if duplicate is not None:
                    self.counts.duplicates += 1
                    self.errors.add(lead.row_number, [("phone", lead.phone_raw, f"duplicate: {duplicate}")])
                    continue
                seen.add(key)
            accepted.append(lead)
            accepted_e164s.append(e164)
        verdicts = self.scrubber.check(accepted, accepted_e164s, self.at)
        rows: list[str] = []
        suffix = self.suffix
        for lead, e164, verdict in zip(accepted, accepted_e164s, verdicts, strict=True):
            if verdict.registry_unavailable:
                self.registry_unavailable += 1
            if verdict.blocked:
                self.counts.blocked += 1
                status, reasons = _BLOCKED, _json.encode(list(verdict.reasons)).decode()
            else:
                self.counts.imported += 1
                status, reasons = _CALLABLE, "[]"
            consent_at = lead.consent_at
            wireless = lead.wireless
            rows.append(
                _FIELD.join(
                    (
                        str(lead.row_number),
                        lead.phone_raw,
                        e164,
                        lead.first_name or _NULL,
                        lead.last_name or _NULL,
                        lead.state or _NULL,
                        lead.zip_code or _NULL,
                        lead.consent,
                        consent_at.isoformat() if consent_at else _NULL,
                        _NULL if wireless is None else ("t" if wireless else "f"),
                        _json.encode(lead.extra).decode() if lead.extra else "{}",
                        status,
                        status,
                        reasons,
                        suffix,
                    )
                )
            )
        rows.append("")
        self._spool_consents(accepted, accepted_e164s)
        return _copy_text(rows)

    def _spool_consents(self, accepted: list[LeadRow], e164s: list[str]) -> None:
        """The consent records of leads that give consent with its date (the record needs a time; a consent
        of unknown date stays on the lead, where the engine counts it as such)."""
        lines = [
            _FIELD.join(
                (
                    str(uuid.uuid4()),
                    self.consent_prefix,
                    e164,
                    lead.consent,
                    f"{lead.consent_at.isoformat()}T00:00:00+00:00",
                    lead.consent_disclosure,
                    lead.consent_ip or _NULL,
                    lead.consent_certificate or _NULL,
                    self.consent_suffix,
                )
            )
            for lead, e164 in zip(accepted, e164s, strict=True)
            if lead.consent != "none" and lead.consent_at is not None
        ]
        if lines:
            self.consent_records += len(lines)
            lines.append("")
            self.consents.write(_copy_text(lines))

    def copy_consents(self, cursor: Any) -> None:
        if not self.consent_records:
            return
        self.consents.seek(0)
        with cursor.copy(f"COPY consent_records ({', '.join(CONSENT_COPY_COLUMNS)}) FROM STDIN") as copy:
            while chunk := self.consents.read(1 << 20):
                copy.write(chunk)

    def close(self) -> None:
        self.consents.close()


def _campaign(db: Database, request: ImportRequest) -> Campaign:
    with db.session(Scope(request.org_id)) as s:
        campaign = s.scalars(select(Campaign).where(Campaign.id == request.campaign_id)).one_or_none()
        if campaign is None:
            raise NotFoundError(f"campaign {request.campaign_id} not found")
        if campaign.status == CampaignStatus.FINISHED.value:
            raise ConflictError("the campaign is finished; it takes no new leads")
        s.expunge(campaign)
        return campaign


def import_lead_file(
    db: Database,
    request: ImportRequest,
    *,
    at: datetime,
    report_dir: Path,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportResult:
    """Import `request.path` as the new list `request.list_id`, all or nothing."""
    if request.dedupe_scope is not None and request.dedupe_scope not in {d.value for d in DedupeScope}:
        raise ValidationError(f"unknown de-duplication scope {request.dedupe_scope!r}", field="dedupe_scope")
    campaign = _campaign(db, request)
    sha256 = file_sha256(request.path)
    lead_file = LeadFile(request.path)
    rows = lead_file.rows()
    first = next(rows, None)
    if first is None:
        raise ValidationError("the file has no rows", field="file")
    columns: Columns = resolve_columns(first[1], request.mapping, has_header=request.has_header)
    job = _Import(db, request, campaign, at, report_dir / f"{request.list_id}.errors.csv")
    today = at.date()
    ok = False
    try:
        with db.engine.connect() as conn, conn.begin():
            conn.execute(select(func.pg_advisory_xact_lock(_lock_key(request.org_id))))
            if not request.allow_same_file:
                earlier = same_file_list(conn, request.campaign_id, sha256)
                if earlier is not None:
                    raise ConflictError(
                        f"this file was already imported into the campaign as list {earlier}; "
                        "set allow_same_file to import it again"
                    )
            job.load_existing(conn)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY leads ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                batch: list[LeadRow] = []
                data_rows = rows if columns.has_header else _chain(first, rows)
                flush_at = lead_file.chars_read + BATCH_CHARS
                for row_number, cells in data_rows:
                    job.counts.total += 1
                    lead, errors = clean_row(columns, row_number, cells, today)
                    if lead is None:
                        job.counts.invalid += 1
                        job.errors.add(row_number, errors)
                    else:
                        batch.append(lead)
                    if job.counts.total % batch_rows == 0 or lead_file.chars_read > flush_at:
                        copy.write(job.copy_text(batch))
                        batch = []
                        flush_at = lead_file.chars_read + BATCH_CHARS
                        if progress is not None:
                            progress(lead_file.fraction_read * 99.0, job.counts.as_dict())
                copy.write(job.copy_text(batch))
            job.copy_consents(cursor)
            conn.execute(
                insert(LeadList).values(
                    id=request.list_id,
                    org_id=request.org_id,
                    campaign_id=request.campaign_id,
                    name=request.list_name,
                    status=ListStatus.ACTIVE.value,
                    priority=request.priority,
                    file_name=request.file_name,
                    file_sha256=sha256,
                    file_size=lead_file.size,
                    column_mapping=columns.describe(),
                    counts=job.counts.as_dict(),
                    error_report=str(job.errors.path) if job.errors.written else None,
                    import_job_id=request.job_id,
                    created_by=request.created_by,
                    created_at=at,
                )
            )
            deliveries = webhook_events.write_deliveries(
                conn, org_id=request.org_id, event_type=LEAD_LIST_IMPORTED,
                data={"list_id": request.list_id, "campaign_id": request.campaign_id, "job_id": request.job_id,
                      "counts": job.counts.as_dict()},
            )  # fmt: skip
        ok = True
        webhook_events.send((d, 1) for d in deliveries)  # committed: now the messages
    finally:
        job.errors.close(keep=ok)
        job.close()
    return ImportResult(
        list_id=request.list_id,
        counts=job.counts,
        error_report=job.errors.path if job.errors.written else None,
        file_sha256=sha256,
        columns=columns.describe(),
        registry_unavailable=job.registry_unavailable,
        consent_records=job.consent_records,
    )


def _chain(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rest
