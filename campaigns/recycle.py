"""Recycle rules: after a call ends, whether and when its lead may be called again. Pure arithmetic.

A campaign stores `{outcome: {"delay_s": int, "max_attempts": int}}`; outcomes it does not mention use
`DEFAULT_RULES`. `max_attempts` of a rule caps how many attempts *with that outcome* a lead may have; the
campaign's `max_attempts` caps the counted attempts of every outcome together. Failed calls (trunk or
network trouble) and calls not placed because of their verdict do not count: they do not burn the lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaigns.models import LeadStatus, Outcome
from core.errors import ValidationError


@dataclass(frozen=True)
class RecycleRule:
    delay_s: int
    max_attempts: int


DEFAULT_RULES: Mapping[str, RecycleRule] = {
    Outcome.NO_ANSWER: RecycleRule(delay_s=3600, max_attempts=6),
    Outcome.BUSY: RecycleRule(delay_s=900, max_attempts=6),
    Outcome.MACHINE: RecycleRule(delay_s=4 * 3600, max_attempts=4),
    Outcome.ABANDONED: RecycleRule(delay_s=3600, max_attempts=3),
    Outcome.FAILED: RecycleRule(delay_s=300, max_attempts=20),
    # Used when an agent gives a non-final disposition that asks for no callback.
    Outcome.HUMAN: RecycleRule(delay_s=24 * 3600, max_attempts=3),
}

RECYCLABLE = frozenset(DEFAULT_RULES)
FINAL_OUTCOMES = frozenset(o.value for o in Outcome) - {Outcome.IN_PROGRESS.value}


@dataclass(frozen=True)
class RecycleRules:
    per_outcome: Mapping[str, RecycleRule]
    max_attempts: int

    @classmethod
    def of(cls, configured: Mapping[str, Any], max_attempts: int) -> RecycleRules:
        """Campaign settings over the defaults; raises ValidationError naming the bad entry."""
        rules = dict(DEFAULT_RULES)
        for outcome, rule in configured.items():
            if outcome not in RECYCLABLE:
                raise ValidationError(
                    f"recycle rule for {outcome}: only the outcomes "
                    f"{', '.join(sorted(str(o) for o in RECYCLABLE))} are recycled",
                    field="recycle_rules",
                )
            try:
                delay_s, attempts = int(rule["delay_s"]), int(rule["max_attempts"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValidationError(
                    f"recycle rule for {outcome} needs integer delay_s and max_attempts "
                    '(like {"delay_s": 3600, "max_attempts": 3})',
                    field="recycle_rules",
                ) from exc
            if delay_s < 0 or attempts < 0:
                raise ValidationError(
                    f"recycle rule for {outcome}: delay_s and max_attempts must be >= 0",
                    field="recycle_rules",
                )
            rules[outcome] = RecycleRule(delay_s=delay_s, max_attempts=attempts)
        if max_attempts < 1:
            raise ValidationError("max_attempts must be at least 1", field="max_attempts")
        return cls(per_outcome=rules, max_attempts=max_attempts)


@dataclass(frozen=True)
class NextStep:
    status: LeadStatus
    next_attempt_at: datetime | None


def counts_as_attempt(outcome: str) -> bool:
    """Whether an outcome burns one of the lead's attempts."""
    return outcome not in (Outcome.FAILED, Outcome.BLOCKED, Outcome.IN_PROGRESS)


def after_outcome(
    rules: RecycleRules, *, outcome: str, attempts: int, outcome_count: int, now: datetime
) -> NextStep:
    """Where a lead goes after an attempt ended with `outcome`.

    `attempts` and `outcome_count` already include this attempt: the lead's counted attempts, and how many
    of its attempts ended with this outcome.
    """
    if outcome not in FINAL_OUTCOMES:
        raise ValueError(f"{outcome!r} is not a final outcome")
    if outcome == Outcome.BLOCKED:
        return NextStep(LeadStatus.BLOCKED, None)
    if outcome in (Outcome.HUMAN, Outcome.INVALID):
        return NextStep(LeadStatus.DONE, None)  # a human call's fate is its agent's disposition
    return recycle(rules, outcome=outcome, attempts=attempts, outcome_count=outcome_count, now=now)


def recycle(
    rules: RecycleRules, *, outcome: str, attempts: int, outcome_count: int, now: datetime
) -> NextStep:
    rule = rules.per_outcome.get(outcome)
    if rule is None or outcome_count >= rule.max_attempts:
        return NextStep(LeadStatus.DONE, None)
    if counts_as_attempt(outcome) and attempts >= rules.max_attempts:
        return NextStep(LeadStatus.DONE, None)
    return NextStep(LeadStatus.CALLABLE, now + timedelta(seconds=rule.delay_s))
