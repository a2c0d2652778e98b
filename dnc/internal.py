"""The entity-specific (internal) DNC list and area-code blocks: rows in PostgreSQL, written by agents'
dispositions, the opt-out key, compliance staff and imports; read by the engine at every check.

Small batches (the dial-time check) look their numbers up by index at every check. Large batches load the
whole list, cached per process and reloaded whenever the organization's (row count, highest id) changed.
Either way an addition committed by any process is refused at the very next check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.db import scope_of, utcnow
from core.errors import NotFoundError, PermissionDeniedError, ValidationError
from core.models import Role
from core.webhooks import OPT_OUT_RECORDED
from core.webhooks.events import emit
from dnc.models import AreaCodeBlock, DncRemoval, InternalDncEntry, InternalDncVersion
from dnc.normalize import is_e164, normalize_number
from dnc.policy import check_area_code

SOURCES = ("agent", "opt_out_key", "compliance", "import", "api", "privacy_request")


def _org_scope(session: Session) -> uuid.UUID:
    scope = scope_of(session)
    if scope.org_id is None:
        raise ValidationError(
            "internal DNC entries must be written from a session scoped to one organization"
        )
    return scope.org_id


def bump_version(session: Session) -> int:
    """The organization's next internal-list version (+1), taken under a row lock held until the change
    commits, so versions follow the order changes commit in."""
    org_id = _org_scope(session)
    statement = (
        pg_insert(InternalDncVersion)
        .values(id=uuid.uuid4(), org_id=org_id, seq=1)
        .on_conflict_do_update(index_elements=["org_id"], set_={"seq": InternalDncVersion.seq + 1})
        .returning(InternalDncVersion.seq)
    )
    return int(session.execute(statement).scalar_one())


def current_version(session: Session) -> int:
    """The organization's internal-list version now (0: never changed)."""
    return int(session.scalars(select(InternalDncVersion.seq)).one_or_none() or 0)


def version_label(seq: int, entries: int, blocks: int) -> str:
    """The internal list's version as evidence records it: the organization's own counter (reproducible
    with `list_at`), with the sizes for the reader."""
    return f"v{seq} ({entries} entries, {blocks} area-code blocks)"


def list_at(session: Session, seq: int) -> tuple[set[tuple[str, str | None]], set[tuple[str, str | None]]]:
    """The internal list as it was at version `seq`: (numbers, area codes), each with its campaign (None:
    organization-wide). Entries and blocks added at or before it, and those removed after it."""
    numbers = {
        (e164, str(c) if c else None)
        for e164, c in session.execute(
            select(InternalDncEntry.e164, InternalDncEntry.campaign_id).where(
                InternalDncEntry.added_seq <= seq
            )
        )
    }
    codes = {
        (code, str(c) if c else None)
        for code, c in session.execute(
            select(AreaCodeBlock.area_code, AreaCodeBlock.campaign_id).where(AreaCodeBlock.added_seq <= seq)
        )
    }
    removed = session.execute(
        select(DncRemoval.kind, DncRemoval.value, DncRemoval.campaign_id).where(
            DncRemoval.added_seq > 0, DncRemoval.added_seq <= seq, DncRemoval.removed_seq > seq
        )
    )
    for kind, value, c in removed:
        (numbers if kind == "number" else codes).add((value, str(c) if c else None))
    return numbers, codes


# Sources that record the person's own request (their key press, what they told the agent): such an opt-out
# is removed only by compliance staff or an org admin, with the reason (e.g. written consent obtained).
PERSON_SOURCES = frozenset({"agent", "opt_out_key", "privacy_request"})  # privacy_request: a deletion request
REMOVER_ROLES = frozenset({Role.ORG_ADMIN, Role.COMPLIANCE})


def add_internal_dnc(
    session: Session,
    *,
    e164: str,
    campaign_id: uuid.UUID | None,
    source: str,
    reason: str,
    added_by: uuid.UUID | None,
) -> bool:
    """Record a do-not-call request (organization-wide when `campaign_id` is None). Effective for every
    check that starts after the caller's transaction commits. A number already listed in that scope keeps
    its first entry: returns whether a new entry was made."""
    org_id = _org_scope(session)
    if source not in SOURCES:
        raise ValidationError(f"unknown DNC source {source}; one of {', '.join(SOURCES)}", field="source")
    number = e164 if is_e164(e164) else normalize_number(e164).e164
    if number is None:
        raise ValidationError(f"{e164} is not a phone number", field="e164")
    inserted = session.execute(
        pg_insert(InternalDncEntry)
        .values(
            org_id=org_id,
            e164=number,
            campaign_id=campaign_id,
            source=source,
            reason=reason,
            added_by=added_by,
            added_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(InternalDncEntry.id)
    ).first()
    if inserted is None:
        return False
    seq = bump_version(session)
    session.execute(update(InternalDncEntry).where(InternalDncEntry.id == inserted[0]).values(added_seq=seq))
    emit(
        session, org_id=org_id, event_type=OPT_OUT_RECORDED,
        data={"entry_id": inserted[0], "e164": number, "campaign_id": campaign_id, "source": source,
              "added_by": added_by},
    )  # fmt: skip
    return True


def add_area_code_block(
    session: Session,
    *,
    area_code: str,
    campaign_id: uuid.UUID | None,
    reason: str,
    added_by: uuid.UUID | None,
) -> bool:
    """Block an area code (organization-wide or for one campaign); returns whether it was new."""
    org_id = _org_scope(session)
    check_area_code(area_code, "area_code")
    inserted = session.execute(
        pg_insert(AreaCodeBlock)
        .values(
            org_id=org_id,
            area_code=area_code,
            campaign_id=campaign_id,
            reason=reason,
            added_by=added_by,
            added_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(AreaCodeBlock.id)
    ).first()
    if inserted is None:
        return False
    seq = bump_version(session)
    session.execute(update(AreaCodeBlock).where(AreaCodeBlock.id == inserted[0]).values(added_seq=seq))
    return True


def area_code_blocks(session: Session) -> list[AreaCodeBlock]:
    return list(session.scalars(select(AreaCodeBlock).order_by(AreaCodeBlock.area_code, AreaCodeBlock.id)))


def _check_remover(role: Role) -> None:
    if role not in REMOVER_ROLES and role is not Role.PLATFORM_ADMIN:
        raise PermissionDeniedError("only compliance staff or an org admin may remove DNC entries")


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError("say why the entry is removed (kept in its history): ?reason=", field="reason")
    return reason


def remove_internal_dnc(
    session: Session, entry_id: int, *, removed_by: uuid.UUID | None, role: Role, reason: str
) -> DncRemoval:
    """Remove an internal DNC entry, keeping its history (what it was, who added it, who removed it, when
    and why). Only compliance staff and org admins may (an agent never removes a person's opt-out)."""
    _check_remover(role)
    entry = session.scalars(select(InternalDncEntry).where(InternalDncEntry.id == entry_id)).one_or_none()
    if entry is None:
        raise NotFoundError(f"internal DNC entry {entry_id} not found")
    return _remove(session, entry, "number", entry.e164, entry.source, removed_by, _check_reason(reason))


def remove_area_code_block(
    session: Session, block_id: int, *, removed_by: uuid.UUID | None, role: Role, reason: str
) -> DncRemoval:
    """Remove an area-code block, keeping its history (as `remove_internal_dnc`)."""
    _check_remover(role)
    block = session.scalars(select(AreaCodeBlock).where(AreaCodeBlock.id == block_id)).one_or_none()
    if block is None:
        raise NotFoundError(f"area-code block {block_id} not found")
    return _remove(session, block, "area_code", block.area_code, "", removed_by, _check_reason(reason))


def _remove(
    session: Session,
    row: InternalDncEntry | AreaCodeBlock,
    kind: str,
    value: str,
    source: str,
    removed_by: uuid.UUID | None,
    reason: str,
) -> DncRemoval:
    removal = DncRemoval(
        org_id=row.org_id,
        kind=kind,
        value=value,
        campaign_id=row.campaign_id,
        source=source,
        reason=row.reason,
        added_by=row.added_by,
        added_at=row.added_at,
        removed_by=removed_by,
        removal_reason=reason,
        added_seq=row.added_seq,
        removed_seq=bump_version(session),
    )
    session.add(removal)
    session.delete(row)
    session.flush()
    return removal


def removals(session: Session, *, value: str | None = None, limit: int = 100) -> list[DncRemoval]:
    """Removed entries and blocks, newest first."""
    query = select(DncRemoval).order_by(DncRemoval.id.desc()).limit(max(1, min(limit, 1000)))
    if value:
        query = query.where(DncRemoval.value == value)
    return list(session.scalars(query))


def internal_entries(
    session: Session, *, e164: str | None = None, limit: int = 100
) -> list[InternalDncEntry]:
    """The organization's internal DNC entries, newest first (only this number's, when given: E.164 or
    any format `normalize_number` reads, e.g. "(202) 555-0143")."""
    query = select(InternalDncEntry).order_by(InternalDncEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if e164:
        number = e164 if is_e164(e164) else normalize_number(e164).e164
        if number is None:
            raise ValidationError(f"{e164} is not a phone number", field="e164")
        query = query.where(InternalDncEntry.e164 == number)
    return list(session.scalars(query))


def e164_key(e164: str) -> int:
    """Integer key of an E.164 number (its digits), comparable across every list."""
    return int(e164[1:])


@dataclass
class AreaCodeBlocks:
    version: tuple[int, int] = (-1, -1)
    org_codes: frozenset[int] = frozenset()
    campaign_codes: dict[str, frozenset[int]] = field(default_factory=dict)


@dataclass
class InternalSet:
    """Internal entries relevant to a batch as sorted integer keys (organization-wide and per campaign),
    with the area-code blocks; `label` says which state of the table they reflect."""

    label: str = ""
    org_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    campaign_keys: dict[str, np.ndarray] = field(default_factory=dict)
    blocks: AreaCodeBlocks = field(default_factory=AreaCodeBlocks)

    @property
    def org_area_codes(self) -> frozenset[int]:
        return self.blocks.org_codes

    @property
    def campaign_area_codes(self) -> dict[str, frozenset[int]]:
        return self.blocks.campaign_codes


def entries_version(session: Session) -> tuple[int, int]:
    """(count, highest id) of the organization's entries: changes with every addition or removal."""
    row = session.execute(
        select(func.count(InternalDncEntry.id), func.coalesce(func.max(InternalDncEntry.id), 0))
    ).one()
    return int(row[0]), int(row[1])


def blocks_version(session: Session) -> tuple[int, int]:
    row = session.execute(
        select(func.count(AreaCodeBlock.id), func.coalesce(func.max(AreaCodeBlock.id), 0))
    ).one()
    return int(row[0]), int(row[1])


def load_blocks(session: Session, version: tuple[int, int]) -> AreaCodeBlocks:
    org_codes: set[int] = set()
    campaign_codes: dict[str, set[int]] = {}
    for area_code, campaign_id in session.execute(select(AreaCodeBlock.area_code, AreaCodeBlock.campaign_id)):
        if campaign_id is None:
            org_codes.add(int(area_code))
        else:
            campaign_codes.setdefault(str(campaign_id), set()).add(int(area_code))
    return AreaCodeBlocks(version, frozenset(org_codes), {k: frozenset(v) for k, v in campaign_codes.items()})


def _keys(rows: Iterable[tuple[str, uuid.UUID | None]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    org: list[int] = []
    by_campaign: dict[str, list[int]] = {}
    for e164, campaign_id in rows:
        if campaign_id is None:
            org.append(e164_key(e164))
        else:
            by_campaign.setdefault(str(campaign_id), []).append(e164_key(e164))
    return (
        np.unique(np.array(org, dtype=np.int64)),
        {k: np.unique(np.array(v, dtype=np.int64)) for k, v in by_campaign.items()},
    )


def load_all_entries(session: Session) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every entry of the organization (bulk checks, cached between checks by `entries_version`)."""
    return _keys(session.execute(select(InternalDncEntry.e164, InternalDncEntry.campaign_id)).tuples())


def load_entries_for(session: Session, e164s: Iterable[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Only the entries of these numbers, by index (small batches: the dial-time check)."""
    wanted = sorted(set(e164s))
    if not wanted:
        return _keys([])
    query = select(InternalDncEntry.e164, InternalDncEntry.campaign_id).where(
        InternalDncEntry.e164.in_(wanted)
    )
    return _keys(session.execute(query).tuples())


@dataclass(frozen=True)
class NumberHistory:
    """A number's internal DNC entries now and the ones removed earlier (who, when, why)."""

    e164: str
    entries: list[InternalDncEntry]
    removed: list[DncRemoval]


def number_history(session: Session, phone: str) -> NumberHistory:
    """A number as a person types it: its entries and its removal history (the console's search)."""
    number = phone if is_e164(phone) else normalize_number(phone).e164
    if number is None:
        raise ValidationError(f"{phone} is not a phone number", field="phone")
    return NumberHistory(number, internal_entries(session, e164=number), removals(session, value=number))


def is_persons_request(entry: InternalDncEntry) -> bool:
    """An opt-out the person made (key press, told the agent): never removed by an agent."""
    return entry.source in PERSON_SOURCES
