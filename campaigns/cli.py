"""`clearline campaigns ...` and `clearline leads ...`: the common campaign operations, scriptable.

`leads import` runs the import in this process (same job row and code as the API's worker, so
`GET /api/jobs/{id}` shows it too), waits for it and prints the counts.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from campaigns.cdr import cdr_csv
from campaigns.export import export_csv
from campaigns.jobs import create_import_job, run_import_job
from campaigns.models import Campaign, CampaignStatus
from campaigns.scrubbing import rules_for_campaign
from campaigns.service import SETTABLE, create_campaign, get_campaign, list_campaigns, set_status
from core.accounts import find_org
from core.db import ALL_ORGS, Scope
from core.errors import NotFoundError, ValidationError
from core.jobs import get_job
from core.models import JobStatus
from core.runtime import Runtime, current_runtime
from dnc.scrub import scrub_file


def _runtime() -> Runtime:
    runtime = current_runtime()
    runtime.db.check_migrated()
    return runtime


def _campaign_org(runtime: Runtime, campaign_id: uuid.UUID) -> uuid.UUID:
    with runtime.db.session(ALL_ORGS) as s:
        org_id = s.scalar(select(Campaign.org_id).where(Campaign.id == campaign_id))
    if org_id is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return org_id


@click.group("campaigns")
def campaigns_group() -> None:
    """Create and run campaigns."""


@campaigns_group.command("create")
@click.option("--org", "org_ref", required=True, help="Organization id, slug or name.")
@click.option("--name", required=True)
@click.option("--caller-id", help="The caller ID (E.164) for every call.")
@click.option("--trunk", "trunk_profile", help="Trunk profile name (sip_profiles/).")
@click.option("--local-presence", is_flag=True, help="Pick the caller ID by the lead's area code.")
@click.option("--json", "as_json", is_flag=True)
def create_cmd(
    org_ref: str,
    name: str,
    caller_id: str | None,
    trunk_profile: str | None,
    local_presence: bool,
    as_json: bool,
) -> None:
    """Create a campaign (a draft) and print its id; `clearline campaigns start ID` starts it."""
    runtime = _runtime()
    settings: dict[str, object] = {}
    if caller_id:
        settings["caller_id"] = caller_id
    if trunk_profile:
        settings["trunk_profile"] = trunk_profile
    if local_presence:
        settings["caller_id_mode"] = "local_presence"
    with runtime.db.session(ALL_ORGS) as s:
        org = find_org(s, org_ref)
        if org is None:
            raise NotFoundError(f"no organization {org_ref!r}")
        org_id = org.id
    with runtime.db.session(Scope(org_id)) as s:
        campaign = create_campaign(s, org_id=org_id, name=name, settings=settings)
        out = {"id": str(campaign.id), "name": campaign.name, "status": campaign.status}
    click.echo(json.dumps(out) if as_json else out["id"])


def campaign_summary(campaign: Campaign) -> dict[str, object]:
    return {
        "id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        "dial_method": campaign.dial_method,
        "pacing_policy": campaign.pacing_policy,
        "trunk_profile": campaign.trunk_profile,
        "caller_id": campaign.caller_id,
    }


@campaigns_group.command("list")
@click.option("--org", "org_ref", required=True, help="Organization id, slug or name.")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(org_ref: str, as_json: bool) -> None:
    """The organization's campaigns: id, status, name."""
    runtime = _runtime()
    with runtime.db.session(ALL_ORGS) as s:
        org = find_org(s, org_ref)
        if org is None:
            raise NotFoundError(f"no organization {org_ref}")
        org_id = org.id
    with runtime.db.session(Scope(org_id)) as s:
        rows = [campaign_summary(c) for c in list_campaigns(s)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {str(row['status']).ljust(8)}  {row['name']}")


@campaigns_group.command("show")
@click.argument("campaign_id", type=click.UUID)
def show_cmd(campaign_id: uuid.UUID) -> None:
    """One campaign's status and settings, as JSON."""
    runtime = _runtime()
    org_id = _campaign_org(runtime, campaign_id)
    with runtime.db.session(Scope(org_id)) as s:
        campaign = get_campaign(s, campaign_id)
        out = campaign_summary(campaign)
        out["settings"] = {name: str(getattr(campaign, name)) for name in SETTABLE}
    click.echo(json.dumps(out, indent=2))


def _set_status_cmd(campaign_id: uuid.UUID, status: CampaignStatus) -> None:
    runtime = _runtime()
    org_id = _campaign_org(runtime, campaign_id)
    with runtime.db.session(Scope(org_id)) as s:
        campaign = get_campaign(s, campaign_id)
        set_status(campaign, status)
    click.echo(f"campaign {campaign_id} is {status.value}")


@campaigns_group.command("pause")
@click.argument("campaign_id", type=click.UUID)
def pause_cmd(campaign_id: uuid.UUID) -> None:
    """Stop dialing (calls in progress finish); start resumes."""
    _set_status_cmd(campaign_id, CampaignStatus.PAUSED)


@campaigns_group.command("finish")
@click.argument("campaign_id", type=click.UUID)
def finish_cmd(campaign_id: uuid.UUID) -> None:
    """End the campaign for good (its call records are kept)."""
    _set_status_cmd(campaign_id, CampaignStatus.FINISHED)


@click.group("leads")
def leads_group() -> None:
    """Import and export leads."""


@leads_group.command("import")
@click.option("--campaign", "campaign_id", type=click.UUID, required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", "list_name", help="List name (default: the file name).")
@click.option("--mapping", help='Column mapping as JSON, e.g. \'{"phone": "Cell Phone"}\'.')
@click.option("--no-header", is_flag=True, help="The first row is data, not column names.")
@click.option("--dedupe", "dedupe_scope", type=click.Choice(["none", "list", "campaign", "organization"]))
@click.option("--allow-same-file", is_flag=True, help="Import even if this exact file was imported before.")
@click.option("--priority", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def import_cmd(
    campaign_id: uuid.UUID,
    file: Path,
    list_name: str | None,
    mapping: str | None,
    no_header: bool,
    dedupe_scope: str | None,
    allow_same_file: bool,
    priority: int,
    as_json: bool,
) -> None:
    """Import a CSV or XLSX file into a new lead list of a campaign; print the counts."""
    runtime = _runtime()
    org_id = _campaign_org(runtime, campaign_id)
    try:
        parsed_mapping = json.loads(mapping) if mapping else None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--mapping is not JSON ({exc.msg})", field="mapping") from exc
    job_id, list_id = create_import_job(
        runtime,
        org_id=org_id,
        campaign_id=campaign_id,
        path=file.resolve(),
        file_name=file.name,
        list_name=list_name,
        mapping=parsed_mapping,
        has_header=False if no_header else None,
        dedupe_scope=dedupe_scope,
        allow_same_file=allow_same_file,
        priority=priority,
        delete_file_after=False,
    )
    run_import_job(runtime, job_id)
    job = get_job(runtime.db, Scope(org_id), job_id)
    assert job is not None
    counts = {k: job.counts.get(k, 0) for k in ("total", "imported", "duplicates", "invalid", "blocked")}
    ok = job.status is JobStatus.SUCCEEDED
    out = {"job_id": str(job_id), "list_id": str(list_id) if ok else None, "status": job.status.value}
    out.update(counts)
    if job.error:
        out["error"] = job.error
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in out.items() if k not in ("job_id", "error")))
        if job.error:
            click.echo(f"error: {job.error}", err=True)
    if not ok:
        sys.exit(1)


@leads_group.command("export")
@click.option("--campaign", "campaign_id", type=click.UUID, required=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_cmd(campaign_id: uuid.UUID, out_path: Path) -> None:
    """Write a campaign's leads to a CSV file (formula-looking cells neutralised)."""
    runtime = _runtime()
    org_id = _campaign_org(runtime, campaign_id)
    with open(out_path, "w", encoding="utf-8", newline="") as fh:
        for chunk in export_csv(runtime.db, Scope(org_id), campaign_id):
            fh.write(chunk)
    click.echo(f"wrote {out_path}")


def _iso_time(text: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{name} {text!r} is not an ISO 8601 time", field=name) from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@click.command("scrub")
@click.argument("leads", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_ref", required=True)
@click.option(
    "--campaign", "campaign_id", type=click.UUID, help="Apply this campaign's window and geo rules."
)
@click.option("--at", "at_text", help="Check as of this ISO time (default: now).")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), required=True)
def scrub_cmd(
    leads: Path, org_ref: str, campaign_id: uuid.UUID | None, at_text: str | None, report: Path
) -> None:
    """Check every number of LEADS.csv and write one report row per number."""
    runtime = _runtime()
    with runtime.db.session(ALL_ORGS) as s:
        org = find_org(s, org_ref)
        if org is None:
            raise NotFoundError(f"no organization {org_ref!r}")
        org_id = org.id
    with runtime.db.session(Scope(org_id)) as s:
        rules = rules_for_campaign(s, campaign_id)
    at = _iso_time(at_text, "at") if at_text is not None else datetime.now(UTC)
    started = time.perf_counter()
    counts = scrub_file(runtime.db, org_id, leads, report, at=at, rules=rules)
    click.echo(
        json.dumps({**counts, "report": str(report), "seconds": round(time.perf_counter() - started, 2)})
    )


COMMANDS: list[click.Command] = [campaigns_group, leads_group, scrub_cmd]


@click.command("cdr")
@click.option("--org", "org_ref", required=True, help="Organization id, slug or name.")
@click.option("--since", "since_text", required=True, help="ISO time (UTC if no offset): first call placed.")
@click.option("--until", "until_text", required=True, help="ISO time: calls placed before it.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def cdr_cmd(org_ref: str, since_text: str, until_text: str, out: Path | None) -> None:
    """Export call-detail records (16 CFR 310.5(a)(2)) of calls placed in [SINCE, UNTIL) as CSV."""
    runtime = _runtime()
    with runtime.db.session(ALL_ORGS) as s:
        org = find_org(s, org_ref)
        if org is None:
            raise NotFoundError(f"no organization {org_ref!r}")
        org_id = org.id
    chunks = cdr_csv(runtime.db, org_id, _iso_time(since_text, "since"), _iso_time(until_text, "until"))
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
    click.echo(json.dumps({"cdr": str(out)}))


COMMANDS.append(cdr_cmd)
