"""The agent's screen in a real browser. Without SIP: the start form and its refusals (the phone rules,
the URI rules) next to the field. On the sandbox floor with real SIP calls: an agent starts a session,
the lead card of each bridged call is pushed to the page (the delay from the engine's bridge to the DOM
measured and bounded), the agent disposes, corrects, schedules a callback, pauses with a reason, resumes
and logs out during a call; the attempt rows show what they did."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from campaigns.models import CallAttempt, Campaign, Lead
from core.db import ALL_ORGS, Scope
from core.runtime import Runtime
from dialer.engine.sandbox import PROFILE_NAME
from dialer.engine.supervisor import Engine
from dialer.simulators.carrier import CarrierBehaviour
from dialer.sip import protocol as p
from tests.conftest import Tenant, make_tenant
from tests.console.conftest import assert_every_control_is_labelled, log_in, screenshot
from tests.engine.conftest import MakeSandbox, TestCertificates, provision_identity
from tests.engine.factories import allow_agent_phones, make_campaign
from tests.engine.test_agent_first_hour import engine  # noqa: F401 - an engine with no line workers
from tests.engine.test_engine_calls import engine_config, seed_answered_history

BRIDGE_TO_CARD_MS = 500  # issue #10: the lead card appears within 500 ms of the bridge


def test_the_start_form_shows_the_phone_rules_and_uri_rules_next_to_the_field(
    page: Any, tenant: Tenant
) -> None:
    campaign = make_campaign(tenant.runtime, tenant.id, agent_ids=[tenant.users["agent"].id])
    log_in(page, tenant.users["agent"].email)
    expect(page).to_have_url(re.compile(r"/console/agent$"))  # the agent's home
    expect(page.locator("#agent-state")).to_have_text("Logged out")
    expect(page.locator(".start-card")).to_contain_text(campaign.name)
    assert_every_control_is_labelled(page)

    field = page.get_by_label("Your phone's SIP address")
    field.fill("not a phone")
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#sip_uri-error")).to_contain_text("must not contain spaces")
    expect(field).to_have_attribute("aria-invalid", "true")

    # No agent-phone rule allows this phone: refused by the rules, nothing is called.
    page.get_by_label("Your phone's SIP address").fill("sip:1001@pbx.example.com")
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#sip_uri-error")).to_contain_text("sip_uri refused")
    expect(page.get_by_label("Your phone's SIP address")).to_have_value("sip:1001@pbx.example.com")
    expect(page.locator("#agent-state")).to_have_text("Logged out")
    screenshot(page, "agent-start")


def test_an_agent_with_no_active_campaign_is_told_so(page: Any, tenant: Tenant) -> None:
    make_campaign(tenant.runtime, tenant.id, agent_ids=[tenant.users["agent"].id], active=False)
    log_in(page, tenant.users["agent"].email)
    expect(page.locator(".start-card")).to_contain_text("not assigned to an active campaign")
    expect(page.get_by_role("button", name="Start session")).to_have_count(0)


def test_a_phone_that_cannot_be_reached_is_pushed_to_the_screen_with_the_reason(
    page: Any,
    tenant: Tenant,
    engine: Engine,  # noqa: F811 - the fixture imported above
) -> None:
    agent = tenant.users["agent"]
    allow_agent_phones(tenant.runtime, tenant.id)
    make_campaign(tenant.runtime, tenant.id, agent_ids=[agent.id])
    log_in(page, agent.email)
    expect(page.locator("#desk-link")).to_contain_text("live")
    page.get_by_label("Your phone's SIP address").fill("sip:gone@127.0.0.1:5999")
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#agent-state")).to_have_text("Calling your phone")
    # What the engine does when the INVITE to the phone times out (its handler, with no SIP under it).
    engine.legs.on_leg_down(
        p.AgentLegDown(
            worker_id="w-x", at=time.time(), agent_id=str(agent.id), sip_status=408, reason="Request Timeout"
        )
    )
    assert engine.recorder.flush()
    expect(page.locator("#agent-state")).to_have_text("Logged out")
    expect(page.locator("#session-ended")).to_contain_text("the phone did not answer in time (408)")
    expect(page.get_by_label("Your phone's SIP address")).to_have_value("sip:gone@127.0.0.1:5999")  # to retry


def _add_lead(runtime: Runtime, campaign: Campaign, e164: str) -> None:
    with runtime.db.session(Scope(campaign.org_id)) as s:
        list_id = s.scalars(select(Lead.list_id).where(Lead.campaign_id == campaign.id)).first()
        s.add(
            Lead(
                org_id=campaign.org_id,
                campaign_id=campaign.id,
                list_id=list_id,
                row_number=3,
                phone_raw=e164,
                phone_e164=e164,
            )
        )


def _attempt(runtime: Runtime, attempt_id: str) -> CallAttempt:
    with runtime.db.session(ALL_ORGS) as s:
        row = s.get(CallAttempt, uuid.UUID(attempt_id))
        assert row is not None
        s.expunge(row)
        return row


def _wait_for(condition: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def _bridge_to_card_ms(page: Any, runtime: Runtime, after: str = "") -> tuple[str, float]:
    """Wait for a call's lead card; return its attempt and the delay from the engine's bridge (the
    `agent_connected_at` it records, stamped when the worker reported the bridge) to the moment the card
    was put in the page's DOM (stamped by the page's script, `performance.timeOrigin + now()`). Both are
    wall-clock times of this machine."""
    card = page.locator(f'#lead-card.is-current[data-shown-ms]:not([data-attempt-id="{after}"])')
    expect(card).to_be_visible(timeout=40_000)
    attempt_id = card.get_attribute("data-attempt-id")
    shown_ms = float(card.get_attribute("data-shown-ms"))
    claimed_ms = float(page.locator("#state-timer").get_attribute("data-since-ms"))  # the engine's claim
    read_ms = float(page.locator("#desk").get_attribute("data-now-ms"))  # the server began reading the desk
    row = _wait_for(
        lambda: _attempt(runtime, attempt_id).agent_connected_at and _attempt(runtime, attempt_id),
        10,
        "the bridge",
    )
    bridged_ms = row.agent_connected_at.timestamp() * 1000
    print(
        f"\ncall {attempt_id[:8]}: engine claim -> bridge {bridged_ms - claimed_ms:.0f} ms; claim -> server reads "
        f"the desk {read_ms - claimed_ms:.0f} ms -> card in the DOM {shown_ms - read_ms:.0f} ms; "
        f"bridge -> card {shown_ms - bridged_ms:.0f} ms"
    )
    return attempt_id, shown_ms - bridged_ms


@pytest.mark.sip
def test_an_agent_takes_calls_in_the_browser_the_lead_card_is_pushed_within_500_ms_of_the_bridge(
    page: Any, runtime: Runtime, sandbox: MakeSandbox, certificates: TestCertificates
) -> None:
    tenant = make_tenant(runtime, f"Northwind Energy {uuid.uuid4().hex[:4]}")
    provision_identity(runtime, tenant.id, certificates)
    agent = tenant.users["agent"]
    first, second = "+12025552011", "+12025552111"  # the carrier answers both as a person
    campaign = make_campaign(
        runtime,
        tenant.id,
        agent_ids=[agent.id],
        numbers=[first],
        settings={
            "trunk_profile": PROFILE_NAME,
            "pacing_policy": "ratio",
            "pacing_settings": {"lines_per_agent": 1.0},
            "wrap_up_s": 120,
            "pause_codes": ["BREAK", "LUNCH", "COACHING"],
        },
    )
    seed_answered_history(runtime, campaign)
    with runtime.db.session(Scope(tenant.id)) as s:
        s.execute(update(Campaign).where(Campaign.id == campaign.id).values(name="Winter renewals"))
        leads = {x.phone_e164: x for x in s.scalars(select(Lead).where(Lead.campaign_id == campaign.id))}
        leads[first].first_name, leads[first].last_name = "Maria", "Alvarez"
        leads[first].state, leads[first].zip_code = "DC", "20001"
        leads[first].extra = {"account": "A-1042", "plan": "Gold"}
        # Held until the page shows Ready (released below): the engine dials a due lead the moment the
        # agent is ready, and on an idle machine the call is bridged within a second, so Ready came and
        # went between two of Playwright's polls (a fresh-clone run saw Calling your phone, On a call,
        # Wrap-up, and never Ready).
        leads[first].next_attempt_at = datetime.now(UTC) + timedelta(days=1)
        held_lead_id = leads[first].id
        s.add(  # an earlier call to the first lead, two days ago
            CallAttempt(
                org_id=tenant.id,
                lead_id=leads[first].id,
                campaign_id=campaign.id,
                e164=first,
                trunk="history",
                placed_at=datetime.now(UTC) - timedelta(days=2),
                ended_at=datetime.now(UTC) - timedelta(days=2),
                outcome="no_answer",
            )
        )
    box = sandbox(
        behaviour=CarrierBehaviour(ring_s=(0.3, 0.5), talk_s=(6.0, 7.0)),
        engine=engine_config(campaign.id, wrap_timeout_s=None),  # the campaign's 120 s wrap-up
    )
    box.start()
    box.register_phones(tenant.id, [agent.id])

    log_in(page, agent.email)
    expect(page.locator("#desk-link")).to_contain_text("live")
    page.get_by_label("Your phone's SIP address").fill(box.agent_uri(agent.id))
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#agent-state")).to_have_text("Ready", timeout=20_000)
    with runtime.db.session(Scope(tenant.id)) as s:
        s.execute(update(Lead).where(Lead.id == held_lead_id).values(next_attempt_at=None))

    # Call 1: the card is pushed at the bridge, with the lead's fields and its earlier call. Pushed, not
    # polled: while the agent waits, the page sends no request at all (its one event stream is open).
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    attempt_1, delay_1 = _bridge_to_card_ms(page, runtime)
    assert requests == [], requests
    card = page.locator("#lead-card")
    expect(page.locator("#agent-state")).to_have_text("On a call")
    expect(card).to_contain_text("Maria Alvarez")
    expect(card).to_contain_text("+1 202-555-2011")
    expect(card).to_contain_text("A-1042")
    expect(card.locator("#earlier-calls")).to_contain_text("No answer")
    expect(page.locator(".dispo-btn").first).to_be_disabled()  # the disposition comes when the call ends

    # A pause asked for during the call starts when its wrap-up ends.
    page.get_by_label("Pause reason").select_option("LUNCH")
    page.get_by_role("button", name="Pause after this call").click()
    expect(page.locator("#pause-pending")).to_contain_text("Lunch")

    expect(page.locator("#agent-state")).to_have_text("Wrap-up", timeout=20_000)
    expect(page.locator("#wrap-left")).not_to_have_text("\u2013")
    assert_every_control_is_labelled(page)
    screenshot(page, "agent")
    page.get_by_role("button", name="Sale").click()
    expect(page.locator("#agent-state")).to_have_text("Paused")
    expect(page.locator(".state-code")).to_have_text("LUNCH")
    assert _attempt(runtime, attempt_1).disposition == "SALE"

    # Within the wrap-up time the agent may correct it: the last call stays on the screen.
    expect(page.locator("#dispo-h")).to_have_text("Change the disposition")
    page.get_by_role("button", name="Not interested").click()
    expect(page.locator("#lead-disposition")).to_have_text("NI")
    row = _attempt(runtime, attempt_1)
    assert (row.disposition, row.disposition_source, row.disposed_by) == ("NI", "agent", agent.id)

    # Resume: call 2 comes in (its lead added now: the engine would dial a lead the moment call 1 ended,
    # while the only agent is still in wrap-up); the agent asks to log out during it, and disposes it as
    # a callback for them.
    _add_lead(runtime, campaign, second)
    page.get_by_role("button", name="Resume").click()
    attempt_2, delay_2 = _bridge_to_card_ms(page, runtime, after=attempt_1)
    assert attempt_2 != attempt_1
    expect(page.locator("#lead-card")).to_contain_text("+1 202-555-2111")
    page.get_by_role("button", name="End session after this call").click()
    expect(page.locator("#logout-pending")).to_contain_text("Your session ends after this call")
    expect(page.locator("#agent-state")).to_have_text("On a call")  # the customer is not cut off
    page.get_by_role("button", name="Hang up").click()  # the agent ends the call: the engine hangs up
    expect(page.locator("#agent-state")).to_have_text("Wrap-up", timeout=5_000)
    callback_local = (datetime.now() + timedelta(days=1)).replace(hour=15, minute=30, second=0, microsecond=0)
    page.get_by_label("Call back at (your time)").fill(callback_local.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Me", exact=True).check()
    page.get_by_role("button", name="Schedule callback").click()
    expect(page.locator("#agent-state")).to_have_text("Logged out")
    row = _attempt(runtime, attempt_2)
    assert (row.disposition, row.ended_by) == ("CALLBACK", "agent")
    with runtime.db.session(ALL_ORGS) as s:
        lead = s.get(Lead, row.lead_id)
        assert lead is not None and lead.status == "callback" and lead.callback_agent_id == agent.id
        expected = callback_local.astimezone(UTC)  # the browser and this test share the machine's zone
        assert lead.callback_at is not None and abs((lead.callback_at - expected).total_seconds()) < 60
        assert s.get(Campaign, campaign.id) is not None

    print(f"\nbridge -> lead card in the DOM: call 1 {delay_1:.0f} ms, call 2 {delay_2:.0f} ms")
    assert delay_1 <= BRIDGE_TO_CARD_MS and delay_2 <= BRIDGE_TO_CARD_MS, (delay_1, delay_2)


def test_a_disposition_for_a_call_the_agent_did_not_take_is_not_found_and_a_bad_time_is_named(
    app: Any, tenant: Tenant
) -> None:
    from litestar.testing import TestClient

    from api.console.sessions import SESSION_COOKIE
    from tests.console.conftest import console_session

    agent = tenant.users["agent"]
    with TestClient(app=app) as client:
        token, csrf = console_session(tenant.runtime, agent)
        client.cookies.set(SESSION_COOKIE, token)
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        someone_elses = str(uuid.uuid4())
        refused = client.post(
            "/console/agent/disposition", data={"attempt_id": someone_elses, "code": "SALE"}, headers=headers
        )
        assert refused.status_code == 404 and "was not connected to you" in refused.text
        bad_time = client.post(
            "/console/agent/disposition",
            data={"attempt_id": someone_elses, "code": "CALLBACK", "callback_at": "tomorrow at 3"},
            headers=headers,
        )
        assert (
            bad_time.status_code == 422 and "&#39;tomorrow at 3&#39; is not a date and time" in bad_time.text
        )
        no_csrf = client.post("/console/agent/pause", data={"code": "BREAK"}, headers={"HX-Request": "true"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text


def test_a_revocation_from_the_desk_keeps_the_agents_note(app: Any, tenant: Tenant) -> None:
    from litestar.testing import TestClient

    from api.console.sessions import SESSION_COOKIE
    from dnc.models import ConsentRecord
    from tests.console.conftest import console_session

    agent = tenant.users["agent"]
    campaign = make_campaign(tenant.runtime, tenant.id, agent_ids=[agent.id], numbers=["+12025553011"])
    now = datetime.now(UTC)
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        lead = s.scalars(select(Lead).where(Lead.campaign_id == campaign.id)).one()
        call = CallAttempt(  # a call this agent took, just ended
            org_id=tenant.id,
            lead_id=lead.id,
            campaign_id=campaign.id,
            e164=lead.phone_e164,
            agent_id=agent.id,
            answered_at=now,
            agent_connected_at=now,
            ended_at=now,
            outcome="human",
        )
        s.add(call)
        s.flush()
        attempt_id = call.id
    with TestClient(app=app) as client:
        token, csrf = console_session(tenant.runtime, agent)
        client.cookies.set(SESSION_COOKIE, token)
        done = client.post(
            "/console/agent/disposition",
            data={"attempt_id": str(attempt_id), "code": "REVOKED", "note": "asked us to stop calling"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert done.status_code == 200, done.text
    row = _attempt(tenant.runtime, str(attempt_id))
    assert (row.disposition, row.disposed_by) == ("REVOKED", agent.id)
    with tenant.runtime.db.session(Scope(tenant.id)) as s:
        record = s.scalars(select(ConsentRecord).where(ConsentRecord.e164 == "+12025553011")).one()
        assert (record.revoked_note, record.revoked_by, record.revoked_source) == (
            "asked us to stop calling",
            agent.id,
            "agent",
        )
