"""A private test STI-CA shared by the attestation tests, and helpers to build deliberately bad tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from attestation.certificates import TestCertificateAuthority, load_certificates, load_private_key
from attestation.passport import ES256, b64url, raw_signature
from attestation.signer import PassportSigner
from attestation.verify import PinnedCertificate
from core.db import ALL_ORGS
from core.runtime import Runtime

SPC = "7387"
X5U = "https://certs.clearline.test/shaken.pem"
ORIG = "12025550143"
DEST = "13035550100"
ORIGID = "1f0b4a4e-7d2a-4c2e-9a53-3cbbd9b35a11"


@dataclass
class Signing:
    ca: TestCertificateAuthority
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    files: dict[str, Path]
    now: int

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.cert, self.ca.intermediate]

    @property
    def anchors(self) -> list[x509.Certificate]:
        return [self.ca.root]

    def signer(self) -> PassportSigner:
        return PassportSigner(private_key=self.key, x5u=X5U)

    def source(self) -> PinnedCertificate:
        return PinnedCertificate(self.chain, self.anchors)

    def header(self, *, iat: int | None = None, attest: str = "A") -> str:
        return self.signer().identity_header(ORIG, [DEST], attest, ORIGID, self.now if iat is None else iat)


@pytest.fixture(scope="session")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Signing:
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now)
    files = ca.write(tmp_path_factory.mktemp("sti-ca"), SPC, now=now)
    key = load_private_key(files["key"].read_bytes())
    (cert,) = load_certificates(files["cert"].read_bytes())
    return Signing(ca=ca, key=key, cert=cert, files=files, now=int(now.timestamp()))


def signed_token(key: ec.EllipticCurvePrivateKey, header: bytes, payload: bytes, *, info: str = X5U) -> str:
    """An Identity header over arbitrary header/payload bytes, correctly signed: for tokens that are
    wrong in content rather than in signature."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = raw_signature(key.sign(signing_input.encode(), ES256))
    return f"{signing_input}.{b64url(signature)};info=<{info}>;alg=ES256;ppt=shaken"


@dataclass
class Org:
    """An organization without users: enough for the inventory and certificate-store tests, and much
    cheaper than a `Tenant` (no password hashing)."""

    runtime: Runtime
    id: uuid.UUID


def _make_org(runtime: Runtime) -> Org:
    from core.accounts import create_org

    with runtime.db.session(ALL_ORGS) as s:
        return Org(runtime, create_org(s, f"att-{uuid.uuid4().hex[:12]}").id)


@pytest.fixture
def org(runtime: Runtime) -> Org:
    return _make_org(runtime)


@pytest.fixture
def other_org(runtime: Runtime) -> Org:
    return _make_org(runtime)
