"""A campaign's AMD settings through the API: stored when valid, refused naming the field otherwise, and
what is refused leaves the stored settings as they were."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from litestar.testing import TestClient

from campaigns.models import Campaign
from core.db import ALL_ORGS
from core.runtime import Runtime
from dialer.media.amd import AmdSettings, campaign_amd
from tests.conftest import Tenant


def test_amd_settings_are_validated_stored_and_read_back(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    headers = tenant.headers("manager")
    body = {"name": f"AMD {time.monotonic_ns()}", "caller_id": "+12025550199"}
    made = client.post("/api/campaigns", json=body, headers=headers)
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["settings"]["amd_settings"] == {}  # off by default
    url = f"/api/campaigns/{campaign['id']}"
    wanted = {"enabled": True, "after_greeting_silence_ms": 900, "beep": False}
    ok = client.patch(url, json={"amd_settings": wanted}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["settings"]["amd_settings"] == wanted
    for bad, field, words in (
        ({"after_greeting_silence_ms": 50}, "amd_settings.after_greeting_silence_ms", "from 300 to 3000"),
        ({"greeting": 1500}, "amd_settings.greeting", "unknown field 'greeting'"),
        ({"enabled": "yes"}, "amd_settings.enabled", "must be true or false"),
        (
            {"max_initial_silence_ms": 9000},
            "amd_settings.max_initial_silence_ms",
            "less than total_analysis_ms",
        ),
    ):
        refused = client.patch(url, json={"amd_settings": bad}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
        assert words in refused.json()["detail"]
    not_object = client.patch(url, json={"amd_settings": [1]}, headers=headers)
    assert not_object.status_code == 400, not_object.text  # the body schema: an object of settings
    with runtime.db.session(ALL_ORGS) as s:
        stored = s.get(Campaign, uuid.UUID(campaign["id"]))
        assert stored is not None
        enabled, settings = campaign_amd(stored.amd_settings)
    assert enabled and settings == AmdSettings(after_greeting_silence_ms=900, beep=False)


def test_a_campaign_leaving_voicemail_needs_a_message_of_its_own_and_says_so(
    runtime: Runtime, tenant: Tenant
) -> None:
    from core.db import Scope
    from core.errors import ClearlineError
    from dialer.engine.campaign_runs import campaign_run
    from tests.engine.factories import make_campaign

    campaign = make_campaign(runtime, tenant.id, settings={"amd_settings": {"enabled": True}})
    run = campaign_run(runtime.db, campaign, agent_cursor="0", profiles_dir=None)
    assert run.amd_settings == dataclasses.asdict(AmdSettings()) and run.voicemail_wav == ""
    with runtime.db.session(Scope(tenant.id)) as s:
        row = s.get(Campaign, campaign.id)
        assert row is not None
        row.amd_settings = {"enabled": True, "voicemail_drop": True}
    with runtime.db.session(Scope(tenant.id)) as s:
        stored = s.get(Campaign, campaign.id)
        assert stored is not None
        with pytest.raises(
            ClearlineError, match=r"amd_settings\.voicemail_drop: the campaign has no message"
        ):
            campaign_run(runtime.db, stored, agent_cursor="0", profiles_dir=None)
        stored.safe_harbor_wav, stored.safe_harbor_sha256 = "/srv/message.wav", "cd" * 32
        leaving = campaign_run(runtime.db, stored, agent_cursor="0", profiles_dir=None)
    assert (leaving.voicemail_wav, leaving.voicemail_sha256) == ("/srv/message.wav", "cd" * 32)
