"""`clearline simulate`: run a shift in the simulator and print its figures."""

from __future__ import annotations

import json
from typing import Any

import click

from dialer.pacing.guard import MAX_GUARD_LIMIT
from dialer.simulation.model import Scenario
from dialer.simulation.runner import POLICY_NAMES, simulate


@click.command("simulate")
@click.option("--policy", "policy", type=click.Choice(POLICY_NAMES), required=True)
@click.option("--agents", type=click.IntRange(min=0), required=True)
@click.option("--hit-rate", type=click.FloatRange(0, 1), required=True, help="chance a person answers")
@click.option("--machine-rate", type=click.FloatRange(0, 1), default=0.15, show_default=True)
@click.option("--busy-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--talk-mean", type=click.FloatRange(min=0, min_open=True), required=True, help="seconds")
@click.option("--talk-cv", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--wrap-mean", type=click.FloatRange(min=0, min_open=True), required=True, help="seconds")
@click.option("--wrap-cv", type=click.FloatRange(min=0), default=0.5, show_default=True)
@click.option("--ring-mean", type=click.FloatRange(min=0, min_open=True), default=8.0, show_default=True)
@click.option("--ring-timeout", type=click.FloatRange(min=15), default=20.0, show_default=True)
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--seed", type=int, required=True)
@click.option(
    "--hit-rate-after", type=click.FloatRange(0, 1), default=None, help="answer rate after --change-at"
)
@click.option("--change-at", type=click.FloatRange(min=0), default=None, help="hours into the shift")
@click.option(
    "--abandon-target",
    type=click.FloatRange(0, MAX_GUARD_LIMIT, min_open=True),
    default=None,
    help=f"the campaign's target: the abandon guard's limit (default {MAX_GUARD_LIMIT:g}), and predictive's own",
)
@click.option(
    "--lines-per-agent", type=click.FloatRange(1, 10), default=None, help="ratio policy: lines per agent"
)
@click.option("--max-lines", type=click.IntRange(min=1), default=None)
@click.option("--max-cps", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object")
def simulate_command(
    policy: str,
    agents: int,
    hit_rate: float,
    machine_rate: float,
    busy_rate: float,
    talk_mean: float,
    talk_cv: float,
    wrap_mean: float,
    wrap_cv: float,
    ring_mean: float,
    ring_timeout: float,
    hours: float,
    seed: int,
    hit_rate_after: float | None,
    change_at: float | None,
    abandon_target: float | None,
    lines_per_agent: float | None,
    max_lines: int | None,
    max_cps: float | None,
    as_json: bool,
) -> None:
    """Simulate one shift of a pacing policy (seeded: the same arguments give the same figures).

    The policy runs under the abandon guard, as in the engine: the shift's abandon rate stays within
    the target (at most 2.9%) whatever the policy asks for.
    """
    if (hit_rate_after is None) != (change_at is None):
        raise click.UsageError("--hit-rate-after and --change-at go together")
    if lines_per_agent is not None and policy != "ratio":
        raise click.UsageError("--lines-per-agent applies to the ratio policy only")
    try:
        scenario = Scenario(
            agents=agents,
            hit_rate=hit_rate,
            machine_rate=machine_rate,
            busy_rate=busy_rate,
            talk_mean_s=talk_mean,
            talk_cv=talk_cv,
            wrap_mean_s=wrap_mean,
            wrap_cv=wrap_cv,
            ring_mean_s=ring_mean,
            ring_timeout_s=ring_timeout,
            hours=hours,
            hit_rate_after=hit_rate_after,
            change_at_h=change_at,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    settings: dict[str, Any] = {}
    if abandon_target is not None:
        settings["abandon_target"] = abandon_target
    if lines_per_agent is not None:
        settings["lines_per_agent"] = lines_per_agent
    if max_lines is not None:
        settings["max_lines"] = max_lines
    if max_cps is not None:
        settings["max_cps"] = max_cps
    result = simulate(scenario, policy, seed, **settings)
    figures = result.as_dict()
    if as_json:
        click.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        click.echo(f"{name:>28}: {value:.4f}" if isinstance(value, float) else f"{name:>28}: {value}")


COMMANDS: list[click.Command] = [simulate_command]
