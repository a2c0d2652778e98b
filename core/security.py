"""Password hashing (argon2) and access/refresh tokens (JWT, HS256 with the server secret)."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import AuthenticationError

_hasher = PasswordHasher()
# The only algorithm we sign with and accept: a token naming any other (none, RS256, ...) is refused.
TOKEN_ALGORITHM = "HS256"
ISSUER = "clearline"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against a fixed hash when the user does not exist keeps login timing uniform.
DUMMY_HASH = hash_password("not-a-real-password")


def token_key(secret_key: str) -> bytes:
    """Tokens are signed with a key derived from the server secret, never the secret itself."""
    return hashlib.sha256(b"clearline-jwt\x00" + secret_key.encode()).digest()


@dataclass(frozen=True)
class TokenClaims:
    """What a token says. Only `user_id`, `version` and `session_id` are trusted (with the database's
    word on them): role and organization are always read from the database, never from here."""

    user_id: uuid.UUID
    org_id: uuid.UUID | None
    role: str
    kind: str  # "access" or "refresh"
    expires_at: int
    version: int = 0  # the user's token version when issued; a bump (password change...) voids it
    session_id: uuid.UUID | None = None  # the login session (refresh-token family) it belongs to
    token_id: str = ""


def issue_token(
    secret_key: str,
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID | None,
    role: str,
    kind: str,
    ttl_s: int,
    now: float | None = None,
    version: int = 0,
    session_id: uuid.UUID | None = None,
    token_id: str | None = None,
) -> str:
    iat = int(now if now is not None else time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "org": str(org_id) if org_id else None,
        "role": role,
        "typ": kind,
        "iat": iat,
        "exp": iat + ttl_s,
        "jti": token_id or uuid.uuid4().hex,
        "ver": version,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, token_key(secret_key), algorithm=TOKEN_ALGORITHM)


def decode_token(secret_key: str, token: str, *, expected_kind: str) -> TokenClaims:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != TOKEN_ALGORITHM:
            raise AuthenticationError(f"token algorithm {header.get('alg')!r} is not accepted")
        claims = jwt.decode(
            token,
            token_key(secret_key),
            algorithms=[TOKEN_ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "typ", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from exc
    if claims.get("typ") != expected_kind:
        raise AuthenticationError(f"a {claims.get('typ')} token cannot be used as a {expected_kind} token")
    try:
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            org_id=uuid.UUID(claims["org"]) if claims.get("org") else None,
            role=str(claims["role"]),
            kind=claims["typ"],
            expires_at=int(claims["exp"]),
            version=int(claims.get("ver", 0)),
            session_id=uuid.UUID(claims["sid"]) if claims.get("sid") else None,
            token_id=str(claims.get("jti", "")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise AuthenticationError("invalid token claims") from exc
