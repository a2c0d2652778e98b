"""The agent desk in a real browser, over real SIP: in a preview campaign the next lead is pushed to the
screen with Dial and Skip (with a reason); a dial the dial-time check refuses shows its reason on the card;
a typed number the check refuses shows its reason next to the field; a dialed lead is connected to the
agent and its card becomes the current call."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.models import Campaign, Lead, PreviewSkip
from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from dialer.engine.sandbox import PROFILE_NAME
from dialer.simulators.carrier import CarrierBehaviour
from dnc.internal import add_internal_dnc
from tests.conftest import make_tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import make_campaign
from tests.engine.test_engine_calls import attempts_of, engine_config

# The carrier answers numbers whose next-to-last digit is 1 as a person.
SKIPPED, BECAME_DNC, DIALED, TYPED_DNC = "+12025558610", "+12025558612", "+12025558614", "+12025558616"


def _dnc(runtime: Runtime, org_id: uuid.UUID, e164: str) -> None:
    with runtime.db.session(Scope(org_id)) as s:
        add_internal_dnc(s, e164=e164, campaign_id=None, source="api", reason="test", added_by=None)


@pytest.mark.sip
def test_an_agent_previews_skips_and_dials_leads_and_sees_refusals_next_to_what_they_clicked(
    page: Any, runtime: Runtime, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime, f"Preview Desk {uuid.uuid4().hex[:4]}")
    provision_identity(runtime, tenant.id, certificates)
    agent = tenant.users["agent"]
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=[SKIPPED, BECAME_DNC, DIALED],
        settings={"trunk_profile": PROFILE_NAME, "dial_method": "preview", "wrap_up_s": 60},
    )
    with runtime.db.session(ALL_ORGS) as s:
        lead = s.scalars(
            select(Lead).where(Lead.campaign_id == campaign.id, Lead.phone_e164 == SKIPPED)
        ).one()
        lead.first_name, lead.last_name, lead.extra = "Ada", "Okafor", {"account": "P-77"}
    _dnc(runtime, tenant.id, TYPED_DNC)
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.2, 0.3), talk_s=(20.0, 20.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=None),
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])

    log_in(page, agent.email)
    page.get_by_label("Your phone's SIP address").fill(box.agent_uri(agent.id))
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#agent-state")).to_have_text("Ready", timeout=20_000)

    card = page.locator("#preview-card")
    expect(card).to_contain_text("Ada Okafor", timeout=10_000)  # pushed: the page does not poll
    expect(card).to_contain_text("+1 202-555-8610")
    expect(card).to_contain_text("P-77")
    assert attempts_of(runtime, campaign.id) == []  # nothing dialed without the agent's word
    assert_every_control_is_labelled(page)
    screenshot(page, "agent-preview")

    page.get_by_label("Skip because").select_option("not_now")
    page.get_by_label("Note").fill("asked to call after 5")
    page.get_by_role("button", name="Skip").click()
    expect(page.locator("#preview-phone")).to_have_text("+1 202-555-8612", timeout=10_000)
    with runtime.db.session(ALL_ORGS) as s:
        (skip,) = s.scalars(select(PreviewSkip).where(PreviewSkip.campaign_id == campaign.id))
        assert (skip.reason, skip.note) == ("not_now", "asked to call after 5")

    # On the internal DNC list after it was offered: the check at the agent's click refuses it.
    _dnc(runtime, tenant.id, BECAME_DNC)
    page.get_by_role("button", name="Dial +1 202-555-8612").click()
    expect(page.locator("#preview-error")).to_contain_text("internal DNC list")
    expect(page.locator("#agent-state")).to_have_text("Ready")

    # A typed number on the DNC list: refused, with the reason next to the field, the number kept.
    page.get_by_label("Dial a number").fill("202-555-8616")
    page.locator("#manual-dial-btn").click()
    expect(page.locator("#phone-error")).to_contain_text("internal_dnc")
    expect(page.get_by_label("Dial a number")).to_have_value("202-555-8616")
    expect(page.get_by_label("Dial a number")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "agent-dial-refused")

    expect(page.locator("#preview-phone")).to_have_text("+1 202-555-8614", timeout=10_000)
    page.get_by_role("button", name="Dial +1 202-555-8614").click()
    expect(page.locator("#agent-state")).to_have_text("On a call")
    current = page.locator("#lead-card.is-current")
    expect(current).to_contain_text("+1 202-555-8614")
    expect(page.locator("#preview-card")).to_have_count(0)
    (call,) = [a for a in attempts_of(runtime, campaign.id) if a.e164 == DIALED]
    with runtime.db.session(ALL_ORGS) as s:
        assert s.get(Campaign, campaign.id) is not None
    expect(page.get_by_role("button", name="Hang up")).to_be_visible()
    assert call.identity_header_present
    assert sorted(a.outcome for a in attempts_of(runtime, campaign.id) if a.e164 != DIALED) == [
        "blocked",
        "blocked",
    ]
