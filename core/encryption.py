"""The one way Clearline derives its encryption keys: AES-256-GCM under a key derived with HKDF-SHA256
from the server secret, for one purpose (and, where data belongs to one organization, for that
organization alone). Signing keys at rest (`attestation.key_storage`) and call recordings
(`campaigns.recordings`) both get their cipher here.
"""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"clearline"


def derived_cipher(secret_key: str, purpose: bytes, *, org_id: uuid.UUID | None = None) -> AESGCM:
    """AES-256-GCM keyed for `purpose` (HKDF info), and for one organization when `org_id` is given:
    a key leaked from one organization, or one purpose, opens nothing of another's."""
    info = purpose if org_id is None else purpose + b"\x00org\x00" + org_id.bytes
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret_key.encode())
    return AESGCM(key)
