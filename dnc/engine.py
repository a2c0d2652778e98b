"""The one decision function: for a batch of leads and a moment `at`, callable or blocked, with every reason
code that applied and the list versions that matched. Used at import, just before each call, and in reports.

`decide(columns, snapshot, at)` is pure: the snapshot (`ComplianceEngine.snapshot`) holds everything read
from PostgreSQL and the index files (current list versions, the internal DNC list at a reproducible
version, the organization's geo policy, the calling rules), taken at every check so a change made by any
process counts from the next check on. The work per lead is columnar (numpy): numbers become integers,
list membership is a bitmap probe, rules are evaluated once per distinct (time zones, states) group.
`BatchDecision.evidence(i)` is what the check saw and decided for lead i, as stored with a call attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
from phonenumbers import timezone as phone_timezone
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import ValidationError
from core.file_store import FileNotStoredError
from core.legal import REGISTRY_MAX_AGE
from core.runtime import current_runtime
from dnc import reasons
from dnc.bitmap_index import IndexHandle, StaleIndexError
from dnc.calling_window import CallingRuleData, calls_in_last_24h, decide_window
from dnc.caps import CallCap, CapCount, count_caps, parse_call_caps
from dnc.consent import ConsentFact, load_consents
from dnc.dated_index import DatedIndexHandle
from dnc.freshness import ListCopy, StaleList, is_stale, max_age, stale_lists
from dnc.index_files import CachedIndex, DeltaRef, IndexPackError, local_index
from dnc.internal import (
    AreaCodeBlocks,
    InternalSet,
    blocks_version,
    current_version,
    e164_key,
    entries_version,
    load_all_entries,
    load_blocks,
    load_entries_for,
    version_label,
)
from dnc.lead_facts import NO_CONSENT_DAY, LeadColumns
from dnc.lists import data_dir
from dnc.models import CompliancePolicy, DncList, DncListVersion
from dnc.nanp import NumberingPlan, numbering_plan
from dnc.normalize import e164_to_national
from dnc.reassigned import NO as RND_NO
from dnc.reassigned import NOT_QUERIED as RND_NOT_QUERIED
from dnc.reassigned import YES as RND_YES
from dnc.reassigned import LocalReassignedNumbers, ReassignedNumbers, RndAnswers, answer_name
from dnc.state_rules import calling_rules
from dnc.verdicts import (
    CampaignRules,
    CapEvidence,
    ComplianceEvidence,
    Consent,
    ConsentEvidence,
    LeadContext,
    ListChecked,
    ListMatch,
    PeriodCapEvidence,
    ReassignedEvidence,
    ScrubVerdict,
    WindowEvidence,
)

__all__ = [
    "REGISTRY_MAX_AGE",
    "BatchDecision",
    "ComplianceEngine",
    "ComplianceSnapshot",
    "LeadColumns",
    "decide",
]
DIRECT_LOOKUP_MAX = 1000  # batches up to this size look their numbers up instead of loading the whole list
NANP_KEY_BASE = 10_000_000_000  # E.164 key of a NANP number = 1 followed by its 10 national digits
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ActiveList:
    list_id: uuid.UUID
    kind: str
    scope: str
    owner_org_id: uuid.UUID | None
    version_id: uuid.UUID
    seq: int
    obtained_at: datetime
    index_dir: str  # the stored pack's key (dnc.index_files), or a legacy directory under $CLEARLINE_HOME/dnc
    index_sha256: str | None  # the pack's content hash; None for a legacy directory
    index_deltas: tuple[DeltaRef, ...] = ()  # change lists stored as deltas on that pack, in order

    def match(self) -> ListMatch:
        return ListMatch(
            kind=self.kind,
            list_id=str(self.list_id),
            version=str(self.seq),
            version_date=self.obtained_at.date(),
            scope=self.scope or ("org" if self.owner_org_id else "platform"),
        )


@dataclass(frozen=True)
class GeoPolicy:
    allowed_countries: frozenset[str]
    blocked_states: frozenset[str]
    blocked_area_codes: frozenset[int]
    unknown_is_wireless: bool = True  # fail closed: a number nobody knows the line type of needs consent
    revoke_all: bool = False  # a revocation stops every seller's calls
    call_caps: tuple[CallCap, ...] = ()  # the organization's per-period caps (dnc.caps)


@dataclass(frozen=True)
class VerdictParts:
    """Everything of a verdict that many leads share."""

    callable: bool
    reasons: tuple[str, ...]
    matches: tuple[ListMatch, ...]
    time_zones: tuple[str, ...]
    calling_window: str
    state_rule: str


@dataclass(frozen=True)
class WindowGroup:
    """The calling-window decision shared by every lead with the same zones and states."""

    number_zones: tuple[str, ...]
    zones: tuple[str, ...]
    window: str
    state_rule: str
    max_calls_per_24h: int | None
    holidays: tuple[str, ...] = ()  # the state holidays that refused the calls (see WindowDecision)


@dataclass
class BatchDecision:
    """The verdicts of a batch in compact form: lead i's verdict is `parts[part_of[i]]`."""

    columns: LeadColumns
    parts: list[VerdictParts]
    part_of: np.ndarray
    checked_at: datetime
    registry_version: str
    registry_age_days: float | None = None
    lists_checked: tuple[ListChecked, ...] = ()
    campaign_window: str | None = None
    groups: list[WindowGroup] = field(default_factory=list)
    group_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    calls_counted: dict[int, int] = field(default_factory=dict)
    wireless_list: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))  # -1: none
    consent_of: dict[int, tuple[str | None, tuple[str, ...]]] = field(default_factory=dict)
    unknown_is_wireless: bool = True
    call_caps: tuple[CallCap, ...] = ()  # the organization's and the campaign's per-period caps
    cap_counts: dict[int, list[CapCount]] = field(default_factory=dict)  # leads with earlier calls
    counted_for: str = ""
    rnd: RndAnswers | None = None  # the Reassigned Numbers Database's answers

    def revocations_honored(self) -> set[str]:
        """Revoked consent records that made this decision refuse a call."""
        return {r for _, revoked in self.consent_of.values() for r in revoked}

    def verdicts(self) -> list[ScrubVerdict]:
        cols = self.columns
        out = []
        for e164, lead_id, p in zip(cols.e164s, cols.lead_ids, self.part_of.tolist(), strict=True):
            parts = self.parts[p]
            out.append(
                ScrubVerdict(
                    e164=e164,
                    lead_id=lead_id,
                    callable=parts.callable,
                    reasons=parts.reasons,
                    matches=parts.matches,
                    time_zones=parts.time_zones,
                    calling_window=parts.calling_window,
                    state_rule=parts.state_rule,
                    checked_at=self.checked_at,
                    registry_version=self.registry_version,
                )
            )
        return out

    def _reassigned_evidence(self, i: int, consent_day: int) -> ReassignedEvidence | None:
        rnd = self.rnd
        if rnd is None:
            return None
        answer = int(rnd.answers[i])
        disconnected = int(rnd.disconnected_day[i])
        return ReassignedEvidence(
            answer=answer_name(answer),
            consent_date=_EPOCH + timedelta(days=consent_day) if consent_day >= 0 else None,
            disconnected_on=_EPOCH + timedelta(days=disconnected) if disconnected >= 0 else None,
            data_version=rnd.version,
            data_as_of=rnd.data_as_of,
            data_age_days=_age_days(rnd.data_as_of, self.checked_at) if rnd.data_as_of else None,
            source=rnd.source,
            safe_harbor=answer == RND_NO and not rnd.stale,
        )

    def evidence(self, i: int) -> ComplianceEvidence:
        """What the check saw and decided for lead i: stored with the attempt, never re-derived."""
        parts = self.parts[int(self.part_of[i])]
        group = self.groups[int(self.group_of[i])] if len(self.groups) else None
        cols = self.columns
        wireless = int(cols.wireless[i])
        listed = int(self.wireless_list[i]) if len(self.wireless_list) else -1
        if wireless != -1:
            wireless_text, decided_by = ("yes" if wireless else "no"), "lead flag"
        elif listed >= 0:
            wireless_list = self.lists_checked[listed]
            wireless_text = "yes"
            decided_by = f"list wireless:{wireless_list.list_id}@{wireless_list.version}"
        elif self.unknown_is_wireless:
            wireless_text, decided_by = "unknown", "unknown: counted as wireless (unknown_line_type=wireless)"
        else:
            wireless_text, decided_by = (
                "unknown",
                "unknown: counted as not wireless (unknown_line_type=not_wireless)",
            )
        day = int(cols.consent_day[i])
        basis = (
            Consent.NONE.value
            if day == NO_CONSENT_DAY
            else Consent.EXPRESS_WRITTEN.value
            if bool(cols.written_consent[i])
            else Consent.EXPRESS.value
        )
        zones = group.zones if group else ()
        return ComplianceEvidence(
            checked_at=self.checked_at,
            callable=parts.callable,
            reasons=list(parts.reasons),
            matched=[f"{m.kind}:{m.scope}:{m.version}" for m in parts.matches],
            lists_checked=list(self.lists_checked),
            registry_version=self.registry_version,
            registry_age_days=self.registry_age_days,
            window=WindowEvidence(
                number_zones=list(group.number_zones if group else ()),
                candidate_zones=list(zones),
                utc_offsets_min=utc_offsets_min(zones, self.checked_at),
                window=parts.calling_window,
                state_rule=parts.state_rule,
                campaign_window=self.campaign_window,
                holidays=list(group.holidays if group else ()),
            ),
            caps=CapEvidence(
                calls_last_24h=self.calls_counted.get(i, 0),
                max_calls_per_24h=group.max_calls_per_24h if group else None,
                periods=[
                    PeriodCapEvidence(
                        calls=c.cap.calls,
                        days=c.cap.days,
                        set_by=c.cap.set_by,
                        counted=c.counted,
                        reached=c.reached,
                    )
                    for c in self.cap_counts.get(i) or [CapCount(cap, 0) for cap in self.call_caps]
                ],
                counted_for=self.counted_for,
            ),
            reassigned=self._reassigned_evidence(i, day),
            consent=ConsentEvidence(
                basis=basis,
                consent_date=_EPOCH + timedelta(days=day) if day >= 0 else None,
                wireless=wireless_text,
                wireless_decided_by=decided_by,
                record_id=self.consent_of.get(i, (None, ()))[0],
                revocation_ids=list(self.consent_of.get(i, (None, ()))[1]),
            ),
        )


@dataclass(frozen=True)
class ComplianceSnapshot:
    """Everything a decision reads besides the leads and the moment, loaded at one check."""

    rules: CampaignRules
    calling_rules: Mapping[str, CallingRuleData]
    plan: NumberingPlan
    lists: tuple[tuple[ActiveList, IndexHandle | DatedIndexHandle | None], ...]  # None: index stale
    internal: InternalSet
    geo: GeoPolicy
    consents: Mapping[str, tuple[ConsentFact, ...]] = field(default_factory=dict)  # by E.164
    # The Reassigned Numbers Database to query; None: the local one over the snapshot's reassigned lists.
    reassigned: ReassignedNumbers | None = None


class _Bits:
    """Per-lead reason and match flags as uint64 bit sets."""

    def __init__(self, count: int) -> None:
        self.reasons = np.zeros(count, dtype=np.uint64)
        self.matches = np.zeros(count, dtype=np.uint64)
        self.match_table: list[ListMatch] = []

    def reason(self, code: str, mask: np.ndarray | bool) -> None:
        self.reasons |= np.asarray(mask, dtype=np.uint64) << np.uint64(reasons.BIT[code])

    def match(self, match: ListMatch, mask: np.ndarray) -> None:
        if not mask.any():
            return
        if len(self.match_table) >= 64:
            raise ValidationError("more than 64 distinct list matches in one batch")
        self.matches |= mask.astype(np.uint64) << np.uint64(len(self.match_table))
        self.match_table.append(match)


def _no_entries() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return np.zeros(0, dtype=np.int64), {}


def _dense_unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for small non-negative keys, without sorting."""
    present = np.zeros(int(keys.max()) + 1, dtype=bool)
    present[keys] = True
    code = np.cumsum(present) - 1
    return np.flatnonzero(present), code[keys]


class ComplianceEngine:
    """Loaded once per process (or per campaign); `snapshot` reads the state of the lists at each check."""

    def __init__(
        self, db: Database, org_id: uuid.UUID, rules: CampaignRules, calling_rules: dict[str, CallingRuleData]
    ) -> None:
        self.db = db
        self.org_id = org_id
        self.rules = rules
        self.calling_rules = calling_rules
        self.plan = numbering_plan()
        self._handles: dict[tuple[uuid.UUID, int], IndexHandle | DatedIndexHandle] = {}
        self._held: dict[tuple[uuid.UUID, int], CachedIndex] = {}  # cache entries the handles map
        self._blocks = AreaCodeBlocks()
        self._entries_version: tuple[int, int] = (-1, -1)
        self._entries: tuple[np.ndarray, dict[str, np.ndarray]] = _no_entries()

    @classmethod
    def load(cls, db: Database, org_id: uuid.UUID, rules: CampaignRules | None = None) -> ComplianceEngine:
        """The organization's engine; the calling rules come from the one data file (`dnc.state_rules`)."""
        return cls(db, org_id, rules or CampaignRules(), dict(calling_rules()))

    # ------------------------------------------------------------------ state read at every check

    def _internal_for(self, s: Session, e164s: list[str]) -> InternalSet:
        version = blocks_version(s)
        if version != self._blocks.version:
            self._blocks = load_blocks(s, version)
        entries = entries_version(s)
        # What evidence records: the organization's own version (reproducible with dnc.internal.list_at);
        # the (count, highest id) pairs above only decide when the process's cache reloads.
        label = version_label(current_version(s), entries[0], version[0])
        if len(e164s) <= DIRECT_LOOKUP_MAX:
            org_keys, campaign_keys = load_entries_for(s, e164s)
            return InternalSet(label, org_keys, campaign_keys, self._blocks)
        if entries != self._entries_version:
            self._entries, self._entries_version = load_all_entries(s), entries
        return InternalSet(label, *self._entries, self._blocks)

    def snapshot(self, e164s: list[str]) -> ComplianceSnapshot:
        """The lists, internal DNC entries (of these numbers, or all of them for big batches) and geo
        policy as they are now, in one transaction."""
        with self.db.session(Scope(self.org_id)) as s:
            rows = s.execute(
                select(DncList, DncListVersion)
                .join(DncListVersion, DncListVersion.id == DncList.current_version_id)
                .where(DncList.owner_org_id.is_(None) | (DncList.owner_org_id == self.org_id))
            ).all()
            active = [
                ActiveList(
                    list_id=lst.id,
                    kind=lst.kind,
                    scope=lst.scope,
                    owner_org_id=lst.owner_org_id,
                    version_id=ver.id,
                    seq=ver.seq,
                    obtained_at=ver.obtained_at,
                    index_dir=ver.index_dir,
                    index_sha256=ver.index_sha256,
                    index_deltas=tuple(DeltaRef.from_json(d) for d in ver.index_deltas or []),
                )
                for lst, ver in rows
            ]
            internal = self._internal_for(s, e164s)
            policy = s.scalars(select(CompliancePolicy)).one_or_none()
            consents = load_consents(s, e164s if len(e164s) <= DIRECT_LOOKUP_MAX else None)
        geo = GeoPolicy(
            allowed_countries=frozenset(policy.allowed_countries if policy else ["US"]),
            blocked_states=frozenset(policy.blocked_states if policy else ()),
            blocked_area_codes=frozenset(int(a) for a in (policy.blocked_area_codes if policy else ())),
            unknown_is_wireless=policy.unknown_line_type == "wireless" if policy else True,
            revoke_all=policy.revoke_all if policy else False,
            call_caps=parse_call_caps(policy.call_caps, field="call_caps", set_by="organization")
            if policy
            else (),
        )
        return ComplianceSnapshot(
            rules=self.rules,
            calling_rules=self.calling_rules,
            plan=self.plan,
            lists=tuple((lst, self._handle(lst)) for lst in active),
            internal=internal,
            geo=geo,
            consents=consents,
        )

    def _handle(self, lst: ActiveList) -> IndexHandle | DatedIndexHandle | None:
        key = (lst.list_id, lst.seq)
        handle = self._handles.get(key)
        if handle is None:
            for old in [k for k in self._handles if k[0] == lst.list_id]:
                del self._handles[old]
                held = self._held.pop(old, None)
                if held is not None:
                    held.release()
            try:
                directory = self._local_directory(lst, key)
                handle = (
                    DatedIndexHandle(directory, lst.seq)
                    if lst.kind == "reassigned"
                    else IndexHandle(directory, lst.seq)
                )
            except (StaleIndexError, FileNotStoredError, IndexPackError):
                # Not stored any more (replaced by a newer version since the snapshot's query: the next
                # snapshot finds that one) or not what the database recorded: the list's checks fail
                # closed with list_index_stale until a good copy is there.
                held = self._held.pop(key, None)
                if held is not None:
                    held.release()
                return None
            self._handles[key] = handle
        return handle

    def _local_directory(self, lst: ActiveList, key: tuple[uuid.UUID, int]) -> Path:
        """The list version's index on this host: the cached copy of its stored pack (with its deltas
        applied), fetched or built on first use."""
        if lst.index_sha256 is None:
            return Path(data_dir()) / lst.index_dir
        runtime = current_runtime()
        held = local_index(
            runtime.files, runtime.settings.home, lst.index_dir, lst.index_sha256, lst.index_deltas
        )
        self._held[key] = held
        return held.directory

    # ------------------------------------------------------------------ the decision

    def check(self, leads: Sequence[LeadContext], at: datetime) -> list[ScrubVerdict]:
        """One verdict per lead, in order."""
        return self.decide(LeadColumns.of(leads), at).verdicts()

    def decide(self, cols: LeadColumns, at: datetime) -> BatchDecision:
        """`decide` over a snapshot taken now."""
        return decide(cols, self.snapshot(cols.e164s), at)


def decide(cols: LeadColumns, snap: ComplianceSnapshot, at: datetime) -> BatchDecision:
    """THE decision function: callable or blocked for every lead of `cols` at `at`, given `snap`. Pure."""
    if at.tzinfo is None:
        raise ValidationError("check time `at` must be timezone-aware", field="at")
    count = len(cols)
    checked_at = at.astimezone(UTC)
    if count == 0:
        return BatchDecision(cols, [], np.zeros(0, dtype=np.int64), checked_at, "")
    plan = snap.plan
    bits = _Bits(count)

    e164s = cols.e164s
    national = e164_to_national(e164s)
    region = np.array(plan.npa_region, dtype=object)[np.where(national >= 0, national // 10_000_000, 0)]
    keys = np.where(national >= 0, national + NANP_KEY_BASE, -1)
    zone_ids = plan.prefix_zone_set[np.where(national >= 0, national // 10_000, 0)].astype(np.int64)
    zone_sets: list[tuple[str, ...]] = list(plan.zone_sets)
    invalid = np.zeros(count, dtype=bool)
    for i in np.flatnonzero(national < 0):  # other NANP regions and international numbers
        _slow_number(plan, e164s[int(i)], int(i), national, region, keys, zone_ids, zone_sets, invalid)
    bits.reason(reasons.INVALID_NUMBER, invalid)
    nanp = national >= 0
    npa = np.where(nanp, national // 10_000_000, 0)
    us = nanp & (region == "US")

    npa_states = np.array(plan.npa_state, dtype=object)[npa]
    npa_states[~nanp] = ""
    rules = snap.rules
    default_campaign = str(rules.campaign_id) if rules.campaign_id else None
    campaign_ids = np.full(count, default_campaign, dtype=object)
    if cols.campaign_ids is not None:
        campaign_ids = np.array([c or default_campaign for c in cols.campaign_ids], dtype=object)
    _geo(bits, snap, region, invalid, npa, nanp, cols.states, npa_states, campaign_ids)
    cols, consent_of = _consent_records(bits, snap, cols, at)
    listed = _lists(bits, snap, national, us, at, cols)
    stale = _stale_lists(bits, snap, at, us, cols.states, npa_states)
    rnd = _reassigned(bits, snap, national, cols, stale_data="reassigned" in {s.copy.kind for s in stale})
    _internal_lists(bits, snap.internal, keys, campaign_ids)
    groups, group_of, counted = _windows(bits, snap, zone_ids, zone_sets, cols, npa_states, invalid, at)
    call_caps = (*snap.geo.call_caps, *rules.call_caps)
    cap_counts = _period_caps(bits, call_caps, cols, at)
    parts, part_of = _parts(bits, groups, group_of)
    checked = _lists_checked(snap, at)
    newest = max(
        (a for a, _ in snap.lists if a.kind == "national" and a.obtained_at <= at),
        key=lambda a: a.obtained_at,
        default=None,
    )
    override = rules.calling_window_override
    return BatchDecision(
        cols,
        parts,
        part_of,
        checked_at,
        registry_version=f"{newest.seq}@{newest.obtained_at.date().isoformat()}" if newest else "",
        registry_age_days=_age_days(newest.obtained_at, at) if newest else None,
        lists_checked=checked,
        campaign_window=f"{override[0]:%H:%M}-{override[1]:%H:%M} local" if override else None,
        groups=groups,
        group_of=group_of,
        calls_counted=counted,
        wireless_list=listed,
        consent_of=consent_of,
        unknown_is_wireless=snap.geo.unknown_is_wireless,
        call_caps=call_caps,
        cap_counts=cap_counts,
        rnd=rnd,
        counted_for=f"seller {rules.seller}" if rules.seller else "the organization (no seller named)",
    )


def _period_caps(
    bits: _Bits, caps: tuple[CallCap, ...], cols: LeadColumns, at: datetime
) -> dict[int, list[CapCount]]:
    """The organization's and campaign's per-period caps over each lead's earlier calls (the caller
    supplies the seller's calls across campaigns and caller IDs)."""
    if not caps:
        return {}
    reached = np.zeros(len(cols), dtype=bool)
    counts = {}
    for i, recent in cols.recent_calls.items():
        counts[i] = count_caps(caps, recent, at)
        reached[i] = any(c.reached for c in counts[i])
    bits.reason(reasons.PERIOD_CALL_CAP, reached)
    return counts


def _consent_records(
    bits: _Bits, snap: ComplianceSnapshot, cols: LeadColumns, at: datetime
) -> tuple[LeadColumns, dict[int, tuple[str | None, tuple[str, ...]]]]:
    """Consent records on file for the campaign's seller: a revocation blocks the call; a valid record
    supplies the consent basis (the strongest one) when the lead's own fields give less."""
    consents = snap.consents
    if not consents:
        return cols, {}
    seller = snap.rules.seller.strip().lower()
    revoke_all = snap.geo.revoke_all
    written = cols.written_consent.copy()
    day = cols.consent_day.copy()
    revoked = np.zeros(len(cols), dtype=bool)
    used: dict[int, tuple[str | None, tuple[str, ...]]] = {}
    for i, e164 in enumerate(cols.e164s):
        facts = consents.get(e164)
        if not facts:
            continue
        revocations = tuple(
            f.record_id
            for f in facts
            if f.revoked_at is not None and f.revoked_at <= at and (revoke_all or f.seller.lower() == seller)
        )
        valid = [
            f
            for f in facts
            if f.seller.lower() == seller and f.kind != "none" and f.given_at <= at
            and (f.revoked_at is None or f.revoked_at > at)
        ]  # fmt: skip
        best = max(valid, key=lambda f: (f.kind == "express_written", f.given_at), default=None)
        if revocations:
            revoked[i] = True
        elif best is not None:
            if best.kind == "express_written":
                written[i] = True
            given_day = (best.given_at.astimezone(UTC).date() - _EPOCH).days
            day[i] = max(int(day[i]), given_day) if day[i] >= 0 else given_day
        if revocations or best is not None:
            used[i] = (best.record_id if best and not revocations else None, revocations)
    bits.reason(reasons.CONSENT_REVOKED, revoked)
    return replace(cols, written_consent=written, consent_day=day), used


def _age_days(obtained_at: datetime, at: datetime) -> float:
    return round((at - obtained_at).total_seconds() / 86_400, 3)


def _lists_checked(snap: ComplianceSnapshot, at: datetime) -> tuple[ListChecked, ...]:
    out = []
    for a, _ in snap.lists:
        if a.kind == "national" and a.obtained_at > at:
            continue
        limit = max_age(a.kind)
        out.append(
            ListChecked(
                kind=a.kind,
                list_id=str(a.list_id),
                version=str(a.seq),
                obtained_at=a.obtained_at,
                age_days=_age_days(a.obtained_at, at),
                scope=a.scope or ("org" if a.owner_org_id else "platform"),
                max_age_days=limit.days if limit is not None else None,
                stale=is_stale(a.kind, a.obtained_at, at),
            )
        )
    out.append(ListChecked(kind="internal", list_id="internal", version=snap.internal.label, scope="org"))
    return tuple(out)


def utc_offsets_min(zones: Sequence[str], at: datetime) -> dict[str, int]:
    """Each zone's UTC offset (minutes) at `at`: the zones the window was compared in."""
    out = {}
    for name in zones:
        offset = at.astimezone(ZoneInfo(name)).utcoffset()
        out[name] = int(offset.total_seconds() // 60) if offset is not None else 0
    return out


def _slow_number(
    plan: NumberingPlan,
    e164: str,
    i: int,
    national: np.ndarray,
    region: np.ndarray,
    keys: np.ndarray,
    zone_ids: np.ndarray,
    zone_sets: list[tuple[str, ...]],
    invalid: np.ndarray,
) -> None:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        invalid[i] = True
        return
    if not phonenumbers.is_valid_number(number) or not e164.startswith("+"):
        invalid[i] = True
        return
    region[i] = phonenumbers.region_code_for_number(number) or ""
    keys[i] = e164_key(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if number.country_code == 1 and number.national_number is not None:
        national[i] = number.national_number
        zone_ids[i] = plan.prefix_zone_set[number.national_number // 10_000]
        return
    zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if "Unknown" not in z)
    if zones not in zone_sets:
        zone_sets.append(zones)
    zone_ids[i] = zone_sets.index(zones)


def _geo(
    bits: _Bits,
    snap: ComplianceSnapshot,
    region: np.ndarray,
    invalid: np.ndarray,
    npa: np.ndarray,
    nanp: np.ndarray,
    lead_states: list[str],
    npa_states: np.ndarray,
    campaign_ids: np.ndarray,
) -> None:
    geo, rules, internal = snap.geo, snap.rules, snap.internal
    allowed = set(geo.allowed_countries)
    if rules.allowed_countries is not None:
        allowed &= set(rules.allowed_countries)
    bits.reason(reasons.COUNTRY_NOT_ALLOWED, ~invalid & ~np.isin(region, list(allowed)))
    blocked_states = geo.blocked_states | set(rules.blocked_states)
    if blocked_states:
        in_blocked = np.isin(npa_states, list(blocked_states)) | np.isin(
            np.array(lead_states, dtype=object), list(blocked_states)
        )
        bits.reason(reasons.STATE_BLOCKED, in_blocked)
    org_codes = set(geo.blocked_area_codes) | {int(a) for a in rules.blocked_area_codes}
    org_codes |= internal.org_area_codes
    blocked_codes = nanp & np.isin(npa, list(org_codes)) if org_codes else np.zeros(len(npa), dtype=bool)
    for campaign, codes in internal.campaign_area_codes.items():
        in_campaign = campaign_ids == campaign
        blocked_codes |= in_campaign & nanp & np.isin(npa, list(codes))
    if blocked_codes.any():
        bits.reason(reasons.AREA_CODE_BLOCKED, blocked_codes)
        bits.match(
            ListMatch(kind="area_code", list_id="area_code_blocks", version=internal.label, scope="org"),
            blocked_codes,
        )


def _lists(
    bits: _Bits,
    snap: ComplianceSnapshot,
    national: np.ndarray,
    us: np.ndarray,
    at: datetime,
    cols: LeadColumns,
) -> np.ndarray:
    """List memberships; returns, per lead, which checked list said the number is wireless (-1: none)."""
    nationals = [a for a, _ in snap.lists if a.kind == "national" and a.obtained_at <= at]
    fresh = [a for a in nationals if not is_stale(a.kind, a.obtained_at, at)]
    if not nationals:
        bits.reason(reasons.NATIONAL_REGISTRY_MISSING, us)
    elif not fresh:
        bits.reason(reasons.NATIONAL_REGISTRY_STALE, us)
    wireless = cols.wireless == 1
    wireless_list = np.full(len(national), -1, dtype=np.int16)
    code = {
        "national": reasons.NATIONAL_DNC,
        "state": reasons.STATE_DNC,
        "litigator": reasons.LITIGATOR,
    }
    checked = [(lst, handle) for lst, handle in snap.lists if lst.kind != "national" or lst in nationals]
    try:
        for n, (lst, handle) in enumerate(checked):
            if handle is None:
                raise StaleIndexError(f"index of list {lst.list_id} v{lst.seq} is not usable")
            if isinstance(handle, DatedIndexHandle):
                hit = handle.lookup(national) >= 0  # on the list; the RND query decides (`_reassigned`)
            else:
                hit = handle.contains(national)
            if lst.kind == "wireless":
                newly = (cols.wireless == -1) & hit & (wireless_list < 0)
                wireless_list[newly] = n
                wireless |= newly
            elif lst.kind in code:
                bits.reason(code[lst.kind], hit)
            bits.match(lst.match(), hit)
        for _, handle in checked:  # a change list applied while we probed must not go unnoticed
            if handle is not None:
                handle.verify()
    except StaleIndexError:
        bits.reason(reasons.LIST_INDEX_STALE, np.ones(len(national), dtype=bool))
    if snap.geo.unknown_is_wireless:  # nobody knows the line type: it may be wireless (fail closed)
        wireless |= (cols.wireless == -1) & (wireless_list < 0)
    bits.reason(reasons.WIRELESS_NO_CONSENT, wireless & ~cols.written_consent)
    return wireless_list


def local_reassigned(snap: ComplianceSnapshot) -> LocalReassignedNumbers:
    """The RND over the reassigned lists of the snapshot (the organization's and the platform's)."""
    return LocalReassignedNumbers(
        [
            (f"{lst.list_id}@{lst.seq}", lst.obtained_at, handle)
            for lst, handle in snap.lists
            if lst.kind == "reassigned" and isinstance(handle, DatedIndexHandle)
        ]
    )


def _reassigned(
    bits: _Bits, snap: ComplianceSnapshot, national: np.ndarray, cols: LeadColumns, *, stale_data: bool
) -> RndAnswers:
    """The Reassigned Numbers Database query of every lead relying on consent: a `yes` (disconnected on or
    after the consent date: the consent was someone else's) blocks the call; so does stale data for every
    lead that relies on consent (fail closed: no safe harbor from old data)."""
    database = snap.reassigned if snap.reassigned is not None else local_reassigned(snap)
    answers = database.query(national, cols.consent_day)
    bits.reason(reasons.REASSIGNED_SINCE_CONSENT, answers.answers == RND_YES)
    if stale_data:
        bits.reason(reasons.REASSIGNED_DATA_STALE, answers.answers != RND_NOT_QUERIED)
        answers = replace(answers, stale=True)
    return answers


def _list_copies(snap: ComplianceSnapshot) -> list[ListCopy]:
    return [ListCopy(a.kind, a.scope, str(a.list_id), a.obtained_at) for a, _ in snap.lists]


def _stale_lists(
    bits: _Bits,
    snap: ComplianceSnapshot,
    at: datetime,
    us: np.ndarray,
    lead_states: list[str],
    npa_states: np.ndarray,
) -> list[StaleList]:
    """State and litigator list copies older than their kind's rule block the leads they concern (a state
    list: leads in that state by their own or their area code's state; a litigator list: every US lead).
    The national registry has its own reasons (`_lists`); stale reassigned data is `_reassigned`'s."""
    stale = stale_lists(_list_copies(snap), at, kinds=("state", "litigator", "reassigned"))
    states = np.array(lead_states, dtype=object) if any(s.copy.kind == "state" for s in stale) else None
    for s in stale:
        if s.copy.kind == "litigator":
            bits.reason(reasons.LITIGATOR_LIST_STALE, us)
        elif s.copy.kind == "state":
            concerned = (
                us if not s.copy.scope else us & ((states == s.copy.scope) | (npa_states == s.copy.scope))
            )
            bits.reason(reasons.STATE_LIST_STALE, concerned)
    return stale


def _internal_lists(bits: _Bits, internal: InternalSet, keys: np.ndarray, campaign_ids: np.ndarray) -> None:
    on_org = np.isin(keys, internal.org_keys) & (keys >= 0)
    bits.reason(reasons.INTERNAL_DNC, on_org)
    bits.match(ListMatch(kind="internal", list_id="internal", version=internal.label, scope="org"), on_org)
    for campaign, campaign_keys in internal.campaign_keys.items():
        in_campaign = campaign_ids == campaign
        if not in_campaign.any():
            continue
        hit = in_campaign & np.isin(keys, campaign_keys)
        bits.reason(reasons.CAMPAIGN_DNC, hit)
        bits.match(
            ListMatch(
                kind="internal", list_id="internal", version=internal.label, scope=f"campaign:{campaign}"
            ),
            hit,
        )


def _windows(
    bits: _Bits,
    snap: ComplianceSnapshot,
    zone_ids: np.ndarray,
    zone_sets: list[tuple[str, ...]],
    cols: LeadColumns,
    npa_states: np.ndarray,
    invalid: np.ndarray,
    at: datetime,
) -> tuple[list[WindowGroup], np.ndarray, dict[int, int]]:
    """Calling-window rules, evaluated once per distinct (zones, lead state, area-code state); returns
    the groups, each lead's group and the earlier calls counted against a cap."""
    lead_states = cols.states
    state_names = sorted({*lead_states, *npa_states.tolist()})
    state_index = {s: i for i, s in enumerate(state_names)}
    width = len(state_names)
    lead_state_ids = np.array([state_index[s] for s in lead_states], dtype=np.int64)
    npa_state_ids = np.array([state_index[s] for s in npa_states.tolist()], dtype=np.int64)
    group_key = (zone_ids * width + lead_state_ids) * width + npa_state_ids
    unique_keys, group_of = _dense_unique(group_key)
    groups: list[WindowGroup] = []
    window_reasons = np.zeros(len(unique_keys), dtype=np.uint64)
    for g, key in enumerate(unique_keys.tolist()):
        zone_id, rest = divmod(key, width * width)
        lead_state, npa_state = state_names[rest // width], state_names[rest % width]
        states = tuple(sorted({s for s in (lead_state, npa_state) if s}))
        # The lead's own state narrows or widens the zones; the area code's state only adds its rules.
        lead_only = (lead_state,) if lead_state else ()
        number_zones = zone_sets[zone_id]
        decision = decide_window(
            number_zones, lead_only, states, snap.calling_rules, snap.rules.calling_window_override, at
        )
        for code in decision.reasons:
            window_reasons[g] |= np.uint64(1) << np.uint64(reasons.BIT[code])
        groups.append(
            WindowGroup(
                number_zones,
                decision.zones,
                decision.window,
                decision.state_rule,
                decision.max_calls_per_24h,
                decision.holidays,
            )
        )
    group_of = group_of.reshape(-1)
    bits.reasons |= np.where(invalid, np.uint64(0), window_reasons[group_of])
    capped = np.zeros(len(cols), dtype=bool)
    counted: dict[int, int] = {}
    for i, recent in cols.recent_calls.items():
        cap = groups[group_of[i]].max_calls_per_24h
        counted[i] = calls_in_last_24h(recent, at)
        capped[i] = cap is not None and counted[i] >= cap
    bits.reason(reasons.STATE_CALL_CAP, capped)
    return groups, group_of, counted


def _parts(
    bits: _Bits, groups: list[WindowGroup], group_of: np.ndarray
) -> tuple[list[VerdictParts], np.ndarray]:
    """The distinct (reasons, matches, window group) combinations, and which one each lead has.

    Usually all three fit one 63-bit key, so a single sort finds them; otherwise each column is
    reduced to small codes first."""
    reason_width, match_width = len(reasons.ALL), len(bits.match_table)
    group_width = max(1, (len(groups) - 1).bit_length())
    if reason_width + match_width + group_width <= 63:
        key = (
            bits.reasons
            | (bits.matches << np.uint64(reason_width))
            | (group_of.astype(np.uint64) << np.uint64(reason_width + match_width))
        )
        combos, part_of = np.unique(key, return_inverse=True)
        decoded = [
            (c & ((1 << reason_width) - 1), (c >> reason_width) & ((1 << match_width) - 1),
             c >> (reason_width + match_width))
            for c in combos.tolist()
        ]  # fmt: skip
    else:
        reason_values, reason_of = np.unique(bits.reasons, return_inverse=True)
        match_values, match_of = np.unique(bits.matches, return_inverse=True)
        key = (reason_of.reshape(-1) * len(match_values) + match_of.reshape(-1)) * len(groups) + group_of
        combos, part_of = np.unique(key, return_inverse=True)
        decoded = []
        for combo in combos.tolist():
            rest, group = divmod(combo, len(groups))
            reason_index, match_index = divmod(rest, len(match_values))
            decoded.append((int(reason_values[reason_index]), int(match_values[match_index]), group))
    parts = []
    for reason_bits, match_bits, group in decoded:
        codes = tuple(c for c in reasons.ALL if reason_bits >> reasons.BIT[c] & 1)
        matches = tuple(m for j, m in enumerate(bits.match_table) if match_bits >> j & 1)
        g = groups[group]
        parts.append(VerdictParts(not codes, codes, matches, g.zones, g.window, g.state_rule))
    return parts, part_of.reshape(-1)
