"""Private keys encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the server secret
(`core.encryption`, the one home of key derivation).

The ciphertext is bound to the certificate row it belongs to (its id is the associated data), so a key
copied into another row, or another organization's row, does not decrypt.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.encryption import derived_cipher
from core.errors import ConfigurationError

_VERSION = b"k1"
_INFO = b"clearline attestation signing-key encryption v1"


def _cipher(secret_key: str) -> AESGCM:
    return derived_cipher(secret_key, _INFO)


def encrypt_private_key(secret_key: str, key_pem: bytes, *, bound_to: uuid.UUID) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + _cipher(secret_key).encrypt(nonce, key_pem, bound_to.bytes)


def decrypt_private_key(secret_key: str, blob: bytes, *, bound_to: uuid.UUID) -> bytes:
    if blob[:2] != _VERSION:
        raise ConfigurationError(f"stored signing key {bound_to} has an unknown encryption format")
    try:
        return _cipher(secret_key).decrypt(blob[2:14], blob[14:], bound_to.bytes)
    except InvalidTag:
        raise ConfigurationError(
            f"stored signing key {bound_to} does not decrypt: the server secret changed or the row was altered"
        ) from None
