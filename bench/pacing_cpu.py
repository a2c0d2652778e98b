"""Decision CPU per tick of a pacing policy (guard included), measured in a simulated shift.

    .venv/bin/python bench/pacing_cpu.py                       # predictive, 100 and 10 agents, 2 h
    .venv/bin/python bench/pacing_cpu.py --agents 5,10 --hours 1 --setting model=instant

Every `calls_to_place` of the guarded policy is timed with the thread's CPU clock (not wall time: the
machine is shared), so the figure is the policy's own cost per decision. Prints mean, p50, p99 and max per
team size and the ratio to the 5 ms target (issue 19); the simulator's own work is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

TARGET_MS = 5.0


def measure(
    agents: int, hit: float, talk: float, hours: float, seed: int, settings: dict[str, Any]
) -> list[float]:
    from bench.pacing import scenario_for
    from dialer.pacing.policy import PacingPolicy
    from dialer.simulation import runner
    from dialer.simulation.model import Shift

    samples: list[float] = []

    class Timed(Shift):
        def __init__(self, scenario: Any, factory: Any, seed: int) -> None:
            def timed_factory(shift: Shift) -> PacingPolicy:
                policy = factory(shift)
                ask = policy.calls_to_place

                def calls_to_place(now: float) -> int:
                    started = time.thread_time_ns()
                    n = ask(now)
                    samples.append((time.thread_time_ns() - started) / 1e6)
                    return n

                policy.calls_to_place = calls_to_place  # type: ignore[method-assign]
                return policy

            super().__init__(scenario, timed_factory, seed)

    original = runner.Shift
    runner.Shift = Timed  # type: ignore[misc]
    try:
        runner.simulate(scenario_for(agents, hit, talk, hours), "predictive", seed, **settings)
    finally:
        runner.Shift = original  # type: ignore[misc]
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", default="100,10")
    parser.add_argument("--hit-rate", type=float, default=0.10)
    parser.add_argument("--talk-mean", type=float, default=60.0)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--setting", action="append", default=[], help="name=value for the policy")
    args = parser.parse_args(argv)
    settings: dict[str, Any] = {}
    for item in args.setting:
        name, _, value = item.partition("=")
        try:
            settings[name] = float(value)
        except ValueError:
            settings[name] = value
    for agents in (int(a) for a in args.agents.split(",")):
        samples = sorted(measure(agents, args.hit_rate, args.talk_mean, args.hours, args.seed, settings))
        mean = statistics.fmean(samples)
        p50 = samples[len(samples) // 2]
        p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
        print(
            f"predictive {settings or ''} {agents} agents, {args.hit_rate:.0%} answers, {args.talk_mean:g} s talk, "
            f"{len(samples)} ticks: CPU per tick mean {mean:.3f} ms, p50 {p50:.3f}, p99 {p99:.3f}, "
            f"max {samples[-1]:.2f} ms; p99 / target {TARGET_MS:g} ms = {p99 / TARGET_MS:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
