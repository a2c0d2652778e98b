"""`clearline dnc ...` (list imports, versions, internal DNC) and `clearline scrub` (scrub reports)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click

from core.accounts import find_org
from core.db import ALL_ORGS, Scope
from core.errors import NotFoundError, ValidationError
from core.runtime import Runtime, current_runtime
from dnc.internal import SOURCES, add_internal_dnc
from dnc.lists import IMPORT_KINDS, import_list_file, list_versions
from dnc.policy import read_policy, reset_policy


def _runtime() -> Runtime:
    runtime = current_runtime()
    runtime.db.check_migrated()
    return runtime


def _org_id(runtime: Runtime, ref: str | None) -> uuid.UUID | None:
    if ref is None:
        return None
    with runtime.db.session(ALL_ORGS) as s:
        org = find_org(s, ref)
        if org is None:
            raise NotFoundError(f"no organization {ref!r}")
        return org.id


def _when(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not an ISO 8601 time", field="at") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("dnc")
def dnc_group() -> None:
    """Do-Not-Call lists: import, inspect, add opt-outs."""


@dnc_group.command("import")
@click.option("--kind", type=click.Choice(IMPORT_KINDS), required=True)
@click.option("--state", help="Two-letter state, for --kind state.")
@click.option("--change-list", is_flag=True, help="The file is a change list (adds/deletes).")
@click.option("--org", "org_ref", help="Owning organization (id, slug or name); platform-wide when omitted.")
@click.option(
    "--campaign", "campaign_id", type=click.UUID, help="For --kind internal: campaign-only entries."
)
@click.option("--obtained-at", help="When the copy was downloaded (ISO time); defaults to now.")
@click.option(
    "--replace-smaller",
    is_flag=True,
    help="Accept a full copy with fewer than half the numbers of the current one.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cmd(
    kind: str,
    state: str | None,
    change_list: bool,
    org_ref: str | None,
    campaign_id: uuid.UUID | None,
    obtained_at: str | None,
    replace_smaller: bool,
    file: Path,
) -> None:
    """Import FILE as a new version of a list (or as internal DNC entries)."""
    runtime = _runtime()
    started = time.perf_counter()
    result = import_list_file(
        runtime.db,
        kind=kind,
        path=file,
        owner_org_id=_org_id(runtime, org_ref),
        state=state,
        change_list=change_list,
        obtained_at=_when(obtained_at) if obtained_at else None,
        campaign_id=campaign_id,
        replace_smaller=replace_smaller,
    )
    elapsed = time.perf_counter() - started
    click.echo(json.dumps({**result.as_dict(), "seconds": round(elapsed, 2)}))


@dnc_group.command("lists")
@click.option(
    "--org", "org_ref", help="Show the lists this organization sees (platform-wide only when omitted)."
)
def lists_cmd(org_ref: str | None) -> None:
    """Every list with its current version, record count and when the copy was obtained."""
    runtime = _runtime()
    for lst, version in list_versions(runtime.db, _org_id(runtime, org_ref)):
        owner = str(lst.owner_org_id) if lst.owner_org_id else "platform"
        if version is None:
            click.echo(f"{lst.kind:10} {lst.scope:4} {owner:36} (no version)")
            continue
        click.echo(
            f"{lst.kind:10} {lst.scope:4} {owner:36} v{version.seq} {version.record_count} numbers, "
            f"obtained {version.obtained_at:%Y-%m-%d %H:%M}Z from {version.source_file}"
        )


@dnc_group.command("add")
@click.option("--org", "org_ref", required=True)
@click.option("--campaign", "campaign_id", type=click.UUID)
@click.option("--reason", default="requested by phone")
@click.option("--source", type=click.Choice(SOURCES), default="compliance")
@click.argument("number")
def add_cmd(org_ref: str, campaign_id: uuid.UUID | None, reason: str, source: str, number: str) -> None:
    """Add NUMBER to the organization's (or a campaign's) internal DNC list, effective at once."""
    runtime = _runtime()
    org_id = _org_id(runtime, org_ref)
    assert org_id is not None
    with runtime.db.session(Scope(org_id)) as s:
        add_internal_dnc(s, e164=number, campaign_id=campaign_id, source=source, reason=reason, added_by=None)
    click.echo("added")


@dnc_group.group("policy")
def policy_group() -> None:
    """An organization's geo and IP firewall rules."""


@policy_group.command("show")
@click.option("--org", "org_ref", required=True)
def policy_show_cmd(org_ref: str) -> None:
    """Print the organization's policy as JSON."""
    runtime = _runtime()
    org_id = _org_id(runtime, org_ref)
    assert org_id is not None
    with runtime.db.session(Scope(org_id)) as s:
        click.echo(json.dumps(asdict(read_policy(s, org_id)), indent=2))


@policy_group.command("reset")
@click.option("--org", "org_ref", required=True)
def policy_reset_cmd(org_ref: str) -> None:
    """Reset the organization's policy to the default (no IP rules): recovers a locked-out organization."""
    runtime = _runtime()
    org_id = _org_id(runtime, org_ref)
    assert org_id is not None
    with runtime.db.session(Scope(org_id)) as s:
        reset_policy(s, org_id)
    click.echo(f"policy of organization {org_id} reset: no IP rules, allowed countries US")


COMMANDS: list[click.Command] = [dnc_group]  # `clearline scrub` lives in campaigns.cli (campaign rules)
