"""Defects a newcomer hit in the first hour with the campaigns API (issue: nothing fails silently)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import openpyxl
import pytest
from litestar.testing import TestClient

from core.runtime import Runtime
from tests.conftest import Tenant, job_worker, wait_job


@pytest.fixture(scope="module")
def campaigns_worker(runtime: Runtime) -> Iterator[dramatiq.Worker]:
    with job_worker("campaigns") as worker:
        yield worker


def new_campaign(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    body = {"name": f"First hour {time.monotonic_ns()}", "caller_id": "+12025550199"}
    r = client.post("/api/campaigns", json=body, headers=tenant.headers("manager"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_xlsx_uploaded_through_the_api_is_imported_and_its_list_id_is_found(
    client: TestClient, tenant: Tenant, campaigns_worker: dramatiq.Worker
) -> None:
    campaign = new_campaign(client, tenant)
    content = xlsx([["phone", "first_name"], ["(202) 555-0143", "Ann"], ["2025550144", "Bob"]])
    r = client.post(
        f"/api/campaigns/{campaign['id']}/lead-lists",
        files={
            "file": (
                "leads.xlsx",
                content,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        },
        headers=tenant.headers("manager"),
    )
    assert r.status_code == 202, r.text
    job = wait_job(client, tenant.headers("manager"), r.json()["job_id"])
    assert job["status"] == "succeeded", job
    lead_list = client.get(f"/api/lead-lists/{r.json()['list_id']}", headers=tenant.headers("manager"))
    assert lead_list.status_code == 200 and lead_list.json()["counts"]["imported"] == 2


def test_the_list_id_of_a_failed_import_answers_why_not_a_bare_404(
    client: TestClient, tenant: Tenant, campaigns_worker: dramatiq.Worker
) -> None:
    campaign = new_campaign(client, tenant)
    r = client.post(
        f"/api/campaigns/{campaign['id']}/lead-lists",
        files={"file": ("leads.csv", b"first_name\nAnn\n", "text/csv")},  # no phone column
        headers=tenant.headers("manager"),
    )
    job = wait_job(client, tenant.headers("manager"), r.json()["job_id"])
    assert job["status"] == "failed"
    missing = client.get(f"/api/lead-lists/{r.json()['list_id']}", headers=tenant.headers("manager"))
    assert missing.status_code == 404
    assert "import failed" in missing.json()["detail"] and r.json()["job_id"] in missing.json()["detail"]
