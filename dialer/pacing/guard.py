"""The abandon guard: the one place the 3% rule is enforced, on top of whatever policy a campaign runs.

The law counts abandoned calls against calls answered by a person, per campaign, over a rolling 30 days
(`AbandonBudget`). A policy may dial ahead of the agents (predictive, ratio, vicidial-adaptive); the
guard decides how much of that is allowed:

- calls READY agents can take (one per READY agent not already covered by a ringing or waiting call)
  cannot be abandoned: they are always allowed (up to what the policy asked for);
- each call beyond those may be answered by a person who finds no agent. The guard allows only as many
  as keep the rolling rate within `limit` even if every one of them a person answers is dropped,
  counting the calls already in flight at their expected drops and one drop in reserve:

      dropped + pending drops + n x h + 1  <=  limit x (answered + pending answers + n x h)

  with h the learned chance a placed call is answered by a person and pending drops = (calls placed
  ahead and still ringing) x h x q + (answered calls waiting for an agent), q the learned drops per
  answered ahead call (from a prior of 1: a policy first has to show it connects its calls). Near the
  limit this leaves n = 0: the policy dials no more calls than READY agents can take, whatever it asked.

`limit` is the campaign's configured target, never above the legal limit less a tenth of a point (the
rolling rate moves while calls are in flight). The guard is plain code driven by events and a clock
passed in; `GuardedPolicy` wraps any `PacingPolicy` with it, so the engine and the simulator ask the
guarded policy and cannot forget the guard.
"""

from __future__ import annotations

from collections.abc import Hashable

from core.legal import ABANDON_LIMIT
from dialer.pacing.budget import AbandonBudget
from dialer.pacing.events import (
    CallAbandoned,
    CallAnsweredHuman,
    CallAnsweredMachine,
    CallBusy,
    CallEnded,
    CallFailed,
    CallNoAnswer,
    CallPlaced,
    PacingEvent,
)
from dialer.pacing.policy import DIALING, SAFE_HARBOR, FloorState, PacingPolicy, Previous

GUARD_MARGIN = 0.001  # the guard holds the rolling rate a tenth of a point under the law
RESERVE_DROPS = 1.0  # one more drop than expected must still fit
MAX_GUARD_LIMIT = ABANDON_LIMIT - GUARD_MARGIN
_UNANSWERED = (CallAnsweredMachine, CallNoAnswer, CallBusy, CallFailed, CallEnded)


class _Frequency:
    """Exponentially weighted yes/no frequency from a prior (weight in observations, bounded memory)."""

    __slots__ = ("memory", "value", "weight")

    def __init__(self, prior: float, *, prior_weight: float, memory: float) -> None:
        self.value = prior
        self.weight = prior_weight
        self.memory = memory

    def add(self, yes: bool) -> None:
        self.weight = min(self.weight + 1.0, self.memory)
        self.value += ((1.0 if yes else 0.0) - self.value) / self.weight


class _DropsPerAheadAnswer:
    """Drops (of any call) per answered call that was placed ahead of the agents, with forgetting.

    A drop is charged to the calls dialled ahead whichever call it hits: an early answer to an ahead
    call takes the agent a covered call was meant for.
    """

    __slots__ = ("answers", "decay", "drops")

    def __init__(self, prior: float, *, prior_weight: float, memory: float) -> None:
        self.drops = prior * prior_weight
        self.answers = prior_weight
        self.decay = 1.0 - 1.0 / memory

    def answered(self) -> None:
        self.answers = self.answers * self.decay + 1.0
        self.drops *= self.decay

    def dropped(self) -> None:
        self.drops += 1.0

    @property
    def value(self) -> float:
        return min(1.0, self.drops / self.answers)


class AbandonGuard:
    """Caps a policy's answer so the campaign's rolling abandon rate stays within `limit`.

    Feed it every event (`observe`) and ask `allowed(wanted, floor, now)`. With `feed_budget` the guard
    counts live answers and drops into the budget itself (for policies that do not keep one).
    """

    def __init__(
        self, budget: AbandonBudget, *, limit: float = MAX_GUARD_LIMIT, feed_budget: bool = True
    ) -> None:
        if not 0 < limit <= MAX_GUARD_LIMIT:
            raise ValueError(f"the guard's limit must be in (0, {MAX_GUARD_LIMIT:.3f}], got {limit}")
        self.budget = budget
        self.limit = limit
        self.feed_budget = feed_budget
        self.human_rate = _Frequency(0.3, prior_weight=10, memory=300)
        self.ahead_dropped = _DropsPerAheadAnswer(1.0, prior_weight=3, memory=100)
        self._ahead: set[Hashable] = set()  # calls placed beyond READY agents, not yet resolved
        self._covered_quota = 0  # how many of the next placements READY agents can take
        self.capped = 0  # ticks where the guard cut the policy's answer (for reports and tests)

    def observe(self, event: PacingEvent, previous: Previous | None, now: float) -> None:
        if isinstance(event, CallPlaced):
            if self._covered_quota > 0:
                self._covered_quota -= 1
            else:
                self._ahead.add(event.call_id)
            return
        if isinstance(event, CallAnsweredHuman):
            if previous is not None and previous.state == DIALING:
                self.human_rate.add(True)
                if self.feed_budget:
                    self.budget.add(now, human_answered=1)
                if event.call_id in self._ahead:
                    self._ahead.discard(event.call_id)
                    self.ahead_dropped.answered()
            return
        if isinstance(event, CallAbandoned):
            if previous is not None and previous.state != SAFE_HARBOR and self.feed_budget:
                self.budget.add(now, dropped=1)
            if previous is not None and previous.state != SAFE_HARBOR:
                self.ahead_dropped.dropped()
            return
        if isinstance(event, _UNANSWERED):
            if previous is not None and previous.state == DIALING:
                self.human_rate.add(False)
            self._ahead.discard(event.call_id)

    def safe_calls(self, floor: FloorState) -> int:
        """Calls READY agents can take now: one per READY agent not covered by a ringing/waiting call."""
        return max(0, floor.ready - floor.dialing - floor.waiting)

    def ahead_allowed(self, floor: FloorState, now: float) -> int:
        """How many calls beyond `safe_calls` keep the rolling rate within the limit.

        Calls already in flight count at their expected drops (learned); new ones at the worst case
        (every one a person answers is dropped): a burst of calls ahead of the agents drops far more
        often than the average call ahead, so only the budget already earned may be spent on it.
        """
        budget, limit = self.budget, self.limit
        h = self.human_rate.value
        q = self.ahead_dropped.value
        pending_answers = floor.dialing * h + floor.waiting
        pending_drops = len(self._ahead) * h * q + floor.waiting
        room = (
            limit * (budget.human_answered(now) + pending_answers)
            - budget.dropped(now)
            - pending_drops
            - RESERVE_DROPS
        )
        if room <= 0:
            return 0
        return int(room / (h * (1.0 - limit)))

    def allowed(self, wanted: int, floor: FloorState, now: float) -> int:
        """The policy's `wanted` calls, cut to what keeps the campaign's abandon rate within the limit."""
        if wanted <= 0:
            self._covered_quota = 0
            return 0
        safe = self.safe_calls(floor)
        self._covered_quota = min(wanted, safe)
        if wanted <= safe:
            return wanted
        allowed = min(wanted, safe + self.ahead_allowed(floor, now))
        if allowed < wanted:
            self.capped += 1
        return allowed


class GuardedPolicy(PacingPolicy):
    """Any policy with the abandon guard on top: what the engine and `clearline simulate` run.

    Same interface as the wrapped policy (its floor, limits and name); events go to both.
    """

    def __init__(self, policy: PacingPolicy, guard: AbandonGuard) -> None:
        super().__init__()
        self.inner = policy
        self.guard = guard
        self.name = policy.name  # type: ignore[misc]
        self.floor = policy.floor
        self.limits = policy.limits

    def observe(self, event: PacingEvent, now: float) -> Previous | None:
        previous = self.inner.observe(event, now)
        self.guard.observe(event, previous, now)
        return previous

    def calls_to_place(self, now: float) -> int:
        return self.guard.allowed(self.inner.calls_to_place(now), self.floor, now)

    def headroom(self, now: float) -> int:
        return self.inner.headroom(now)

    def _wanted(self, now: float) -> int:
        return self.inner.calls_to_place(now)


def guarded(
    policy: PacingPolicy, budget: AbandonBudget, *, limit: float = MAX_GUARD_LIMIT, policy_feeds_budget: bool
) -> GuardedPolicy:
    """Wrap `policy` with the abandon guard over `budget` (`policy_feeds_budget`: the policy counts live
    answers and drops into that budget itself, so the guard must not count them again)."""
    guard = AbandonGuard(budget, limit=min(limit, MAX_GUARD_LIMIT), feed_budget=not policy_feeds_budget)
    return GuardedPolicy(policy, guard)
