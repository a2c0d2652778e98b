"""Admin > Webhooks in a real Chromium: an org admin adds an endpoint (a refused target first), copies the
secret shown once, sees the delivery of an event to a real receiver and sends it again."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from playwright.sync_api import expect

from campaigns.models import CampaignStatus
from campaigns.service import create_campaign, set_status
from core.db import Scope
from core.runtime import Runtime
from tests.conftest import Tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.webhooks.receiver import running_receiver


@pytest.fixture
def webhook_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    import clearline.actors  # noqa: F401 - declares every actor on the broker
    from core.broker import broker

    w = dramatiq.Worker(broker, queues={"webhooks"}, worker_threads=1, worker_timeout=100)
    w.start()
    try:
        yield w
    finally:
        w.stop()


def test_an_org_admin_adds_a_webhook_sees_its_deliveries_and_redelivers(
    page: Any, runtime: Runtime, tenant: Tenant, webhook_worker: dramatiq.Worker
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, tenant.users["org_admin"].email)
    page.goto("/console/admin/webhooks")
    assert_every_control_is_labelled(page)
    form = page.locator("#add-webhook")
    form.get_by_label("URL").fill("http://10.1.2.3/hooks")
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#url-error")).to_contain_text("10.1.2.3, a private address")

    before = runtime.settings
    runtime.settings = dataclasses.replace(before, webhooks_allow_private=True)
    try:
        with running_receiver() as receiver:
            page.get_by_label("URL").fill(receiver.url)
            page.get_by_label("Lead list imported").uncheck()
            page.get_by_label("Description (optional)").fill("CRM sync")
            page.get_by_role("button", name="Add endpoint").click()
            expect(page.get_by_role("status")).to_contain_text("it is not shown again")
            secret = page.locator("#webhook-secret .mono").first.inner_text()
            assert secret.startswith("whsec_")
            with runtime.db.session(Scope(tenant.id)) as s:
                campaign = create_campaign(
                    s,
                    org_id=tenant.id,
                    name=f"hooks {uuid.uuid4().hex[:6]}",
                    settings={"caller_id": "+14155552798"},
                )
                set_status(campaign, CampaignStatus.PAUSED)
            receiver.wait_for(1)
            page.goto("/console/admin/webhooks")
            expect(page.locator("#webhook-secret")).to_have_count(0)  # shown once
            assert secret not in page.content()
            row = page.locator(".webhook-deliveries tr", has_text="campaign.state_changed")
            expect(row).to_contain_text("succeeded")
            expect(row).to_contain_text("200")
            screenshot(page, "admin-webhooks")
            row.get_by_role("button", name="Redeliver campaign.state_changed", exact=False).click()
            expect(page.get_by_role("status")).to_contain_text("being sent again")
            second = receiver.wait_for(2)
            assert second[0].body == second[1].body
    finally:
        runtime.settings = before
