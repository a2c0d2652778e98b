"""What a campaign needs before it may start (see `dialer.readiness`): a fresh national registry copy and
an active signing certificate for the organization. Shared by the API tests that start campaigns."""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from attestation.certificates import TestCertificateAuthority, load_certificates
from core.db import Scope
from core.runtime import Runtime

REGISTRY_AGE = timedelta(days=5)  # older than any verdict clock a test uses, well inside 31 days


@lru_cache(maxsize=1)
def _certificate_files() -> dict[str, Path]:
    now = datetime.now(UTC)
    return TestCertificateAuthority.create(now).write(
        Path(tempfile.mkdtemp(prefix="dialable-ca-")), "7399", now=now
    )


def import_fresh_registry(runtime: Runtime, org_id: uuid.UUID) -> None:
    """The organization's own copy (a platform-wide one would show in every other test's list of lists)."""
    from dnc.lists import import_numbers

    import_numbers(
        runtime.db,
        kind="national",
        numbers=["+12025550999"],
        owner_org_id=org_id,
        obtained_at=datetime.now(UTC) - REGISTRY_AGE,
    )


def add_signing_certificate(runtime: Runtime, org_id: uuid.UUID, label: str = "default") -> None:
    from attestation import certificate_store

    files = _certificate_files()
    with runtime.db.session(Scope(org_id)) as s:
        certificate_store.add_certificate(
            s,
            org_id=org_id,
            secret_key=runtime.settings.secret_key,
            chain_pem=files["chain"].read_text(),
            key_pem_text=files["key"].read_text(),
            label=label,
            trust_anchors=load_certificates(files["root"].read_bytes()),
            now=datetime.now(UTC),
        )


def make_dialable(runtime: Runtime, org_id: uuid.UUID) -> None:
    """Give the organization what `start` requires: a registry copy and an active certificate."""
    import_fresh_registry(runtime, org_id)
    add_signing_certificate(runtime, org_id)
