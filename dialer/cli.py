"""`clearline dialer`: run the dialer supervisor (line workers, active campaigns) until interrupted."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from campaigns.cli import campaigns_group
from core.processes import SingleInstance, spawn

log = logging.getLogger(__name__)


@click.command("dialer")
@click.option(
    "--pool", default="default", show_default=True, help="Line-worker pool name (one per supervisor)."
)
@click.option(
    "--supervisor-id",
    default=None,
    help="This supervisor's name among those sharing the database and Redis (default: host:pid).",
)
@click.option("--min-workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--max-workers", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--profiles-dir", type=click.Path(file_okay=False, path_type=Path), help="Trunk profiles directory."
)
@click.option(
    "--synthetic-clock",
    "synthetic_clock",
    default=None,
    hidden=True,  # `clearline demo --supervisors N` at night only: see SYNTHETIC_MARKER
    help="CAMPAIGN_ID=ISO-8601: that one campaign's dial-time verdict is taken at this instant.",
)
def dialer_command(
    pool: str,
    supervisor_id: str | None,
    min_workers: int,
    max_workers: int,
    profiles_dir: Path | None,
    synthetic_clock: str | None,
) -> None:
    """Run every active campaign: pace, check, sign and place calls, bridge answers to agents."""
    from attestation.certificate_store import load_trust_anchors
    from core.errors import ConfigurationError, ConflictError
    from core.runtime import current_runtime
    from dialer.engine.config import default_supervisor_id
    from dialer.engine.identity import platform_identity
    from dialer.engine.supervisor import Engine, EngineConfig

    if supervisor_id is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", supervisor_id):
        raise click.BadParameter(
            f"{supervisor_id!r}: 1-64 letters, digits, '_', '.', ':' or '-'", param_hint="--supervisor-id"
        )
    supervisor_id = supervisor_id or default_supervisor_id()
    runtime = current_runtime()
    runtime.db.check_migrated()
    compliance_clock = _synthetic_clock(synthetic_clock, runtime.settings.home)
    # One supervisor per id on this host: a second start under the same name would otherwise share its
    # line workers and command queues. Supervisors of different ids share the campaigns out.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{pool}-{supervisor_id}")
    lock = SingleInstance(
        runtime.settings.home / "run" / f"dialer-{name}.lock",
        f"a dialer supervisor {supervisor_id!r} of pool {pool!r}",
    )
    try:
        lock.acquire()
    except ConflictError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        anchors = load_trust_anchors(runtime.settings.home)
    except ConfigurationError as exc:
        click.echo(
            f"warning: {exc}; signing certificates are then not checked against an STI-CA root", err=True
        )
        anchors = None
    identity = platform_identity(
        runtime.db,
        secret_key=runtime.settings.secret_key,
        public_base_url=runtime.settings.public_base_url,
        trust_anchors=anchors,
    )
    config = EngineConfig(
        compliance_clock=compliance_clock,
        pool=pool,
        supervisor_id=supervisor_id,
        min_workers=min(min_workers, max_workers),
        max_workers=max_workers,
        profiles_dir=profiles_dir,
        worker_log_dir=runtime.settings.home / "logs" / "dialer",
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the dialer", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        engine = Engine(runtime, identity, config)
        click.echo(
            f"dialer supervisor {supervisor_id} running (pool {pool}, "
            f"{config.min_workers}-{max_workers} line workers)"
        )
        engine.run_until(stop)
        click.echo("dialer stopped")
    finally:
        lock.release()


# The file `clearline demo` writes into the fresh data directory it creates. A synthetic clock (a campaign's
# dial-time verdict taken at another instant than now) is honoured only there: on a real floor it would let a
# campaign dial outside calling hours.
SYNTHETIC_MARKER = "demo.synthetic"


def _synthetic_clock(value: str | None, home: Path) -> Callable[[uuid.UUID, datetime], datetime] | None:
    if value is None:
        return None
    if not (home / SYNTHETIC_MARKER).is_file():
        raise click.BadParameter(
            f"only on a data directory made by `clearline demo` (no {SYNTHETIC_MARKER} in {home})",
            param_hint="--synthetic-clock",
        )
    campaign, _, instant = value.partition("=")
    try:
        campaign_id, at = uuid.UUID(campaign), datetime.fromisoformat(instant)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: CAMPAIGN_ID=ISO-8601 instant ({exc})", param_hint="--synthetic-clock"
        ) from exc
    if at.tzinfo is None:
        raise click.BadParameter(
            f"{instant!r}: the instant needs its UTC offset", param_hint="--synthetic-clock"
        )

    def clock(cid: uuid.UUID, now: datetime) -> datetime:
        return at if cid == campaign_id else now

    return clock


@click.command("start")
@click.argument("campaign_id", type=click.UUID)
def start_campaign_command(campaign_id: uuid.UUID) -> None:
    """Start (or resume) a campaign, unless something makes dialing impossible: then say what and how to
    fix it. What still stops dialing but may change by itself is printed as a warning."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from campaigns.models import Campaign
    from core.db import ALL_ORGS, Scope
    from core.errors import NotFoundError
    from core.runtime import current_runtime
    from dialer.readiness import NotReadyError, start_campaign

    runtime = current_runtime()
    runtime.db.check_migrated()
    with runtime.db.session(ALL_ORGS) as s:
        org_id = s.scalar(select(Campaign.org_id).where(Campaign.id == campaign_id))
    if org_id is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    try:
        _, readiness = start_campaign(
            runtime.db, runtime.redis, campaign_id, Scope(org_id), datetime.now(UTC)
        )
    except NotReadyError as exc:
        click.echo(f"campaign {campaign_id} cannot start:", err=True)
        for blocker in exc.blockers:
            click.echo(f"  - {blocker.message}\n    fix: {blocker.fix}", err=True)
        sys.exit(2)
    click.echo(f"campaign {campaign_id} is active")
    for blocker in (*readiness.blockers, *readiness.warnings):
        if blocker.code != "campaign_not_active":
            click.echo(f"  warning: {blocker.message}\n    fix: {blocker.fix}")


def start_dialer_process() -> subprocess.Popen[bytes]:
    """The supervisor as a child process (for `clearline up`); it joins the parent's servers via the env."""
    return spawn([sys.executable, "-m", "dialer.cli"], env=os.environ.copy())


COMMANDS: list[click.Command] = [dialer_command]
# `clearline campaigns start` lives here: starting checks readiness, which only the dialer knows.
campaigns_group.add_command(start_campaign_command)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    dialer_command()
