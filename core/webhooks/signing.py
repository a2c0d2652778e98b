"""The signature a receiver checks, and the signing secret kept at rest.

Header: `Clearline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp
is inside what is signed, so a receiver that refuses a `t` older than its tolerance (5 minutes is
suggested: `TOLERANCE_S`) refuses a replayed request. Each attempt is signed anew with its own time.

The secret (`whsec_` and 32 random bytes, URL-safe base64) is shown once, when the endpoint is created or
its secret rotated, and stored AES-GCM encrypted under a key derived from the server secret, bound to the
endpoint id (a sealed secret copied onto another endpoint's row does not open).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER = "Clearline-Signature"
SCHEME = "v1"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},{SCHEME}={mac}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (docs/webhooks.md): the header parsed, the timestamp within the tolerance, the
    MAC compared in constant time. Pure: the clock is passed in."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature_header(secret, timestamp, body).partition(f"{SCHEME}=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get(SCHEME, []))


def _key(server_secret: str) -> bytes:
    return hmac.digest(server_secret.encode(), b"clearline-webhook-secret\x00", "sha256")


def seal(server_secret: str, secret: str, endpoint_id: uuid.UUID) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(server_secret)).encrypt(nonce, secret.encode(), endpoint_id.bytes)
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def unseal(server_secret: str, stored: str, endpoint_id: uuid.UUID) -> str:
    if not stored.startswith("v1:"):
        raise ValueError("unknown webhook secret format")
    raw = base64.b64decode(stored[3:])
    try:
        return AESGCM(_key(server_secret)).decrypt(raw[:12], raw[12:], endpoint_id.bytes).decode()
    except InvalidTag:
        raise ValueError("the webhook secret does not decrypt with this server's key") from None
