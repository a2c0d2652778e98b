"""Pacing benchmark: every policy and the oracle over the grid of team sizes, answer rates, talk times.

    .venv/bin/python bench/pacing.py              # full grid, 10 seeds, 8 h shifts (about 1,800 shifts)
    .venv/bin/python bench/pacing.py --quick      # 3 seeds, 2 h shifts: a fast look while tuning
    .venv/bin/python bench/pacing.py --from-json bench/out/pacing.json   # re-print / re-plot a run
    .venv/bin/python bench/pacing.py --ceiling --agents 5,10 --seeds 5   # the causal ceiling (below)

Prints a table (mean occupancy and abandon rate per scenario and policy), checks the targets for
`predictive` (abandon <= 3% in every run; occupancy above every baseline that keeps <= 3% in that
scenario; >= 10 points above vicidial-adaptive on average; >= 0.90 of the oracle overall, >= 0.80 at 5
agents and >= 0.86 at 10) and writes bench/out/pacing.png and bench/out/pacing.json.

`--ceiling` estimates instead what a dialer that cannot read the future can reach, on the same cells and
seeds: predictive's rule given the true distributions (`dialer.simulation.informed`, steered and under
the guard), and the best fixed allowance in hindsight per cell (each of `--margins`, unguarded, for the
informed rule and for predictive's learned model; the best whose every shift stayed <= 3 %). It prints
predictive as a fraction of that causal ceiling and of the oracle, and writes pacing-ceiling.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from collections import defaultdict
from itertools import product
from pathlib import Path
from typing import Any

from core.legal import ABANDON_LIMIT as LIMIT
from dialer.simulation.model import Scenario
from dialer.simulation.runner import CEILING_POLICY, POLICY_NAMES, simulate

AGENTS = (5, 10, 25, 50, 100)
HIT_RATES = (0.10, 0.20, 0.35)
TALK_MEANS = (60.0, 180.0)
# The policies the engine runs for a campaign run here as the engine runs them, under the abandon guard;
# ratio and vicidial-adaptive are the classic unguarded baselines (that is the comparison).
GUARDED = ("progressive", "preview", "predictive")
OUT = Path(__file__).parent / "out"
ORACLE_TARGET = 0.90  # predictive's occupancy / the oracle's, mean over the grid's cells (issue 19)
ORACLE_TARGET_BY_SIZE = {5: 0.80, 10: 0.86}
# Fixed allowances (expected overflow per expected answer) tried for the best margin in hindsight; the
# steer settles predictive at 0.012-0.037 on the 5- and 10-agent cells.
MARGINS = (0.005, 0.01, 0.015, 0.022, 0.033, 0.05, 0.075)
FIXED = "@"  # "informed@0.010": that policy with that fixed allowance, unguarded


def scenario_for(agents: int, hit: float, talk: float, hours: float) -> Scenario:
    return Scenario(
        agents=agents,
        hit_rate=hit,
        talk_mean_s=talk,
        wrap_mean_s=15.0,
        machine_rate=0.15,
        busy_rate=0.05,
        ring_mean_s=8.0,
        ring_timeout_s=20.0,
        talk_cv=0.8,
        hours=hours,
    )


def run_one(job: tuple[str, int, float, float, float, int]) -> dict[str, Any]:
    policy, agents, hit, talk, hours, seed = job
    scenario = scenario_for(agents, hit, talk, hours)
    if FIXED in policy:  # a fixed allowance, no steer, no guard: for the best margin in hindsight
        name, margin = policy.split(FIXED)
        settings: dict[str, Any] = {"aggressiveness": float(margin)}
        if name == "predictive":
            settings["control_gain"] = 0.0
        result = simulate(scenario, name, seed, guard=False, **settings).as_dict()
        result["policy"] = policy
    else:
        guard = policy in GUARDED or policy == CEILING_POLICY
        result = simulate(scenario, policy, seed, guard=guard).as_dict()
    result.update(hit_rate=hit, talk_mean_s=talk)
    return result


def ceiling_policies(margins: list[float]) -> list[str]:
    fixed = [f"{name}{FIXED}{margin:.3f}" for name in (CEILING_POLICY, "predictive") for margin in margins]
    return ["predictive", "oracle", CEILING_POLICY, *fixed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1"
    )
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true", help="3 seeds, 2-hour shifts")
    parser.add_argument("--policies", default=",".join(POLICY_NAMES))
    parser.add_argument("--agents", default=",".join(map(str, AGENTS)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="re-print and re-plot saved runs (merged) instead of running",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="directory for pacing.json and pacing.png")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="estimate the ceiling of a dialer that cannot read the future (see above) instead",
    )
    parser.add_argument(
        "--margins", default=",".join(map(str, MARGINS)), help="fixed allowances tried with --ceiling"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = [result for path in args.from_json for result in json.loads(path.read_text())]
        if any(FIXED in r["policy"] for r in saved):
            print(summarize_ceiling(saved))
            return 0
        saved_policies = [p for p in POLICY_NAMES if any(r["policy"] == p for r in saved)]
        print(summarize(saved, saved_policies))
        print(guard_note(saved_policies))
        plot(saved, saved_policies, args.out / "pacing.png")
        return 0
    seeds, hours = (3, 2.0) if args.quick else (args.seeds, args.hours)
    policies = args.policies.split(",")
    if args.ceiling:
        policies = ceiling_policies([float(m) for m in args.margins.split(",")])
    agent_sizes = [int(a) for a in args.agents.split(",")]
    jobs = [
        (policy, agents, hit, talk, hours, seed)
        for agents, hit, talk, seed, policy in product(
            agent_sizes, HIT_RATES, TALK_MEANS, range(args.first_seed, args.first_seed + seeds), policies
        )
    ]
    # Longest first, so the two workers finish together; the ceiling's seed by seed, so that a run cut
    # short (the saved file is rewritten as shifts finish) still has every cell on its first seeds.
    jobs.sort(
        key=lambda j: (
            j[5] if args.ceiling else 0,
            -j[1] / j[2] / j[3] * (3 if j[0] in ("predictive", "oracle") else 1),
        )
    )
    saved = (args.out / "pacing-ceiling.json") if args.ceiling else (args.out / "pacing.json")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = []
    with multiprocessing.Pool(args.workers) as pool:
        for done, result in enumerate(pool.imap_unordered(run_one, jobs), start=1):
            results.append(result)
            if done % 50 == 0 or done == len(jobs):
                saved.write_text(json.dumps(results, indent=1))
                print(
                    f"  {done}/{len(jobs)} shifts, {time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.monotonic() - started
    out = args.out
    if args.ceiling:
        print(summarize_ceiling(results))
        print(
            f"\n{len(jobs)} shifts ({seeds} seeds x {hours:g} h) in {elapsed:.0f} s on {args.workers} workers"
        )
        return 0
    report = summarize(results, policies)
    print(report)
    print(guard_note(policies))
    print(f"\n{len(jobs)} shifts ({seeds} seeds x {hours:g} h) in {elapsed:.0f} s on {args.workers} workers")
    plot(results, policies, out / "pacing.png")
    print(f"plot: {out / 'pacing.png'}")
    return 0


def guard_note(policies: list[str]) -> str:
    guarded = [p for p in policies if p in GUARDED]
    bare = [p for p in policies if p not in GUARDED and p != "oracle"]
    return (
        f"under the abandon guard (as the engine runs them): {', '.join(guarded) or '-'}; "
        f"unguarded baselines: {', '.join(bare) or '-'}; the oracle reads the future"
    )


def summarize(results: list[dict[str, Any]], policies: list[str]) -> str:
    cell: dict[tuple[int, float, float, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        cell[(r["agents"], r["hit_rate"], r["talk_mean_s"], r["policy"])].append(r)
    scenarios = sorted({key[:3] for key in cell})
    lines = ["occupancy % / abandon % (mean over seeds; max abandon in brackets for predictive)"]
    header = f"{'agents':>6} {'hit':>5} {'talk':>5} " + " ".join(f"{p[:17]:>17}" for p in policies)
    lines.append(header)
    misses: list[str] = []
    ratio_oracle: dict[int, list[float]] = defaultdict(list)
    above_vicidial: list[float] = []
    for scenario in scenarios:
        row = f"{scenario[0]:>6} {scenario[1]:>5.2f} {scenario[2]:>5.0f} "
        means = {}
        for policy in policies:
            runs = cell.get((*scenario, policy), [])
            if not runs:
                row += f"{'-':>17} "
                continue
            occupancy = statistics.fmean(r["occupancy"] for r in runs)
            abandon = statistics.fmean(r["abandon_rate"] for r in runs)
            worst = max(r["abandon_rate"] for r in runs)
            means[policy] = (occupancy, abandon, worst)
            text = f"{occupancy * 100:5.1f}/{abandon * 100:4.2f}"
            if policy == "predictive":
                text += f"[{worst * 100:4.2f}]"
            row += f"{text:>17} "
        lines.append(row)
        if "predictive" not in means:
            continue
        occupancy, _, worst = means["predictive"]
        label = f"agents={scenario[0]} hit={scenario[1]} talk={scenario[2]:g}"
        if worst > LIMIT:
            misses.append(f"{label}: a predictive run abandoned {worst * 100:.2f}% > 3%")
        for policy, (other_occupancy, other_abandon, _) in means.items():
            if policy in ("predictive", "oracle"):
                continue
            if other_abandon <= LIMIT and other_occupancy >= occupancy:
                misses.append(
                    f"{label}: {policy} {other_occupancy * 100:.1f}% (abandon {other_abandon * 100:.2f}%)"
                    f" >= predictive {occupancy * 100:.1f}%"
                )
        if "oracle" in means:
            ratio_oracle[scenario[0]].append(occupancy / means["oracle"][0])
        if "vicidial-adaptive" in means:
            above_vicidial.append(occupancy - means["vicidial-adaptive"][0])
    lines.append("")
    lines.append("targets for predictive:")
    if ratio_oracle:
        overall = statistics.fmean(v for values in ratio_oracle.values() for v in values)
        per_size = ", ".join(f"{size}: {statistics.fmean(v):.3f}" for size, v in sorted(ratio_oracle.items()))
        lines.append(
            f"  occupancy / oracle: {overall:.3f} (target >= {ORACLE_TARGET}) {_verdict(overall >= ORACLE_TARGET)}"
        )
        lines.append(f"    per team size: {per_size}")
        for size, target in ORACLE_TARGET_BY_SIZE.items():
            if size in ratio_oracle:
                ratio = statistics.fmean(ratio_oracle[size])
                lines.append(
                    f"    {size} agents: {ratio:.3f} (target >= {target}) {_verdict(ratio >= target)}"
                )
    if above_vicidial:
        points = statistics.fmean(above_vicidial) * 100
        lines.append(
            f"  points above vicidial-adaptive: {points:.1f} (target >= 10) {_verdict(points >= 10)}"
        )
    lines.append(f"  abandon <= 3% in every run and above every compliant baseline: {_verdict(not misses)}")
    lines.extend(f"    MISS {miss}" for miss in misses)
    return "\n".join(lines)


def _mean_worst(runs: dict[str, list[dict[str, Any]]], policy: str) -> tuple[float, float] | None:
    """(mean occupancy, worst shift's abandon rate) of a policy's runs in one cell."""
    rows = runs.get(policy)
    if not rows:
        return None
    return statistics.fmean(r["occupancy"] for r in rows), max(r["abandon_rate"] for r in rows)


def _best_fixed(runs: dict[str, list[dict[str, Any]]], name: str) -> tuple[float, float, str] | None:
    """The fixed allowance of `name` with the best mean occupancy among those whose every shift <= 3 %."""
    best = None
    for policy in runs:
        if policy.startswith(name + FIXED):
            occupancy, worst = _mean_worst(runs, policy) or (0.0, 1.0)
            if worst <= LIMIT and (best is None or occupancy > best[0]):
                best = (occupancy, worst, policy.split(FIXED)[1])
    return best


def summarize_ceiling(results: list[dict[str, Any]]) -> str:
    """Per cell and team size: predictive against the oracle and against the causal ceiling's estimates."""
    cell: dict[tuple[int, float, float], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in results:
        cell[(r["agents"], r["hit_rate"], r["talk_mean_s"])][r["policy"]].append(r)
    lines = [
        "causal ceiling: occupancy % (mean over seeds) / worst shift's abandon %",
        "  informed = predictive's rule given the true distributions, steered, guarded;",
        "  best fixed = the best fixed allowance in hindsight whose every shift stayed <= 3 % (unguarded)",
        f"{'agents':>6} {'hit':>5} {'talk':>5} {'predictive':>12} {'informed':>12} "
        f"{'best fixed informed':>22} {'best fixed predictive':>22} {'oracle':>7} {'pred/ceil':>9} {'pred/orac':>9}",
    ]
    by_size: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    for key in sorted(cell):
        runs = cell[key]
        predictive, oracle = _mean_worst(runs, "predictive"), _mean_worst(runs, "oracle")
        informed = _mean_worst(runs, CEILING_POLICY)
        fixed_informed, fixed_predictive = _best_fixed(runs, CEILING_POLICY), _best_fixed(runs, "predictive")
        if predictive is None or oracle is None:
            continue
        candidates = [predictive[0]]
        candidates += [c[0] for c in (informed, fixed_informed, fixed_predictive) if c and c[1] <= LIMIT]
        ceiling = max(candidates)

        def text(value: tuple[float, ...] | None, width: int) -> str:
            if value is None:
                return f"{'-':>{width}}"
            label = f"{value[0] * 100:.1f}/{value[1] * 100:.2f}" + (
                f" a={value[2]}" if len(value) > 2 else ""
            )
            return f"{label:>{width}}"

        lines.append(
            f"{key[0]:>6} {key[1]:>5.2f} {key[2]:>5.0f} {text(predictive, 12)} {text(informed, 12)} "
            f"{text(fixed_informed, 22)} {text(fixed_predictive, 22)} {oracle[0] * 100:>7.1f} "
            f"{predictive[0] / ceiling:>9.3f} {predictive[0] / oracle[0]:>9.3f}"
        )
        by_size[key[0]].append(
            (predictive[0], ceiling, oracle[0], informed[0] if informed else predictive[0])
        )
    lines.append("")
    lines.append(
        "per team size (mean over cells): predictive / oracle, ceiling / oracle, predictive / ceiling"
    )
    for size, values in sorted(by_size.items()):
        p_o = statistics.fmean(p / o for p, _, o, _ in values)
        c_o = statistics.fmean(c / o for _, c, o, _ in values)
        p_c = statistics.fmean(p / c for p, c, _, _ in values)
        i_o = statistics.fmean(i / o for _, _, o, i in values)
        lines.append(
            f"  {size:>3} agents: predictive {p_o:.3f} of the oracle; informed (steered) {i_o:.3f}; "
            f"causal ceiling {c_o:.3f} of the oracle; predictive {p_c:.3f} of the ceiling"
            + (
                f" (target {ORACLE_TARGET_BY_SIZE[size]} of the oracle)"
                if size in ORACLE_TARGET_BY_SIZE
                else ""
            )
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def plot(results: list[dict[str, Any]], policies: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    by_policy_size: dict[tuple[str, int], list[float]] = defaultdict(list)
    abandon_by_policy: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_policy_size[(r["policy"], r["agents"])].append(r["occupancy"])
        abandon_by_policy[r["policy"]].append(r["abandon_rate"] * 100)
    for policy in policies:
        sizes = sorted({size for p, size in by_policy_size if p == policy})
        left.plot(
            sizes, [statistics.fmean(by_policy_size[(policy, s)]) * 100 for s in sizes], "o-", label=policy
        )
    left.set_xscale("log")
    left.set_xlabel("agents")
    left.set_ylabel("occupancy % (mean over answer rates, talk times, seeds)")
    left.set_title("Occupancy vs team size")
    left.legend()
    right.boxplot([abandon_by_policy[p] for p in policies], tick_labels=policies)
    right.axhline(3.0, color="red", linestyle="--", label="legal limit 3%")
    right.set_ylim(0, 8)  # ratio dialing drops up to ~80%: off the scale that matters
    right.set_ylabel("abandon rate % per shift (axis cut at 8%)")
    right.set_title("Abandon rate per policy (every shift)")
    right.tick_params(axis="x", rotation=30)
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
