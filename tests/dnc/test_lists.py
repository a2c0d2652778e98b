"""List imports: both FTC line forms, change lists, every list kind and scope, malformed files, stale indexes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import ALL_ORGS
from core.errors import ConflictError, ValidationError
from core.file_limits import FileLimitError
from core.runtime import Runtime
from dnc import reasons
from dnc.engine import ComplianceEngine
from dnc.index_files import cache_root
from dnc.lists import MAX_DELTA_SHARE, MAX_DELTAS, import_list_file, import_numbers, needs_compaction
from dnc.models import DncList, DncListVersion, InternalDncEntry
from dnc.registry_files import MalformedFileError, parse_number_file
from dnc.verdicts import CampaignRules, Consent, LeadContext
from tests.conftest import Tenant

AT = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def verdict_reasons(
    runtime: Runtime, org: Tenant, *numbers: str, rules: CampaignRules | None = None
) -> list[tuple[str, ...]]:
    engine = ComplianceEngine.load(runtime.db, org.id, rules)
    return [v.reasons for v in engine.check([LeadContext(n) for n in numbers], AT)]


@pytest.mark.parametrize(
    "text",
    [
        "2025550143\n2025550144\n",  # NNNNNNNNNN
        "202,5550143\n202,5550144\n",  # NNN,NNNNNNN
        "2025550143\r\n202,5550144\r\n",  # CRLF, mixed forms
    ],
)
def test_full_registry_in_either_ftc_line_form(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, text: str
) -> None:
    result = import_list_file(
        runtime.db,
        kind="national",
        path=write(tmp_path, "full.txt", text),
        owner_org_id=tenant.id,
        obtained_at=AT,
    )
    assert result.record_count == 2
    assert verdict_reasons(runtime, tenant, "+12025550143", "+12025550144", "+12025550145") == [
        (reasons.NATIONAL_DNC,),
        (reasons.NATIONAL_DNC,),
        (),
    ]


def test_change_list_adds_and_deletes_in_place_as_a_new_version(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import_list_file(
        runtime.db, kind="national", path=write(tmp_path, "f.txt", "2025550143\n2025550144\n"), owner_org_id=tenant.id,
        obtained_at=AT - timedelta(days=40),
    )  # fmt: skip
    engine = ComplianceEngine.load(runtime.db, tenant.id)
    assert engine.check([LeadContext("+12025550145")], AT)[0].reasons == (reasons.NATIONAL_REGISTRY_STALE,)
    result = import_list_file(
        runtime.db,
        kind="national",
        path=write(tmp_path, "c.txt", "2025550145,A\n202,5550143,D\n2025550199,D\n"),
        owner_org_id=tenant.id,
        change_list=True,
        obtained_at=AT - timedelta(days=1),
    )
    assert (result.seq, result.added, result.deleted, result.record_count) == (2, 1, 1, 2)
    # The same engine (a long-running dialer) sees the new version at its next check; the change list
    # also refreshed the copy's 31-day clock.
    verdicts = engine.check([LeadContext(n) for n in ("+12025550143", "+12025550144", "+12025550145")], AT)
    assert [v.reasons for v in verdicts] == [(), (reasons.NATIONAL_DNC,), (reasons.NATIONAL_DNC,)]
    assert verdicts[1].matches[0].version == "2"


def test_change_lists_chain_as_deltas_until_the_chain_is_compacted_into_a_full_pack(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import_list_file(
        runtime.db, kind="national", path=write(tmp_path, "f.txt", "2025550100\n"), owner_org_id=tenant.id,
        obtained_at=AT,
    )  # fmt: skip
    engine = ComplianceEngine.load(runtime.db, tenant.id)
    for day in range(1, MAX_DELTAS + 2):  # one change list more than a chain holds
        import_list_file(
            runtime.db, kind="national", path=write(tmp_path, f"c{day}.txt", f"20255501{day:02d},A\n"),
            owner_org_id=tenant.id, change_list=True, obtained_at=AT,
        )  # fmt: skip
        if day == MAX_DELTAS:  # a running engine builds the chained version from base + 7 deltas
            assert [v.reasons for v in engine.check([LeadContext("+12025550107")], AT)] == [
                (reasons.NATIONAL_DNC,)
            ]
    with runtime.db.session(ALL_ORGS) as s:
        versions = s.scalars(
            select(DncListVersion).join(DncList).where(DncList.owner_org_id == tenant.id)
            .order_by(DncListVersion.seq)
        ).all()  # fmt: skip
    assert [len(v.index_deltas) for v in versions] == [0, *range(1, MAX_DELTAS + 1), 0]
    chained, compacted = versions[-2], versions[-1]
    assert compacted.index_dir != versions[0].index_dir and compacted.record_count == MAX_DELTAS + 2
    # The compacted version replaced the chain: its base pack and deltas are gone from the store.
    assert not runtime.files.exists(chained.index_dir)
    assert not any(runtime.files.exists(str(d["key"])) for d in chained.index_deltas)
    numbers = [f"+120255501{n:02d}" for n in range(MAX_DELTAS + 3)]
    assert [v.reasons for v in engine.check([LeadContext(n) for n in numbers], AT)] == [
        *[(reasons.NATIONAL_DNC,)] * (MAX_DELTAS + 2),
        (),
    ]


def test_the_compaction_rule() -> None:
    base = 370_000_000
    assert not needs_compaction([], 8_000_000, base)
    assert not needs_compaction([8_000_000] * (MAX_DELTAS - 1), 8_000_000, base)
    assert needs_compaction([8_000_000] * MAX_DELTAS, 8_000_000, base)  # one delta too many
    assert needs_compaction([80_000_000], 20_000_000, base)  # deltas above a quarter of the base
    assert needs_compaction([], int(MAX_DELTA_SHARE * base) + 1, base)


def test_a_change_list_needs_a_full_copy_first(runtime: Runtime, tenant: Tenant, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="full list before a change list"):
        import_list_file(
            runtime.db, kind="litigator", path=write(tmp_path, "c.txt", "2025550145,A\n"), owner_org_id=tenant.id,
            change_list=True,
        )  # fmt: skip


def test_malformed_file_names_its_lines_and_imports_nothing(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    lines = ["2025550143"] * 5 + ["20255501", "2025550143", "hello", "1025550143"]
    with pytest.raises(MalformedFileError) as caught:
        import_list_file(
            runtime.db,
            kind="national",
            path=write(tmp_path, "bad.txt", "\n".join(lines) + "\n"),
            owner_org_id=tenant.id,
        )
    assert [e.line for e in caught.value.errors] == [6, 8, 9]
    assert "line 6" in str(caught.value) and "nothing imported" in str(caught.value)
    with runtime.db.session(ALL_ORGS) as s:
        lists = s.query(DncList).filter(DncList.owner_org_id == tenant.id).all()
        assert all(lst.current_version_id is None for lst in lists)
    assert not [lst for lst in lists if runtime.files.exists(f"dnc/lists/{lst.id}")]
    assert list((cache_root(runtime.settings.home) / "building").iterdir()) == []


def test_malformed_change_list_changes_nothing(runtime: Runtime, tenant: Tenant, tmp_path: Path) -> None:
    import_numbers(
        runtime.db, kind="national", numbers=["2025550143"], owner_org_id=tenant.id, obtained_at=AT
    )
    with pytest.raises(MalformedFileError) as caught:
        import_list_file(
            runtime.db, kind="national", path=write(tmp_path, "c.txt", "2025550143,D\n2025550144,X\n"),
            owner_org_id=tenant.id, change_list=True,
        )  # fmt: skip
    assert caught.value.errors[0].line == 2
    assert verdict_reasons(runtime, tenant, "+12025550143") == [(reasons.NATIONAL_DNC,)]


def test_index_that_does_not_match_its_recorded_version_fails_closed(
    runtime: Runtime, tenant: Tenant
) -> None:
    # A number of its own, so the cached copy this test damages is no other test's (copies are shared by
    # content: every list holding the same numbers at the same version has the same one).
    own = f"20255{uuid.uuid4().int % 10**5:05d}"
    result = import_numbers(
        runtime.db, kind="national", numbers=[own], owner_org_id=tenant.id, obtained_at=AT
    )
    with runtime.db.session(ALL_ORGS) as s:
        version = s.get(DncListVersion, result.version_id)
        assert version is not None
        assert version.index_sha256 is not None
        meta_path = cache_root(runtime.settings.home) / version.index_sha256 / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "state": "applying"}))  # as if a change list crashed half-way
    assert verdict_reasons(runtime, tenant, "+12025550143") == [(reasons.LIST_INDEX_STALE,)]


def test_state_litigator_and_wireless_lists(runtime: Runtime, tenant: Tenant) -> None:
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT)
    import_numbers(runtime.db, kind="state", state="TX", numbers=["2145550100"], owner_org_id=tenant.id)
    import_numbers(runtime.db, kind="litigator", numbers=["2025550101"], owner_org_id=tenant.id)
    import_numbers(runtime.db, kind="wireless", numbers=["2025550102"], owner_org_id=tenant.id)
    engine = ComplianceEngine.load(runtime.db, tenant.id)
    texas, litigator, wireless, wireless_consented = engine.check(
        [
            LeadContext("+12145550100"),
            LeadContext("+12025550101"),
            LeadContext("+12025550102"),
            LeadContext("+12025550102", consent=Consent.EXPRESS_WRITTEN),
        ],
        AT,
    )
    assert texas.reasons == (reasons.STATE_DNC,) and texas.matches[0].scope == "TX"
    assert litigator.reasons == (reasons.LITIGATOR,)
    assert wireless.reasons == (reasons.WIRELESS_NO_CONSENT,)
    assert wireless_consented.callable and wireless_consented.matches[0].kind == "wireless"


def test_reassigned_number_blocks_consent_given_before_the_disconnect(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT)
    import_list_file(
        runtime.db,
        kind="reassigned",
        path=write(tmp_path, "rnd.csv", "2025550103,2026-06-01\n"),
        owner_org_id=tenant.id,
    )
    engine = ComplianceEngine.load(runtime.db, tenant.id)
    before, after, unknown_date = engine.check(
        [
            LeadContext("+12025550103", consent=Consent.EXPRESS_WRITTEN, consent_at=date(2026, 1, 1)),
            LeadContext("+12025550103", consent=Consent.EXPRESS_WRITTEN, consent_at=date(2026, 7, 1)),
            LeadContext("+12025550103", consent=Consent.EXPRESS_WRITTEN),
        ],
        AT,
    )
    assert before.reasons == unknown_date.reasons == (reasons.REASSIGNED_SINCE_CONSENT,)
    assert after.callable


def test_malformed_reassigned_file_reports_bad_dates(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    with pytest.raises(MalformedFileError) as caught:
        import_list_file(
            runtime.db, kind="reassigned", path=write(tmp_path, "r.csv", "2025550103,2026-02-30\n2025550104\n"),
            owner_org_id=tenant.id,
        )  # fmt: skip
    assert [e.line for e in caught.value.errors] == [1, 2]


def test_internal_import_normalizes_and_scopes_to_campaign(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    import uuid

    import_numbers(runtime.db, kind="national", numbers=[], owner_org_id=tenant.id, obtained_at=AT)
    campaign = uuid.uuid4()
    path = write(tmp_path, "internal.csv", "phone,name\n(202) 555-0104,Ann\n+1 202.555.0105,Bob\n")
    import_list_file(runtime.db, kind="internal", path=path, owner_org_id=tenant.id, campaign_id=campaign)
    assert verdict_reasons(runtime, tenant, "+12025550104", "+12025550105") == [(), ()]
    assert verdict_reasons(runtime, tenant, "+12025550104", rules=CampaignRules(campaign_id=campaign)) == [
        (reasons.CAMPAIGN_DNC,)
    ]
    bad = write(tmp_path, "bad.csv", "2025550106\nnot a number\n")
    with pytest.raises(MalformedFileError) as caught:
        import_list_file(runtime.db, kind="internal", path=bad, owner_org_id=tenant.id)
    assert caught.value.errors[0].line == 2
    with runtime.db.session(ALL_ORGS) as s:
        assert s.query(InternalDncEntry).filter(InternalDncEntry.e164 == "+12025550106").count() == 0


def test_registry_copy_obtained_in_the_future_is_refused_and_imports_nothing(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    with pytest.raises(ValidationError, match=r"obtained_at 2999-01-01.*is in the future") as caught:
        import_list_file(
            runtime.db,
            kind="national",
            path=write(tmp_path, "ftc.txt", "2025550143\n"),
            owner_org_id=tenant.id,
            obtained_at=datetime(2999, 1, 1, tzinfo=UTC),
            now=now,
        )
    assert caught.value.field == "obtained_at"
    with runtime.db.session(ALL_ORGS) as s:
        assert s.query(DncList).filter(DncList.owner_org_id == tenant.id).count() == 0
    # A few minutes of clock skew between the downloading machine and this one is fine.
    result = import_list_file(
        runtime.db,
        kind="national",
        path=write(tmp_path, "ftc.txt", "2025550143\n"),
        owner_org_id=tenant.id,
        obtained_at=now + timedelta(minutes=2),
        now=now,
    )
    assert result.record_count == 1


def test_full_copy_shrinking_a_list_by_more_than_half_needs_replace_smaller(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    fifty = "".join(f"20255501{i:02d}\n" for i in range(50))
    kw: dict[str, object] = {"kind": "national", "owner_org_id": tenant.id, "obtained_at": AT}
    import_list_file(runtime.db, path=write(tmp_path, "full.txt", fifty), **kw)  # type: ignore[arg-type]
    truncated = write(tmp_path, "truncated.txt", "2025550100\n2025550101\n")
    with pytest.raises(
        ConflictError, match=r"2 numbers, fewer than half of the current 50.*--replace-smaller"
    ):
        import_list_file(runtime.db, path=truncated, **kw)  # type: ignore[arg-type]
    assert verdict_reasons(runtime, tenant, "+12025550149") == [("national_dnc",)]  # the 50 still hold
    half = write(tmp_path, "half.txt", "".join(f"20255501{i:02d}\n" for i in range(25)))
    assert import_list_file(runtime.db, path=half, **kw).record_count == 25  # type: ignore[arg-type]
    replaced = import_list_file(runtime.db, path=truncated, replace_smaller=True, **kw)  # type: ignore[arg-type]
    assert replaced.record_count == 2 and replaced.seq == 3
    assert verdict_reasons(runtime, tenant, "+12025550149") == [()]


@pytest.mark.parametrize(
    "kind", ["national", "reassigned", "internal"], ids=["registry", "reassigned", "internal"]
)
def test_a_list_file_with_an_endless_line_is_refused_at_that_line_and_imports_nothing(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "endless.txt"
    path.write_bytes(b"2025550143\n" + b"9" * (8 * 1024 * 1024))
    with pytest.raises(FileLimitError, match="row 2: the line is longer than the 1024-byte line limit"):
        import_list_file(runtime.db, kind=kind, path=path, owner_org_id=tenant.id, obtained_at=AT)
    with runtime.db.session(ALL_ORGS) as s:
        assert s.query(DncListVersion).join(DncList).filter(DncList.owner_org_id == tenant.id).count() == 0
        assert s.query(InternalDncEntry).filter(InternalDncEntry.org_id == tenant.id).count() == 0


def test_reading_a_list_file_stops_at_the_twentieth_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"20255501\n" * 25 + b"2025550143\n" * 1000)
    with pytest.raises(MalformedFileError) as caught:
        list(parse_number_file(path, change_list=False))
    assert [e.line for e in caught.value.errors] == list(range(1, 21))


def test_internal_import_with_a_bad_line_after_many_good_ones_adds_nothing(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    good = "".join(f"+1{2025550000 + i}\n" for i in range(25_000))
    path = write(tmp_path, "internal.csv", good + "not a number\n")
    with pytest.raises(MalformedFileError, match="line 25001"):
        import_list_file(runtime.db, kind="internal", path=path, owner_org_id=tenant.id)
    with runtime.db.session(ALL_ORGS) as s:
        assert s.query(InternalDncEntry).filter(InternalDncEntry.org_id == tenant.id).count() == 0


def test_a_scrub_input_over_the_file_limits_is_refused_at_its_row(tmp_path: Path) -> None:
    from dnc.scrub import read_leads_csv

    wide = write(tmp_path, "wide.csv", "phone\n" + ",".join(["2025550143"] * 600) + "\n")
    with pytest.raises(FileLimitError, match="row 2: 600 columns, more than the 500-column limit"):
        read_leads_csv(wide)
    endless = tmp_path / "endless.csv"
    endless.write_bytes(b"phone\n" + b"9" * (4 * 1024 * 1024))
    with pytest.raises(FileLimitError, match="row 2: the line is longer than the 65536-byte line limit"):
        read_leads_csv(endless)
    assert read_leads_csv(write(tmp_path, "ok.csv", "\ufeffphone\n2025550143\n")).raws == ["2025550143"]
