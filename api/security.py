"""Passwords (bcrypt, the strength policy) and tokens (JWT HS256 with sub, role, exp, jti)."""

from __future__ import annotations

import functools
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
from zxcvbn import zxcvbn

from geo.errors import InvalidInput, NotAuthenticated
from geo.models import Role

ALGORITHM = "HS256"
# bcrypt reads at most 72 bytes (bcrypt 5 refuses more): a new password longer than that in UTF-8
# is refused (check_new_password), never silently cut. Verification still cuts at 72 bytes, so
# the hashes bcrypt 4 made of longer passwords (it cut them silently) keep verifying.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8


# bcrypt's cost, from OWASP's password storage guidance (bcrypt: a work factor of 10 or more).
# Measured on the 2-core development machine (bcrypt 5): cost 10 checks a password in 47 ms of
# CPU, 11 in 94 ms, 12 in 191 ms — at 12 a morning's logins queued behind each other and the
# login missed its 100 ms P95 alone (docs/decisions.md, "The password hash's cost").
# ``LFS_AUTH__BCRYPT_ROUNDS`` raises it; a login rehashes a password stored at another cost.
DEFAULT_ROUNDS = 10


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """bcrypt hash of a password."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def hash_cost(hashed: str) -> int | None:
    """The cost a bcrypt hash was made with (``$2b$10$…`` → 10), None when it is not one."""
    parts = hashed.split("$")
    if len(parts) != 4 or parts[1] not in ("2a", "2b", "2y") or not parts[2].isdigit():
        return None
    return int(parts[2])


def needs_rehash(password: str, hashed: str, rounds: int) -> bool:
    """Whether a password that just verified should be stored again at ``rounds``: its hash was
    made at another cost (raised or lowered since). A password over bcrypt's 72 bytes (a bcrypt 4
    hash, made before the 72-byte rule) keeps its hash: bcrypt 5 hashes no such password."""
    return hash_cost(hashed) != rounds and len(password.encode()) <= MAX_PASSWORD_BYTES


def verify_password(password: str, hashed: str) -> bool:
    """Check a password against its bcrypt hash, in constant time."""
    try:
        return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], hashed.encode())
    except ValueError:
        return False


_WORDS = re.compile(r"[\W_]+")
# zxcvbn's warnings, in French (its own text is English).
_WARNINGS_FR = {
    "Straight rows of keys are easy to guess.": "une rangée de touches se devine facilement.",
    "Short keyboard patterns are easy to guess.": "un motif de clavier court se devine facilement.",
    'Repeats like "aaa" are easy to guess.': "une répétition comme « aaa » se devine facilement.",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        "une répétition comme « abcabcabc » ne vaut guère mieux que « abc »."
    ),
    'Sequences like "abc" or "6543" are easy to guess.': (
        "une suite comme « abc » ou « 6543 » se devine facilement."
    ),
    "Recent years are easy to guess.": "une année récente se devine facilement.",
    "Dates are often easy to guess.": "une date se devine souvent facilement.",
    "This is a top-10 common password.": "c'est l'un des 10 mots de passe les plus courants.",
    "This is a top-100 common password.": "c'est l'un des 100 mots de passe les plus courants.",
    "This is a very common password.": "c'est un mot de passe très courant.",
    "This is similar to a commonly used password.": (
        "il ressemble à un mot de passe très courant."
    ),
    "A word by itself is easy to guess.": "un mot seul se devine facilement.",
    "Names and surnames by themselves are easy to guess.": (
        "un prénom ou un nom seul se devine facilement."
    ),
    "Common names and surnames are easy to guess.": (
        "les prénoms et noms courants se devinent facilement."
    ),
}


def password_problem(password: str, min_score: int, user_inputs: Iterable[str] = ()) -> str | None:
    """Why a new password is refused (in French), or None when it is acceptable.

    At least 8 characters, at most 72 bytes in UTF-8 (bcrypt's limit: an accented letter takes
    2 bytes), and a zxcvbn strength score (0-4) of at least ``min_score``; the user's email and
    name count as known words.
    """
    size = len(password.encode())
    if size > MAX_PASSWORD_BYTES:
        return (
            f"Le mot de passe est trop long : {size} octets en UTF-8, {MAX_PASSWORD_BYTES} au "
            "plus (une lettre accentuée compte pour 2 octets)."
        )
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Le mot de passe doit contenir au moins {MIN_PASSWORD_CHARS} caractères."
    known = [u for u in user_inputs if u]
    # Each word of the email and the name too: "sgrzibek2026!" is weak for Mr Sgrzibek only.
    known += [w for u in known for w in _WORDS.split(u.lower()) if len(w) >= 3]
    result = zxcvbn(password, user_inputs=known)
    score = int(result["score"])
    if score >= min_score:
        return None
    warning = _WARNINGS_FR.get(result["feedback"]["warning"], "")
    why = f" : {warning}" if warning else "."
    return (
        f"Mot de passe trop facile à deviner (robustesse {score}/4, il faut au moins "
        f"{min_score}/4){why} Choisissez une phrase de plusieurs mots peu courants, sans "
        "votre nom ni votre e-mail."
    )


def check_new_password(
    password: str, min_score: int, user_inputs: Iterable[str] = (), field: str = "body.password"
) -> None:
    """Raise InvalidInput (422, naming ``field``) when a new password breaks the policy."""
    problem = password_problem(password, min_score, user_inputs)
    if problem is not None:
        raise InvalidInput(
            problem, errors=[{"field": field, "message": problem, "type": "password_policy"}]
        )


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A valid hash of a random password at ``rounds``: verifying against it when the email is
    unknown costs the same time as a real check at the configured cost, so response times don't
    reveal which emails exist (made once per cost, ~50–200 ms)."""
    return hash_password(secrets.token_urlsafe(16), rounds=rounds)


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token.

    ``version`` is the user's ``token_version`` when the token was issued: a password change
    moves it on, which refuses every earlier token. ``session`` is, for a tile token, the jti
    of the access token it was minted with: revoking that one (logout) revokes it too.
    """

    user_id: int
    role: Role
    jti: str
    expires_at: datetime
    kind: str
    version: int = 0
    session: str | None = None


def create_token(
    user_id: int,
    role: Role,
    secret: str,
    ttl: timedelta,
    kind: str = "access",
    *,
    version: int = 0,
    session: str | None = None,
) -> tuple[str, TokenClaims]:
    """Sign a token; ``kind`` separates API tokens from query-string tile tokens."""
    now = datetime.now(UTC)
    claims = TokenClaims(user_id, role, uuid.uuid4().hex, now + ttl, kind, version, session)
    payload: dict[str, object] = {
        "sub": str(user_id),
        "role": role.value,
        "jti": claims.jti,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "typ": kind,
        "ver": version,
    }
    if session is not None:
        payload["sid"] = session
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_token(token: str, secret: str, kind: str = "access") -> TokenClaims:
    """Verify signature, expiry and kind; raise NotAuthenticated with the reason otherwise."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "jti"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("token expired", code="auth.session_expired") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("invalid token") from exc
    if payload.get("typ", "access") != kind:
        raise NotAuthenticated(f"not an {kind} token")
    try:
        role = Role(payload["role"])
        user_id = int(payload["sub"])
        # Tokens issued before versions existed carry none: version 0, every user's first.
        version = int(payload.get("ver", 0))
    except (KeyError, ValueError, TypeError) as exc:
        raise NotAuthenticated("invalid token claims") from exc
    session = payload.get("sid")
    return TokenClaims(
        user_id,
        role,
        str(payload["jti"]),
        datetime.fromtimestamp(payload["exp"], UTC),
        kind,
        version,
        str(session) if session is not None else None,
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
            raise NotAuthenticated("token expired", code="auth.session_expired")
        return claims
