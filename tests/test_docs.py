"""The README and docs stay true: no pointers outside the repository, and the defaults they state are the
code's."""

from __future__ import annotations

import re
from pathlib import Path

from campaigns.models import Campaign
from dialer.media import DEFAULT_SAFE_HARBOR_WAV
from dialer.sip.profiles import load_profile

OUTSIDE = re.compile(r"\.\./shared|/work/|/tmp/")


def _docs(repo_root: Path) -> list[Path]:
    return [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]


def test_no_document_points_at_files_outside_the_repository(repo_root: Path) -> None:
    found = [
        f"{path.relative_to(repo_root)}:{n}: {line.strip()}"
        for path in _docs(repo_root)
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_documented_defaults_are_the_codes(repo_root: Path) -> None:
    campaigns_doc = (repo_root / "docs" / "campaigns.md").read_text()
    default_target = Campaign.__table__.columns["abandon_target"].default.arg
    assert f"Abandon target default {default_target}" in campaigns_doc
    default_wav = DEFAULT_SAFE_HARBOR_WAV.relative_to(repo_root).as_posix()
    for name in ("README.md", "docs/engine.md"):
        text = (repo_root / name).read_text()
        assert default_wav in text, f"{name} names another default safe-harbor file"
        assert "assets/safe_harbor.wav" not in text
    assert DEFAULT_SAFE_HARBOR_WAV.is_file()
    default_profile = Campaign.__table__.columns["trunk_profile"].default.arg
    assert load_profile(default_profile).proxy == "127.0.0.1:5090"
    assert "sip_profiles/default.toml" in (repo_root / "README.md").read_text()
