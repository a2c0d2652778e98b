"""Call recording in the console, in a real browser: the campaign form sets the recording mode and the
safe-harbor callback number (a bad number is shown next to its field); a manager plays and downloads a
recording on the Recordings page (each access audited) and an agent is refused the page and the audio."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.models import Campaign
from core.db import ALL_ORGS
from core.models import AuditEntry
from core.runtime import Runtime
from tests.campaigns.test_recordings import _recorded_attempt
from tests.conftest import Tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot


def test_the_campaign_form_sets_recording_and_the_callback_number(
    page: Any, runtime: Runtime, tenant: Tenant
) -> None:
    log_in(page, tenant.users["manager"].email)
    page.goto("/console/campaigns/new")
    assert_every_control_is_labelled(page)
    name = f"Recorded {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Record calls").select_option("announced")
    page.get_by_label("Safe-harbor callback number").fill("+1 202 555")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#safe_harbor_callback_number-error")).to_contain_text("safe_harbor_callback_number")
    expect(page.get_by_label("Record calls")).to_have_value("announced")  # what was chosen is kept
    page.get_by_label("Safe-harbor callback number").fill("+1 202 555 0143")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("dl.settings")).to_contain_text("on, announced where required")
    expect(page.locator("dl.settings")).to_contain_text("+12025550143")
    with runtime.db.session(ALL_ORGS) as s:
        campaign = s.scalars(
            select(Campaign).where(Campaign.org_id == tenant.id, Campaign.name == name)
        ).one()
        assert (campaign.recording_mode, campaign.safe_harbor_callback_number) == (
            "announced",
            "+12025550143",
        )
    page.get_by_role("link", name=re.compile("Edit")).first.click()
    expect(page.get_by_label("Safe-harbor callback number")).to_have_value("+12025550143")
    expect(page.get_by_label("Record calls")).to_have_value("announced")


def test_a_manager_plays_and_downloads_a_recording_and_an_agent_is_refused(
    page: Any, runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    attempt_id, audio = _recorded_attempt(runtime, tenant, tmp_path)
    log_in(page, tenant.users["manager"].email)
    page.get_by_role("link", name="Recordings").click()
    row = page.locator(f'tr[data-attempt="{attempt_id}"]')
    expect(row).to_contain_text("1.0 s")
    expect(page.locator("body")).to_contain_text("Cal. Penal Code 632")
    duration = page.evaluate(
        """async (id) => {
            const a = document.querySelector(`tr[data-attempt="${id}"] audio`);
            a.preload = "auto"; a.load();
            await new Promise((ok, bad) => { a.onloadedmetadata = ok; a.onerror = () => bad(a.error.message); });
            return a.duration;
        }""",
        str(attempt_id),
    )
    assert abs(duration - 1.0) < 0.05  # the browser decoded the decrypted WAV
    screenshot(page, "recordings")
    with page.expect_download() as got:
        row.get_by_role("link", name="Download").click()
    assert Path(got.value.path()).read_bytes() == audio
    with runtime.db.session(ALL_ORGS) as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target == str(attempt_id)).order_by(AuditEntry.id)
        ).all()
    assert "recording.play" in actions and actions[-1] == "recording.download"

    page.context.clear_cookies()
    log_in(page, tenant.users["agent"].email)
    expect(page.get_by_role("link", name="Recordings")).to_have_count(0)
    assert page.goto("/console/recordings").status == 403
    assert page.goto(f"/console/recordings/{attempt_id}/audio.wav").status == 403
