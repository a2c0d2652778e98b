"""The one decision function: for a batch of leads and a moment `at`, callable or blocked, with every reason
code that applied and the list versions that matched. Used at import, just before each call, and in reports.

`ComplianceEngine.load` reads the calling rules once; every `check` then asks PostgreSQL which list versions
are current, whether the internal DNC list changed, and the organization's geo policy, so a change made by
any process counts from the next check on. The work per lead is columnar (numpy): numbers become integers,
list membership is a bitmap probe, rules are evaluated once per distinct (time zones, states) group.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import phonenumbers
from phonenumbers import timezone as phone_timezone
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, Scope
from core.errors import ValidationError
from dnc import reasons
from dnc.bitmap_index import IndexHandle, StaleIndexError
from dnc.calling_window import CallingRuleData, calls_in_last_24h, candidate_zones, decide_window
from dnc.dated_index import DatedIndexHandle
from dnc.internal import (
    AreaCodeBlocks,
    InternalSet,
    blocks_version,
    e164_key,
    entries_version,
    load_all_entries,
    load_blocks,
    load_entries_for,
)
from dnc.lists import data_dir
from dnc.models import CallingRule, CompliancePolicy, DncList, DncListVersion
from dnc.nanp import numbering_plan, state_of_zip
from dnc.normalize import e164_to_national
from dnc.verdicts import CampaignRules, Consent, LeadContext, ListMatch, ScrubVerdict

REGISTRY_MAX_AGE = timedelta(days=31)
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
    index_dir: str

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


@dataclass
class LeadColumns:
    """A batch of leads as columns: what `decide` works on. `of` converts `LeadContext`s; bulk callers
    (scrub reports) build the columns directly and skip a million small objects."""

    e164s: list[str]
    lead_ids: list[str | None]
    states: list[str]  # upper-case two-letter state (given, else from the ZIP code), "" when unknown
    wireless: np.ndarray  # int8: 1 wireless, 0 not, -1 unknown
    written_consent: np.ndarray  # bool: prior express written consent
    consent_day: np.ndarray  # int64 days since 1970-01-01; -1 no consent, -2 consent of unknown date
    campaign_ids: list[str | None] | None = None  # None: every lead belongs to the engine's campaign
    recent_calls: dict[int, tuple[datetime, ...]] = field(default_factory=dict)  # lead index -> calls

    @classmethod
    def plain(
        cls, e164s: list[str], lead_ids: list[str | None], states: list[str] | None = None
    ) -> LeadColumns:
        count = len(e164s)
        return cls(
            e164s=e164s,
            lead_ids=lead_ids,
            states=states if states is not None else [""] * count,
            wireless=np.full(count, -1, dtype=np.int8),
            written_consent=np.zeros(count, dtype=bool),
            consent_day=np.full(count, -1, dtype=np.int64),
        )

    @classmethod
    def of(cls, leads: Sequence[LeadContext]) -> LeadColumns:
        return cls(
            e164s=[lead.e164 for lead in leads],
            lead_ids=[lead.lead_id for lead in leads],
            states=[(lead.state or state_of_zip(lead.zip_code)).upper() for lead in leads],
            wireless=np.array(
                [-1 if lead.wireless is None else int(lead.wireless) for lead in leads], dtype=np.int8
            ),
            written_consent=np.array([lead.consent is Consent.EXPRESS_WRITTEN for lead in leads], dtype=bool),
            consent_day=np.array([_consent_day(lead) for lead in leads], dtype=np.int64),
            campaign_ids=[lead.campaign_id for lead in leads]
            if any(lead.campaign_id for lead in leads)
            else None,
            recent_calls={i: lead.recent_calls for i, lead in enumerate(leads) if lead.recent_calls},
        )

    def __len__(self) -> int:
        return len(self.e164s)


def _consent_day(lead: LeadContext) -> int:
    if lead.consent is Consent.NONE:
        return -1
    return (lead.consent_at - _EPOCH).days if lead.consent_at else -2


@dataclass(frozen=True)
class VerdictParts:
    """Everything of a verdict that many leads share."""

    callable: bool
    reasons: tuple[str, ...]
    matches: tuple[ListMatch, ...]
    time_zones: tuple[str, ...]
    calling_window: str
    state_rule: str


@dataclass
class BatchDecision:
    """The verdicts of a batch in compact form: lead i's verdict is `parts[part_of[i]]`."""

    columns: LeadColumns
    parts: list[VerdictParts]
    part_of: np.ndarray
    checked_at: datetime
    registry_version: str

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
    """Loaded once per process (or per campaign) and called for every batch of leads."""

    def __init__(
        self, db: Database, org_id: uuid.UUID, rules: CampaignRules, calling_rules: dict[str, CallingRuleData]
    ) -> None:
        self.db = db
        self.org_id = org_id
        self.rules = rules
        self.calling_rules = calling_rules
        self.plan = numbering_plan()
        self._handles: dict[tuple[uuid.UUID, int], IndexHandle | DatedIndexHandle] = {}
        self._blocks = AreaCodeBlocks()
        self._entries_version: tuple[int, int] = (-1, -1)
        self._entries: tuple[np.ndarray, dict[str, np.ndarray]] = _no_entries()

    @classmethod
    def load(cls, db: Database, org_id: uuid.UUID, rules: CampaignRules | None = None) -> ComplianceEngine:
        with db.session(Scope(org_id)) as s:
            calling_rules = {
                r.jurisdiction: CallingRuleData(
                    jurisdiction=r.jurisdiction,
                    window_start=r.window_start,
                    window_end=r.window_end,
                    no_sunday=r.no_sunday,
                    no_holidays=r.no_holidays,
                    max_calls_per_24h=r.max_calls_per_24h,
                    has_state_dnc_list=r.has_state_dnc_list,
                )
                for r in s.scalars(select(CallingRule))
            }
        if "US" not in calling_rules:
            raise ValidationError(
                "the federal calling rule (jurisdiction US) is missing from dnc_calling_rules"
            )
        return cls(db, org_id, rules or CampaignRules(), calling_rules)

    # ------------------------------------------------------------------ state read at every check

    def _internal_for(self, s: Session, e164s: list[str]) -> InternalSet:
        version = blocks_version(s)
        if version != self._blocks.version:
            self._blocks = load_blocks(s, version)
        if len(e164s) <= DIRECT_LOOKUP_MAX:
            org_keys, campaign_keys = load_entries_for(s, e164s)
            return InternalSet("live", org_keys, campaign_keys, self._blocks)
        version = entries_version(s)
        if version != self._entries_version:
            self._entries, self._entries_version = load_all_entries(s), version
        return InternalSet(f"{version[0]}@{version[1]}", *self._entries, self._blocks)

    def _snapshot(self, e164s: list[str]) -> tuple[list[ActiveList], InternalSet, GeoPolicy]:
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
                )
                for lst, ver in rows
            ]
            internal = self._internal_for(s, e164s)
            policy = s.scalars(select(CompliancePolicy)).one_or_none()
        geo = GeoPolicy(
            allowed_countries=frozenset(policy.allowed_countries if policy else ["US"]),
            blocked_states=frozenset(policy.blocked_states if policy else ()),
            blocked_area_codes=frozenset(int(a) for a in (policy.blocked_area_codes if policy else ())),
        )
        return active, internal, geo

    def _handle(self, lst: ActiveList) -> IndexHandle | DatedIndexHandle:
        key = (lst.list_id, lst.seq)
        handle = self._handles.get(key)
        if handle is None:
            for old in [k for k in self._handles if k[0] == lst.list_id]:
                del self._handles[old]
            directory = Path(data_dir()) / lst.index_dir
            handle = (
                DatedIndexHandle(directory, lst.seq)
                if lst.kind == "reassigned"
                else IndexHandle(directory, lst.seq)
            )
            self._handles[key] = handle
        return handle

    # ------------------------------------------------------------------ the decision

    def check(self, leads: Sequence[LeadContext], at: datetime) -> list[ScrubVerdict]:
        """One verdict per lead, in order: THE decision function."""
        return self.decide(LeadColumns.of(leads), at).verdicts()

    def decide(self, cols: LeadColumns, at: datetime) -> BatchDecision:
        """`check` in columnar form, for bulk callers that do not need one object per verdict."""
        if at.tzinfo is None:
            raise ValidationError("check time `at` must be timezone-aware", field="at")
        count = len(cols)
        checked_at = at.astimezone(UTC)
        if count == 0:
            return BatchDecision(cols, [], np.zeros(0, dtype=np.int64), checked_at, "")
        active, internal, geo = self._snapshot(cols.e164s)
        plan = self.plan
        bits = _Bits(count)

        e164s = cols.e164s
        national = e164_to_national(e164s)
        region = np.array(plan.npa_region, dtype=object)[np.where(national >= 0, national // 10_000_000, 0)]
        keys = np.where(national >= 0, national + NANP_KEY_BASE, -1)
        zone_ids = plan.prefix_zone_set[np.where(national >= 0, national // 10_000, 0)].astype(np.int64)
        zone_sets: list[tuple[str, ...]] = list(plan.zone_sets)
        invalid = np.zeros(count, dtype=bool)
        for i in np.flatnonzero(national < 0):  # other NANP regions and international numbers
            self._slow_number(e164s[int(i)], int(i), national, region, keys, zone_ids, zone_sets, invalid)
        bits.reason(reasons.INVALID_NUMBER, invalid)
        nanp = national >= 0
        npa = np.where(nanp, national // 10_000_000, 0)
        us = nanp & (region == "US")

        npa_states = np.array(plan.npa_state, dtype=object)[npa]
        npa_states[~nanp] = ""
        default_campaign = str(self.rules.campaign_id) if self.rules.campaign_id else None
        campaign_ids = np.full(count, default_campaign, dtype=object)
        if cols.campaign_ids is not None:
            campaign_ids = np.array([c or default_campaign for c in cols.campaign_ids], dtype=object)
        self._geo(bits, geo, region, invalid, npa, nanp, cols.states, npa_states, internal, campaign_ids)
        registry_version = self._lists(bits, active, national, us, at, cols)
        self._internal_lists(bits, internal, keys, campaign_ids)
        groups, group_of = self._windows(bits, zone_ids, zone_sets, cols, npa_states, invalid, at)
        parts, part_of = self._parts(bits, groups, group_of)
        return BatchDecision(cols, parts, part_of, checked_at, registry_version)

    def _slow_number(
        self,
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
            zone_ids[i] = self.plan.prefix_zone_set[number.national_number // 10_000]
            return
        zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if "Unknown" not in z)
        if zones not in zone_sets:
            zone_sets.append(zones)
        zone_ids[i] = zone_sets.index(zones)

    def _geo(
        self,
        bits: _Bits,
        geo: GeoPolicy,
        region: np.ndarray,
        invalid: np.ndarray,
        npa: np.ndarray,
        nanp: np.ndarray,
        lead_states: list[str],
        npa_states: np.ndarray,
        internal: InternalSet,
        campaign_ids: np.ndarray,
    ) -> None:
        allowed = set(geo.allowed_countries)
        if self.rules.allowed_countries is not None:
            allowed &= set(self.rules.allowed_countries)
        bits.reason(reasons.COUNTRY_NOT_ALLOWED, ~invalid & ~np.isin(region, list(allowed)))
        blocked_states = geo.blocked_states | set(self.rules.blocked_states)
        if blocked_states:
            in_blocked = np.isin(npa_states, list(blocked_states)) | np.isin(
                np.array(lead_states, dtype=object), list(blocked_states)
            )
            bits.reason(reasons.STATE_BLOCKED, in_blocked)
        org_codes = set(geo.blocked_area_codes) | {int(a) for a in self.rules.blocked_area_codes}
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
        self,
        bits: _Bits,
        active: list[ActiveList],
        national: np.ndarray,
        us: np.ndarray,
        at: datetime,
        cols: LeadColumns,
    ) -> str:
        nationals = [a for a in active if a.kind == "national" and a.obtained_at <= at]
        fresh = [a for a in nationals if at - a.obtained_at <= REGISTRY_MAX_AGE]
        if not nationals:
            bits.reason(reasons.NATIONAL_REGISTRY_MISSING, us)
        elif not fresh:
            bits.reason(reasons.NATIONAL_REGISTRY_STALE, us)
        newest = max(nationals, key=lambda a: a.obtained_at, default=None)
        registry_version = f"{newest.seq}@{newest.obtained_at.date().isoformat()}" if newest else ""
        wireless = cols.wireless == 1
        reassigned_day = np.full(len(national), -1, dtype=np.int64)
        code = {
            "national": reasons.NATIONAL_DNC,
            "state": reasons.STATE_DNC,
            "litigator": reasons.LITIGATOR,
        }
        try:
            handles = [
                (lst, self._handle(lst)) for lst in active if lst.kind != "national" or lst in nationals
            ]
            for lst, handle in handles:
                if isinstance(handle, DatedIndexHandle):
                    day = handle.lookup(national)
                    hit = day >= 0
                    reassigned_day = np.maximum(reassigned_day, day)
                else:
                    hit = handle.contains(national)
                if lst.kind == "wireless":
                    wireless |= (cols.wireless == -1) & hit
                elif lst.kind in code:
                    bits.reason(code[lst.kind], hit)
                bits.match(lst.match(), hit)
            for _, handle in handles:  # a change list applied while we probed must not go unnoticed
                handle.verify()
        except StaleIndexError:
            bits.reason(reasons.LIST_INDEX_STALE, np.ones(len(national), dtype=bool))
        bits.reason(reasons.WIRELESS_NO_CONSENT, wireless & ~cols.written_consent)
        consent_day = cols.consent_day
        # Consent given before the number was disconnected was given by someone else (or unknown when: -2).
        bits.reason(
            reasons.REASSIGNED_SINCE_CONSENT,
            (reassigned_day >= 0)
            & (consent_day != -1)
            & ((consent_day == -2) | (consent_day <= reassigned_day)),
        )
        return registry_version

    def _internal_lists(
        self, bits: _Bits, internal: InternalSet, keys: np.ndarray, campaign_ids: np.ndarray
    ) -> None:
        on_org = np.isin(keys, internal.org_keys) & (keys >= 0)
        bits.reason(reasons.INTERNAL_DNC, on_org)
        bits.match(
            ListMatch(kind="internal", list_id="internal", version=internal.label, scope="org"), on_org
        )
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
        self,
        bits: _Bits,
        zone_ids: np.ndarray,
        zone_sets: list[tuple[str, ...]],
        cols: LeadColumns,
        npa_states: np.ndarray,
        invalid: np.ndarray,
        at: datetime,
    ) -> tuple[list[tuple[tuple[str, ...], str, str]], np.ndarray]:
        """Calling-window rules, evaluated once per distinct (zones, lead state, area-code state)."""
        lead_states = cols.states
        state_names = sorted({*lead_states, *npa_states.tolist()})
        state_index = {s: i for i, s in enumerate(state_names)}
        width = len(state_names)
        lead_state_ids = np.array([state_index[s] for s in lead_states], dtype=np.int64)
        npa_state_ids = np.array([state_index[s] for s in npa_states.tolist()], dtype=np.int64)
        group_key = (zone_ids * width + lead_state_ids) * width + npa_state_ids
        unique_keys, group_of = _dense_unique(group_key)
        groups: list[tuple[tuple[str, ...], str, str]] = []
        window_reasons = np.zeros(len(unique_keys), dtype=np.uint64)
        caps: list[int | None] = []
        for g, key in enumerate(unique_keys.tolist()):
            zone_id, rest = divmod(key, width * width)
            lead_state, npa_state = state_names[rest // width], state_names[rest % width]
            states = tuple(sorted({s for s in (lead_state, npa_state) if s}))
            # The lead's own state narrows or widens the zones; the area code's state only adds its rules.
            lead_only = (lead_state,) if lead_state else ()
            zones = candidate_zones(zone_sets[zone_id], lead_only) if zone_sets[zone_id] else ()
            decision = decide_window(
                zones, states, self.calling_rules, self.rules.calling_window_override, at
            )
            for code in decision.reasons:
                window_reasons[g] |= np.uint64(1) << np.uint64(reasons.BIT[code])
            groups.append((decision.zones, decision.window, decision.state_rule))
            caps.append(decision.max_calls_per_24h)
        bits.reasons |= np.where(invalid, np.uint64(0), window_reasons[group_of])
        capped = np.zeros(len(cols), dtype=bool)
        for i, recent in cols.recent_calls.items():
            cap = caps[group_of[i]]
            capped[i] = cap is not None and calls_in_last_24h(recent, at) >= cap
        bits.reason(reasons.STATE_CALL_CAP, capped)
        return groups, group_of.reshape(-1)

    @staticmethod
    def _parts(
        bits: _Bits, groups: list[tuple[tuple[str, ...], str, str]], group_of: np.ndarray
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
            zones, window, state_rule = groups[group]
            parts.append(VerdictParts(not codes, codes, matches, zones, window, state_rule))
        return parts, part_of.reshape(-1)
