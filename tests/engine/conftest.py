"""Fixtures for engine tests: a test STI-CA and signer, a fresh national registry copy, and a sandbox
(carrier + agent-phone simulators + engine) per test, all on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from attestation.certificates import TestCertificateAuthority, load_certificates
from attestation.signer import PassportSigner
from core.runtime import Runtime
from dialer.engine.identity import IdentitySource
from dialer.engine.sandbox import Sandbox, SandboxSettings

X5U = "https://certs.clearline.test/engine-tests.pem"
SPC = "7399"


@dataclass
class TestCertificates:
    __test__ = False
    files: dict[str, Path]
    signer: PassportSigner


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    files = ca.write(tmp_path_factory.mktemp("engine-sti-ca"), SPC, now=now)
    signer = PassportSigner.load(
        key_pem=files["key"].read_bytes(),
        x5u=X5U,
        chain_pem=files["chain"].read_bytes(),
        trust_anchors=load_certificates(files["root"].read_bytes()),
    )
    return TestCertificates(files=files, signer=signer)


@pytest.fixture(scope="session")
def national_registry(runtime: Runtime) -> None:
    """A fresh national registry copy: without one the compliance engine (rightly) refuses every call."""
    from dnc.lists import import_numbers

    import_numbers(runtime.db, kind="national", numbers=["+12025550999"])


def noon_eastern(_campaign_id: uuid.UUID, now: datetime) -> datetime:
    """The verdict's clock for tests: inside every US calling window whatever time the suite runs."""
    return datetime.combine(
        now.astimezone(ZoneInfo("America/New_York")).date(),
        datetime.min.time().replace(hour=12),
        ZoneInfo("America/New_York"),
    )


def identity_source(certs: TestCertificates) -> IdentitySource:
    return IdentitySource(
        signer_for=lambda _org: certs.signer,
        number_status=lambda _org, _number: "verified",
        local_caller_id=lambda _org, _lead: None,
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
            identity_source(certificates),
            SandboxSettings(
                workdir=tmp_path / f"sandbox-{len(made)}",
                chain_pem=certificates.files["chain"],
                trust_anchor_pem=certificates.files["root"],
                **settings,  # type: ignore[arg-type]
            ),
        )
        made.append(box)
        return box

    yield make
    for box in made:
        box.close(drain_s=2.0)
