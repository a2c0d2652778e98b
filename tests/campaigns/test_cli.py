"""`clearline campaigns create`, `clearline leads import` and `clearline leads export`, run as a user would."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Tenant


def clearline(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearline.cli", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_create_a_campaign_import_leads_and_export_them(
    tenant: Tenant, repo_root: Path, tmp_path: Path
) -> None:
    made = clearline(
        repo_root,
        "campaigns",
        "create",
        "--org",
        tenant.org.slug,
        "--name",
        "CLI run",
        "--caller-id",
        "+12025550199",
    )
    assert made.returncode == 0, made.stderr
    campaign_id = made.stdout.strip()
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "phone,first_name\n2025550143,Ann\n2025550143,Ann again\nnope,Bad\n2025550144,@SUM(A1)\n"
    )
    imported = clearline(repo_root, "leads", "import", "--campaign", campaign_id, str(leads), "--json")
    assert imported.returncode == 0, imported.stderr
    out = json.loads(imported.stdout)
    assert {k: out[k] for k in ("status", "total", "imported", "duplicates", "invalid", "blocked")} == {
        "status": "succeeded",
        "total": 4,
        "imported": 2,
        "duplicates": 1,
        "invalid": 1,
        "blocked": 0,
    }
    assert leads.exists()  # the user's own file is left alone

    exported = tmp_path / "out.csv"
    done = clearline(repo_root, "leads", "export", "--campaign", campaign_id, "--out", str(exported))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(exported.open()))
    assert [(r["phone_e164"], r["first_name"]) for r in rows] == [
        ("+12025550143", "Ann"),
        ("+12025550144", "'@SUM(A1)"),
    ]
