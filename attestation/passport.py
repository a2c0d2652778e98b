"""PASSporT (RFC 8225, SHAKEN extension RFC 8588): canonical JSON, base64url, and the ES256 JWS.

The token is built by hand rather than through a JWT library because SHAKEN needs the *canonical* form
(keys sorted at every level, no whitespace) for both the header and the claims, and because signing sits
on the hot path of every call: the constant header is serialized once and the claims are laid out
directly in their canonical order.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ATTESTATION_LEVELS = ("A", "B", "C")
ES256 = ec.ECDSA(hashes.SHA256())
_DIGITS = re.compile(r"[0-9]{1,15}")  # not \d: that also matches non-ASCII digits
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class PassportError(ValueError):
    """A PASSporT field that breaks a rule; the message names the field and the rule."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")  # bytes.translate: str.translate is ~10x slower


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: anything else (padding, '+', '/', spaces) is refused."""
    if "+" in text or "/" in text or "=" in text or len(text) % 4 == 1:
        raise PassportError("not base64url without padding")
    try:
        standard = text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
        return binascii.a2b_base64(standard, strict_mode=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise PassportError("not base64url without padding") from exc


def canonical_json(value: Any) -> bytes:
    """Keys sorted at every level, no whitespace, UTF-8 (RFC 8225 §9)."""
    return msgspec.json.encode(value, order="sorted")


def parse_json(raw: bytes) -> Any:
    """JSON text -> value; raises ValueError (or RecursionError for absurd nesting) on malformed input."""
    return msgspec.json.decode(raw)


def passport_header(x5u: str) -> dict[str, str]:
    return {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}


def telephone_number(value: str, field: str) -> str:
    """A TN as PASSporT wants it: E.164 digits without '+' (a leading '+' is accepted and dropped)."""
    digits = value[1:] if value.startswith("+") else value
    if not _DIGITS.fullmatch(digits):
        raise PassportError(f"{field} {value!r} is not an E.164 number (up to 15 digits, optional leading +)")
    return digits


@dataclass(frozen=True)
class Claims:
    """The SHAKEN claims of one call, validated."""

    attest: str
    dest: tuple[str, ...]
    iat: int
    orig: str
    origid: str

    @classmethod
    def of(
        cls, *, orig: str, dest: list[str] | tuple[str, ...], attest: str, origid: str, iat: int
    ) -> Claims:
        if attest not in ATTESTATION_LEVELS:
            raise PassportError(f"attest {attest!r} must be one of A, B, C")
        if isinstance(dest, str) or not dest:
            raise PassportError("dest must be a non-empty list of numbers")
        if isinstance(iat, bool) or not isinstance(iat, int) or iat < 0:
            raise PassportError(f"iat {iat!r} must be a non-negative integer of seconds")
        canonical_origid = origid
        if not (
            isinstance(origid, str) and _CANONICAL_UUID.fullmatch(origid)
        ):  # parsing costs ~10% of a sign
            try:
                canonical_origid = str(uuid.UUID(origid))
            except (ValueError, TypeError, AttributeError) as exc:
                raise PassportError(f"origid {origid!r} is not a UUID") from exc
        return cls(
            attest=attest,
            dest=tuple(telephone_number(d, "dest") for d in dest),
            iat=iat,
            orig=telephone_number(orig, "orig"),
            origid=canonical_origid,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "attest": self.attest,
            "dest": {"tn": list(self.dest)},
            "iat": self.iat,
            "orig": {"tn": self.orig},
            "origid": self.origid,
        }

    def canonical(self) -> bytes:
        """Canonical JSON of the claims. Every value is validated (digits, UUID, A/B/C), so no value needs
        escaping and the fixed key order below *is* the sorted order; equal to `canonical_json(as_json())`."""
        dest = '","'.join(self.dest)
        return (
            f'{{"attest":"{self.attest}","dest":{{"tn":["{dest}"]}},"iat":{self.iat},'
            f'"orig":{{"tn":"{self.orig}"}},"origid":"{self.origid}"}}'
        ).encode()


def raw_signature(der: bytes) -> bytes:
    """DER ECDSA signature -> the 64-byte R||S that JWS ES256 uses."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def encoded_header(x5u: str) -> str:
    """The base64url canonical JOSE header: constant per signing certificate, so computed once."""
    return b64url(canonical_json(passport_header(x5u)))


def sign_encoded(private_key: ec.EllipticCurvePrivateKey, header_b64: str, claims: Claims) -> str:
    """The compact JWS `header.payload.signature` given the already-encoded header."""
    signing_input = f"{header_b64}.{b64url(claims.canonical())}"
    signature = private_key.sign(signing_input.encode("ascii"), ES256)
    return f"{signing_input}.{b64url(raw_signature(signature))}"


def sign_passport(private_key: ec.EllipticCurvePrivateKey, x5u: str, claims: Claims) -> str:
    """The compact JWS of one PASSporT signed with `private_key` for the certificate at `x5u`."""
    return sign_encoded(private_key, encoded_header(x5u), claims)
