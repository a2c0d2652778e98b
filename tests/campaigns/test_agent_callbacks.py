"""The lease rule of callbacks an agent kept for themselves, on the real hopper (PostgreSQL), with the
clock passed in: leased only while their agent is READY on the campaign, and once the campaign's window
passed without them, kept waiting or given to anyone as the campaign says. Validation of the settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.hopper import lease_leads, release_leads
from campaigns.models import Campaign
from campaigns.service import apply_settings
from core.errors import ValidationError
from tests.campaigns.conftest import CampaignWorld

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
OWNER, OTHER = uuid.uuid4(), uuid.uuid4()
DUE = NOW - timedelta(minutes=1)


def _settings(world: CampaignWorld, **settings: object) -> None:
    with world.runtime.db.session(world.scope) as s:
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign is not None
        apply_settings(campaign, settings)


def _lease(world: CampaignWorld, at: datetime, ready: set[uuid.UUID]) -> list[tuple[str, uuid.UUID | None]]:
    leased = lease_leads(
        world.runtime.db, world.campaign_id, 5, at, holder="cb", lease_s=60, ready_agents=ready
    )
    release_leads(world.runtime.db, [lead.lead_id for lead in leased], holder="cb")
    return [(lead.e164, lead.for_agent) for lead in leased]


def test_an_agents_own_callback_is_leased_only_while_that_agent_is_ready(world: CampaignWorld) -> None:
    _settings(world, agent_callback_window_min=30, agent_callback_fallback="keep_waiting")
    world.add_list(["+12025559401"], status="callback", callback_at=DUE, callback_agent_id=OWNER)
    world.add_list(["+12025559402"], status="callback", callback_at=DUE)  # for anyone

    assert _lease(world, NOW, set()) == [("+12025559402", None)]
    assert _lease(world, NOW, {OTHER}) == [("+12025559402", None)]  # a free other agent does not get it
    assert _lease(world, NOW, {OTHER, OWNER}) == [("+12025559401", OWNER), ("+12025559402", None)]
    # Keep waiting: long past its window, still only for its agent.
    assert _lease(world, DUE + timedelta(days=2), {OTHER}) == [("+12025559402", None)]
    assert _lease(world, DUE + timedelta(days=2), {OWNER}) == [
        ("+12025559401", OWNER),
        ("+12025559402", None),
    ]
    # Not due yet: for no one, its agent READY or not.
    assert _lease(world, DUE - timedelta(seconds=1), {OWNER}) == []


def test_past_its_window_give_to_anyone_lets_any_agent_have_it(world: CampaignWorld) -> None:
    _settings(world, agent_callback_window_min=30, agent_callback_fallback="give_to_anyone")
    world.add_list(["+12025559411"], status="callback", callback_at=DUE, callback_agent_id=OWNER)
    window_end = DUE + timedelta(minutes=30)

    assert _lease(world, window_end - timedelta(seconds=1), {OTHER}) == []
    assert _lease(world, window_end, {OTHER}) == [("+12025559411", None)]  # any agent's now
    assert _lease(world, window_end, set()) == [("+12025559411", None)]
    assert _lease(world, window_end, {OWNER}) == [("+12025559411", OWNER)]  # still theirs if they are READY


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"agent_callback_fallback": "drop"}, "agent_callback_fallback", "keep_waiting, give_to_anyone"),
        ({"agent_callback_window_min": 0}, "agent_callback_window_min", "agent_callback_window_min"),
        ({"agent_callback_window_min": 1.5}, "agent_callback_window_min", "agent_callback_window_min"),
    ],
)
def test_the_settings_are_validated(
    world: CampaignWorld, settings: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as error:
        _settings(world, **settings)
    assert error.value.field == field and words in str(error.value)
