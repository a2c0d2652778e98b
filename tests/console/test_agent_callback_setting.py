"""The campaign form's setting for callbacks an agent kept for themselves, in a real browser: a bad
window is shown next to its field and nothing is saved; a good one is saved and shown on the page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.console.conftest import log_in


def test_the_agent_callback_window_and_what_follows_it_are_set_from_the_campaign_form(
    page: Any, tenant: Tenant
) -> None:
    log_in(page, tenant.users["manager"].email)
    page.goto("/console/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Own callbacks")
    window = page.get_by_label("An agent's own callback waits for them (minutes)")
    expect(window).to_have_value("60")
    window.fill("0")
    page.get_by_label("Then", exact=True).select_option("give_to_anyone")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#agent_callback_window_min-error")).to_contain_text("agent_callback_window_min")
    expect(page.get_by_label("Then", exact=True)).to_have_value("give_to_anyone")  # what was chosen is kept
    page.get_by_label("An agent's own callback waits for them (minutes)").fill("45")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#agent-callbacks")).to_contain_text("45 min after their time")
    expect(page.locator("#agent-callbacks")).to_contain_text("given to any free agent")
