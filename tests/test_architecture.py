"""Dependencies point one way; the shared plumbing imports no domain code."""

from __future__ import annotations

import ast
from pathlib import Path

ALLOWED = {
    "core": set(),
    "dnc": {"core"},
    "attestation": {"core"},
    "campaigns": {"core", "dnc"},
    "dialer": {"core", "campaigns", "dnc", "attestation"},
    "api": {"core", "dialer", "campaigns", "dnc", "attestation"},
}
PACKAGES = {"core", "dnc", "attestation", "campaigns", "dialer", "api", "clearline"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PACKAGES


def test_each_package_imports_only_what_it_may(repo_root: Path) -> None:
    violations = []
    for package, allowed in ALLOWED.items():
        for path in (repo_root / package).rglob("*.py"):
            bad = _imports(path) - allowed - {package}
            if bad:
                violations.append(f"{path.relative_to(repo_root)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_line_worker_imports_pjsua2(repo_root: Path) -> None:
    """pjsua2 lives in one module; the legs, headers and admission rules beside it are pure (docs/sip.md)."""
    importers = sorted(
        str(path.relative_to(repo_root))
        for package in (*PACKAGES, "bench")
        for path in (repo_root / package).rglob("*.py")
        if "pjsua2" in _top_level_imports(path)
    )
    assert importers == ["dialer/sip/line_worker.py"], importers
