"""A DNC list uploaded through the API on one host is checked by a process on another host whose data
directory is empty: the index comes from the shared file store (PostgreSQL) into that host's cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from core.db import ALL_ORGS
from core.runtime import Runtime
from dnc import reasons
from dnc.index_files import DeltaRef, chain_name
from dnc.models import DncList, DncListVersion
from tests.conftest import Tenant, job_worker
from tests.dnc.test_api import upload

AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)

# The other host: its own process and data directory, on the same PostgreSQL and Redis. It answers one
# line of numbers with one line of verdict reasons, so both checks below share one interpreter start.
_OTHER_HOST = """
import json, sys, uuid
from datetime import datetime
from core.runtime import Runtime, set_runtime
from dnc.engine import ComplianceEngine
from dnc.verdicts import LeadContext

runtime = Runtime.start()
set_runtime(runtime)
engine = ComplianceEngine.load(runtime.db, uuid.UUID(sys.argv[1]))
for line in sys.stdin:
    verdicts = engine.check([LeadContext(e) for e in json.loads(line)], datetime.fromisoformat(sys.argv[2]))
    print(json.dumps([list(v.reasons) for v in verdicts]), flush=True)
"""


class OtherHost:
    def __init__(self, runtime: Runtime, home: Path, repo_root: Path, tenant: Tenant) -> None:
        env = {
            **os.environ,
            "CLEARLINE_HOME": str(home),
            "DATABASE_URL": runtime.database_url,
            "REDIS_URL": runtime.redis_url,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", _OTHER_HOST, str(tenant.id), AT.isoformat()],
            cwd=repo_root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def check(self, *e164s: str) -> list[list[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(e164s) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the other host's process ended (exit {self.process.wait()})"
        result: list[list[str]] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def dnc_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    with job_worker("dnc") as worker:
        yield worker


def test_a_list_uploaded_through_the_api_blocks_its_numbers_on_a_host_with_an_empty_data_dir(
    runtime: Runtime, client: TestClient, tenant: Tenant, dnc_worker: dramatiq.Worker, tmp_path: Path,
    repo_root: Path,
) -> None:  # fmt: skip
    job = upload(client, tenant, b"2025550143\n2025550144\n", kind="national", obtained_at=AT.isoformat())
    assert job["status"] == "succeeded", job
    other_home = tmp_path / "dialer-host"
    other_home.mkdir(mode=0o700)
    other = OtherHost(runtime, other_home, repo_root, tenant)
    try:
        _check_both_versions(runtime, client, tenant, other, other_home, repo_root)
    finally:
        other.stop()


def _national_versions(runtime: Runtime, tenant: Tenant) -> list[DncListVersion]:
    with runtime.db.session(ALL_ORGS) as s:
        return list(
            s.scalars(
                select(DncListVersion)
                .join(DncList, DncList.id == DncListVersion.list_id)
                .where(DncList.owner_org_id == tenant.id, DncList.kind == "national")
                .order_by(DncListVersion.seq)
            )
        )


def _check_both_versions(
    runtime: Runtime, client: TestClient, tenant: Tenant, other: OtherHost, other_home: Path, repo_root: Path
) -> None:
    listed, unlisted = "+12025550143", "+12025550150"
    assert other.check(listed, unlisted) == [
        [reasons.NATIONAL_DNC],
        [],
    ]
    # (Other national lists the database holds from earlier tests are fetched too: only ours is asserted.)
    fetched = {p.name for p in (other_home / "cache" / "dnc-index").iterdir() if p.name != "building"}
    [first] = _national_versions(runtime, tenant)
    assert first.index_sha256 in fetched and not (other_home / "dnc" / "lists").exists()

    # A change list uploaded on the API host reaches the other host's running engine too: the new
    # version is fetched by its content hash.
    job = upload(
        client, tenant, b"2025550143,D\n2025550150,A\n", kind="national", change_list="true",
        obtained_at=AT.isoformat(),
    )  # fmt: skip
    assert job["status"] == "succeeded", job
    assert other.check(listed, unlisted) == [
        [],
        [reasons.NATIONAL_DNC],
    ]
    cached = {p.name for p in (other_home / "cache" / "dnc-index").iterdir() if p.name != "building"}
    # The change list is stored as a small delta on the first version's pack, not as a pack of its own:
    # the other host built its copy from its cached base plus the delta, under the chain's name.
    full, changed = _national_versions(runtime, tenant)
    assert (changed.index_dir, changed.index_sha256) == (full.index_dir, full.index_sha256)
    [delta] = [DeltaRef.from_json(d) for d in changed.index_deltas]
    assert runtime.files.stat(delta.key).size == delta.size < 200  # its header and two int64 numbers
    assert runtime.files.exists(full.index_dir)  # kept: the current version is built from it
    assert full.index_sha256 is not None
    assert cached - fetched == {chain_name(full.index_sha256, [delta])}

    # A delta that is not what the database recorded blocks the list on a host that has to build it.
    third_home = other_home.parent / "third-host"
    third_home.mkdir(mode=0o700)
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(
            update(DncListVersion)
            .where(DncListVersion.id == changed.id)
            .values(index_deltas=[{**delta.as_json(), "sha256": "0" * 64}])
        )
    third = OtherHost(runtime, third_home, repo_root, tenant)
    try:
        assert third.check(listed, unlisted) == [[reasons.LIST_INDEX_STALE]] * 2
    finally:
        third.stop()
        with runtime.db.session(ALL_ORGS) as s:
            s.execute(
                update(DncListVersion)
                .where(DncListVersion.id == changed.id)
                .values(index_deltas=[delta.as_json()])
            )
    # The deltas are checked before the base is fetched or copied: nothing half-built is left behind.
    # (Other national lists of the database may be fetched: only this list's entries are asserted.)
    root = third_home / "cache" / "dnc-index"
    ours = [root / full.index_sha256, root / chain_name(full.index_sha256, [delta]), root / "building"]
    assert [p for entry in ours for p in entry.rglob("*") if p.is_file()] == []
