"""Benchmark: a 1 M-row lead CSV imported end to end (normalized, de-duplicated, scrubbed by the compliance
engine, stored callable), against a raw PostgreSQL `COPY` of the same file measured in the same run.

Targets: <= 60 s end to end, <= 500 MB peak RSS of the importing process, >= 0.3 of raw COPY speed.
Two baselines are printed: the raw COPY of the file's rows into a plain table with the file's columns (the
floor: PostgreSQL parsing CSV in C, nothing else), and into a table shaped and indexed like `leads`.
Run: `.venv/bin/python bench/lead_import.py [--rows 1000000]` (uses DATABASE_URL, else an embedded server
in a temporary data dir).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

END_TO_END_TARGET_S = 60.0
RSS_TARGET_MB = 500.0
COPY_RATIO_TARGET = 0.3
# Area codes across the country's time zones, so the engine's window rules see a realistic mix.
AREA_CODES = (201, 202, 212, 213, 305, 312, 404, 415, 469, 512, 602, 617, 702, 713, 808, 907, 208, 303)
STATES = ("NY", "DC", "CA", "FL", "IL", "GA", "TX", "AZ", "MA", "NV", "HI", "AK", "ID", "CO")
FIRST = ("Ann", "Bob", "Carla", "Dmitri", "Eve", "Frank", "Grace", "Héctor", "Ivy", "José")
LAST = ("Lee", "Ray", "Smith", "Nguyen", "García", "Okafor", "Kowalski", "Brown")


def generate_csv(path: Path, rows: int, seed: int = 6) -> None:
    """A realistic file: mixed phone formats, ~2% repeated numbers, ~1% bad numbers, an extra column."""
    rng = random.Random(seed)
    formats = (
        "({a}) {x}-{l:04d}",
        "{a}-{x}-{l:04d}",
        "+1{a}{x}{l:04d}",
        "{a}{x}{l:04d}",
        "1 {a} {x} {l:04d}",
    )
    recent: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("phone,first_name,last_name,state,zip,consent,source\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.02 and recent:
                phone = rng.choice(recent)
            elif roll < 0.03:
                phone = f"555-{rng.randint(0, 9999):04d}"
            else:
                a, x, line = rng.choice(AREA_CODES), rng.randint(200, 999), rng.randint(0, 9999)
                phone = rng.choice(formats).format(a=a, x=x, l=line)
                if len(recent) < 1000:
                    recent.append(phone)
                else:
                    recent[i % 1000] = phone
            fh.write(
                f'"{phone}",{rng.choice(FIRST)},{rng.choice(LAST)},{rng.choice(STATES)},'
                f"{rng.randint(10000, 99999)},express_written,web-{i % 97}\n"
            )


def raw_copy_seconds(url: str, path: Path, *, like_leads: bool) -> float:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        table = "bench_raw_copy"
        if like_leads:
            cur.execute(
                f"CREATE TABLE {table} (LIKE leads INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES)"
            )
            one_import = f"'{uuid.uuid4()}'"  # like an import: one organization, campaign and list
            defaults = {
                "org_id": one_import,
                "campaign_id": one_import,
                "list_id": one_import,
                "row_number": "0",
                "extra": "'{}'",
                "status": "'callable'",
                "priority": "0",
                "attempts": "0",
                "outcome_counts": "'{}'",
                "verdict": "'callable'",
                "verdict_reasons": "'[]'",
            }  # the columns the file does not have
            cur.execute(
                f"ALTER TABLE {table} " + ", ".join(f"ALTER {c} SET DEFAULT {v}" for c, v in defaults.items())
            )
            # the file's phone goes into phone_e164 so the number index sees realistic (random) keys
            target = f"{table} (phone_e164, first_name, last_name, state, zip_code, consent, phone_raw)"
        else:
            cur.execute(
                f"CREATE TABLE {table} (phone text, first_name text, last_name text, state text, "
                "zip text, consent text, source text)"
            )
            target = table
        conn.commit()
        start = time.perf_counter()
        with (
            cur.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            open(path, "rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - start
        cur.execute(f"DROP TABLE {table}")
        conn.commit()
        return elapsed


def child_import(args: argparse.Namespace) -> None:
    """Runs in its own process so that its peak RSS is the import's alone."""
    from campaigns.importer import ImportRequest, import_lead_file
    from core.runtime import Runtime

    runtime = Runtime.start()
    request = ImportRequest(
        org_id=uuid.UUID(args.org),
        campaign_id=uuid.UUID(args.campaign),
        list_id=uuid.uuid4(),
        path=Path(args.file),
        list_name="bench",
        file_name="bench.csv",
    )
    start = time.perf_counter()
    result = import_lead_file(runtime.db, request, at=datetime.now(UTC), report_dir=Path(args.file).parent)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(
        json.dumps(
            {"seconds": elapsed, "cpu_seconds": cpu, "peak_mb": usage.ru_maxrss / 1024, **result.as_dict()}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--org")
    parser.add_argument("--campaign")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        child_import(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="lead-import-bench-"))
    # Registered before the embedded server starts, so it runs after that server has stopped at exit.
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.environ.setdefault("CLEARLINE_HOME", str(workdir / "home"))
    from campaigns.hopper import lease_leads
    from campaigns.models import CampaignStatus
    from campaigns.service import create_campaign
    from core.accounts import create_org
    from core.db import ALL_ORGS, Scope
    from core.migrations import upgrade
    from core.runtime import Runtime

    runtime = Runtime.start()
    upgrade(runtime.database_url)
    with runtime.db.session(ALL_ORGS) as s:
        org_id = create_org(s, f"bench-{uuid.uuid4().hex[:8]}").id
    with runtime.db.session(Scope(org_id)) as s:
        campaign = create_campaign(s, org_id=org_id, name="bench", settings={"caller_id": "+12025550199"})
        campaign.status = CampaignStatus.ACTIVE.value
        campaign_id = campaign.id

    path = workdir / "leads.csv"
    start = time.perf_counter()
    generate_csv(path, args.rows)
    print(
        f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s"
    )

    plain = raw_copy_seconds(runtime.database_url, path, like_leads=False)
    shaped = raw_copy_seconds(runtime.database_url, path, like_leads=True)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--org",
            str(org_id),
            "--campaign",
            str(campaign_id),
            "--file",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"import failed:\n{child.stderr[-4000:]}")
    out = json.loads(child.stdout.strip().splitlines()[-1])
    counts = out["counts"]
    lease_start = time.perf_counter()
    leased = lease_leads(runtime.db, campaign_id, 100, datetime.now(UTC), holder="bench", lease_s=60)
    lease_ms = (time.perf_counter() - lease_start) * 1000

    seconds = out["seconds"]
    ratio_plain, ratio_shaped = plain / seconds, shaped / seconds
    print(f"counts: {counts}  (registry not loaded for {out['registry_unavailable']:,} leads)")
    print(f"leased {len(leased)} of the imported leads straight away, in {lease_ms:.0f} ms")
    print(f"raw COPY into a plain table:        {plain:6.2f} s  ({args.rows / plain:>10,.0f} rows/s)")
    print(f"raw COPY into a leads-shaped table: {shaped:6.2f} s  ({args.rows / shaped:>10,.0f} rows/s)")
    print(f"import end to end:                  {seconds:6.2f} s  ({args.rows / seconds:>10,.0f} rows/s)")
    print(
        f"CPU time of the importing process:  {out['cpu_seconds']:6.2f} s (the rest is PostgreSQL and waiting)"
    )
    print(f"peak RSS of the importing process: {out['peak_mb']:.0f} MB")
    print(f"machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    verdict = [
        f"end to end {seconds:.1f} s vs <= {END_TO_END_TARGET_S:.0f} s: "
        + ("OK" if seconds <= END_TO_END_TARGET_S else "MISSED"),
        f"peak RSS {out['peak_mb']:.0f} MB vs <= {RSS_TARGET_MB:.0f} MB: "
        + ("OK" if out["peak_mb"] <= RSS_TARGET_MB else "MISSED"),
        f"speed vs raw COPY into leads-shaped table {ratio_shaped:.2f} vs >= {COPY_RATIO_TARGET}: "
        + ("OK" if ratio_shaped >= COPY_RATIO_TARGET else "MISSED"),
        f"speed vs raw COPY into a plain table {ratio_plain:.3f} vs >= {COPY_RATIO_TARGET}: "
        + ("OK" if ratio_plain >= COPY_RATIO_TARGET else "MISSED"),
    ]
    print("\n".join(verdict))


if __name__ == "__main__":
    main()
