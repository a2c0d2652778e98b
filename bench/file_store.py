"""Benchmark: a national DNC index's load time per process, today (mapped from this host's disk) against
through the shared file store (cold: fetched from PostgreSQL into an empty host cache; warm: the cache
already holds it), each in a fresh process, with the ratio to today measured in the same run.

    .venv/bin/python bench/file_store.py [--numbers 20000000] [--runs 3]

The index is built directly (no text import) over every US area code of the fast path, so it has the
shape of the real registry: ~330 written 1.25 MB slots, ~410 MB of data in a 1 GB sparse file, whatever
the number count once each slot's pages are all written (20 M numbers do that). A process's load is timed
from its first call to its first answer, for two first workloads: one 1,000-number check (the dialer's
first batch) and a probe of 1 M numbers (a first scrub, which faults in most of the mapping).
Target (issue 14): a process's DNC index load within 2x of today's. Uses DATABASE_URL, else an embedded
server in a temporary data dir. The machine is shared: figures are noisy, ratios are from the same run.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.0
SEQ = 1


def _workload(size: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    from bench.dnc_registry import us_area_codes

    npas = us_area_codes()
    return rng.choice(npas, size) * 10_000_000 + rng.integers(2_000_000, 10_000_000, size)


def child(mode: str, directory: str, key: str, sha256: str, probe: int) -> None:
    """One process's load: open the index (fetching it first when the store is used) and answer a probe."""
    numbers = _workload(probe)
    from core.runtime import Runtime
    from dnc.bitmap_index import IndexHandle
    from dnc.index_files import local_index

    runtime = Runtime.start()
    runtime.db.engine.connect().close()  # the pool's first connection: every process makes it anyway
    started = time.perf_counter()
    if mode == "today":
        path = Path(directory)
    else:
        path = local_index(runtime.files, runtime.settings.home, key, sha256).directory
    fetched = time.perf_counter()
    hits = int(IndexHandle(path, SEQ).contains(numbers).sum())
    done = time.perf_counter()
    print(json.dumps({"load_s": done - started, "fetch_s": fetched - started, "hits": hits}))


def run_child(mode: str, home: Path, directory: Path, key: str, sha256: str, probe: int) -> dict[str, float]:
    env = {**os.environ, "CLEARLINE_HOME": str(home)}
    argv = [sys.executable, __file__, "--child", mode, str(directory), key, sha256, str(probe)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def build_index(home: Path, count: int) -> Path:
    from bench.dnc_registry import us_area_codes
    from dnc.bitmap_index import IndexBuilder
    from dnc.index_files import work_dir

    rng = np.random.default_rng(7)
    npas = us_area_codes()
    directory = work_dir(home)
    builder = IndexBuilder(directory, SEQ)
    per_npa = -(-count // len(npas))
    for npa in npas.tolist():
        builder.add(np.sort(npa * 10_000_000 + rng.integers(2_000_000, 10_000_000, per_npa)))
    builder.finish()
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=5, metavar=("MODE", "DIR", "KEY", "SHA", "PROBE"))
    args = parser.parse_args()
    if args.child:
        mode, directory, key, sha256, probe = args.child
        child(mode, directory, key, sha256, int(probe))
        return

    workdir = Path(tempfile.mkdtemp(prefix="clearline-bench-files-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # runs after the embedded server stopped
    os.environ["CLEARLINE_HOME"] = str(workdir / "api-host")
    os.environ["CLEARLINE_FILE_STORE"] = "postgres"
    from core.migrations import upgrade
    from core.runtime import Runtime, set_runtime
    from dnc.index_files import LOCK_NAME, cache_root, pack, unpack

    runtime = Runtime.start()
    set_runtime(runtime)
    upgrade(runtime.database_url)
    os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = runtime.database_url, runtime.redis_url
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared: expect noise)")

    started = time.perf_counter()
    built = build_index(runtime.settings.home, args.numbers)
    today_dir = workdir / "today-index"  # today: the index directory on this host's disk
    unpack(pack(built), today_dir)
    data_mb = sum(os.stat(p).st_blocks * 512 for p in today_dir.iterdir()) / 1e6
    print(
        f"index of {args.numbers:,} numbers built in {time.perf_counter() - started:.1f} s: {data_mb:.0f} MB of data"
    )
    key = f"dnc/lists/bench-{time.time_ns()}/v{SEQ}.pack"
    started = time.perf_counter()
    stored = runtime.files.put(key, pack(built))
    put_s = time.perf_counter() - started
    print(
        f"put into PostgreSQL: {stored.size / 1e6:.0f} MB in {put_s:.1f} s ({stored.size / 1e6 / put_s:.0f} MB/s)"
    )

    dialer_home = workdir / "dialer-host"
    for probe in (1_000, 1_000_000):
        figures: dict[str, list[float]] = {"today": [], "cold": [], "warm": []}
        fetches: list[float] = []
        for _ in range(args.runs):
            figures["today"].append(
                run_child("today", dialer_home, today_dir, key, stored.sha256, probe)["load_s"]
            )
            shutil.rmtree(cache_root(dialer_home), ignore_errors=True)  # an empty host cache
            cold = run_child("cold", dialer_home, today_dir, key, stored.sha256, probe)
            figures["cold"].append(cold["load_s"])
            fetches.append(cold["fetch_s"])
            assert (cache_root(dialer_home) / stored.sha256 / LOCK_NAME).exists()
            figures["warm"].append(
                run_child("warm", dialer_home, today_dir, key, stored.sha256, probe)["load_s"]
            )
        today, cold_s, warm = (statistics.median(figures[m]) for m in ("today", "cold", "warm"))
        print(f"first check of {probe:,} numbers, median of {args.runs} processes each:")
        print(f"  today (local index dir):       {today * 1000:8.1f} ms")
        print(f"  store, warm (host cache):      {warm * 1000:8.1f} ms -> {warm / today:.2f}x of today "
              f"(target <= {TARGET_RATIO:.0f}x)")  # fmt: skip
        print(f"  store, cold (from PostgreSQL): {cold_s * 1000:8.1f} ms -> {cold_s / today:.2f}x of today "
              f"(target <= {TARGET_RATIO:.0f}x); of which fetch {statistics.median(fetches) * 1000:.0f} ms "
              f"({stored.size / 1e6 / statistics.median(fetches):.0f} MB/s), once per host and version")  # fmt: skip


if __name__ == "__main__":
    main()
