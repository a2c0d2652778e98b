"""SHAKEN certificates (RFC 8226, ATIS-1000080): TNAuthList, loading and validating a signing chain, and
a private test CA with the same shape as a real STI-CA for demos and tests.

Chain validation is done here rather than by a Web-PKI verifier because SHAKEN certificates are not
Web-PKI certificates (no subjectAltName, no extendedKeyUsage): we check what ATIS-1000080 asks for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TN_AUTH_LIST_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26")
SHAKEN_POLICY_OID = x509.ObjectIdentifier("2.16.840.1.114569.1.1.3")
MAX_CHAIN_DEPTH = 6


class CertificateError(ValueError):
    """A certificate, chain or key that cannot be used: `reason` is a short code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- TNAuthList (RFC 8226 §9): SEQUENCE OF TNEntry; TNEntry ::= CHOICE { spc [0] ServiceProviderCode, ...}


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) pairs laid end to end in `data`; refuses truncated or indefinite lengths."""
    items, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise ValueError("truncated DER")
        items.append((tag, data[pos : pos + length]))
        pos += length
    return items


def tn_auth_list_der(spc: str) -> bytes:
    """TNAuthList holding only the SPC, as ATIS-1000080 asks: SEQUENCE { [0] EXPLICIT IA5String spc }."""
    if not spc.isascii() or not spc.isalnum():
        raise CertificateError("bad_spc", f"SPC {spc!r} must be ASCII letters and digits")
    return _der(0x30, _der(0xA0, _der(0x16, spc.encode("ascii"))))


def tn_auth_list_spcs(der: bytes) -> list[str]:
    """The SPCs in a TNAuthList extension value (explicit or implicit [0] tagging both accepted)."""
    (outer_tag, entries), *rest = _der_items(der)
    if outer_tag != 0x30 or rest:
        raise ValueError("TNAuthList is not a SEQUENCE")
    spcs = []
    for tag, content in _der_items(entries):
        if tag == 0xA0:
            ((inner_tag, value),) = _der_items(content)
            if inner_tag != 0x16:
                raise ValueError("SPC is not an IA5String")
            spcs.append(value.decode("ascii"))
        elif tag == 0x80:
            spcs.append(content.decode("ascii"))
    return spcs


def certificate_spc(cert: x509.Certificate) -> str | None:
    """The SPC of a SHAKEN certificate's TNAuthList, or None when it has none."""
    try:
        ext = cert.extensions.get_extension_for_oid(TN_AUTH_LIST_OID)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    try:
        spcs = tn_auth_list_spcs(value.value)
    except (ValueError, UnicodeDecodeError):
        return None
    return spcs[0] if spcs else None


# --- loading


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, leaf first as found."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateError("bad_certificate", f"not a PEM certificate chain: {exc}") from exc
    return certs


def load_private_key(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """An EC P-256 private key from PEM (PKCS#8 or SEC1); any other key type is refused."""
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise CertificateError("bad_key", f"not a PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateError("unsupported_key", "SHAKEN signing keys must be EC P-256 (ES256)")
    return key


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class ValidatedCertificate:
    """A signing certificate whose chain, SPC and shape were checked; validity is re-checked per use."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    public_key: ec.EllipticCurvePublicKey
    spc: str
    not_before: int
    not_after: int

    def check_valid_at(self, now: int) -> None:
        if now < self.not_before:
            raise CertificateError(
                "cert_not_yet_valid",
                f"certificate of SPC {self.spc} is not valid before "
                f"{datetime.fromtimestamp(self.not_before, UTC).isoformat()}",
            )
        if now > self.not_after:
            raise CertificateError(
                "cert_expired",
                f"certificate of SPC {self.spc} expired at "
                f"{datetime.fromtimestamp(self.not_after, UTC).isoformat()}",
            )


def _check_window(cert: x509.Certificate, now: int, role: str) -> None:
    if now < _timestamp(cert.not_valid_before_utc):
        raise CertificateError(
            "cert_not_yet_valid", f"{role} certificate {cert.subject.rfc4514_string()} not yet valid"
        )
    if now > _timestamp(cert.not_valid_after_utc):
        raise CertificateError(
            "cert_expired", f"{role} certificate {cert.subject.rfc4514_string()} has expired"
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def validate_chain(
    chain: Sequence[x509.Certificate],
    *,
    now: int,
    trust_anchors: Sequence[x509.Certificate] | None,
) -> ValidatedCertificate:
    """Check a SHAKEN chain (leaf first): leaf shape (EC P-256, digitalSignature, TNAuthList with an SPC),
    validity at `now` for every certificate, and a signature path to one of `trust_anchors`.
    With `trust_anchors=None` the leaf itself is trusted (a pinned certificate) and no path is built."""
    if not chain:
        raise CertificateError("bad_certificate", "no certificate given")
    leaf = chain[0]
    public_key = leaf.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CertificateError("unsupported_key", "the signing certificate's key is not EC P-256")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise CertificateError(
                "bad_key_usage", "the signing certificate's KeyUsage lacks digitalSignature"
            )
    except x509.ExtensionNotFound:
        raise CertificateError("bad_key_usage", "the signing certificate has no KeyUsage extension") from None
    spc = certificate_spc(leaf)
    if spc is None:
        raise CertificateError("missing_tnauthlist", "the signing certificate has no TNAuthList with an SPC")
    _check_window(leaf, now, "signing")
    if trust_anchors is not None:
        _build_path(leaf, list(chain[1:]), list(trust_anchors), now)
    return ValidatedCertificate(
        certificate=leaf,
        chain=tuple(chain),
        public_key=public_key,
        spc=spc,
        not_before=_timestamp(leaf.not_valid_before_utc),
        not_after=_timestamp(leaf.not_valid_after_utc),
    )


def _build_path(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: list[x509.Certificate],
    now: int,
) -> None:
    anchor_der = {a.public_bytes(serialization.Encoding.DER) for a in anchors}
    current = leaf
    for _ in range(MAX_CHAIN_DEPTH):
        if current.public_bytes(serialization.Encoding.DER) in anchor_der:
            return
        anchor = next((a for a in anchors if _issued_by(current, a)), None)
        if anchor is not None:
            _check_window(anchor, now, "trust anchor")
            return
        issuer = next((c for c in intermediates if is_ca(c) and _issued_by(current, c)), None)
        if issuer is None:
            raise CertificateError(
                "untrusted_chain",
                f"no trusted issuer for {current.subject.rfc4514_string()}: the chain does not lead to a "
                "configured trust anchor",
            )
        _check_window(issuer, now, "intermediate")
        intermediates.remove(issuer)
        current = issuer
    raise CertificateError("untrusted_chain", f"certificate chain longer than {MAX_CHAIN_DEPTH}")


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) CRL distribution point URLs of a certificate."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("https://", "http://"))
    ]


def check_not_revoked(validated: ValidatedCertificate, crl_data: bytes, *, now: int) -> None:
    """Refuse the signing certificate when a CRL (DER or PEM) from its issuer lists it, and refuse a
    CRL that is not its issuer's, is badly signed, or is out of date."""
    try:
        crl = (
            x509.load_pem_x509_crl(crl_data)
            if crl_data.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(crl_data)
        )
    except ValueError as exc:
        raise CertificateError("crl_unavailable", f"the CRL is not a DER or PEM CRL: {exc}") from exc
    leaf = validated.certificate
    issuer = next((c for c in validated.chain[1:] if c.subject == leaf.issuer), None)
    if issuer is None or crl.issuer != leaf.issuer or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise CertificateError("crl_unavailable", "the CRL is not signed by the certificate's issuer")
    next_update = crl.next_update_utc
    if next_update is not None and now > _timestamp(next_update):
        raise CertificateError("crl_unavailable", "the CRL is out of date (past its nextUpdate)")
    if crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None:
        raise CertificateError("cert_revoked", f"the certificate of SPC {validated.spc} is revoked")


def check_key_matches(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    mine = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if mine != theirs:
        raise CertificateError("key_mismatch", "the private key does not match the signing certificate")


# --- a private test STI-CA


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clearline Test STI-CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signing_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _policies() -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(SHAKEN_POLICY_OID, None)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class TestCertificateAuthority:
    """A private root -> intermediate STI-CA that issues SHAKEN end-entity certificates (ATIS-1000080 shape).
    Never trusted by real carriers: for demos and tests only."""

    __test__ = False  # not a pytest test class despite the name

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate
    crl_url: str = "https://sti-ca.clearline.test/intermediate.crl"

    @classmethod
    def create(
        cls, now: datetime, *, years: int = 10, crl_url: str | None = None
    ) -> TestCertificateAuthority:
        root_key, intermediate_key = _new_key(), _new_key()
        root_name = _name("Clearline Test STI Root")
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        intermediate = (
            x509.CertificateBuilder()
            .subject_name(_name("Clearline Test STI Intermediate"))
            .issuer_name(root_name)
            .public_key(intermediate_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * years // 2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .add_extension(_policies(), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        ca = cls(root_key=root_key, root=root, intermediate_key=intermediate_key, intermediate=intermediate)
        if crl_url is not None:
            ca.crl_url = crl_url
        return ca

    def crl(self, revoked_serials: Sequence[int], *, now: datetime) -> x509.CertificateRevocationList:
        """The intermediate's CRL (published at `crl_url`) listing `revoked_serials`, valid for a week."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.intermediate.subject)
            .last_update(now - timedelta(minutes=5))
            .next_update(now + timedelta(days=7))
        )
        for serial in revoked_serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            )
        return builder.sign(self.intermediate_key, hashes.SHA256())

    def issue(
        self,
        spc: str,
        *,
        not_before: datetime,
        not_after: datetime,
        with_tn_auth_list: bool = True,
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A SHAKEN end-entity key and certificate for `spc` (set `with_tn_auth_list=False` for a
        deliberately broken one)."""
        key = _new_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(f"SHAKEN {spc}"))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_signing_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                critical=False,
            )
            .add_extension(_policies(), critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(self.crl_url)], None, None, None)]
                ),
                critical=False,
            )
        )
        if with_tn_auth_list:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(TN_AUTH_LIST_OID, tn_auth_list_der(spc)), critical=False
            )
        return key, builder.sign(self.intermediate_key, hashes.SHA256())

    def write(self, out: Path, spc: str, *, now: datetime, days: int = 365) -> dict[str, Path]:
        """Write the CA and a fresh SHAKEN certificate for `spc` into `out`; returns the files by role."""
        out.mkdir(parents=True, exist_ok=True)
        key, cert = self.issue(spc, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=days))
        files = {
            "root": (out / "root.pem", _pem(self.root)),
            "root_key": (out / "root.key", key_pem(self.root_key)),
            "intermediate": (out / "intermediate.pem", _pem(self.intermediate)),
            "intermediate_key": (out / "intermediate.key", key_pem(self.intermediate_key)),
            "cert": (out / "shaken.pem", _pem(cert)),
            "key": (out / "shaken.key", key_pem(key)),
            "chain": (out / "chain.pem", _pem(cert) + _pem(self.intermediate)),
            "crl": (out / "intermediate.crl", self.crl([], now=now).public_bytes(serialization.Encoding.DER)),
        }
        for path, content in files.values():
            path.write_bytes(content)
            if path.suffix == ".key":
                path.chmod(0o600)
        return {role: path for role, (path, _) in files.items()}
