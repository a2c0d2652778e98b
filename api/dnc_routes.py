"""HTTP routes of the dnc package (lists, internal DNC, policy, checks, scrub reports) and the IP firewall
middleware that runs before authentication."""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Router, get, post, put
from litestar.params import Parameter
from litestar.response import File
from litestar.types import (
    ASGIApp,
    ControllerRouterHandler,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import roles
from api.client_ip import client_ip
from api.principal import Principal
from core.db import ALL_ORGS
from core.db import Scope as OrgScope
from core.errors import AuthenticationError, NotFoundError, PermissionDeniedError, ValidationError
from core.jobs import create_job
from core.models import AuditEntry, Role, User
from core.runtime import Runtime
from core.security import decode_token
from dnc import tasks
from dnc.engine import ComplianceEngine
from dnc.firewall import decide_ip, validate_cidrs
from dnc.internal import add_area_code_block, add_internal_dnc
from dnc.lists import IMPORT_KINDS, data_dir, list_versions
from dnc.models import CompliancePolicy, InternalDncEntry, ScrubReport
from dnc.normalize import normalize_number
from dnc.scrub import report_path
from dnc.verdicts import CampaignRules, LeadContext

ANY_ROLE = (Role.ORG_ADMIN, Role.MANAGER, Role.COMPLIANCE, Role.AGENT)
STAFF = (Role.ORG_ADMIN, Role.COMPLIANCE)
MAX_CHECK_BATCH = 1000


async def _save_upload(request: Request[Any, Any, Any], runtime: Runtime) -> Path:
    """Stream the request body to a file, refusing more than the configured upload size."""
    limit = runtime.settings.max_upload_bytes
    target = data_dir() / "incoming" / f"{uuid.uuid4().hex}.upload"
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with target.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ValidationError(f"upload larger than {limit} bytes", field="body")
                fh.write(chunk)
        if size == 0:
            raise ValidationError("the upload is empty: send the file as the request body", field="body")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


class ImportQueued(msgspec.Struct):
    job_id: uuid.UUID


@post(
    "/api/dnc/imports",
    opt=roles(*STAFF),
    status_code=202,
    request_max_body_size=None,
    tags=["dnc"],
    description="Upload a list file as the raw request body; the import runs as a job (GET /api/jobs/{id}).",
)
async def upload_list(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    kind: str,
    list_state: Annotated[str | None, Parameter(query="state")] = None,
    change_list: bool = False,
    campaign_id: uuid.UUID | None = None,
    obtained_at: datetime | None = None,
    filename: str = "upload.txt",
) -> ImportQueued:
    if kind not in IMPORT_KINDS:
        raise ValidationError(f"unknown list kind {kind!r}; one of {', '.join(IMPORT_KINDS)}", field="kind")
    org_id = _own_org(principal)  # platform-wide copies are imported with `clearline dnc import`
    path = await _save_upload(request, runtime)
    params = {
        "path": str(path),
        "kind": kind,
        "state": list_state,
        "change_list": change_list,
        "campaign_id": str(campaign_id) if campaign_id else None,
        "obtained_at": obtained_at.isoformat() if obtained_at else None,
        "org_id": str(org_id),
        "user_id": str(principal.user_id),
        "source_name": Path(filename).name[:200],
    }
    job_id = await anyio.to_thread.run_sync(
        lambda: create_job(
            runtime.db,
            principal.scope,
            kind=f"dnc.import.{kind}",
            params=params,
            created_by=principal.user_id,
        )
    )
    tasks.import_list_job.send(str(job_id), params)
    return ImportQueued(job_id=job_id)


class ListOut(msgspec.Struct):
    list_id: uuid.UUID
    kind: str
    scope: str
    platform_wide: bool
    version: int | None
    record_count: int | None
    obtained_at: datetime | None
    source_file: str | None


@get("/api/dnc/lists", opt=roles(*ANY_ROLE), sync_to_thread=True, tags=["dnc"])
def get_lists(principal: Principal, runtime: Runtime) -> list[ListOut]:
    return [
        ListOut(
            list_id=lst.id,
            kind=lst.kind,
            scope=lst.scope,
            platform_wide=lst.owner_org_id is None,
            version=v.seq if v else None,
            record_count=v.record_count if v else None,
            obtained_at=v.obtained_at if v else None,
            source_file=v.source_file if v else None,
        )
        for lst, v in list_versions(runtime.db, principal.org_id)
    ]


class InternalIn(msgspec.Struct, forbid_unknown_fields=True):
    e164: str
    reason: str = ""
    source: str = "api"
    campaign_id: uuid.UUID | None = None


class InternalOut(msgspec.Struct):
    id: int
    e164: str
    campaign_id: uuid.UUID | None
    source: str
    reason: str
    added_by: uuid.UUID | None
    added_at: datetime


def _own_org(principal: Principal) -> uuid.UUID:
    if principal.org_id is None:
        raise PermissionDeniedError(
            "internal DNC entries belong to an organization; use an organization account"
        )
    return principal.org_id


@post("/api/dnc/internal", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=201, tags=["dnc"])
def post_internal(data: InternalIn, principal: Principal, session: Session) -> dict[str, str]:
    _own_org(principal)
    add_internal_dnc(
        session,
        e164=data.e164,
        campaign_id=data.campaign_id,
        source=data.source,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added"}


@get("/api/dnc/internal", opt=roles(*STAFF), sync_to_thread=True, tags=["dnc"])
def get_internal(session: Session, e164: str | None = None, limit: int = 100) -> list[InternalOut]:
    query = select(InternalDncEntry).order_by(InternalDncEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if e164:
        query = query.where(InternalDncEntry.e164 == e164)
    return [
        InternalOut(
            id=e.id,
            e164=e.e164,
            campaign_id=e.campaign_id,
            source=e.source,
            reason=e.reason,
            added_by=e.added_by,
            added_at=e.added_at,
        )
        for e in session.scalars(query)
    ]


class AreaCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    area_code: str
    reason: str = ""
    campaign_id: uuid.UUID | None = None


@post("/api/dnc/area-code-blocks", opt=roles(*STAFF), sync_to_thread=True, status_code=201, tags=["dnc"])
def post_area_code_block(data: AreaCodeIn, principal: Principal, session: Session) -> dict[str, str]:
    _own_org(principal)
    add_area_code_block(
        session,
        area_code=data.area_code,
        campaign_id=data.campaign_id,
        reason=data.reason,
        added_by=principal.user_id,
    )
    return {"status": "added"}


class PolicyIO(msgspec.Struct, forbid_unknown_fields=True):
    allowed_countries: list[str] = msgspec.field(default_factory=lambda: ["US"])
    blocked_states: list[str] = msgspec.field(default_factory=list)
    blocked_area_codes: list[str] = msgspec.field(default_factory=list)
    ip_allow_cidrs: list[str] = msgspec.field(default_factory=list)
    ip_deny_cidrs: list[str] = msgspec.field(default_factory=list)
    ip_allowed_countries: list[str] = msgspec.field(default_factory=list)


def _policy_out(p: CompliancePolicy | None) -> PolicyIO:
    if p is None:
        return PolicyIO()
    return PolicyIO(
        allowed_countries=list(p.allowed_countries),
        blocked_states=list(p.blocked_states),
        blocked_area_codes=list(p.blocked_area_codes),
        ip_allow_cidrs=list(p.ip_allow_cidrs),
        ip_deny_cidrs=list(p.ip_deny_cidrs),
        ip_allowed_countries=list(p.ip_allowed_countries),
    )


@get("/api/dnc/policy", opt=roles(*STAFF), sync_to_thread=True, tags=["dnc"])
def get_policy(session: Session) -> PolicyIO:
    return _policy_out(session.scalars(select(CompliancePolicy)).one_or_none())


@put("/api/dnc/policy", opt=roles(Role.ORG_ADMIN), sync_to_thread=True, tags=["dnc"])
def put_policy(data: PolicyIO, principal: Principal, session: Session) -> PolicyIO:
    org_id = _own_org(principal)
    for i, code in enumerate(data.blocked_area_codes):
        if not (len(code) == 3 and code.isdigit()):
            raise ValidationError(f"{code!r} is not an area code", field=f"blocked_area_codes[{i}]")
    for field_name in ("allowed_countries", "blocked_states", "ip_allowed_countries"):
        for i, code in enumerate(getattr(data, field_name)):
            if not (len(code) == 2 and code.isalpha() and code.isupper()):
                raise ValidationError(
                    f"{code!r} is not a two-letter upper-case code", field=f"{field_name}[{i}]"
                )
    policy = session.scalars(select(CompliancePolicy)).one_or_none()
    if policy is None:
        policy = CompliancePolicy(org_id=org_id)
        session.add(policy)
    policy.allowed_countries = data.allowed_countries
    policy.blocked_states = data.blocked_states
    policy.blocked_area_codes = data.blocked_area_codes
    policy.ip_allow_cidrs = validate_cidrs(data.ip_allow_cidrs, "ip_allow_cidrs")
    policy.ip_deny_cidrs = validate_cidrs(data.ip_deny_cidrs, "ip_deny_cidrs")
    policy.ip_allowed_countries = data.ip_allowed_countries
    session.flush()
    _POLICY_CACHE.pop(org_id, None)
    return _policy_out(policy)


class CheckIn(msgspec.Struct, forbid_unknown_fields=True):
    numbers: list[str]
    at: datetime | None = None
    campaign_id: uuid.UUID | None = None


class VerdictOut(msgspec.Struct):
    e164: str
    verdict: str
    reasons: list[str]
    lists: list[str]
    time_zones: list[str]
    calling_window: str
    state_rule: str
    registry_version: str


@post("/api/dnc/check", opt=roles(*ANY_ROLE), sync_to_thread=True, status_code=200, tags=["dnc"])
def post_check(data: CheckIn, principal: Principal, runtime: Runtime) -> list[VerdictOut]:
    org_id = _own_org(principal)
    if len(data.numbers) > MAX_CHECK_BATCH:
        raise ValidationError(
            f"at most {MAX_CHECK_BATCH} numbers per check; use a scrub report", field="numbers"
        )
    at = data.at or datetime.now(UTC)
    engine = ComplianceEngine.load(runtime.db, org_id, CampaignRules(campaign_id=data.campaign_id))
    # Raw input is normalized first; what cannot be is passed through and comes back as invalid_number.
    numbers = [normalize_number(n).e164 or n for n in data.numbers]
    verdicts = engine.check(
        [LeadContext(e164=n) for n in numbers], at if at.tzinfo else at.replace(tzinfo=UTC)
    )
    return [
        VerdictOut(
            e164=v.e164,
            verdict=v.verdict,
            reasons=list(v.reasons),
            lists=[f"{m.kind}:{m.scope}:v{m.version}" for m in v.matches],
            time_zones=list(v.time_zones),
            calling_window=v.calling_window,
            state_rule=v.state_rule,
            registry_version=v.registry_version,
        )
        for v in verdicts
    ]


class ReportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    checked_at: datetime
    campaign_id: uuid.UUID | None
    counts: dict[str, Any]
    job_id: uuid.UUID | None
    csv_url: str


def _report_out(r: ScrubReport) -> ReportOut:
    return ReportOut(
        id=r.id,
        status=r.status,
        checked_at=r.checked_at,
        campaign_id=r.campaign_id,
        counts=r.counts,
        job_id=r.job_id,
        csv_url=f"/api/dnc/scrub-reports/{r.id}.csv",
    )


@post(
    "/api/dnc/scrub-reports",
    opt=roles(*STAFF, Role.MANAGER),
    status_code=202,
    request_max_body_size=None,
    tags=["dnc"],
    description="Upload a lead CSV as the raw request body; the scrub runs as a job.",
)
async def create_scrub_report(
    request: Request[Any, Any, Any],
    principal: Principal,
    runtime: Runtime,
    campaign_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> ReportOut:
    org_id = _own_org(principal)
    path = await _save_upload(request, runtime)
    checked_at = at or datetime.now(UTC)
    checked_at = checked_at if checked_at.tzinfo else checked_at.replace(tzinfo=UTC)

    def record() -> ReportOut:
        params = {"path": str(path), "org_id": str(org_id), "campaign_id": str(campaign_id) if campaign_id else None,
                  "at": checked_at.isoformat()}  # fmt: skip
        job_id = create_job(
            runtime.db, OrgScope(org_id), kind="dnc.scrub", params=params, created_by=principal.user_id
        )
        with runtime.db.session(OrgScope(org_id)) as s:
            report = ScrubReport(
                org_id=org_id,
                campaign_id=campaign_id,
                checked_at=checked_at,
                job_id=job_id,
                created_by=principal.user_id,
            )
            s.add(report)
            s.flush()
            out = _report_out(report)
        tasks.scrub_report_job.send(str(job_id), str(out.id), params)
        return out

    return await anyio.to_thread.run_sync(record)


def _report(session: Session, report_id: uuid.UUID) -> ScrubReport:
    report = session.scalars(select(ScrubReport).where(ScrubReport.id == report_id)).one_or_none()
    if report is None:
        raise NotFoundError(f"scrub report {report_id} not found")
    return report


@get(
    "/api/dnc/scrub-reports/{report_ref:str}",
    opt=roles(*STAFF, Role.MANAGER),
    sync_to_thread=True,
    tags=["dnc"],
)
def get_scrub_report(report_ref: str, session: Session, runtime: Runtime) -> ReportOut | File:
    """`{id}` gives the report's status; `{id}.csv` downloads the report itself."""
    as_csv = report_ref.endswith(".csv")
    try:
        report_id = uuid.UUID(report_ref.removesuffix(".csv"))
    except ValueError as exc:
        raise NotFoundError(f"scrub report {report_ref!r} not found") from exc
    report = _report(session, report_id)
    if not as_csv:
        return _report_out(report)
    path = report_path(runtime.settings.home, report.id)
    if report.status != "succeeded" or not path.exists():
        raise NotFoundError(f"scrub report {report_id} is {report.status}, not ready")
    return File(path=path, filename=f"scrub-{report.id}.csv", media_type="text/csv")


ROUTES: list[ControllerRouterHandler] = [
    Router(
        "/",
        route_handlers=[
            upload_list,
            get_lists,
            post_internal,
            get_internal,
            post_area_code_block,
            get_policy,
            put_policy,
            post_check,
            create_scrub_report,
            get_scrub_report,
        ],
    )
]


# ------------------------------------------------------------------------------------- IP firewall

POLICY_TTL_S = 2.0
_POLICY_CACHE: dict[uuid.UUID, tuple[float, PolicyIO]] = {}


def _org_policy(runtime: Runtime, org_id: uuid.UUID) -> PolicyIO:
    cached = _POLICY_CACHE.get(org_id)
    if cached is not None and time.monotonic() - cached[0] < POLICY_TTL_S:
        return cached[1]
    with runtime.db.session(OrgScope(org_id)) as s:
        policy = _policy_out(s.scalars(select(CompliancePolicy)).one_or_none())
    _POLICY_CACHE[org_id] = (time.monotonic(), policy)
    return policy


def _bearer_org(scope: Scope, runtime: Runtime) -> uuid.UUID | None:
    """The organization a request claims to act for, from a validly signed token (expiry aside: the
    authentication middleware that runs next decides about that)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() != "bearer":
                return None
            for expected in ("access", "refresh"):
                try:
                    return decode_token(
                        runtime.settings.secret_key, token.strip(), expected_kind=expected
                    ).org_id
                except AuthenticationError:
                    continue
    return None


LOGIN_PATH = "/api/auth/login"


async def _peek_login_email(receive: Receive, limit: int) -> tuple[str | None, Receive]:
    """The `email` of a login body, and a `receive` that replays the body to the application."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more and size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    email = None
    if not more:
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            email = data["email"].strip().lower()
    return email, replay


def _login_org(runtime: Runtime, email: str) -> uuid.UUID | None:
    with runtime.db.session(ALL_ORGS) as s:
        org_id: uuid.UUID | None = s.scalar(select(User.org_id).where(User.email == email))
        return org_id


class IPFirewallMiddleware:
    """Refuses requests from addresses the caller's organization does not allow, before authentication,
    and audits every refusal. The organization is the one of a validly signed token, or for a login the
    one of the account it names. X-Forwarded-For is believed only from CLEARLINE_TRUSTED_PROXIES."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        login_email = None
        if scope.get("method") == "POST" and scope["path"] == LOGIN_PATH:
            # The organization of a login is the one of the account it names: read (and replay) the body.
            login_email, receive = await _peek_login_email(receive, runtime.settings.max_request_body_bytes)
        blocked = await anyio.to_thread.run_sync(self._blocked, scope, runtime, login_email)
        if blocked is None:
            await self.app(scope, receive, send)
            return
        body = msgspec.json.encode(
            {
                "type": "https://clearline.dev/problems/403",
                "title": "Forbidden",
                "status": 403,
                "detail": "requests from this address are not allowed for this organization",
                "instance": scope["path"],
            }
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 403, "headers": headers}
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)

    @staticmethod
    def _blocked(scope: Scope, runtime: Runtime, login_email: str | None) -> str | None:
        org_id = _login_org(runtime, login_email) if login_email else _bearer_org(scope, runtime)
        if org_id is None:
            return None
        policy = _org_policy(runtime, org_id)
        ip = client_ip(scope, runtime.settings.trusted_proxies)
        decision = decide_ip(
            ip,
            allow_cidrs=policy.ip_allow_cidrs,
            deny_cidrs=policy.ip_deny_cidrs,
            allowed_countries=policy.ip_allowed_countries,
        )
        if decision.allowed:
            return None
        with runtime.db.session(ALL_ORGS) as s:
            s.add(
                AuditEntry(
                    org_id=org_id,
                    actor="",
                    action="ip_firewall.block",
                    target=scope["path"],
                    outcome="denied",
                    client_ip=ip if ip and _is_ip(ip) else None,
                    detail={"rule": decision.rule, "method": scope.get("method", "")},
                )
            )
        return decision.rule


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
