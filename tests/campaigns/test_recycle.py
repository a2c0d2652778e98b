"""Recycle arithmetic: when a lead may be called again after each outcome, and when it is done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaigns.models import LeadStatus
from campaigns.recycle import RecycleRules, after_outcome
from core.errors import ValidationError

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
RULES = RecycleRules.of({"busy": {"delay_s": 600, "max_attempts": 3}}, max_attempts=5)


def step(outcome: str, attempts: int, outcome_count: int) -> tuple[LeadStatus, datetime | None]:
    s = after_outcome(RULES, outcome=outcome, attempts=attempts, outcome_count=outcome_count, now=NOW)
    return s.status, s.next_attempt_at


def test_a_busy_lead_comes_back_after_the_configured_delay_until_its_busy_cap() -> None:
    assert step("busy", 1, 1) == (LeadStatus.CALLABLE, NOW + timedelta(seconds=600))
    assert step("busy", 2, 2) == (LeadStatus.CALLABLE, NOW + timedelta(seconds=600))
    assert step("busy", 3, 3) == (LeadStatus.DONE, None)


def test_outcomes_the_campaign_does_not_configure_use_the_defaults() -> None:
    assert step("no_answer", 1, 1) == (LeadStatus.CALLABLE, NOW + timedelta(hours=1))
    assert step("machine", 2, 1) == (LeadStatus.CALLABLE, NOW + timedelta(hours=4))
    assert step("machine", 2, 4) == (LeadStatus.DONE, None)


def test_the_campaign_wide_attempt_cap_ends_a_lead_whatever_the_outcome() -> None:
    assert step("no_answer", 4, 1) == (LeadStatus.CALLABLE, NOW + timedelta(hours=1))
    assert step("no_answer", 5, 1) == (LeadStatus.DONE, None)


def test_failed_calls_do_not_burn_the_lead_but_are_capped_on_their_own() -> None:
    assert step("failed", 5, 1) == (LeadStatus.CALLABLE, NOW + timedelta(minutes=5))
    assert step("failed", 0, 20) == (LeadStatus.DONE, None)


def test_human_invalid_and_blocked_outcomes_are_not_recycled() -> None:
    assert step("human", 1, 1) == (LeadStatus.DONE, None)
    assert step("invalid", 1, 1) == (LeadStatus.DONE, None)
    assert step("blocked", 0, 1) == (LeadStatus.BLOCKED, None)
    with pytest.raises(ValueError, match="not a final outcome"):
        step("in_progress", 0, 0)


@pytest.mark.parametrize(
    "rules",
    [
        {"human_sale": {"delay_s": 1, "max_attempts": 1}},
        {"busy": {"delay_s": -1, "max_attempts": 1}},
        {"busy": {"delay_s": "soon", "max_attempts": 1}},
        {"busy": {"max_attempts": 1}},
    ],
)
def test_bad_recycle_rules_are_rejected_naming_the_outcome(rules: dict[str, dict[str, object]]) -> None:
    with pytest.raises(ValidationError, match=next(iter(rules))):
        RecycleRules.of(rules, max_attempts=3)
