"""Lead files as people really send them import correctly, and bad rows are reported, not lost."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns.importer import ImportRequest, ImportResult, import_lead_file
from campaigns.models import Lead, LeadList
from campaigns.service import create_campaign
from core.errors import ConflictError, ValidationError
from core.file_limits import FileLimitError
from core.runtime import Runtime
from tests.campaigns.conftest import CampaignWorld, make_world
from tests.conftest import Tenant

AT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(runtime: Runtime, tenant: Tenant) -> CampaignWorld:
    """A fresh organization per test: imports de-duplicate and scrub against organization-wide data."""
    return make_world(runtime, tenant)


def run_import(
    world: CampaignWorld, tmp_path: Path, content: bytes, name: str = "leads.csv", **kw: object
) -> ImportResult:
    path = tmp_path / f"{uuid.uuid4().hex}-{name}"
    path.write_bytes(content)
    request = ImportRequest(
        org_id=world.tenant.id,
        campaign_id=world.campaign_id,
        list_id=uuid.uuid4(),
        path=path,
        list_name=name,
        file_name=name,
        **kw,  # type: ignore[arg-type]
    )
    return import_lead_file(world.runtime.db, request, at=AT, report_dir=tmp_path / "reports")


def leads_of(world: CampaignWorld, list_id: uuid.UUID) -> list[Lead]:
    with world.runtime.db.session(world.scope) as s:
        return list(s.scalars(select(Lead).where(Lead.list_id == list_id).order_by(Lead.row_number)))


def report_rows(result: ImportResult) -> list[dict[str, str]]:
    assert result.error_report is not None
    return list(csv.DictReader(io.StringIO(result.error_report.read_text(encoding="utf-8"))))


def test_a_plain_csv_imports_every_valid_row(world: CampaignWorld, tmp_path: Path) -> None:
    content = b"Phone,First Name,Last Name,State,Zip\n(202) 555-0143,Ann,Lee,DC,20001\n2025550144,Bob,Ray,tx,75001\n"
    result = run_import(world, tmp_path, content)
    assert result.counts.as_dict() == {"total": 2, "imported": 2, "duplicates": 0, "invalid": 0, "blocked": 0}
    leads = leads_of(world, result.list_id)
    assert [(x.phone_raw, x.phone_e164, x.first_name, x.state, x.zip_code, x.row_number) for x in leads] == [
        ("(202) 555-0143", "+12025550143", "Ann", "DC", "20001", 2),
        ("2025550144", "+12025550144", "Bob", "TX", "75001", 3),
    ]
    assert all(x.status == "callable" and x.org_id == world.tenant.id for x in leads)


def test_mixed_encodings_bom_and_semicolons_are_read_line_by_line(
    world: CampaignWorld, tmp_path: Path
) -> None:
    content = (
        "\ufeffTéléphone;Prénom;Nom\n".encode()
        + "2025550143;José;Núñez\n".encode()
        + "2025550144;Jürgen;Müller\n".encode("latin-1")
        + "2025550145;Zoë;Smith\n".encode("cp1252")
    )
    result = run_import(world, tmp_path, content, mapping={"phone": "Téléphone", "first_name": "Prénom"})
    assert result.counts.imported == 3
    names = [(x.first_name, x.extra) for x in leads_of(world, result.list_id)]
    assert names == [("José", {"Nom": "Núñez"}), ("Jürgen", {"Nom": "Müller"}), ("Zoë", {"Nom": "Smith"})]


@pytest.mark.parametrize("delimiter", ["\t", "|", ";", ","])
def test_each_supported_delimiter_is_detected(world: CampaignWorld, tmp_path: Path, delimiter: str) -> None:
    rows = [["phone", "first_name", "note"], ["2025550143", "Ann", "a, b; c"], ["2025550144", "Bob", "x"]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    result = run_import(world, tmp_path, buffer.getvalue().encode())
    assert result.counts.imported == 2
    assert [x.extra for x in leads_of(world, result.list_id)] == [{"note": "a, b; c"}, {"note": "x"}]


def test_quoted_newlines_missing_and_extra_columns_and_empty_rows(
    world: CampaignWorld, tmp_path: Path
) -> None:
    content = (
        b"phone,first_name,note\n"
        b'2025550143,Ann,"line one\nline two"\n'
        b"\n"
        b",,\n"
        b"2025550144\n"
        b"2025550145,Cy,n,surplus\n"
    )
    result = run_import(world, tmp_path, content)
    assert result.counts.as_dict() == {"total": 3, "imported": 3, "duplicates": 0, "invalid": 0, "blocked": 0}
    leads = leads_of(world, result.list_id)
    assert [(x.row_number, x.first_name, x.extra) for x in leads] == [
        (2, "Ann", {"note": "line one\nline two"}),
        (6, None, {}),
        (7, "Cy", {"note": "n", "column_4": "surplus"}),
    ]


def test_bad_rows_are_reported_with_row_field_and_rule_and_good_rows_still_import(
    world: CampaignWorld, tmp_path: Path
) -> None:
    content = (
        b"phone,state,zip,consent,consent_date,wireless\n"
        b"2025550143,TX,75001,express_written,2025-01-02,yes\n"
        b"555-0100,TX,75001,,,\n"
        b"2025550144,ZZ,7500,maybe,2099-01-01,perhaps\n"
        b",TX,,,,\n"
        b"2025550143,TX,,,,\n"
    )
    result = run_import(world, tmp_path, content)
    assert result.counts.as_dict() == {"total": 5, "imported": 1, "duplicates": 1, "invalid": 3, "blocked": 0}
    report = {(r["row"], r["field"]): r["reason"] for r in report_rows(result)}
    assert report[("3", "phone")].startswith("not a phone number")
    assert report[("4", "state")] == "not a US state code or name"
    assert report[("4", "consent")] == "not one of none, express, express_written"
    assert report[("4", "consent_at")] == "consent date is in the future"
    assert report[("4", "wireless")] == "not a yes/no wireless flag"
    assert report[("5", "phone")] == "missing: every lead needs a phone number"
    assert report[("6", "phone")] == "duplicate: the number appears earlier in this file"
    assert ("4", "zip_code") not in report  # four digits: Excel dropped the leading zero
    (lead,) = leads_of(world, result.list_id)
    assert (lead.consent, lead.consent_at.isoformat() if lead.consent_at else None, lead.wireless) == (
        "express_written",
        "2025-01-02",
        True,
    )


def test_a_field_over_the_lead_field_limit_rejects_its_row_only_and_the_report_stays_small(
    world: CampaignWorld, tmp_path: Path
) -> None:
    long = b"x" * 20_000  # over the 2000 characters of a lead field, within the reader's limits
    content = b"phone,note\n2025550143,short\n2025550144," + long + b"\n2025550145,ok\n"
    result = run_import(world, tmp_path, content)
    assert result.counts.as_dict() == {"total": 3, "imported": 2, "duplicates": 0, "invalid": 1, "blocked": 0}
    (row,) = report_rows(result)
    assert (row["row"], row["field"], row["reason"]) == ("3", "note", "longer than 2000 characters")
    assert result.error_report is not None and result.error_report.stat().st_size < 1000


def test_a_50_mb_field_refuses_the_file_at_its_row_naming_the_limit_and_stores_nothing(
    world: CampaignWorld, tmp_path: Path
) -> None:
    huge = b"x" * (50 * 1024 * 1024)
    content = b"phone,note\n2025550143,short\n2025550144," + huge + b"\n2025550145,ok\n"
    with pytest.raises(FileLimitError, match="row 3: the row is longer than the 65536-character row limit"):
        run_import(world, tmp_path, content)
    with world.runtime.db.session(world.scope) as s:
        assert (
            s.scalar(select(func.count()).select_from(Lead).where(Lead.campaign_id == world.campaign_id)) == 0
        )
    reports = tmp_path / "reports"
    assert not reports.exists() or not any(reports.iterdir())


def test_formula_cells_are_stored_as_text_and_neutralised_in_the_error_report(
    world: CampaignWorld, tmp_path: Path
) -> None:
    content = b'phone,first_name\n2025550143,"=HYPERLINK(""http://evil"",""x"")"\n=1+2,Bob\n'
    result = run_import(world, tmp_path, content)
    (lead,) = leads_of(world, result.list_id)
    assert lead.first_name == '=HYPERLINK("http://evil","x")'
    (row,) = report_rows(result)
    assert row["value"] == "'=1+2"


def test_duplicate_headers_keep_the_first_as_the_field_and_the_rest_as_extras(
    world: CampaignWorld, tmp_path: Path
) -> None:
    content = b"phone,phone,Phone,first_name\n2025550143,2025550199,2025550198,Ann\n"
    result = run_import(world, tmp_path, content)
    (lead,) = leads_of(world, result.list_id)
    assert lead.phone_e164 == "+12025550143"
    assert lead.extra == {"phone_2": "2025550199", "Phone": "2025550198"}


def test_a_file_without_header_is_mapped_by_column_index(world: CampaignWorld, tmp_path: Path) -> None:
    content = b"Ann,2025550143\nBob,2025550144\n"
    auto = run_import(world, tmp_path, content)
    assert auto.counts.imported == 2 and auto.columns["has_header"] is False
    explicit = run_import(
        world,
        tmp_path,
        content,
        mapping={"phone": 1, "first_name": 0},
        has_header=False,
        allow_same_file=True,
        dedupe_scope="list",
    )
    assert [(x.first_name, x.phone_e164) for x in leads_of(world, explicit.list_id)] == [
        ("Ann", "+12025550143"),
        ("Bob", "+12025550144"),
    ]


def test_a_mapping_naming_a_missing_column_fails_before_anything_is_written(
    world: CampaignWorld, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="no column 'Cell'"):
        run_import(world, tmp_path, b"phone\n2025550143\n", mapping={"phone": "Cell"})
    with pytest.raises(ValidationError, match="no phone column"):
        run_import(world, tmp_path, b"name,city\nAnn,Austin\n")


def test_xlsx_files_are_read_streaming_with_numbers_dates_and_formulas(
    world: CampaignWorld, tmp_path: Path
) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Phone", "First Name", "Zip", "Consent Date", "Score"])
    sheet.append([2025550143, "Ann", 2134, datetime(2025, 3, 4), "=1+1"])
    sheet.append([None, None, None, None, None])
    sheet.append(["(202) 555-0144", "Bob", "75001", None, 7])
    path = tmp_path / "leads.xlsx"
    workbook.save(path)
    result = run_import(world, tmp_path, path.read_bytes(), name="leads.xlsx")
    assert result.counts.as_dict() == {"total": 2, "imported": 2, "duplicates": 0, "invalid": 0, "blocked": 0}
    ann, bob = leads_of(world, result.list_id)
    assert (ann.phone_e164, ann.zip_code, ann.consent_at, ann.extra) == (
        "+12025550143",
        "02134",
        datetime(2025, 3, 4).date(),
        {},  # a formula is never evaluated; without a cached value the cell is empty
    )
    assert (bob.phone_e164, bob.row_number, bob.extra) == ("+12025550144", 4, {"Score": "7"})


def test_numbers_already_in_the_campaign_or_organization_are_duplicates_by_scope(
    world: CampaignWorld, tmp_path: Path, runtime: Runtime
) -> None:
    first = run_import(world, tmp_path, b"phone\n2025550143\n2025550144\n")
    assert first.counts.imported == 2
    again = run_import(world, tmp_path, b"phone\n2025550144\n2025550145\n")
    assert (again.counts.imported, again.counts.duplicates) == (1, 1)
    assert report_rows(again)[0]["reason"] == "duplicate: the number is already a lead of this campaign"
    in_list_scope = run_import(world, tmp_path, b"phone\n2025550143\n2025550143\n", dedupe_scope="list")
    assert (in_list_scope.counts.imported, in_list_scope.counts.duplicates) == (1, 1)
    with runtime.db.session(world.scope) as s:
        other = create_campaign(
            s, org_id=world.tenant.id, name="Other", settings={"caller_id": "+12025550199"}
        )
        other_id = other.id
    other_world = CampaignWorld(runtime=runtime, tenant=world.tenant, campaign_id=other_id)
    org_scope = run_import(
        other_world, tmp_path, b"phone\n2025550143\n2025550146\n", dedupe_scope="organization"
    )
    assert (org_scope.counts.imported, org_scope.counts.duplicates) == (1, 1)
    no_dedupe = run_import(other_world, tmp_path, b"phone\n2025550146\n2025550146\n", dedupe_scope="none")
    assert no_dedupe.counts.imported == 2


def test_uploading_the_same_file_again_is_detected(world: CampaignWorld, tmp_path: Path) -> None:
    content = b"phone\n2025550143\n"
    first = run_import(world, tmp_path, content)
    with pytest.raises(ConflictError, match=str(first.list_id)):
        run_import(world, tmp_path, content)
    again = run_import(world, tmp_path, content, allow_same_file=True)
    assert again.counts.duplicates == 1


def test_numbers_the_compliance_engine_blocks_are_stored_blocked_with_reasons(
    world: CampaignWorld, tmp_path: Path, runtime: Runtime
) -> None:
    from dnc.internal import add_internal_dnc

    with runtime.db.session(world.scope) as s:
        add_internal_dnc(
            s, e164="+12025550143", campaign_id=None, source="compliance", reason="asked", added_by=None
        )
    content = b"phone,wireless,consent\n2025550143,,\n2025550144,yes,none\n2025550145,yes,express_written\n"
    result = run_import(world, tmp_path, content)
    assert result.counts.as_dict() == {"total": 3, "imported": 1, "duplicates": 0, "invalid": 0, "blocked": 2}
    leads = leads_of(world, result.list_id)
    assert [(x.status, x.verdict, x.verdict_reasons) for x in leads] == [
        ("blocked", "blocked", ["internal_dnc"]),
        ("blocked", "blocked", ["wireless_no_consent"]),
        ("callable", "callable", []),
    ]


def test_a_cancelled_import_leaves_no_list_no_leads_and_no_report(
    world: CampaignWorld, tmp_path: Path, runtime: Runtime
) -> None:
    from core.jobs import JobCancelled, JobReporter, create_job
    from core.models import Job

    job_id = create_job(runtime.db, world.scope, kind="lead_import", params={}, created_by=None)
    with runtime.db.session(world.scope) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.cancel_requested = True
    rows = "".join(f"2025550{i:03d},{'bad-zip' if i % 2 else '75001'}\n" for i in range(100, 400))
    path = tmp_path / "big.csv"
    path.write_text("phone,zip\n" + rows)
    list_id = uuid.uuid4()
    request = ImportRequest(
        org_id=world.tenant.id,
        campaign_id=world.campaign_id,
        list_id=list_id,
        path=path,
        list_name="x",
        file_name="x",
    )
    with pytest.raises(JobCancelled):
        import_lead_file(
            runtime.db,
            request,
            at=AT,
            report_dir=tmp_path / "reports",
            progress=JobReporter(runtime.db, job_id).progress,
            batch_rows=50,
        )
    with runtime.db.session(world.scope) as s:
        assert s.scalars(select(LeadList).where(LeadList.id == list_id)).first() is None
        assert s.scalars(select(Lead).where(Lead.list_id == list_id)).first() is None
    assert not (tmp_path / "reports" / f"{list_id}.errors.csv").exists()
