"""Pacing: how many calls to place now. One interface (`PacingPolicy`), several policies, one factory.

Usage (engine or simulator):

    policy = make_policy("predictive", abandon_target=0.025, max_lines=60, max_cps=5, budget=budget)
    policy.observe(AgentReady(agent_id), now)          # for every agent/call event, as it happens
    for _ in range(policy.calls_to_place(now)):        # on each tick (about once a second) and on events
        place_a_call()                                  # ... then report CallPlaced(call_id)

`now` is seconds on any monotonic clock. See `dialer.pacing.events` for the events and line accounting.
"""

from __future__ import annotations

import inspect
from typing import Any

from dialer.pacing.baselines import PreviewPolicy, ProgressivePolicy, RatioPolicy
from dialer.pacing.budget import AbandonBudget
from dialer.pacing.events import (
    AgentBusy,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    AgentWrap,
    CallAbandoned,
    CallAnsweredHuman,
    CallAnsweredMachine,
    CallBusy,
    CallConnected,
    CallEnded,
    CallFailed,
    CallNoAnswer,
    CallPlaced,
    CallRinging,
    PacingEvent,
    PreviewDialRequested,
)
from dialer.pacing.policy import PacingLimits, PacingPolicy
from dialer.pacing.predictive import PredictivePolicy
from dialer.pacing.vicidial import VicidialAdaptivePolicy

POLICIES: dict[str, type[PacingPolicy]] = {
    policy.name: policy
    for policy in (ProgressivePolicy, RatioPolicy, PreviewPolicy, VicidialAdaptivePolicy, PredictivePolicy)
}


def policy_keeps_budget(name: str) -> bool:
    """Whether the named policy takes an `AbandonBudget` and counts live answers and drops into it."""
    return "budget" in inspect.signature(POLICIES[name].__init__).parameters


def make_policy(name: str, **settings: Any) -> PacingPolicy:
    """Build a policy by name (`POLICIES`); settings are its keyword arguments (limits: max_lines, max_cps).

    Unknown names and settings are refused with a message naming them and what is accepted.
    """
    policy_class = POLICIES.get(name)
    if policy_class is None:
        raise ValueError(f"unknown pacing policy {name!r}; known: {', '.join(sorted(POLICIES))}")
    accepted = set(inspect.signature(policy_class.__init__).parameters) - {"self"}
    unknown = set(settings) - accepted
    if unknown:
        raise ValueError(
            f"pacing policy {name!r} has no setting(s) {', '.join(sorted(unknown))}; "
            f"accepted: {', '.join(sorted(accepted))}"
        )
    return policy_class(**settings)


__all__ = [
    "POLICIES",
    "AbandonBudget",
    "AgentBusy",
    "AgentLoggedOut",
    "AgentPaused",
    "AgentReady",
    "AgentWrap",
    "CallAbandoned",
    "CallAnsweredHuman",
    "CallAnsweredMachine",
    "CallBusy",
    "CallConnected",
    "CallEnded",
    "CallFailed",
    "CallNoAnswer",
    "CallPlaced",
    "CallRinging",
    "PacingEvent",
    "PacingLimits",
    "PacingPolicy",
    "PreviewDialRequested",
    "make_policy",
    "policy_keeps_budget",
]
