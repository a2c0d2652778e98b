"""Benchmark of the compliance engine at national scale.

    .venv/bin/python bench/dnc_registry.py [--numbers 250000000] [--leads 1000000] [--cache DIR]

1. Generates a synthetic national registry in FTC format (one `NNNNNNNNNN` per line, sorted by area code,
   spread over every US area code of the fast path) with numpy, cached in DIR (outside the repo).
2. Imports it with `clearline dnc import` in a child process: wall time and the child's peak RSS.
3. Applies a 1 M-record change list (half adds, half deletes) the same way.
4. Scrubs 1 M leads: the engine's membership step vs one raw numpy bitmap probe of the same numbers on the
   same mapped bits (the machine's limit, measured in the same run), the whole `check` (all rules,
   verdicts with reasons), and CSV -> report end to end.
Targets (issues 3, 12): import <= 120 s and <= 1.5 GB RSS; change list <= 5 s; membership <= 1.5x raw
probe; CSV -> report <= 15 s and <= 2.5x the columnar decide() of the same leads. The machine is shared: figures are noisy, ratios are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 12:00 in New York, 09:00 in Los Angeles


def _digits_lines(numbers: np.ndarray, suffix: bytes = b"") -> bytes:
    """Fixed-width text lines for int64 10-digit numbers, built as a byte matrix."""
    width = 10 + len(suffix) + 1
    out = np.empty((len(numbers), width), dtype=np.uint8)
    value = numbers.copy()
    for col in range(9, -1, -1):
        out[:, col] = value % 10 + 48
        value //= 10
    for i, ch in enumerate(suffix):
        out[:, 10 + i] = ch
    out[:, -1] = 10
    return out.tobytes()


def us_area_codes() -> np.ndarray:
    from dnc.nanp import numbering_plan

    plan = numbering_plan()
    return np.array(
        [npa for npa in range(200, 1000) if plan.fast_npa[npa] and plan.npa_state[npa]], dtype=np.int64
    )


def generate_registry(path: Path, count: int, seed: int = 7) -> None:
    """`count` distinct numbers spread evenly over the US area codes, written area code by area code."""
    rng = np.random.default_rng(seed)
    npas = us_area_codes()
    per_npa = -(-count // len(npas))
    tmp = path.with_suffix(".partial")
    written = 0
    with tmp.open("wb") as fh:
        for npa in npas.tolist():
            k = min(per_npa, count - written)
            if k <= 0:
                break
            # Distinct subscriber numbers with NXX >= 200: a random sample without replacement.
            chosen = np.flatnonzero(rng.random(8_000_000) < k / 8_000_000)[:k] + 2_000_000
            fh.write(_digits_lines(npa * 10_000_000 + chosen))
            written += len(chosen)
    tmp.replace(path)


def generate_change_list(path: Path, registry_sample: np.ndarray, count: int, seed: int = 8) -> None:
    rng = np.random.default_rng(seed)
    npas = us_area_codes()
    deletes = rng.permutation(registry_sample)[: count // 2]
    adds = rng.choice(npas, count - len(deletes)) * 10_000_000 + rng.integers(
        2_000_000, 10_000_000, count - len(deletes)
    )
    with path.open("wb") as fh:
        fh.write(_digits_lines(adds, b",A"))
        fh.write(_digits_lines(deletes, b",D"))


def sample_registry(path: Path, count: int) -> np.ndarray:
    """Numbers from the registry file (evenly spaced lines) without reading it all."""
    size = path.stat().st_size
    lines = size // 11
    picks = np.linspace(0, lines - 1, count).astype(np.int64)
    out = np.empty(count, dtype=np.int64)
    with path.open("rb") as fh:
        for i, line in enumerate(picks.tolist()):
            fh.seek(line * 11)
            out[i] = int(fh.read(10))
    return out


def run_child(args: list[str], env: dict[str, str]) -> tuple[dict[str, object], float, float]:
    """Run a clearline command; (its JSON output, wall seconds, peak RSS in MB of that child).
    Also prints the child's CPU time: on a shared machine it is the figure an idle core would approach."""
    before_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = before_usage.ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before_usage.ru_utime - before_usage.ru_stime
    print(f"  ({args[1]} {args[2]}: {cpu:.1f} s CPU in the child process)")
    peak = usage.ru_maxrss
    # ru_maxrss of children is the maximum over all waited-for children: only meaningful if it grew.
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=250_000_000)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--change-records", type=int, default=1_000_000)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "clearline-bench",
    )
    args = parser.parse_args()
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    home = cache / f"home-{args.numbers}"
    os.environ["CLEARLINE_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)

    from core.db import ALL_ORGS
    from core.migrations import upgrade
    from core.runtime import Runtime, set_runtime
    from core.settings import load_settings

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared: expect noise)")
    registry = cache / f"registry-{args.numbers}.txt"
    if not registry.exists():
        started = time.perf_counter()
        generate_registry(registry, args.numbers)
        print(
            f"generated {registry} ({registry.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s"
        )
    lines = registry.stat().st_size // 11

    runtime = Runtime.start(load_settings())
    set_runtime(runtime)
    upgrade(runtime.database_url)
    from core.accounts import create_org
    from dnc.models import CompliancePolicy

    with runtime.db.session(ALL_ORGS) as s:
        org_id = create_org(s, f"bench-{time.time_ns()}").id
        # The synthetic leads carry no line type: counted as landlines, so the other rules decide them
        # (the default, counting them as wireless, would block every one for want of consent).
        s.add(CompliancePolicy(org_id=org_id, unknown_line_type="not_wireless"))
    env = {**os.environ, "DATABASE_URL": runtime.database_url, "REDIS_URL": runtime.redis_url}
    clearline = [str(Path(sys.executable).parent / "clearline")]

    obtained = (AT - timedelta(days=3)).isoformat()
    out, wall, rss = run_child(
        [
            *clearline,
            "dnc",
            "import",
            "--kind",
            "national",
            "--org",
            str(org_id),
            "--obtained-at",
            obtained,
            str(registry),
        ],
        env,
    )
    print(f"import: {lines:,} numbers in {wall:.1f} s wall ({out['seconds']} s inside), peak RSS {rss:,.0f} MB "
          f"-> {wall / 120:.2f}x of the 120 s target, {rss / 1536:.2f}x of the 1.5 GB target")  # fmt: skip

    change = cache / f"change-{args.numbers}-{args.change_records}.txt"
    if not change.exists():
        deletable = sample_registry(registry, min(args.change_records // 2, lines))
        generate_change_list(change, deletable, args.change_records)
    out, wall, _ = run_child(
        [
            *clearline,
            "dnc",
            "import",
            "--kind",
            "national",
            "--change-list",
            "--org",
            str(org_id),
            "--obtained-at",
            obtained,
            str(change),
        ],
        env,
    )
    print(f"change list: {args.change_records:,} records (+{out['added']:,} -{out['deleted']:,}) in {out['seconds']} s "
          f"inside ({wall:.1f} s wall with process start) -> {float(out['seconds']) / 5:.2f}x of the 5 s target")  # fmt: skip

    bench_scrub(runtime, org_id, registry, args.leads, cache)


def bench_scrub(runtime: object, org_id: object, registry: Path, count: int, cache: Path) -> None:
    from dnc.bitmap_index import BASE, IndexHandle
    from dnc.engine import ComplianceEngine
    from dnc.index_files import cache_root
    from dnc.normalize import e164_to_national
    from dnc.scrub import scrub_file
    from dnc.verdicts import LeadContext

    rng = np.random.default_rng(9)
    npas = us_area_codes()
    half = count // 2
    registered = sample_registry(registry, min(half, 200_000))
    numbers = np.concatenate(
        [
            rng.choice(registered, half),
            rng.choice(npas, count - half) * 10_000_000 + rng.integers(2_000_000, 10_000_000, count - half),
        ]
    )
    rng.shuffle(numbers)
    e164s = [f"+1{n}" for n in numbers.tolist()]
    leads = [LeadContext(e164=e, lead_id=str(i)) for i, e in enumerate(e164s)]
    engine = ComplianceEngine.load(runtime.db, org_id)  # type: ignore[attr-defined]
    started = time.perf_counter()
    engine.check(leads[:1000], AT)  # open the index, load tables
    # The change list is stored as a delta on the imported pack: this host's first check after it builds
    # its copy of the new version (cached base + delta), once per host and version.
    print(f"first check after the change list (builds this host's copy: cached base + delta): "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip

    [handle] = [h for h in engine._handles.values() if isinstance(h, IndexHandle)]
    national = e164_to_national(e164s)
    positions = national - BASE
    raw_bits = np.asarray(handle.bits)
    for _ in range(2):  # warm the pages both ways
        raw = ((raw_bits[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)
        handle.contains(national)
    raw_times, member_times = [], []
    for _ in range(5):
        t = time.perf_counter()
        raw = ((raw_bits[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)
        raw_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        member = handle.contains(national)
        handle.verify()
        member_times.append(time.perf_counter() - t)
    assert (raw == member).all()
    raw_s, member_s = min(raw_times), min(member_times)
    print(f"membership of {count:,} numbers: {member_s * 1000:.1f} ms vs raw numpy bitmap probe {raw_s * 1000:.1f} ms "
          f"-> {member_s / raw_s:.2f}x (target <= 1.5x)")  # fmt: skip

    from dnc.engine import LeadColumns

    t, cpu = time.perf_counter(), time.process_time()
    decision = engine.decide(LeadColumns.of(leads), AT)
    decide_s, decide_cpu = time.perf_counter() - t, time.process_time() - cpu
    t, cpu = time.perf_counter(), time.process_time()
    verdicts = engine.check(leads, AT)
    check_s, check_cpu = time.perf_counter() - t, time.process_time() - cpu
    blocked = sum(1 for v in verdicts if not v.callable)
    print(
        f"decide() of {count:,} leads (all rules, columnar verdicts): {decide_s:.2f} s wall, {decide_cpu:.2f} s CPU"
    )
    print(f"check() of {count:,} leads (+ one ScrubVerdict object each): {check_s:.2f} s wall, {check_cpu:.2f} s CPU, "
          f"{blocked:,} blocked ({len(decision.parts)} distinct verdicts)")  # fmt: skip

    single = []
    for lead in leads[:200]:  # the dialer's case: one lead, just before the call
        t = time.perf_counter()
        engine.check([lead], AT)
        single.append(time.perf_counter() - t)
    single.sort()
    print(f"dial-time check of one lead (3 small queries + probe): median {single[100] * 1000:.1f} ms, "
          f"p95 {single[190] * 1000:.1f} ms")  # fmt: skip

    leads_csv = cache / f"leads-{count}.csv"
    with leads_csv.open("w") as fh:
        fh.write("phone,lead_id\n")
        fh.writelines(
            f"({n // 10_000_000}) {n // 10_000 % 1000}-{n % 10_000:04d},{i}\n"
            for i, n in enumerate(numbers.tolist())
        )
    report = cache / f"report-{count}.csv"
    t, cpu = time.perf_counter(), time.process_time()
    counts = scrub_file(runtime.db, org_id, leads_csv, report, at=AT)  # type: ignore[attr-defined, arg-type]
    e2e, e2e_cpu = time.perf_counter() - t, time.process_time() - cpu
    print(f"CSV -> report, {count:,} leads: {e2e:.2f} s wall ({e2e / 15:.2f}x of the 15 s target), "
          f"{e2e_cpu:.2f} s CPU ({e2e_cpu / 15:.2f}x); {counts}")  # fmt: skip
    print(f"CSV -> report / columnar decide() of the same leads: {e2e / decide_s:.2f}x wall, "
          f"{e2e_cpu / decide_cpu:.2f}x CPU (target <= 2.5x)")  # fmt: skip
    cached = cache_root(runtime.settings.home)  # type: ignore[attr-defined]
    print(f"report: {report} ({report.stat().st_size / 1e6:.0f} MB); index cached in {cached}")


if __name__ == "__main__":
    main()
