"""Lead lists as their users handle them: upload a file into a campaign (queued as an import job), pause,
resume and delete a list (queued as a purge job), download the rows it rejected. The API and the console
call these; the jobs themselves are in `campaigns.jobs`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from campaigns.importer import same_file_list
from campaigns.jobs import IMPORT_KIND, create_import_job, create_purge_job, is_stored_report, lead_files_dir
from campaigns.lead_columns import Columns, resolve_columns
from campaigns.lead_files import LeadFile
from campaigns.models import CampaignStatus, Lead, LeadList, LeadStatus, ListStatus
from campaigns.service import get_campaign
from core.db import Scope
from core.errors import ConflictError, NotFoundError, ValidationError
from core.file_store import FileStore, StashedUpload
from core.models import Job, JobStatus
from core.runtime import Runtime
from core.uploads import StoredUpload

_BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def upload_dir(runtime: Runtime) -> Path:
    """Where an uploaded lead file waits for its import."""
    return lead_files_dir(runtime)


def get_lead_list(session: Session, list_id: uuid.UUID) -> LeadList:
    """The list, or NotFoundError; for a list whose import is queued, running or failed, the error says
    so and names the job (a list exists only once its import succeeded)."""
    lead_list = session.scalars(select(LeadList).where(LeadList.id == list_id)).one_or_none()
    if lead_list is not None:
        return lead_list
    job = session.scalars(
        select(Job)
        .where(Job.kind == IMPORT_KIND, type_coerce(Job.params, JSONB)["list_id"].astext == str(list_id))
        .order_by(Job.created_at.desc())
        .limit(1)
    ).first()
    if job is None:
        raise NotFoundError(f"lead list {list_id} not found")
    if job.status == JobStatus.FAILED.value:
        raise NotFoundError(
            f"lead list {list_id} does not exist: its import failed ({job.error}); see /api/jobs/{job.id}"
        )
    raise NotFoundError(
        f"lead list {list_id} does not exist yet: its import is {job.status}; follow /api/jobs/{job.id}"
    )


def campaign_lead_lists(session: Session, campaign_id: uuid.UUID) -> list[LeadList]:
    get_campaign(session, campaign_id)
    return list(
        session.scalars(
            select(LeadList).where(LeadList.campaign_id == campaign_id).order_by(LeadList.created_at)
        )
    )


def org_taking_leads(session: Session, campaign_id: uuid.UUID) -> uuid.UUID:
    """The organization of a campaign that may take new leads (checked before an upload is received)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.FINISHED.value:
        raise ConflictError("the campaign is finished; it takes no new leads")
    return campaign.org_id


def import_options(fields: dict[str, str]) -> dict[str, Any]:
    """An upload form's text fields (`name`, `mapping` as JSON, `has_header`, `allow_same_file`,
    `dedupe_scope`, `priority`), checked, as `create_import_job` keyword arguments."""
    options: dict[str, Any] = {}
    if fields.get("name"):
        options["list_name"] = fields["name"][:300]
    if fields.get("mapping"):
        try:
            mapping = json.loads(fields["mapping"])
        except json.JSONDecodeError as exc:
            raise ValidationError(f"mapping is not JSON ({exc.msg})", field="mapping") from exc
        if not isinstance(mapping, dict) or not all(isinstance(v, str | int) for v in mapping.values()):
            raise ValidationError('mapping must be an object like {"phone": "Cell Phone"}', field="mapping")
        options["mapping"] = mapping
    for name in ("has_header", "allow_same_file"):
        if name in fields:
            value = fields[name].strip().lower()
            if value not in _BOOLEAN_TEXT:
                raise ValidationError(f"{name} must be true or false", field=name)
            options[name] = _BOOLEAN_TEXT[value]
    if fields.get("dedupe_scope"):
        options["dedupe_scope"] = fields["dedupe_scope"]
    if fields.get("priority"):
        try:
            options["priority"] = int(fields["priority"])
        except ValueError as exc:
            raise ValidationError("priority must be an integer", field="priority") from exc
    return options


def queue_lead_import(
    runtime: Runtime,
    scope: Scope,
    *,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    upload: StoredUpload | StashedUpload,
    fields: dict[str, str],
    created_by: uuid.UUID | None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """Queue the import of an uploaded file (on this host's disk, or already in the shared store as the
    console's staged uploads are); returns (job id, id the new list will have). The same bytes imported
    twice into one campaign are refused unless `allow_same_file`. The upload is deleted if it cannot be
    queued (and by the job once it ran)."""
    try:
        options = import_options(fields)
        if not options.get("allow_same_file"):
            with runtime.db.session(scope) as s:
                earlier = same_file_list(s, campaign_id, upload.sha256)
            if earlier is not None:
                raise ConflictError(
                    f"this file was already imported into the campaign as list {earlier}; "
                    "send allow_same_file=true to import it again"
                )
        job_id, list_id = create_import_job(
            runtime,
            org_id=org_id,
            campaign_id=campaign_id,
            path=upload.path if isinstance(upload, StoredUpload) else None,
            file_key=upload.file_key if isinstance(upload, StashedUpload) else None,
            file_name=upload.file_name,
            created_by=created_by,
            **options,
        )
    except BaseException:
        if isinstance(upload, StoredUpload):
            upload.path.unlink(missing_ok=True)
        else:
            runtime.files.delete(upload.file_key)
        raise
    from campaigns.tasks import import_leads

    import_leads.send(str(job_id))
    return job_id, list_id


def set_list_status(session: Session, list_id: uuid.UUID, status: ListStatus) -> LeadList:
    """Pause or resume a list; a list being deleted stays so."""
    lead_list = get_lead_list(session, list_id)
    if lead_list.status == ListStatus.DELETING.value:
        raise ConflictError(f"lead list {list_id} is being deleted")
    lead_list.status = status.value
    session.flush()
    return lead_list


def delete_lead_list(
    session: Session, runtime: Runtime, list_id: uuid.UUID, *, created_by: uuid.UUID | None
) -> uuid.UUID:
    """Mark a list as being deleted (committed: never leased again from here on) and queue its purge job;
    returns the job id. Its leads' call attempts, the evidence, are kept."""
    lead_list = get_lead_list(session, list_id)
    if lead_list.status == ListStatus.DELETING.value:
        raise ConflictError(f"lead list {list_id} is already being deleted")
    lead_list.status = ListStatus.DELETING.value
    session.commit()
    job_id = create_purge_job(runtime, org_id=lead_list.org_id, list_id=list_id, created_by=created_by)
    from campaigns.tasks import purge_lead_list

    purge_lead_list.send(str(job_id))
    return job_id


def error_report_file(session: Session, store: FileStore, list_id: uuid.UUID) -> Path | str:
    """The CSV of the rows a list's import rejected (a key of the shared store, or a path on this host
    for lists imported before it), or NotFoundError when there were none."""
    lead_list = get_lead_list(session, list_id)
    report = lead_list.error_report
    if report and is_stored_report(report):
        if store.exists(report):
            return report
    elif report and Path(report).exists():
        return Path(report)
    raise NotFoundError(f"lead list {list_id} has no rejected rows")


def blocked_reasons(session: Session, list_id: uuid.UUID) -> list[tuple[str, int]]:
    """Why a list's blocked leads are blocked: (reason code, leads), most frequent first. A lead blocked
    for several reasons counts under each."""
    get_lead_list(session, list_id)
    reason = func.jsonb_array_elements_text(Lead.verdict_reasons).table_valued("value").render_derived()
    rows = session.execute(
        select(reason.c.value, func.count())
        .select_from(Lead)
        .join(reason, true())
        .where(Lead.list_id == list_id, Lead.status == LeadStatus.BLOCKED.value)
        .group_by(reason.c.value)
        .order_by(func.count().desc(), reason.c.value)
    ).all()
    return [(str(code), int(n)) for code, n in rows]


@dataclass(frozen=True)
class FilePreview:
    """The first rows of an uploaded file and where each lead field would be read from."""

    headers: list[str]  # the file's column names (its first row when it has a header, else "column N")
    rows: list[list[str]]  # the first data rows
    columns: Columns | None  # None when the mapping cannot be resolved (see `error`)
    error: str = ""

    def source_of(self, field_name: str) -> int | None:
        return self.columns.fields.get(field_name) if self.columns else None


PREVIEW_ROWS = 5


def preview_file(
    path: Path, mapping: dict[str, str | int] | None = None, has_header: bool | None = None
) -> FilePreview:
    """What an import of this file would read, by the importer's own column rules (`resolve_columns`)."""
    rows: list[list[str]] = []
    for _, cells in LeadFile(path).rows():
        rows.append(cells)
        if len(rows) > PREVIEW_ROWS:
            break
    if not rows:
        raise ValidationError("the file has no rows", field="file")
    width = max(len(r) for r in rows)
    try:
        columns: Columns | None = resolve_columns(rows[0], mapping, has_header=has_header)
        error = ""
    except ValidationError as exc:
        columns, error = None, str(exc)
    header_row = columns.has_header if columns else bool(has_header)
    headers = (
        [rows[0][i] if i < len(rows[0]) and rows[0][i] else f"column {i + 1}" for i in range(width)]
        if header_row
        else [f"column {i + 1}" for i in range(width)]
    )
    data = rows[1:] if header_row else rows[:PREVIEW_ROWS]
    return FilePreview(
        headers=headers, rows=[r + [""] * (width - len(r)) for r in data], columns=columns, error=error
    )
