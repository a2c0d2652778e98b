"""The verifier fetches x5u over HTTPS (a real TLS server on 127.0.0.1 with a private CA), with a
timeout, a size limit, no redirects, and a cache."""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from attestation.certificates import TestCertificateAuthority, key_pem, load_certificates
from attestation.signer import PassportSigner
from attestation.verify import X5uFetcher, verify_identity
from tests.attestation.conftest import DEST, ORIG, ORIGID, Signing


def _tls_material(directory: Path) -> tuple[Path, Path, Path]:
    """A private TLS CA and a server certificate for 127.0.0.1 (unrelated to the STI-CA)."""
    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x5u test TLS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "tls-ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(Encoding.PEM))
    paths[2].write_bytes(key_pem(server_key))
    return paths


@dataclass
class X5uServer:
    base: str
    tls_ca: Path
    files: dict[str, bytes] = field(default_factory=dict)
    """Extra paths tests publish (chains, CRLs)."""


@pytest.fixture(scope="module")
def x5u_server(signing: Signing, tmp_path_factory: pytest.TempPathFactory) -> Iterator[X5uServer]:
    tls_ca, server_cert, server_key = _tls_material(tmp_path_factory.mktemp("tls"))
    chain = signing.files["chain"].read_bytes()
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(1.5)
            if self.path.startswith("/drip"):  # headers at once, then a byte every 0.2 s
                self.send_response(200)
                self.send_header("Content-Length", str(len(chain)))
                self.end_headers()
                for byte in chain[:20]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
                return
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/chain.pem")
                self.end_headers()
                return
            body = {**files, "/big.pem": chain * 200, "/slow.pem": chain}.get(self.path, chain)
            if self.path.startswith("/missing"):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/pem-certificate-chain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # clients hang up on purpose here (size limit, timeout)

    httpd = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield X5uServer(base=f"https://127.0.0.1:{httpd.server_address[1]}", tls_ca=tls_ca, files=files)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _fetcher(signing: Signing, server: X5uServer, **kw: float) -> X5uFetcher:
    tls = ssl.create_default_context(cafile=str(server.tls_ca))
    return X5uFetcher(trust_anchors=signing.anchors, tls=tls, **kw)  # type: ignore[arg-type]


def _header(signing: Signing, x5u: str, now: int) -> str:
    return PassportSigner(private_key=signing.key, x5u=x5u).identity_header(ORIG, [DEST], "A", ORIGID, now)


def test_x5u_is_fetched_once_over_https_and_then_served_from_the_cache(
    signing: Signing, x5u_server: X5uServer
) -> None:
    fetcher = _fetcher(signing, x5u_server)
    now = int(time.time())
    value = _header(signing, f"{x5u_server.base}/chain.pem", now)
    for _ in range(3):
        result = verify_identity(value, orig=ORIG, dest=DEST, now=now, certificates=fetcher)
        assert result.ok, result
    assert fetcher.fetches == 1
    assert verify_identity(
        value, orig=ORIG, dest=DEST, now=now + 3601, certificates=fetcher, max_age_s=4000
    ).ok
    assert fetcher.fetches == 2  # the cache entry expired after its ttl
    fetcher.close()


@pytest.mark.parametrize(
    ("path", "reason", "response"),
    [
        ("/missing.pem", "x5u_fetch_failed", 436),
        ("/big.pem", "x5u_fetch_failed", 436),
        ("/redirect.pem", "x5u_fetch_failed", 436),
        ("/slow.pem", "x5u_fetch_failed", 436),
        ("/drip.pem", "x5u_fetch_failed", 436),
    ],
)
def test_unusable_x5u_is_bad_identity_info(
    signing: Signing, x5u_server: X5uServer, path: str, reason: str, response: int
) -> None:
    fetcher = _fetcher(signing, x5u_server, timeout_s=0.5)
    now = int(time.time())
    started = time.perf_counter()
    result = verify_identity(
        _header(signing, x5u_server.base + path, now), orig=ORIG, dest=DEST, now=now, certificates=fetcher
    )
    assert (result.ok, result.reason, result.response) == (False, reason, response), result
    assert time.perf_counter() - started < 1.4  # the timeout held: the slow server answers after 1.5 s
    fetcher.close()


@pytest.mark.parametrize(
    "x5u", ["https://[::1", "https://a.test:notaport/c.pem", "https://", "https://%zz/c"]
)
def test_garbage_x5u_urls_are_bad_identity_info(signing: Signing, x5u: str) -> None:
    fetcher = X5uFetcher(trust_anchors=signing.anchors, timeout_s=0.5)
    now = int(time.time())
    result = verify_identity(_header(signing, x5u, now), orig=ORIG, dest=DEST, now=now, certificates=fetcher)
    assert (result.ok, result.response) == (False, 436), result
    fetcher.close()


def test_x5u_must_be_https_and_served_by_a_trusted_tls_server(
    signing: Signing, x5u_server: X5uServer
) -> None:
    now = int(time.time())
    plain = X5uFetcher(trust_anchors=signing.anchors)
    result = verify_identity(
        _header(signing, "http://127.0.0.1:9/c.pem", now), orig=ORIG, dest=DEST, now=now, certificates=plain
    )
    assert (result.reason, result.response) == ("bad_x5u", 436)
    untrusting = X5uFetcher(trust_anchors=signing.anchors, timeout_s=2.0)  # system CAs do not know our TLS CA
    result = verify_identity(
        _header(signing, f"{x5u_server.base}/chain.pem", now),
        orig=ORIG,
        dest=DEST,
        now=now,
        certificates=untrusting,
    )
    assert (result.reason, result.response) == ("x5u_fetch_failed", 436)
    plain.close()
    untrusting.close()


def test_fetched_chain_must_lead_to_the_verifiers_trust_anchors(
    signing: Signing, x5u_server: X5uServer
) -> None:
    from attestation.certificates import TestCertificateAuthority

    stranger = TestCertificateAuthority.create(datetime.now(UTC))
    tls = ssl.create_default_context(cafile=str(x5u_server.tls_ca))
    fetcher = X5uFetcher(trust_anchors=[stranger.root], tls=tls)
    now = int(time.time())
    result = verify_identity(
        _header(signing, f"{x5u_server.base}/chain.pem", now),
        orig=ORIG,
        dest=DEST,
        now=now,
        certificates=fetcher,
    )
    assert (result.reason, result.response) == ("untrusted_chain", 437)
    fetcher.close()


def _published_ca(
    server: X5uServer, name: str
) -> tuple[TestCertificateAuthority, ec.EllipticCurvePrivateKey, str]:
    """A CA whose CRL is at `/crl/<name>.crl` on the test server, and a SHAKEN chain it issued at
    `/chains/<name>.pem`; returns the CA, the signing key and the x5u."""
    now = datetime.now(UTC)
    ca = TestCertificateAuthority.create(now, crl_url=f"{server.base}/crl/{name}.crl")
    key, cert = ca.issue("7387", not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30))
    server.files[f"/chains/{name}.pem"] = cert.public_bytes(Encoding.PEM) + ca.intermediate.public_bytes(
        Encoding.PEM
    )
    return ca, key, f"{server.base}/chains/{name}.pem"


def _verify_with_crl(
    server: X5uServer, ca: TestCertificateAuthority, key: ec.EllipticCurvePrivateKey, x5u: str
):  # type: ignore[no-untyped-def]
    tls = ssl.create_default_context(cafile=str(server.tls_ca))
    fetcher = X5uFetcher(trust_anchors=[ca.root], tls=tls, check_crl=True)
    now = int(time.time())
    value = PassportSigner(private_key=key, x5u=x5u).identity_header(ORIG, [DEST], "A", ORIGID, now)
    try:
        return verify_identity(value, orig=ORIG, dest=DEST, now=now, certificates=fetcher)
    finally:
        fetcher.close()


def test_certificate_listed_on_its_issuers_crl_is_revoked(x5u_server: X5uServer) -> None:
    ca, key, x5u = _published_ca(x5u_server, "revoked")
    now = datetime.now(UTC)
    x5u_server.files["/crl/revoked.crl"] = ca.crl([], now=now).public_bytes(Encoding.DER)
    assert _verify_with_crl(x5u_server, ca, key, x5u).ok
    cert = load_certificates(x5u_server.files["/chains/revoked.pem"])[0]
    x5u_server.files["/crl/revoked.crl"] = ca.crl([cert.serial_number], now=now).public_bytes(Encoding.PEM)
    result = _verify_with_crl(x5u_server, ca, key, x5u)
    assert (result.reason, result.response) == ("cert_revoked", 437)


def test_missing_or_foreign_crl_fails_closed(x5u_server: X5uServer) -> None:
    ca, key, x5u = _published_ca(x5u_server, "nocrl")
    result = _verify_with_crl(x5u_server, ca, key, x5u.replace("/chains/", "/chains/") if False else x5u)
    assert (result.reason, result.response) == (
        "crl_unavailable",
        437,
    )  # /crl/nocrl.crl serves a chain, not a CRL
    stranger = TestCertificateAuthority.create(datetime.now(UTC))
    x5u_server.files["/crl/nocrl.crl"] = stranger.crl([], now=datetime.now(UTC)).public_bytes(Encoding.DER)
    result = _verify_with_crl(x5u_server, ca, key, x5u)
    assert (result.reason, result.response) == ("crl_unavailable", 437)
