"""Lead files as people really send them import correctly, and bad rows are reported, not lost."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from campaigns.importer import ImportRequest, ImportResult, import_lead_file
from campaigns.models import Lead
from tests.campaigns.conftest import CampaignWorld

AT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


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
