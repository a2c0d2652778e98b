"""Answering-machine detection on a generated corpus: Clearline's detector side by side with Asterisk's
`app_amd` (default parameters), the baseline measured in the same run.

    .venv/bin/python bench/amd.py                         # 300 people, 200 machines, seed 2
    .venv/bin/python bench/amd.py --people 100 --machines 100 --seed 7

The corpus (dialer/media/corpus.py: espeak-ng voices, sox noise and G.711) is generated once per
(size, seed) under bench/out/amd-corpus-*/ and reused. Prints, for each detector, the confusion matrix,
people classified as people (target >= 99%), people hung up on (classified machine), machines classified
as machines (target >= 90%), the p95 decision delay after a person's greeting ends (target <= 1.0 s) and
the CPU per concurrent call (thread CPU time per second of audio: the real-time factor, so 1 / RTF calls
fit in one core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialer.media import corpus  # noqa: E402
from dialer.media.amd import AmdDetector, AsteriskAmd, Decision, Detector, classify  # noqa: E402

TARGET_PEOPLE = 0.99
TARGET_MACHINES = 0.90
TARGET_DELAY_S = 1.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    name: str, make: Callable[[int], Detector], samples: list[corpus.Sample], directory: Path, verbose: bool
) -> dict[str, float]:
    matrix: Counter[tuple[str, str]] = Counter()
    delays: list[float] = []
    cpu_s = 0.0
    audio_s = 0.0
    wrong: list[str] = []
    for sample in samples:
        pcm, rate = corpus.read_wav(directory / sample.file)
        data = pcm.tobytes()
        started = time.thread_time()
        decision: Decision = classify(data, rate, make(rate))
        cpu_s += time.thread_time() - started
        audio_s += min(len(pcm) / rate, decision.decided_at_ms / 1000)
        matrix[(sample.kind, decision.result.value)] += 1
        if sample.kind == "human" and decision.result.value == "human":
            delays.append((decision.decided_at_ms - sample.greeting_end_ms) / 1000)
        if decision.result.value != sample.kind:
            wrong.append(
                f"  {sample.name} {sample.noise}{sample.noise_db:+.0f} g711={sample.g711} -> "
                f"{decision.result.value} {decision.cause} @{decision.decided_at_ms}: {sample.text[:50]}"
            )
    people = sum(matrix[("human", r)] for r in ("human", "machine", "notsure"))
    machines = sum(matrix[("machine", r)] for r in ("human", "machine", "notsure"))
    figures = {
        "people_as_people": matrix[("human", "human")] / people if people else float("nan"),
        "people_as_machine": matrix[("human", "machine")] / people if people else float("nan"),
        "machines_as_machines": matrix[("machine", "machine")] / machines if machines else float("nan"),
        "p95_delay_s": percentile(delays, 0.95),
        "p50_delay_s": percentile(delays, 0.50),
        "rtf": cpu_s / audio_s if audio_s else float("nan"),
    }
    print(f"\n== {name}")
    print(f"{'actual / said':>14} {'human':>7} {'machine':>8} {'notsure':>8}")
    for kind in ("human", "machine"):
        print(f"{kind:>14} " + " ".join(f"{matrix[(kind, r)]:>7}" for r in ("human", "machine", "notsure")))
    print(f"people classified as people  {figures['people_as_people']:7.1%}  (target >= {TARGET_PEOPLE:.0%})")
    print(f"people hung up on (machine)  {figures['people_as_machine']:7.1%}")
    print(
        f"machines as machines         {figures['machines_as_machines']:7.1%}  (target >= {TARGET_MACHINES:.0%})"
    )
    print(
        f"delay after a person's greeting: p50 {figures['p50_delay_s']:.2f} s, p95 {figures['p95_delay_s']:.2f} s "
        f"(target <= {TARGET_DELAY_S:.1f} s)"
    )
    print(f"CPU: real-time factor {figures['rtf']:.5f} = {1 / figures['rtf']:.0f} concurrent calls per core")
    if verbose and wrong:
        print("misclassified:\n" + "\n".join(wrong))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2, help="corpus seed (the detector was tuned on seed 1)")
    parser.add_argument("--corpus-dir", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="list the misclassified samples")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args(argv)
    if not corpus.tools_present():
        print(
            "error: the corpus needs Debian's espeak-ng and sox (./run tests installs them)", file=sys.stderr
        )
        return 2
    directory = (
        args.corpus_dir or ROOT / "bench" / "out" / f"amd-corpus-{args.people}-{args.machines}-{args.seed}"
    )
    started = time.monotonic()
    samples = corpus.generate(directory, people=args.people, machines=args.machines, seed=args.seed)
    print(
        f"corpus: {len(samples)} samples in {directory} ({time.monotonic() - started:.0f} s to make or load)"
    )
    ours = run("Clearline AMD", lambda rate: AmdDetector(rate), samples, directory, args.verbose)
    base = run(
        "Asterisk app_amd (defaults), baseline",
        lambda rate: AsteriskAmd(rate),
        samples,
        directory,
        args.verbose,
    )
    print("\n== Clearline / baseline")
    for key in ("people_as_people", "machines_as_machines", "p95_delay_s", "rtf"):
        ratio = ours[key] / base[key] if base[key] else float("inf")
        print(f"{key:22} {ours[key]:9.4f} vs {base[key]:9.4f}  ratio {ratio:.2f}")
    met = (
        ours["people_as_people"] >= TARGET_PEOPLE
        and ours["machines_as_machines"] >= TARGET_MACHINES
        and ours["p95_delay_s"] <= TARGET_DELAY_S
    )
    print(f"targets {'met' if met else 'NOT met'}")
    if args.json:
        print(json.dumps({"clearline": ours, "baseline": base}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
