"""`clearline dnc import|lists|add` and `clearline scrub` against the test database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from clearline.cli import main
from core.runtime import Runtime
from tests.conftest import Tenant


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_then_scrub_a_lead_file_from_the_shell(
    runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    registry = tmp_path / "ftc.txt"
    registry.write_text("202,5550143\n")
    out = json.loads(
        run("dnc", "import", "--kind", "national", "--org", str(tenant.id), "--obtained-at",
            "2026-11-17T00:00:00Z", str(registry))
    )  # fmt: skip
    assert out["record_count"] == 1 and out["seq"] == 1
    change = tmp_path / "change.txt"
    change.write_text("2025550160,A\n")
    run("dnc", "import", "--kind", "national", "--change-list", "--org", tenant.org.slug,
        "--obtained-at", "2026-11-17T12:00:00Z", str(change))  # fmt: skip
    run("dnc", "add", "--org", tenant.org.name, "(202) 555-0161")
    assert "v2 2 numbers" in run("dnc", "lists", "--org", str(tenant.id))
    leads = tmp_path / "leads.csv"
    leads.write_text("phone,lead_id\n2025550143,a\n2025550160,b\n2025550161,c\n2025550162,d\n")
    report = tmp_path / "report.csv"
    summary = json.loads(
        run(
            "scrub",
            str(leads),
            "--org",
            str(tenant.id),
            "--at",
            "2026-11-18T15:00:00Z",
            "--report",
            str(report),
        )
    )
    assert (summary["callable"], summary["blocked"]) == (1, 3)
    with report.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["reasons"] for r in rows] == ["national_dnc", "national_dnc", "internal_dnc", ""]
    assert rows[1]["list_versions"] == "national:2@2026-11-17"


def test_malformed_file_fails_with_line_numbers_and_exit_code_2(tenant: Tenant, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("2025550143\n20255\n")
    result = CliRunner().invoke(
        main, ["dnc", "import", "--kind", "national", "--org", str(tenant.id), str(bad)]
    )
    assert result.exit_code == 2
    assert "line 2" in result.output


def test_full_import_shrinking_a_list_needs_replace_smaller_from_the_shell(
    tenant: Tenant, tmp_path: Path
) -> None:
    full, small = tmp_path / "full.txt", tmp_path / "small.txt"
    full.write_text("".join(f"20255501{i:02d}\n" for i in range(50)))
    small.write_text("2025550100\n2025550101\n")
    run("dnc", "import", "--kind", "national", "--org", str(tenant.id), str(full))
    refused = CliRunner().invoke(
        main, ["dnc", "import", "--kind", "national", "--org", str(tenant.id), str(small)]
    )
    assert refused.exit_code == 2 and "--replace-smaller" in refused.output, refused.output
    out = json.loads(
        run("dnc", "import", "--kind", "national", "--org", str(tenant.id), "--replace-smaller", str(small))
    )
    assert out["record_count"] == 2
