"""Issue 16, retention: one place says how long each kind of data is kept and why; the daily job removes
what is due with the clock it is given, reports it, writes no audit row per deletion, and is idempotent."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.models import CallAttempt, LeadList
from clearline.retention import enforce
from core import retention
from core.db import ALL_ORGS, Scope
from core.errors import ValidationError
from core.models import AuditEntry, AuthSession, Job, JobStatus, Organization
from core.runtime import Runtime
from dialer.models import TrunkAlarm
from dnc.models import ConsentRecord
from tests.campaigns.conftest import make_world
from tests.conftest import Tenant

# The clock the job is given; the rows are placed around it. Close to the real time, because the rows the
# run writes itself (its summary, the purge it queues) carry the real time and must not look old to it.
NOW = datetime.now(UTC)
YEAR = timedelta(days=365)


def test_every_rule_has_a_reason_and_organizations_set_only_their_own_periods() -> None:
    assert all(rule.reason and rule.what for rule in retention.RULES)
    assert retention.BY_KIND["call_records"].days == retention.YEARS_5
    assert retention.BY_KIND["audit_log"].days == 730 and retention.BY_KIND["recordings"].days == 365
    recordings = retention.BY_KIND["recordings"]
    assert retention.cutoff(recordings, None, NOW) == NOW - 365 * retention.DAY
    own = {"retention_days": {"recordings": 90, "call_records": 10}}
    assert retention.cutoff(recordings, own, NOW) == NOW - 90 * retention.DAY
    assert (
        retention.cutoff(retention.BY_KIND["call_records"], own, NOW)
        == NOW - retention.YEARS_5 * retention.DAY
    )
    assert retention.cutoff(retention.BY_KIND["lead_lists"], None, NOW) is None  # until deleted
    with pytest.raises(ValidationError, match="fixed retention period"):
        retention.validate_org_periods({"call_records": 30})
    with pytest.raises(ValidationError, match="outside"):
        retention.validate_org_periods({"recordings": 0})
    assert retention.validate_org_periods({"recordings": 30, "lead_lists": None}) == {
        "recordings": 30, "lead_lists": None}  # fmt: skip


def test_docs_privacy_states_every_rule(repo_root: Path) -> None:
    text = (repo_root / "docs" / "privacy.md").read_text()
    for rule in retention.RULES:
        assert f"`{rule.kind}`" in text, f"docs/privacy.md does not name the rule {rule.kind}"


def test_the_daily_job_removes_what_is_due_keeps_the_rest_reports_and_is_idempotent(
    runtime: Runtime, tenant: Tenant
) -> None:
    world = make_world(runtime, tenant)
    org = tenant.id
    with runtime.db.session(ALL_ORGS) as s:
        org_row = s.get(Organization, org)
        assert org_row is not None
        org_row.settings = {**org_row.settings, "retention_days": {"lead_lists": 30}}
        attempts = {
            age: CallAttempt(
                org_id=org,
                lead_id=1,
                campaign_id=world.campaign_id,
                e164="+12025550100",
                placed_at=NOW - age,
                outcome="busy",
                verdict_reasons=[],
            )
            for age in (6 * YEAR, 4 * YEAR)
        }
        consents = {
            name: ConsentRecord(
                org_id=org,
                e164="+12025550101",
                seller="",
                kind="express",
                source="api",
                given_at=NOW - 10 * YEAR,
                revoked_at=revoked,
            )
            for name, revoked in (
                ("revoked long ago", NOW - 6 * YEAR),
                ("revoked lately", NOW - YEAR),
                ("in force", None),
            )
        }
        user_id = tenant.users["agent"].id
        sessions = {
            age: AuthSession(user_id=user_id, refresh_jti=uuid.uuid4().hex, expires_at=NOW - age)
            for age in (3 * YEAR, timedelta(days=10))
        }
        jobs = {
            age: Job(org_id=org, kind="retention-test", status=JobStatus.SUCCEEDED, finished_at=NOW - age)
            for age in (3 * YEAR, YEAR)
        }
        alarms = {
            name: TrunkAlarm(org_id=org, trunk="retention-test", kind="trunk_failure", cleared_at=cleared)
            for name, cleared in (("cleared long ago", NOW - 3 * YEAR), ("open", None))
        }
        audit_rows = {
            name: AuditEntry(org_id=org, action=action, target="retention-test", at=NOW - age)
            for name, action, age in (
                ("old login", "auth.login", 3 * YEAR),
                ("recent login", "auth.login", YEAR),
                ("old dnc", "dnc.internal_entry.created", 3 * YEAR),
                ("ancient dnc", "dnc.internal_entry.created", 6 * YEAR),
            )
        }
        old_list = LeadList(
            org_id=org, campaign_id=world.campaign_id, name="old", created_at=NOW - timedelta(days=40)
        )
        new_list = LeadList(
            org_id=org, campaign_id=world.campaign_id, name="new", created_at=NOW - timedelta(days=5)
        )
        s.add_all([*attempts.values(), *consents.values(), *sessions.values(), *jobs.values(), *alarms.values(),
                   *audit_rows.values(), old_list, new_list])  # fmt: skip
        s.flush()
        ids = {
            "attempts": {k: v.id for k, v in attempts.items()},
            "consents": {k: v.id for k, v in consents.items()},
            "sessions": {k: v.id for k, v in sessions.items()},
            "jobs": {k: v.id for k, v in jobs.items()},
            "alarms": {k: v.id for k, v in alarms.items()},
            "audit": {k: v.id for k, v in audit_rows.items()},
        }
        lists = (old_list.id, new_list.id)

    report = {r.kind: r.count for r in enforce(runtime, NOW)}
    for kind in ("call_records", "consent_records", "sessions", "jobs", "alarms", "audit_log",
                 "audit_compliance", "lead_lists"):  # fmt: skip
        assert report[kind] >= 1, (kind, report)
    assert report["recordings"] == 0

    with runtime.db.session(ALL_ORGS) as s:

        def alive(model: type, wanted: dict[object, object]) -> set[object]:
            found = set(s.scalars(select(model.id).where(model.id.in_(list(wanted.values())))))  # type: ignore[attr-defined]
            return {name for name, row_id in wanted.items() if row_id in found}

        assert alive(CallAttempt, ids["attempts"]) == {4 * YEAR}
        assert alive(ConsentRecord, ids["consents"]) == {"revoked lately", "in force"}
        assert alive(AuthSession, ids["sessions"]) == {timedelta(days=10)}
        assert alive(Job, ids["jobs"]) == {YEAR}
        assert alive(TrunkAlarm, ids["alarms"]) == {"open"}
        assert alive(AuditEntry, ids["audit"]) == {"recent login", "old dnc"}
        statuses = dict(s.execute(select(LeadList.id, LeadList.status).where(LeadList.id.in_(lists))).all())
        assert (statuses[lists[0]], statuses[lists[1]]) == ("deleting", "active")
        # The deletions wrote no audit row each; the run wrote one saying what it removed.
        assert not s.scalars(select(AuditEntry).where(AuditEntry.org_id == org,
                                                      AuditEntry.action.in_(["consent.deleted", "job.deleted",
                                                                             "alarm.deleted"]))).all()  # fmt: skip
        run = s.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")
                        .order_by(AuditEntry.id.desc())).first()  # fmt: skip
        assert run is not None and run.detail["call_records"] == report["call_records"]

    again = {r.kind: r.count for r in enforce(runtime, NOW)}
    assert set(again.values()) == {0}, again
    with runtime.db.session(Scope(org)) as s:  # the queued purge is the ordinary lead-list purge job
        assert s.scalars(select(Job).where(Job.kind == "lead_list_purge", Job.org_id == org)).all()


def test_privacy_doc_periods_match_the_rules(repo_root: Path) -> None:
    text = (repo_root / "docs" / "privacy.md").read_text()
    for rule in retention.RULES:
        line = next((ln for ln in text.splitlines() if f"`{rule.kind}`" in ln), "")
        if rule.days is not None:
            years, months = rule.days // 365, round(rule.days / 30.4)
            assert re.search(rf"\b({years} years?|{months} months|{rule.days} days)\b", line), (rule.kind, line)
