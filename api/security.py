"""Passwords (bcrypt) and access tokens (JWT HS256 with sub, role, exp, jti)."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt

from geo.errors import NotAuthenticated
from geo.models import Role

ALGORITHM = "HS256"
# bcrypt only reads the first 72 bytes; longer passwords are refused at the API boundary.
MAX_PASSWORD_BYTES = 72


def hash_password(password: str, rounds: int = 12) -> str:
    """bcrypt hash of a password."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, hashed: str) -> bool:
    """Check a password against its bcrypt hash, in constant time."""
    try:
        return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], hashed.encode())
    except ValueError:
        return False


# A valid hash of a random password: verifying against it when the email is unknown costs the same
# time as a real check, so response times don't reveal which emails exist.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16), rounds=10)


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token."""

    user_id: int
    role: Role
    jti: str
    expires_at: datetime
    kind: str


def create_token(
    user_id: int, role: Role, secret: str, ttl: timedelta, kind: str = "access"
) -> tuple[str, TokenClaims]:
    """Sign a token; ``kind`` separates API tokens from query-string tile tokens."""
    now = datetime.now(UTC)
    claims = TokenClaims(user_id, role, uuid.uuid4().hex, now + ttl, kind)
    payload = {
        "sub": str(user_id),
        "role": role.value,
        "jti": claims.jti,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "typ": kind,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_token(token: str, secret: str, kind: str = "access") -> TokenClaims:
    """Verify signature, expiry and kind; raise NotAuthenticated with the reason otherwise."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "jti"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("token expired") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("invalid token") from exc
    if payload.get("typ", "access") != kind:
        raise NotAuthenticated(f"not an {kind} token")
    try:
        role = Role(payload["role"])
        user_id = int(payload["sub"])
    except (KeyError, ValueError) as exc:
        raise NotAuthenticated("invalid token claims") from exc
    return TokenClaims(
        user_id, role, str(payload["jti"]), datetime.fromtimestamp(payload["exp"], UTC), kind
    )


class ClaimsCache:
    """Verified claims per token: checking the HS256 signature and parsing the claims cost more
    than the rest of authenticating a request (the user and revocation are still read at each
    request). Expiry is checked at every use; the cache is bounded and simply cleared when full.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._data: dict[tuple[str, str], TokenClaims] = {}

    def decode(self, token: str, secret: str, kind: str = "access") -> TokenClaims:
        """Like :func:`decode_token`, remembering tokens that verified."""
        key = (token, kind)
        claims = self._data.get(key)
        if claims is None:
            claims = decode_token(token, secret, kind)
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = claims
        elif claims.expires_at.timestamp() <= time.time():
            raise NotAuthenticated("token expired")
        return claims
