"""The STI authentication service: one `PassportSigner` per signing certificate, loaded once, signing one
PASSporT per outbound INVITE.

The key and certificate are parsed and validated at load; per call only the claims are serialized and
signed. A signer refuses to sign outside its certificate's validity window and logs a warning at load
when the certificate expires soon.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from attestation.certificates import (
    CertificateError,
    ValidatedCertificate,
    check_key_matches,
    load_certificates,
    load_private_key,
    validate_chain,
)
from attestation.identity_header import identity_header
from attestation.passport import Claims, encoded_header, sign_encoded

log = logging.getLogger(__name__)

EXPIRY_WARNING_S = 30 * 24 * 3600


class SigningRefusedError(CertificateError):
    """The signer will not sign: its certificate is expired, not yet valid, or was never valid."""


@dataclass
class PassportSigner:
    """Signs SHAKEN PASSporTs with one private key for the certificate published at `x5u`.

    `certificate` is None only for a bare key (the `clearline passport sign --key` case): then nothing
    vouches for the key and no validity window applies.
    """

    private_key: ec.EllipticCurvePrivateKey
    x5u: str
    certificate: ValidatedCertificate | None = None
    _header_b64: str = field(init=False, repr=False)
    _suffix: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.x5u.startswith("https://") and not self.x5u.startswith("http://"):
            raise CertificateError("bad_x5u", f"x5u {self.x5u!r} must be an http(s) URL")
        if any(c in self.x5u for c in '<>; \t\r\n"'):
            raise CertificateError("bad_x5u", f"x5u {self.x5u!r} contains characters not allowed in a URL")
        self._header_b64 = encoded_header(self.x5u)
        self._suffix = identity_header("", self.x5u)

    @classmethod
    def load(
        cls,
        *,
        key_pem: bytes,
        x5u: str,
        chain_pem: bytes | None = None,
        trust_anchors: Sequence[x509.Certificate] | None = None,
        now: int | None = None,
        password: bytes | None = None,
    ) -> PassportSigner:
        """Parse the key (and chain, leaf first), validate them at `now`, and keep them for every call.
        Raises `CertificateError` with a reason code when the pair cannot be used."""
        key = load_private_key(key_pem, password)
        if chain_pem is None:
            return cls(private_key=key, x5u=x5u)
        at = int(time.time()) if now is None else now
        chain = load_certificates(chain_pem)
        check_key_matches(key, chain[0])
        validated = validate_chain(chain, now=at, trust_anchors=trust_anchors)
        remaining = validated.not_after - at
        if remaining < EXPIRY_WARNING_S:
            log.warning(
                "SHAKEN certificate for SPC %s expires in %.1f days (%s): renew it",
                validated.spc,
                remaining / 86400,
                datetime.fromtimestamp(validated.not_after, UTC).isoformat(),
            )
        return cls(private_key=key, x5u=x5u, certificate=validated)

    def identity_header(self, orig: str, dest: list[str], attest: str, origid: str, iat: int) -> str:
        """The full-form Identity header of one INVITE. Raises `PassportError` on a bad claim and
        `SigningRefusedError` when `iat` falls outside the certificate's validity window."""
        if self.certificate is not None:
            try:
                self.certificate.check_valid_at(iat)
            except CertificateError as exc:
                raise SigningRefusedError(exc.reason, f"refusing to sign: {exc}") from exc
        claims = Claims.of(orig=orig, dest=dest, attest=attest, origid=origid, iat=iat)
        return sign_encoded(self.private_key, self._header_b64, claims) + self._suffix
