"""Call-detail records (16 CFR 310.5(a)(2), 2024 amendments) export for a date range, through the API
and the CLI, streamed page by page: memory does not grow with the number of calls."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import insert

from campaigns import cdr
from campaigns.cdr import CDR_COLUMNS, cdr_csv
from campaigns.models import CallAttempt
from core.db import Scope
from core.runtime import Runtime
from tests.conftest import Tenant, make_tenant
from tests.engine.factories import make_campaign

DAY = datetime(2026, 10, 1, tzinfo=UTC)


def add_calls(runtime: Runtime, tenant: Tenant, campaign_id: uuid.UUID, count: int, start: datetime) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": tenant.id,
            "lead_id": i,
            "campaign_id": campaign_id,
            "e164": f"+1202556{i % 10000:04d}",
            "caller_id": "+12025550100",
            "placed_at": start + timedelta(seconds=i),
            "answered_at": start + timedelta(seconds=i + 5),
            "ended_at": start + timedelta(seconds=i + 65),
            "outcome": "human",
            "verdict_reasons": [],
            "trunk": "t",
            "worker": "w",
            "identity_header_present": True,
        }
        for i in range(count)
    ]
    with runtime.db.session(Scope(tenant.id)) as s:
        for first in range(0, count, 5000):
            s.execute(insert(CallAttempt), rows[first : first + 5000])


def test_the_cdr_export_lists_every_call_of_the_range_with_the_tsr_fields(
    runtime: Runtime, client: TestClient, repo_root: Path, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    campaign = make_campaign(runtime, tenant.id, active=False)
    base = {
        "org_id": tenant.id,
        "campaign_id": campaign.id,
        "verdict_reasons": [],
        "worker": "w",
        "trunk": "t",
    }
    with runtime.db.session(Scope(tenant.id)) as s:
        s.execute(
            insert(CallAttempt),
            [
                {**base, "id": uuid.uuid4(), "lead_id": 1, "e164": "+12025550111", "caller_id": "+12025550100",
                 "placed_at": DAY + timedelta(hours=15), "answered_at": DAY + timedelta(hours=15, seconds=6),
                 "safe_harbor_at": DAY + timedelta(hours=15, seconds=8),
                 "ended_at": DAY + timedelta(hours=15, seconds=20), "outcome": "abandoned"},
                {**base, "id": uuid.uuid4(), "lead_id": 2, "e164": "+12025550122", "caller_id": "+12025550100",
                 "placed_at": DAY + timedelta(hours=16), "answered_at": DAY + timedelta(hours=16, seconds=4),
                 "ended_at": DAY + timedelta(hours=16, seconds=94), "outcome": "human", "disposition": "sale"},
                {**base, "id": uuid.uuid4(), "lead_id": 3, "e164": "+12025550133",
                 "placed_at": DAY + timedelta(hours=17), "ended_at": DAY + timedelta(hours=17), "outcome": "blocked"},
                {**base, "id": uuid.uuid4(), "lead_id": 5, "e164": "+12025550155", "caller_id": "+12025550100",
                 "placed_at": DAY + timedelta(hours=18), "answered_at": DAY + timedelta(hours=18, seconds=3),
                 "voicemail_left_at": DAY + timedelta(hours=18, seconds=15),
                 "ended_at": DAY + timedelta(hours=18, seconds=16), "outcome": "machine"},
                {**base, "id": uuid.uuid4(), "lead_id": 4, "e164": "+12025550144", "caller_id": "+12025550100",
                 "placed_at": DAY + timedelta(days=2), "ended_at": DAY + timedelta(days=2, seconds=30),
                 "outcome": "no_answer"},
            ],
        )  # fmt: skip
    r = client.get(
        "/api/compliance/cdr.csv",
        params={"since": DAY.isoformat(), "until": (DAY + timedelta(days=1)).isoformat()},
        headers=tenant.headers("compliance"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and "content-length" not in r.headers  # streamed
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0]) == CDR_COLUMNS
    assert [
        (x["called_number"], x["disposition"], x["duration_s"], x["prerecorded_message"]) for x in rows
    ] == [
        ("+12025550111", "abandoned", "14.0", "yes"),
        ("+12025550122", "human/sale", "90.0", "no"),
        ("+12025550155", "machine", "13.0", "yes"),  # a voicemail message was left: prerecorded
    ]  # the blocked attempt was never a call; the no-answer one is outside the range
    first = rows[0]
    assert (first["calling_number"], first["date"], first["time"]) == (
        "+12025550100",
        "2026-10-01",
        "15:00:00",
    )
    assert first["telemarketer"] == tenant.org.name and first["good_or_service"] == campaign.name
    assert first["retain_until"] == "2031-10-01"  # five calendar years
    bad = client.get(
        "/api/compliance/cdr.csv",
        params={"since": DAY.isoformat(), "until": DAY.isoformat()},
        headers=tenant.headers("compliance"),
    )
    assert bad.status_code == 422 and "until" in bad.text
    assert client.get(
        "/api/compliance/cdr.csv", params={"since": DAY.isoformat(), "until": DAY.isoformat()},
        headers=tenant.headers("agent"),
    ).status_code == 403  # fmt: skip

    out = tmp_path / "cdr.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "clearline.cli", "cdr", "--org", tenant.org.slug, "--since", "2026-10-01",
         "--until", "2026-10-04", "--out", str(out)],
        cwd=repo_root, capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(list(csv.DictReader(out.open()))) == 4


def test_the_cdr_export_streams_in_memory_that_does_not_grow_with_the_number_of_calls(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cdr, "CDR_PAGE", 500)  # the same paging, on fewer rows
    small, large = make_tenant(runtime), make_tenant(runtime)
    add_calls(runtime, small, make_campaign(runtime, small.id, active=False).id, 2_000, DAY)
    add_calls(runtime, large, make_campaign(runtime, large.id, active=False).id, 10_000, DAY)

    def peak(tenant: Tenant) -> tuple[int, int]:
        tracemalloc.start()
        try:
            lines = sum(c.count("\n") for c in cdr_csv(runtime.db, tenant.id, DAY, DAY + timedelta(days=1)))
            return lines, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small_lines, small_peak = peak(small)
    large_lines, large_peak = peak(large)
    assert (small_lines, large_lines) == (2_001, 10_001)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)  # 5x the calls, about the same memory


def test_records_are_kept_five_calendar_years_and_a_leap_day_record_until_the_first_of_march() -> None:
    from core.legal import retain_until

    assert retain_until(datetime(2024, 1, 1, tzinfo=UTC)) == datetime(2029, 1, 1, tzinfo=UTC)  # 2 leap days
    assert retain_until(datetime(2028, 2, 29, 12, tzinfo=UTC)) == datetime(2033, 3, 1, 12, tzinfo=UTC)
