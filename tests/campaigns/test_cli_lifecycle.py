"""`clearline campaigns list|show|start|pause|finish`: start goes through the same readiness gate as the API."""

from __future__ import annotations

import json

from click.testing import CliRunner

from clearline.cli import main
from core.runtime import Runtime
from tests.conftest import make_tenant
from tests.dialable import make_dialable


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_campaign_is_listed_shown_started_paused_and_finished_from_the_shell(runtime: Runtime) -> None:
    tenant = make_tenant(runtime)
    code, out, _ = run(
        "campaigns", "create", "--org", tenant.org.slug, "--name", "Shell", "--caller-id", "+12025550199"
    )
    assert code == 0
    campaign_id = out.strip()
    code, out, _ = run("campaigns", "list", "--org", tenant.org.slug)
    assert code == 0 and campaign_id in out and "draft" in out
    code, _, err = run("campaigns", "start", campaign_id)
    assert code == 2 and "cannot start" in err and "certificate" in err and "fix:" in err
    make_dialable(runtime, tenant.id)
    code, out, _ = run("campaigns", "start", campaign_id)
    assert code == 0 and "is active" in out and "warning: no agent is assigned" in out
    shown = json.loads(run("campaigns", "show", campaign_id)[1])
    assert shown["status"] == "active" and shown["settings"]["trunk_profile"] == "default"
    assert run("campaigns", "pause", campaign_id)[:2] == (0, f"campaign {campaign_id} is paused\n")
    assert run("campaigns", "finish", campaign_id)[0] == 0
    assert json.loads(run("campaigns", "show", campaign_id)[1])["status"] == "finished"
