"""Importing lists: each import is a new version (full copy or change list) recorded in PostgreSQL, with
the numbers themselves in an index packed into the shared file store (`dnc.index_files`), where every
host's checks fetch it from.

A full import builds a fresh index, stores it, and switches the list's current version to it in one
transaction; a change list is validated completely, then stored (while the list row is locked) as a
small delta on the current version's base pack, which every host replays onto its cached base; a chain
grown too long is compacted into a full pack again (`needs_compaction`). A malformed file leaves no trace:
nothing is recorded and the stored pack of a version that was not recorded is deleted again.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core import audit
from core.db import ALL_ORGS, Database, Scope, utcnow
from core.errors import ConflictError, ValidationError
from core.file_limits import LIMITS, bounded_lines
from core.file_store import stash_upload
from core.jobs import create_job
from core.runtime import current_runtime
from dnc import bitmap_index, index_files
from dnc.dated_index import write_dated_index
from dnc.freshness import is_stale, max_age
from dnc.internal import bump_version
from dnc.models import DncList, DncListVersion, InternalDncEntry
from dnc.nanp import STATE_ZONES
from dnc.normalize import normalize_number
from dnc.registry_files import (
    MAX_ERRORS,
    LineError,
    MalformedFileError,
    parse_dated_file,
    parse_number_file,
)

LIST_KINDS = ("national", "state", "litigator", "wireless", "reassigned")
IMPORT_KINDS = (*LIST_KINDS, "internal")
INTERNAL_BATCH = 10_000

Progress = Callable[[float, dict[str, Any]], None]

# A copy cannot have been downloaded after the moment it is imported; this much clock skew between the
# machine that downloaded it and this one is tolerated.
OBTAINED_AT_SKEW = timedelta(minutes=5)
# A full import that keeps fewer than this share of the current copy's numbers needs replace_smaller:
# a truncated download must not silently replace a complete registry.
SHRINK_FLOOR = 0.5


def data_dir() -> Path:
    return current_runtime().settings.home / "dnc"


def upload_dir() -> Path:
    """Where an uploaded list file waits for its import job."""
    return data_dir() / "incoming"


def check_import_kind(kind: str) -> str:
    if kind not in IMPORT_KINDS:
        raise ValidationError(f"unknown list kind {kind}; one of {', '.join(IMPORT_KINDS)}", field="kind")
    return kind


def queue_list_import(
    db: Database,
    *,
    org_id: uuid.UUID,
    kind: str,
    path: Path,
    state: str | None = None,
    change_list: bool = False,
    campaign_id: uuid.UUID | None = None,
    obtained_at: datetime | None = None,
    source_name: str = "upload.txt",
    imported_by: uuid.UUID | None = None,
    replace_smaller: bool = False,
) -> uuid.UUID:
    """Queue the import of an uploaded file into an organization's list; returns the job id. The file is
    moved into the shared store (the job may run on another host), and the job deletes it whatever the
    outcome; so does this function if the job cannot be queued."""
    store = current_runtime().files
    file_key = None
    try:
        check_import_kind(kind)
        file_key = stash_upload(store, path, org_id=org_id)
        params = {
            "file_key": file_key,
            "kind": kind,
            "state": state,
            "change_list": change_list,
            "campaign_id": str(campaign_id) if campaign_id else None,
            "obtained_at": obtained_at.isoformat() if obtained_at else None,
            "org_id": str(org_id),
            "user_id": str(imported_by) if imported_by else None,
            "source_name": Path(source_name).name[:200],
            "replace_smaller": replace_smaller,
        }
        job_id = create_job(
            db, Scope(org_id), kind=f"dnc.import.{kind}", params=params, created_by=imported_by
        )
    except BaseException:
        path.unlink(missing_ok=True)
        if file_key is not None:
            store.delete(file_key)
        raise
    from dnc import tasks

    tasks.import_list_job.send(str(job_id), params)
    return job_id


@dataclass(frozen=True)
class ImportResult:
    kind: str
    scope: str
    list_id: uuid.UUID | None
    version_id: uuid.UUID | None
    seq: int
    record_count: int
    added: int
    deleted: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in self.__dict__.items()}


def _no_progress(pct: float, counts: dict[str, Any]) -> None:
    return None


def _validate(kind: str, state: str | None, change_list: bool) -> str:
    if kind not in IMPORT_KINDS:
        raise ValidationError(f"unknown list kind {kind!r}; one of {', '.join(IMPORT_KINDS)}", field="kind")
    if kind == "state":
        if not state or state.upper() not in STATE_ZONES:
            raise ValidationError("a state list needs --state with a two-letter US state", field="state")
        return state.upper()
    if state:
        raise ValidationError(f"--state applies only to state lists, not {kind}", field="state")
    if change_list and kind in ("reassigned", "internal"):
        raise ValidationError(f"{kind} lists are imported whole, not as change lists", field="change_list")
    return ""


def check_obtained_at(obtained_at: datetime, now: datetime) -> datetime:
    """The copy's download time, refused when it lies in the future (every freshness check would then
    pass for ever, or fail closed once the clock is fixed)."""
    when = obtained_at if obtained_at.tzinfo else obtained_at.replace(tzinfo=UTC)
    if when > now + OBTAINED_AT_SKEW:
        raise ValidationError(
            f"obtained_at {when.isoformat()} is in the future (now {now.isoformat(timespec='seconds')}); "
            "give the time the copy was downloaded",
            field="obtained_at",
        )
    return when


def check_shrink(kind: str, current_count: int | None, new_count: int, *, replace_smaller: bool) -> None:
    """Refuse a full copy that would shrink the list by more than half, unless asked for explicitly."""
    if replace_smaller or current_count is None or new_count >= current_count * SHRINK_FLOOR:
        return
    raise ConflictError(
        f"the new {kind} copy has {new_count} numbers, fewer than half of the current {current_count}; "
        "if that is intended, import it again with --replace-smaller (API: replace_smaller=true)"
    )


def _list_row(session: Session, kind: str, scope: str, owner_org_id: uuid.UUID | None) -> DncList:
    owner = DncList.owner_org_id.is_(None) if owner_org_id is None else DncList.owner_org_id == owner_org_id
    found = session.scalars(
        select(DncList).where(DncList.kind == kind, DncList.scope == scope, owner).with_for_update()
    ).one_or_none()
    if found is not None:
        return found
    row = DncList(kind=kind, scope=scope, owner_org_id=owner_org_id)
    session.add(row)
    session.flush()
    return row


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def import_list_file(
    db: Database,
    *,
    kind: str,
    path: Path,
    owner_org_id: uuid.UUID | None = None,
    state: str | None = None,
    change_list: bool = False,
    obtained_at: datetime | None = None,
    imported_by: uuid.UUID | None = None,
    source_name: str | None = None,
    campaign_id: uuid.UUID | None = None,
    progress: Progress = _no_progress,
    replace_smaller: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import one file as a new version of a list (or, for `internal`, as internal DNC entries).

    A full copy that would shrink the list by more than half is refused unless `replace_smaller`."""
    scope = _validate(kind, state, change_list)
    now = now or utcnow()
    obtained = check_obtained_at(obtained_at, now) if obtained_at is not None else now
    source = source_name or path.name
    if kind == "internal":
        if owner_org_id is None:
            raise ValidationError("internal DNC entries belong to an organization: give --org", field="org")
        return import_internal_file(
            db,
            org_id=owner_org_id,
            path=path,
            campaign_id=campaign_id,
            added_by=imported_by,
            progress=progress,
        )
    if change_list:
        return _import_change_list(
            db, kind, scope, owner_org_id, path, source, obtained, imported_by, progress
        )
    return _import_full(
        db, kind, scope, owner_org_id, path, source, obtained, imported_by, progress, replace_smaller
    )


def _next_seq(session: Session, list_id: uuid.UUID) -> int:
    return (
        int(
            session.scalar(
                select(func.coalesce(func.max(DncListVersion.seq), 0)).where(
                    DncListVersion.list_id == list_id
                )
            )
        )
        + 1
    )


def _import_full(
    db: Database,
    kind: str,
    scope: str,
    owner_org_id: uuid.UUID | None,
    path: Path,
    source: str,
    obtained: datetime,
    imported_by: uuid.UUID | None,
    progress: Progress,
    replace_smaller: bool,
) -> ImportResult:
    with db.session(ALL_ORGS) as s:
        list_id = _list_row(s, kind, scope, owner_org_id).id
        seq = _next_seq(s, list_id)
    runtime = current_runtime()
    directory = index_files.work_dir(runtime.settings.home)
    key = _index_key(list_id, seq)
    stored = None
    hashing = ThreadPoolExecutor(max_workers=1)
    digest_future = hashing.submit(_sha256, path)  # hashlib releases the GIL: overlaps with parsing
    try:
        if kind == "reassigned":
            numbers, days = parse_dated_file(path)
            count = write_dated_index(directory, seq, numbers, days)
        else:
            builder = bitmap_index.IndexBuilder(directory, seq)
            for chunk in parse_number_file(path, change_list=False):
                builder.add(chunk.numbers)
                progress(
                    90.0 * chunk.bytes_read / max(chunk.total_bytes, 1), {"bytes_read": chunk.bytes_read}
                )
            count = builder.finish()
        digest = digest_future.result()
        stored = index_files.publish(runtime.files, runtime.settings.home, directory, key, owner_org_id)
        with db.session(ALL_ORGS) as s:
            row = _list_row(s, kind, scope, owner_org_id)
            if _next_seq(s, list_id) != seq:
                raise ConflictError(f"another import into the {kind} list finished first; retry")
            current = s.get(DncListVersion, row.current_version_id) if row.current_version_id else None
            check_shrink(
                kind, current.record_count if current else None, count, replace_smaller=replace_smaller
            )
            version = DncListVersion(
                list_id=list_id,
                seq=seq,
                change_list=False,
                source_file=source,
                source_sha256=digest,
                record_count=count,
                added=count,
                deleted=0,
                obtained_at=obtained,
                imported_by=imported_by,
                index_dir=key,
                index_sha256=stored.sha256,
            )
            s.add(version)
            s.flush()
            row.current_version_id = version.id
            version_id = version.id
            replaced = current
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        if stored is not None:
            runtime.files.delete(key)
        raise
    finally:
        hashing.shutdown(wait=True)
    _remove_replaced(replaced, keep={key})
    return ImportResult(kind, scope, list_id, version_id, seq, count, count, 0)


def _index_key(list_id: uuid.UUID, seq: int) -> str:
    return f"dnc/lists/{list_id}/v{seq}-{uuid.uuid4().hex[:8]}.pack"


def _stored_keys(version: DncListVersion) -> set[str]:
    """The store files a version's index is made of: its pack (or base pack) and its deltas."""
    return {version.index_dir, *(str(d["key"]) for d in version.index_deltas or [])}


def _remove_replaced(version: DncListVersion | None, *, keep: set[str]) -> None:
    """The index files of a version that is no longer current are not needed any more, except those the
    new version is built from too (`keep`: the base pack and earlier deltas of a chain). The row stays
    (what was imported when), and processes that still map their cached copy keep their mapping."""
    if version is None:
        return
    if version.index_sha256 is None:  # kept on the importing host's disk before the shared store
        shutil.rmtree(data_dir() / version.index_dir, ignore_errors=True)
        return
    for key in sorted(_stored_keys(version) - keep):
        current_runtime().files.delete(key)


def _import_change_list(
    db: Database,
    kind: str,
    scope: str,
    owner_org_id: uuid.UUID | None,
    path: Path,
    source: str,
    obtained: datetime,
    imported_by: uuid.UUID | None,
    progress: Progress,
) -> ImportResult:
    adds: list[np.ndarray] = []
    deletes: list[np.ndarray] = []
    for chunk in parse_number_file(path, change_list=True):  # the whole file is validated before any change
        assert chunk.is_add is not None
        adds.append(chunk.numbers[chunk.is_add])
        deletes.append(chunk.numbers[~chunk.is_add])
        progress(50.0 * chunk.bytes_read / max(chunk.total_bytes, 1), {"bytes_read": chunk.bytes_read})
    add_array, delete_array = bitmap_index.normalized_changes(
        np.concatenate(adds) if adds else np.zeros(0, dtype=np.int64),
        np.concatenate(deletes) if deletes else np.zeros(0, dtype=np.int64),
    )
    digest = _sha256(path)
    with db.session(ALL_ORGS) as s:
        row = _list_row(s, kind, scope, owner_org_id)  # locked until commit: change lists apply one at a time
        current = s.get(DncListVersion, row.current_version_id) if row.current_version_id else None
        if current is None:
            raise ValidationError(
                f"the {kind} list has no full copy yet: import a full list before a change list",
                field="change_list",
            )
        runtime = current_runtime()
        seq = _next_seq(s, row.id)
        delta = index_files.Delta(current.seq, seq, add_array, delete_array)
        chain = _delta_chain(current)
        stored_keys: list[str] = []
        try:
            if chain is None or needs_compaction(
                [d.size for d in chain], _delta_bytes(delta), runtime.files.stat(current.index_dir).size
            ):
                directory = _private_copy(current)
                try:
                    result = bitmap_index.apply_changes(
                        directory, from_seq=current.seq, to_seq=seq, adds=add_array, deletes=delete_array
                    )
                    key = _index_key(row.id, seq)
                    stored = index_files.publish(
                        runtime.files, runtime.settings.home, directory, key, owner_org_id
                    )
                finally:
                    shutil.rmtree(directory, ignore_errors=True)  # gone already once published (adopted)
                stored_keys.append(key)
                base_key, base_sha256, deltas = key, stored.sha256, []
            else:
                assert current.index_sha256 is not None
                result = _change_counts(current, chain, delta)
                ref = index_files.publish_delta(runtime.files, delta, _delta_key(row.id, seq), owner_org_id)
                stored_keys.append(ref.key)
                base_key, base_sha256, deltas = current.index_dir, current.index_sha256, [*chain, ref]
            version = DncListVersion(
                list_id=row.id,
                seq=seq,
                change_list=True,
                source_file=source,
                source_sha256=digest,
                record_count=result.count,
                added=result.added,
                deleted=result.deleted,
                obtained_at=obtained,
                imported_by=imported_by,
                index_dir=base_key,
                index_sha256=base_sha256,
                index_deltas=[d.as_json() for d in deltas],
            )
            s.add(version)
            s.flush()
            row.current_version_id = version.id
            s.commit()
        except BaseException:
            for key in stored_keys:
                runtime.files.delete(key)
            raise
    _remove_replaced(current, keep=_stored_keys(version))
    return ImportResult(kind, scope, row.id, version.id, seq, result.count, result.added, result.deleted)


# A change list is stored as a delta on the current version's base pack unless the chain would then be
# longer than MAX_DELTAS, or its deltas together larger than MAX_DELTA_SHARE of the base pack: then the
# new version is stored as a full pack again (compaction). Every host builds a chained version by
# copying its base and replaying the deltas, so the chain bounds that work (a daily national change list
# of ~1 M records is ~8 MB against a ~370 MB base: compacted about once a week) while a change list
# costs its own size in the database, not the whole index's.
MAX_DELTAS = 7
MAX_DELTA_SHARE = 0.25


def needs_compaction(chain_sizes: list[int], new_delta_bytes: int, base_bytes: int) -> bool:
    """Whether a new change list on a chain of deltas (`chain_sizes`, bytes) over a base pack of
    `base_bytes` is stored as a full pack instead of one more delta."""
    if len(chain_sizes) + 1 > MAX_DELTAS:
        return True
    return sum(chain_sizes) + new_delta_bytes > MAX_DELTA_SHARE * base_bytes


def _delta_bytes(delta: index_files.Delta) -> int:
    return 8 * (len(delta.adds) + len(delta.deletes))


def _delta_chain(version: DncListVersion) -> list[index_files.DeltaRef] | None:
    """The deltas a version is stored as (empty: a full pack); None for a version kept on one host's
    disk before the shared store, which cannot carry a delta."""
    if version.index_sha256 is None:
        return None
    return [index_files.DeltaRef.from_json(d) for d in version.index_deltas or []]


def _change_counts(
    current: DncListVersion, chain: list[index_files.DeltaRef], delta: index_files.Delta
) -> bitmap_index.ChangeResult:
    """What applying `delta` to the current version changes, counted as `bitmap_index.apply_changes`
    does, from the cached base and the chain's deltas (no copy of the index is written)."""
    assert current.index_sha256 is not None
    runtime = current_runtime()
    store, home = runtime.files, runtime.settings.home
    earlier = [index_files.unpack_delta(store.open(d.key), d.sha256, d.key) for d in chain]
    held = index_files.local_index(store, home, current.index_dir, current.index_sha256)
    try:
        bits = np.memmap(
            held.directory / "bits.u8", dtype=np.uint8, mode="r", shape=(bitmap_index.FILE_BYTES,)
        )
        changes = [(d.adds, d.deletes) for d in earlier]
        added = int((~bitmap_index.contains_after(bits, changes, delta.adds)).sum())
        deleted = int(bitmap_index.contains_after(bits, changes, delta.deletes).sum())
        del bits
    finally:
        held.release()
    return bitmap_index.ChangeResult(added, deleted, current.record_count + added - deleted)


def _delta_key(list_id: uuid.UUID, seq: int) -> str:
    return f"dnc/lists/{list_id}/v{seq}-{uuid.uuid4().hex[:8]}.delta"


def _private_copy(version: DncListVersion) -> Path:
    """A writable copy of a version's index, to apply a change list to."""
    runtime = current_runtime()
    home = runtime.settings.home
    chain = _delta_chain(version)
    if version.index_sha256 is not None and chain is not None:
        return index_files.copy_of(runtime.files, home, version.index_dir, version.index_sha256, chain)
    target = index_files.work_dir(home)  # a version kept on this host's disk before the shared store
    index_files.unpack(index_files.pack(data_dir() / version.index_dir), target)
    return target


IMPORTING = -1  # an imported entry's added_seq until the import takes its version


def import_internal_file(
    db: Database,
    *,
    org_id: uuid.UUID,
    path: Path,
    campaign_id: uuid.UUID | None = None,
    added_by: uuid.UUID | None = None,
    reason: str = "imported",
    progress: Progress = _no_progress,
) -> ImportResult:
    """Internal DNC entries from a file of numbers (first CSV column; messy formats are normalized).

    Read line by line under the list-file limits and inserted in batches inside one transaction, which
    a bad line rolls back: memory stays bounded and a malformed file adds nothing."""
    errors: list[LineError] = []
    batch: list[dict[str, Any]] = []
    count = 0
    now = utcnow()
    limits = LIMITS
    target = f"campaign:{campaign_id}" if campaign_id else f"org:{org_id}"
    with (
        db.session(Scope(org_id)) as s,
        path.open("rb") as fh,
        audit.bulk(s, action="dnc.internal_entry.imported", target=target, org_id=org_id) as change,
    ):
        lines = bounded_lines(
            fh, max_bytes=limits.max_list_line_bytes, max_rows=limits.max_internal_rows, what="internal lists"
        )
        for line_no, raw in enumerate(lines, start=1):
            cell = raw.split(",", 1)[0].strip().strip('"')
            if not cell or (line_no == 1 and not any(ch.isdigit() for ch in cell)):
                continue  # blank line, or a header
            normalized = normalize_number(cell)
            if normalized.e164 is None:
                errors.append(LineError(line_no, cell, f"not a phone number ({normalized.reason})"))
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            if errors:
                continue  # the file is refused: only look for more bad lines
            batch.append(
                {
                    "org_id": org_id,
                    "e164": normalized.e164,
                    "campaign_id": campaign_id,
                    "source": "import",
                    "reason": reason,
                    "added_by": added_by,
                    "added_at": now,
                    "added_seq": IMPORTING,
                }
            )
            if len(batch) == INTERNAL_BATCH:
                s.execute(pg_insert(InternalDncEntry).on_conflict_do_nothing(), batch)
                count += len(batch)
                batch = []
                progress(min(99.0, 100.0 * line_no / max(limits.max_internal_rows, 1)), {"rows": count})
        if errors:
            raise MalformedFileError(path, errors)  # rolls back every batch inserted so far
        if batch:
            s.execute(pg_insert(InternalDncEntry).on_conflict_do_nothing(), batch)
            count += len(batch)
        # The whole file is one change of the organization's internal-list version, taken last so the
        # version's row lock is held for the final update only (an opt-out meanwhile is not kept waiting).
        s.execute(
            update(InternalDncEntry)
            .where(InternalDncEntry.added_seq == IMPORTING)
            .values(added_seq=bump_version(s))
            .execution_options(synchronize_session=False)
        )
        change.detail = {
            "rows": count,
            "campaign_id": str(campaign_id) if campaign_id else None,
            "reason": reason,
        }
    return ImportResult("internal", "campaign" if campaign_id else "org", None, None, 0, count, count, 0)


def import_numbers(
    db: Database,
    *,
    kind: str,
    numbers: Iterable[str],
    owner_org_id: uuid.UUID | None = None,
    state: str | None = None,
    obtained_at: datetime | None = None,
    workdir: Path | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Convenience for tests and demos: import E.164 or 10-digit numbers as a full copy of a list.

    The caller states the whole new content, so a smaller copy replaces the current one (the shrink guard
    is for files, which can arrive truncated)."""
    target = (workdir or data_dir() / "incoming") / f"{kind}-{uuid.uuid4().hex}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [n.removeprefix("+1") for n in numbers]
    target.write_text("".join(f"{n}\n" for n in lines))
    try:
        return import_list_file(
            db,
            kind=kind,
            path=target,
            owner_org_id=owner_org_id,
            state=state,
            obtained_at=obtained_at,
            replace_smaller=True,
            now=now,
        )
    finally:
        target.unlink(missing_ok=True)


@dataclass(frozen=True)
class Freshness:
    age_days: float | None  # None: the list has no version yet
    max_age_days: float | None  # None: no freshness rule for this kind
    stale: bool  # checks against it fail closed


def freshness(kind: str, obtained_at: datetime | None, at: datetime) -> Freshness:
    """A list version's age and whether it is stale at `at` (the rule the compliance engine applies)."""
    limit = max_age(kind)
    max_days = limit.total_seconds() / 86400 if limit is not None else None
    if obtained_at is None:
        return Freshness(None, max_days, limit is not None)
    age = round((at - obtained_at).total_seconds() / 86400, 2)
    return Freshness(age, max_days, is_stale(kind, obtained_at, at))


def _visible_to(org_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The lists an organization's checks use: its own and the platform-wide ones."""
    platform = DncList.owner_org_id.is_(None)
    return platform if org_id is None else (platform | (DncList.owner_org_id == org_id))


def list_versions(db: Database, org_id: uuid.UUID | None) -> list[tuple[DncList, DncListVersion | None]]:
    """Every list visible to an organization (its own and the platform-wide ones) with its current version."""
    with db.session(ALL_ORGS) as s:
        owner = _visible_to(org_id)
        rows = s.execute(
            select(DncList, DncListVersion)
            .outerjoin(DncListVersion, DncListVersion.id == DncList.current_version_id)
            .where(owner)
            .order_by(DncList.kind, DncList.scope)
        ).all()
        return [(r[0], r[1]) for r in rows]


def list_history(db: Database, org_id: uuid.UUID | None) -> dict[uuid.UUID, list[DncListVersion]]:
    """Every version of every list visible to an organization (as `list_versions`), newest first per
    list, in one query: what was imported when, from which file, with how many numbers."""
    with db.session(ALL_ORGS) as s:
        owner = _visible_to(org_id)
        rows = s.scalars(
            select(DncListVersion)
            .join(DncList, DncList.id == DncListVersion.list_id)
            .where(owner)
            .order_by(DncListVersion.list_id, DncListVersion.seq.desc())
        ).all()
        history: dict[uuid.UUID, list[DncListVersion]] = {}
        for version in rows:
            history.setdefault(version.list_id, []).append(version)
        return history


__all__ = [
    "IMPORT_KINDS",
    "LIST_KINDS",
    "ImportResult",
    "MalformedFileError",
    "import_list_file",
    "import_numbers",
]
