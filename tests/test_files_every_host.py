"""Files one host receives are found by a process on another host whose data directory is empty: the
console's staged lead uploads (previewed and imported anywhere), and uploads no job will read are swept
by the daily retention job. The other host is a second `Runtime` on the same PostgreSQL and Redis with
its own, empty home and its own database connections."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.console.staging import stage, staged, staged_copy, staging_dir, unstage
from campaigns import lead_lists
from campaigns.jobs import create_import_job, run_import_job
from campaigns.models import Lead, LeadList
from clearline.retention import enforce
from core import retention
from core.db import ALL_ORGS, Scope, utcnow
from core.errors import NotFoundError
from core.file_store import UPLOADS_PREFIX, LocalFileStore, stash_upload
from core.models import Job, JobStatus, StoredFileRow
from core.runtime import Runtime
from core.uploads import UploadWriter
from tests.campaigns.conftest import make_world
from tests.conftest import Tenant

LEADS = b"phone,first_name\n2025550143,Ada\n2025550187,Grace\n"


@pytest.fixture
def other_host(runtime: Runtime, tmp_path: Path) -> Iterator[Runtime]:
    home = tmp_path / "other-host"
    home.mkdir(mode=0o700)
    other = Runtime(
        settings=replace(runtime.settings, home=home),
        database_url=runtime.database_url,
        redis_url=runtime.redis_url,
    )
    yield other
    other.db.engine.dispose()


def test_a_console_upload_staged_on_one_host_is_previewed_and_imported_on_another(
    runtime: Runtime, other_host: Runtime, tenant: Tenant
) -> None:
    world = make_world(runtime, tenant)
    user_id = tenant.users["manager"].id
    with UploadWriter(staging_dir(runtime), 1 << 20) as writer:
        writer.write(LEADS)
        upload = writer.finish("leads.csv")
    item = stage(runtime, upload, org_id=tenant.id, campaign_id=world.campaign_id, user_id=user_id)
    assert not upload.path.exists()  # nothing of it is left on the receiving host's disk

    seen = staged(other_host, item.token, user_id)
    assert (seen.file_key, seen.file_name, seen.size) == (item.file_key, "leads.csv", len(LEADS))
    with staged_copy(other_host, seen) as path:
        preview = lead_lists.preview_file(path)
        assert path.read_bytes() == LEADS
    assert not path.exists()
    assert preview.rows[0][0] == "2025550143"

    job_id, list_id = create_import_job(
        other_host,
        org_id=tenant.id,
        campaign_id=world.campaign_id,
        file_key=seen.file_key,
        file_name="leads.csv",
    )
    unstage(other_host, item.token)
    run_import_job(other_host, job_id)
    with runtime.db.session(Scope(tenant.id)) as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == JobStatus.SUCCEEDED, job.error
        assert s.scalars(select(LeadList.id).where(LeadList.id == list_id)).one() == list_id
        assert len(s.scalars(select(Lead.id).where(Lead.list_id == list_id)).all()) == 2
    assert not runtime.files.exists(item.file_key)  # the job consumed it
    with pytest.raises(NotFoundError):
        staged(runtime, item.token, user_id)


def test_an_abandoned_preview_is_removed_with_its_file(runtime: Runtime, tenant: Tenant) -> None:
    world = make_world(runtime, tenant)
    user_id = tenant.users["manager"].id
    with UploadWriter(staging_dir(runtime), 1 << 20) as writer:
        writer.write(LEADS)
        upload = writer.finish("leads.csv")
    item = stage(runtime, upload, org_id=tenant.id, campaign_id=world.campaign_id, user_id=user_id)
    with pytest.raises(NotFoundError):
        staged(runtime, item.token, tenant.users["agent"].id)  # someone else's token finds nothing
    unstage(runtime, item.token, delete_file=True)
    assert not runtime.files.exists(item.file_key)


def test_the_daily_sweep_removes_old_uploads_no_job_will_read(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    now = utcnow()
    age = timedelta(days=retention.STORED_UPLOAD_DAYS)

    def upload(content: bytes) -> str:
        path = tmp_path / f"{uuid.uuid4().hex}.csv"
        path.write_bytes(content)
        return stash_upload(runtime.files, path, org_id=tenant.id)

    abandoned, fresh, still_queued = upload(b"a"), upload(b"b"), upload(b"c")
    with runtime.db.session(ALL_ORGS) as s:
        s.execute(
            update(StoredFileRow)
            .where(StoredFileRow.key.in_([abandoned, still_queued]))
            .values(created_at=now - age - timedelta(minutes=1))
        )
        s.execute(
            update(StoredFileRow)
            .where(StoredFileRow.key == fresh)
            .values(created_at=now - age + timedelta(hours=1))
        )
        s.add(Job(org_id=tenant.id, kind="lead_import", params={"file_key": still_queued}))

    removed = {r.kind: r.count for r in enforce(runtime, now)}
    assert removed["stored_uploads"] >= 1
    assert not runtime.files.exists(abandoned)
    assert runtime.files.exists(fresh) and runtime.files.exists(still_queued)
    assert {r.kind: r.count for r in enforce(runtime, now)}["stored_uploads"] == 0
    for key in (fresh, still_queued):
        runtime.files.delete(key)


def test_the_local_store_lists_old_uploads_by_their_time(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    store.put(f"{UPLOADS_PREFIX}org/a.upload", [b"a"])
    store.put("reports/org/b.csv", [b"b"])
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert store.keys_stored_before(UPLOADS_PREFIX, later) == [f"{UPLOADS_PREFIX}org/a.upload"]
    assert store.keys_stored_before(UPLOADS_PREFIX, later - timedelta(hours=1)) == []


def test_a_safe_harbor_message_kept_on_one_host_is_played_and_downloaded_on_another(
    runtime: Runtime, other_host: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import hashlib
    import wave

    from litestar.testing import TestClient

    from api.app import create_app
    from campaigns.models import Campaign
    from core.runtime import current_runtime, set_runtime
    from dialer.engine.campaign_runs import campaign_run
    from dialer.media import safe_harbor

    world = make_world(runtime, tenant)
    recording = tmp_path / "message.wav"
    with wave.open(str(recording), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(range(256)) * 250)  # 4 s
    content = recording.read_bytes()
    with runtime.db.session(Scope(tenant.id)) as s:
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign is not None
        safe_harbor.set_campaign_message(s, campaign, runtime.files, recording)
        sha = campaign.safe_harbor_sha256
    assert sha == hashlib.sha256(content).hexdigest() and not recording.exists()

    # The line worker's host: its campaign run names a WAV fetched into its own (empty) cache.
    before = current_runtime()
    set_runtime(other_host)
    try:
        with other_host.db.session(Scope(tenant.id)) as s:
            campaign = s.get(Campaign, world.campaign_id)
            assert campaign is not None
            run = campaign_run(other_host.db, campaign, agent_cursor="0", profiles_dir=None)
    finally:
        set_runtime(before)
    played = Path(run.safe_harbor_wav)
    assert played.is_relative_to(other_host.settings.home) and played.read_bytes() == content
    assert run.safe_harbor_sha256 == sha

    # The API on another host downloads the kept copy from the store.
    with TestClient(app=create_app(other_host)) as client:
        r = client.get(f"/api/safe-harbor-messages/{sha}", headers=tenant.headers("compliance"))
    assert r.status_code == 200 and r.content == content, r.text


def test_a_cached_message_is_refused_when_the_store_holds_other_bytes(
    runtime: Runtime, tmp_path: Path
) -> None:
    from core.file_store import FileNotStoredError, cached_copy

    key = f"tests/{uuid.uuid4().hex}.wav"
    runtime.files.put(key, [b"not the recorded bytes"])
    with pytest.raises(FileNotStoredError, match="SHA-256"):
        cached_copy(runtime.files, key, "ab" * 32, tmp_path / "cache", suffix=".wav")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-fetched is left to be played
    runtime.files.delete(key)
