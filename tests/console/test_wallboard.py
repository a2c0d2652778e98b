"""The live wallboard on the sandbox floor: real SIP calls over loopback, the real engine writing its live
state to Redis, the console's one publisher pushing it to the browser by Server-Sent Events."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient
from playwright.sync_api import expect

from core.runtime import Runtime
from dialer.engine.sandbox import PROFILE_NAME
from dialer.simulators.carrier import CarrierBehaviour
from tests.conftest import make_tenant
from tests.console.conftest import log_in, screenshot
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import allow_agent_phones, make_campaign
from tests.engine.test_engine_calls import engine_config


@pytest.mark.sip
def test_a_manager_starts_a_campaign_and_watches_the_wallboard_counters_and_chart_move(
    page: Any, runtime: Runtime, client: TestClient, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime)
    provision_identity(runtime, tenant.id, certificates)  # signing certificate; no caller-ID inventory
    allow_agent_phones(runtime, tenant.id)
    agent = tenant.users["agent"]
    numbers = [f"+1202555{n:04d}" for n in (2011, 2021, 2031, 2111, 2121, 2211, 2311, 2411)]
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=numbers,
        settings={
            "trunk_profile": "loopback-sim",
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 2.0},
        },
        active=False,
    )
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.4), talk_s=(1.0, 2.0), machine_talk_s=(0.5, 1.0)),
        engine=engine_config(campaign.id),
    )
    # The console's start gate checks the shipped profile (sip_profiles/loopback-sim.toml); the sandbox's
    # engine reads its own profiles dir, where the same name points at the sandbox's carrier.
    sandbox_profiles = box.workdir / "profiles"
    (sandbox_profiles / "loopback-sim.toml").write_text(
        (sandbox_profiles / f"{PROFILE_NAME}.toml").read_text()
    )
    box.start()
    started = client.post(
        "/api/agents/me/session",
        json={"sip_uri": box.agent_uri(agent.id), "campaign_id": str(campaign.id)},
        headers=tenant.headers("agent"),
    )
    assert started.status_code in (201, 404), started.text  # 404: not active yet; retried below

    log_in(page, tenant.users["manager"].email)
    page.goto(f"/console/campaigns/{campaign.id}")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status-pill")).to_have_text("active")
    if started.status_code != 201:
        again = client.post(
            "/api/agents/me/session",
            json={"sip_uri": box.agent_uri(agent.id), "campaign_id": str(campaign.id)},
            headers=tenant.headers("agent"),
        )
        assert again.status_code == 201, again.text

    page.locator("#campaign-status").get_by_role("link", name="Wallboard").click()
    board = page.locator("#wallboard")
    expect(page.locator("#wb-link")).to_contain_text("live", timeout=10_000)
    expect(page.locator("#wb-agents")).to_contain_text(agent.email, timeout=20_000)
    expect(board.locator('[data-k="today.placed"]')).not_to_have_text("0", timeout=40_000)
    expect(board.locator('[data-k="today.answered"]')).not_to_have_text("0", timeout=40_000)
    expect(board).not_to_have_attribute("data-chart-placed", "0", timeout=20_000)
    assert int(board.get_attribute("data-updates") or 0) >= 2  # pushed, more than once
    expect(page.locator("#wb-engine")).to_contain_text("dialer running")
    screenshot(page, "wallboard")
    placed = int(re.sub(r"\D", "", board.locator('[data-k="today.placed"]').inner_text()))
    assert 1 <= placed <= len(numbers)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    row = page.locator("tbody tr", has_text=campaign.name)
    expect(row).to_contain_text("dialing")
    expect(row.locator("td").nth(3)).not_to_have_text("0")  # placed today
    screenshot(page, "campaigns")
