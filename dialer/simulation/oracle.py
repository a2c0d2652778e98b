"""The oracle: a pacing policy that reads the simulator's future, to measure the ceiling.

It knows every lead's outcome, ring time, talk and wrap-up before dialling, and when every agent will
be free. It dials leads in list order: a lead nobody will answer is dialled at once (it costs only a
line), a lead a person will answer is dialled as soon as its answer would find an agent within 2 s,
which is the moment that agent frees up. No live policy can do better than this without skipping leads.
Simulation only: it needs a `Shift`.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from core.legal import AGENT_CONNECT_DEADLINE_S
from dialer.pacing.policy import PacingPolicy

if TYPE_CHECKING:
    from dialer.simulation.model import Shift

GRACE_S = AGENT_CONNECT_DEADLINE_S


class OraclePolicy(PacingPolicy):
    name = "oracle"

    def __init__(self, shift: Shift, *, max_lines: int | None = None, max_cps: float | None = None) -> None:
        super().__init__(max_lines=max_lines, max_cps=max_cps)
        self.shift = shift

    def _wanted(self, now: float) -> int:
        from dialer.simulation.model import HUMAN

        shift = self.shift
        free = shift.agent_free_times()
        if not free:
            return 0
        heapq.heapify(free)
        # Calls already answered and waiting, then person-answered calls still ringing, claim agents first.
        claims = [(now, call) for call in shift.waiting_calls()]
        claims += sorted((at, call) for call, at in shift.call_answer_at.items())
        for at, call in claims:
            _, _, talk, wrap = shift.lead(call, now)
            agent_free = heapq.heappop(free)
            heapq.heappush(free, max(agent_free, at) + talk + wrap)
        cap = self.headroom(now)
        count = 0
        index = shift.next_lead
        while count < cap:
            outcome, delay, talk, wrap = shift.lead(index, now)
            if outcome == HUMAN:
                if now + delay + GRACE_S < free[0]:
                    break
                agent_free = heapq.heappop(free)
                heapq.heappush(free, max(agent_free, now + delay) + talk + wrap)
            count += 1
            index += 1
        return count
