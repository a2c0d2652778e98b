"""Fixtures for engine tests: a test STI-CA and signer, a fresh national registry copy, and a sandbox
(carrier + agent-phone simulators + engine) per test, all on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509

from attestation.certificates import TestCertificateAuthority, load_certificates
from core.db import Scope
from core.runtime import Runtime
from dialer.engine.identity import IdentitySource, platform_identity
from dialer.engine.sandbox import Sandbox, SandboxSettings

SPC = "7399"


@dataclass
class TestCertificates:
    __test__ = False
    files: dict[str, Path]
    anchors: list[x509.Certificate]


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    files = ca.write(tmp_path_factory.mktemp("engine-sti-ca"), SPC, now=now)
    return TestCertificates(files=files, anchors=load_certificates(files["root"].read_bytes()))


@pytest.fixture(scope="session")
def national_registry(runtime: Runtime) -> None:
    """A fresh national registry copy: without one the compliance engine (rightly) refuses every call."""
    from dnc.lists import import_numbers

    # Obtained days ago: the verdict clock of these tests (noon Eastern today) may lie before "now".
    obtained = datetime.now(UTC) - timedelta(days=3)
    import_numbers(runtime.db, kind="national", numbers=["+12025550999"], obtained_at=obtained)


def noon_eastern(_campaign_id: uuid.UUID, now: datetime) -> datetime:
    """The verdict's clock for tests: inside every US calling window whatever time the suite runs."""
    return datetime.combine(
        now.astimezone(ZoneInfo("America/New_York")).date(),
        datetime.min.time().replace(hour=12),
        ZoneInfo("America/New_York"),
    )


def provision_identity(runtime: Runtime, org_id: uuid.UUID, certs: TestCertificates, *numbers: str) -> None:
    """Give an organization its signing certificate and these caller IDs, verified, in its TN inventory."""
    from attestation import certificate_store, inventory

    now = datetime.now(UTC)
    with runtime.db.session(Scope(org_id)) as s:
        certificate_store.add_certificate(
            s,
            org_id=org_id,
            secret_key=runtime.settings.secret_key,
            chain_pem=certs.files["chain"].read_text(),
            key_pem_text=certs.files["key"].read_text(),
            label="engine tests",
            trust_anchors=certs.anchors,
            now=now,
        )
        for number in numbers:
            block = inventory.add_numbers(s, org_id=org_id, first=number)
            inventory.set_status(s, block.id, "verified", at=now)


def identity_source(runtime: Runtime, certs: TestCertificates) -> IdentitySource:
    return platform_identity(
        runtime.db,
        secret_key=runtime.settings.secret_key,
        public_base_url="https://clearline.test",
        trust_anchors=certs.anchors,
    )


MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def sandbox(
    runtime: Runtime, certificates: TestCertificates, national_registry: None, tmp_path: Path
) -> Iterator[MakeSandbox]:
    made: list[Sandbox] = []

    def make(**settings: object) -> Sandbox:
        box = Sandbox(
            runtime,
            identity_source(runtime, certificates),
            SandboxSettings(
                **{  # type: ignore[arg-type]
                    "workdir": tmp_path / f"sandbox-{len(made)}",
                    "chain_pem": certificates.files["chain"],
                    "trust_anchor_pem": certificates.files["root"],
                    **settings,
                }
            ),
        )
        made.append(box)
        return box

    yield make
    for box in made:
        box.close(drain_s=2.0)
