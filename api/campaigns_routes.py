"""HTTP routes of the campaigns package: campaigns, agents and dispositions, lead lists (streamed upload,
pause/resume, purge), lead search and export, callbacks, call attempts."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Router, delete, get, patch, post, put
from litestar.response import File, Stream
from litestar.types import ControllerRouterHandler
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from api.principal import Principal
from campaigns import attempts, service
from campaigns.export import export_csv
from campaigns.importer import same_file_list
from campaigns.jobs import create_import_job, create_purge_job, lead_files_dir
from campaigns.models import (
    CallAttempt,
    Campaign,
    CampaignAgent,
    CampaignStatus,
    Disposition,
    Lead,
    LeadList,
    LeadStatus,
    ListStatus,
)
from core.db import utcnow
from core.errors import ClearlineError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.models import Role
from core.runtime import Runtime

MANAGE = (Role.ORG_ADMIN, Role.MANAGER)
READ = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
LEAD_DATA = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE)
CALLING = (Role.ORG_ADMIN, Role.MANAGER, Role.AGENT)
MAX_FORM_FIELD = 64 * 1024


class UploadTooLargeError(ClearlineError):
    status_code = 413
    title = "Request body too large"


# ------------------------------------------------------------------------------------------ schemas


class CampaignSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every campaign setting; on create and update only the ones given are set."""

    dial_method: str | msgspec.UnsetType = msgspec.UNSET
    pacing_policy: str | msgspec.UnsetType = msgspec.UNSET
    pacing_settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    abandon_target: float | msgspec.UnsetType = msgspec.UNSET
    max_lines_per_agent: float | msgspec.UnsetType = msgspec.UNSET
    trunk_profile: str | msgspec.UnsetType = msgspec.UNSET
    max_cps: float | msgspec.UnsetType | None = msgspec.UNSET
    max_lines: int | msgspec.UnsetType | None = msgspec.UNSET
    caller_id_mode: str | msgspec.UnsetType = msgspec.UNSET
    caller_id: str | msgspec.UnsetType | None = msgspec.UNSET
    calling_window_start: str | msgspec.UnsetType | None = msgspec.UNSET
    calling_window_end: str | msgspec.UnsetType | None = msgspec.UNSET
    allowed_countries: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_states: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_area_codes: list[str] | msgspec.UnsetType = msgspec.UNSET
    default_region: str | msgspec.UnsetType = msgspec.UNSET
    dedupe_scope: str | msgspec.UnsetType = msgspec.UNSET
    recycle_rules: dict[str, dict[str, int]] | msgspec.UnsetType = msgspec.UNSET
    max_attempts: int | msgspec.UnsetType = msgspec.UNSET
    safe_harbor_wav: str | msgspec.UnsetType | None = msgspec.UNSET
    opt_out_key: str | msgspec.UnsetType = msgspec.UNSET

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}


class CampaignCreate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str
    org_id: uuid.UUID | None = None  # platform admins only


class CampaignUpdate(CampaignSettings, forbid_unknown_fields=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


class CampaignOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        settings = {name: getattr(c, name) for name in service.SETTABLE}
        for name in ("calling_window_start", "calling_window_end"):
            value = settings[name]
            settings[name] = value.isoformat(timespec="minutes") if value else None
        return cls(
            id=c.id,
            org_id=c.org_id,
            name=c.name,
            status=c.status,
            settings=settings,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class AgentsIn(msgspec.Struct, forbid_unknown_fields=True):
    agent_ids: list[uuid.UUID]


class DispositionIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    label: str = ""
    human_answered: bool = True
    sale: bool = False
    dnc: bool = False
    callback: bool = False
    final: bool = False


class DispositionOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    label: str
    human_answered: bool
    sale: bool
    dnc: bool
    callback: bool
    final: bool

    @classmethod
    def of(cls, d: Disposition) -> DispositionOut:
        return cls(
            id=d.id,
            code=d.code,
            label=d.label,
            human_answered=d.human_answered,
            sale=d.sale,
            dnc=d.dnc,
            callback=d.callback,
            final=d.final,
        )


class ImportAccepted(msgspec.Struct):
    job_id: uuid.UUID
    list_id: uuid.UUID
    job_url: str


class JobAccepted(msgspec.Struct):
    job_id: uuid.UUID
    job_url: str


class LeadListOut(msgspec.Struct):
    id: uuid.UUID
    campaign_id: uuid.UUID
    name: str
    status: str
    priority: int
    file_name: str
    file_sha256: str
    file_size: int
    column_mapping: dict[str, Any]
    counts: dict[str, Any]
    has_error_report: bool
    import_job_id: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, x: LeadList) -> LeadListOut:
        return cls(
            id=x.id,
            campaign_id=x.campaign_id,
            name=x.name,
            status=x.status,
            priority=x.priority,
            file_name=x.file_name,
            file_sha256=x.file_sha256,
            file_size=x.file_size,
            column_mapping=x.column_mapping,
            counts=x.counts,
            has_error_report=bool(x.error_report),
            import_job_id=x.import_job_id,
            created_at=x.created_at,
        )


class LeadOut(msgspec.Struct):
    id: int
    campaign_id: uuid.UUID
    list_id: uuid.UUID
    row_number: int
    phone_raw: str
    phone_e164: str
    first_name: str | None
    last_name: str | None
    state: str | None
    zip_code: str | None
    consent: str
    consent_at: date | None
    wireless: bool | None
    extra: dict[str, Any]
    status: str
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None
    callback_at: datetime | None
    callback_agent_id: uuid.UUID | None
    verdict: str
    verdict_reasons: list[str]

    @classmethod
    def of(cls, x: Lead) -> LeadOut:
        return cls(
            id=x.id,
            campaign_id=x.campaign_id,
            list_id=x.list_id,
            row_number=x.row_number,
            phone_raw=x.phone_raw,
            phone_e164=x.phone_e164,
            first_name=x.first_name,
            last_name=x.last_name,
            state=x.state,
            zip_code=x.zip_code,
            consent=x.consent,
            consent_at=x.consent_at,
            wireless=x.wireless,
            extra=x.extra,
            status=x.status,
            attempts=x.attempts,
            last_outcome=x.last_outcome,
            next_attempt_at=x.next_attempt_at,
            callback_at=x.callback_at,
            callback_agent_id=x.callback_agent_id,
            verdict=x.verdict,
            verdict_reasons=list(x.verdict_reasons),
        )


class CallbackIn(msgspec.Struct, forbid_unknown_fields=True):
    at: datetime
    same_agent: bool = False  # True: only the agent who scheduled it gets the callback


class DispositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    callback_at: datetime | None = None
    same_agent: bool = False


class AttemptOut(msgspec.Struct):
    id: uuid.UUID
    lead_id: int
    campaign_id: uuid.UUID
    e164: str
    trunk: str
    caller_id: str | None
    attestation: str | None
    attestation_reason: str | None
    origid: str | None
    identity_header_present: bool
    sip_call_id: str | None
    placed_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    agent_connected_at: datetime | None
    ended_at: datetime | None
    sip_status: int | None
    outcome: str
    agent_id: uuid.UUID | None
    disposition: str | None
    verdict_reasons: list[str]

    @classmethod
    def of(cls, a: CallAttempt) -> AttemptOut:
        return cls(
            id=a.id,
            lead_id=a.lead_id,
            campaign_id=a.campaign_id,
            e164=a.e164,
            trunk=a.trunk,
            caller_id=a.caller_id,
            attestation=a.attestation,
            attestation_reason=a.attestation_reason,
            origid=a.origid,
            identity_header_present=a.identity_header_present,
            sip_call_id=a.sip_call_id,
            placed_at=a.placed_at,
            ringing_at=a.ringing_at,
            answered_at=a.answered_at,
            agent_connected_at=a.agent_connected_at,
            ended_at=a.ended_at,
            sip_status=a.sip_status,
            outcome=a.outcome,
            agent_id=a.agent_id,
            disposition=a.disposition,
            verdict_reasons=list(a.verdict_reasons),
        )


# ------------------------------------------------------------------------------------------ lookups


def _campaign(session: Session, campaign_id: uuid.UUID) -> Campaign:
    campaign = session.scalars(select(Campaign).where(Campaign.id == campaign_id)).one_or_none()
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return campaign


def _list(session: Session, list_id: uuid.UUID) -> LeadList:
    lead_list = session.scalars(select(LeadList).where(LeadList.id == list_id)).one_or_none()
    if lead_list is None:
        raise NotFoundError(f"lead list {list_id} not found")
    return lead_list


def _lead(session: Session, lead_id: int) -> Lead:
    lead = session.scalars(select(Lead).where(Lead.id == lead_id)).one_or_none()
    if lead is None:
        raise NotFoundError(f"lead {lead_id} not found")
    return lead


def _attempt(session: Session, attempt_id: uuid.UUID) -> CallAttempt:
    attempt = session.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)).one_or_none()
    if attempt is None:
        raise NotFoundError(f"call attempt {attempt_id} not found")
    return attempt


# ------------------------------------------------------------------------------------------ campaigns


@post("/api/campaigns", opt=roles(*MANAGE), sync_to_thread=True, status_code=201)
def create_campaign(data: CampaignCreate, principal: Principal, session: Session) -> CampaignOut:
    org_id = principal.org_for_write(data.org_id)
    settings = data.given()
    settings.pop("name")
    settings.pop("org_id", None)
    return CampaignOut.of(service.create_campaign(session, org_id=org_id, name=data.name, settings=settings))


@get("/api/campaigns", opt=roles(*READ), sync_to_thread=True)
def list_campaigns(session: Session) -> list[CampaignOut]:
    return [CampaignOut.of(c) for c in session.scalars(select(Campaign).order_by(Campaign.name))]


@get("/api/campaigns/{campaign_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return CampaignOut.of(_campaign(session, campaign_id))


@patch("/api/campaigns/{campaign_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True)
def update_campaign(campaign_id: uuid.UUID, data: CampaignUpdate, session: Session) -> CampaignOut:
    campaign = _campaign(session, campaign_id)
    settings = data.given()
    name = settings.pop("name", None)
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise ValidationError("campaign name must be 1-200 characters", field="name")
        campaign.name = name
    service.apply_settings(campaign, settings)
    session.flush()
    return CampaignOut.of(campaign)


@delete("/api/campaigns/{campaign_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True, status_code=204)
def delete_campaign(campaign_id: uuid.UUID, session: Session) -> None:
    """Only a draft campaign that never placed a call can be deleted; any other is finished instead, so
    its call attempts (the compliance evidence) are kept."""
    campaign = _campaign(session, campaign_id)
    if campaign.status != CampaignStatus.DRAFT.value:
        raise ConflictError(f"campaign {campaign_id} is {campaign.status}; finish it instead of deleting it")
    if session.scalars(select(CallAttempt.id).where(CallAttempt.campaign_id == campaign_id).limit(1)).first():
        raise ConflictError(f"campaign {campaign_id} has call attempts; finish it instead of deleting it")
    session.execute(sql_delete(Lead).where(Lead.campaign_id == campaign_id))
    session.delete(campaign)


def _set_status(session: Session, campaign_id: uuid.UUID, status: CampaignStatus) -> CampaignOut:
    campaign = _campaign(session, campaign_id)
    service.set_status(campaign, status)
    session.flush()
    return CampaignOut.of(campaign)


@post("/api/campaigns/{campaign_id:uuid}/start", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def start_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.ACTIVE)


@post("/api/campaigns/{campaign_id:uuid}/pause", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def pause_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.PAUSED)


@post("/api/campaigns/{campaign_id:uuid}/finish", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def finish_campaign(campaign_id: uuid.UUID, session: Session) -> CampaignOut:
    return _set_status(session, campaign_id, CampaignStatus.FINISHED)


@get("/api/campaigns/{campaign_id:uuid}/agents", opt=roles(*READ), sync_to_thread=True)
def list_agents(campaign_id: uuid.UUID, session: Session) -> list[uuid.UUID]:
    _campaign(session, campaign_id)
    return list(
        session.scalars(select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign_id))
    )


@put("/api/campaigns/{campaign_id:uuid}/agents", opt=roles(*MANAGE), sync_to_thread=True)
def set_agents(campaign_id: uuid.UUID, data: AgentsIn, session: Session) -> list[uuid.UUID]:
    return service.assign_agents(session, _campaign(session, campaign_id), data.agent_ids)


@get("/api/campaigns/{campaign_id:uuid}/dispositions", opt=roles(*READ), sync_to_thread=True)
def list_dispositions(campaign_id: uuid.UUID, session: Session) -> list[DispositionOut]:
    _campaign(session, campaign_id)
    rows = session.scalars(
        select(Disposition).where(Disposition.campaign_id == campaign_id).order_by(Disposition.code)
    )
    return [DispositionOut.of(d) for d in rows]


@post(
    "/api/campaigns/{campaign_id:uuid}/dispositions", opt=roles(*MANAGE), sync_to_thread=True, status_code=201
)
def add_disposition(campaign_id: uuid.UUID, data: DispositionIn, session: Session) -> DispositionOut:
    spec = service.DispositionSpec(**msgspec.structs.asdict(data))
    return DispositionOut.of(service.add_disposition(session, _campaign(session, campaign_id), spec))


# ------------------------------------------------------------------------------------------ lead lists


def _form_options(fields: dict[str, str]) -> dict[str, Any]:
    """The upload's non-file form fields, checked, as create_import_job arguments."""
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
            if value not in ("true", "false", "1", "0", "yes", "no"):
                raise ValidationError(f"{name} must be true or false", field=name)
            options[name] = value in ("true", "1", "yes")
    if fields.get("dedupe_scope"):
        options["dedupe_scope"] = fields["dedupe_scope"]
    if fields.get("priority"):
        try:
            options["priority"] = int(fields["priority"])
        except ValueError as exc:
            raise ValidationError("priority must be an integer", field="priority") from exc
    return options


async def _receive_upload(
    request: Request[Any, Any, Any], runtime: Runtime
) -> tuple[Path, str, str, dict[str, str]]:
    """Stream a multipart upload's `file` part to disk (size-limited, hashed on the way); returns the
    path, the client's file name, the SHA-256 and the other (small) form fields."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise ValidationError("send the file as multipart/form-data with a `file` part", field="file")
    limit = runtime.settings.max_upload_bytes
    target = lead_files_dir(runtime) / f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    fields: dict[str, str] = {}
    file_name, size, got_file = "", 0, False
    part: MultipartSegment | None = None
    buffer = bytearray()
    try:
        with (
            target.open("wb") as fh,
            PushMultipartParser(options["boundary"], max_segment_count=32) as parser,
        ):
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        part, buffer = event, bytearray()
                        if part.name == "file":
                            if got_file:
                                raise ValidationError("send exactly one `file` part", field="file")
                            got_file, file_name = True, Path(part.filename or "leads.csv").name
                    elif event is None:
                        if part is not None and part.name != "file":
                            fields[part.name] = buffer.decode("utf-8", "replace")
                        part = None
                    elif part is not None and part.name == "file":
                        size += len(event)
                        if size > limit:
                            raise UploadTooLargeError(
                                f"the file is larger than the {limit}-byte upload limit"
                            )
                        digest.update(event)
                        fh.write(event)
                    else:
                        buffer += event
                        if len(buffer) > MAX_FORM_FIELD:
                            raise ValidationError("form field too long", field=part.name if part else None)
        if not got_file or size == 0:
            raise ValidationError("the upload has no `file` part, or it is empty", field="file")
    except ParserError as exc:
        target.unlink(missing_ok=True)
        raise ValidationError(f"malformed multipart body ({exc})", field="file") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, file_name, digest.hexdigest(), fields


@post(
    "/api/campaigns/{campaign_id:uuid}/lead-lists",
    opt=roles(*MANAGE),
    status_code=202,
    request_max_body_size=None,  # this route streams to disk and enforces the upload limit itself
    description=(
        "Upload a CSV or XLSX lead file (multipart/form-data: `file`, optional `name`, `mapping` as JSON "
        '{"phone": "Cell"}, `has_header`, `dedupe_scope`, `allow_same_file`, `priority`). The import runs as '
        "a job: follow GET /api/jobs/{job_id}."
    ),
)
async def upload_lead_list(
    campaign_id: uuid.UUID, request: Request[Any, Any, Any], principal: Principal, runtime: Runtime
) -> ImportAccepted:
    def campaign_org() -> uuid.UUID:
        with runtime.db.session(principal.scope) as s:
            campaign = _campaign(s, campaign_id)
            if campaign.status == CampaignStatus.FINISHED.value:
                raise ConflictError("the campaign is finished; it takes no new leads")
            return campaign.org_id

    org_id = await anyio.to_thread.run_sync(campaign_org)
    path, file_name, sha256, fields = await _receive_upload(request, runtime)
    try:
        options = _form_options(fields)

        def queue() -> tuple[uuid.UUID, uuid.UUID]:
            if not options.get("allow_same_file"):
                with runtime.db.session(principal.scope) as s:
                    earlier = same_file_list(s, campaign_id, sha256)
                if earlier is not None:
                    raise ConflictError(
                        f"this file was already imported into the campaign as list {earlier}; "
                        "send allow_same_file=true to import it again"
                    )
            return create_import_job(
                runtime,
                org_id=org_id,
                campaign_id=campaign_id,
                path=path,
                file_name=file_name,
                created_by=principal.user_id,
                **options,
            )

        job_id, list_id = await anyio.to_thread.run_sync(queue)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    from campaigns.tasks import import_leads

    import_leads.send(str(job_id))
    return ImportAccepted(job_id=job_id, list_id=list_id, job_url=f"/api/jobs/{job_id}")


@get("/api/campaigns/{campaign_id:uuid}/lead-lists", opt=roles(*LEAD_DATA), sync_to_thread=True)
def list_lead_lists(campaign_id: uuid.UUID, session: Session) -> list[LeadListOut]:
    _campaign(session, campaign_id)
    rows = session.scalars(
        select(LeadList).where(LeadList.campaign_id == campaign_id).order_by(LeadList.created_at)
    )
    return [LeadListOut.of(x) for x in rows]


@get("/api/lead-lists/{list_id:uuid}", opt=roles(*LEAD_DATA), sync_to_thread=True)
def get_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return LeadListOut.of(_list(session, list_id))


def _set_list_status(session: Session, list_id: uuid.UUID, status: ListStatus) -> LeadListOut:
    lead_list = _list(session, list_id)
    if lead_list.status == ListStatus.DELETING.value:
        raise ConflictError(f"lead list {list_id} is being deleted")
    lead_list.status = status.value
    session.flush()
    return LeadListOut.of(lead_list)


@post("/api/lead-lists/{list_id:uuid}/pause", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def pause_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return _set_list_status(session, list_id, ListStatus.PAUSED)


@post("/api/lead-lists/{list_id:uuid}/resume", opt=roles(*MANAGE), sync_to_thread=True, status_code=200)
def resume_lead_list(list_id: uuid.UUID, session: Session) -> LeadListOut:
    return _set_list_status(session, list_id, ListStatus.ACTIVE)


@delete("/api/lead-lists/{list_id:uuid}", opt=roles(*MANAGE), sync_to_thread=True, status_code=202)
def delete_lead_list(
    list_id: uuid.UUID, principal: Principal, session: Session, runtime: Runtime
) -> JobAccepted:
    lead_list = _list(session, list_id)
    if lead_list.status == ListStatus.DELETING.value:
        raise ConflictError(f"lead list {list_id} is already being deleted")
    lead_list.status = ListStatus.DELETING.value
    session.commit()  # never leased again from here on, before the job starts
    job_id = create_purge_job(runtime, org_id=lead_list.org_id, list_id=list_id, created_by=principal.user_id)
    from campaigns.tasks import purge_lead_list

    purge_lead_list.send(str(job_id))
    return JobAccepted(job_id=job_id, job_url=f"/api/jobs/{job_id}")


@get("/api/lead-lists/{list_id:uuid}/errors", opt=roles(*LEAD_DATA), sync_to_thread=True)
def download_error_report(list_id: uuid.UUID, session: Session) -> File:
    lead_list = _list(session, list_id)
    if not lead_list.error_report or not Path(lead_list.error_report).exists():
        raise NotFoundError(f"lead list {list_id} has no rejected rows")
    return File(
        path=lead_list.error_report, filename=f"lead-list-{list_id}-errors.csv", media_type="text/csv"
    )


# ------------------------------------------------------------------------------------------ leads


@get("/api/campaigns/{campaign_id:uuid}/leads", opt=roles(*LEAD_DATA), sync_to_thread=True)
def search_leads(
    campaign_id: uuid.UUID,
    session: Session,
    status: str | None = None,
    list_id: uuid.UUID | None = None,
    phone: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[LeadOut]:
    """Leads of a campaign, by id; page with `after_id` = the last id seen."""
    _campaign(session, campaign_id)
    query = select(Lead).where(Lead.campaign_id == campaign_id, Lead.id > after_id)
    if status is not None:
        if status not in {s.value for s in LeadStatus}:
            raise ValidationError(f"unknown lead status {status!r}", field="status")
        query = query.where(Lead.status == status)
    if list_id is not None:
        query = query.where(Lead.list_id == list_id)
    if phone:
        query = query.where(Lead.phone_e164 == _e164_or_raw(phone))
    rows = session.scalars(query.order_by(Lead.id).limit(max(1, min(limit, 1000))))
    return [LeadOut.of(x) for x in rows]


def _e164_or_raw(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        return "+" + digits
    return "+1" + digits if len(digits) == 10 else "+" + digits


@get("/api/campaigns/{campaign_id:uuid}/leads/export", opt=roles(*LEAD_DATA), sync_to_thread=True)
def export_leads(campaign_id: uuid.UUID, principal: Principal, session: Session, runtime: Runtime) -> Stream:
    _campaign(session, campaign_id)
    return Stream(
        export_csv(runtime.db, principal.scope, campaign_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-leads.csv"'},
    )


@get("/api/leads/{lead_id:int}", opt=roles(*READ), sync_to_thread=True)
def get_lead(lead_id: int, session: Session) -> LeadOut:
    return LeadOut.of(_lead(session, lead_id))


@get("/api/leads/{lead_id:int}/attempts", opt=roles(*READ), sync_to_thread=True)
def lead_attempts(lead_id: int, session: Session) -> list[AttemptOut]:
    _lead(session, lead_id)
    rows = session.scalars(
        select(CallAttempt).where(CallAttempt.lead_id == lead_id).order_by(CallAttempt.placed_at)
    )
    return [AttemptOut.of(a) for a in rows]


@post("/api/leads/{lead_id:int}/callback", opt=roles(*CALLING), sync_to_thread=True, status_code=200)
def schedule_callback(lead_id: int, data: CallbackIn, principal: Principal, session: Session) -> LeadOut:
    lead = _lead(session, lead_id)
    agent_id = principal.user_id if data.same_agent else None
    attempts.schedule_callback(session, lead, callback_at=data.at, agent_id=agent_id, now=utcnow())
    session.flush()
    return LeadOut.of(lead)


@get("/api/campaigns/{campaign_id:uuid}/callbacks", opt=roles(*CALLING), sync_to_thread=True)
def list_callbacks(
    campaign_id: uuid.UUID, principal: Principal, session: Session, mine: bool = False
) -> list[LeadOut]:
    """Scheduled callbacks, soonest first; `mine=true`: those for the caller plus those for anyone."""
    _campaign(session, campaign_id)
    query = select(Lead).where(Lead.campaign_id == campaign_id, Lead.status == LeadStatus.CALLBACK.value)
    if mine:
        query = query.where((Lead.callback_agent_id == principal.user_id) | Lead.callback_agent_id.is_(None))
    return [LeadOut.of(x) for x in session.scalars(query.order_by(Lead.callback_at).limit(500))]


@get("/api/call-attempts/{attempt_id:uuid}", opt=roles(*READ), sync_to_thread=True)
def get_attempt(attempt_id: uuid.UUID, session: Session) -> AttemptOut:
    return AttemptOut.of(_attempt(session, attempt_id))


@post(
    "/api/call-attempts/{attempt_id:uuid}/disposition",
    opt=roles(*CALLING),
    sync_to_thread=True,
    status_code=200,
)
def dispose_attempt(
    attempt_id: uuid.UUID, data: DispositionRequest, principal: Principal, session: Session, runtime: Runtime
) -> LeadOut:
    attempt = _attempt(session, attempt_id)
    if principal.role is Role.AGENT and attempt.agent_id not in (None, principal.user_id):
        raise PermissionDeniedError("this call was handled by another agent")
    lead_id = attempt.lead_id
    session.commit()
    attempts.set_disposition(
        runtime.db,
        attempt_id,
        code=data.code,
        agent_id=principal.user_id,
        at=utcnow(),
        callback_at=data.callback_at,
        callback_same_agent=data.same_agent,
    )
    return LeadOut.of(_lead(session, lead_id))


ROUTES: list[ControllerRouterHandler] = [
    Router(
        "/",
        tags=["campaigns"],
        route_handlers=[
            create_campaign,
            list_campaigns,
            get_campaign,
            update_campaign,
            delete_campaign,
            start_campaign,
            pause_campaign,
            finish_campaign,
            list_agents,
            set_agents,
            list_dispositions,
            add_disposition,
            upload_lead_list,
            list_lead_lists,
            get_lead_list,
            pause_lead_list,
            resume_lead_list,
            delete_lead_list,
            download_error_report,
            search_leads,
            export_leads,
            get_lead,
            lead_attempts,
            schedule_callback,
            list_callbacks,
            get_attempt,
            dispose_attempt,
        ],
    )
]
