"""Request and response bodies of the dnc API."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import msgspec

from dnc.models import AreaCodeBlock, DncRemoval, InternalDncEntry, ScrubReport
from dnc.policy import PolicyRules
from dnc.verdicts import ScrubVerdict


class ImportQueued(msgspec.Struct):
    job_id: uuid.UUID


class ListOut(msgspec.Struct):
    list_id: uuid.UUID
    kind: str
    scope: str
    platform_wide: bool
    version: int | None
    record_count: int | None
    obtained_at: datetime | None
    source_file: str | None
    age_days: float | None = None  # the current version's age now
    max_age_days: float | None = None  # how old it may be (None: no freshness rule for this kind)
    stale: bool = False  # too old (or, for the national registry, missing): checks against it fail closed


class InternalIn(msgspec.Struct, forbid_unknown_fields=True):
    e164: str
    reason: str = ""
    source: str = "api"
    campaign_id: uuid.UUID | None = None


class InternalOut(msgspec.Struct):
    id: int
    e164: str
    campaign_id: uuid.UUID | None
    source: str
    reason: str
    added_by: uuid.UUID | None
    added_at: datetime

    @classmethod
    def of(cls, e: InternalDncEntry) -> InternalOut:
        return cls(
            id=e.id,
            e164=e.e164,
            campaign_id=e.campaign_id,
            source=e.source,
            reason=e.reason,
            added_by=e.added_by,
            added_at=e.added_at,
        )


class AreaCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    area_code: str
    reason: str = ""
    campaign_id: uuid.UUID | None = None


class AreaCodeOut(msgspec.Struct):
    id: int
    area_code: str
    campaign_id: uuid.UUID | None
    reason: str
    added_by: uuid.UUID | None
    added_at: datetime

    @classmethod
    def of(cls, b: AreaCodeBlock) -> AreaCodeOut:
        return cls(b.id, b.area_code, b.campaign_id, b.reason, b.added_by, b.added_at)


class RemovalOut(msgspec.Struct):
    id: int
    kind: str
    value: str
    campaign_id: uuid.UUID | None
    source: str
    reason: str
    added_by: uuid.UUID | None
    added_at: datetime
    removed_by: uuid.UUID | None
    removed_at: datetime
    removal_reason: str

    @classmethod
    def of(cls, r: DncRemoval) -> RemovalOut:
        return cls(
            r.id,
            r.kind,
            r.value,
            r.campaign_id,
            r.source,
            r.reason,
            r.added_by,
            r.added_at,
            r.removed_by,
            r.removed_at,
            r.removal_reason,
        )


class PolicyIO(msgspec.Struct, forbid_unknown_fields=True):
    allowed_countries: list[str] = msgspec.field(default_factory=lambda: ["US"])
    blocked_states: list[str] = msgspec.field(default_factory=list)
    blocked_area_codes: list[str] = msgspec.field(default_factory=list)
    ip_allow_cidrs: list[str] = msgspec.field(default_factory=list)
    ip_deny_cidrs: list[str] = msgspec.field(default_factory=list)
    ip_allowed_countries: list[str] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, rules: PolicyRules) -> PolicyIO:
        return cls(**asdict(rules))

    def rules(self) -> PolicyRules:
        return PolicyRules(**msgspec.structs.asdict(self))


class PolicyPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The rules to change; the ones left out stay as they are."""

    allowed_countries: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_states: list[str] | msgspec.UnsetType = msgspec.UNSET
    blocked_area_codes: list[str] | msgspec.UnsetType = msgspec.UNSET
    ip_allow_cidrs: list[str] | msgspec.UnsetType = msgspec.UNSET
    ip_deny_cidrs: list[str] | msgspec.UnsetType = msgspec.UNSET
    ip_allowed_countries: list[str] | msgspec.UnsetType = msgspec.UNSET

    def given(self) -> dict[str, list[str]]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}


class CheckIn(msgspec.Struct, forbid_unknown_fields=True):
    numbers: list[str]
    at: datetime | None = None
    campaign_id: uuid.UUID | None = None


class VerdictOut(msgspec.Struct):
    e164: str
    verdict: str
    reasons: list[str]
    lists: list[str]
    time_zones: list[str]
    calling_window: str
    state_rule: str
    registry_version: str

    @classmethod
    def of(cls, v: ScrubVerdict) -> VerdictOut:
        return cls(
            e164=v.e164,
            verdict=v.verdict,
            reasons=list(v.reasons),
            lists=[f"{m.kind}:{m.scope}:v{m.version}" for m in v.matches],
            time_zones=list(v.time_zones),
            calling_window=v.calling_window,
            state_rule=v.state_rule,
            registry_version=v.registry_version,
        )


class ReportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    checked_at: datetime
    campaign_id: uuid.UUID | None
    counts: dict[str, Any]
    job_id: uuid.UUID | None
    csv_url: str

    @classmethod
    def of(cls, r: ScrubReport) -> ReportOut:
        return cls(
            id=r.id,
            status=r.status,
            checked_at=r.checked_at,
            campaign_id=r.campaign_id,
            counts=r.counts,
            job_id=r.job_id,
            csv_url=f"/api/dnc/scrub-reports/{r.id}.csv",
        )
